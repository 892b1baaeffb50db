//! Building SealedSecrets from Secrets the way `kubeseal` does, plus `--merge-into`.

use std::time::SystemTime;

use fjord_model::meta::OBJECT_META_FIELDS;
use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::crypto::{hybrid_encrypt, CryptoError};
use crate::docs::{decode_base64_go, encode_base64};
use crate::keys::Certificate;
use crate::object::{normalize_meta, SealedSecret};
use crate::scope::Scope;

/// Annotations never copied into the template (they would leak the plaintext).
pub const LAST_APPLIED_ANNOTATIONS: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    "kubecfg.ksonnet.io/last-applied-configuration",
];

/// The server-set metadata fields stripped from the input Secret: the run of
/// [`OBJECT_META_FIELDS`] from `selfLink` to `deletionGracePeriodSeconds` (uid,
/// resourceVersion, generation and the timestamps between them).
fn server_fields() -> &'static [&'static str] {
    let at = |field: &str| {
        OBJECT_META_FIELDS
            .iter()
            .position(|f| *f == field)
            .unwrap_or(OBJECT_META_FIELDS.len())
    };
    OBJECT_META_FIELDS
        .get(at("selfLink")..=at("deletionGracePeriodSeconds"))
        .unwrap_or_default()
}

/// Failures sealing a Secret. Messages never contain secret values.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SealError {
    /// The input document is not a Secret.
    #[error("input is not a Secret (kind {0:?})")]
    NotSecret(String),
    /// Both data maps are empty.
    #[error("secret.data is empty in input Secret, assuming this is an error and aborting. To work with empty data, --allow-empty-data can be used")]
    EmptyData,
    /// No name.
    #[error("missing metadata.name in input Secret")]
    MissingName,
    /// `--namespace` disagrees with the input.
    #[error(
        "namespace mismatch: input secret is in namespace {input:?} but {flag:?} was specified"
    )]
    NamespaceMismatch {
        /// The Secret's namespace.
        input: String,
        /// The `--namespace` value.
        flag: String,
    },
    /// `--raw` without the `--name`/`--namespace` flag its scope needs.
    #[error("must provide the {flag} flag with --raw and --scope {scope}")]
    RawFlag {
        /// The missing flag: `--name` or `--namespace`.
        flag: &'static str,
        /// The scope's name, e.g. `strict`.
        scope: &'static str,
    },
    /// Non-cluster-wide secret without namespace.
    #[error("secret must declare a namespace")]
    MissingNamespace,
    /// A `data` entry is not base64 (the key is named, the value is not).
    #[error("Secret {secret}: data.{key}: {reason}")]
    DataEncoding {
        /// The Secret's name.
        secret: String,
        /// The data key.
        key: String,
        /// The decoder's message.
        reason: String,
    },
    /// A field has the wrong type.
    #[error("Secret {secret}: field {field} must be {expected}")]
    FieldType {
        /// The Secret's name.
        secret: String,
        /// The field path.
        field: String,
        /// The expected type.
        expected: &'static str,
    },
    /// The certificate is expired.
    #[error("failed to encrypt using an expired certificate on {0}")]
    ExpiredCertificate(String),
    /// Encryption failed.
    #[error("encrypting {secret}")]
    Crypto {
        /// The Secret's name.
        secret: String,
        /// The crypto failure.
        source: CryptoError,
    },
}

/// kubeseal's per-Secret options.
#[derive(Clone, Debug, Default)]
pub struct SealOptions {
    /// `--scope`; `None` (or strict) leaves the input annotations alone.
    pub scope: Option<Scope>,
    /// `--name` override.
    pub name: Option<String>,
    /// `--namespace` given explicitly (mismatch is an error).
    pub namespace: Option<String>,
    /// Namespace to fill when the input has none (kubeconfig context; `default`).
    pub default_namespace: String,
    /// `--allow-empty-data`.
    pub allow_empty_data: bool,
}

/// Refuses an expired certificate with kubeseal's message.
pub fn check_certificate(cert: &Certificate, now: SystemTime) -> Result<(), SealError> {
    if cert.is_expired(now) {
        return Err(SealError::ExpiredCertificate(format_go_date(
            cert.not_after(),
        )));
    }
    Ok(())
}

/// `January 2, 2006` for a Unix time.
fn format_go_date(seconds: i64) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let days = seconds.div_euclid(86400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{} {d}, {y}", MONTHS[usize::try_from(m - 1).unwrap_or(0)])
}

/// The plaintext items of a Secret: base64-decoded `data`, then `stringData` (which wins).
pub fn secret_items(secret: &Value) -> Result<IndexMap<String, Vec<u8>>, SealError> {
    let name = secret
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut items = IndexMap::new();
    for (field, is_b64) in [("data", true), ("stringData", false)] {
        let Some(map) = secret.get(field).filter(|v| !v.is_null()) else {
            continue;
        };
        let map = map.as_object().ok_or_else(|| SealError::FieldType {
            secret: name.clone(),
            field: field.into(),
            expected: "an object",
        })?;
        for (k, v) in map {
            let text = match v {
                Value::String(s) => s.as_str(),
                Value::Null => "",
                _ => {
                    return Err(SealError::FieldType {
                        secret: name.clone(),
                        field: format!("{field}.{k}"),
                        expected: "a string",
                    })
                }
            };
            let bytes = if is_b64 {
                decode_base64_go(text).map_err(|e| SealError::DataEncoding {
                    secret: name.clone(),
                    key: k.clone(),
                    reason: e.to_string(),
                })?
            } else {
                text.as_bytes().to_vec()
            };
            items.insert(k.clone(), bytes);
        }
    }
    Ok(items)
}

/// Seals one Secret for `cert` the way kubeseal does (steps of the reference §4).
pub fn seal_secret(
    secret: &Value,
    cert: &Certificate,
    options: &SealOptions,
) -> Result<SealedSecret, SealError> {
    let kind = secret.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind != "Secret" {
        return Err(SealError::NotSecret(kind.to_string()));
    }
    let items = secret_items(secret)?;
    if items.is_empty() && !options.allow_empty_data {
        return Err(SealError::EmptyData);
    }
    let mut meta = match secret.get("metadata") {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    if let Some(n) = &options.name {
        meta.insert("name".into(), Value::String(n.clone()));
    }
    let name = meta
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if name.is_empty() {
        return Err(SealError::MissingName);
    }
    if let Some(scope) = options.scope {
        let mut ann = meta
            .get("annotations")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        scope.apply_to_annotations(&mut ann);
        if !ann.is_empty() {
            meta.insert("annotations".into(), Value::Object(ann));
        }
    }
    let scope = Scope::from_annotations(meta.get("annotations").and_then(Value::as_object));
    let mut namespace = meta
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if scope != Scope::ClusterWide {
        if let Some(flag) = options.namespace.as_ref().filter(|f| !f.is_empty()) {
            if !namespace.is_empty() && &namespace != flag {
                return Err(SealError::NamespaceMismatch {
                    input: namespace,
                    flag: flag.clone(),
                });
            }
            namespace = flag.clone();
        }
        if namespace.is_empty() {
            namespace = options.default_namespace.clone();
        }
        if namespace.is_empty() {
            return Err(SealError::MissingNamespace);
        }
        meta.insert("namespace".into(), Value::String(namespace.clone()));
    }
    for f in server_fields() {
        meta.remove(*f);
    }
    meta.remove("ownerReferences");
    if let Some(Value::Object(ann)) = meta.get_mut("annotations") {
        for a in LAST_APPLIED_ANNOTATIONS {
            ann.remove(*a);
        }
        if ann.is_empty() {
            meta.remove("annotations");
        }
    }

    let mut ss = SealedSecret::new(&name, &namespace);
    if let Some(a) = scope.annotation() {
        let mut ann = Map::new();
        ann.insert(a.into(), Value::String("true".into()));
        ss.metadata.insert("annotations".into(), Value::Object(ann));
    }
    ss.template.metadata = Some(normalize_meta(Some(&Value::Object(meta))));
    ss.template.type_ = secret
        .get("type")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    ss.template.immutable = secret.get("immutable").and_then(Value::as_bool);
    let label = scope.label(&namespace, &name);
    let mut keys: Vec<_> = items.keys().cloned().collect();
    keys.sort();
    for k in keys {
        let blob =
            hybrid_encrypt(cert, &label, &items[&k]).map_err(|source| SealError::Crypto {
                secret: name.clone(),
                source,
            })?;
        ss.encrypted_data.insert(k, encode_base64(&blob));
    }
    Ok(ss)
}

/// `--merge-into`: seals `secret` under the name/namespace of `existing`, then merges
/// `encryptedData`, template labels, annotations and data into it.
pub fn merge_into(
    existing: &mut SealedSecret,
    secret: &Value,
    cert: &Certificate,
    options: &SealOptions,
) -> Result<(), SealError> {
    let mut opts = options.clone();
    opts.name = Some(existing.name().to_string());
    let mut input = secret.clone();
    if let Some(m) = input.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("namespace");
    }
    if !existing.namespace().is_empty() {
        opts.namespace = None;
        opts.default_namespace = existing.namespace().to_string();
    }
    let sealed = seal_secret(&input, cert, &opts)?;
    for (k, v) in sealed.encrypted_data {
        existing.encrypted_data.insert(k, v);
    }
    let new_meta = sealed.template.metadata.unwrap_or_default();
    let target = existing.template.metadata.get_or_insert_with(Map::new);
    for field in ["labels", "annotations"] {
        if let Some(Value::Object(src)) = new_meta.get(field) {
            let dst = target
                .entry(field)
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(dst) = dst {
                for (k, v) in src {
                    dst.insert(k.clone(), v.clone());
                }
            }
        }
    }
    if let Some(new_data) = sealed.template.data {
        let dst = existing.template.data.get_or_insert_with(IndexMap::new);
        dst.extend(new_data);
    }
    Ok(())
}

/// `--raw`: seals one value for `scope`, returning the bare base64 blob (no newline).
/// Strict needs namespace and name, namespace-wide a namespace; cluster-wide ignores both.
pub fn seal_raw(
    cert: &Certificate,
    scope: Scope,
    namespace: &str,
    name: &str,
    value: &[u8],
) -> Result<String, SealError> {
    let missing = |flag| SealError::RawFlag {
        flag,
        scope: scope.as_str(),
    };
    let (ns, n) = match scope {
        Scope::Strict => {
            if namespace.is_empty() {
                return Err(missing("--namespace"));
            }
            if name.is_empty() {
                return Err(missing("--name"));
            }
            (namespace, name)
        }
        Scope::NamespaceWide => {
            if namespace.is_empty() {
                return Err(missing("--namespace"));
            }
            (namespace, "")
        }
        Scope::ClusterWide => ("", ""),
    };
    let blob =
        hybrid_encrypt(cert, &scope.label(ns, n), value).map_err(|source| SealError::Crypto {
            secret: name.to_string(),
            source,
        })?;
    Ok(encode_base64(&blob))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkeys::key_a;
    use crate::unseal::unseal_secret;
    use serde_json::json;

    #[test]
    fn server_fields_come_from_the_object_meta_list() {
        let fields = server_fields();
        assert_eq!(fields.len(), 7, "{fields:?}");
        assert_eq!(fields.first(), Some(&"selfLink"));
        assert_eq!(fields.last(), Some(&"deletionGracePeriodSeconds"));
        assert!(fields.contains(&"uid") && !fields.contains(&"name"));
    }

    fn secret() -> Value {
        json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": "s", "namespace": "ns", "uid": "x", "resourceVersion": "9",
                            "labels": {"l": "1"},
                            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{secret}", "keep": "y"},
                            "ownerReferences": [{"name": "o"}]},
               "type": "Opaque",
               "data": {"a": "YmFy", "dup": "b2xk"}, "stringData": {"dup": "new", "s": "plain"}})
    }

    #[test]
    fn seals_like_kubeseal() {
        let a = key_a();
        let cert = a.certificate().unwrap();
        let ss = seal_secret(&secret(), cert, &SealOptions::default()).unwrap();
        let v = ss.to_value();
        assert_eq!(v["metadata"], json!({"name": "s", "namespace": "ns"}));
        assert_eq!(
            v["spec"]["template"]["metadata"],
            json!({"name": "s", "namespace": "ns", "labels": {"l": "1"}, "annotations": {"keep": "y"}})
        );
        let keys: Vec<_> = ss.encrypted_data.keys().cloned().collect();
        assert_eq!(keys, ["a", "dup", "s"]);
        let out = unseal_secret(&v, &[a]).unwrap();
        assert_eq!(
            out["data"],
            json!({"a": "YmFy", "dup": "bmV3", "s": "cGxhaW4="})
        );
    }

    #[test]
    fn scope_and_namespace_rules() {
        let a = key_a();
        let cert = a.certificate().unwrap();
        let opts = SealOptions {
            scope: Some(Scope::ClusterWide),
            ..SealOptions::default()
        };
        let mut input = secret();
        input["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("namespace");
        let ss = seal_secret(&input, cert, &opts).unwrap();
        assert_eq!(ss.namespace(), "");
        assert_eq!(ss.scope(), Scope::ClusterWide);
        let opts = SealOptions {
            namespace: Some("other".into()),
            ..SealOptions::default()
        };
        assert_eq!(
            seal_secret(&secret(), cert, &opts).unwrap_err().to_string(),
            "namespace mismatch: input secret is in namespace \"ns\" but \"other\" was specified"
        );
        assert_eq!(
            seal_secret(&input, cert, &SealOptions::default()),
            Err(SealError::MissingNamespace)
        );
        let empty = json!({"kind": "Secret", "metadata": {"name": "e", "namespace": "n"}});
        assert_eq!(
            seal_secret(&empty, cert, &SealOptions::default()),
            Err(SealError::EmptyData)
        );
    }

    #[test]
    fn raw_needs_the_flags_its_scope_uses() {
        let a = key_a();
        let cert = a.certificate().unwrap();
        let err = |scope, ns, name| {
            seal_raw(cert, scope, ns, name, b"v")
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err(Scope::Strict, "ns", ""),
            "must provide the --name flag with --raw and --scope strict"
        );
        assert_eq!(
            err(Scope::NamespaceWide, "", "n"),
            "must provide the --namespace flag with --raw and --scope namespace-wide"
        );
        let blob = seal_raw(cert, Scope::ClusterWide, "", "", b"v").unwrap();
        let plain = crate::unseal_item(
            std::slice::from_ref(&a),
            Scope::ClusterWide,
            "x",
            "y",
            "k",
            &decode_base64_go(&blob).unwrap(),
        );
        assert_eq!(plain.unwrap(), b"v");
    }

    #[test]
    fn go_dates() {
        assert_eq!(format_go_date(0), "January 1, 1970");
        assert_eq!(format_go_date(2_109_413_229), "November 4, 2036");
    }

    #[test]
    fn merge_keeps_existing_items() {
        let a = key_a();
        let cert = a.certificate().unwrap();
        let mut existing = seal_secret(&secret(), cert, &SealOptions::default()).unwrap();
        let add = json!({"kind": "Secret", "metadata": {"name": "ignored", "labels": {"m": "2"}}, "stringData": {"n": "v"}});
        merge_into(&mut existing, &add, cert, &SealOptions::default()).unwrap();
        assert_eq!(existing.encrypted_data.len(), 4);
        let out = unseal_secret(&existing.to_value(), &[a]).unwrap();
        assert_eq!(out["data"]["n"], "dg==");
        assert_eq!(out["metadata"]["labels"], json!({"l": "1", "m": "2"}));
    }
}
