//! A Pod on an unmanaged Node with this machine's IP, so the API server's service proxy reaches
//! a process of the test: the real API server proxies only to an endpoint address whose
//! `targetRef` is a Pod of the Service's namespace holding that IP in `status.podIPs`, and kwok
//! would give a Pod of its nodes a fake IP. The Pod is bound to a Node no kubelet (nor kwok)
//! manages, tolerates its taints, and gets the host's address written into its status.

use std::net::IpAddr;

use serde_json::{json, Value};

use super::Cluster;

/// The Pod standing for a process of this machine.
pub struct HostPod<'a> {
    /// The Node it is bound to (created).
    pub node: &'a str,
    /// Its name, in kube-system.
    pub name: &'a str,
    /// Its labels (what a Service selects).
    pub labels: Value,
    /// Its one container.
    pub container: Value,
    /// Whether the Node and the Pod are marked Ready (for the endpoints controller).
    pub ready: bool,
}

/// Creates the Node and the Pod of `pod`, Running with the address `ip`; returns the Pod as an
/// endpoint's `targetRef`.
pub fn host_pod(cluster: &Cluster, pod: &HostPod<'_>, ip: IpAddr) -> Value {
    cluster.apply_json(&json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": pod.node, "labels": {"kubernetes.io/hostname": pod.node}},
    }));
    let now = chrono_now();
    if pod.ready {
        let ready = json!({"type": "Ready", "status": "True", "lastHeartbeatTime": now, "lastTransitionTime": now});
        cluster.kubectl_ok(&[
            "patch",
            "node",
            pod.node,
            "--subresource=status",
            "--type=merge",
            "-p",
            &json!({"status": {"conditions": [ready]}}).to_string(),
        ]);
    }
    cluster.apply_json(&json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": pod.name, "namespace": "kube-system", "labels": pod.labels},
        "spec": {"nodeName": pod.node, "tolerations": [{"operator": "Exists"}],
            "containers": [pod.container]},
    }));
    let mut status = json!({"phase": "Running", "podIP": ip.to_string(),
        "podIPs": [{"ip": ip.to_string()}]});
    if pod.ready {
        status["conditions"] =
            json!([{"type": "Ready", "status": "True", "lastTransitionTime": now}]);
    }
    cluster.kubectl_ok(&[
        "patch",
        "pod",
        pod.name,
        "-n",
        "kube-system",
        "--subresource=status",
        "--type=merge",
        "-p",
        &json!({ "status": status }).to_string(),
    ]);
    json!({"kind": "Pod", "namespace": "kube-system", "name": pod.name})
}

/// Now as RFC 3339 (seconds).
pub fn chrono_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}
