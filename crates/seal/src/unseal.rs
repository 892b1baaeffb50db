//! Building the Secret from a SealedSecret exactly as the upstream controller does.

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::crypto::hybrid_decrypt;
use crate::docs::{decode_base64_go, encode_base64};
use crate::keys::Key;
use crate::object::{normalize_meta, ObjectError, SealedSecret, API_VERSION, KIND};
use crate::template;

/// Template annotation that suppresses the owner reference.
pub const SKIP_OWNER_REFERENCES_ANNOTATION: &str =
    "sealedsecrets.bitnami.com/skip-set-owner-references";

/// Failures unsealing a SealedSecret; texts follow upstream's.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum UnsealError {
    /// The input is not a decodable SealedSecret.
    #[error(transparent)]
    Object(#[from] ObjectError),
    /// Both `spec.data` and a non-empty `spec.encryptedData`.
    #[error(
        "cannot use the field 'encryptedData' and the deprecated field 'data' at the same time"
    )]
    BothDataFields,
    /// Deprecated `spec.data` while v1 data is not accepted.
    #[error("using deprecated 'data' field, use 'encryptedData' or flip the feature flag")]
    DeprecatedData,
    /// Item failures: each distinct message followed by the items that hit it, e.g.
    /// `no key could decrypt secret (foo, bar)`, joined by newlines.
    #[error("{0}")]
    Items(String),
    /// The deprecated `spec.data` blob failed to decode or decrypt.
    #[error("{0}")]
    V1Data(String),
}

/// Unsealing options.
#[derive(Clone, Copy, Debug)]
pub struct UnsealOptions {
    /// Accept deprecated v1 `spec.data` (controller default `true`; `kubeseal
    /// --recovery-unseal` uses `false`).
    pub accept_v1_data: bool,
}

impl Default for UnsealOptions {
    fn default() -> Self {
        UnsealOptions {
            accept_v1_data: true,
        }
    }
}

/// Unseals with the controller's defaults (v1 `spec.data` accepted). Returns the Secret as
/// JSON in Go field order (`kind, apiVersion, metadata, immutable, data, type`).
pub fn unseal_secret(sealed: &Value, keys: &[Key]) -> Result<Value, UnsealError> {
    unseal_secret_with(sealed, keys, UnsealOptions::default())
}

/// Unseals a SealedSecret document with explicit options.
pub fn unseal_secret_with(
    sealed: &Value,
    keys: &[Key],
    options: UnsealOptions,
) -> Result<Value, UnsealError> {
    let ss = SealedSecret::from_value(sealed)?;
    unseal_object(&ss, keys, options)
}

/// Unseals a decoded SealedSecret.
pub fn unseal_object(
    ss: &SealedSecret,
    keys: &[Key],
    options: UnsealOptions,
) -> Result<Value, UnsealError> {
    let label = ss.label();
    let (mut metadata, immutable, type_, data) = match &ss.data {
        Some(blob) => {
            if !ss.encrypted_data.is_empty() {
                return Err(UnsealError::BothDataFields);
            }
            if !options.accept_v1_data {
                return Err(UnsealError::DeprecatedData);
            }
            unseal_v1(blob, keys, &label)?
        }
        None => {
            let data = decrypt_items(ss, keys, &label)?;
            let metadata = ss.template.metadata.clone().unwrap_or_default();
            (
                metadata,
                ss.template.immutable,
                ss.template.type_.clone(),
                data,
            )
        }
    };
    metadata.insert("name".into(), Value::String(ss.name().to_string()));
    if ss.namespace().is_empty() {
        metadata.remove("namespace");
    } else {
        metadata.insert(
            "namespace".into(),
            Value::String(ss.namespace().to_string()),
        );
    }
    let skip_owner = ss
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get(SKIP_OWNER_REFERENCES_ANNOTATION))
        .and_then(Value::as_str)
        == Some("true");
    if skip_owner {
        metadata.remove("ownerReferences");
    } else {
        let mut owner = Map::new();
        owner.insert("apiVersion".into(), Value::String(API_VERSION.into()));
        owner.insert("kind".into(), Value::String(KIND.into()));
        owner.insert("name".into(), Value::String(ss.name().to_string()));
        owner.insert("uid".into(), Value::String(ss.uid().to_string()));
        owner.insert("controller".into(), Value::Bool(true));
        metadata.insert(
            "ownerReferences".into(),
            Value::Array(vec![Value::Object(owner)]),
        );
    }
    let metadata = normalize_meta(Some(&Value::Object(metadata)));

    let mut secret = Map::new();
    secret.insert("kind".into(), Value::String("Secret".into()));
    secret.insert("apiVersion".into(), Value::String("v1".into()));
    secret.insert("metadata".into(), Value::Object(metadata));
    if let Some(i) = immutable {
        secret.insert("immutable".into(), Value::Bool(i));
    }
    if !data.is_empty() {
        let mut keys_sorted: Vec<_> = data.keys().cloned().collect();
        keys_sorted.sort();
        let m: Map<String, Value> = keys_sorted
            .into_iter()
            .map(|k| {
                let v = Value::String(encode_base64(&data[&k]));
                (k, v)
            })
            .collect();
        secret.insert("data".into(), Value::Object(m));
    }
    if let Some(t) = type_.filter(|t| !t.is_empty()) {
        secret.insert("type".into(), Value::String(t));
    }
    Ok(Value::Object(secret))
}

/// Decrypts every `encryptedData` item and renders `template.data`, collecting errors per
/// item as upstream does.
fn decrypt_items(
    ss: &SealedSecret,
    keys: &[Key],
    label: &[u8],
) -> Result<IndexMap<String, Vec<u8>>, UnsealError> {
    let mut data = IndexMap::new();
    let mut errors: IndexMap<String, Vec<String>> = IndexMap::new();
    let mut names: Vec<&String> = ss.encrypted_data.keys().collect();
    names.sort();
    for name in names {
        let text = &ss.encrypted_data[name];
        let result = decode_base64_go(text)
            .map_err(|e| e.to_string())
            .and_then(|blob| hybrid_decrypt(keys, label, &blob).map_err(|e| e.to_string()));
        match result {
            Ok(plain) => {
                data.insert(name.clone(), plain);
            }
            Err(msg) => errors.entry(msg).or_default().push(name.clone()),
        }
    }
    if let Some(templates) = &ss.template.data {
        let decrypted = data.clone();
        for (key, source) in templates {
            match template::render(key, source, &decrypted) {
                Ok(bytes) => {
                    data.insert(key.clone(), bytes);
                }
                Err(e) => errors.entry(e.to_string()).or_default().push(key.clone()),
            }
        }
    }
    if errors.is_empty() {
        return Ok(data);
    }
    let message = errors
        .iter()
        .map(|(msg, items)| format!("{msg} ({})", items.join(", ")))
        .collect::<Vec<_>>()
        .join("\n");
    Err(UnsealError::Items(message))
}

type Unsealed = (
    Map<String, Value>,
    Option<bool>,
    Option<String>,
    IndexMap<String, Vec<u8>>,
);

/// The deprecated path: one blob holding a whole v1 Secret as JSON.
fn unseal_v1(blob: &str, keys: &[Key], label: &[u8]) -> Result<Unsealed, UnsealError> {
    let bytes = decode_base64_go(blob).map_err(|e| UnsealError::V1Data(e.to_string()))?;
    let plain =
        hybrid_decrypt(keys, label, &bytes).map_err(|e| UnsealError::V1Data(e.to_string()))?;
    let inner: Value = serde_json::from_slice(&plain)
        .map_err(|e| UnsealError::V1Data(format!("decoding the deprecated 'data' Secret: {e}")))?;
    let metadata = normalize_meta(inner.get("metadata"));
    let mut data = IndexMap::new();
    if let Some(m) = inner.get("data").and_then(Value::as_object) {
        for (k, v) in m {
            let text = v.as_str().unwrap_or("");
            let decoded =
                decode_base64_go(text).map_err(|e| UnsealError::V1Data(format!("{e} ({k})")))?;
            data.insert(k.clone(), decoded);
        }
    }
    if let Some(m) = inner.get("stringData").and_then(Value::as_object) {
        for (k, v) in m {
            data.insert(k.clone(), v.as_str().unwrap_or("").as_bytes().to_vec());
        }
    }
    let type_ = inner
        .get("type")
        .and_then(Value::as_str)
        .map(str::to_string);
    let immutable = inner.get("immutable").and_then(Value::as_bool);
    Ok((metadata, immutable, type_, data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkeys::{key_a, key_b};
    use serde_json::json;

    fn sealed_with(
        key: &Key,
        ns: &str,
        name: &str,
        items: &[(&str, &[u8])],
        annotations: Value,
    ) -> Value {
        let label = format!("{ns}/{name}");
        let enc: Map<String, Value> = items
            .iter()
            .map(|(k, v)| {
                let blob =
                    crate::crypto::hybrid_encrypt(key.certificate().unwrap(), label.as_bytes(), v)
                        .unwrap();
                (k.to_string(), Value::String(encode_base64(&blob)))
            })
            .collect();
        json!({"apiVersion": API_VERSION, "kind": KIND,
               "metadata": {"name": name, "namespace": ns, "uid": "u-1", "annotations": annotations},
               "spec": {"encryptedData": enc, "template": {"metadata": {"labels": {"app": "x"}}, "type": "Opaque"}}})
    }

    #[test]
    fn builds_secret_like_controller() {
        let a = key_a();
        let ss = sealed_with(&a, "ns", "s", &[("b", b"2"), ("a", b"1")], json!({}));
        let secret = unseal_secret(&ss, &[a]).unwrap();
        assert_eq!(
            secret,
            json!({"kind": "Secret", "apiVersion": "v1",
                   "metadata": {"name": "s", "namespace": "ns", "labels": {"app": "x"},
                                "ownerReferences": [{"apiVersion": API_VERSION, "kind": KIND, "name": "s", "uid": "u-1", "controller": true}]},
                   "data": {"a": "MQ==", "b": "Mg=="}, "type": "Opaque"})
        );
        let keys: Vec<_> = secret["metadata"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(keys, ["name", "namespace", "labels", "ownerReferences"]);
    }

    #[test]
    fn errors_are_aggregated_per_message() {
        let b = key_b();
        let mut ss = sealed_with(&b, "ns", "s", &[("y", b"1"), ("x", b"2")], json!({}));
        ss["spec"]["encryptedData"]["z"] = json!("%%%");
        let err = unseal_secret(&ss, &[key_a()]).unwrap_err().to_string();
        assert_eq!(
            err,
            "no key could decrypt secret (x, y)\nillegal base64 data at input byte 0 (z)"
        );
    }

    #[test]
    fn v1_data_rules() {
        let a = key_a();
        let inner = json!({"metadata": {"name": "other"}, "data": {"k": "dg=="}, "type": "Opaque"})
            .to_string();
        let blob =
            crate::crypto::hybrid_encrypt(a.certificate().unwrap(), b"ns/s", inner.as_bytes())
                .unwrap();
        let ss = json!({"kind": KIND, "apiVersion": API_VERSION, "metadata": {"name": "s", "namespace": "ns"},
                        "spec": {"data": encode_base64(&blob)}});
        let secret = unseal_secret(&ss, std::slice::from_ref(&a)).unwrap();
        assert_eq!(secret["data"]["k"], "dg==");
        assert_eq!(secret["metadata"]["name"], "s");
        let refused = unseal_secret_with(
            &ss,
            std::slice::from_ref(&a),
            UnsealOptions {
                accept_v1_data: false,
            },
        );
        assert_eq!(refused, Err(UnsealError::DeprecatedData));
        let mut both = ss.clone();
        both["spec"]["encryptedData"] = json!({"x": "AA=="});
        assert_eq!(unseal_secret(&both, &[a]), Err(UnsealError::BothDataFields));
    }
}
