//! Folding resource health into application health (Argo CD `controller/health.go`
//! `setApplicationHealth`) and the hook annotations that rule resources out of it.

use serde_json::Value;

use crate::object::{self, annotation, get};
use crate::overrides::HealthOverrides;
use crate::status::{Health, HealthStatus};

/// Argo CD hook annotation (CSV of hook types).
pub const ANNOTATION_HOOK: &str = "argocd.argoproj.io/hook";
/// Helm hook annotation (CSV of Helm hook types).
pub const ANNOTATION_HELM_HOOK: &str = "helm.sh/hook";
/// Annotation that, set to `"true"`, leaves a resource out of the application's health.
pub const ANNOTATION_IGNORE_HEALTHCHECK: &str = "argocd.argoproj.io/ignore-healthcheck";
/// Finalizer Argo CD puts on hooks; while present, a deleting hook is not "Pending deletion".
pub const HOOK_FINALIZER: &str = "argocd.argoproj.io/hook-finalizer";

const ARGO_HOOK_TYPES: [&str; 7] = [
    "PreSync",
    "Sync",
    "PostSync",
    "SyncFail",
    "Skip",
    "PreDelete",
    "PostDelete",
];

fn csv<'a>(obj: &'a Value, key: &str) -> Vec<&'a str> {
    annotation(obj, key)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// The hook types of `obj` (gitops-engine `hook.Types`): the recognised Argo CD types of its
/// hook annotation, or, when there are none, its Helm hook types mapped to Argo CD's.
pub fn hook_types(obj: &Value) -> Vec<&'static str> {
    let argo: Vec<&'static str> = csv(obj, ANNOTATION_HOOK)
        .into_iter()
        .filter_map(|t| ARGO_HOOK_TYPES.iter().copied().find(|k| *k == t))
        .collect();
    if !argo.is_empty() {
        return argo;
    }
    csv(obj, ANNOTATION_HELM_HOOK)
        .into_iter()
        .filter_map(|t| match t {
            "pre-install" | "pre-upgrade" => Some("PreSync"),
            "post-install" | "post-upgrade" => Some("PostSync"),
            "pre-delete" => Some("PreDelete"),
            "post-delete" => Some("PostDelete"),
            _ => None,
        })
        .collect()
}

/// Whether `obj` is marked `Skip` and nothing else (gitops-engine `hook.Skip`): never applied.
pub fn is_skip(obj: &Value) -> bool {
    let types = hook_types(obj);
    types.contains(&"Skip") && types.len() == 1
}

/// Whether `obj` is a hook (gitops-engine `hook.IsHook`): it carries the Argo CD hook annotation
/// (and is not `Skip`-only), or a Helm hook annotation other than `crd-install`.
pub fn is_hook(obj: &Value) -> bool {
    let annotations = get(obj, &["metadata", "annotations"]).and_then(Value::as_object);
    if annotations.is_some_and(|a| a.contains_key(ANNOTATION_HOOK)) {
        return !is_skip(obj);
    }
    annotation(obj, ANNOTATION_HELM_HOOK).is_some_and(|v| v != "crd-install")
}

/// Whether `obj` carries Argo CD's hook finalizer.
pub fn has_hook_finalizer(obj: &Value) -> bool {
    get(obj, &["metadata", "finalizers"])
        .and_then(Value::as_array)
        .is_some_and(|f| f.iter().any(|v| v.as_str() == Some(HOOK_FINALIZER)))
}

/// One managed resource of an application, as the controller pairs them.
#[derive(Debug, Clone, PartialEq)]
pub struct AppResource<'a> {
    /// The desired object from Git, if any.
    pub target: Option<&'a Value>,
    /// The object in the cluster, if any.
    pub live: Option<&'a Value>,
    /// The health of `live` (`None` when its kind has no health check). Ignored when `live` is
    /// `None`: a missing object counts as `Missing`.
    pub health: Option<Health>,
}

impl<'a> AppResource<'a> {
    /// Pairs `target` and `live` and assesses the live object with [`crate::assess`].
    pub fn assess(
        target: Option<&'a Value>,
        live: Option<&'a Value>,
        overrides: &HealthOverrides,
    ) -> AppResource<'a> {
        let health = live.and_then(|l| crate::assess(l, overrides));
        AppResource {
            target,
            live,
            health,
        }
    }

    /// The health Argo CD records for this resource: `Missing` without a live object, else the
    /// assessed health.
    pub fn resource_health(&self) -> Option<Health> {
        match self.live {
            None => Some(Health::status(HealthStatus::Missing)),
            Some(_) => self.health.clone(),
        }
    }

    fn is_application(&self) -> bool {
        self.target.or(self.live).is_some_and(|o| {
            object::group_version(o).0 == "argoproj.io" && object::kind(o) == "Application"
        })
    }
}

/// The worst of several statuses, `Healthy` when there are none.
pub fn worst(statuses: impl IntoIterator<Item = HealthStatus>) -> HealthStatus {
    statuses
        .into_iter()
        .fold(HealthStatus::Healthy, HealthStatus::max)
}

/// An application's health from its managed resources, as Argo CD's `setApplicationHealth`:
///
/// * skipped: resources whose target is `Skip`-only, live hooks, live objects annotated
///   `argocd.argoproj.io/ignore-healthcheck: "true"`, resources without health (no check), missing
///   live objects (their `Missing` shows per resource only), and child `argoproj.io/Application`s
///   that are `Missing` or `Unknown`;
/// * the application takes the worst remaining status (`Healthy` < `Suspended` < `Progressing` <
///   `Missing` < `Degraded` < `Unknown`), starting from `Healthy`;
/// * if some non-hook resource is expected but none of them exists live, it is at least `Missing`.
///
/// The caller leaves out the application's own object when it manages itself.
pub fn aggregate<'a>(resources: impl IntoIterator<Item = AppResource<'a>>) -> HealthStatus {
    let mut app = HealthStatus::Healthy;
    let mut contains_resources = false;
    let mut contains_live = false;
    for res in resources {
        if res.target.is_some_and(is_skip) {
            continue;
        }
        if res.live.is_some_and(is_hook) {
            continue;
        }
        contains_resources = true;
        if let Some(live) = res.live {
            contains_live = true;
            if annotation(live, ANNOTATION_IGNORE_HEALTHCHECK) == Some("true") {
                continue;
            }
        }
        let Some(health) = res.resource_health() else {
            continue;
        };
        if res.live.is_none() && health.status == HealthStatus::Missing {
            continue;
        }
        if res.is_application()
            && matches!(health.status, HealthStatus::Missing | HealthStatus::Unknown)
        {
            continue;
        }
        app = app.max(health.status);
    }
    if contains_resources && !contains_live {
        app = app.max(HealthStatus::Missing);
    }
    app
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cm(name: &str, annotations: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": name, "annotations": annotations}})
    }

    fn res<'a>(
        target: Option<&'a Value>,
        live: Option<&'a Value>,
        status: Option<HealthStatus>,
    ) -> AppResource<'a> {
        AppResource {
            target,
            live,
            health: status.map(Health::status),
        }
    }

    #[test]
    fn hook_detection_follows_gitops_engine() {
        assert!(is_hook(&cm("a", json!({ANNOTATION_HOOK: "PreSync"}))));
        assert!(is_hook(&cm("a", json!({ANNOTATION_HOOK: "Bogus"}))));
        assert!(!is_hook(&cm("a", json!({ANNOTATION_HOOK: "Skip"}))));
        assert!(is_hook(&cm("a", json!({ANNOTATION_HOOK: "Skip,PostSync"}))));
        assert!(is_hook(&cm(
            "a",
            json!({ANNOTATION_HELM_HOOK: "pre-install"})
        )));
        assert!(!is_hook(&cm(
            "a",
            json!({ANNOTATION_HELM_HOOK: "crd-install"})
        )));
        assert!(!is_hook(&cm("a", json!({}))));
        assert!(is_skip(&cm("a", json!({ANNOTATION_HOOK: " Skip "}))));
        assert_eq!(
            hook_types(&cm(
                "a",
                json!({ANNOTATION_HELM_HOOK: "post-upgrade,pre-install"})
            )),
            vec!["PostSync", "PreSync"]
        );
    }

    #[test]
    fn worst_status_wins_and_suspended_is_mild() {
        let (a, b, c) = (cm("a", json!({})), cm("b", json!({})), cm("c", json!({})));
        use HealthStatus::*;
        assert_eq!(
            aggregate([
                res(None, Some(&a), Some(Healthy)),
                res(None, Some(&b), Some(Suspended))
            ]),
            Suspended
        );
        assert_eq!(
            aggregate([
                res(None, Some(&a), Some(Suspended)),
                res(None, Some(&b), Some(Progressing))
            ]),
            Progressing
        );
        assert_eq!(
            aggregate([
                res(None, Some(&a), Some(Degraded)),
                res(None, Some(&b), Some(Unknown)),
                res(None, Some(&c), Some(Progressing))
            ]),
            Unknown
        );
        assert_eq!(aggregate([res(None, Some(&a), None)]), Healthy);
        assert_eq!(aggregate(Vec::<AppResource>::new()), Healthy);
        assert_eq!(worst([Healthy, Missing, Suspended]), Missing);
    }

    #[test]
    fn missing_resources_only_count_when_nothing_is_live() {
        let (a, b) = (cm("a", json!({})), cm("b", json!({})));
        use HealthStatus::*;
        // One missing, one live and healthy: Missing does not reach the app.
        assert_eq!(
            aggregate([
                res(Some(&a), None, None),
                res(Some(&b), Some(&b), Some(Healthy))
            ]),
            Healthy
        );
        // Nothing live at all: Missing.
        assert_eq!(
            aggregate([res(Some(&a), None, None), res(Some(&b), None, None)]),
            Missing
        );
        // ... but a Degraded sibling is still worse than Missing.
        assert_eq!(
            aggregate([
                res(Some(&a), None, None),
                res(Some(&b), Some(&b), Some(Degraded))
            ]),
            Degraded
        );
    }

    #[test]
    fn hooks_skips_and_ignored_resources_are_left_out() {
        use HealthStatus::*;
        let hook = cm("h", json!({ANNOTATION_HOOK: "PostSync"}));
        let skip = cm("s", json!({ANNOTATION_HOOK: "Skip"}));
        let ignored = cm("i", json!({ANNOTATION_IGNORE_HEALTHCHECK: "true"}));
        let ok = cm("ok", json!({}));
        assert_eq!(
            aggregate([
                res(Some(&hook), Some(&hook), Some(Degraded)),
                res(Some(&ok), Some(&ok), Some(Healthy))
            ]),
            Healthy
        );
        assert_eq!(
            aggregate([res(Some(&skip), Some(&skip), Some(Degraded))]),
            Healthy
        );
        assert_eq!(
            aggregate([res(Some(&ignored), Some(&ignored), Some(Degraded))]),
            Healthy
        );
        // Only hooks: the app has no resources, so it is not Missing either.
        assert_eq!(
            aggregate([res(Some(&hook), Some(&hook), Some(Progressing))]),
            Healthy
        );
    }

    #[test]
    fn child_applications_missing_or_unknown_do_not_count() {
        use HealthStatus::*;
        let app = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "child"}});
        let ok = cm("ok", json!({}));
        assert_eq!(
            aggregate([
                res(Some(&app), Some(&app), Some(Unknown)),
                res(Some(&ok), Some(&ok), Some(Healthy))
            ]),
            Healthy
        );
        assert_eq!(
            aggregate([res(Some(&app), Some(&app), Some(Degraded))]),
            Degraded
        );
    }

    #[test]
    fn app_resource_assess_uses_builtin_checks() {
        let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                         "metadata": {"name": "p"}, "status": {"phase": "Pending"}});
        let r = AppResource::assess(Some(&pvc), Some(&pvc), &HealthOverrides::new());
        assert_eq!(r.health, Some(Health::status(HealthStatus::Progressing)));
        assert_eq!(aggregate([r]), HealthStatus::Progressing);
        let missing = AppResource::assess(Some(&pvc), None, &HealthOverrides::new());
        assert_eq!(
            missing.resource_health(),
            Some(Health::status(HealthStatus::Missing))
        );
    }
}
