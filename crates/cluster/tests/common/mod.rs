//! Shared helpers: an in-process server on a free port with a temp data dir, and the real
//! `kubectl` pointed at it with a fresh discovery cache.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use fjord_cluster::{ClusterHandle, ClusterOptions};

/// Checks that the real kubectl is installed; a missing one fails the test (the test command
/// installs everything the tests use).
pub fn need_kubectl() {
    let ok = Command::new("kubectl")
        .args(["version", "--client"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kubectl is not installed: the kubectl tests need it");
}

/// A running in-process cluster.
pub struct Cluster {
    pub rt: tokio::runtime::Runtime,
    pub handle: Option<ClusterHandle>,
    pub dir: tempfile::TempDir,
    pub cache: PathBuf,
}

impl Cluster {
    /// Starts a durable cluster with a short simulation delay.
    pub fn start() -> Cluster {
        Cluster::start_with(|_| {})
    }

    /// Starts a cluster after letting `f` adjust the options.
    pub fn start_with(f: impl FnOnce(&mut ClusterOptions)) -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut opts = ClusterOptions::new(dir.path());
        opts.addr = "127.0.0.1:0".parse().expect("addr");
        opts.sim.delay = Duration::from_millis(200);
        f(&mut opts);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let handle = rt.block_on(fjord_cluster::serve(opts)).expect("serve");
        let cache = dir.path().join("kubectl-cache");
        Cluster {
            rt,
            handle: Some(handle),
            dir,
            cache,
        }
    }

    /// The server address.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.handle.as_ref().expect("running").addr()
    }

    /// Runs kubectl with the written kubeconfig, feeding `stdin`.
    pub fn kubectl_in(&self, args: &[&str], stdin: &str) -> Output {
        let kubeconfig = self
            .handle
            .as_ref()
            .expect("running")
            .kubeconfig()
            .to_path_buf();
        let mut child = Command::new("kubectl")
            .arg(format!("--kubeconfig={}", kubeconfig.display()))
            .arg(format!("--cache-dir={}", self.cache.display()))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kubectl");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("kubectl output")
    }

    /// Runs kubectl.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_in(args, "")
    }

    /// Runs kubectl and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        self.ok_in(args, "")
    }

    /// Runs kubectl with stdin and asserts success; returns stdout.
    pub fn ok_in(&self, args: &[&str], stdin: &str) -> String {
        let out = self.kubectl_in(args, stdin);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs kubectl expecting failure; returns stderr.
    pub fn fails(&self, args: &[&str], stdin: &str) -> String {
        let out = self.kubectl_in(args, stdin);
        assert!(
            !out.status.success(),
            "kubectl {args:?} unexpectedly succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// `kubectl get -o json` parsed.
    pub fn get_json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = vec!["get"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["-o", "json"]);
        serde_json::from_str(&self.ok(&a)).expect("json")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            self.rt.block_on(h.shutdown());
        }
    }
}

/// A minimal HTTP/1.1 request (Connection: close); returns (status, body).
pub fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).expect("send");
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}
