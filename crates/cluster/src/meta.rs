//! Object metadata helpers: names, timestamps, uids, resourceVersions and generations.

use serde_json::{Map, Value};

/// Now, as RFC 3339 with second precision (`2024-01-02T03:04:05Z`).
pub fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A fresh random UUID.
pub fn new_uid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `metadata.name` (empty if absent).
pub fn name(obj: &Value) -> &str {
    obj.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// `metadata.namespace` (empty if absent).
pub fn namespace(obj: &Value) -> &str {
    obj.pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// `metadata.uid` (empty if absent).
pub fn uid(obj: &Value) -> &str {
    obj.pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// A resourceVersion a client sent, parsed as the real store parses it (Go's
/// `strconv.ParseUint`): anything else is a plain 500 carrying Go's error text.
pub fn parse_rv(rv: &str) -> Result<u64, crate::errors::ApiError> {
    let fail = |why: &str| {
        crate::errors::ApiError::plain(
            500,
            format!(
                "strconv.ParseUint: parsing {}: {why}",
                fjord_model::go::quote(rv)
            ),
        )
    };
    if rv.is_empty() || !rv.bytes().all(|b| b.is_ascii_digit()) {
        return Err(fail("invalid syntax"));
    }
    rv.parse().map_err(|_| fail("value out of range"))
}

/// `metadata.resourceVersion` parsed as a number.
pub fn rv(obj: &Value) -> Option<u64> {
    obj.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
}

/// The `metadata` map, created if missing (the object must be a JSON object).
pub fn metadata_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.is_object() {
        *obj = Value::Object(Map::new());
    }
    let root = obj.as_object_mut().expect("object ensured above");
    let m = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !m.is_object() {
        *m = Value::Object(Map::new());
    }
    m.as_object_mut().expect("metadata ensured above")
}

/// Sets `metadata.resourceVersion`.
pub fn set_rv(obj: &mut Value, rv: u64) {
    metadata_mut(obj).insert("resourceVersion".into(), Value::String(rv.to_string()));
}

/// The strings of a JSON array (other items skipped; none when `v` is not an array).
pub fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// `metadata.finalizers` as strings.
pub fn finalizers(obj: &Value) -> Vec<String> {
    strings(obj.pointer("/metadata/finalizers"))
}

/// Replaces `metadata.finalizers` (removing the key when empty).
pub fn set_finalizers(obj: &mut Value, fins: &[String]) {
    let m = metadata_mut(obj);
    if fins.is_empty() {
        m.remove("finalizers");
    } else {
        m.insert(
            "finalizers".into(),
            Value::Array(fins.iter().map(|f| Value::String(f.clone())).collect()),
        );
    }
}

/// Whether `metadata.deletionTimestamp` is set.
pub fn deleting(obj: &Value) -> bool {
    obj.pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
}

/// The object without `metadata` and `status` (what a generation bump compares).
fn spec_part(obj: &Value, ignore_status: bool) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        m.remove("metadata");
        m.remove("apiVersion");
        m.remove("kind");
        if ignore_status {
            m.remove("status");
        }
    }
    o
}

/// Whether an update changed anything that bumps `metadata.generation`.
pub fn spec_changed(old: &Value, new: &Value, has_status: bool) -> bool {
    spec_part(old, has_status) != spec_part(new, has_status)
}

/// The object with volatile metadata (resourceVersion, managedFields timestamps) removed, for
/// no-op detection.
pub fn comparable(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
        if let Some(mf) = m.get_mut("managedFields").and_then(Value::as_array_mut) {
            for e in mf.iter_mut().filter_map(Value::as_object_mut) {
                e.remove("time");
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_resource_versions_parse_as_go_does() {
        assert_eq!(parse_rv("42").ok(), Some(42));
        let e = parse_rv("abc").expect_err("syntax");
        assert_eq!(
            (e.code, e.reason.as_str(), e.message.as_str()),
            (
                500,
                "",
                "strconv.ParseUint: parsing \"abc\": invalid syntax"
            )
        );
        assert!(parse_rv("99999999999999999999")
            .expect_err("range")
            .message
            .ends_with("value out of range"));
    }
    use serde_json::json;

    #[test]
    fn generation_ignores_metadata_and_status() {
        let a = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"x": 1}, "status": {"s": 1}});
        let b = json!({"metadata": {"labels": {"a": "2"}}, "spec": {"x": 1}, "status": {"s": 2}});
        assert!(!spec_changed(&a, &b, true));
        assert!(spec_changed(&a, &b, false));
        let c = json!({"metadata": {}, "spec": {"x": 2}});
        assert!(spec_changed(&a, &c, true));
    }

    #[test]
    fn rv_and_finalizers_round_trip() {
        let mut o = json!({"metadata": {"name": "x"}});
        set_rv(&mut o, 42);
        assert_eq!(rv(&o), Some(42));
        set_finalizers(&mut o, &["a".to_string()]);
        assert_eq!(finalizers(&o), vec!["a"]);
        set_finalizers(&mut o, &[]);
        assert!(o["metadata"].get("finalizers").is_none());
        assert_eq!(now().len(), 20);
    }
}
