//! external-secrets.io ExternalSecret, SecretStore, ClusterSecretStore and
//! ClusterExternalSecret: the health checks Argo CD bundles for them
//! (`resource_customizations/external-secrets.io/*/health.lua`), as native code.
//!
//! - ExternalSecret, SecretStore, ClusterSecretStore: the first `Ready` condition decides:
//!   `False` is Degraded, `True` is Healthy, with the condition's message. An ExternalSecret with
//!   `refreshPolicy: OnChange` only counts a `Ready` condition whose `lastTransitionTime` is not
//!   before `status.refreshTime` (RFC 3339 strings compare in time order).
//! - ClusterExternalSecret: only the last condition counts: `Ready`/True is Healthy,
//!   `PartiallyReady`/True or `NotReady`/True is Degraded.
//! - Anything else is Progressing `Waiting for <Kind>`.

use serde_json::Value;

use super::{health, CheckError};
use crate::object::kind;
use crate::status::{Health, HealthStatus};

fn conditions(obj: &Value) -> &[Value] {
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn waiting(obj: &Value) -> Result<Health, CheckError> {
    health(
        HealthStatus::Progressing,
        format!("Waiting for {}", kind(obj)),
    )
}

/// The `Ready` rule of ExternalSecret, SecretStore and ClusterSecretStore.
pub(super) fn ready_condition(obj: &Value) -> Result<Health, CheckError> {
    let on_change = kind(obj) == "ExternalSecret"
        && obj.pointer("/spec/refreshPolicy").and_then(Value::as_str) == Some("OnChange");
    let refreshed = obj
        .pointer("/status/refreshTime")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let ready = conditions(obj).iter().find(|c| {
        text(c, "type") == "Ready" && (!on_change || text(c, "lastTransitionTime") >= refreshed)
    });
    match ready.map(|c| (text(c, "status"), text(c, "message"))) {
        Some(("False", message)) => health(HealthStatus::Degraded, message),
        Some(("True", message)) => health(HealthStatus::Healthy, message),
        _ => waiting(obj),
    }
}

/// ClusterExternalSecret: the last condition only.
pub(super) fn cluster_external_secret(obj: &Value) -> Result<Health, CheckError> {
    let Some(last) = conditions(obj).last() else {
        return waiting(obj);
    };
    match (text(last, "type"), text(last, "status")) {
        ("Ready", "True") => health(HealthStatus::Healthy, text(last, "message")),
        ("PartiallyReady" | "NotReady", "True") => {
            health(HealthStatus::Degraded, text(last, "message"))
        }
        _ => waiting(obj),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn es(status: Value) -> Value {
        json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
               "metadata": {"name": "db"}, "spec": {}, "status": status})
    }

    fn ready(status: &str, message: &str) -> Value {
        json!({"type": "Ready", "status": status, "reason": "SecretSynced", "message": message,
               "lastTransitionTime": "2026-01-01T00:00:00Z"})
    }

    #[test]
    fn ready_true_is_healthy_false_degraded_else_waiting() {
        let h = ready_condition(&es(json!({"conditions": [ready("True", "secret synced")]})));
        assert_eq!(h, Ok(Health::new(HealthStatus::Healthy, "secret synced")));
        let h = ready_condition(&es(
            json!({"conditions": [ready("False", "could not get")]}),
        ));
        assert_eq!(h, Ok(Health::new(HealthStatus::Degraded, "could not get")));
        for status in [json!({}), json!({"conditions": []}), json!(null)] {
            let h = ready_condition(&es(status));
            let waiting = Health::new(HealthStatus::Progressing, "Waiting for ExternalSecret");
            assert_eq!(h, Ok(waiting));
        }
    }

    #[test]
    fn the_first_ready_condition_decides() {
        let other = json!({"type": "Deleted", "status": "True"});
        let obj = es(json!({"conditions": [other, ready("False", "a"), ready("True", "b")]}));
        assert_eq!(
            ready_condition(&obj).unwrap().status,
            HealthStatus::Degraded
        );
    }

    #[test]
    fn on_change_ignores_a_ready_condition_older_than_the_refresh() {
        let mut obj = es(json!({"refreshTime": "2026-02-01T00:00:00Z",
                                "conditions": [ready("True", "secret synced")]}));
        obj["spec"]["refreshPolicy"] = json!("OnChange");
        assert_eq!(
            ready_condition(&obj).unwrap().status,
            HealthStatus::Progressing
        );
        obj["status"]["refreshTime"] = json!("2025-12-31T00:00:00Z");
        assert_eq!(ready_condition(&obj).unwrap().status, HealthStatus::Healthy);
    }

    #[test]
    fn stores_name_their_kind_while_waiting() {
        let css = json!({"apiVersion": "external-secrets.io/v1", "kind": "ClusterSecretStore",
                         "metadata": {"name": "vault-backend"}});
        assert_eq!(
            ready_condition(&css),
            Ok(Health::new(
                HealthStatus::Progressing,
                "Waiting for ClusterSecretStore"
            ))
        );
    }

    #[test]
    fn cluster_external_secret_reads_the_last_condition_only() {
        let ces = |conds: Value| {
            json!({"apiVersion": "external-secrets.io/v1", "kind": "ClusterExternalSecret",
                   "metadata": {"name": "c"}, "status": {"conditions": conds}})
        };
        let ok = json!({"type": "Ready", "status": "True", "message": "all good"});
        let partial = json!({"type": "PartiallyReady", "status": "True", "message": "half"});
        let failed = json!({"type": "Ready", "status": "False",
                            "message": "one or more namespaces failed"});
        let h = cluster_external_secret(&ces(json!([partial, ok]))).unwrap();
        assert_eq!(h, Health::new(HealthStatus::Healthy, "all good"));
        let h = cluster_external_secret(&ces(json!([ok, partial]))).unwrap();
        assert_eq!(h, Health::new(HealthStatus::Degraded, "half"));
        // Argo CD's rule: a Ready=False CES is still Progressing.
        let h = cluster_external_secret(&ces(json!([failed]))).unwrap();
        assert_eq!(h.status, HealthStatus::Progressing);
        assert_eq!(h.message, "Waiting for ClusterExternalSecret");
    }
}
