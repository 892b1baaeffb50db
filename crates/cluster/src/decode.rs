//! Request bodies read into JSON values (`decode_body`: JSON, a YAML apply configuration, the
//! protobuf envelope), then the typed decoding the real API server does before anything else: a
//! ConfigMap's or Secret's string maps must hold strings (Secret `data` base64). JSON accepts
//! `data: {x: true}`; Go's decoder refuses it, and how the refusal is reported depends on the
//! verb (400 for a create or update body, 422 for a merge, JSON or strategic patch, 500 for a
//! server-side apply).

use serde_json::Value;

use crate::errors::{ApiError, Cause};
use crate::request::ApiRequest;
use fjord_model::ResourceType;

/// Go's `summarizeData`: the start of a body a message quotes (JSON objects as text, anything
/// else as hex), cut at 30 bytes.
fn summarize(body: &[u8]) -> String {
    const MAX: usize = 30;
    let cut = &body[..body.len().min(MAX)];
    let more = if body.len() > MAX { " ..." } else { "" };
    match body.first() {
        None => "<empty>".into(),
        Some(b'{') => format!("{}{more}", String::from_utf8_lossy(cut)),
        Some(_) => {
            let hex: String = cut.iter().map(|b| format!("{b:02x}")).collect();
            format!("{hex}{more}")
        }
    }
}

/// The 400 for a body whose apiVersion/kind cannot even be read.
fn unrecognized(rt: &ResourceType, body: &[u8], why: &str) -> ApiError {
    ApiError::bad_request(format!(
        "the object provided is unrecognized (must be of type {}): couldn't get version/kind; \
         json parse error: {why} ({})",
        rt.kind,
        summarize(body)
    ))
}

/// Go's type name of the struct the server reads apiVersion and kind into.
pub(crate) const TYPE_META_STRUCT: &str =
    "struct { APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; \
                                Kind string \"json:\\\"kind,omitempty\\\"\" }";

/// Decodes a request body: JSON, YAML for an apply-patch+yaml body that is not JSON, or
/// the Kubernetes protobuf envelope. JSON that Go would not read is refused with Go's words.
pub(crate) fn decode_body(req: &ApiRequest, rt: &ResourceType) -> Result<Value, ApiError> {
    if req
        .content_type
        .starts_with("application/vnd.kubernetes.protobuf")
    {
        return crate::protobuf::decode(&req.body).map_err(|e| match e {
            // A well-formed body of a kind without a field table: the media type is what the
            // local API lacks, not the request.
            crate::protobuf::ProtobufError::UnknownKind { api_version, kind } => ApiError::generic(
                415,
                "UnsupportedMediaType",
                &format!(
                    "the local API cannot decode {api_version}, Kind={kind} from {}; send \
                         it as application/json",
                    req.content_type
                ),
            ),
            e => ApiError::bad_request(e.to_string()),
        });
    }
    if req.content_type.starts_with("application/apply-patch+yaml") {
        if req.body.is_empty() {
            return Err(ApiError::bad_request("the request body is empty"));
        }
        if let Ok(v) = serde_json::from_slice(&req.body) {
            return Ok(v);
        }
        // An apply configuration may be YAML (kubectl sends JSON, which is YAML too).
        let node = fjord_yaml::parse_document(&req.body)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
        return fjord_yaml::to_json_value(&node)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")));
    }
    if let Some(why) = crate::handlers::gojson::syntax_error(&req.body) {
        return Err(unrecognized(rt, &req.body, &why));
    }
    let v: Value = serde_json::from_slice(&req.body)
        .map_err(|e| unrecognized(rt, &req.body, &e.to_string()))?;
    let Some(m) = v.as_object() else {
        let why = format!(
            "json: cannot unmarshal {} into Go value of type {TYPE_META_STRUCT}",
            crate::handlers::gojson::type_name(&v)
        );
        return Err(unrecognized(rt, &req.body, &why));
    };
    if rt.custom
        && m.get("kind")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
    {
        let why = format!(
            "Object 'Kind' is missing in '{}'",
            String::from_utf8_lossy(&req.body)
        );
        return Err(ApiError::bad_request(format!(
            "the object provided is unrecognized (must be of type {}): {why} ({})",
            rt.kind,
            summarize(&req.body)
        )));
    }
    for field in ["apiVersion", "kind"] {
        if let Some(f) = m.get(field).filter(|f| !f.is_string() && !f.is_null()) {
            let why = format!(
                "json: cannot unmarshal {} into Go struct field .{field} of type string",
                crate::handlers::gojson::type_name(f)
            );
            return Err(unrecognized(rt, &req.body, &why));
        }
    }
    Ok(v)
}

/// Go's name for the JSON type of `v`, as `encoding/json` reports it.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Where Go's `base64.StdEncoding` stops on `s` (the byte offset it reports), if it does.
fn base64_error(s: &str) -> Option<usize> {
    let mut j = 0; // position in the current quantum
    let mut quantum_start = 0;
    let mut padded = false;
    for (i, b) in s.bytes().enumerate() {
        if b == b'\r' || b == b'\n' {
            continue;
        }
        if j == 0 {
            quantum_start = i;
        }
        if padded && b != b'=' {
            return Some(i);
        }
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' => {}
            b'=' if j >= 2 => padded = true,
            _ => return Some(i),
        }
        j = (j + 1) % 4;
    }
    (j != 0).then_some(quantum_start)
}

/// The (field, Go type) pairs of the kind's typed string maps.
fn string_maps(rt: &ResourceType) -> &'static [(&'static str, &'static str)] {
    if rt.custom || !rt.group.is_empty() {
        return &[];
    }
    match rt.kind.as_str() {
        "ConfigMap" => &[("data", "string"), ("binaryData", "[]uint8")],
        "Secret" => &[("data", "[]uint8"), ("stringData", "string")],
        _ => &[],
    }
}

/// The first value Go's decoder would refuse, in document order: (field path as the server
/// spells it, what it says after the Go type), or `None` when the object decodes.
fn first_problem(rt: &ResourceType, obj: &Value) -> Option<(String, String, DecodeProblem)> {
    let maps = string_maps(rt);
    let o = obj.as_object()?;
    for (field, value) in o {
        let Some((_, go_type)) = maps.iter().find(|(f, _)| f == field) else {
            continue;
        };
        let full = format!("{}.{field}", rt.kind);
        match value {
            Value::Null => {}
            Value::Object(m) => {
                for (k, v) in m {
                    match v {
                        Value::Null => {}
                        Value::String(s) if *go_type == "[]uint8" => {
                            if let Some(at) = base64_error(s) {
                                return Some((full, k.clone(), DecodeProblem::Base64(at)));
                            }
                        }
                        Value::String(_) => {}
                        other => {
                            return Some((
                                full,
                                k.clone(),
                                DecodeProblem::Type(json_type(other), go_type),
                            ))
                        }
                    }
                }
            }
            other => {
                let map_type = if *go_type == "string" {
                    "map[string]string"
                } else {
                    "map[string][]uint8"
                };
                return Some((
                    full,
                    String::new(),
                    DecodeProblem::Type(json_type(other), map_type),
                ));
            }
        }
    }
    None
}

/// Why a value does not decode.
#[derive(Debug, Clone, PartialEq)]
enum DecodeProblem {
    /// JSON type, Go type.
    Type(&'static str, &'static str),
    /// Invalid base64 at this byte.
    Base64(usize),
}

/// Go's `encoding/json` message for the first value of `obj` that does not decode into the kind.
pub fn decode_error(rt: &ResourceType, obj: &Value) -> Option<String> {
    if let Some(why) = crate::quantity::decode_error(rt, obj) {
        return Some(why);
    }
    let (field, _, problem) = first_problem(rt, obj)?;
    Some(match problem {
        DecodeProblem::Type(json, go) => {
            format!("json: cannot unmarshal {json} into Go struct field {field} of type {go}")
        }
        DecodeProblem::Base64(at) => format!("illegal base64 data at input byte {at}"),
    })
}

/// A create or update body that does not decode: 400, as kube-apiserver answers
/// (`ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal …`).
pub fn check_body(rt: &ResourceType, obj: &Value) -> Result<(), ApiError> {
    match decode_error(rt, obj) {
        None => Ok(()),
        Some(why) => Err(ApiError::bad_request(format!(
            "{kind} in version \"{v}\" cannot be handled as a {kind}: {why}",
            kind = rt.kind,
            v = rt.version
        ))),
    }
}

/// Go's `%v` of a decoded JSON value (`map[data:map[y:true]]`), used in strategic-merge errors.
fn go_print(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => format!("[{}]", a.iter().map(go_print).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{k}:{}", go_print(&m[k])))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

fn patch_invalid(value: String, why: &str) -> ApiError {
    let cause = Cause::new(
        "FieldValueInvalid",
        format!(
            "Invalid value: {}: {why}",
            serde_json::to_string(&value).unwrap_or_default()
        ),
        "patch",
    );
    let mut e = ApiError::invalid("", "", "", vec![cause]);
    e.subject = None;
    e
}

/// A merge, JSON or strategic patch whose result does not decode: 422 on field `patch`, as
/// kube-apiserver answers (the value is the patched object, or for a strategic patch the patch).
pub fn check_patched(
    rt: &ResourceType,
    patch: &Value,
    patched: &Value,
    strategic: bool,
) -> Result<(), ApiError> {
    let Some(why) = decode_error(rt, patched) else {
        return Ok(());
    };
    if strategic {
        let why = crate::quantity::decode_error(rt, patched);
        let why = why.as_deref().unwrap_or("unrecognized type: string");
        return Err(patch_invalid(go_print(patch), why));
    }
    Err(patch_invalid(
        serde_json::to_string(patched).unwrap_or_default(),
        &why,
    ))
}

/// A server-side apply configuration that does not fit the kind's schema: 500, as
/// kube-apiserver answers (`failed to create typed patch object (ns/name; v1, Kind=…): …`).
pub fn check_apply(rt: &ResourceType, config: &Value) -> Result<(), ApiError> {
    let Some((field, key, problem)) = first_problem(rt, config) else {
        return Ok(());
    };
    let path = field.split_once('.').map(|(_, f)| f).unwrap_or(&field);
    let got = match &config[path][&key] {
        Value::Bool(b) => format!("&value.valueUnstructured{{Value:{b}}}"),
        Value::Number(n) => format!("&value.valueUnstructured{{Value:{n}}}"),
        other => json_type(other).to_string(),
    };
    let what = match problem {
        DecodeProblem::Base64(_) => return Ok(()),
        DecodeProblem::Type(..) if key.is_empty() => format!(".{path}: expected map, got {got}"),
        DecodeProblem::Type(..) => format!(".{path}.{key}: expected string, got {got}"),
    };
    let md = &config["metadata"];
    let mut e = ApiError::internal(format!(
        "failed to create typed patch object ({}/{}; {}): {what}",
        md["namespace"].as_str().unwrap_or(""),
        md["name"].as_str().unwrap_or(""),
        crate::kinds::go_gvk(rt)
    ));
    e.reason = String::new();
    Err(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::builtins;
    use serde_json::json;

    fn rt(kind: &str) -> ResourceType {
        builtins()
            .into_iter()
            .find(|r| r.kind == kind && r.group.is_empty())
            .map(|r| r.as_ref().clone())
            .expect("kind")
    }

    #[test]
    fn configmap_bool_is_refused_as_the_real_server_does() {
        let cm = json!({"metadata": {"name": "c"}, "data": {"a": "1", "x": true, "z": 3}});
        let e = check_body(&rt("ConfigMap"), &cm).expect_err("bool");
        assert_eq!(e.code, 400);
        assert_eq!(e.reason, "BadRequest");
        assert_eq!(
            e.message,
            "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: json: cannot unmarshal bool into Go struct field ConfigMap.data of type string"
        );
        assert!(check_body(&rt("ConfigMap"), &json!({"data": {"a": "b", "n": null}})).is_ok());
        let e = check_body(&rt("ConfigMap"), &json!({"data": "x"})).expect_err("map");
        assert!(e
            .message
            .ends_with("ConfigMap.data of type map[string]string"));
    }

    #[test]
    fn secret_data_must_be_base64_strings() {
        let s = rt("Secret");
        let e = check_body(&s, &json!({"data": {"x": true}})).expect_err("bool");
        assert!(e
            .message
            .ends_with("cannot unmarshal bool into Go struct field Secret.data of type []uint8"));
        let e = check_body(&s, &json!({"data": {"x": "not base64!"}})).expect_err("b64");
        assert_eq!(
            e.message,
            "Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data at input byte 3"
        );
        let e = check_body(&s, &json!({"stringData": {"x": false}})).expect_err("sd");
        assert!(e.message.ends_with("Secret.stringData of type string"));
        assert!(check_body(&s, &json!({"data": {"x": "eA==", "y": "YWJj\n"}})).is_ok());
        assert_eq!(base64_error("abc"), Some(0));
        assert_eq!(base64_error("abcde"), Some(4));
        assert_eq!(base64_error("ab=="), None);
    }

    #[test]
    fn patch_and_apply_errors() {
        let cm = rt("ConfigMap");
        let patched = json!({"apiVersion": "v1", "data": {"y": true}, "kind": "ConfigMap"});
        let e = check_patched(&cm, &json!({}), &patched, false).expect_err("merge");
        assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
        assert_eq!(e.causes[0].field, "patch");
        assert!(e.causes[0].message.ends_with(
            "json: cannot unmarshal bool into Go struct field ConfigMap.data of type string"
        ));
        let e = check_patched(&cm, &json!({"data": {"y": true}}), &patched, true).expect_err("smp");
        assert_eq!(
            e.causes[0].message,
            "Invalid value: \"map[data:map[y:true]]\": unrecognized type: string"
        );
        let cfg = json!({"metadata": {"name": "cmc"}, "data": {"y": true}});
        let e = check_apply(&cm, &cfg).expect_err("apply");
        assert_eq!(e.code, 500);
        assert_eq!(
            e.message,
            "failed to create typed patch object (/cmc; /v1, Kind=ConfigMap): .data.y: expected string, got &value.valueUnstructured{Value:true}"
        );
        assert!(check_apply(&cm, &json!({"data": {"y": "1"}})).is_ok());
    }
}
