//! The Secret ESO writes for an ExternalSecret (labels, annotations, hashes, owner, field
//! manager), how it merges into an existing Secret, and the `Ready` condition. Hashes are
//! computed exactly as ESO computes them, so that ESO and fjord recognise each other's Secrets.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;
use serde_json::{json, Map, Value};
use sha3::{Digest, Sha3_224};

use crate::spec::{CreationPolicy, ExternalSecretSpec, GROUP, KIND_EXTERNAL_SECRET};

/// Label on every Secret an ExternalSecret manages (value `"true"`).
pub const LABEL_MANAGED: &str = "reconcile.external-secrets.io/managed";
/// Label (creationPolicy Owner only): [`created_by`] of the owning ExternalSecret.
pub const LABEL_CREATED_BY: &str = "reconcile.external-secrets.io/created-by";
/// Annotation: [`data_hash`] of the Secret's data as last written.
pub const ANNOTATION_DATA_HASH: &str = "reconcile.external-secrets.io/data-hash";
/// Annotation on an ExternalSecret whose change forces a sync.
pub const ANNOTATION_FORCE_SYNC: &str = "external-secrets.io/force-sync";
/// The ExternalSecret finalizer.
pub const FINALIZER: &str = "externalsecrets.external-secrets.io/externalsecret-cleanup";
/// The ClusterExternalSecret finalizer.
pub const CES_FINALIZER: &str = "externalsecrets.external-secrets.io/clusterexternalsecret-cleanup";

/// `Ready` reason: synced (also retained).
pub const REASON_SYNCED: &str = "SecretSynced";
/// `Ready` reason: an error.
pub const REASON_SYNC_ERROR: &str = "SecretSyncedError";
/// `Ready` reason: deleted because of `deletionPolicy: Delete`.
pub const REASON_DELETED: &str = "SecretDeleted";
/// `Ready` reason: `creationPolicy: Merge` and no target yet.
pub const REASON_MISSING: &str = "SecretMissing";
/// Store `Ready` reason: validated.
pub const STORE_VALID: &str = "Valid";
/// Store `Ready` reason: invalid configuration.
pub const STORE_INVALID: &str = "InvalidProviderConfig";

/// The field manager prefix (`externalsecrets.external-secrets.io/<name>`).
const FIELD_MANAGER_PREFIX: &str = "externalsecrets.external-secrets.io/";

/// The field manager of an ExternalSecret's writes: `externalsecrets.external-secrets.io/<name>`,
/// or `externalsecrets.external-secrets.io/sha3/<sha3-224 hex of name>` when that is longer
/// than 63 characters (ESO's `fqdnFor`).
pub fn field_manager(es_name: &str) -> String {
    let fqdn = format!("{FIELD_MANAGER_PREFIX}{es_name}");
    if fqdn.len() > 63 {
        format!(
            "{FIELD_MANAGER_PREFIX}sha3/{}",
            sha3_224_hex(es_name.as_bytes())
        )
    } else {
        fqdn
    }
}

/// SHA3-224 of `bytes`, lowercase hex (56 characters).
pub fn sha3_224_hex(bytes: &[u8]) -> String {
    hex::encode(Sha3_224::digest(bytes))
}

/// The `created-by` label value: SHA3-224 hex of `"<ns>/<name>"`.
pub fn created_by(namespace: &str, name: &str) -> String {
    sha3_224_hex(format!("{namespace}/{name}").as_bytes())
}

/// Go's `%+v` of a `map[string]string`: `map[k1:v1 k2:v2]`, keys sorted.
fn go_string_map(m: Option<&Map<String, Value>>) -> String {
    let mut entries: Vec<(&str, String)> = m
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.as_str(), v)
        })
        .collect();
    entries.sort();
    let body: Vec<String> = entries.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    format!("map[{}]", body.join(" "))
}

/// `"<metadata.generation>-<hash>"` (ESO's `GetResourceVersion`). The hash is SHA3-224 hex of
/// Go's `%+v` of `struct{annotations, labels map[string]string}`, i.e. of the text
/// `{annotations:map[a:1 b:2] labels:map[app:x]}` (keys sorted; absent maps print `map[]`),
/// so a label or annotation change counts as a change.
pub fn synced_resource_version(es: &Value) -> String {
    let meta = es.get("metadata");
    let generation = meta
        .and_then(|m| m.get("generation"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let field = |name: &str| meta.and_then(|m| m.get(name)).and_then(Value::as_object);
    let text = format!(
        "{{annotations:{} labels:{}}}",
        go_string_map(field("annotations")),
        go_string_map(field("labels"))
    );
    format!("{generation}-{}", sha3_224_hex(text.as_bytes()))
}

/// The `data-hash` annotation: SHA3-224 hex of Go's `%+v` of the Secret's
/// `map[string][]byte` data, i.e. of `map[k1:[104 105] k2:[]]` (keys sorted, bytes in decimal).
pub fn data_hash(data: &BTreeMap<String, Vec<u8>>) -> String {
    let mut text = String::from("map[");
    for (i, (k, v)) in data.iter().enumerate() {
        if i > 0 {
            text.push(' ');
        }
        text.push_str(k);
        text.push_str(":[");
        for (j, b) in v.iter().enumerate() {
            if j > 0 {
                text.push(' ');
            }
            let _ = write!(text, "{b}");
        }
        text.push(']');
    }
    text.push(']');
    sha3_224_hex(text.as_bytes())
}

/// A JSON object from a string map, keys sorted.
fn string_object(m: &BTreeMap<String, String>) -> Value {
    Value::Object(
        m.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// `data` as a Secret's `data` (base64 values).
fn data_object(data: &BTreeMap<String, Vec<u8>>) -> Value {
    let b64 = base64::engine::general_purpose::STANDARD;
    Value::Object(
        data.iter()
            .map(|(k, v)| (k.clone(), Value::String(b64.encode(v))))
            .collect(),
    )
}

/// A string field of `es.metadata`.
fn meta_str<'a>(es: &'a Value, field: &str) -> &'a str {
    es.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The desired Secret for an ES: name/namespace, type (template.type or Opaque), immutable,
/// data (base64 of the bytes), labels (`labels` — the rendered template labels — then
/// managed, and created-by for Owner), annotations (`annotations`, then data-hash),
/// ownerReference (controller, blockOwnerDeletion) for Owner only. `es` is the whole
/// ExternalSecret object (uid, apiVersion, name, namespace).
pub fn desired_secret(
    es: &Value,
    spec: &ExternalSecretSpec,
    data: &BTreeMap<String, Vec<u8>>,
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
) -> Value {
    let namespace = meta_str(es, "namespace");
    let name = meta_str(es, "name");
    let owner = spec.target.creation_policy == CreationPolicy::Owner;
    let mut labels = labels.clone();
    labels.insert(LABEL_MANAGED.to_string(), "true".to_string());
    if owner {
        labels.insert(LABEL_CREATED_BY.to_string(), created_by(namespace, name));
    } else {
        labels.remove(LABEL_CREATED_BY);
    }
    let mut annotations = annotations.clone();
    annotations.insert(ANNOTATION_DATA_HASH.to_string(), data_hash(data));
    let mut metadata = json!({
        "name": spec.target.name,
        "namespace": namespace,
        "labels": string_object(&labels),
        "annotations": string_object(&annotations),
    });
    if owner {
        let api_version = es
            .get("apiVersion")
            .and_then(Value::as_str)
            .map_or_else(|| format!("{GROUP}/v1"), str::to_string);
        metadata["ownerReferences"] = json!([{
            "apiVersion": api_version,
            "kind": KIND_EXTERNAL_SECRET,
            "name": name,
            "uid": meta_str(es, "uid"),
            "controller": true,
            "blockOwnerDeletion": true,
        }]);
    }
    let type_ = spec
        .target
        .template
        .as_ref()
        .and_then(|t| t.type_.clone())
        .unwrap_or_else(|| "Opaque".to_string());
    let mut secret = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "type": type_,
        "data": data_object(data),
    });
    if spec.target.immutable {
        secret["immutable"] = Value::Bool(true);
    }
    secret
}

/// The data of a Secret object, base64-decoded (a value that is not base64 is taken as is).
pub fn secret_data(secret: &Value) -> BTreeMap<String, Vec<u8>> {
    let b64 = base64::engine::general_purpose::STANDARD;
    secret
        .get("data")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            let s = v.as_str().unwrap_or_default();
            (
                k.clone(),
                b64.decode(s).unwrap_or_else(|_| s.as_bytes().to_vec()),
            )
        })
        .collect()
}

/// Copies the entries of `from.<field>` over `into.<field>` (objects).
fn overlay(into: &mut Value, from: &Value, field: &str) {
    let Some(src) = from.get(field).and_then(Value::as_object) else {
        return;
    };
    if !into.get(field).is_some_and(Value::is_object) {
        into[field] = Value::Object(Map::new());
    }
    let dst = into[field].as_object_mut().expect("object");
    for (k, v) in src {
        dst.insert(k.clone(), v.clone());
    }
}

/// Merges `desired` into `live` for creationPolicy Merge/CreateOrMerge: keeps foreign keys,
/// labels, annotations, owners, type and resourceVersion of `live`; `desired`'s data keys,
/// labels and annotations win; never adds an ownerReference or the created-by label. The
/// data-hash annotation is recomputed over the merged data; `immutable` is carried over.
pub fn merge_into(live: &Value, desired: &Value) -> Value {
    let mut out = live.clone();
    if !out.get("metadata").is_some_and(Value::is_object) {
        out["metadata"] = json!({});
    }
    if let Some(dm) = desired.get("metadata") {
        overlay(&mut out["metadata"], dm, "labels");
        overlay(&mut out["metadata"], dm, "annotations");
    }
    if let Some(labels) = out["metadata"]
        .get_mut("labels")
        .and_then(Value::as_object_mut)
    {
        if live
            .pointer(&format!(
                "/metadata/labels/{}",
                LABEL_CREATED_BY.replace('/', "~1")
            ))
            .is_none()
        {
            labels.remove(LABEL_CREATED_BY);
        }
    }
    overlay(&mut out, desired, "data");
    let hash = data_hash(&secret_data(&out));
    out["metadata"]["annotations"][ANNOTATION_DATA_HASH] = Value::String(hash);
    if out.get("type").is_none_or(Value::is_null) {
        if let Some(t) = desired.get("type") {
            out["type"] = t.clone();
        }
    }
    if desired.get("immutable") == Some(&Value::Bool(true)) {
        out["immutable"] = Value::Bool(true);
    }
    out
}

/// Who controls `secret`: Some((kind,name,uid)) of a controller ownerReference.
pub fn controller_of(secret: &Value) -> Option<(String, String, String)> {
    secret
        .pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|r| r.get("controller") == Some(&Value::Bool(true)))
        .map(|r| {
            let f = |k: &str| {
                r.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            (f("kind"), f("name"), f("uid"))
        })
}

/// A `Ready` condition object {type: Ready, status, reason, message, lastTransitionTime}.
pub fn ready_condition(status: bool, reason: &str, message: &str, now_rfc3339: &str) -> Value {
    json!({
        "type": "Ready",
        "status": if status { "True" } else { "False" },
        "reason": reason,
        "message": message,
        "lastTransitionTime": now_rfc3339,
    })
}

#[cfg(test)]
mod tests;
