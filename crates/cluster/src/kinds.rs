//! The built-in resource types the server serves, as data, and the [`ResourceType`] record that
//! discovery, routing and storage share with CRD-defined types.

use std::sync::Arc;

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

/// One column of Table output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrinterColumn {
    /// Column header.
    pub name: String,
    /// OpenAPI type (`string`, `integer`, `date`, ...).
    pub type_: String,
    /// A simple JSONPath such as `.spec.replicas`.
    pub json_path: String,
    /// 0 = always shown, >0 = only with `-o wide`.
    pub priority: u32,
}

/// A served resource: one (group, version, plural).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceType {
    /// API group (`""` for core).
    pub group: String,
    /// Version, e.g. `v1`.
    pub version: String,
    /// Kind, e.g. `Deployment`.
    pub kind: String,
    /// Plural resource name, e.g. `deployments`.
    pub plural: String,
    /// Singular name.
    pub singular: String,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Short names (`deploy`).
    pub short_names: Vec<String>,
    /// Categories (`all`).
    pub categories: Vec<String>,
    /// Has a `/status` subresource.
    pub has_status: bool,
    /// Has a `/scale` subresource (autoscaling/v1 Scale on `spec.replicas`).
    pub has_scale: bool,
    /// Defined by a CustomResourceDefinition.
    pub custom: bool,
    /// Extra Table columns for CRs (`additionalPrinterColumns`).
    pub printer_columns: Vec<PrinterColumn>,
}

impl ResourceType {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The storage key prefix shared by every version of this resource.
    pub fn store_prefix(&self) -> String {
        format!("{}/{}/", self.group, self.plural)
    }
}

struct Builtin {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    categories: &'static [&'static str],
    status: bool,
    scale: bool,
}

#[allow(clippy::too_many_arguments)]
const fn b(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    categories: &'static [&'static str],
    status: bool,
    scale: bool,
) -> Builtin {
    Builtin {
        group,
        version,
        kind,
        plural,
        namespaced,
        short,
        categories,
        status,
        scale,
    }
}

const ALL: &[&str] = &["all"];
const EXT: &[&str] = &["api-extensions"];
const NONE: &[&str] = &[];

/// The built-in kinds (k8s 1.32 scope, short names, categories and subresources).
const BUILTINS: &[Builtin] = &[
    b(
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
    b(
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
    b(
        "", "v1", "Secret", "secrets", true, NONE, NONE, false, false,
    ),
    b(
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
    b(
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
    b("", "v1", "Pod", "pods", true, &["po"], ALL, true, false),
    b(
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
    b(
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
    b(
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
    b(
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
    b(
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
    b(
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
    b("", "v1", "Node", "nodes", false, &["no"], NONE, true, false),
    b(
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
    b(
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
    b(
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
    b(
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
    b("batch", "v1", "Job", "jobs", true, NONE, ALL, true, false),
    b(
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
    b(
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
    b(
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
    b(
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
    b(
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
    b(
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
    b(
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
    b(
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
    b(
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
    b(
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
    b(
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
    b(
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
    b(
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
    b(
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
    b(
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
    b(
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
        .map(|x| {
            Arc::new(ResourceType {
                group: x.group.to_string(),
                version: x.version.to_string(),
                kind: x.kind.to_string(),
                plural: x.plural.to_string(),
                singular: x.kind.to_ascii_lowercase(),
                namespaced: x.namespaced,
                short_names: x.short.iter().map(|s| s.to_string()).collect(),
                categories: x.categories.iter().map(|s| s.to_string()).collect(),
                has_status: x.status,
                has_scale: x.scale,
                custom: false,
                printer_columns: Vec::new(),
            })
        })
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
