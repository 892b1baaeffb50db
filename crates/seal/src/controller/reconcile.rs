//! The reconcile loop: every resync, list SealedSecrets in all namespaces and unseal each one
//! whose spec, generation or UID changed since its last successful unseal (or whose Secret is
//! gone) into its Secret, as upstream does: create when missing; leave alone a Secret that is
//! neither controlled by the SealedSecret nor annotated `managed`/`patch`; otherwise replace
//! (or, with `patch`, merge) data, labels, annotations and owner references. Every attempt
//! records an event and updates the `Synced` status condition.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::SystemTime;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use super::api::api_message;
use super::{SealControllerError, Shared, COMPONENT};
use crate::object::{SealedSecret, API_VERSION, KIND};
use crate::unseal::{unseal_object, UnsealOptions};

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

const IMMUTABLE_API_ERROR: &str = "field is immutable when `immutable` is set";
/// Attempts of a Secret update that loses an optimistic-concurrency race.
const CONFLICT_ATTEMPTS: usize = 3;

/// What the loop remembers of one SealedSecret.
#[derive(Debug, Clone)]
struct Tracked {
    /// Digest of UID, generation and spec.
    digest: [u8; 32],
    /// Whether the last attempt succeeded.
    synced: bool,
    /// Failed attempts since the digest or the key set last changed.
    failures: u32,
    /// Key set the last attempt used.
    keyset: [u8; 32],
}

/// Per-SealedSecret memory of the loop.
#[derive(Debug, Default)]
pub(crate) struct State {
    tracked: HashMap<(String, String), Tracked>,
}

/// The outcome of one attempt, shaped as upstream reports it.
#[derive(Debug)]
struct Failure {
    reason: &'static str,
    event_message: String,
    status_message: String,
    retry: bool,
    error: SealControllerError,
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn digest_of(obj: &Value) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(str_at(obj, "/metadata/uid").as_bytes());
    h.update([0]);
    h.update(
        obj.pointer("/metadata/generation")
            .map(Value::to_string)
            .unwrap_or_default()
            .as_bytes(),
    );
    h.update([0]);
    h.update(
        obj.get("spec")
            .map(Value::to_string)
            .unwrap_or_default()
            .as_bytes(),
    );
    h.finalize().into()
}

fn keyset_digest(fingerprints: &[&str]) -> [u8; 32] {
    let mut sorted = fingerprints.to_vec();
    sorted.sort_unstable();
    let mut h = Sha256::new();
    for fp in sorted {
        h.update(fp.as_bytes());
        h.update([0]);
    }
    h.finalize().into()
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
        if o.get("type").and_then(Value::as_str).unwrap_or("").is_empty() {
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

async fn record_event(shared: &Shared, sealed: &Value, type_: &str, reason: &str, message: &str) {
    let event = event_object(sealed, type_, reason, message, &now_rfc3339());
    if let Err(e) = shared
        .api
        .client
        .create(&shared.api.events, &event, false, COMPONENT)
        .await
    {
        let err = SealControllerError::RecordEvent {
            object: object_name(sealed),
            reason: reason.into(),
            error: api_message(&e),
        };
        tracing::warn!(error = %err, "event not recorded");
    }
}

fn object_name(obj: &Value) -> String {
    format!(
        "{}/{}",
        str_at(obj, "/metadata/namespace"),
        str_at(obj, "/metadata/name")
    )
}

fn update_failure(error: SealControllerError, message: String) -> Failure {
    Failure {
        reason: REASON_UPDATE_FAILED,
        event_message: message.clone(),
        status_message: message,
        retry: true,
        error,
    }
}

/// Creates or updates the Secret from the unsealed one.
async fn upsert_secret(shared: &Shared, unsealed: &Value, uid: &str) -> Result<(), Failure> {
    let api = &shared.api;
    let ns = str_at(unsealed, "/metadata/namespace");
    let name = str_at(unsealed, "/metadata/name");
    let target = format!("{ns}/{name}");
    let mut attempt = 0;
    loop {
        attempt += 1;
        let existing = api
            .client
            .get(&api.secrets, Some(ns), name)
            .await
            .map_err(|e| {
                let msg = api_message(&e);
                update_failure(
                    SealControllerError::GetSecret {
                        secret: target.clone(),
                        reason: msg.clone(),
                    },
                    msg,
                )
            })?;
        let Some(existing) = existing else {
            match api
                .client
                .create(&api.secrets, unsealed, false, COMPONENT)
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if e.is_conflict() && attempt < CONFLICT_ATTEMPTS => continue,
                Err(e) => {
                    let msg = api_message(&e);
                    return Err(update_failure(
                        SealControllerError::CreateSecret {
                            secret: target,
                            reason: msg.clone(),
                        },
                        msg,
                    ));
                }
            }
        };
        let updated = match updated_secret(&existing, unsealed, uid) {
            Ok(Some(u)) => u,
            Ok(None) => return Ok(()),
            Err(()) => {
                let msg =
                    format!("Resource {name:?} already exists and is not managed by SealedSecret");
                return Err(Failure {
                    reason: REASON_UPDATE_FAILED,
                    status_message: format!("failed update: {msg}"),
                    event_message: msg,
                    retry: true,
                    error: SealControllerError::Unmanaged { secret: target },
                });
            }
        };
        match api
            .client
            .replace(&api.secrets, &updated, false, COMPONENT)
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) if e.is_conflict() && attempt < CONFLICT_ATTEMPTS => continue,
            Err(e) => {
                let msg = api_message(&e);
                if msg.contains(IMMUTABLE_API_ERROR) {
                    let text = format!(
                        "Error updating {target}: the target Secret is immutable. Once a Secret is marked as immutable, it is not possible to revert this change nor to mutate the contents of the data field. You can only delete and recreate the Secret."
                    );
                    return Err(Failure {
                        reason: REASON_UPDATE_FAILED,
                        event_message: text.clone(),
                        status_message: text,
                        retry: false,
                        error: SealControllerError::Immutable { secret: target },
                    });
                }
                return Err(update_failure(
                    SealControllerError::UpdateSecret {
                        secret: target,
                        reason: msg.clone(),
                    },
                    msg,
                ));
            }
        }
    }
}

/// One attempt on one SealedSecret: unseal, write the Secret, record the event.
async fn attempt(shared: &Shared, sealed: &Value) -> Result<(), Failure> {
    let object = object_name(sealed);
    let unseal_failed = |e: crate::unseal::UnsealError| Failure {
        reason: REASON_UNSEAL_FAILED,
        event_message: format!("Failed to unseal: {e}"),
        status_message: e.to_string(),
        retry: true,
        error: SealControllerError::Unseal {
            object: object.clone(),
            source: e,
        },
    };
    let ss = SealedSecret::from_value(sealed).map_err(|e| unseal_failed(e.into()))?;
    let keys = shared.keys();
    let uid = ss.uid().to_string();
    let unsealed = tokio::task::spawn_blocking(move || {
        unseal_object(&ss, &keys, UnsealOptions::default())
    })
    .await
    .map_err(|_| Failure {
        reason: REASON_UNSEAL_FAILED,
        event_message: "Failed to unseal: internal error".into(),
        status_message: "internal error".into(),
        retry: true,
        error: SealControllerError::Task("unseal"),
    })?
    .map_err(unseal_failed)?;
    upsert_secret(shared, &unsealed, &uid).await
}

/// Runs one attempt and reports it (event, status); returns whether it succeeded and whether
/// a failure may be retried.
async fn process(shared: &Shared, sealed: &Value) -> (bool, bool) {
    let object = object_name(sealed);
    let result = attempt(shared, sealed).await;
    let (ok, retry, status_message) = match &result {
        Ok(()) => {
            tracing::info!(sealed_secret = %object, "unsealed");
            record_event(shared, sealed, "Normal", REASON_UNSEALED, MESSAGE_UNSEALED).await;
            (true, true, String::new())
        }
        Err(f) => {
            tracing::warn!(sealed_secret = %object, error = %f.error, "unseal attempt failed");
            record_event(shared, sealed, "Warning", f.reason, &f.event_message).await;
            (false, f.retry, f.status_message.clone())
        }
    };
    if shared.opts.update_status {
        if let Some(patch) = status_patch(sealed, ok, &status_message, &now_rfc3339()) {
            let ns = str_at(sealed, "/metadata/namespace");
            let name = str_at(sealed, "/metadata/name");
            if let Err(reason) = shared.api.patch_sealed_status(ns, name, &patch).await {
                let err = SealControllerError::WriteStatus {
                    object: object.clone(),
                    reason,
                };
                tracing::warn!(error = %err, "status not written");
                return (false, true);
            }
        }
    }
    (ok, retry)
}

/// `namespace/name` of every Secret, to notice deleted Secrets of synced SealedSecrets.
async fn existing_secrets(shared: &Shared) -> Result<HashSet<(String, String)>, SealControllerError> {
    let secrets = shared
        .api
        .client
        .list(&shared.api.secrets, None)
        .await
        .map_err(|source| SealControllerError::List {
            kind: "Secret".into(),
            source,
        })?;
    Ok(secrets
        .iter()
        .map(|s| {
            (
                str_at(s, "/metadata/namespace").to_string(),
                str_at(s, "/metadata/name").to_string(),
            )
        })
        .collect())
}

/// One pass over every SealedSecret.
pub(crate) async fn pass(shared: &Shared, state: &mut State) -> Result<(), SealControllerError> {
    let api = &shared.api;
    let list = api
        .client
        .list(&api.sealed, None)
        .await
        .map_err(|source| SealControllerError::List {
            kind: KIND.into(),
            source,
        })?;
    let keys = shared.keys();
    let fingerprints: Vec<&str> = keys.iter().map(|k| k.fingerprint()).collect();
    let keyset = keyset_digest(&fingerprints);
    let needs_secret_check = list.iter().any(|ss| {
        let id = (
            str_at(ss, "/metadata/namespace").to_string(),
            str_at(ss, "/metadata/name").to_string(),
        );
        state
            .tracked
            .get(&id)
            .is_some_and(|t| t.synced && t.digest == digest_of(ss))
    });
    let secrets = if needs_secret_check {
        Some(existing_secrets(shared).await?)
    } else {
        None
    };
    let mut seen = HashSet::new();
    for ss in &list {
        if ss.pointer("/metadata/deletionTimestamp").is_some() {
            continue;
        }
        let id = (
            str_at(ss, "/metadata/namespace").to_string(),
            str_at(ss, "/metadata/name").to_string(),
        );
        seen.insert(id.clone());
        let digest = digest_of(ss);
        let previous = state.tracked.get(&id).filter(|t| t.digest == digest);
        let failures = match previous {
            Some(t) if t.synced => {
                let present = secrets.as_ref().is_some_and(|s| s.contains(&id));
                if present {
                    continue;
                }
                0
            }
            Some(t) if t.keyset == keyset => {
                if t.failures >= shared.opts.max_unseal_retries {
                    continue;
                }
                t.failures
            }
            _ => 0,
        };
        let (ok, retry) = process(shared, ss).await;
        let failures = match (ok, retry) {
            (true, _) => 0,
            (false, true) => failures + 1,
            (false, false) => u32::MAX,
        };
        state.tracked.insert(
            id,
            Tracked {
                digest,
                synced: ok,
                failures,
                keyset,
            },
        );
    }
    state.tracked.retain(|id, _| seen.contains(id));
    Ok(())
}

/// Runs passes every resync (or when woken) until `shutdown` flips.
pub(crate) async fn reconcile_loop(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let mut state = State::default();
    loop {
        if *shutdown.borrow() {
            return;
        }
        if let Err(e) = pass(&shared, &mut state).await {
            tracing::warn!(error = %e, "reconcile pass failed");
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            () = tokio::time::sleep(shared.opts.resync) => {}
            () = shared.wake.notified() => {}
        }
    }
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
        let out = updated_secret(&existing, &unsealed(), "u1").unwrap().unwrap();
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
        let out = updated_secret(&existing, &unsealed(), "u1").unwrap().unwrap();
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
        assert_eq!((c["status"].clone(), c["message"].clone()), (json!("False"), json!("boom")));
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
