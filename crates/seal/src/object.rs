//! The SealedSecret resource (`bitnami.com/v1alpha1`, kind `SealedSecret`) and the ObjectMeta
//! handling shared with Secrets, emitted with Go's field order.

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::scope::Scope;

/// API version of SealedSecrets.
pub const API_VERSION: &str = "bitnami.com/v1alpha1";
/// Kind of SealedSecrets.
pub const KIND: &str = "SealedSecret";

/// ObjectMeta fields in Go struct order; a typed decode keeps these and drops the rest.
pub use fjord_model::meta::OBJECT_META_FIELDS;

/// Failures decoding a SealedSecret.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ObjectError {
    /// The document is not a SealedSecret.
    #[error("expected kind SealedSecret (apiVersion bitnami.com/v1alpha1), got {0}")]
    NotSealedSecret(String),
    /// A field has the wrong JSON type.
    #[error("SealedSecret {object}: field {field} must be {expected}")]
    FieldType {
        /// `namespace/name` of the object.
        object: String,
        /// The field path, e.g. `spec.template.type`.
        field: String,
        /// The expected type.
        expected: &'static str,
    },
}

/// `spec.template`: what the Secret looks like apart from the encrypted items.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SecretTemplate {
    /// `metadata` (ObjectMeta fields only, Go order); `None` when absent/null.
    pub metadata: Option<Map<String, Value>>,
    /// The Secret `type`.
    pub type_: Option<String>,
    /// The Secret `immutable` flag.
    pub immutable: Option<bool>,
    /// Templated data entries (Go text/template source, rendered at unseal time).
    pub data: Option<IndexMap<String, String>>,
}

/// A SealedSecret. `encrypted_data` values are the base64 blobs as written.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SealedSecret {
    /// The object's own metadata (its namespace, name and scope annotations bind the label).
    pub metadata: Map<String, Value>,
    /// `spec.template`.
    pub template: SecretTemplate,
    /// `spec.encryptedData` (non-string entries are dropped, as the controller does).
    pub encrypted_data: IndexMap<String, String>,
    /// Deprecated v1 `spec.data` (one blob holding a whole Secret as JSON); `Some` whenever the
    /// field is non-null, even when empty.
    pub data: Option<String>,
}

impl SealedSecret {
    /// A new SealedSecret named `name` in `namespace` (empty = none).
    pub fn new(name: &str, namespace: &str) -> SealedSecret {
        let mut metadata = Map::new();
        metadata.insert("name".into(), Value::String(name.into()));
        if !namespace.is_empty() {
            metadata.insert("namespace".into(), Value::String(namespace.into()));
        }
        SealedSecret {
            metadata,
            ..SealedSecret::default()
        }
    }

    /// Decodes a SealedSecret from its JSON form.
    pub fn from_value(value: &Value) -> Result<SealedSecret, ObjectError> {
        let kind = value.get("kind").and_then(Value::as_str).unwrap_or("");
        let api = value
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        if kind != KIND || (api != API_VERSION && !api.is_empty()) {
            let shown = if kind.is_empty() {
                "a document without kind".to_string()
            } else {
                format!("{api} {kind}")
            };
            return Err(ObjectError::NotSealedSecret(shown));
        }
        Self::from_value_unchecked(value)
    }

    /// Decodes without checking `apiVersion`/`kind` (the `/v1/rotate` answer omits them).
    pub fn from_value_unchecked(value: &Value) -> Result<SealedSecret, ObjectError> {
        let metadata = normalize_meta(value.get("metadata"));
        let object = describe(&metadata);
        let type_err = |field: &str, expected: &'static str| ObjectError::FieldType {
            object: object.clone(),
            field: field.to_string(),
            expected,
        };
        let spec = value.get("spec").filter(|v| !v.is_null());
        let mut out = SealedSecret {
            metadata,
            ..SealedSecret::default()
        };
        let Some(spec) = spec else { return Ok(out) };
        if !spec.is_object() {
            return Err(type_err("spec", "an object"));
        }
        if let Some(enc) = spec.get("encryptedData").filter(|v| !v.is_null()) {
            let map = enc
                .as_object()
                .ok_or_else(|| type_err("spec.encryptedData", "an object"))?;
            for (k, v) in map {
                if let Value::String(s) = v {
                    out.encrypted_data.insert(k.clone(), s.clone());
                }
            }
        }
        match spec.get("data") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => out.data = Some(s.clone()),
            Some(_) => return Err(type_err("spec.data", "a string")),
        }
        if let Some(t) = spec.get("template").filter(|v| !v.is_null()) {
            if !t.is_object() {
                return Err(type_err("spec.template", "an object"));
            }
            out.template.metadata = t
                .get("metadata")
                .filter(|m| !m.is_null())
                .map(|m| normalize_meta(Some(m)));
            out.template.type_ = match t.get("type") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => return Err(type_err("spec.template.type", "a string")),
            };
            out.template.immutable = match t.get("immutable") {
                None | Some(Value::Null) => None,
                Some(Value::Bool(b)) => Some(*b),
                Some(_) => return Err(type_err("spec.template.immutable", "a boolean")),
            };
            if let Some(d) = t.get("data").filter(|v| !v.is_null()) {
                let map = d
                    .as_object()
                    .ok_or_else(|| type_err("spec.template.data", "an object"))?;
                let mut data = IndexMap::new();
                for (k, v) in map {
                    let s = v
                        .as_str()
                        .ok_or_else(|| type_err(&format!("spec.template.data.{k}"), "a string"))?;
                    data.insert(k.clone(), s.to_string());
                }
                out.template.data = Some(data);
            }
        }
        Ok(out)
    }

    /// The JSON form in Go field order: `apiVersion, kind, metadata, spec{template{metadata,
    /// type, immutable, data}, data, encryptedData}`; `encryptedData` always present.
    pub fn to_value(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("apiVersion".into(), Value::String(API_VERSION.into()));
        obj.insert("kind".into(), Value::String(KIND.into()));
        self.fill_body(&mut obj);
        Value::Object(obj)
    }

    /// The form `/v1/rotate` answers: like [`SealedSecret::to_value`] without `apiVersion`
    /// and `kind`.
    pub fn to_value_without_type(&self) -> Value {
        let mut obj = Map::new();
        self.fill_body(&mut obj);
        Value::Object(obj)
    }

    fn fill_body(&self, obj: &mut Map<String, Value>) {
        obj.insert("metadata".into(), Value::Object(self.metadata.clone()));
        let mut spec = Map::new();
        let mut template = Map::new();
        if let Some(m) = &self.template.metadata {
            template.insert("metadata".into(), Value::Object(m.clone()));
        } else {
            template.insert("metadata".into(), Value::Object(Map::new()));
        }
        if let Some(t) = self.template.type_.as_ref().filter(|t| !t.is_empty()) {
            template.insert("type".into(), Value::String(t.clone()));
        }
        if let Some(i) = self.template.immutable {
            template.insert("immutable".into(), Value::Bool(i));
        }
        if let Some(d) = &self.template.data {
            let m: Map<String, Value> = d
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            template.insert("data".into(), Value::Object(m));
        }
        spec.insert("template".into(), Value::Object(template));
        if let Some(d) = &self.data {
            spec.insert("data".into(), Value::String(d.clone()));
        }
        let enc: Map<String, Value> = self
            .encrypted_data
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        spec.insert("encryptedData".into(), Value::Object(enc));
        obj.insert("spec".into(), Value::Object(spec));
    }

    /// `metadata.name` (empty when absent).
    pub fn name(&self) -> &str {
        self.metadata
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// `metadata.namespace` (empty when absent).
    pub fn namespace(&self) -> &str {
        self.metadata
            .get("namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// `metadata.uid` (empty when absent).
    pub fn uid(&self) -> &str {
        self.metadata
            .get("uid")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// The scope named by the object's own `metadata.annotations`.
    pub fn scope(&self) -> Scope {
        Scope::from_annotations(self.metadata.get("annotations").and_then(Value::as_object))
    }

    /// The OAEP label this object's blobs must carry.
    pub fn label(&self) -> Vec<u8> {
        self.scope().label(self.namespace(), self.name())
    }
}

/// `namespace/name` for messages.
pub fn describe(meta: &Map<String, Value>) -> String {
    let get = |k: &str| meta.get(k).and_then(Value::as_str).unwrap_or("");
    if get("namespace").is_empty() {
        get("name").to_string()
    } else {
        format!("{}/{}", get("namespace"), get("name"))
    }
}

/// Keeps the ObjectMeta fields of `meta` in Go order, dropping unknown ones and nulls (as a
/// typed decode followed by an encode with `omitempty` does).
pub fn normalize_meta(meta: Option<&Value>) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(Value::Object(m)) = meta else {
        return out;
    };
    for field in OBJECT_META_FIELDS {
        match m.get(*field) {
            None | Some(Value::Null) => {}
            Some(Value::Object(o)) if o.is_empty() => {}
            Some(Value::Array(a)) if a.is_empty() => {}
            Some(Value::String(s)) if s.is_empty() => {}
            Some(Value::Object(o)) if matches!(*field, "labels" | "annotations") => {
                // Go encodes maps with sorted keys.
                let mut entries: Vec<_> = o.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                let sorted = entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                out.insert((*field).to_string(), Value::Object(sorted));
            }
            Some(v) => {
                out.insert((*field).to_string(), v.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decode_and_encode_in_go_order() {
        let v = json!({
            "kind": "SealedSecret", "apiVersion": API_VERSION,
            "metadata": {"namespace": "ns", "name": "n", "creationTimestamp": null, "bogus": 1},
            "spec": {"encryptedData": {"a": "AgA=", "num": 5},
                     "template": {"type": "Opaque", "metadata": {"labels": {"x": "y"}}, "data": {"t": "{{ .a }}"}}}
        });
        let ss = SealedSecret::from_value(&v).unwrap();
        assert_eq!(ss.encrypted_data.len(), 1, "non-string entries are dropped");
        assert_eq!(ss.name(), "n");
        let out = ss.to_value();
        let keys: Vec<_> = out.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["apiVersion", "kind", "metadata", "spec"]);
        assert_eq!(out["metadata"], json!({"name": "n", "namespace": "ns"}));
        let tkeys: Vec<_> = out["spec"]["template"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(tkeys, ["metadata", "type", "data"]);
        let skeys: Vec<_> = out["spec"].as_object().unwrap().keys().cloned().collect();
        assert_eq!(skeys, ["template", "encryptedData"]);
    }

    #[test]
    fn rejects_other_kinds_and_bad_types() {
        assert!(SealedSecret::from_value(&json!({"kind": "Secret"})).is_err());
        let bad = json!({"kind": "SealedSecret", "metadata": {"name": "n"}, "spec": {"template": {"immutable": "yes"}}});
        assert_eq!(
            SealedSecret::from_value(&bad).unwrap_err().to_string(),
            "SealedSecret n: field spec.template.immutable must be a boolean"
        );
    }

    #[test]
    fn v1_data_selected_even_when_empty() {
        let v = json!({"kind": "SealedSecret", "spec": {"data": ""}});
        assert_eq!(
            SealedSecret::from_value(&v).unwrap().data.as_deref(),
            Some("")
        );
    }
}
