//! Whether a kind lives in a namespace, as kustomize v5.5 decides it.
//!
//! kustomize answers from the Kubernetes OpenAPI document it embeds: a group/version/kind listed
//! there as cluster-scoped is cluster-scoped, and everything else — including any version of a
//! built-in kind the document does not list (`v2 Namespace`), and every custom kind, even one
//! whose `CustomResourceDefinition` with `scope: Cluster` is part of the same build — is treated
//! as namespaced. The table below is that list, established by probing `kubectl kustomize`
//! (v5.5.0) with a `namespace:` over every cluster-scoped built-in at several versions.

use crate::Gvk;

/// `(group, kind, versions)` of every kind kustomize treats as cluster-scoped.
const CLUSTER_SCOPED: &[(&str, &str, &[&str])] = &[
    ("", "ComponentStatus", &["v1"]),
    ("", "Namespace", &["v1"]),
    ("", "Node", &["v1"]),
    ("", "PersistentVolume", &["v1"]),
    (
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
        &["v1", "v1beta1"],
    ),
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
        &["v1", "v1beta1"],
    ),
    (
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
        &["v1", "v1beta1"],
    ),
    ("apiregistration.k8s.io", "APIService", &["v1", "v1beta1"]),
    (
        "certificates.k8s.io",
        "CertificateSigningRequest",
        &["v1", "v1beta1"],
    ),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema", &["v1beta1"]),
    (
        "flowcontrol.apiserver.k8s.io",
        "PriorityLevelConfiguration",
        &["v1beta1"],
    ),
    ("networking.k8s.io", "IngressClass", &["v1", "v1beta1"]),
    ("node.k8s.io", "RuntimeClass", &["v1", "v1beta1"]),
    ("policy", "PodSecurityPolicy", &["v1beta1"]),
    (
        "rbac.authorization.k8s.io",
        "ClusterRole",
        &["v1", "v1beta1"],
    ),
    (
        "rbac.authorization.k8s.io",
        "ClusterRoleBinding",
        &["v1", "v1beta1"],
    ),
    ("scheduling.k8s.io", "PriorityClass", &["v1", "v1beta1"]),
    ("storage.k8s.io", "CSIDriver", &["v1", "v1beta1"]),
    ("storage.k8s.io", "CSINode", &["v1", "v1beta1"]),
    ("storage.k8s.io", "StorageClass", &["v1", "v1beta1"]),
    ("storage.k8s.io", "VolumeAttachment", &["v1", "v1beta1"]),
];

/// True when kustomize treats objects of `gvk` as cluster-scoped (see the module docs).
pub fn is_cluster_scoped(gvk: &Gvk) -> bool {
    CLUSTER_SCOPED.iter().any(|(group, kind, versions)| {
        *group == gvk.group && *kind == gvk.kind && versions.contains(&gvk.version.as_str())
    })
}

/// True when kustomize treats objects of `gvk` as namespaced: every kind it does not know to be
/// cluster-scoped, custom kinds included.
pub fn is_namespaced(gvk: &Gvk) -> bool {
    !is_cluster_scoped(gvk)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_cluster_kinds_at_known_versions() {
        assert!(!is_namespaced(&Gvk::new("", "v1", "Namespace")));
        assert!(!is_namespaced(&Gvk::new(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRole"
        )));
        assert!(!is_namespaced(&Gvk::new(
            "apiregistration.k8s.io",
            "v1beta1",
            "APIService"
        )));
        assert!(!is_namespaced(&Gvk::new(
            "policy",
            "v1beta1",
            "PodSecurityPolicy"
        )));
    }

    #[test]
    fn unknown_versions_and_custom_kinds_are_namespaced() {
        assert!(is_namespaced(&Gvk::new("", "v2", "Namespace")));
        assert!(is_namespaced(&Gvk::new(
            "rbac.authorization.k8s.io",
            "v1alpha1",
            "ClusterRole"
        )));
        assert!(is_namespaced(&Gvk::new("example.com", "v1", "Foo")));
        assert!(is_namespaced(&Gvk::new("apps", "v1", "Deployment")));
        assert!(is_namespaced(&Gvk::new(
            "extensions",
            "v1beta1",
            "PodSecurityPolicy"
        )));
    }
}
