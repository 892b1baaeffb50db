//! The Kubernetes API of one test, on the backend `FJORD_TEST_BACKEND` picks: fjord's local API
//! (started by the test crate: in-process, or `fjord local-cluster` as a child process with
//! [`LocalProcess`]) or the real control plane ([`ControlPlane`]); driven with the installed
//! `kubectl` and raw HTTP.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::binary::text;
use crate::process::Proc;
use crate::{Backend, ControlPlane};

/// fjord's local API as a test crate runs it; stopped when dropped.
pub trait LocalApi {
    /// Its admin kubeconfig.
    fn kubeconfig(&self) -> PathBuf;
    /// Its plain-HTTP address.
    fn addr(&self) -> SocketAddr;
}

/// What serves a [`Cluster`].
pub enum Server {
    /// fjord's local API.
    Local(Box<dyn LocalApi>),
    /// etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok.
    Real(ControlPlane),
}

/// A running API server, local or real, with a scratch folder; stopped when dropped.
pub struct Cluster {
    /// The server (stopped first on drop).
    pub server: Server,
    /// Scratch folder of the test (logs, caches; the local API's data when it puts it here).
    pub dir: tempfile::TempDir,
    /// The admin kubeconfig.
    pub kubeconfig: PathBuf,
    /// kubectl's discovery cache (fresh per cluster).
    pub cache: PathBuf,
}

impl Cluster {
    /// Starts the backend `FJORD_TEST_BACKEND` names; `local` starts fjord's local API given the
    /// scratch folder.
    pub fn start(local: impl FnOnce(&Path) -> Box<dyn LocalApi>) -> Cluster {
        match Backend::current() {
            Backend::Local => Cluster::local(local),
            Backend::Real => Cluster::real(),
        }
    }

    /// fjord's local API whatever the backend (tests of local-only features, named
    /// `local_api_*`, which the real pass skips).
    pub fn local(local: impl FnOnce(&Path) -> Box<dyn LocalApi>) -> Cluster {
        let dir = crate::tempdir::tempdir("cluster");
        let api = local(dir.path());
        let kubeconfig = api.kubeconfig();
        Cluster::with(Server::Local(api), dir, kubeconfig)
    }

    /// A real control plane whatever the backend.
    pub fn real() -> Cluster {
        Cluster::from_control_plane(ControlPlane::start_or_panic())
    }

    /// A cluster on a control plane the test started itself.
    pub fn from_control_plane(cp: ControlPlane) -> Cluster {
        let kubeconfig = cp.kubeconfig();
        Cluster::with(
            Server::Real(cp),
            crate::tempdir::tempdir("cluster"),
            kubeconfig,
        )
    }

    fn with(server: Server, dir: tempfile::TempDir, kubeconfig: PathBuf) -> Cluster {
        let cache = dir.path().join("kubectl-cache");
        Cluster {
            server,
            dir,
            kubeconfig,
            cache,
        }
    }

    /// Whether this is the real control plane.
    pub fn is_real(&self) -> bool {
        matches!(self.server, Server::Real(_))
    }

    /// The real control plane, when this is one.
    pub fn control_plane(&self) -> Option<&ControlPlane> {
        match &self.server {
            Server::Real(cp) => Some(cp),
            Server::Local(_) => None,
        }
    }

    /// Runs kubectl with the cluster's kubeconfig, feeding `stdin`.
    pub fn kubectl_in(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new("kubectl")
            .arg(format!("--kubeconfig={}", self.kubeconfig.display()))
            .arg(format!("--cache-dir={}", self.cache.display()))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run kubectl");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write kubectl's stdin");
        child.wait_with_output().expect("kubectl's output")
    }

    /// Runs kubectl.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_in(args, "")
    }

    /// Runs kubectl, asserts success, returns stdout.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        self.kubectl_ok_in(args, "")
    }

    /// Runs kubectl with `stdin`, asserts success, returns stdout.
    pub fn kubectl_ok_in(&self, args: &[&str], stdin: &str) -> String {
        let o = self.kubectl_in(args, stdin);
        assert!(o.status.success(), "kubectl {args:?} failed: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Runs kubectl with `stdin` expecting failure; returns stderr.
    pub fn kubectl_fails(&self, args: &[&str], stdin: &str) -> String {
        let o = self.kubectl_in(args, stdin);
        assert!(
            !o.status.success(),
            "kubectl {args:?} unexpectedly succeeded: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        String::from_utf8_lossy(&o.stderr).into_owned()
    }

    /// `kubectl apply -f -` of a YAML or JSON manifest; asserts success.
    pub fn apply(&self, manifest: &str) {
        let o = self.kubectl_in(&["apply", "-f", "-"], manifest);
        assert!(
            o.status.success(),
            "kubectl apply: {}\n{manifest}",
            text(&o)
        );
    }

    /// `kubectl apply` of a JSON object.
    pub fn apply_json(&self, v: &Value) {
        self.apply(&v.to_string());
    }

    /// An object as JSON, if it exists (any other failure panics).
    pub fn get(&self, kind: &str, ns: &str, name: &str) -> Option<Value> {
        let o = self.kubectl(&["get", kind, name, "-n", ns, "-o", "json"]);
        if !o.status.success() {
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(
                err.contains("NotFound") || err.contains("not found"),
                "{err}"
            );
            return None;
        }
        Some(serde_json::from_slice(&o.stdout).expect("kubectl get prints JSON"))
    }

    /// Whether an object exists.
    pub fn exists(&self, kind: &str, ns: &str, name: &str) -> bool {
        self.get(kind, ns, name).is_some()
    }

    /// `kubectl get ARGS -o json`, parsed; asserts success.
    pub fn get_json(&self, args: &[&str]) -> Value {
        let mut a = vec!["get"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["-o", "json"]);
        serde_json::from_str(&self.kubectl_ok(&a)).expect("kubectl get prints JSON")
    }

    /// One raw request as the admin (plain HTTP to the local API; HTTPS with the admin client
    /// certificate through `curl` to the real one); returns (status, body).
    pub fn http(&self, method: &str, path: &str, content_type: &str, body: &str) -> (u16, String) {
        match &self.server {
            Server::Local(api) => local_http(api.addr(), method, path, content_type, body),
            Server::Real(cp) => curl(cp, method, path, content_type, body),
        }
    }

    /// Installs Argo CD's published CRDs ([`crate::ARGOCD_VERSION`]) with `kubectl create` (the
    /// Application CRD is too large for client-side apply) and waits until they are
    /// Established.
    pub fn install_argocd_crds(&self) {
        let dir = crate::argocd_crds().unwrap_or_else(|e| panic!("{e}"));
        for f in ["application-crd.yaml", "appproject-crd.yaml"] {
            let path = dir.join(f);
            self.kubectl_ok(&["create", "-f", path.to_str().expect("utf-8 path")]);
        }
        self.wait_argoproj_crds();
    }

    /// Waits until the Application and AppProject CRDs are Established. (`kubectl wait` fails
    /// at once while a new CRD has no conditions yet, so it is asked again.)
    pub fn wait_argoproj_crds(&self) {
        let args = [
            "wait",
            "--for=condition=Established",
            "crd/applications.argoproj.io",
            "crd/appprojects.argoproj.io",
            "--timeout=10s",
        ];
        crate::wait::poll(
            "the argoproj.io CRDs to be Established",
            Duration::from_secs(60),
            || text(&self.kubectl(&args)),
            || self.kubectl(&args).status.success().then_some(()),
        );
    }
}

/// `fjord local-cluster` (or the cluster crate's `local_cluster`) as a child process leading
/// its own process group.
pub struct LocalProcess {
    proc: Proc,
    kubeconfig: PathBuf,
    addr: SocketAddr,
}

impl LocalProcess {
    /// Runs `program ARGS --addr 127.0.0.1:0 --data-dir DATA`, its stderr into `log`, and waits
    /// (30 s) until it wrote its kubeconfig into `data`.
    pub fn spawn(program: &Path, args: &[&str], data: &Path, log: &Path) -> LocalProcess {
        let file = std::fs::File::create(log).expect("create the local cluster's log");
        let mut cmd = Command::new(program);
        cmd.args(args)
            .args(["--addr", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .stdout(Stdio::null())
            .stderr(file);
        let mut proc = Proc::spawn_or_panic(&mut cmd, "the local cluster");
        let kubeconfig = data.join("kubeconfig");
        let addr = crate::wait::poll(
            "the local cluster's kubeconfig",
            Duration::from_secs(30),
            || std::fs::read_to_string(log).unwrap_or_default(),
            || {
                proc.assert_running("the local cluster");
                let t = std::fs::read_to_string(&kubeconfig).unwrap_or_default();
                if !t.contains("preferences:") {
                    return None;
                }
                t.lines()
                    .find_map(|l| l.trim().strip_prefix("server: http://"))
                    .and_then(|a| a.trim_end_matches('/').parse().ok())
            },
        );
        LocalProcess {
            proc,
            kubeconfig,
            addr,
        }
    }

    /// The process.
    pub fn proc_mut(&mut self) -> &mut Proc {
        &mut self.proc
    }
}

impl LocalApi for LocalProcess {
    fn kubeconfig(&self) -> PathBuf {
        self.kubeconfig.clone()
    }

    fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// A minimal HTTP/1.1 request (Connection: close) with a `Content-Type`; returns (status,
/// body). The response is taken as it comes (a chunked body stays chunked).
pub fn local_http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> (u16, String) {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
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
        .expect("run curl");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("write curl's stdin");
    let out = child.wait_with_output().expect("curl's output");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let Some((body, code)) = text.rsplit_once(STATUS_MARK) else {
        panic!(
            "curl {method} {path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    (code.trim().parse().unwrap_or(0), body.to_string())
}
