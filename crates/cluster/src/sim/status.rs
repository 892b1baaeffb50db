//! The status a simulated controller reports for each workload kind (argo-cd / kubectl health
//! rules), per [`Mode`].

use serde_json::{json, Value};

/// How a workload behaves, chosen with the `fjord.dev/simulate` annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Rolls out and becomes healthy (the default).
    Healthy,
    /// `fjord.dev/simulate: fail` — reports failure (Degraded).
    Fail,
    /// `fjord.dev/simulate: stuck` — stays Progressing forever.
    Stuck,
}

/// The annotation that selects a [`Mode`].
pub const ANNOTATION: &str = "fjord.dev/simulate";

/// Reads the mode of an object.
pub fn mode(obj: &Value) -> Mode {
    match obj
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(ANNOTATION))
        .and_then(Value::as_str)
    {
        Some("fail") | Some("degraded") => Mode::Fail,
        Some("stuck") | Some("progressing") => Mode::Stuck,
        _ => Mode::Healthy,
    }
}

fn cond(ty: &str, status: bool, reason: &str, message: &str, now: &str) -> Value {
    json!({"type": ty, "status": if status { "True" } else { "False" }, "lastUpdateTime": now,
           "lastTransitionTime": now, "reason": reason, "message": message})
}

fn replicas(obj: &Value) -> i64 {
    obj.pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

fn generation(obj: &Value) -> i64 {
    obj.pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

fn short_hash(obj: &Value) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(
        obj.pointer("/spec/template")
            .map(|t| t.to_string())
            .unwrap_or_default()
            .as_bytes(),
    );
    d.iter()
        .take(5)
        .map(|b| format!("{:02x}", b))
        .collect::<String>()[..10]
        .to_string()
}

/// A Deployment's status: rolled out, failed (progress deadline exceeded) or still progressing.
fn deployment_status(obj: &Value, m: Mode, name: &str, g: i64, n: i64, now: &str) -> Value {
    let collisions = obj
        .pointer("/status/collisionCount")
        .and_then(Value::as_u64)
        .unwrap_or(0) as u32;
    let hash = super::names::template_hash(obj.pointer("/spec/template"), collisions);
    let rs = format!("ReplicaSet \"{name}-{hash}\"");
    match m {
        Mode::Healthy => omit_zeros(
            json!({"observedGeneration": g, "replicas": n, "updatedReplicas": n, "readyReplicas": n, "availableReplicas": n,
            "conditions": [cond("Available", true, "MinimumReplicasAvailable", "Deployment has minimum availability.", now),
                           cond("Progressing", true, "NewReplicaSetAvailable", &format!("{rs} has successfully progressed."), now)]}),
            &[
                "replicas",
                "updatedReplicas",
                "readyReplicas",
                "availableReplicas",
            ],
        ),
        Mode::Fail => {
            json!({"observedGeneration": g, "replicas": n, "updatedReplicas": n, "unavailableReplicas": n,
            "conditions": [cond("Available", false, "MinimumReplicasUnavailable", "Deployment does not have minimum availability.", now),
                           cond("Progressing", false, "ProgressDeadlineExceeded", &format!("{rs} has timed out progressing."), now)]})
        }
        Mode::Stuck => {
            json!({"observedGeneration": g, "replicas": n, "unavailableReplicas": n,
            "conditions": [cond("Available", false, "MinimumReplicasUnavailable", "Deployment does not have minimum availability.", now),
                           cond("Progressing", true, "ReplicaSetUpdated", &format!("{rs} is progressing."), now)]})
        }
    }
}

/// A Job's status: complete, failed (backoff limit) or still running.
fn job_status(obj: &Value, m: Mode, now: &str) -> Value {
    let completions = obj
        .pointer("/spec/completions")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    match m {
        Mode::Healthy => {
            json!({"startTime": now, "completionTime": now, "succeeded": completions, "ready": 0, "terminating": 0,
            "uncountedTerminatedPods": {},
            "conditions": [cond("SuccessCriteriaMet", true, "CompletionsReached", "Reached expected number of succeeded pods", now),
                           cond("Complete", true, "CompletionsReached", "Reached expected number of succeeded pods", now)]})
        }
        Mode::Fail => {
            json!({"startTime": now, "failed": 1, "ready": 0, "terminating": 0, "uncountedTerminatedPods": {},
            "conditions": [cond("FailureTarget", true, "BackoffLimitExceeded", "Job has reached the specified backoff limit", now),
                           cond("Failed", true, "BackoffLimitExceeded", "Job has reached the specified backoff limit", now)]})
        }
        Mode::Stuck => {
            json!({"startTime": now, "active": 1, "ready": 0, "terminating": 0, "uncountedTerminatedPods": {}})
        }
    }
}

/// The status to report for `obj` of `kind` (group-qualified: `apps/Deployment`), or `None` if
/// the kind is not simulated.
pub fn desired(kind: &str, obj: &Value, now: &str) -> Option<Value> {
    let m = mode(obj);
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let g = generation(obj);
    let n = replicas(obj);
    Some(match kind {
        "apps/Deployment" => deployment_status(obj, m, name, g, n, now),
        "apps/ReplicaSet" => {
            // As the real ReplicaSet controller writes it: `replicas` always, the counts only
            // when not zero.
            let ready = if m == Mode::Healthy { n } else { 0 };
            omit_zeros(
                json!({"observedGeneration": g, "replicas": n, "fullyLabeledReplicas": n, "readyReplicas": ready, "availableReplicas": ready}),
                &["fullyLabeledReplicas", "readyReplicas", "availableReplicas"],
            )
        }
        "apps/StatefulSet" => {
            let rev = format!("{name}-{}", &short_hash(obj)[..10]);
            let ready = if m == Mode::Healthy { n } else { 0 };
            let update_rev = if m == Mode::Healthy {
                rev.clone()
            } else {
                format!("{rev}-next")
            };
            json!({"observedGeneration": g, "replicas": n, "readyReplicas": ready, "currentReplicas": ready, "updatedReplicas": ready,
                   "availableReplicas": ready, "currentRevision": rev, "updateRevision": update_rev, "collisionCount": 0})
        }
        "apps/DaemonSet" => {
            let ready = if m == Mode::Healthy { 1 } else { 0 };
            json!({"observedGeneration": g, "currentNumberScheduled": 1, "desiredNumberScheduled": 1, "numberMisscheduled": 0,
                   "numberReady": ready, "updatedNumberScheduled": ready, "numberAvailable": ready})
        }
        "batch/Job" => job_status(obj, m, now),
        "/Pod" => pod_status(obj, m, now),
        "/PersistentVolumeClaim" => match m {
            Mode::Healthy => {
                json!({"phase": "Bound", "accessModes": obj.pointer("/spec/accessModes").cloned().unwrap_or(json!(["ReadWriteOnce"])),
                "capacity": {"storage": obj.pointer("/spec/resources/requests/storage").cloned().unwrap_or(json!("1Gi"))}})
            }
            Mode::Fail => json!({"phase": "Lost"}),
            Mode::Stuck => json!({"phase": "Pending"}),
        },
        "/Service" => {
            if obj.pointer("/spec/type").and_then(Value::as_str) != Some("LoadBalancer")
                || m != Mode::Healthy
            {
                return Some(json!({"loadBalancer": {}}));
            }
            json!({"loadBalancer": {"ingress": [{"ip": "127.0.0.1", "ipMode": "VIP"}]}})
        }
        "networking.k8s.io/Ingress" => {
            if m != Mode::Healthy {
                return Some(json!({"loadBalancer": {}}));
            }
            json!({"loadBalancer": {"ingress": [{"ip": "127.0.0.1"}]}})
        }
        _ => return None,
    })
}

/// Drops the listed fields where they are 0 (Go's `omitempty` on the real status types).
fn omit_zeros(mut v: Value, fields: &[&str]) -> Value {
    if let Some(m) = v.as_object_mut() {
        m.retain(|k, x| !(fields.contains(&k.as_str()) && x.as_i64() == Some(0)));
    }
    v
}

/// A pod condition as kwok writes it: no reason or message, `lastProbeTime: null`.
fn pod_cond(ty: &str, status: bool, now: &str) -> Value {
    json!({"type": ty, "status": if status { "True" } else { "False" }, "lastProbeTime": null,
           "lastTransitionTime": now})
}

/// A stable pod IP in 10.244.0.0/16 from the pod's uid.
fn pod_ip(obj: &Value) -> String {
    let uid = obj
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("");
    let h = crate::defaults::fnv32a(uid.as_bytes());
    format!("10.244.{}.{}", (h >> 8) % 256, h % 254 + 1)
}

fn pod_status(obj: &Value, m: Mode, now: &str) -> Value {
    let owned_by_job = obj
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|r| r.iter().any(|o| o["kind"] == "Job"));
    let containers = obj
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let statuses: Vec<Value> = containers
        .iter()
        .map(|c| {
            let state = match (m, owned_by_job) {
                (Mode::Fail, _) => json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off restarting failed container"}}),
                (Mode::Stuck, _) => json!({"waiting": {"reason": "ContainerCreating"}}),
                (Mode::Healthy, true) => json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now}}),
                (Mode::Healthy, false) => json!({"running": {"startedAt": now}}),
            };
            json!({"name": c["name"], "image": c["image"], "imageID": "", "lastState": {},
                   "ready": m == Mode::Healthy && !owned_by_job,
                   "started": m == Mode::Healthy, "restartCount": 0, "state": state})
        })
        .collect();
    let ready = m == Mode::Healthy && !owned_by_job;
    let phase = match (m, owned_by_job) {
        (Mode::Stuck, _) => "Pending",
        (Mode::Healthy, true) => "Succeeded",
        _ => "Running",
    };
    let ip = pod_ip(obj);
    let qos = if containers.iter().any(|c| {
        c.pointer("/resources/requests").is_some() || c.pointer("/resources/limits").is_some()
    }) {
        "Burstable"
    } else {
        "BestEffort"
    };
    json!({"phase": phase, "hostIP": "127.0.0.1", "hostIPs": [{"ip": "127.0.0.1"}],
           "podIP": ip, "podIPs": [{"ip": ip}], "qosClass": qos, "startTime": now,
           "conditions": [pod_cond("Initialized", true, now), pod_cond("Ready", ready, now),
                          pod_cond("ContainersReady", ready, now), pod_cond("PodScheduled", true, now)],
           "containerStatuses": statuses})
}

/// Removes timestamps so a desired status compares equal to an already-written one.
pub fn without_times(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| {
                    !matches!(
                        k.as_str(),
                        "lastUpdateTime"
                            | "lastTransitionTime"
                            | "startTime"
                            | "completionTime"
                            | "startedAt"
                            | "finishedAt"
                            | "lastProbeTime"
                    )
                })
                .map(|(k, v)| (k.clone(), without_times(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_times).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_healthy_and_failing() {
        let d = json!({"metadata": {"name": "web", "generation": 3}, "spec": {"replicas": 2, "template": {}}});
        let s = desired("apps/Deployment", &d, "t").expect("sim");
        assert_eq!(s["observedGeneration"], 3);
        assert_eq!(s["availableReplicas"], 2);
        assert_eq!(s["conditions"][0]["type"], "Available");
        let mut f = d.clone();
        f["metadata"]["annotations"] = json!({ANNOTATION: "fail"});
        let s = desired("apps/Deployment", &f, "t").expect("sim");
        assert_eq!(s["conditions"][1]["reason"], "ProgressDeadlineExceeded");
        assert!(desired("/ConfigMap", &d, "t").is_none());
        assert_eq!(
            without_times(&json!({"a": [{"lastTransitionTime": "x", "b": 1}]})),
            json!({"a": [{"b": 1}]})
        );
    }
}
