//! The built-in resource types the server serves, as data (as fjord-model's [`ResourceType`],
//! which discovery, routing and storage share with CRD-defined types), and what the server adds
//! to that record: its storage prefix and Go's spelling of its kind.

use std::sync::Arc;

use fjord_model::ResourceType;

/// The verbs every served resource supports.
pub const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// The storage key prefix shared by every version of a resource: `group/plural/`.
pub fn store_prefix(rt: &ResourceType) -> String {
    format!("{}/{}/", rt.group, rt.plural)
}

/// Go's `GroupVersionKind.String()` of a resource's kind: `group/version, Kind=Kind`, with a
/// bare `/version` for the core group.
pub fn go_gvk(rt: &ResourceType) -> String {
    format!("{}/{}, Kind={}", rt.group, rt.version, rt.kind)
}

/// One built-in type: group, version, kind, plural, namespaced, short names, categories, has a
/// `/status` subresource, has a `/scale` subresource.
type Builtin = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    &'static [&'static str],
    &'static [&'static str],
    bool,
    bool,
);

const ALL: &[&str] = &["all"];
const EXT: &[&str] = &["api-extensions"];
const NONE: &[&str] = &[];

/// The built-in kinds (k8s 1.32 scope, short names, categories and subresources).
const BUILTINS: &[Builtin] = &[
    (
        "",
        "v1",
        "Namespace",
        "namespaces",
        false,
        &["ns"],
        NONE,
        true,
        false,
    ),
    (
        "",
        "v1",
        "ConfigMap",
        "configmaps",
        true,
        &["cm"],
        NONE,
        false,
        false,
    ),
    (
        "", "v1", "Secret", "secrets", true, NONE, NONE, false, false,
    ),
    (
        "",
        "v1",
        "Service",
        "services",
        true,
        &["svc"],
        ALL,
        true,
        false,
    ),
    (
        "",
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        true,
        &["sa"],
        NONE,
        false,
        false,
    ),
    ("", "v1", "Pod", "pods", true, &["po"], ALL, true, false),
    (
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        true,
        &["pvc"],
        NONE,
        true,
        false,
    ),
    (
        "",
        "v1",
        "PersistentVolume",
        "persistentvolumes",
        false,
        &["pv"],
        NONE,
        true,
        false,
    ),
    (
        "",
        "v1",
        "Endpoints",
        "endpoints",
        true,
        &["ep"],
        NONE,
        false,
        false,
    ),
    (
        "",
        "v1",
        "Event",
        "events",
        true,
        &["ev"],
        NONE,
        false,
        false,
    ),
    (
        "",
        "v1",
        "LimitRange",
        "limitranges",
        true,
        &["limits"],
        NONE,
        false,
        false,
    ),
    (
        "",
        "v1",
        "ResourceQuota",
        "resourcequotas",
        true,
        &["quota"],
        NONE,
        true,
        false,
    ),
    ("", "v1", "Node", "nodes", false, &["no"], NONE, true, false),
    (
        "apps",
        "v1",
        "Deployment",
        "deployments",
        true,
        &["deploy"],
        ALL,
        true,
        true,
    ),
    (
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        true,
        &["sts"],
        ALL,
        true,
        true,
    ),
    (
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        true,
        &["ds"],
        ALL,
        true,
        false,
    ),
    (
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        true,
        &["rs"],
        ALL,
        true,
        true,
    ),
    ("batch", "v1", "Job", "jobs", true, NONE, ALL, true, false),
    (
        "batch",
        "v1",
        "CronJob",
        "cronjobs",
        true,
        &["cj"],
        ALL,
        true,
        false,
    ),
    (
        "networking.k8s.io",
        "v1",
        "Ingress",
        "ingresses",
        true,
        &["ing"],
        NONE,
        true,
        false,
    ),
    (
        "networking.k8s.io",
        "v1",
        "IngressClass",
        "ingressclasses",
        false,
        NONE,
        NONE,
        false,
        false,
    ),
    (
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        true,
        &["netpol"],
        NONE,
        false,
        false,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "Role",
        "roles",
        true,
        NONE,
        NONE,
        false,
        false,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        true,
        NONE,
        NONE,
        false,
        false,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        false,
        NONE,
        NONE,
        false,
        false,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        false,
        NONE,
        NONE,
        false,
        false,
    ),
    (
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        true,
        &["pdb"],
        NONE,
        true,
        false,
    ),
    (
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        true,
        &["hpa"],
        ALL,
        true,
        false,
    ),
    (
        "coordination.k8s.io",
        "v1",
        "Lease",
        "leases",
        true,
        NONE,
        NONE,
        false,
        false,
    ),
    (
        "storage.k8s.io",
        "v1",
        "StorageClass",
        "storageclasses",
        false,
        &["sc"],
        NONE,
        false,
        false,
    ),
    (
        "scheduling.k8s.io",
        "v1",
        "PriorityClass",
        "priorityclasses",
        false,
        &["pc"],
        NONE,
        false,
        false,
    ),
    (
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        false,
        &["crd", "crds"],
        EXT,
        true,
        false,
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        false,
        NONE,
        EXT,
        false,
        false,
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        false,
        NONE,
        EXT,
        false,
        false,
    ),
];

/// The built-in resource types, in discovery order.
pub fn builtins() -> Vec<Arc<ResourceType>> {
    BUILTINS
        .iter()
        .map(
            |&(group, version, kind, plural, namespaced, short, categories, status, scale)| {
                Arc::new(ResourceType {
                    singular: kind.to_ascii_lowercase(),
                    short_names: short.iter().map(|s| s.to_string()).collect(),
                    categories: categories.iter().map(|s| s.to_string()).collect(),
                    has_status: status,
                    has_scale: scale,
                    ..ResourceType::new(group, version, kind, plural, namespaced)
                })
            },
        )
        .collect()
}

/// The built-in type of `kind` (the first group serving it), for tests.
#[cfg(test)]
pub(crate) fn builtin_type(kind: &str) -> ResourceType {
    builtins()
        .into_iter()
        .find(|r| r.kind == kind)
        .map(|r| r.as_ref().clone())
        .expect("a built-in kind")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_is_namespaced_with_scale() {
        let all = builtins();
        let d = all
            .iter()
            .find(|r| r.kind == "Deployment")
            .expect("deployment");
        assert!(d.namespaced && d.has_scale && d.has_status);
        assert_eq!(d.api_version(), "apps/v1");
        assert_eq!(d.short_names, vec!["deploy"]);
        let ns = all.iter().find(|r| r.plural == "namespaces").expect("ns");
        assert!(!ns.namespaced);
        assert_eq!(ns.api_version(), "v1");
    }

    #[test]
    fn plurals_are_unique_per_group() {
        let all = builtins();
        for (i, a) in all.iter().enumerate() {
            for other in &all[i + 1..] {
                assert!(
                    !(a.group == other.group && a.plural == other.plural),
                    "{}",
                    a.plural
                );
            }
        }
    }
}
