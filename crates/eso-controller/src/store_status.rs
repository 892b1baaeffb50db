//! The status of SecretStores and ClusterSecretStores, as ESO writes it: condition `Ready`
//! True `Valid` "store validated" (a Normal event `Valid` on the transition) or False
//! `InvalidProviderConfig` with the error (a Warning event), and `capabilities: ReadWrite` once
//! the provider parses. A ClusterSecretStore whose auth refers to the ExternalSecret's namespace
//! cannot be checked alone: Ready True `ValidationUnknown`, as ESO's Vault provider reports it.
//!
//! Validation is: parse, log in, `lookup-self`. Its outcome is remembered per store and
//! re-checked when the store changes (UID, generation), after one resync period, or sooner
//! after a failure; the status is compared with the live object every pass and written only
//! when it differs.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fjord_eso::spec::parse_store;
use fjord_eso::target::{ready_condition, STORE_INVALID, STORE_VALID};
use serde_json::{json, Value};

use crate::api::{now_rfc3339, str_at, ApiError};
use crate::credentials::is_referent;
use crate::stores::{kind_name, kind_of, StoreError};
use crate::Shared;

/// Message of a validated store.
const MESSAGE_VALID: &str = "store validated";
/// Reason and message of a ClusterSecretStore with referent auth.
const REASON_UNKNOWN: &str = "ValidationUnknown";
const MESSAGE_UNKNOWN: &str = "could not determine validation status";
/// What Vault stores can do (ESO: Vault reports ReadWrite).
const CAPABILITIES: &str = "ReadWrite";
/// A failed validation is tried again after at most this long.
const FAILURE_RETRY: Duration = Duration::from_secs(10);

/// The result of validating one store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// Ready status.
    pub(crate) ready: bool,
    /// Condition reason.
    pub(crate) reason: &'static str,
    /// Condition message (names fields and stores, never values).
    pub(crate) message: String,
    /// Whether the provider parsed (capabilities are reported).
    pub(crate) parsed: bool,
}

impl Outcome {
    fn failed(err: &StoreError) -> Outcome {
        Outcome {
            ready: false,
            reason: STORE_INVALID,
            message: format!("unable to validate store: {}", fjord_model::chain(err)),
            parsed: !matches!(err, StoreError::Invalid { .. }),
        }
    }
}

/// What the loop remembers of one store.
#[derive(Debug, Clone)]
struct Checked {
    identity: (String, String),
    at: Instant,
    outcome: Outcome,
}

/// Validation results per store (`Kind/namespace/name`).
#[derive(Debug, Default)]
pub(crate) struct State {
    checked: Mutex<HashMap<String, Checked>>,
}

fn store_id(obj: &Value) -> String {
    format!(
        "{}/{}/{}",
        str_at(obj, "/kind"),
        str_at(obj, "/metadata/namespace"),
        str_at(obj, "/metadata/name")
    )
}

fn identity(obj: &Value) -> (String, String) {
    (
        str_at(obj, "/metadata/uid").to_string(),
        obj.pointer("/metadata/generation")
            .map(Value::to_string)
            .unwrap_or_default(),
    )
}

impl State {
    /// The remembered outcome, when still fresh for this store version.
    fn fresh(&self, obj: &Value, resync: Duration) -> Option<Outcome> {
        let checked = self.checked.lock().ok()?;
        let c = checked.get(&store_id(obj))?;
        let max_age = if c.outcome.ready {
            resync
        } else {
            resync.min(FAILURE_RETRY)
        };
        (c.identity == identity(obj) && c.at.elapsed() < max_age).then(|| c.outcome.clone())
    }

    fn remember(&self, obj: &Value, outcome: &Outcome) {
        if let Ok(mut checked) = self.checked.lock() {
            checked.insert(
                store_id(obj),
                Checked {
                    identity: identity(obj),
                    at: Instant::now(),
                    outcome: outcome.clone(),
                },
            );
        }
    }

    fn retain(&self, live: &[&Value]) {
        let ids: std::collections::HashSet<String> = live.iter().map(|o| store_id(o)).collect();
        if let Ok(mut checked) = self.checked.lock() {
            checked.retain(|k, _| ids.contains(k));
        }
    }
}

/// Validates one store: parse, log in, `lookup-self`.
async fn validate(shared: &Shared, obj: &Value) -> Outcome {
    let kind = kind_name(kind_of(obj));
    let spec = match parse_store(obj) {
        Ok(s) => s,
        Err(source) => {
            return Outcome::failed(&StoreError::Invalid {
                kind,
                name: str_at(obj, "/metadata/name").to_string(),
                source,
            })
        }
    };
    if is_referent(&spec) {
        return Outcome {
            ready: true,
            reason: REASON_UNKNOWN,
            message: MESSAGE_UNKNOWN.into(),
            parsed: true,
        };
    }
    let checked = async {
        let session = shared.stores.session_for(&shared.api, obj, None).await?;
        session.lookup_self().await
    };
    match checked.await {
        Ok(()) => Outcome {
            ready: true,
            reason: STORE_VALID,
            message: MESSAGE_VALID.into(),
            parsed: true,
        },
        Err(e) => Outcome::failed(&e),
    }
}

/// The live `Ready` condition of an object.
fn ready_of(obj: &Value) -> Option<&Value> {
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
}

/// The status merge patch that makes `obj`'s status say `outcome`, `None` when it already does.
/// `lastTransitionTime` moves only when the Ready status flips.
pub(crate) fn status_patch(obj: &Value, outcome: &Outcome, now: &str) -> Option<Value> {
    let live = ready_of(obj);
    let wanted = if outcome.ready { "True" } else { "False" };
    let caps = outcome.parsed.then_some(CAPABILITIES);
    let same = live.is_some_and(|c| {
        c["status"] == wanted && c["reason"] == outcome.reason && c["message"] == *outcome.message
    }) && obj.pointer("/status/capabilities").and_then(Value::as_str) == caps;
    if same {
        return None;
    }
    let mut condition = ready_condition(outcome.ready, outcome.reason, &outcome.message, now);
    if let Some(t) = live
        .filter(|c| c["status"] == wanted)
        .and_then(|c| c.get("lastTransitionTime"))
    {
        condition["lastTransitionTime"] = t.clone();
    }
    let mut conditions: Vec<Value> = obj
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter(|c| c["type"] != "Ready")
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    conditions.insert(0, condition);
    Some(json!({"status": {"conditions": conditions, "capabilities": caps}}))
}

/// The event to record when `obj`'s status changes to `outcome`: Normal `Valid` on a transition
/// to valid, Warning `InvalidProviderConfig` with the error on a new failure.
pub(crate) fn event_for(obj: &Value, outcome: &Outcome) -> Option<(bool, &'static str, String)> {
    let live = ready_of(obj);
    if outcome.ready {
        let was_valid =
            live.is_some_and(|c| c["status"] == "True" && c["reason"] == outcome.reason);
        (!was_valid && outcome.reason == STORE_VALID)
            .then(|| (false, STORE_VALID, MESSAGE_VALID.to_string()))
    } else {
        let same = live.is_some_and(|c| c["status"] == "False" && c["message"] == *outcome.message);
        (!same).then(|| (true, STORE_INVALID, outcome.message.clone()))
    }
}

/// Lists the stores and namespaces, hands them to the session cache as this pass's snapshot,
/// and validates every store, writing its status when it changed.
pub(crate) async fn reconcile_stores(shared: &Shared) {
    let api = &shared.api;
    let listed: Result<_, ApiError> = async {
        Ok((
            api.list(&api.secret_stores).await?,
            api.list(&api.cluster_secret_stores).await?,
            api.list(&api.namespaces).await?,
        ))
    }
    .await;
    let (stores, cluster_stores, namespaces) = match listed {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "listing stores failed");
            return;
        }
    };
    shared
        .stores
        .set_snapshot(&stores, &cluster_stores, &namespaces);
    let all: Vec<&Value> = stores.iter().chain(cluster_stores.iter()).collect();
    shared.store_state.retain(&all);
    shared.stores.prune(&all);
    for obj in all {
        if obj.pointer("/metadata/deletionTimestamp").is_some() {
            continue;
        }
        let outcome = match shared.store_state.fresh(obj, shared.opts.resync) {
            Some(o) => o,
            None => {
                let o = validate(shared, obj).await;
                shared.store_state.remember(obj, &o);
                o
            }
        };
        write_status(shared, obj, &outcome).await;
    }
}

async fn write_status(shared: &Shared, obj: &Value, outcome: &Outcome) {
    let Some(patch) = status_patch(obj, outcome, &now_rfc3339()) else {
        return;
    };
    let api = &shared.api;
    let t = match kind_of(obj) {
        fjord_eso::spec::StoreKind::SecretStore => &api.secret_stores,
        fjord_eso::spec::StoreKind::ClusterSecretStore => &api.cluster_secret_stores,
    };
    let ns = obj.pointer("/metadata/namespace").and_then(Value::as_str);
    let name = str_at(obj, "/metadata/name");
    if let Err(e) = api.patch_status(t, ns, name, &patch).await {
        tracing::warn!(error = %e, "store status not written");
        return;
    }
    if let Some((warning, reason, message)) = event_for(obj, outcome) {
        tracing::info!(store = %store_id(obj), reason, ready = outcome.ready, "store status");
        api.event(obj, warning, reason, &message).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> Outcome {
        Outcome {
            ready: true,
            reason: STORE_VALID,
            message: MESSAGE_VALID.into(),
            parsed: true,
        }
    }

    fn invalid(msg: &str) -> Outcome {
        Outcome {
            ready: false,
            reason: STORE_INVALID,
            message: msg.into(),
            parsed: true,
        }
    }

    fn store() -> Value {
        json!({"apiVersion": "external-secrets.io/v1", "kind": "SecretStore",
               "metadata": {"name": "s", "namespace": "app", "uid": "u", "generation": 1}})
    }

    #[test]
    fn status_is_written_once_and_transition_time_kept_while_status_holds() {
        let obj = store();
        let p = status_patch(&obj, &valid(), "T1").unwrap();
        let c = &p["status"]["conditions"][0];
        assert_eq!(
            (
                c["type"].clone(),
                c["status"].clone(),
                c["reason"].clone(),
                c["message"].clone()
            ),
            (
                json!("Ready"),
                json!("True"),
                json!("Valid"),
                json!("store validated")
            )
        );
        assert_eq!(p["status"]["capabilities"], "ReadWrite");
        let mut live = obj.clone();
        live["status"] = p["status"].clone();
        assert_eq!(status_patch(&live, &valid(), "T2"), None);
        let failed = status_patch(&live, &invalid("boom"), "T3").unwrap();
        assert_eq!(
            failed["status"]["conditions"][0]["lastTransitionTime"],
            "T3"
        );
        let mut live2 = live.clone();
        live2["status"] = failed["status"].clone();
        let other = status_patch(&live2, &invalid("other"), "T4").unwrap();
        assert_eq!(other["status"]["conditions"][0]["lastTransitionTime"], "T3");
        assert_eq!(other["status"]["conditions"][0]["message"], "other");
    }

    #[test]
    fn unparsed_stores_report_no_capabilities() {
        let mut o = invalid("unable to validate store: spec.provider: provider aws");
        o.parsed = false;
        let p = status_patch(&store(), &o, "T").unwrap();
        assert!(p["status"]["capabilities"].is_null());
        assert_eq!(
            p["status"]["conditions"][0]["reason"],
            "InvalidProviderConfig"
        );
    }

    #[test]
    fn events_on_transitions_only() {
        let obj = store();
        assert_eq!(
            event_for(&obj, &valid()),
            Some((false, "Valid", "store validated".to_string()))
        );
        let mut live = obj.clone();
        live["status"] = status_patch(&obj, &valid(), "T").unwrap()["status"].clone();
        assert_eq!(event_for(&live, &valid()), None);
        let bad = invalid("unable to validate store: permission denied");
        assert_eq!(
            event_for(&live, &bad),
            Some((true, "InvalidProviderConfig", bad.message.clone()))
        );
        live["status"] = status_patch(&live, &bad, "T").unwrap()["status"].clone();
        assert_eq!(event_for(&live, &bad), None);
    }

    #[test]
    fn validation_results_are_reused_until_the_store_changes_or_ages() {
        let state = State::default();
        let obj = store();
        state.remember(&obj, &valid());
        assert_eq!(state.fresh(&obj, Duration::from_secs(60)), Some(valid()));
        assert_eq!(state.fresh(&obj, Duration::ZERO), None);
        let mut changed = obj.clone();
        changed["metadata"]["generation"] = json!(2);
        assert_eq!(state.fresh(&changed, Duration::from_secs(60)), None);
        state.retain(&[]);
        assert_eq!(state.fresh(&obj, Duration::from_secs(60)), None);
    }
}
