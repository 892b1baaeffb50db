//! v1 Service and Ingress (gitops-engine `health_service.go`, `health_ingress.go`).

use serde_json::Value;

use super::{convert, health, unsupported, CheckError};
use crate::object::{self, array, get, string};
use crate::status::{Health, HealthStatus};

/// Service: a LoadBalancer is Progressing until `status.loadBalancer.ingress` has an entry;
/// every other type is Healthy.
pub(super) fn service(obj: &Value) -> Result<Health, CheckError> {
    if object::group_version(obj) != ("", "v1") {
        return Err(unsupported("Service", obj));
    }
    let c = convert("Service");
    let service_type = string(obj, &["spec", "type"]).map_err(&c)?;
    let ingress = array(obj, &["status", "loadBalancer", "ingress"]).map_err(&c)?;
    if service_type == "LoadBalancer" && ingress.is_empty() {
        return health(HealthStatus::Progressing, "");
    }
    health(HealthStatus::Healthy, "")
}

/// Ingress (any version of `networking.k8s.io` or `extensions`): Healthy once
/// `status.loadBalancer.ingress` is a non-empty list, Progressing otherwise.
pub(super) fn ingress(obj: &Value) -> Result<Health, CheckError> {
    let assigned = get(obj, &["status", "loadBalancer", "ingress"])
        .and_then(Value::as_array)
        .is_some_and(|list| !list.is_empty());
    if assigned {
        health(HealthStatus::Healthy, "")
    } else {
        health(HealthStatus::Progressing, "")
    }
}
