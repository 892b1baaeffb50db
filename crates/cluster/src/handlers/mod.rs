//! Resource verbs: routing of resource URLs to the handlers, and helpers they share.

mod create;
mod delete;
mod gojson;
pub(crate) mod options;

pub(crate) use gojson::{syntax_error as go_syntax_error, type_name as go_type_name};
pub(crate) mod read;
pub(crate) mod update;

pub(crate) use delete::DeleteOptions;

use std::sync::Arc;

use serde_json::Value;

use crate::engine::Engine;
use crate::errors::ApiError;
use crate::kinds::ResourceType;
use crate::request::{ApiRequest, Query, Reply, ResourcePath, Target};

/// Whether the request is a dry run (`dryRun=All`; other values are refused by
/// [`options::check`] before this is asked).
pub(crate) fn dry_run(q: &Query) -> bool {
    q.get("dryRun") == Some("All")
}

/// The field manager of a write: `fieldManager`, else the User-Agent's program name (the value
/// is checked by [`options::check`]).
pub(crate) fn field_manager(req: &ApiRequest) -> String {
    if let Some(m) = req.query.get("fieldManager").filter(|m| !m.is_empty()) {
        return m.to_string();
    }
    let ua = req.user_agent.split('/').next().unwrap_or("").trim();
    if ua.is_empty() {
        "unknown".to_string()
    } else {
        ua.to_string()
    }
}

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
        return crate::protobuf::decode(&req.body)
            .map_err(|e| ApiError::bad_request(e.to_string()));
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
    if let Some(why) = gojson::syntax_error(&req.body) {
        return Err(unrecognized(rt, &req.body, &why));
    }
    let v: Value = serde_json::from_slice(&req.body)
        .map_err(|e| unrecognized(rt, &req.body, &e.to_string()))?;
    let Some(m) = v.as_object() else {
        let why = format!(
            "json: cannot unmarshal {} into Go value of type {TYPE_META_STRUCT}",
            gojson::type_name(&v)
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
                gojson::type_name(f)
            );
            return Err(unrecognized(rt, &req.body, &why));
        }
    }
    Ok(v)
}

/// The object as served at `rt`'s version (`apiVersion` and `kind` set).
pub(crate) fn output(rt: &ResourceType, obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        m.insert("apiVersion".into(), Value::String(rt.api_version()));
        m.insert("kind".into(), Value::String(rt.kind.clone()));
    }
    o
}

impl Engine {
    /// Whether an API serves the URL `path`: `/api/...`, `/apis` and the served groups under it,
    /// and the server's other endpoints. Anything else is answered with Go's plain-text 404, as
    /// the real server's mux does (a 404 under a served group is a `Status`).
    pub(crate) fn serves_path(&self, path: &str) -> bool {
        let mut segs = path.split('/').filter(|s| !s.is_empty());
        match (segs.next(), segs.next()) {
            (Some("api"), _) | (Some("apis"), None) => true,
            (Some("apis"), Some(group)) => {
                // A group of custom resources only is served by a handler that answers
                // everything it does not know with the plain 404 too.
                let group = percent_encoding::percent_decode_str(group).decode_utf8_lossy();
                let st = self.lock();
                let groups = st.registry.groups();
                groups.iter().filter(|(g, _)| *g == group).any(|(g, vs)| {
                    vs.iter()
                        .any(|v| st.registry.resources(g, v).iter().any(|r| !r.custom))
                })
            }
            _ => !matches!(crate::request::parse_path(path), Target::Unknown),
        }
    }

    /// Routes a resource URL to its verb handler.
    pub(crate) fn handle_resource(
        &self,
        req: &ApiRequest,
        rp: &ResourcePath,
    ) -> Result<Reply, ApiError> {
        let found = {
            let st = self.lock();
            st.registry.lookup(&rp.group, &rp.version, &rp.plural)
        };
        let Some(rt): Option<Arc<ResourceType>> = found else {
            // The create-only review resources are not stored types.
            return crate::reviews::answer(req, rp).unwrap_or_else(|| Err(ApiError::no_route()));
        };
        if !rt.namespaced && rp.namespace.is_some() {
            return Err(ApiError::no_route());
        }
        if rt.namespaced && rp.namespace.is_none() && rp.name.is_some() {
            return Err(ApiError::no_route());
        }
        match (req.method.as_str(), rp.name.as_deref(), rp.sub.as_deref()) {
            ("GET", None, None) => self.list(req, &rt, rp),
            ("POST", None, None) => self.create(req, &rt, rp),
            ("DELETE", None, None) => self.delete_collection(req, &rt, rp),
            ("GET", Some(name), sub) => self.get(req, &rt, rp, name, sub),
            ("PUT", Some(name), sub) => self.update(req, &rt, rp, name, sub),
            ("PATCH", Some(name), sub) => self.patch(req, &rt, rp, name, sub),
            ("DELETE", Some(name), None) => self.delete(req, &rt, rp, name),
            _ => Err(ApiError::method_not_allowed(
                "the server does not allow this method on the requested resource",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(body: &str) -> ApiRequest {
        ApiRequest {
            method: "POST".into(),
            target: Target::Unknown,
            query: Query::default(),
            content_type: "application/json".into(),
            accept: String::new(),
            user_agent: String::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn bodies_go_cannot_read_are_refused_with_gos_words() {
        let cm = crate::kinds::builtins()
            .into_iter()
            .find(|r| r.kind == "ConfigMap")
            .expect("ConfigMap");
        let msg = |body: &str| decode_body(&post(body), &cm).expect_err(body).message;
        assert_eq!(
            msg("{\"apiVersion\":"),
            "the object provided is unrecognized (must be of type ConfigMap): couldn't get \
             version/kind; json parse error: unexpected end of JSON input ({\"apiVersion\":)"
        );
        assert_eq!(
            msg("[1]"),
            "the object provided is unrecognized (must be of type ConfigMap): couldn't get \
             version/kind; json parse error: json: cannot unmarshal array into Go value of type \
             struct { APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \
             \"json:\\\"kind,omitempty\\\"\" } (5b315d)"
        );
        assert!(
            msg("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{}} x")
                .ends_with("after top-level value ({\"apiVersion\":\"v1\",\"kind\":\"Con ...)")
        );
        assert!(msg("").ends_with("unexpected end of JSON input (<empty>)"));
    }
}
