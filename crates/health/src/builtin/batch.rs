//! batch/v1 Job and argoproj.io Workflow (gitops-engine `health_job.go`, `health_argo.go`).

use serde_json::Value;

use super::{convert, health, unsupported, CheckError};
use crate::object::{self, conditions, string};
use crate::status::{Health, HealthStatus};

/// Job: Progressing until a `Failed`, `Complete` or `Suspended` condition appears (whatever its
/// status); then Degraded with the failure message, Suspended when `Suspended` is True, else
/// Healthy with the last `Complete`/`Suspended` message.
pub(super) fn job(obj: &Value) -> Result<Health, CheckError> {
    if object::group_version(obj) != ("batch", "v1") {
        return Err(unsupported("Job", obj));
    }
    let conds = conditions(obj, &["status", "conditions"]).map_err(convert("Job"))?;
    let mut failed = false;
    let mut complete = false;
    let mut suspended = false;
    let mut fail_message = String::new();
    let mut message = String::new();
    for c in &conds {
        match c.kind.as_str() {
            "Failed" => {
                failed = true;
                complete = true;
                fail_message = c.message.clone();
            }
            "Complete" => {
                complete = true;
                message = c.message.clone();
            }
            "Suspended" => {
                complete = true;
                message = c.message.clone();
                if c.status == "True" {
                    suspended = true;
                }
            }
            _ => {}
        }
    }
    if !complete {
        health(HealthStatus::Progressing, message)
    } else if failed {
        health(HealthStatus::Degraded, fail_message)
    } else if suspended {
        // Argo CD reports the (always empty here) failure message for a suspended Job.
        health(HealthStatus::Suspended, fail_message)
    } else {
        health(HealthStatus::Healthy, message)
    }
}

/// Argo Workflow (any version): by `status.phase`, with `status.message` as message.
pub(super) fn argo_workflow(obj: &Value) -> Result<Health, CheckError> {
    let wrap = |source| CheckError::Workflow { source };
    let phase = string(obj, &["status", "phase"]).map_err(wrap)?;
    let message = string(obj, &["status", "message"]).map_err(wrap)?;
    let status = match phase {
        "" | "Pending" | "Running" => HealthStatus::Progressing,
        "Succeeded" => HealthStatus::Healthy,
        "Failed" | "Error" => HealthStatus::Degraded,
        _ => HealthStatus::Unknown,
    };
    health(status, message)
}
