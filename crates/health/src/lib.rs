//! Health assessment of Kubernetes objects, matching Argo CD.
//!
//! [`assess`] gives an object's health the way Argo CD's `health.GetResourceHealth` does:
//!
//! 1. an object with `metadata.deletionTimestamp` (and without Argo CD's hook finalizer) is
//!    `Progressing` "Pending deletion";
//! 2. a custom Lua health check from `argocd-cm` ([`HealthOverrides`]) wins over everything else;
//! 3. otherwise the built-in check for the kind (Deployment, StatefulSet, DaemonSet, ReplicaSet,
//!    Pod, Service, Ingress, PersistentVolumeClaim, Job, HorizontalPodAutoscaler, APIService,
//!    Argo Workflow) with Argo CD's statuses and messages, and Argo CD's bundled checks of the
//!    external-secrets.io kinds fjord reconciles itself (ExternalSecret, SecretStore,
//!    ClusterSecretStore, ClusterExternalSecret);
//! 4. any other kind has no health (`None`).
//!
//! [`aggregate`] folds resource health into an application's health. Objects are
//! `serde_json::Value`s, as the API returns them.
//!
//! Not included: the other Lua health checks Argo CD bundles for third-party CRDs
//! (`resource_customizations/`); configure them through `argocd-cm` instead.
//!
//! ```
//! use fjord_health::{assess, Health, HealthOverrides, HealthScript, HealthStatus};
//! use serde_json::json;
//!
//! let deployment = json!({
//!     "apiVersion": "apps/v1", "kind": "Deployment",
//!     "metadata": {"name": "web", "generation": 2},
//!     "spec": {"replicas": 3},
//!     "status": {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1,
//!                "availableReplicas": 1},
//! });
//! let mut overrides = HealthOverrides::new();
//! let health = assess(&deployment, &overrides).unwrap();
//! assert_eq!(health.status, HealthStatus::Progressing);
//! assert_eq!(
//!     health.message,
//!     "Waiting for rollout to finish: 1 out of 3 new replicas have been updated..."
//! );
//!
//! // An argocd-cm Lua check for the kind wins over the built-in one.
//! let lua = "return {status = 'Healthy', message = 'checked by Lua'}".to_string();
//! overrides.insert("apps/Deployment", HealthScript { lua, use_open_libs: false });
//! let health = assess(&deployment, &overrides);
//! assert_eq!(health, Some(Health::new(HealthStatus::Healthy, "checked by Lua")));
//! ```

mod aggregate;
mod builtin;
mod lua;
mod object;
mod overrides;
mod status;

#[cfg(test)]
mod fixture_tests;
#[cfg(test)]
mod lua_tests;

use serde_json::Value;

pub use aggregate::{
    aggregate, has_hook_finalizer, hook_types, is_hook, is_skip, worst, AppResource,
    ANNOTATION_HELM_HOOK, ANNOTATION_HOOK, ANNOTATION_IGNORE_HEALTHCHECK, HOOK_FINALIZER,
};
pub use builtin::{
    builtin_health, has_builtin_check, CheckError, ANNOTATION_HPA_CONDITIONS,
    ANNOTATION_IGNORE_RESTART_POLICY,
};
pub use lua::{run_health_script, run_lua, HealthScript, LuaError, INVALID_HEALTH_STATUS};
pub use object::{group_version, kind, FieldError};
pub use overrides::{
    config_map_key, yaml_value, HealthOverrides, OverridesError, YamlError, DEFAULT_SCRIPT_TIMEOUT,
    RESOURCE_CUSTOMIZATIONS_KEY,
};
pub use status::{is_worse, Health, HealthStatus, ParseHealthStatusError};

/// Message of the health of an object being deleted.
pub const PENDING_DELETION: &str = "Pending deletion";

/// Whether Argo CD reports `obj` as "Pending deletion": it has a deletion timestamp and no hook
/// finalizer.
pub fn is_pending_deletion(obj: &Value) -> bool {
    object::get(obj, &["metadata", "deletionTimestamp"]).is_some() && !has_hook_finalizer(obj)
}

/// The health of `obj` (see the crate documentation for the order of the rules); `None` when
/// neither an override nor a built-in check covers its kind.
pub fn assess(obj: &Value, overrides: &HealthOverrides) -> Option<Health> {
    if is_pending_deletion(obj) {
        return Some(Health::new(HealthStatus::Progressing, PENDING_DELETION));
    }
    if let Some(health) = overrides.health(obj) {
        return Some(health);
    }
    builtin_health(obj)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deletion_wins_unless_hook_finalizer() {
        let mut pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "deletionTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"restartPolicy": "Always"}, "status": {"phase": "Failed", "message": "boom"}});
        assert_eq!(
            assess(&pod, &HealthOverrides::new()),
            Some(Health::new(HealthStatus::Progressing, "Pending deletion"))
        );
        pod["metadata"]["finalizers"] = json!([HOOK_FINALIZER]);
        assert_eq!(
            assess(&pod, &HealthOverrides::new()),
            Some(Health::new(HealthStatus::Degraded, "boom"))
        );
        // Deletion also applies to kinds without any health check.
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "deletionTimestamp": "2024-01-01T00:00:00Z"}});
        assert_eq!(
            assess(&cm, &HealthOverrides::new()).map(|h| h.status),
            Some(HealthStatus::Progressing)
        );
    }

    #[test]
    fn overrides_take_precedence_over_builtins() {
        let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                         "spec": {"type": "ClusterIP"}});
        assert_eq!(
            assess(&svc, &HealthOverrides::new()),
            Some(Health::status(HealthStatus::Healthy))
        );
        let mut o = HealthOverrides::new();
        o.insert(
            "Service",
            HealthScript {
                lua: "return {status = 'Degraded', message = obj.spec.type}".into(),
                use_open_libs: false,
            },
        );
        assert_eq!(
            assess(&svc, &o),
            Some(Health::new(HealthStatus::Degraded, "ClusterIP"))
        );
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
        assert_eq!(assess(&cm, &o), None);
    }
}
