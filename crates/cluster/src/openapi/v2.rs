//! `/openapi/v2`: one Swagger 2.0 document whose `definitions` are every served group-version's
//! schema components (the same ones `/openapi/v3` serves), as JSON or as the gnostic protobuf
//! encoding (`openapi_v2.Document`) client-go asks for.

use serde_json::{json, Map, Value};

/// The protobuf media type clients request.
pub const PROTOBUF_ACCEPT: &str = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
/// The protobuf media type the reference server answers with.
pub const PROTOBUF_CONTENT_TYPE: &str =
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

const V3_REF: &str = "#/components/schemas/";
const V2_REF: &str = "#/definitions/";

/// A v3 schema component rewritten in Swagger 2.0 terms: references point into `definitions`,
/// `allOf` wrappers of a single reference become the reference, int-or-string becomes a string
/// of format `int-or-string`, arrays get an item schema, and `properties` are left out (objects
/// are open maps: the shared schemas are partial).
pub fn to_v2(schema: &Value) -> Value {
    let Some(map) = schema.as_object() else {
        return schema.clone();
    };
    if let Some(r) = map.get("$ref").and_then(Value::as_str) {
        return json!({"$ref": r.replacen(V3_REF, V2_REF, 1)});
    }
    if let Some([only]) = map
        .get("allOf")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    {
        if only.get("$ref").is_some() {
            return to_v2(only);
        }
    }
    let mut out = Map::new();
    if map.get("type") == Some(&json!("array")) && !map.contains_key("items") {
        // Swagger 2.0 arrays need an item schema; an empty one accepts any item.
        out.insert("items".into(), json!({}));
    }
    for (k, v) in map {
        match k.as_str() {
            "default" => {}
            "x-kubernetes-int-or-string" if v == &json!(true) => {
                out.insert("type".into(), json!("string"));
                out.insert("format".into(), json!("int-or-string"));
            }
            // The shared schemas list only the fields fjord's schema table knows; Swagger 2.0
            // objects with `properties` are closed (kubectl's client-side validation rejects any
            // other field), so objects stay open maps here.
            "properties" => {}
            "items" | "additionalProperties" if v.is_object() => {
                out.insert(k.clone(), to_v2(v));
            }
            "allOf" | "anyOf" | "oneOf" => {
                let all = v.as_array().into_iter().flatten().map(to_v2).collect();
                out.insert(k.clone(), Value::Array(all));
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

/// The Swagger 2.0 document around `definitions`.
pub fn document(definitions: Map<String, Value>) -> Value {
    json!({"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.34.2"},
        "paths": {}, "definitions": definitions})
}

/// Protobuf wire writer for the few message shapes the document needs.
#[derive(Default)]
struct Wire(Vec<u8>);

impl Wire {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn bytes(&mut self, field: u32, data: &[u8]) {
        self.varint(u64::from(field) << 3 | 2);
        self.varint(data.len() as u64);
        self.0.extend_from_slice(data);
    }

    fn string(&mut self, field: u32, text: &str) {
        self.bytes(field, text.as_bytes());
    }

    fn boolean(&mut self, field: u32, v: bool) {
        self.varint(u64::from(field) << 3);
        self.varint(u64::from(v));
    }

    fn message(&mut self, field: u32, build: impl FnOnce(&mut Wire)) {
        let mut inner = Wire::default();
        build(&mut inner);
        self.bytes(field, &inner.0);
    }
}

/// A `NamedSchema` list (`Definitions`, `Properties`): name 1, schema 2, under field 1.
fn named_schemas(w: &mut Wire, map: &Map<String, Value>) {
    for (name, schema) in map {
        w.message(1, |named| {
            named.string(1, name);
            named.message(2, |s| encode_schema(s, schema));
        });
    }
}

/// A gnostic `Schema` message (the fields these schemas use).
fn encode_schema(w: &mut Wire, schema: &Value) {
    let Some(map) = schema.as_object() else {
        return;
    };
    let text = |k: &str| map.get(k).and_then(Value::as_str);
    if let Some(r) = text("$ref") {
        w.string(1, r);
    }
    if let Some(f) = text("format") {
        w.string(2, f);
    }
    for req in map
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        w.string(19, req.as_str().unwrap_or_default());
    }
    match map.get("additionalProperties") {
        Some(Value::Bool(b)) => w.message(21, |a| a.boolean(2, *b)),
        Some(s @ Value::Object(_)) => w.message(21, |a| a.message(1, |x| encode_schema(x, s))),
        _ => {}
    }
    if let Some(t) = text("type") {
        w.message(22, |ty| ty.string(1, t));
    }
    if let Some(items) = map.get("items").filter(|i| i.is_object()) {
        w.message(23, |it| it.message(1, |x| encode_schema(x, items)));
    }
    for part in map
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        w.message(24, |x| encode_schema(x, part));
    }
    if let Some(props) = map.get("properties").and_then(Value::as_object) {
        w.message(25, |p| named_schemas(p, props));
    }
    for (k, v) in map.iter().filter(|(k, _)| k.starts_with("x-")) {
        // Vendor extensions carry YAML text; JSON is YAML.
        w.message(31, |named| {
            named.string(1, k);
            named.message(2, |any| any.string(2, &format!("{v}\n")));
        });
    }
}

/// The document as an `openapi_v2.Document` protobuf message.
pub fn protobuf(doc: &Value) -> Vec<u8> {
    let mut w = Wire::default();
    w.string(1, doc["swagger"].as_str().unwrap_or("2.0"));
    w.message(2, |info| {
        info.string(1, doc["info"]["title"].as_str().unwrap_or_default());
        info.string(2, doc["info"]["version"].as_str().unwrap_or_default());
    });
    w.message(8, |_| {});
    let empty = Map::new();
    let defs = doc["definitions"].as_object().unwrap_or(&empty);
    w.message(9, |d| named_schemas(d, defs));
    w.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_int_or_string_take_their_v2_form() {
        let v3 = json!({"type": "object", "properties": {
            "metadata": {"default": {}, "allOf": [{"$ref": "#/components/schemas/io.k8s.X"}]},
            "port": {"x-kubernetes-int-or-string": true},
            "tags": {"type": "array", "items": {"type": "string", "default": ""}}}});
        assert_eq!(to_v2(&v3), json!({"type": "object"}));
        let props = &v3["properties"];
        assert_eq!(
            to_v2(&props["metadata"]),
            json!({"$ref": "#/definitions/io.k8s.X"})
        );
        assert_eq!(to_v2(&props["port"])["format"], "int-or-string");
        assert_eq!(to_v2(&props["tags"])["items"], json!({"type": "string"}));
        assert_eq!(to_v2(&json!({"type": "array"}))["items"], json!({}));
    }

    #[test]
    fn protobuf_starts_with_the_swagger_version_and_names_definitions() {
        let mut defs = Map::new();
        defs.insert(
            "io.k8s.A".into(),
            json!({"type": "object", "x-kubernetes-group-version-kind": [{"group": "", "kind": "A", "version": "v1"}]}),
        );
        let pb = protobuf(&document(defs));
        assert_eq!(&pb[..5], b"\x0a\x032.0");
        let text = String::from_utf8_lossy(&pb);
        assert!(text.contains("io.k8s.A"));
        assert!(text.contains("x-kubernetes-group-version-kind"));
        assert!(text.contains("\"kind\":\"A\""));
    }
}
