//! Typed reads from a Kubernetes object held as JSON.
//!
//! Argo CD converts an unstructured object into its typed Go struct before checking it; a field
//! of the wrong type makes that conversion fail and the health `Unknown`. These helpers read the
//! few fields the checks need with the same strictness: an absent (or `null`) field reads as Go's
//! zero value, a field of the wrong JSON type is a [`FieldError`].

use fjord_model::split_api_version;
use serde_json::Value;

/// A field of a Kubernetes object has the wrong JSON type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// The field exists but is not of the type the Kubernetes schema gives it.
    #[error("field {path}: expected {expected}, found {found}")]
    WrongType {
        /// Dotted path of the field (`status.replicas`).
        path: String,
        /// The type the schema requires.
        expected: &'static str,
        /// The JSON type found instead.
        found: &'static str,
    },
}

/// The JSON type name of a value, for error messages.
pub(crate) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn wrong(path: &[&str], expected: &'static str, found: &Value) -> FieldError {
    FieldError::WrongType {
        path: path.join("."),
        expected,
        found: json_type(found),
    }
}

/// The value at `path` (array steps are decimal indices), `None` when a step is missing or the
/// value is `null`.
pub(crate) fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for key in path {
        cur = match cur {
            Value::Object(map) => map.get(*key)?,
            Value::Array(items) => items.get(key.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    if cur.is_null() {
        None
    } else {
        Some(cur)
    }
}

/// An integer field; `None` when absent. Integral floats (`3.0`) are accepted.
pub(crate) fn int_opt(v: &Value, path: &[&str]) -> Result<Option<i64>, FieldError> {
    match get(v, path) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                Ok(Some(i))
            } else {
                match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
                    _ => Err(FieldError::WrongType {
                        path: path.join("."),
                        expected: "integer",
                        found: "non-integer number",
                    }),
                }
            }
        }
        Some(other) => Err(wrong(path, "integer", other)),
    }
}

/// An integer field, 0 when absent.
pub(crate) fn int(v: &Value, path: &[&str]) -> Result<i64, FieldError> {
    Ok(int_opt(v, path)?.unwrap_or(0))
}

/// A string field; `None` when absent.
pub(crate) fn str_opt<'a>(v: &'a Value, path: &[&str]) -> Result<Option<&'a str>, FieldError> {
    match get(v, path) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(wrong(path, "string", other)),
    }
}

/// A string field, empty when absent.
pub(crate) fn string<'a>(v: &'a Value, path: &[&str]) -> Result<&'a str, FieldError> {
    Ok(str_opt(v, path)?.unwrap_or(""))
}

/// A boolean field, false when absent.
pub(crate) fn boolean(v: &Value, path: &[&str]) -> Result<bool, FieldError> {
    match get(v, path) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(wrong(path, "boolean", other)),
    }
}

/// An array field, empty when absent.
pub(crate) fn array<'a>(v: &'a Value, path: &[&str]) -> Result<&'a [Value], FieldError> {
    match get(v, path) {
        None => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(other) => Err(wrong(path, "array", other)),
    }
}

/// Whether an object field is present (not absent, not `null`); an error if it is not an object.
pub(crate) fn has_object(v: &Value, path: &[&str]) -> Result<bool, FieldError> {
    match get(v, path) {
        None => Ok(false),
        Some(Value::Object(_)) => Ok(true),
        Some(other) => Err(wrong(path, "object", other)),
    }
}

/// One entry of a `status.conditions` list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Condition {
    /// `type`.
    pub kind: String,
    /// `status` (`"True"`, `"False"`, `"Unknown"`).
    pub status: String,
    /// `reason`.
    pub reason: String,
    /// `message`.
    pub message: String,
}

impl Condition {
    /// Builds a condition from its four string fields, each read by `field` (called with the JSON
    /// field name: `type`, `status`, `reason`, `message`, in that order).
    pub(crate) fn read<E>(field: impl Fn(&str) -> Result<String, E>) -> Result<Condition, E> {
        Ok(Condition {
            kind: field("type")?,
            status: field("status")?,
            reason: field("reason")?,
            message: field("message")?,
        })
    }
}

/// The conditions at `path` (normally `status.conditions`), in order.
pub(crate) fn conditions(v: &Value, path: &[&str]) -> Result<Vec<Condition>, FieldError> {
    let items = array(v, path)?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let idx = i.to_string();
        let mut p: Vec<&str> = path.to_vec();
        p.push(&idx);
        if !item.is_object() {
            return Err(wrong(&p, "object", item));
        }
        let field = |name: &str| -> Result<String, FieldError> {
            match item.get(name) {
                None | Some(Value::Null) => Ok(String::new()),
                Some(Value::String(s)) => Ok(s.clone()),
                Some(other) => {
                    let mut fp = p.clone();
                    fp.push(name);
                    Err(wrong(&fp, "string", other))
                }
            }
        };
        out.push(Condition::read(field)?);
    }
    Ok(out)
}

/// The API group and version of an object, from `apiVersion` (`"apps/v1"` → `("apps", "v1")`,
/// `"v1"` → `("", "v1")`).
pub fn group_version(obj: &Value) -> (&str, &str) {
    split_api_version(obj.get("apiVersion").and_then(Value::as_str).unwrap_or(""))
}

/// The object's `kind`, empty when missing.
pub fn kind(obj: &Value) -> &str {
    obj.get("kind").and_then(Value::as_str).unwrap_or("")
}

/// `metadata.name`, empty when missing.
pub(crate) fn name(obj: &Value) -> &str {
    get(obj, &["metadata", "name"])
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// The value of annotation `key`, if set to a string.
pub(crate) fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    get(obj, &["metadata", "annotations", key]).and_then(Value::as_str)
}

/// Go's `schema.GroupVersionKind.String()`: `apps/v1, Kind=Deployment`, `/v1, Kind=Pod`.
pub(crate) fn gvk_string(obj: &Value) -> String {
    let (g, v) = group_version(obj);
    format!("{g}/{v}, Kind={}", kind(obj))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_fields_with_go_zero_values() {
        let v = json!({"spec": {"replicas": 3, "paused": true, "f": 2.0, "n": null},
                       "status": {"phase": "Running"}});
        assert_eq!(int(&v, &["spec", "replicas"]), Ok(3));
        assert_eq!(int(&v, &["spec", "f"]), Ok(2));
        assert_eq!(int(&v, &["spec", "missing"]), Ok(0));
        assert_eq!(int_opt(&v, &["spec", "n"]), Ok(None));
        assert_eq!(boolean(&v, &["spec", "paused"]), Ok(true));
        assert_eq!(string(&v, &["status", "phase"]), Ok("Running"));
        assert_eq!(string(&v, &["status", "reason"]), Ok(""));
    }

    #[test]
    fn wrong_types_name_the_field() {
        let v = json!({"spec": {"replicas": "3", "x": 1.5}});
        let err = int(&v, &["spec", "replicas"]).err();
        assert_eq!(
            err.map(|e| e.to_string()),
            Some("field spec.replicas: expected integer, found string".to_string())
        );
        assert!(int(&v, &["spec", "x"]).is_err());
        let v = json!({"status": {"conditions": [{"type": 5}]}});
        let err = conditions(&v, &["status", "conditions"]).err();
        assert_eq!(
            err.map(|e| e.to_string()),
            Some("field status.conditions.0.type: expected string, found number".to_string())
        );
    }

    #[test]
    fn group_version_and_gvk_string() {
        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment"});
        assert_eq!(group_version(&d), ("apps", "v1"));
        assert_eq!(gvk_string(&d), "apps/v1, Kind=Deployment");
        let p = json!({"apiVersion": "v1", "kind": "Pod"});
        assert_eq!(group_version(&p), ("", "v1"));
        assert_eq!(gvk_string(&p), "/v1, Kind=Pod");
    }

    #[test]
    fn quote_escapes_like_strconv_quote() {
        use fjord_model::go::quote;
        assert_eq!(quote("web"), "\"web\"");
        assert_eq!(quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(quote("\u{1}"), "\"\\x01\"");
        assert_eq!(quote("é"), "\"é\"");
    }
}
