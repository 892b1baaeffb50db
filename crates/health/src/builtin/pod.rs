//! v1 Pod (gitops-engine `health_pod.go`).

use fjord_model::go::quote;
use serde_json::Value;

use super::{convert, health, unsupported, CheckError};
use crate::object::{self, array, conditions, get, int, string, FieldError};
use crate::status::{Health, HealthStatus};

/// Annotation that makes a Never/OnFailure pod be judged like a long-running one.
pub const ANNOTATION_IGNORE_RESTART_POLICY: &str = "argocd.argoproj.io/ignore-restart-policy";

/// The parts of one `containerStatuses` entry the check reads.
struct ContainerStatus {
    name: String,
    waiting: Option<(String, String)>,
    terminated: Option<Terminated>,
    last_terminated: bool,
}

struct Terminated {
    reason: String,
    message: String,
    exit_code: i64,
}

fn container_statuses(
    pod: &Value,
    field: &'static str,
) -> Result<Vec<ContainerStatus>, FieldError> {
    let items = array(pod, &["status", field])?;
    let mut out = Vec::with_capacity(items.len());
    for i in 0..items.len() {
        let idx = i.to_string();
        // Paths are rebuilt relative to the pod so errors name the full field.
        let at = |rest: &[&'static str]| -> Vec<String> {
            let mut p = vec!["status".to_string(), field.to_string(), idx.clone()];
            p.extend(rest.iter().map(|s| s.to_string()));
            p
        };
        let read_str = |rest: &[&'static str]| -> Result<String, FieldError> {
            let path = at(rest);
            let refs: Vec<&str> = path.iter().map(String::as_str).collect();
            Ok(string(pod, &refs)?.to_string())
        };
        let present = |rest: &[&'static str]| -> Result<bool, FieldError> {
            let path = at(rest);
            let refs: Vec<&str> = path.iter().map(String::as_str).collect();
            object::has_object(pod, &refs)
        };
        let waiting = if present(&["state", "waiting"])? {
            Some((
                read_str(&["state", "waiting", "reason"])?,
                read_str(&["state", "waiting", "message"])?,
            ))
        } else {
            None
        };
        let terminated = if present(&["state", "terminated"])? {
            let path = at(&["state", "terminated", "exitCode"]);
            let refs: Vec<&str> = path.iter().map(String::as_str).collect();
            Some(Terminated {
                reason: read_str(&["state", "terminated", "reason"])?,
                message: read_str(&["state", "terminated", "message"])?,
                exit_code: int(pod, &refs)?,
            })
        } else {
            None
        };
        out.push(ContainerStatus {
            name: read_str(&["name"])?,
            waiting,
            terminated,
            last_terminated: present(&["lastState", "terminated"])?,
        });
    }
    Ok(out)
}

/// The message for a failed container: its termination message, `OOMKilled`, or its exit code.
fn fail_message(ctr: &ContainerStatus) -> Option<String> {
    let t = ctr.terminated.as_ref()?;
    if !t.message.is_empty() {
        return Some(t.message.clone());
    }
    if t.reason == "OOMKilled" {
        return Some(t.reason.clone());
    }
    if t.exit_code != 0 {
        return Some(format!(
            "container {} failed with exit code {}",
            quote(&ctr.name),
            t.exit_code
        ));
    }
    None
}

/// Pod: container errors (for restartPolicy Always), then the phase; running pods that are not
/// restartPolicy Always are hook-like and stay Progressing unless annotated
/// [`ANNOTATION_IGNORE_RESTART_POLICY`].
pub(super) fn pod(obj: &Value) -> Result<Health, CheckError> {
    if object::group_version(obj) != ("", "v1") {
        return Err(unsupported("Pod", obj));
    }
    let c = convert("Pod");
    let restart_policy = string(obj, &["spec", "restartPolicy"]).map_err(&c)?;
    let phase = string(obj, &["status", "phase"]).map_err(&c)?;
    let message = string(obj, &["status", "message"]).map_err(&c)?.to_string();
    let containers = container_statuses(obj, "containerStatuses").map_err(&c)?;
    let init_containers = container_statuses(obj, "initContainerStatuses").map_err(&c)?;
    let conds = conditions(obj, &["status", "conditions"]).map_err(&c)?;
    let ignore_restart_policy = get(obj, &["metadata", "annotations"])
        .and_then(Value::as_object)
        .is_some_and(|a| a.contains_key(ANNOTATION_IGNORE_RESTART_POLICY));

    if restart_policy == "Always" {
        let errors: Vec<&str> = containers
            .iter()
            .filter_map(|ctr| ctr.waiting.as_ref())
            .filter(|(reason, _)| {
                reason.starts_with("Err")
                    || reason.ends_with("Error")
                    || reason.ends_with("BackOff")
            })
            .map(|(_, msg)| msg.as_str())
            .collect();
        if !errors.is_empty() {
            return health(HealthStatus::Degraded, errors.join(", "));
        }
    }

    match phase {
        "Pending" => health(HealthStatus::Progressing, message),
        "Succeeded" => health(HealthStatus::Healthy, message),
        "Failed" => {
            if !message.is_empty() {
                return health(HealthStatus::Degraded, message);
            }
            let msg = init_containers
                .iter()
                .chain(containers.iter())
                .find_map(fail_message)
                .unwrap_or_default();
            health(HealthStatus::Degraded, msg)
        }
        "Running" => {
            let long_running = || {
                let ready = conds
                    .iter()
                    .find(|c| c.kind == "Ready")
                    .is_some_and(|c| c.status == "True");
                if ready {
                    return health(HealthStatus::Healthy, message.clone());
                }
                if containers.iter().any(|c| c.last_terminated) {
                    return health(HealthStatus::Degraded, message.clone());
                }
                health(HealthStatus::Progressing, message.clone())
            };
            if ignore_restart_policy {
                return long_running();
            }
            match restart_policy {
                "Always" => long_running(),
                "OnFailure" | "Never" => health(HealthStatus::Progressing, message),
                _ => health(HealthStatus::Unknown, message),
            }
        }
        _ => health(HealthStatus::Unknown, message),
    }
}
