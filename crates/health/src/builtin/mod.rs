//! Argo CD's built-in (Go) health checks, one module per family of kinds, and the bundled
//! checks of the third-party kinds fjord itself reconciles (external-secrets.io).
//!
//! Each check follows gitops-engine's `pkg/health/health_*.go`: the same statuses, the same
//! messages, and the same quirks (an unset `spec.replicas` skips the replica comparison, a Job's
//! `Complete` condition counts whatever its status, ...).

mod batch;
mod external_secrets;
mod hpa;
mod network;
mod pod;
mod storage;
mod workloads;

pub use hpa::ANNOTATION_HPA_CONDITIONS;
pub use pod::ANNOTATION_IGNORE_RESTART_POLICY;
use serde_json::Value;

use crate::object::{group_version, gvk_string, kind, FieldError};
use crate::status::{Health, HealthStatus};

/// Why a built-in check could not assess an object; the object's health becomes `Unknown` with
/// this error as its message (the text Argo CD would show).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// A field the check reads has the wrong type (Argo CD: the typed conversion failed).
    #[error("failed to convert unstructured {what} to typed")]
    Convert {
        /// The kind being converted (`Deployment`, `HPA`, ...).
        what: &'static str,
        /// The offending field.
        source: FieldError,
    },
    /// The check does not know this API version of the kind.
    #[error("unsupported {what} GVK: {gvk}")]
    UnsupportedGvk {
        /// The kind (`Deployment`, `HPA`, ...).
        what: &'static str,
        /// The object's group/version/kind, Go-formatted (`apps/v1beta2, Kind=Deployment`).
        gvk: String,
    },
    /// An `autoscaling/v1` HPA's `autoscaling.alpha.kubernetes.io/conditions` annotation is not
    /// a JSON list of conditions.
    #[error("failed to convert conditions annotation to typed: {detail}")]
    HpaConditionsAnnotation {
        /// What was wrong with the annotation.
        detail: String,
    },
    /// An Argo Workflow's `status.phase` or `status.message` is not a string.
    #[error("failed to convert unstructured to argoworkflow")]
    Workflow {
        /// The offending field.
        source: FieldError,
    },
}

/// Wraps a [`FieldError`] as a conversion failure of `what`.
pub(crate) fn convert(what: &'static str) -> impl Fn(FieldError) -> CheckError {
    move |source| CheckError::Convert { what, source }
}

/// The unsupported-version error for `obj`.
pub(crate) fn unsupported(what: &'static str, obj: &Value) -> CheckError {
    CheckError::UnsupportedGvk {
        what,
        gvk: gvk_string(obj),
    }
}

/// `Ok(Health)` with the given status and message.
pub(crate) fn health(
    status: HealthStatus,
    message: impl Into<String>,
) -> Result<Health, CheckError> {
    Ok(Health::new(status, message))
}

type Check = fn(&Value) -> Result<Health, CheckError>;

/// The built-in check for an API group and kind (gitops-engine `GetHealthCheckFunc`).
fn check_for(group: &str, kind: &str) -> Option<Check> {
    let check: Check = match (group, kind) {
        ("apps", "Deployment") => workloads::deployment,
        ("apps", "StatefulSet") => workloads::statefulset,
        ("apps", "ReplicaSet") => workloads::replicaset,
        ("apps", "DaemonSet") => workloads::daemonset,
        ("extensions", "Ingress") | ("networking.k8s.io", "Ingress") => network::ingress,
        ("argoproj.io", "Workflow") => batch::argo_workflow,
        ("apiregistration.k8s.io", "APIService") => storage::apiservice,
        ("", "Service") => network::service,
        ("", "PersistentVolumeClaim") => storage::pvc,
        ("", "Pod") => pod::pod,
        ("batch", "Job") => batch::job,
        ("autoscaling", "HorizontalPodAutoscaler") => hpa::hpa,
        // Bundled with Argo CD as Lua (resource_customizations); native here.
        ("external-secrets.io", "ExternalSecret" | "SecretStore" | "ClusterSecretStore") => {
            external_secrets::ready_condition
        }
        ("external-secrets.io", "ClusterExternalSecret") => {
            external_secrets::cluster_external_secret
        }
        _ => return None,
    };
    Some(check)
}

/// Whether fjord has a built-in health check for this API group and kind (Argo CD's Go checks,
/// plus its bundled checks of the external-secrets.io kinds).
pub fn has_builtin_check(group: &str, kind: &str) -> bool {
    check_for(group, kind).is_some()
}

/// Runs the built-in check for `obj` alone: no deletion handling, no Lua overrides.
///
/// `None` when the kind has no built-in check. A check that cannot read the object reports
/// `Unknown` with the reason as message, as Argo CD does.
pub fn builtin_health(obj: &Value) -> Option<Health> {
    let (group, _) = group_version(obj);
    let check = check_for(group, kind(obj))?;
    Some(check(obj).unwrap_or_else(|e| Health::new(HealthStatus::Unknown, fjord_model::chain(&e))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dispatches_on_group_and_kind_not_version() {
        assert!(has_builtin_check("apps", "Deployment"));
        assert!(has_builtin_check("", "Pod"));
        assert!(has_builtin_check("extensions", "Ingress"));
        assert!(!has_builtin_check("extensions", "Deployment"));
        assert!(!has_builtin_check("", "ConfigMap"));
        assert!(!has_builtin_check("argoproj.io", "Application"));
        assert!(!has_builtin_check(
            "apiextensions.k8s.io",
            "CustomResourceDefinition"
        ));
    }

    #[test]
    fn unknown_kinds_have_no_health() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}});
        assert_eq!(builtin_health(&cm), None);
    }

    #[test]
    fn unsupported_version_is_unknown_with_go_message() {
        let d =
            json!({"apiVersion": "apps/v1beta2", "kind": "Deployment", "metadata": {"name": "x"}});
        assert_eq!(
            builtin_health(&d),
            Some(Health::new(
                HealthStatus::Unknown,
                "unsupported Deployment GVK: apps/v1beta2, Kind=Deployment"
            ))
        );
    }

    #[test]
    fn wrong_field_type_is_unknown_naming_the_field() {
        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                       "metadata": {"name": "x"}, "spec": {"replicas": "three"}});
        assert_eq!(
            builtin_health(&d),
            Some(Health::new(
                HealthStatus::Unknown,
                "failed to convert unstructured Deployment to typed: field spec.replicas: expected integer, found string"
            ))
        );
    }
}
