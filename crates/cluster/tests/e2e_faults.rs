//! Fault injection end to end through a separate server process (the crate's `local_cluster`
//! binary, which takes the same flags as `fjord local-cluster`).

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::http;
use fjord_testkit::tools::KUBECTL;
use fjord_testkit::{require_tools, Proc};
use serde_json::Value;

/// A server process (its process group killed on drop).
struct Server {
    _proc: Proc,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let dir = fjord_testkit::tempdir::tempdir("faults");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_local_cluster"));
        cmd.arg("--data-dir")
            .arg(dir.path())
            .args(["--addr", "127.0.0.1:0", "--no-sim"])
            .args(extra)
            .stderr(Stdio::piped())
            .stdout(Stdio::null());
        let mut proc = Proc::spawn_or_panic(&mut cmd, "local_cluster");
        let stderr = proc.child_mut().stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("server exited before listening")
                .expect("stderr line");
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let a = rest.split_whitespace().next().unwrap_or("");
                break a.parse().expect("listen address");
            }
        };
        std::thread::spawn(move || lines.for_each(drop));
        Server {
            _proc: proc,
            addr,
            _dir: dir,
        }
    }
}

fn create_cm(addr: SocketAddr, name: &str) {
    let (code, body) = http(
        addr,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        "application/json",
        &format!(r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}"}}}}"#),
    );
    assert_eq!(code, 201, "{body}");
}

#[test]
fn latency_fault_delays_gets_only() {
    let s = Server::start(&["--fault-latency", "get=200"]);
    create_cm(s.addr, "slow");
    let t = Instant::now();
    let (code, body) = http(
        s.addr,
        "GET",
        "/api/v1/namespaces/default/configmaps/slow",
        "",
        "",
    );
    let get = t.elapsed();
    assert_eq!(code, 200, "{body}");
    assert!(get >= Duration::from_millis(200), "get took {get:?}");
    let t = Instant::now();
    assert_eq!(
        http(
            s.addr,
            "GET",
            "/api/v1/namespaces/default/configmaps",
            "",
            ""
        )
        .0,
        200
    );
    let list = t.elapsed();
    assert!(
        list < get,
        "list {list:?} should not be delayed like get {get:?}"
    );
}

#[test]
fn error_fault_answers_429_but_serves_discovery() {
    let s = Server::start(&["--fault-error-rate", "1", "--fault-codes", "429"]);
    let (code, body) = http(
        s.addr,
        "GET",
        "/api/v1/namespaces/default/configmaps",
        "",
        "",
    );
    assert_eq!(code, 429, "{body}");
    let status: Value = serde_json::from_str(&body).expect("status json");
    assert_eq!(status["reason"], "TooManyRequests");
    assert_eq!(http(s.addr, "GET", "/apis", "", "").0, 200);
}

#[test]
fn watch_client_resumes_after_dropped_streams_without_losing_events() {
    let s = Server::start(&["--fault-drop-watch-after-ms", "300"]);
    let addr = s.addr;
    let (code, body) = http(addr, "GET", "/api/v1/namespaces/default/configmaps", "", "");
    assert_eq!(code, 200);
    let list: Value = serde_json::from_str(&body).expect("list");
    let mut rv = list["metadata"]["resourceVersion"]
        .as_str()
        .expect("list rv")
        .to_string();
    let writer = std::thread::spawn(move || {
        for i in 0..10 {
            std::thread::sleep(Duration::from_millis(120));
            create_cm(addr, &format!("w{i}"));
        }
    });
    let mut seen = Vec::new();
    let mut streams = 0;
    let deadline = Instant::now() + Duration::from_secs(15);
    while seen.len() < 10 && Instant::now() < deadline {
        let path = format!("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv}");
        let t = Instant::now();
        let (code, body) = http(addr, "GET", &path, "", "");
        assert_eq!(code, 200, "{body}");
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "the stream was not dropped"
        );
        streams += 1;
        for line in body.lines().filter(|l| l.starts_with('{')) {
            let ev: Value = serde_json::from_str(line).expect("event json");
            assert_eq!(ev["type"], "ADDED", "{line}");
            seen.push(
                ev["object"]["metadata"]["name"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            );
            rv = ev["object"]["metadata"]["resourceVersion"]
                .as_str()
                .expect("event rv")
                .to_string();
        }
    }
    writer.join().expect("writer");
    let expected: Vec<String> = (0..10).map(|i| format!("w{i}")).collect();
    assert_eq!(
        seen, expected,
        "events lost or duplicated across reconnects"
    );
    assert!(
        streams >= 3,
        "only {streams} watch streams: drops were not exercised"
    );
}

#[test]
fn kubectl_get_watch_lists_first_under_drop_fault() {
    require_tools!(KUBECTL);
    let s = Server::start(&["--fault-drop-watch-after-ms", "400"]);
    let kubeconfig = s._dir.path().join("kubeconfig");
    create_cm(s.addr, "before");
    let mut child = Command::new("kubectl")
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .arg(format!(
            "--cache-dir={}",
            s._dir.path().join("cache").display()
        ))
        .args([
            "get",
            "configmaps",
            "--watch",
            "-o",
            "name",
            "--request-timeout=0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kubectl");
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(10));
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(first.ok().as_deref(), Some("configmap/before"));
}
