//! v1 PersistentVolumeClaim and apiregistration.k8s.io APIService (gitops-engine
//! `health_pvc.go`, `health_apiservice.go`).

use serde_json::Value;

use super::{convert, health, unsupported, CheckError};
use crate::object::{self, conditions, string};
use crate::status::{Health, HealthStatus};

/// PersistentVolumeClaim: by `status.phase` (Bound → Healthy, Pending → Progressing,
/// Lost → Degraded, anything else → Unknown), always with an empty message.
pub(super) fn pvc(obj: &Value) -> Result<Health, CheckError> {
    if object::group_version(obj) != ("", "v1") {
        return Err(unsupported("PersistentVolumeClaim", obj));
    }
    let phase = string(obj, &["status", "phase"]).map_err(convert("PersistentVolumeClaim"))?;
    let status = match phase {
        "Lost" => HealthStatus::Degraded,
        "Pending" => HealthStatus::Progressing,
        "Bound" => HealthStatus::Healthy,
        _ => HealthStatus::Unknown,
    };
    health(status, "")
}

/// APIService (v1 and v1beta1): the first `Available` condition decides (True → Healthy,
/// otherwise Progressing, message `reason: message`); without one, Progressing
/// `Waiting to be processed`.
pub(super) fn apiservice(obj: &Value) -> Result<Health, CheckError> {
    match object::group_version(obj) {
        ("apiregistration.k8s.io", "v1") | ("apiregistration.k8s.io", "v1beta1") => {}
        _ => return Err(unsupported("APIService", obj)),
    }
    let conds = conditions(obj, &["status", "conditions"]).map_err(convert("APIService"))?;
    if let Some(c) = conds.iter().find(|c| c.kind == "Available") {
        let status = if c.status == "True" {
            HealthStatus::Healthy
        } else {
            HealthStatus::Progressing
        };
        return health(status, format!("{}: {}", c.reason, c.message));
    }
    health(HealthStatus::Progressing, "Waiting to be processed")
}
