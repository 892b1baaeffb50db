//! The reconcile loop: every resync, list SealedSecrets in all namespaces and unseal each one
//! whose spec, generation or UID changed since its last successful unseal (or whose Secret is
//! gone) into its Secret, as upstream does: create when missing; leave alone a Secret that is
//! neither controlled by the SealedSecret nor annotated `managed`/`patch`; otherwise replace
//! (or, with `patch`, merge) data, labels, annotations and owner references. Every attempt
//! records an event and updates the `Synced` status condition.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::api::api_message;
use crate::objects::{
    event_object, status_patch, str_at, updated_secret, MESSAGE_UNSEALED, REASON_UNSEALED,
    REASON_UNSEAL_FAILED, REASON_UPDATE_FAILED,
};
use crate::{SealControllerError, Shared, COMPONENT};
use fjord_seal::object::{SealedSecret, KIND};
use fjord_seal::unseal::{unseal_object, UnsealOptions};

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
        tracing::warn!(error = %fjord_model::chain(&err), "event not recorded");
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
    let unseal_failed = |e: fjord_seal::unseal::UnsealError| Failure {
        reason: REASON_UNSEAL_FAILED,
        event_message: format!("Failed to unseal: {}", fjord_model::chain(&e)),
        status_message: fjord_model::chain(&e),
        retry: true,
        error: SealControllerError::Unseal {
            object: object.clone(),
            source: e,
        },
    };
    let ss = SealedSecret::from_value(sealed).map_err(|e| unseal_failed(e.into()))?;
    let keys = shared.keys();
    let uid = ss.uid().to_string();
    let unsealed =
        tokio::task::spawn_blocking(move || unseal_object(&ss, &keys, UnsealOptions::default()))
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
            tracing::warn!(sealed_secret = %object, error = %fjord_model::chain(&f.error), "unseal attempt failed");
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
                tracing::warn!(error = %fjord_model::chain(&err), "status not written");
                return (false, true);
            }
        }
    }
    (ok, retry)
}

/// `namespace/name` of every Secret, to notice deleted Secrets of synced SealedSecrets.
async fn existing_secrets(
    shared: &Shared,
) -> Result<HashSet<(String, String)>, SealControllerError> {
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
    let list =
        api.client
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
            tracing::warn!(error = %fjord_model::chain(&e), "reconcile pass failed");
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            () = tokio::time::sleep(shared.opts.resync) => {}
            () = shared.wake.notified() => {}
        }
    }
}
