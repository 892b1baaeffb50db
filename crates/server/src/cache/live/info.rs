//! The short facts a tree node shows on its card (Argo CD's `info`), its images and its
//! networking edges, read from one live object.

use serde::Serialize;
use serde_json::{json, Value};

/// One `{name, value}` fact of a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InfoItem {
    /// The fact's label (`Status Reason`, `Containers`, `Restart Count`, `Revision`, `Node`).
    pub name: String,
    /// Its value.
    pub value: String,
}

fn item(name: &str, value: impl Into<String>) -> InfoItem {
    InfoItem {
        name: name.to_string(),
        value: value.into(),
    }
}

fn str_at<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or_default()
}

fn arr<'a>(v: &'a Value, p: &str) -> &'a [Value] {
    v.pointer(p)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// What a node shows of `obj` (of `group`/`kind`): its facts, images and networking edges.
pub fn node_facts(
    group: &str,
    kind: &str,
    obj: &Value,
) -> (Vec<InfoItem>, Vec<String>, Option<Value>) {
    match (group, kind) {
        ("", "Pod") => {
            let (info, images) = pod_info(obj);
            (info, images, None)
        }
        ("apps", "Deployment") | ("apps", "ReplicaSet") => {
            let mut info = Vec::new();
            let rev = str_at(
                obj,
                "/metadata/annotations/deployment.kubernetes.io~1revision",
            );
            if !rev.is_empty() {
                info.push(item("Revision", format!("Rev:{rev}")));
            }
            (info, template_images(obj, "/spec/template/spec"), None)
        }
        ("apps", "StatefulSet") | ("apps", "DaemonSet") | ("batch", "Job") => (
            Vec::new(),
            template_images(obj, "/spec/template/spec"),
            None,
        ),
        ("batch", "CronJob") => (
            Vec::new(),
            template_images(obj, "/spec/jobTemplate/spec/template/spec"),
            None,
        ),
        ("", "Service") => {
            let mut net = json!({});
            if let Some(sel) = obj.pointer("/spec/selector").filter(|s| s.is_object()) {
                net["targetLabels"] = sel.clone();
            }
            let ingress: Vec<Value> = arr(obj, "/status/loadBalancer/ingress").to_vec();
            if !ingress.is_empty() {
                net["ingress"] = Value::Array(ingress);
            }
            let net = (net.as_object().is_some_and(|m| !m.is_empty())).then_some(net);
            (Vec::new(), Vec::new(), net)
        }
        _ => (Vec::new(), Vec::new(), None),
    }
}

/// The distinct images of the init and regular containers of the pod spec at `spec`.
fn template_images(obj: &Value, spec: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for list in ["initContainers", "containers"] {
        for c in arr(obj, &format!("{spec}/{list}")) {
            let image = str_at(c, "/image");
            if !image.is_empty() && !out.iter().any(|i| i == image) {
                out.push(image.to_string());
            }
        }
    }
    out
}

/// The reason a terminated container shows: its reason, else its signal or exit code.
fn terminated_reason(t: &Value, prefix: &str) -> String {
    let reason = str_at(t, "/reason");
    if !reason.is_empty() {
        return format!("{prefix}{reason}");
    }
    match t.get("signal").and_then(Value::as_i64).filter(|s| *s != 0) {
        Some(sig) => format!("{prefix}Signal:{sig}"),
        None => format!(
            "{prefix}ExitCode:{}",
            t.get("exitCode").and_then(Value::as_i64).unwrap_or(0)
        ),
    }
}

/// A Pod's status reason while an init container has not finished (`None` once all did).
fn init_reason(pod: &Value) -> Option<String> {
    let total = arr(pod, "/spec/initContainers").len();
    for (i, c) in arr(pod, "/status/initContainerStatuses").iter().enumerate() {
        if let Some(t) = c.pointer("/state/terminated") {
            if t.get("exitCode").and_then(Value::as_i64) == Some(0) {
                continue;
            }
            return Some(terminated_reason(t, "Init:"));
        }
        let waiting = str_at(c, "/state/waiting/reason");
        if !waiting.is_empty() && waiting != "PodInitializing" {
            return Some(format!("Init:{waiting}"));
        }
        return Some(format!("Init:{i}/{total}"));
    }
    None
}

/// A Pod's facts, as kubectl's STATUS column reasons about them: the status reason (phase,
/// a waiting or terminated container's reason, `Init:…`, `Terminating`), the node, ready and
/// total containers, restarts; and its images.
pub fn pod_info(pod: &Value) -> (Vec<InfoItem>, Vec<String>) {
    let images = template_images(pod, "/spec");
    let total = arr(pod, "/spec/containers").len();
    let mut reason = str_at(pod, "/status/phase").to_string();
    if !str_at(pod, "/status/reason").is_empty() {
        reason = str_at(pod, "/status/reason").to_string();
    }
    let count = |c: &Value| c.get("restartCount").and_then(Value::as_i64).unwrap_or(0);
    let init_restarts: i64 = arr(pod, "/status/initContainerStatuses")
        .iter()
        .map(count)
        .sum();
    let mut ready = 0;
    let restarts;
    if let Some(r) = init_reason(pod) {
        reason = r;
        restarts = init_restarts;
    } else {
        let statuses = arr(pod, "/status/containerStatuses");
        restarts = statuses.iter().map(count).sum();
        let mut running = false;
        // The first container with something to say wins, as kubectl reads them.
        for c in statuses.iter().rev() {
            let waiting = str_at(c, "/state/waiting/reason");
            if !waiting.is_empty() {
                reason = waiting.to_string();
            } else if let Some(t) = c.pointer("/state/terminated") {
                reason = terminated_reason(t, "");
            } else if c.get("ready") == Some(&Value::Bool(true))
                && c.pointer("/state/running").is_some()
            {
                running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && running {
            reason = "Running".to_string();
        }
    }
    if pod.pointer("/metadata/deletionTimestamp").is_some() {
        reason = if str_at(pod, "/status/reason") == "NodeLost" {
            "Unknown".to_string()
        } else {
            "Terminating".to_string()
        };
    }
    let mut info = Vec::new();
    if !reason.is_empty() {
        info.push(item("Status Reason", reason));
    }
    let node = str_at(pod, "/spec/nodeName");
    if !node.is_empty() {
        info.push(item("Node", node));
    }
    info.push(item("Containers", format!("{ready}/{total}")));
    info.push(item("Restart Count", restarts.to_string()));
    (info, images)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(info: &[InfoItem]) -> Vec<(String, String)> {
        info.iter()
            .map(|i| (i.name.clone(), i.value.clone()))
            .collect()
    }

    #[test]
    fn running_pod_shows_phase_node_containers_and_restarts() {
        let pod = json!({"spec": {"nodeName": "n1",
                "initContainers": [{"name": "i", "image": "busybox"}],
                "containers": [{"name": "a", "image": "nginx:1"}, {"name": "b", "image": "nginx:1"}]},
            "status": {"phase": "Running",
                "initContainerStatuses": [{"state": {"terminated": {"exitCode": 0}}, "restartCount": 0}],
                "containerStatuses": [
                    {"ready": true, "state": {"running": {}}, "restartCount": 2},
                    {"ready": false, "state": {"waiting": {"reason": "CrashLoopBackOff"}}, "restartCount": 5}]}});
        let (info, images) = pod_info(&pod);
        assert_eq!(images, ["busybox", "nginx:1"]);
        assert_eq!(
            names(&info),
            [
                ("Status Reason".into(), "CrashLoopBackOff".into()),
                ("Node".into(), "n1".into()),
                ("Containers".into(), "1/2".into()),
                ("Restart Count".into(), "7".into()),
            ]
        );
    }

    #[test]
    fn init_and_terminating_pods() {
        let pod = json!({"spec": {"initContainers": [{"image": "x"}, {"image": "y"}],
                "containers": [{"image": "z"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [
                {"state": {"terminated": {"exitCode": 0}}},
                {"state": {"running": {}}, "restartCount": 1}]}});
        let (info, _) = pod_info(&pod);
        assert_eq!(info[0].value, "Init:1/2");
        assert_eq!(info.last().unwrap().value, "1");
        let gone = json!({"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"containers": []}, "status": {"phase": "Running"}});
        assert_eq!(pod_info(&gone).0[0].value, "Terminating");
    }

    #[test]
    fn workload_revision_and_images_and_service_labels() {
        let d = json!({"metadata": {"annotations": {"deployment.kubernetes.io/revision": "3"}},
            "spec": {"template": {"spec": {"containers": [{"image": "web:2"}]}}}});
        let (info, images, _) = node_facts("apps", "Deployment", &d);
        assert_eq!(names(&info), [("Revision".into(), "Rev:3".into())]);
        assert_eq!(images, ["web:2"]);
        let svc = json!({"spec": {"selector": {"app": "web"}}});
        let (_, _, net) = node_facts("", "Service", &svc);
        assert_eq!(net.unwrap()["targetLabels"]["app"], "web");
    }
}
