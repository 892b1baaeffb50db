//! The two kind orders fjord follows: Argo CD's, for sync tasks, and kustomize's legacy order,
//! for build output and configuration tables.

use crate::Gvk;
use std::cmp::Ordering;

/// Argo CD's kind order for sync tasks; other kinds (custom resources) come after these.
pub const ARGOCD_KIND_ORDER: &[&str] = &[
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
];

/// The rank of a kind in [`ARGOCD_KIND_ORDER`] (unknown kinds last).
pub fn argocd_kind_rank(kind: &str) -> usize {
    ARGOCD_KIND_ORDER
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(ARGOCD_KIND_ORDER.len())
}

/// Kinds kustomize's legacy order puts first, in this order.
pub const KUSTOMIZE_ORDER_FIRST: &[&str] = &[
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];

/// Kinds kustomize's legacy order puts last, in this order.
pub const KUSTOMIZE_ORDER_LAST: &[&str] = &[
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// A kind's rank in kustomize's fixed order: negative for the first kinds, 0 for the others,
/// positive for the last kinds.
fn kustomize_kind_rank(kind: &str) -> i64 {
    let first = KUSTOMIZE_ORDER_FIRST.len() as i64;
    if let Some(i) = KUSTOMIZE_ORDER_FIRST.iter().position(|k| *k == kind) {
        return i as i64 - first;
    }
    KUSTOMIZE_ORDER_LAST
        .iter()
        .position(|k| *k == kind)
        .map_or(0, |i| 1 + i as i64)
}

/// kustomize's `Gvk.IsLessThan`: the fixed kind rank, then `group_version_kind` (`~G`/`~V`/`~K`
/// for empty parts).
pub fn kustomize_gvk_order(a: &Gvk, b: &Gvk) -> Ordering {
    kustomize_kind_rank(&a.kind)
        .cmp(&kustomize_kind_rank(&b.kind))
        .then_with(|| a.to_string().cmp(&b.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argocd_ranks_known_kinds_and_puts_custom_kinds_last() {
        assert_eq!(argocd_kind_rank("Namespace"), 0);
        assert!(argocd_kind_rank("ConfigMap") < argocd_kind_rank("Deployment"));
        assert_eq!(argocd_kind_rank("Widget"), ARGOCD_KIND_ORDER.len());
    }

    #[test]
    fn kustomize_orders_first_middle_and_last_kinds() {
        let g = |k: &str| Gvk::new("", "v1", k);
        let webhook = Gvk::new(
            "admissionregistration.k8s.io",
            "v1",
            "ValidatingWebhookConfiguration",
        );
        assert_eq!(
            kustomize_gvk_order(&g("Namespace"), &g("Secret")),
            Ordering::Less
        );
        assert_eq!(
            kustomize_gvk_order(&g("Widget"), &g("Secret")),
            Ordering::Greater
        );
        assert_eq!(kustomize_gvk_order(&g("Widget"), &webhook), Ordering::Less);
        assert_eq!(kustomize_gvk_order(&g("A"), &g("B")), Ordering::Less);
    }
}
