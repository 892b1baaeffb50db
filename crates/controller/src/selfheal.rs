//! Argo CD's auto-sync decision (`controller/appcontroller.go autoSync`,
//! `alreadyAttemptedSync`, `selfHealRemainingBackoff`) as a pure function.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::api::{
    Application, ApplicationSpec, Operation, OperationInitiator, OperationPhase, OperationState,
    ResourceStatus, RetryStrategy, SyncOperation, SyncOperationResource, SyncPolicyAutomated,
    SyncStatusCode,
};
use crate::status::condition;

/// Self-heal backoff (controller flags `--self-heal-backoff-timeout-seconds` 2,
/// `--self-heal-backoff-factor` 3, `--self-heal-backoff-cap-seconds` 300).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SelfHealBackoff {
    /// First delay.
    pub duration: Duration,
    /// Multiplier per attempt.
    pub factor: u32,
    /// Upper bound.
    pub cap: Duration,
}

impl Default for SelfHealBackoff {
    fn default() -> Self {
        SelfHealBackoff {
            duration: Duration::from_secs(2),
            factor: 3,
            cap: Duration::from_secs(300),
        }
    }
}

impl SelfHealBackoff {
    /// Delay before self-heal attempt number `attempts` (k8s `wait.Backoff` stepped
    /// `attempts` times): 0, 2 s, 6 s, 18 s, 54 s, 162 s, then the 300 s cap.
    pub fn delay(&self, attempts: u32) -> Duration {
        let mut current = self.duration;
        let mut delay = Duration::ZERO;
        for _ in 0..attempts {
            delay = current;
            if current >= self.cap {
                break;
            }
            current = current.saturating_mul(self.factor);
            if current > self.cap {
                current = self.cap;
            }
        }
        delay
    }
}

/// The result of the last comparison that auto-sync needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// Sync status code.
    pub sync_status: SyncStatusCode,
    /// Resolved desired revisions (one per source).
    pub revisions: Vec<String>,
    /// Per-resource status.
    pub resources: Vec<ResourceStatus>,
}

/// What auto-sync decided.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Do nothing; the reason is for logs.
    Skip(String),
    /// Do nothing and set a condition (`SyncError`) with this message.
    Condition {
        /// Condition type.
        kind: &'static str,
        /// Condition message.
        message: String,
    },
    /// Self-heal is due later: refresh the app again after this delay.
    RetryAfter(Duration),
    /// Start this sync operation.
    Sync(Box<Operation>),
}

fn fmt_revisions(revs: &[String]) -> String {
    format!("[{}]", revs.join(" "))
}

/// Whether the last operation already synced to `revisions` with the current source(s);
/// returns its phase when it did (an empty `Other` when none is recorded).
fn already_attempted(app: &Application, revisions: &[String]) -> Option<OperationPhase> {
    let state = app.status.as_ref()?.operation_state.as_ref()?;
    let result = state.sync_result.as_ref()?;
    let spec = app.spec();
    let multi = spec.sources.as_ref().is_some_and(|s| !s.is_empty());
    if multi {
        if result.revisions.as_deref().unwrap_or(&[]) != revisions || result.sources != spec.sources
        {
            return None;
        }
    } else if result.revision.as_deref() != revisions.first().map(String::as_str)
        || result.source != spec.source
    {
        return None;
    }
    Some(
        state
            .phase
            .clone()
            .unwrap_or_else(|| OperationPhase::Other(String::new())),
    )
}

/// Decides whether to auto-sync `app` given the latest `comparison`, at time `now`.
pub fn should_auto_sync(
    app: &Application,
    comparison: &Comparison,
    backoff: &SelfHealBackoff,
    now: DateTime<Utc>,
) -> Decision {
    let spec = app.spec();
    let Some(automated) = spec.automated().filter(|_| spec.auto_sync_enabled()) else {
        return Decision::Skip("automated sync is disabled".into());
    };
    if let Some(reason) = skip_reason(app, comparison, automated) {
        return Decision::Skip(reason);
    }
    let prune = automated.prune == Some(true);
    let self_heal = automated.self_heal == Some(true);
    let desired = fmt_revisions(&comparison.revisions);
    let state = app.status.as_ref().and_then(|s| s.operation_state.as_ref());
    let mut op = auto_sync_operation(&spec, comparison, prune);
    let attempted = already_attempted(app, &comparison.revisions);
    if let Some(attempt_phase) = &attempted {
        let succeeded = *attempt_phase == OperationPhase::Succeeded;
        if !self_heal || !succeeded {
            return repeated_attempt(attempt_phase, state, &desired);
        }
    }
    if self_heal {
        if let Some(wait) = self_heal_step(
            &mut op,
            state,
            attempted.is_some(),
            comparison,
            backoff,
            now,
        ) {
            return Decision::RetryAfter(wait);
        }
    }
    if prune && automated.allow_empty != Some(true) && comparison.resources.iter().all(prunes) {
        return Decision::Condition {
            kind: condition::SYNC_ERROR,
            message: format!(
                "Skipping sync attempt to {desired}: auto-sync will wipe out all resources"
            ),
        };
    }
    Decision::Sync(Box::new(op))
}

/// Whether `r` is in sync.
fn synced(r: &ResourceStatus) -> bool {
    r.status == Some(SyncStatusCode::Synced)
}

/// Whether `r` is only live (it would be pruned).
fn prunes(r: &ResourceStatus) -> bool {
    r.requires_pruning == Some(true)
}

/// Why an app with automated sync on is not synced now, if it is not: an operation runs, it is
/// being deleted, it is not out of sync, or only pruning is needed and prune is off.
fn skip_reason(
    app: &Application,
    comparison: &Comparison,
    automated: &SyncPolicyAutomated,
) -> Option<String> {
    if app.operation.is_some() {
        return Some("another operation is already in progress".into());
    }
    if app
        .metadata
        .as_ref()
        .is_some_and(|m| m.deletion_timestamp.is_some())
    {
        return Some("deletion in progress".into());
    }
    if comparison.sync_status != SyncStatusCode::OutOfSync {
        return Some(format!("application status is {}", comparison.sync_status));
    }
    let prune = automated.prune == Some(true);
    if !prune && comparison.resources.iter().all(|r| synced(r) || prunes(r)) {
        return Some("need to prune extra resources only but automated prune is disabled".into());
    }
    None
}

/// The sync operation auto-sync starts: the compared revision(s) and source(s), the app's
/// sync options and retry strategy (default: 5 retries).
fn auto_sync_operation(spec: &ApplicationSpec, comparison: &Comparison, prune: bool) -> Operation {
    let multi = spec.sources.as_ref().is_some_and(|s| !s.is_empty());
    Operation {
        sync: Some(SyncOperation {
            revision: (!multi).then(|| comparison.revisions.first().cloned().unwrap_or_default()),
            revisions: multi.then(|| comparison.revisions.clone()),
            prune: Some(prune),
            sync_options: spec
                .sync_policy
                .as_ref()
                .and_then(|p| p.sync_options.clone()),
            source: if multi { None } else { spec.source.clone() },
            sources: if multi { spec.sources.clone() } else { None },
            ..Default::default()
        }),
        initiated_by: Some(OperationInitiator {
            automated: Some(true),
            ..Default::default()
        }),
        retry: Some(
            spec.sync_policy
                .as_ref()
                .and_then(|p| p.retry.clone())
                .unwrap_or(RetryStrategy {
                    limit: Some(5),
                    ..Default::default()
                }),
        ),
        ..Default::default()
    }
}

/// The decision when the last operation already synced to the desired revision (and self-heal
/// does not apply): wait while it runs, report its failure, or skip after its success.
fn repeated_attempt(
    attempt_phase: &OperationPhase,
    state: Option<&OperationState>,
    desired: &str,
) -> Decision {
    if *attempt_phase == OperationPhase::Succeeded {
        return Decision::Skip(format!("most recent sync already to {desired}"));
    }
    if !attempt_phase.is_completed() {
        return Decision::Skip(format!(
            "most recent sync to {desired} is still {attempt_phase}"
        ));
    }
    let msg = state.and_then(|s| s.message.clone()).unwrap_or_default();
    Decision::Condition {
        kind: condition::SYNC_ERROR,
        message: format!("Failed last sync attempt to {desired}: {msg}"),
    }
}

/// Self-heal: counts the attempt in `op` and narrows it to the resources out of sync; returns
/// how long to wait first when the backoff since the last attempt has not elapsed.
fn self_heal_step(
    op: &mut Operation,
    state: Option<&OperationState>,
    attempted: bool,
    comparison: &Comparison,
    backoff: &SelfHealBackoff,
    now: DateTime<Utc>,
) -> Option<Duration> {
    let prior = state
        .and_then(|s| s.operation.as_ref())
        .and_then(|o| o.sync.as_ref())
        .and_then(|s| s.auto_heal_attempts_count)
        .unwrap_or(0);
    let sync = op.sync.get_or_insert_with(Default::default);
    if !attempted {
        sync.auto_heal_attempts_count = Some(0);
        return None;
    }
    let finished = state
        .and_then(|s| s.finished_at.as_deref())
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.to_utc());
    let delay = backoff.delay(u32::try_from(prior.max(0)).unwrap_or(u32::MAX));
    let elapsed = finished.map_or(Duration::ZERO, |f| {
        (now - f).to_std().unwrap_or(Duration::ZERO)
    });
    if delay > elapsed {
        return Some(delay - elapsed);
    }
    sync.auto_heal_attempts_count = Some(prior + 1);
    sync.resources = Some(
        comparison
            .resources
            .iter()
            .filter(|r| !synced(r))
            .map(|r| SyncOperationResource {
                group: r.group.clone(),
                kind: r.kind.clone(),
                name: r.name.clone(),
                namespace: r.namespace.clone(),
                ..Default::default()
            })
            .collect(),
    );
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-01-01T00:01:00Z")
            .unwrap()
            .to_utc()
    }

    fn app(automated: Value, op_state: Option<Value>) -> Application {
        let mut v = json!({
            "metadata": {"name": "a", "namespace": "argocd"},
            "spec": {"source": {"repoURL": "https://g/r", "path": "p"},
                "destination": {"server": "https://k", "namespace": "n"},
                "syncPolicy": {"automated": automated}}
        });
        if let Some(s) = op_state {
            v["status"] = json!({"operationState": s});
        }
        serde_json::from_value(v).unwrap()
    }

    fn res(status: &str, prune: bool) -> ResourceStatus {
        ResourceStatus {
            kind: Some("ConfigMap".into()),
            name: Some(format!("cm-{status}")),
            status: Some(status.into()),
            requires_pruning: prune.then_some(true),
            ..Default::default()
        }
    }

    fn out_of_sync(resources: Vec<ResourceStatus>) -> Comparison {
        Comparison {
            sync_status: "OutOfSync".into(),
            revisions: vec!["abc".into()],
            resources,
        }
    }

    fn last_attempt(phase: &str, heal_count: i64) -> Value {
        json!({"phase": phase, "message": "one or more objects failed to apply",
            "finishedAt": "2024-01-01T00:00:58Z",
            "operation": {"sync": {"revision": "abc", "autoHealAttemptsCount": heal_count}},
            "syncResult": {"revision": "abc", "source": {"repoURL": "https://g/r", "path": "p"}}})
    }

    #[test]
    fn backoff_steps() {
        let b = SelfHealBackoff::default();
        let secs: Vec<u64> = (0..8).map(|n| b.delay(n).as_secs()).collect();
        assert_eq!(secs, [0, 2, 6, 18, 54, 162, 300, 300]);
    }

    #[test]
    fn syncs_out_of_sync_app() {
        let a = app(json!({"prune": true}), None);
        let d = should_auto_sync(
            &a,
            &out_of_sync(vec![res("OutOfSync", false)]),
            &SelfHealBackoff::default(),
            now(),
        );
        let Decision::Sync(op) = d else {
            panic!("expected sync, got {d:?}")
        };
        let sync = op.sync.as_ref().unwrap();
        assert_eq!(sync.revision.as_deref(), Some("abc"));
        assert_eq!(sync.prune, Some(true));
        assert_eq!(
            op.retry.as_ref().unwrap().limit,
            Some(5),
            "default auto-sync retry limit"
        );
        assert_eq!(op.initiated_by.as_ref().unwrap().automated, Some(true));
    }

    #[test]
    fn skips() {
        let b = SelfHealBackoff::default();
        let synced = Comparison {
            sync_status: "Synced".into(),
            ..out_of_sync(vec![])
        };
        assert!(matches!(
            should_auto_sync(&app(json!({}), None), &synced, &b, now()),
            Decision::Skip(_)
        ));
        let disabled = app(json!({"enabled": false}), None);
        assert!(matches!(
            should_auto_sync(
                &disabled,
                &out_of_sync(vec![res("OutOfSync", false)]),
                &b,
                now()
            ),
            Decision::Skip(_)
        ));
        let prune_only = out_of_sync(vec![res("Synced", false), res("OutOfSync", true)]);
        let d = should_auto_sync(&app(json!({}), None), &prune_only, &b, now());
        assert_eq!(
            d,
            Decision::Skip(
                "need to prune extra resources only but automated prune is disabled".into()
            )
        );
    }

    #[test]
    fn failed_revision_not_retried() {
        let a = app(json!({"selfHeal": true}), Some(last_attempt("Failed", 0)));
        let d = should_auto_sync(
            &a,
            &out_of_sync(vec![res("OutOfSync", false)]),
            &SelfHealBackoff::default(),
            now(),
        );
        assert_eq!(
            d,
            Decision::Condition {
                kind: "SyncError",
                message: "Failed last sync attempt to [abc]: one or more objects failed to apply"
                    .into(),
            }
        );
        let newer = Comparison {
            revisions: vec!["def".into()],
            ..out_of_sync(vec![res("OutOfSync", false)])
        };
        assert!(matches!(
            should_auto_sync(&a, &newer, &SelfHealBackoff::default(), now()),
            Decision::Sync(_)
        ));
    }

    #[test]
    fn self_heal_with_backoff() {
        let b = SelfHealBackoff::default();
        let cmp = out_of_sync(vec![res("OutOfSync", false), res("Synced", false)]);
        let no_heal = app(json!({}), Some(last_attempt("Succeeded", 0)));
        assert!(matches!(
            should_auto_sync(&no_heal, &cmp, &b, now()),
            Decision::Skip(_)
        ));
        // Attempt #0 has no delay: heal now, only the out-of-sync resource.
        let a = app(
            json!({"selfHeal": true}),
            Some(last_attempt("Succeeded", 0)),
        );
        let Decision::Sync(op) = should_auto_sync(&a, &cmp, &b, now()) else {
            panic!()
        };
        let sync = op.sync.unwrap();
        assert_eq!(sync.auto_heal_attempts_count, Some(1));
        assert_eq!(sync.resources.unwrap().len(), 1);
        // Two prior heals: 6 s backoff, 2 s elapsed since finishedAt ⇒ retry in 4 s.
        let a2 = app(
            json!({"selfHeal": true}),
            Some(last_attempt("Succeeded", 2)),
        );
        assert_eq!(
            should_auto_sync(&a2, &cmp, &b, now()),
            Decision::RetryAfter(Duration::from_secs(4))
        );
    }

    #[test]
    fn refuses_to_wipe_everything() {
        let a = app(json!({"prune": true}), None);
        let d = should_auto_sync(
            &a,
            &out_of_sync(vec![res("OutOfSync", true)]),
            &SelfHealBackoff::default(),
            now(),
        );
        assert_eq!(
            d,
            Decision::Condition {
                kind: "SyncError",
                message: "Skipping sync attempt to [abc]: auto-sync will wipe out all resources"
                    .into(),
            }
        );
        let allow = app(json!({"prune": true, "allowEmpty": true}), None);
        let d = should_auto_sync(
            &allow,
            &out_of_sync(vec![res("OutOfSync", true)]),
            &SelfHealBackoff::default(),
            now(),
        );
        assert!(matches!(d, Decision::Sync(_)));
    }
}
