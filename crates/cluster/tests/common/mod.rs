//! Shared helpers: the API server chosen by `FJORD_TEST_BACKEND` (the in-process local one on a
//! free port with a temp data dir, or the real control plane of `scripts/control-plane.sh`),
//! the real `kubectl` pointed at it with a fresh discovery cache, and raw HTTP to it.
//!
//! Tests named `local_api_*` exercise what only fjord's local API has (in-process options,
//! fault injection, its data dir); they always run against a local server, and the real pass of
//! `scripts/test.sh` skips them by name (`--skip local_api_`).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use fjord_cluster::{ClusterHandle, ClusterOptions};
use fjord_testkit::{Backend, ControlPlane};

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

/// The server behind a [`Cluster`].
enum Server {
    /// fjord's local API in this process.
    Local {
        rt: tokio::runtime::Runtime,
        handle: Option<ClusterHandle>,
    },
    /// kube-apiserver v1.34 with its controllers and kwok nodes.
    Real(ControlPlane),
}

/// A running API server, local or real.
pub struct Cluster {
    server: Server,
    /// Scratch folder; for a local server also its data dir.
    pub dir: tempfile::TempDir,
    /// kubectl's discovery cache.
    pub cache: PathBuf,
}

impl Cluster {
    /// Starts the backend `FJORD_TEST_BACKEND` names (the local one with a short simulation
    /// delay).
    pub fn start() -> Cluster {
        match Backend::current() {
            Backend::Local => Cluster::local_with(|_| {}),
            Backend::Real => {
                let dir = tempfile::tempdir().expect("tempdir");
                let cache = dir.path().join("kubectl-cache");
                Cluster {
                    server: Server::Real(ControlPlane::start_or_panic()),
                    dir,
                    cache,
                }
            }
        }
    }

    /// Starts fjord's local API whatever the backend, after letting `f` adjust its options:
    /// only for `local_api_*` tests of local-only features.
    pub fn local_with(f: impl FnOnce(&mut ClusterOptions)) -> Cluster {
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
            server: Server::Local {
                rt,
                handle: Some(handle),
            },
            dir,
            cache,
        }
    }

    /// Whether this is the real control plane.
    pub fn is_real(&self) -> bool {
        matches!(self.server, Server::Real(_))
    }

    /// The admin kubeconfig.
    pub fn kubeconfig(&self) -> PathBuf {
        match &self.server {
            Server::Local { handle, .. } => {
                handle.as_ref().expect("running").kubeconfig().to_path_buf()
            }
            Server::Real(cp) => cp.kubeconfig(),
        }
    }

    /// Runs kubectl with the cluster's kubeconfig, feeding `stdin`.
    pub fn kubectl_in(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new("kubectl")
            .arg(format!("--kubeconfig={}", self.kubeconfig().display()))
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

    /// One raw request as the admin (plain HTTP to the local API; HTTPS with the admin client
    /// certificate to the real one); returns (status, body).
    pub fn http(&self, method: &str, path: &str, content_type: &str, body: &str) -> (u16, String) {
        match &self.server {
            Server::Local { handle, .. } => http(
                handle.as_ref().expect("running").addr(),
                method,
                path,
                content_type,
                body,
            ),
            Server::Real(cp) => curl(cp, method, path, content_type, body),
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Server::Local { rt, handle } = &mut self.server {
            if let Some(h) = handle.take() {
                rt.block_on(h.shutdown());
            }
        }
    }
}

/// The marker `curl -w` prints after the body, before the status code.
const STATUS_MARK: &str = "\n--fjord-test-status--";

/// A request to the real API server through `curl` with the admin client certificate.
fn curl(
    cp: &ControlPlane,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> (u16, String) {
    let pki = |f: &str| cp.dir().join("pki").join(f);
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "30", "-X", method])
        .arg("--cacert")
        .arg(pki("ca.crt"))
        .arg("--cert")
        .arg(pki("admin.crt"))
        .arg("--key")
        .arg(pki("admin.key"))
        .arg("-w")
        .arg(format!("{STATUS_MARK}%{{http_code}}"));
    if !content_type.is_empty() {
        cmd.arg("-H").arg(format!("Content-Type: {content_type}"));
    }
    if !body.is_empty() {
        cmd.args(["--data-binary", "@-"]);
    }
    let mut child = cmd
        .arg(format!("{}{path}", cp.api_url()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn curl");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("curl output");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let Some((body, code)) = text.rsplit_once(STATUS_MARK) else {
        panic!(
            "curl {method} {path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    (code.trim().parse().unwrap_or(0), body.to_string())
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
