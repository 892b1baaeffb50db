//! The objects the controller writes, built as upstream builds them: the update of an
//! existing Secret (`managed`/`patch` annotations, owner references), the `Synced` status
//! patch, and core/v1 Events on the SealedSecret. Pure functions, no I/O.

use std::time::SystemTime;

use serde_json::{json, Map, Value};

use crate::COMPONENT;
use fjord_seal::object::{API_VERSION, KIND};

/// Annotation a user puts on a pre-existing Secret to let the SealedSecret take it over.
pub const MANAGED_ANNOTATION: &str = "sealedsecrets.bitnami.com/managed";
/// Annotation a user puts on a pre-existing Secret to have SealedSecret items merged into it.
pub const PATCH_ANNOTATION: &str = "sealedsecrets.bitnami.com/patch";

/// Event reason of a successful unseal.
pub const REASON_UNSEALED: &str = "Unsealed";
/// Event reason of an unseal failure.
pub const REASON_UNSEAL_FAILED: &str = "ErrUnsealFailed";
/// Event reason of a failure reading or writing the Secret.
pub const REASON_UPDATE_FAILED: &str = "ErrUpdateFailed";
/// Message of the success event.
pub const MESSAGE_UNSEALED: &str = "SealedSecret unsealed successfully";

/// A string field at a JSON pointer, `""` when absent.
pub(crate) fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// Whether `secret` has a controller owner reference to the SealedSecret with `uid`.
pub fn is_controlled_by(secret: &Value, uid: &str) -> bool {
    !uid.is_empty()
        && secret
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .is_some_and(|refs| {
                refs.iter()
                    .any(|r| r["controller"] == true && r["uid"].as_str() == Some(uid))
            })
}

fn annotated(secret: &Value, annotation: &str) -> bool {
    secret
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(annotation))
        .and_then(Value::as_str)
        == Some("true")
}

/// Sets `obj[key]` to `value`, removing the key for absent, null or empty values (Kubernetes'
/// semantic equality treats nil and empty maps and lists alike).
fn set_or_remove(obj: &mut Map<String, Value>, key: &str, value: Option<&Value>) {
    match value {
        Some(Value::Object(m)) if !m.is_empty() => {
            obj.insert(key.into(), Value::Object(m.clone()));
        }
        Some(Value::Array(a)) if !a.is_empty() => {
            obj.insert(key.into(), Value::Array(a.clone()));
        }
        Some(v @ (Value::String(_) | Value::Bool(_) | Value::Number(_))) => {
            obj.insert(key.into(), v.clone());
        }
        _ => {
            obj.remove(key);
        }
    }
}

fn merge_into(obj: &mut Map<String, Value>, key: &str, extra: Option<&Value>) {
    let Some(Value::Object(extra)) = extra else {
        return;
    };
    if extra.is_empty() {
        return;
    }
    let mut merged = match obj.get(key) {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    for (k, v) in extra {
        merged.insert(k.clone(), v.clone());
    }
    obj.insert(key.into(), Value::Object(merged));
}

fn canonical(secret: &Value) -> Value {
    let mut out = secret.clone();
    if let Some(o) = out.as_object_mut() {
        let data = o.get("data").cloned();
        set_or_remove(o, "data", data.as_ref());
        if o.get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
        {
            o.insert("type".into(), Value::String("Opaque".into()));
        }
        if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
            for key in ["labels", "annotations", "ownerReferences"] {
                let v = m.get(key).cloned();
                set_or_remove(m, key, v.as_ref());
            }
        }
    }
    out
}

/// Upstream's update of an existing Secret. `Err(())` when the Secret must not be touched
/// (not controlled by the SealedSecret `uid`, not annotated `managed` or `patch`);
/// `Ok(None)` when nothing would change; `Ok(Some(updated))` otherwise (the existing object with
/// its `resourceVersion`, ready for an update).
///
/// Without `patch`, data, labels, annotations and owner references are replaced by the
/// unsealed Secret's; with `patch: "true"`, data, labels and annotations are merged key by key
/// and owner references replaced only when `managed: "true"` is also set. The type always
/// follows the unsealed Secret; `immutable` and other metadata are not propagated on update.
#[allow(clippy::result_unit_err)]
pub fn updated_secret(existing: &Value, unsealed: &Value, uid: &str) -> Result<Option<Value>, ()> {
    let managed = annotated(existing, MANAGED_ANNOTATION);
    let patch = annotated(existing, PATCH_ANNOTATION);
    if !is_controlled_by(existing, uid) && !managed && !patch {
        return Err(());
    }
    let mut updated = existing.clone();
    let Some(obj) = updated.as_object_mut() else {
        return Err(());
    };
    let new_meta = unsealed.get("metadata");
    let field = |k: &str| new_meta.and_then(|m| m.get(k));
    if patch {
        merge_into(obj, "data", unsealed.get("data"));
        let meta = obj
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(meta) = meta.as_object_mut() {
            merge_into(meta, "labels", field("labels"));
            merge_into(meta, "annotations", field("annotations"));
            if managed {
                set_or_remove(meta, "ownerReferences", field("ownerReferences"));
            }
        }
    } else {
        set_or_remove(obj, "data", unsealed.get("data"));
        let meta = obj
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(meta) = meta.as_object_mut() {
            for key in ["labels", "annotations", "ownerReferences"] {
                set_or_remove(meta, key, field(key));
            }
        }
    }
    let type_ = unsealed
        .get("type")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .unwrap_or("Opaque");
    obj.insert("type".into(), Value::String(type_.into()));
    if canonical(&updated) == canonical(existing) {
        Ok(None)
    } else {
        Ok(Some(updated))
    }
}

/// The status merge patch after an attempt, or `None` when upstream would not write it (the
/// `Synced` value did not flip and `observedGeneration` is current). One `Synced` condition:
/// `"True"` with no message, or `"False"` with the error text; `lastTransitionTime` moves only
/// when the value flips; `reason` is never set.
pub fn status_patch(sealed: &Value, ok: bool, message: &str, now: &str) -> Option<Value> {
    let generation = sealed.pointer("/metadata/generation").cloned();
    let status = sealed.get("status");
    let conditions: Vec<Value> = status
        .and_then(|s| s.get("conditions"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let current = conditions.iter().find(|c| c["type"] == "Synced");
    let wanted = if ok { "True" } else { "False" };
    let flipped = current.and_then(|c| c["status"].as_str()) != Some(wanted);
    let observed = status.and_then(|s| s.get("observedGeneration")).cloned();
    let generation_changed = observed != generation && generation.is_some();
    if !flipped && !generation_changed {
        return None;
    }
    let transition = match current.and_then(|c| c.get("lastTransitionTime")) {
        Some(t) if !flipped => t.clone(),
        _ => Value::String(now.into()),
    };
    let mut condition = Map::new();
    condition.insert("type".into(), json!("Synced"));
    condition.insert("status".into(), json!(wanted));
    condition.insert("lastUpdateTime".into(), json!(now));
    condition.insert("lastTransitionTime".into(), transition);
    if !ok && !message.is_empty() {
        condition.insert("message".into(), json!(message));
    }
    let mut out: Vec<Value> = Vec::with_capacity(conditions.len().max(1));
    let mut placed = false;
    for c in &conditions {
        if c["type"] == "Synced" {
            if !placed {
                out.push(Value::Object(condition.clone()));
                placed = true;
            }
        } else {
            out.push(c.clone());
        }
    }
    if !placed {
        out.insert(0, Value::Object(condition));
    }
    let mut status = Map::new();
    status.insert("conditions".into(), Value::Array(out));
    if let Some(g) = generation {
        status.insert("observedGeneration".into(), g);
    }
    Some(json!({ "status": status }))
}

/// A core/v1 Event on the SealedSecret, named as client-go names them (`<name>.<nanos hex>`).
pub fn event_object(sealed: &Value, type_: &str, reason: &str, message: &str, now: &str) -> Value {
    let name = str_at(sealed, "/metadata/name");
    let ns = str_at(sealed, "/metadata/namespace");
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": format!("{name}.{nanos:x}"), "namespace": ns},
        "involvedObject": {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "name": name,
            "namespace": ns,
            "uid": str_at(sealed, "/metadata/uid"),
            "resourceVersion": str_at(sealed, "/metadata/resourceVersion"),
        },
        "reason": reason,
        "message": message,
        "source": {"component": COMPONENT},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "type": type_,
        "reportingComponent": COMPONENT,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(uid: &str) -> Value {
        json!([{"apiVersion": API_VERSION, "kind": KIND, "name": "s", "uid": uid, "controller": true}])
    }

    fn unsealed() -> Value {
        json!({"kind": "Secret", "apiVersion": "v1",
               "metadata": {"name": "s", "namespace": "n", "labels": {"app": "new"},
                            "ownerReferences": owned("u1")},
               "data": {"a": "MQ=="}, "type": "Opaque"})
    }

    #[test]
    fn unmanaged_secret_is_refused() {
        let existing = json!({"metadata": {"name": "s", "namespace": "n", "resourceVersion": "7"},
                              "data": {"x": "eA=="}, "type": "Opaque"});
        assert_eq!(updated_secret(&existing, &unsealed(), "u1"), Err(()));
        // Owned by another SealedSecret (other UID): still refused.
        let mut other = existing.clone();
        other["metadata"]["ownerReferences"] = owned("u2");
        assert_eq!(updated_secret(&other, &unsealed(), "u1"), Err(()));
    }

    #[test]
    fn managed_secret_is_replaced_wholesale() {
        let existing = json!({"metadata": {"name": "s", "namespace": "n", "resourceVersion": "7",
                                           "labels": {"old": "1"},
                                           "annotations": {MANAGED_ANNOTATION: "true"}},
                              "data": {"x": "eA=="}, "type": "Opaque"});
        let out = updated_secret(&existing, &unsealed(), "u1")
            .unwrap()
            .unwrap();
        assert_eq!(out["data"], json!({"a": "MQ=="}));
        assert_eq!(out["metadata"]["labels"], json!({"app": "new"}));
        assert!(out["metadata"].get("annotations").is_none());
        assert_eq!(out["metadata"]["ownerReferences"], owned("u1"));
        assert_eq!(out["metadata"]["resourceVersion"], "7");
        // Once taken over, the same content is not written again.
        assert_eq!(updated_secret(&out, &unsealed(), "u1"), Ok(None));
    }

    #[test]
    fn patch_merges_and_takes_ownership_only_when_managed() {
        let existing = json!({"metadata": {"name": "s", "namespace": "n",
                                           "labels": {"old": "1"},
                                           "annotations": {PATCH_ANNOTATION: "true"}},
                              "data": {"x": "eA=="}, "type": "Opaque"});
        let out = updated_secret(&existing, &unsealed(), "u1")
            .unwrap()
            .unwrap();
        assert_eq!(out["data"], json!({"x": "eA==", "a": "MQ=="}));
        assert_eq!(out["metadata"]["labels"], json!({"old": "1", "app": "new"}));
        assert_eq!(out["metadata"]["annotations"][PATCH_ANNOTATION], "true");
        assert!(out["metadata"].get("ownerReferences").is_none());
        let mut both = existing.clone();
        both["metadata"]["annotations"][MANAGED_ANNOTATION] = json!("true");
        let out = updated_secret(&both, &unsealed(), "u1").unwrap().unwrap();
        assert_eq!(out["metadata"]["ownerReferences"], owned("u1"));
    }

    #[test]
    fn type_follows_and_empty_type_means_opaque() {
        let mut existing = unsealed();
        existing["metadata"]["resourceVersion"] = json!("3");
        let mut without_type = unsealed();
        without_type.as_object_mut().unwrap().remove("type");
        assert_eq!(updated_secret(&existing, &without_type, "u1"), Ok(None));
        let mut tls = unsealed();
        tls["type"] = json!("kubernetes.io/tls");
        let out = updated_secret(&existing, &tls, "u1").unwrap().unwrap();
        assert_eq!(out["type"], "kubernetes.io/tls");
    }

    #[test]
    fn status_written_on_flip_or_new_generation_only() {
        let ss = json!({"metadata": {"name": "s", "namespace": "n", "generation": 2}});
        let p = status_patch(&ss, true, "", "T1").unwrap();
        assert_eq!(
            p,
            json!({"status": {"conditions": [{"type": "Synced", "status": "True",
                   "lastUpdateTime": "T1", "lastTransitionTime": "T1"}], "observedGeneration": 2}})
        );
        let mut synced = ss.clone();
        synced["status"] = p["status"].clone();
        assert_eq!(status_patch(&synced, true, "", "T2"), None);
        let failed = status_patch(&synced, false, "boom", "T3").unwrap();
        let c = &failed["status"]["conditions"][0];
        assert_eq!(
            (c["status"].clone(), c["message"].clone()),
            (json!("False"), json!("boom"))
        );
        assert_eq!(c["lastTransitionTime"], "T3");
        // Same False value, new message: not re-written.
        let mut f = synced.clone();
        f["status"] = failed["status"].clone();
        assert_eq!(status_patch(&f, false, "other", "T4"), None);
        // New generation: written, transition time kept.
        f["metadata"]["generation"] = json!(3);
        let p = status_patch(&f, false, "other", "T5").unwrap();
        assert_eq!(p["status"]["conditions"][0]["lastTransitionTime"], "T3");
        assert_eq!(p["status"]["conditions"][0]["lastUpdateTime"], "T5");
        assert_eq!(p["status"]["observedGeneration"], 3);
    }

    #[test]
    fn event_shape() {
        let ss = json!({"metadata": {"name": "s", "namespace": "n", "uid": "u1"}});
        let e = event_object(&ss, "Normal", REASON_UNSEALED, MESSAGE_UNSEALED, "T");
        assert!(e["metadata"]["name"].as_str().unwrap().starts_with("s."));
        assert_eq!(e["involvedObject"]["kind"], KIND);
        assert_eq!(e["involvedObject"]["uid"], "u1");
        assert_eq!(e["source"]["component"], COMPONENT);
        assert_eq!(e["reason"], REASON_UNSEALED);
    }
}
