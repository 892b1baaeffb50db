//! What the status says and when it changes: whether an ExternalSecret is due for a refresh
//! (§2), the `Ready` condition of a sync, the status merge patch written only when it
//! changes (§3), and the finalizer list.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::str_at;
use crate::write::{self, Written};
use fjord_eso::spec::{CreationPolicy, RefreshPolicy};
use fjord_eso::target::{
    ready_condition, FINALIZER, REASON_DELETED, REASON_MISSING, REASON_SYNCED,
};

/// What the live target Secret says about the need to refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TargetState {
    /// Present and as last written (or not checked under the policy).
    Intact,
    /// Missing, unlabelled or edited since the last sync.
    Invalid,
}

/// ESO's `isSecretValid`: Orphan and None never ask for a refresh; a missing Secret under
/// Merge waits for the interval; otherwise missing, unlabelled or edited is invalid.
pub(super) fn target_state(policy: CreationPolicy, live: Option<&Value>) -> TargetState {
    match (policy, live) {
        (CreationPolicy::Orphan | CreationPolicy::None, _) | (CreationPolicy::Merge, None) => {
            TargetState::Intact
        }
        (_, None) => TargetState::Invalid,
        (_, Some(s)) if write::secret_intact(s) => TargetState::Intact,
        _ => TargetState::Invalid,
    }
}

/// ESO's `shouldRefresh` plus the target check (§2).
pub(super) fn refresh_due(
    status: &Value,
    interval: Duration,
    policy: RefreshPolicy,
    current_version: &str,
    target: TargetState,
    now: DateTime<Utc>,
) -> bool {
    if target == TargetState::Invalid {
        return true;
    }
    let synced_version = str_at(status, "/syncedResourceVersion");
    let refreshed = DateTime::parse_from_rfc3339(str_at(status, "/refreshTime"))
        .ok()
        .map(|t| t.with_timezone(&Utc));
    match policy {
        RefreshPolicy::CreatedOnce => synced_version.is_empty() || refreshed.is_none(),
        RefreshPolicy::OnChange => synced_version != current_version,
        RefreshPolicy::Periodic => {
            if interval.is_zero() && !synced_version.is_empty() {
                return false;
            }
            if synced_version != current_version {
                return true;
            }
            let Ok(interval) = chrono::Duration::from_std(interval) else {
                return false;
            };
            refreshed.is_none_or(|t| t + interval <= now)
        }
    }
}

/// The `Ready` condition a successful sync reports.
pub(super) fn success_condition(written: Written) -> (&'static str, &'static str) {
    match written {
        Written::Missing => (
            REASON_MISSING,
            "secret will not be created due to CreationPolicy=Merge",
        ),
        Written::Deleted => (
            REASON_DELETED,
            "secret deleted due to DeletionPolicy=Delete",
        ),
        Written::Retained => (
            REASON_SYNCED,
            "secret retained due to DeletionPolicy=Retain",
        ),
        Written::Created | Written::Updated | Written::Unchanged | Written::Skipped => {
            (REASON_SYNCED, "secret synced")
        }
    }
}

/// What one sync reports in the status.
pub(super) struct Report<'a> {
    pub(super) ready: bool,
    pub(super) reason: &'a str,
    pub(super) message: &'a str,
    /// `(refreshTime, syncedResourceVersion, binding name)` of a successful sync.
    pub(super) synced: Option<(String, String, String)>,
}

/// The status merge patch for `report`, `None` when the status already says it (the
/// condition's transition time is kept while its status, reason and message stay).
pub(super) fn status_patch(es: &Value, report: &Report<'_>, now: &str) -> Option<Value> {
    let status = es.get("status").cloned().unwrap_or(Value::Null);
    let conditions = status
        .get("conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let current = conditions.iter().find(|c| c["type"] == "Ready");
    let wanted = if report.ready { "True" } else { "False" };
    let same = current.is_some_and(|c| {
        c["status"] == wanted && c["reason"] == report.reason && c["message"] == report.message
    });
    let mut condition = ready_condition(report.ready, report.reason, report.message, now);
    if same {
        if let (Some(t), Some(obj)) = (
            current.and_then(|c| c.get("lastTransitionTime")),
            condition.as_object_mut(),
        ) {
            obj.insert("lastTransitionTime".into(), t.clone());
        }
    }
    let mut patch = serde_json::Map::new();
    let mut changed = !same;
    if let Some((time, version, binding)) = &report.synced {
        changed |= status["refreshTime"] != time.as_str()
            || status["syncedResourceVersion"] != version.as_str()
            || status["binding"]["name"] != binding.as_str();
        patch.insert("refreshTime".into(), json!(time));
        patch.insert("syncedResourceVersion".into(), json!(version));
        patch.insert("binding".into(), json!({"name": binding}));
    }
    if !changed {
        return None;
    }
    let mut others: Vec<Value> = conditions
        .into_iter()
        .filter(|c| c["type"] != "Ready")
        .collect();
    others.insert(0, condition);
    patch.insert("conditions".into(), Value::Array(others));
    Some(json!({ "status": Value::Object(patch) }))
}

/// The finalizers of `es` after adding (`add`) or removing ours; `None` when unchanged.
pub(super) fn finalizers_with(es: &Value, add: bool) -> Option<Vec<Value>> {
    let current: Vec<Value> = es
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let has = current.iter().any(|f| f == FINALIZER);
    match (add, has) {
        (true, false) => {
            let mut out = current;
            out.push(json!(FINALIZER));
            Some(out)
        }
        (false, true) => Some(current.into_iter().filter(|f| f != FINALIZER).collect()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fjord_eso::target::REASON_SYNC_ERROR;
    use std::collections::BTreeMap;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn periodic_refreshes_when_the_interval_elapsed_or_the_version_changed() {
        let status =
            json!({"refreshTime": "2026-01-01T00:00:00Z", "syncedResourceVersion": "1-abc"});
        let hour = Duration::from_secs(3600);
        let ok = TargetState::Intact;
        let p = RefreshPolicy::Periodic;
        assert!(!refresh_due(
            &status,
            hour,
            p,
            "1-abc",
            ok,
            at("2026-01-01T00:59:59Z")
        ));
        assert!(refresh_due(
            &status,
            hour,
            p,
            "1-abc",
            ok,
            at("2026-01-01T01:00:00Z")
        ));
        // A spec, label or annotation change (force-sync) changes the version.
        assert!(refresh_due(
            &status,
            hour,
            p,
            "2-abc",
            ok,
            at("2026-01-01T00:00:01Z")
        ));
        assert!(refresh_due(
            &status,
            hour,
            p,
            "1-def",
            ok,
            at("2026-01-01T00:00:01Z")
        ));
        // Never synced.
        assert!(refresh_due(
            &json!(null),
            hour,
            p,
            "1-abc",
            ok,
            at("2026-01-01T00:00:01Z")
        ));
        // A missing or edited target always refreshes.
        let bad = TargetState::Invalid;
        assert!(refresh_due(
            &status,
            hour,
            p,
            "1-abc",
            bad,
            at("2026-01-01T00:00:01Z")
        ));
    }

    #[test]
    fn zero_interval_means_once() {
        let status =
            json!({"refreshTime": "2026-01-01T00:00:00Z", "syncedResourceVersion": "1-abc"});
        let p = RefreshPolicy::Periodic;
        let later = at("2030-01-01T00:00:00Z");
        assert!(!refresh_due(
            &status,
            Duration::ZERO,
            p,
            "1-abc",
            TargetState::Intact,
            later
        ));
        // Even a spec change does not refresh once synced …
        assert!(!refresh_due(
            &status,
            Duration::ZERO,
            p,
            "2-abc",
            TargetState::Intact,
            later
        ));
        // … but the first sync and a missing target do.
        assert!(refresh_due(
            &json!({}),
            Duration::ZERO,
            p,
            "1-abc",
            TargetState::Intact,
            later
        ));
        assert!(refresh_due(
            &status,
            Duration::ZERO,
            p,
            "1-abc",
            TargetState::Invalid,
            later
        ));
    }

    #[test]
    fn created_once_and_on_change() {
        let status =
            json!({"refreshTime": "2026-01-01T00:00:00Z", "syncedResourceVersion": "1-abc"});
        let hour = Duration::from_secs(3600);
        let later = at("2030-01-01T00:00:00Z");
        let ok = TargetState::Intact;
        assert!(!refresh_due(
            &status,
            hour,
            RefreshPolicy::CreatedOnce,
            "2-x",
            ok,
            later
        ));
        assert!(refresh_due(
            &json!({}),
            hour,
            RefreshPolicy::CreatedOnce,
            "2-x",
            ok,
            later
        ));
        assert!(!refresh_due(
            &status,
            hour,
            RefreshPolicy::OnChange,
            "1-abc",
            ok,
            later
        ));
        assert!(refresh_due(
            &status,
            hour,
            RefreshPolicy::OnChange,
            "2-abc",
            ok,
            later
        ));
    }

    #[test]
    fn target_state_follows_is_secret_valid() {
        let edited = json!({"metadata": {"labels": {fjord_eso::target::LABEL_MANAGED: "true"},
            "annotations": {fjord_eso::target::ANNOTATION_DATA_HASH: "stale"}},
            "data": {"k": "dg=="}});
        let mut data = BTreeMap::new();
        data.insert("k".to_string(), b"v".to_vec());
        let intact = json!({"metadata": {"labels": {fjord_eso::target::LABEL_MANAGED: "true"},
            "annotations": {fjord_eso::target::ANNOTATION_DATA_HASH: fjord_eso::target::data_hash(&data)}},
            "data": {"k": "dg=="}});
        let mut unlabelled = intact.clone();
        unlabelled["metadata"]["labels"] = json!({});
        assert_eq!(
            target_state(CreationPolicy::Owner, None),
            TargetState::Invalid
        );
        assert_eq!(
            target_state(CreationPolicy::Owner, Some(&edited)),
            TargetState::Invalid
        );
        assert_eq!(
            target_state(CreationPolicy::Owner, Some(&unlabelled)),
            TargetState::Invalid
        );
        assert_eq!(
            target_state(CreationPolicy::Owner, Some(&intact)),
            TargetState::Intact
        );
        assert_eq!(
            target_state(CreationPolicy::Orphan, None),
            TargetState::Intact
        );
        assert_eq!(
            target_state(CreationPolicy::Orphan, Some(&edited)),
            TargetState::Intact
        );
        assert_eq!(
            target_state(CreationPolicy::Merge, None),
            TargetState::Intact
        );
        assert_eq!(
            target_state(CreationPolicy::None, None),
            TargetState::Intact
        );
        assert_eq!(
            target_state(CreationPolicy::CreateOrMerge, None),
            TargetState::Invalid
        );
    }

    fn failure<'a>(message: &'a str) -> Report<'a> {
        Report {
            ready: false,
            reason: REASON_SYNC_ERROR,
            message,
            synced: None,
        }
    }

    #[test]
    fn status_is_patched_only_when_it_changes() {
        let es = json!({"status": {"conditions": [{"type": "Ready", "status": "False",
            "reason": REASON_SYNC_ERROR, "message": "boom", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
        assert_eq!(
            status_patch(&es, &failure("boom"), "2026-02-02T00:00:00Z"),
            None
        );
        let patch = status_patch(&es, &failure("other"), "2026-02-02T00:00:00Z").unwrap();
        let c = &patch["status"]["conditions"][0];
        assert_eq!(c["message"], "other");
        assert_eq!(c["lastTransitionTime"], "2026-02-02T00:00:00Z");
        assert!(patch["status"].get("refreshTime").is_none());
    }

    #[test]
    fn success_records_refresh_time_version_and_binding() {
        let report = Report {
            ready: true,
            reason: REASON_SYNCED,
            message: "secret synced",
            synced: Some(("2026-01-01T00:00:00Z".into(), "1-abc".into(), "db".into())),
        };
        let patch = status_patch(&json!({}), &report, "2026-01-01T00:00:01Z").unwrap();
        let s = &patch["status"];
        assert_eq!(s["refreshTime"], "2026-01-01T00:00:00Z");
        assert_eq!(s["syncedResourceVersion"], "1-abc");
        assert_eq!(s["binding"], json!({"name": "db"}));
        assert_eq!(s["conditions"][0]["type"], "Ready");
        assert_eq!(s["conditions"][0]["status"], "True");
        assert_eq!(s["conditions"][0]["reason"], REASON_SYNCED);
        // The same report again on the patched object: nothing to write.
        let es = json!({"status": {"refreshTime": "2026-01-01T00:00:00Z", "syncedResourceVersion": "1-abc",
            "binding": {"name": "db"}, "conditions": s["conditions"].clone()}});
        assert_eq!(status_patch(&es, &report, "2026-01-01T00:00:09Z"), None);
        // A later refresh moves refreshTime and keeps the transition time.
        let later = Report {
            synced: Some(("2026-01-01T01:00:00Z".into(), "1-abc".into(), "db".into())),
            ..report
        };
        let p = status_patch(&es, &later, "2026-01-01T01:00:01Z").unwrap();
        assert_eq!(p["status"]["refreshTime"], "2026-01-01T01:00:00Z");
        assert_eq!(
            p["status"]["conditions"][0]["lastTransitionTime"],
            s["conditions"][0]["lastTransitionTime"]
        );
    }

    #[test]
    fn success_conditions_use_eso_reasons() {
        assert_eq!(
            success_condition(Written::Created),
            (REASON_SYNCED, "secret synced")
        );
        assert_eq!(
            success_condition(Written::Missing),
            (
                REASON_MISSING,
                "secret will not be created due to CreationPolicy=Merge"
            )
        );
        assert_eq!(
            success_condition(Written::Deleted),
            (
                REASON_DELETED,
                "secret deleted due to DeletionPolicy=Delete"
            )
        );
        assert_eq!(
            success_condition(Written::Retained),
            (
                REASON_SYNCED,
                "secret retained due to DeletionPolicy=Retain"
            )
        );
    }

    #[test]
    fn finalizer_is_added_once_and_removed_alone() {
        let bare = json!({"metadata": {}});
        assert_eq!(finalizers_with(&bare, true), Some(vec![json!(FINALIZER)]));
        assert_eq!(finalizers_with(&bare, false), None);
        let both = json!({"metadata": {"finalizers": ["other", FINALIZER]}});
        assert_eq!(finalizers_with(&both, true), None);
        assert_eq!(finalizers_with(&both, false), Some(vec![json!("other")]));
    }
}
