//! The test harness itself: a control plane starts, is a real Kubernetes v1.34.2 with two
//! Ready kwok nodes, and is gone after drop; a component that cannot start fails the start with
//! its own log tail (never a silent skip).

use std::process::Command;

fn kubectl(kubeconfig: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .expect("kubectl is installed")
}

#[test]
fn a_started_control_plane_is_kubernetes_with_ready_nodes_and_stops_on_drop() {
    let cp = fjord_testkit::ControlPlane::start_or_panic();
    let kc = cp.kubeconfig();
    let v = kubectl(&kc, &["version", "-o", "json"]);
    let text = String::from_utf8_lossy(&v.stdout);
    assert!(text.contains("\"gitVersion\": \"v1.34.2\""), "{text}");
    let nodes = kubectl(
        &kc,
        &[
            "get",
            "nodes",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type==\"Ready\")].status} {end}",
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&nodes.stdout).trim(),
        "kwok-node-0=True kwok-node-1=True"
    );
    let url = cp.api_url().to_string();
    let dir = cp.dir().to_path_buf();
    drop(cp);
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the API server still listens after drop"
    );
    assert!(!dir.exists(), "the control plane's folder is removed");
}

#[test]
fn a_component_that_cannot_start_fails_with_its_log_tail() {
    let err = match fjord_testkit::ControlPlane::start_with_apiserver_args(&["--no-such-flag"]) {
        Ok(_) => panic!("kube-apiserver started with an unknown flag"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("start failed in kube-apiserver"), "{err}");
    assert!(
        err.contains("last lines of") && err.contains("unknown flag: --no-such-flag"),
        "the component's own log tail: {err}"
    );
}
