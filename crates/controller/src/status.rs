//! Pure builders for an Application's `status`: sync, health, resources, conditions,
//! summary, history and `operationState` transitions, following Argo CD's rules.

use std::collections::{BTreeSet, HashSet};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use crate::api::{
    AppHealthStatus, ApplicationCondition, ApplicationSource, ApplicationStatus,
    ApplicationSummary, ComparedTo, Operation, OperationInitiator, OperationState, ResourceStatus,
    RevisionHistory, SyncStatus,
};
use crate::api::{HealthStatusCode, OperationPhase, SyncStatusCode};

/// Application condition types.
pub mod condition {
    /// The spec is invalid.
    pub const INVALID_SPEC_ERROR: &str = "InvalidSpecError";
    /// Comparing desired and live state failed.
    pub const COMPARISON_ERROR: &str = "ComparisonError";
    /// A sync failed or auto-sync refused to run.
    pub const SYNC_ERROR: &str = "SyncError";
    /// Deleting the app's resources failed.
    pub const DELETION_ERROR: &str = "DeletionError";
    /// An unknown error.
    pub const UNKNOWN_ERROR: &str = "UnknownError";
    /// A resource is also managed by another app.
    pub const SHARED_RESOURCE_WARNING: &str = "SharedResourceWarning";
    /// A resource appears more than once in the manifests.
    pub const REPEATED_RESOURCE_WARNING: &str = "RepeatedResourceWarning";
    /// A resource is excluded by settings.
    pub const EXCLUDED_RESOURCE_WARNING: &str = "ExcludedResourceWarning";
    /// Orphaned resources exist in the destination namespace.
    pub const ORPHANED_RESOURCE_WARNING: &str = "OrphanedResourceWarning";
}

/// Formats a time as Kubernetes does (`2006-01-02T15:04:05Z`).
pub fn k8s_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Builds `status.sync`.
pub fn sync_status(
    code: SyncStatusCode,
    revisions: &[String],
    compared_to: ComparedTo,
    multi_source: bool,
) -> SyncStatus {
    let (revision, revs) = if multi_source {
        (None, Some(revisions.to_vec()))
    } else {
        (revisions.first().cloned().filter(|r| !r.is_empty()), None)
    };
    SyncStatus {
        status: Some(code),
        compared_to: Some(compared_to),
        revision,
        revisions: revs,
        ..Default::default()
    }
}

/// Builds `status.health`, keeping the previous `lastTransitionTime` when the status code
/// did not change.
pub fn health_status(
    code: HealthStatusCode,
    message: Option<&str>,
    previous: Option<&AppHealthStatus>,
    now: DateTime<Utc>,
) -> AppHealthStatus {
    let last = match previous {
        Some(p) if p.status.as_ref() == Some(&code) && p.last_transition_time.is_some() => {
            p.last_transition_time.clone()
        }
        _ => Some(k8s_time(now)),
    };
    AppHealthStatus {
        status: Some(code),
        message: message.filter(|m| !m.is_empty()).map(str::to_string),
        last_transition_time: last,
        ..Default::default()
    }
}

/// Sorts `status.resources` by group, kind, namespace, name (a stable, diff-friendly order).
pub fn resources(mut list: Vec<ResourceStatus>) -> Vec<ResourceStatus> {
    let key = |r: &ResourceStatus| {
        [&r.group, &r.kind, &r.namespace, &r.name].map(|f| f.clone().unwrap_or_default())
    };
    list.sort_by_key(key);
    list
}

/// How a condition names an object: `group/kind namespace/name` (`group/kind name` when
/// cluster-scoped; the group is empty for core kinds).
fn object_label(id: &fjord_sync::ObjectRef) -> String {
    if id.namespace.is_empty() {
        format!("{}/{} {}", id.group, id.kind, id.name)
    } else {
        format!("{}/{} {}/{}", id.group, id.kind, id.namespace, id.name)
    }
}

/// The conditions a plan's refusals raise: an `ExcludedResourceWarning` per object the
/// project does not permit (naming the object and the rule; a tracked live one is left in
/// place), and Argo CD's `SharedResourceWarning` per rendered object another application
/// owns (`<kind>/<name> is part of applications <app> and <other>`).
pub fn refusal_conditions(
    app: &str,
    denied: &[fjord_sync::Denied],
    shared: &[fjord_sync::SharedResource],
) -> Vec<ApplicationCondition> {
    let mut seen = HashSet::new();
    let mut out: Vec<ApplicationCondition> = denied
        .iter()
        .filter(|d| seen.insert(d.id.key()))
        .map(|d| {
            let what = object_label(&d.id);
            let message = if d.rendered {
                format!("{what}: {}", d.message)
            } else {
                format!("{what}: {}; it is left in place, not pruned", d.message)
            };
            condition(condition::EXCLUDED_RESOURCE_WARNING, message)
        })
        .collect();
    out.extend(shared.iter().map(|s| {
        condition(
            condition::SHARED_RESOURCE_WARNING,
            format!(
                "{}/{} is part of applications {app} and {}",
                s.id.kind, s.id.name, s.owner
            ),
        )
    }));
    out
}

/// `status.resources` entries for the rendered objects the project refused (hooks aside):
/// their sync status is `Unknown`, as Argo CD reports resources not permitted.
pub fn denied_resources(denied: &[fjord_sync::Denied]) -> Vec<ResourceStatus> {
    let mut seen = HashSet::new();
    denied
        .iter()
        .filter(|d| d.rendered && !d.hook && seen.insert(d.id.key()))
        .map(|d| ResourceStatus {
            group: Some(d.id.group.clone()),
            version: Some(d.id.version.clone()),
            kind: Some(d.id.kind.clone()),
            namespace: Some(d.id.namespace.clone()).filter(|n| !n.is_empty()),
            name: Some(d.id.name.clone()),
            status: Some(SyncStatusCode::Unknown),
            sync_wave: (d.wave != 0).then_some(d.wave),
            ..Default::default()
        })
        .collect()
}

/// Merges newly evaluated conditions into the existing ones (Argo's `SetConditions`):
/// existing conditions of types not in `evaluated` are kept; a new condition with the same
/// type and message as an existing one keeps its `lastTransitionTime`; the result is sorted
/// by type, message and time.
pub fn set_conditions(
    existing: &[ApplicationCondition],
    new: Vec<ApplicationCondition>,
    evaluated: &HashSet<&str>,
    now: DateTime<Utc>,
) -> Vec<ApplicationCondition> {
    let stamp = k8s_time(now);
    let mut out: Vec<ApplicationCondition> = existing
        .iter()
        .filter(|c| !evaluated.contains(c.kind.as_deref().unwrap_or("")))
        .cloned()
        .map(|mut c| {
            c.last_transition_time.get_or_insert_with(|| stamp.clone());
            c
        })
        .collect();
    for mut c in new {
        let prior = existing
            .iter()
            .find(|e| e.kind == c.kind && e.message == c.message);
        match prior {
            Some(p) if p.message == c.message => out.push(p.clone()),
            _ => {
                c.last_transition_time.get_or_insert_with(|| stamp.clone());
                out.push(c);
            }
        }
    }
    out.sort_by_key(|c| {
        [&c.kind, &c.message, &c.last_transition_time].map(|f| f.clone().unwrap_or_default())
    });
    out
}

/// A condition of the given type and message (timestamp filled by [`set_conditions`]).
pub fn condition(kind: &str, message: impl Into<String>) -> ApplicationCondition {
    ApplicationCondition {
        kind: Some(kind.to_string()),
        message: Some(message.into()),
        ..Default::default()
    }
}

/// Whether a condition type denotes an error (as opposed to a warning).
pub fn is_error_condition(kind: &str) -> bool {
    kind.ends_with("Error")
}

/// Container images of a Kubernetes object: containers, initContainers and
/// ephemeralContainers of a Pod spec, a pod template, or a CronJob's job template.
pub fn images_of(obj: &Value) -> Vec<String> {
    let specs = [
        "/spec",
        "/spec/template/spec",
        "/spec/jobTemplate/spec/template/spec",
    ];
    let mut out = Vec::new();
    for spec in specs.iter().filter_map(|p| obj.pointer(p)) {
        for field in ["containers", "initContainers", "ephemeralContainers"] {
            let containers = spec
                .get(field)
                .and_then(Value::as_array)
                .into_iter()
                .flatten();
            out.extend(containers.filter_map(|c| c.get("image")?.as_str().map(str::to_string)));
        }
    }
    out
}

/// Builds `status.summary`: images and external URLs, de-duplicated and sorted.
pub fn summary(
    images: impl IntoIterator<Item = String>,
    external_urls: impl IntoIterator<Item = String>,
) -> ApplicationSummary {
    let images: BTreeSet<String> = images.into_iter().filter(|i| !i.is_empty()).collect();
    let urls: BTreeSet<String> = external_urls
        .into_iter()
        .filter(|u| !u.is_empty())
        .collect();
    ApplicationSummary {
        images: (!images.is_empty()).then(|| images.into_iter().collect()),
        external_urls: (!urls.is_empty()).then(|| urls.into_iter().collect()),
        ..Default::default()
    }
}

/// Whether a finished operation is recorded in history: successful, not a dry run, not a
/// selective sync.
pub fn should_record_history(state: &OperationState) -> bool {
    let sync = state.operation.as_ref().and_then(|o| o.sync.as_ref());
    state.phase == Some(OperationPhase::Succeeded)
        && sync.is_some_and(|s| {
            s.dry_run != Some(true) && s.resources.as_ref().is_none_or(|r| r.is_empty())
        })
}

/// What a history entry records about a deployment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Deployment {
    /// Revision (single source).
    pub revision: Option<String>,
    /// Revisions (multi-source).
    pub revisions: Option<Vec<String>>,
    /// Source (single source).
    pub source: Option<ApplicationSource>,
    /// Sources (multi-source).
    pub sources: Option<Vec<ApplicationSource>>,
    /// Start of the deployment.
    pub started_at: DateTime<Utc>,
    /// End of the deployment.
    pub deployed_at: DateTime<Utc>,
    /// Initiator.
    pub initiated_by: Option<OperationInitiator>,
}

/// Appends a history entry with the next id (last id + 1, or 0) and keeps only the newest
/// `limit` entries.
pub fn append_history(
    history: &[RevisionHistory],
    d: Deployment,
    limit: usize,
) -> Vec<RevisionHistory> {
    let next_id = history.last().and_then(|h| h.id).map_or(0, |id| id + 1);
    let mut out = history.to_vec();
    out.push(RevisionHistory {
        id: Some(next_id),
        revision: d.revision,
        revisions: d.revisions,
        source: d.source,
        sources: d.sources,
        deployed_at: Some(k8s_time(d.deployed_at)),
        deploy_started_at: Some(k8s_time(d.started_at)),
        initiated_by: d.initiated_by,
        ..Default::default()
    });
    if out.len() > limit {
        out.drain(..out.len() - limit);
    }
    out
}

/// Starts an operation: phase `Running`, `startedAt` now.
pub fn start_operation(op: &Operation, now: DateTime<Utc>) -> OperationState {
    OperationState {
        operation: Some(op.clone()),
        phase: Some(OperationPhase::Running),
        started_at: Some(k8s_time(now)),
        ..Default::default()
    }
}

/// Moves an operation to `new_phase` with `message`; a final phase sets `finishedAt`.
pub fn transition(
    state: &OperationState,
    new_phase: OperationPhase,
    message: &str,
    now: DateTime<Utc>,
) -> OperationState {
    let mut s = state.clone();
    s.finished_at = new_phase.is_completed().then(|| k8s_time(now));
    s.phase = Some(new_phase);
    s.message = Some(message.to_string());
    s
}

/// The message of an operation ended by a termination request (`Failed`; never retried).
pub const OPERATION_TERMINATED: &str = "Operation terminated";

/// Requests termination of a running operation.
pub fn terminate(state: &OperationState) -> OperationState {
    let mut s = state.clone();
    if s.phase == Some(OperationPhase::Running) {
        s.phase = Some(OperationPhase::Terminating);
    }
    s
}

/// After a failed attempt: if the operation's retry strategy allows another attempt,
/// returns the state to retry (`Running`, `retryCount`+1, message naming the attempt and
/// time, `finishedAt` cleared) and when to run it; otherwise `None`.
pub fn retry_after_failure(
    state: &OperationState,
    now: DateTime<Utc>,
) -> Option<(OperationState, DateTime<Utc>)> {
    let p = state.phase.as_ref()?;
    if !matches!(p, OperationPhase::Failed | OperationPhase::Error)
        || state.message.as_deref() == Some(OPERATION_TERMINATED)
    {
        return None;
    }
    let retry = state.operation.as_ref()?.retry.as_ref()?;
    let count = state.retry_count.unwrap_or(0);
    if !retry.allows_retry(count) {
        return None;
    }
    let at = retry.next_retry_at(now, count).ok()?;
    let mut s = state.clone();
    s.phase = Some(OperationPhase::Running);
    s.finished_at = None;
    s.retry_count = Some(count + 1);
    s.message = Some(format!(
        "{}. Retrying attempt #{} at {}.",
        state.message.as_deref().unwrap_or(""),
        count + 1,
        at.format("%-I:%M%p")
    ));
    Some((s, at))
}

/// Applies a completed operation to the status: sets `operationState`, and appends history
/// when [`should_record_history`] holds.
pub fn complete_operation(
    status: &ApplicationStatus,
    state: OperationState,
    deployment: Deployment,
    history_limit: usize,
) -> ApplicationStatus {
    let mut s = status.clone();
    if should_record_history(&state) {
        let h = s.history.clone().unwrap_or_default();
        s.history = Some(append_history(&h, deployment, history_limit));
    }
    s.operation_state = Some(state);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn health_keeps_transition_time() {
        let t1 = t("2024-01-01T00:00:00Z");
        let t2 = t("2024-01-01T00:05:00Z");
        let h1 = health_status(HealthStatusCode::Progressing, Some("waiting"), None, t1);
        assert_eq!(
            h1.last_transition_time.as_deref(),
            Some("2024-01-01T00:00:00Z")
        );
        let h2 = health_status(HealthStatusCode::Progressing, None, Some(&h1), t2);
        assert_eq!(h2.last_transition_time, h1.last_transition_time);
        assert_eq!(h2.message, None);
        let h3 = health_status(HealthStatusCode::Healthy, None, Some(&h2), t2);
        assert_eq!(
            h3.last_transition_time.as_deref(),
            Some("2024-01-01T00:05:00Z")
        );
    }

    #[test]
    fn conditions_merge() {
        let t1 = t("2024-01-01T00:00:00Z");
        let t2 = t("2024-01-02T00:00:00Z");
        let evaluated: HashSet<&str> =
            [condition::COMPARISON_ERROR, condition::INVALID_SPEC_ERROR].into();
        let first = set_conditions(
            &[],
            vec![condition(condition::COMPARISON_ERROR, "boom")],
            &evaluated,
            t1,
        );
        let mut existing = first.clone();
        existing.push(ApplicationCondition {
            last_transition_time: Some("2023-01-01T00:00:00Z".into()),
            ..condition(condition::SYNC_ERROR, "old sync error")
        });
        let next = set_conditions(
            &existing,
            vec![
                condition(condition::COMPARISON_ERROR, "boom"),
                condition(condition::INVALID_SPEC_ERROR, "bad"),
            ],
            &evaluated,
            t2,
        );
        let kinds: Vec<_> = next.iter().map(|c| c.kind.clone().unwrap()).collect();
        assert_eq!(kinds, ["ComparisonError", "InvalidSpecError", "SyncError"]);
        assert_eq!(
            next[0].last_transition_time.as_deref(),
            Some("2024-01-01T00:00:00Z"),
            "unchanged keeps time"
        );
        assert_eq!(
            next[1].last_transition_time.as_deref(),
            Some("2024-01-02T00:00:00Z")
        );
        assert_eq!(
            next[2].message.as_deref(),
            Some("old sync error"),
            "unevaluated type kept"
        );
        let changed = set_conditions(
            &next,
            vec![condition(condition::COMPARISON_ERROR, "other")],
            &evaluated,
            t2,
        );
        assert_eq!(changed.len(), 2, "InvalidSpecError evaluated and gone");
        assert_eq!(
            changed[0].last_transition_time.as_deref(),
            Some("2024-01-02T00:00:00Z")
        );
        assert!(is_error_condition("SyncError") && !is_error_condition("SharedResourceWarning"));
    }

    #[test]
    fn images_and_summary() {
        let dep = json!({"kind": "Deployment", "spec": {"template": {"spec": {
            "initContainers": [{"image": "busybox"}], "containers": [{"image": "nginx:1"}, {"name": "x"}]}}}});
        let cron = json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"image": "job:2"}]}}}}}});
        let mut all = images_of(&dep);
        all.extend(images_of(&cron));
        all.push("nginx:1".into());
        assert_eq!(images_of(&dep), vec!["nginx:1", "busybox"]);
        let s = summary(all, Vec::<String>::new());
        assert_eq!(s.images.unwrap(), vec!["busybox", "job:2", "nginx:1"]);
        assert!(s.external_urls.is_none());
    }

    #[test]
    fn history_limit_and_ids() {
        let now = t("2024-01-01T00:00:00Z");
        let mut h = Vec::new();
        for i in 0..12 {
            h = append_history(
                &h,
                Deployment {
                    revision: Some(format!("r{i}")),
                    started_at: now,
                    deployed_at: now,
                    ..Default::default()
                },
                10,
            );
        }
        assert_eq!(h.len(), 10);
        assert_eq!(h[0].id, Some(2));
        assert_eq!(h[9].id, Some(11));
        assert_eq!(h[9].revision.as_deref(), Some("r11"));
        assert_eq!(h[9].deployed_at.as_deref(), Some("2024-01-01T00:00:00Z"));
    }

    #[test]
    fn operation_lifecycle() {
        let now = t("2024-01-01T15:04:00Z");
        let op: Operation = serde_json::from_value(json!({"sync": {"revision": "abc"},
            "retry": {"limit": 1, "backoff": {"duration": "10s"}}}))
        .unwrap();
        let running = start_operation(&op, now);
        assert_eq!(running.phase.as_deref(), Some("Running"));
        assert_eq!(running.started_at.as_deref(), Some("2024-01-01T15:04:00Z"));
        let failed = transition(
            &running,
            OperationPhase::Failed,
            "one or more objects failed to apply",
            now,
        );
        assert_eq!(failed.finished_at.as_deref(), Some("2024-01-01T15:04:00Z"));
        let (retry, at) = retry_after_failure(&failed, now).unwrap();
        assert_eq!((at - now).num_seconds(), 10);
        assert_eq!(retry.retry_count, Some(1));
        assert_eq!(retry.finished_at, None);
        assert_eq!(
            retry.message.as_deref(),
            Some("one or more objects failed to apply. Retrying attempt #1 at 3:04PM.")
        );
        let failed_again = transition(&retry, OperationPhase::Failed, "x", now);
        assert!(
            retry_after_failure(&failed_again, now).is_none(),
            "limit reached"
        );
        assert_eq!(terminate(&running).phase.as_deref(), Some("Terminating"));
        let terminated = transition(&running, OperationPhase::Failed, OPERATION_TERMINATED, now);
        assert!(
            retry_after_failure(&terminated, now).is_none(),
            "a terminated operation is not retried"
        );

        let ok = transition(
            &running,
            OperationPhase::Succeeded,
            "successfully synced (all tasks run)",
            now,
        );
        let status = complete_operation(
            &ApplicationStatus::default(),
            ok.clone(),
            Deployment {
                revision: Some("abc".into()),
                started_at: now,
                deployed_at: now,
                ..Default::default()
            },
            10,
        );
        assert_eq!(status.history.as_ref().map(Vec::len), Some(1));
        let mut dry = ok.clone();
        if let Some(s) = dry.operation.as_mut().and_then(|o| o.sync.as_mut()) {
            s.dry_run = Some(true);
        }
        assert!(!should_record_history(&dry));
        let mut selective = ok;
        if let Some(s) = selective.operation.as_mut().and_then(|o| o.sync.as_mut()) {
            s.resources = Some(vec![Default::default()]);
        }
        assert!(!should_record_history(&selective));
    }

    #[test]
    fn sync_and_resources() {
        let s = sync_status(
            SyncStatusCode::OutOfSync,
            &["abc".into()],
            ComparedTo::default(),
            false,
        );
        assert_eq!(s.revision.as_deref(), Some("abc"));
        assert!(s.revisions.is_none());
        let m = sync_status(
            SyncStatusCode::Synced,
            &["a".into(), "b".into()],
            ComparedTo::default(),
            true,
        );
        assert_eq!(m.revisions.unwrap().len(), 2);
        let r = |k: &str, n: &str| ResourceStatus {
            kind: Some(k.into()),
            name: Some(n.into()),
            ..Default::default()
        };
        let sorted = resources(vec![
            r("Service", "a"),
            r("Deployment", "b"),
            r("Deployment", "a"),
        ]);
        let names: Vec<_> = sorted
            .iter()
            .map(|x| format!("{}/{}", x.kind.clone().unwrap(), x.name.clone().unwrap()))
            .collect();
        assert_eq!(names, ["Deployment/a", "Deployment/b", "Service/a"]);
    }

    #[test]
    fn refusals_name_the_object_and_the_rule() {
        let id = |group: &str, kind: &str, ns: &str, name: &str| {
            fjord_sync::ObjectRef::new(group, "v1", kind, ns, name)
        };
        let crb = id(
            "rbac.authorization.k8s.io",
            "ClusterRoleBinding",
            "",
            "admin",
        );
        let rule =
            "resource rbac.authorization.k8s.io:ClusterRoleBinding is not permitted in project p";
        let denied = vec![
            fjord_sync::Denied::rendered(&crb, fjord_sync::SyncPhase::Sync, 0, false, rule.into()),
            // The same object in a second hook phase is named once.
            fjord_sync::Denied::rendered(&crb, fjord_sync::SyncPhase::Sync, 0, false, rule.into()),
            fjord_sync::Denied::live(
                &id("", "ConfigMap", "team-c", "c"),
                2,
                "namespace team-c is not permitted in project 'p'".into(),
            ),
        ];
        let shared = vec![fjord_sync::SharedResource {
            id: id("", "ConfigMap", "team-a", "s"),
            owner: "victim".into(),
        }];
        let conds = refusal_conditions("tenant", &denied, &shared);
        let texts: Vec<(&str, &str)> = conds
            .iter()
            .map(|c| (c.kind.as_deref().unwrap(), c.message.as_deref().unwrap()))
            .collect();
        assert_eq!(
            texts,
            [
                ("ExcludedResourceWarning", "rbac.authorization.k8s.io/ClusterRoleBinding admin: resource rbac.authorization.k8s.io:ClusterRoleBinding is not permitted in project p"),
                ("ExcludedResourceWarning", "/ConfigMap team-c/c: namespace team-c is not permitted in project 'p'; it is left in place, not pruned"),
                ("SharedResourceWarning", "ConfigMap/s is part of applications tenant and victim"),
            ]
        );
        // Only the rendered object is a resource, `Unknown`.
        let res = denied_resources(&denied);
        assert_eq!(res.len(), 1);
        assert_eq!(res[0].status.as_deref(), Some("Unknown"));
        assert_eq!(res[0].namespace, None);
        assert_eq!(res[0].kind.as_deref(), Some("ClusterRoleBinding"));
    }

    #[test]
    fn conditions_of_one_type_keep_their_own_times() {
        let old = vec![
            ApplicationCondition {
                last_transition_time: Some("2024-01-01T00:00:00Z".into()),
                ..condition("ExcludedResourceWarning", "a")
            },
            ApplicationCondition {
                last_transition_time: Some("2024-01-01T00:00:01Z".into()),
                ..condition("ExcludedResourceWarning", "b")
            },
        ];
        let evaluated: HashSet<&str> = ["ExcludedResourceWarning"].into_iter().collect();
        let new = vec![
            condition("ExcludedResourceWarning", "a"),
            condition("ExcludedResourceWarning", "b"),
        ];
        let merged = set_conditions(&old, new, &evaluated, t("2024-02-01T00:00:00Z"));
        assert_eq!(merged, old);
    }
}
