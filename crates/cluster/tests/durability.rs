//! Crash durability: the server runs in a child process (this test binary re-executed), a write
//! storm runs against it, the child is killed with SIGKILL mid-storm, and a restart on the same
//! data dir must hold every acknowledged write with resourceVersions that keep increasing.

mod common;

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fjord_testkit::Proc;
use serde_json::Value;

const CHILD_ENV: &str = "FJORD_CLUSTER_CHILD_DIR";

/// Not a test on its own: the body of the child server process.
#[test]
fn child_server() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut opts = fjord_cluster::ClusterOptions::new(&dir);
    opts.addr = "127.0.0.1:0".parse().expect("addr");
    let rt = tokio::runtime::Runtime::new().expect("rt");
    rt.block_on(async {
        let h = fjord_cluster::serve(opts).await.expect("serve");
        std::fs::write(format!("{dir}/addr"), h.addr().to_string()).expect("addr file");
        tokio::time::sleep(Duration::from_secs(120)).await;
    });
}

/// Starts the child server in its own process group; the caller kills it (`kill -9`), and a
/// failing test's drop does.
fn spawn(dir: &std::path::Path) -> (Proc, std::net::SocketAddr) {
    let _ = std::fs::remove_file(dir.join("addr"));
    let mut cmd = Command::new(std::env::current_exe().expect("exe"));
    cmd.args(["--exact", "child_server", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = Proc::spawn_or_panic(&mut cmd, "the child server");
    let start = Instant::now();
    loop {
        if let Ok(a) = std::fs::read_to_string(dir.join("addr")) {
            if let Ok(addr) = a.trim().parse() {
                return (child, addr);
            }
        }
        if start.elapsed() > Duration::from_secs(20) {
            child.kill();
            panic!("child server did not start");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn kill_dash_nine_keeps_every_acknowledged_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut child, addr) = spawn(dir.path());
    let acked: Arc<Mutex<Vec<(String, u64)>>> = Arc::new(Mutex::new(Vec::new()));
    let mut workers = Vec::new();
    for w in 0..4 {
        let acked = acked.clone();
        workers.push(std::thread::spawn(move || {
            for i in 0..400 {
                let name = format!("cm-{w}-{i}");
                let body = format!(r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}"}},"data":{{"i":"{i}"}}}}"#);
                let Ok((code, resp)) = std::panic::catch_unwind(|| common::http(addr, "POST", "/api/v1/namespaces/default/configmaps", "application/json", &body)) else { return };
                if code != 201 {
                    return;
                }
                let v: Value = serde_json::from_str(&resp).unwrap_or(Value::Null);
                let rv = v["metadata"]["resourceVersion"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0);
                acked.lock().expect("lock").push((name, rv));
            }
        }));
    }
    // Let the storm run, then kill the server hard.
    let start = Instant::now();
    while acked.lock().expect("lock").len() < 150 && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill();
    for w in workers {
        let _ = w.join();
    }
    let acked = acked.lock().expect("lock").clone();
    assert!(acked.len() >= 150, "storm too small: {}", acked.len());
    let max_acked = acked.iter().map(|(_, rv)| *rv).max().unwrap_or(0);

    let (mut child, addr) = spawn(dir.path());
    let (code, body) = common::http(
        addr,
        "GET",
        "/api/v1/namespaces/default/configmaps",
        "application/json",
        "",
    );
    assert_eq!(code, 200);
    let list: Value = serde_json::from_str(&body).expect("list");
    let present: std::collections::HashMap<String, u64> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            (
                i["metadata"]["name"].as_str().unwrap_or("").to_string(),
                i["metadata"]["resourceVersion"]
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0),
            )
        })
        .collect();
    for (name, rv) in &acked {
        assert_eq!(
            present.get(name),
            Some(rv),
            "acknowledged write {name} (rv {rv}) lost or changed"
        );
    }
    let list_rv: u64 = list["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert!(
        list_rv >= max_acked,
        "list RV {list_rv} went backwards (max acked {max_acked})"
    );
    let (code, resp) = common::http(
        addr,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        "application/json",
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"after-restart"}}"#,
    );
    assert_eq!(code, 201, "{resp}");
    let v: Value = serde_json::from_str(&resp).expect("json");
    let rv: u64 = v["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert!(
        rv > list_rv,
        "new RV {rv} must exceed every earlier one ({list_rv})"
    );
    child.kill();
}
