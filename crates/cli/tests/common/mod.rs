//! Shared helpers of the end-to-end tests. Everything is real: the API server of the backend
//! `FJORD_TEST_BACKEND` picks (`fjord local-cluster` as a child process of the built binary, or
//! the real control plane of `fjord_testkit::ControlPlane`) and the controller (`fjord
//! controller`) as a child process; objects are made and inspected with the installed `kubectl`, and Git
//! repositories are served by real servers (the fixtures of `crates/source/tests/support`:
//! `git daemon`, `git http-backend`, OpenSSH `sshd`).

#![allow(dead_code)]

#[path = "../../../source/tests/support/mod.rs"]
pub mod support;
pub mod webhook_hardening;

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub const FJORD: &str = env!("CARGO_BIN_EXE_fjord");
/// The controller's namespace.
pub const NS: &str = "argocd";
/// How long a convergence may take before a test fails (generous: tests share two cores).
pub const CONVERGE: Duration = Duration::from_secs(45);

/// A child process, killed on drop.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// stdout and stderr of a finished command.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The string at JSON pointer `p` (empty when absent).
pub fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

/// Polls `f` every 100 ms until it returns `Some`, or panics after `timeout` with `what` and
/// the output of `context`.
pub fn poll<T>(
    what: &str,
    timeout: Duration,
    context: impl Fn() -> String,
    mut f: impl FnMut() -> Option<T>,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() > timeout {
            panic!(
                "timed out after {timeout:?} waiting for {what}\n{}",
                context()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What serves the Kubernetes API of a test: `fjord local-cluster` as a child process, or the
/// real control plane (`FJORD_TEST_BACKEND=real`, see `fjord_testkit`).
pub enum Server {
    /// `fjord local-cluster --in-memory`.
    Local(Proc),
    /// etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok.
    Real(fjord_testkit::ControlPlane),
}

/// The Kubernetes API of one test, on the backend `FJORD_TEST_BACKEND` picks.
pub struct Cluster {
    /// The server (stopped on drop).
    pub server: Server,
    /// Holds the cluster's kubeconfig, the controller's cache and logs.
    pub dir: tempfile::TempDir,
    /// The admin kubeconfig.
    pub kubeconfig: PathBuf,
}

/// The backend of this test process.
pub fn backend() -> fjord_testkit::Backend {
    fjord_testkit::Backend::current()
}

/// Whether this test process runs against the real control plane.
pub fn real() -> bool {
    backend().is_real()
}

impl Cluster {
    /// Starts the API of the chosen backend and waits until it serves. With
    /// `FJORD_TEST_CRDS=argocd`, Argo CD's own published Application and AppProject CRDs are
    /// installed first, as on a cluster that migrates from Argo CD.
    pub fn start() -> Cluster {
        let cluster = Cluster::start_backend();
        match std::env::var("FJORD_TEST_CRDS").as_deref() {
            Ok("argocd") => cluster.install_argocd_crds(),
            Ok("") | Ok("fjord") | Err(_) => {}
            Ok(other) => panic!("FJORD_TEST_CRDS={other}: expected fjord or argocd"),
        }
        cluster
    }

    /// Installs Argo CD's published CRDs (`fjord_testkit::ARGOCD_VERSION`) with `kubectl
    /// create` (the Application CRD is too large for client-side apply) and waits until they
    /// are Established.
    pub fn install_argocd_crds(&self) {
        let dir = fjord_testkit::argocd_crds().unwrap_or_else(|e| panic!("{e}"));
        for f in ["application-crd.yaml", "appproject-crd.yaml"] {
            let path = dir.join(f);
            self.kubectl_ok(&["create", "-f", path.to_str().unwrap()]);
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
        poll(
            "the argoproj.io CRDs to be Established",
            Duration::from_secs(60),
            || text(&self.kubectl(&args)),
            || self.kubectl(&args).status.success().then_some(()),
        );
    }

    fn start_backend() -> Cluster {
        match backend() {
            fjord_testkit::Backend::Local => Cluster::start_with(&[]),
            fjord_testkit::Backend::Real => {
                let cp = fjord_testkit::ControlPlane::start_or_panic();
                let dir = tempfile::tempdir().unwrap();
                let kubeconfig = cp.kubeconfig();
                Cluster {
                    server: Server::Real(cp),
                    dir,
                    kubeconfig,
                }
            }
        }
    }

    /// `fjord local-cluster` with `extra` flags (`--fault-rule …`): the local API only, so tests
    /// that call this are named `local_api_*` and left out of the real pass by name.
    pub fn start_with(extra: &[&str]) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("cluster");
        let log = std::fs::File::create(dir.path().join("cluster.log")).unwrap();
        let child = Command::new(FJORD)
            .args(["local-cluster", "--in-memory", "--sim-delay-ms", "50"])
            .args(["--addr", "127.0.0.1:0", "--data-dir"])
            .arg(&data)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn fjord local-cluster");
        let mut proc = Proc(child);
        let kubeconfig = data.join("kubeconfig");
        poll(
            "the local cluster's kubeconfig",
            Duration::from_secs(30),
            String::new,
            || {
                if let Ok(Some(st)) = proc.0.try_wait() {
                    panic!("fjord local-cluster exited: {st}");
                }
                let t = std::fs::read_to_string(&kubeconfig).unwrap_or_default();
                t.contains("preferences:").then_some(())
            },
        );
        Cluster {
            server: Server::Local(proc),
            dir,
            kubeconfig,
        }
    }

    /// The `config` of an Argo CD cluster Secret that reaches this cluster as its kubeconfig's
    /// user does (CA, client certificate and key, or bearer token, as base64 data fields).
    pub fn argocd_cluster_config(&self) -> String {
        let kc = std::fs::read_to_string(&self.kubeconfig).unwrap();
        let field = |k: &str| {
            kc.lines()
                .find_map(|l| l.trim().strip_prefix(&format!("{k}: ")))
                .map(|v| v.trim().to_string())
        };
        let mut tls = json!({"insecure": false});
        for (from, to) in [
            ("certificate-authority-data", "caData"),
            ("client-certificate-data", "certData"),
            ("client-key-data", "keyData"),
        ] {
            if let Some(v) = field(from) {
                tls[to] = json!(v);
            }
        }
        let mut config = json!({"tlsClientConfig": tls});
        if let Some(t) = field("token") {
            config["bearerToken"] = json!(t);
        }
        config.to_string()
    }

    /// The real control plane, when this is one.
    pub fn control_plane(&self) -> Option<&fjord_testkit::ControlPlane> {
        match &self.server {
            Server::Real(cp) => Some(cp),
            Server::Local(_) => None,
        }
    }

    /// Runs kubectl against the cluster.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .output()
            .expect("run kubectl")
    }

    /// Runs kubectl and returns its stdout; panics on failure.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let o = self.kubectl(args);
        assert!(o.status.success(), "kubectl {args:?}: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// `kubectl apply -f -` of a YAML or JSON manifest.
    pub fn apply(&self, manifest: &str) {
        let mut child = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(["apply", "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run kubectl");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(manifest.as_bytes())
            .unwrap();
        let o = child.wait_with_output().unwrap();
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

    /// An object as JSON, if it exists.
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
        Some(serde_json::from_slice(&o.stdout).unwrap())
    }

    /// Whether an object exists.
    pub fn exists(&self, kind: &str, ns: &str, name: &str) -> bool {
        self.get(kind, ns, name).is_some()
    }

    /// Runs the fjord binary with `--kubeconfig` of this cluster appended.
    pub fn fjord(&self, args: &[&str]) -> Output {
        Command::new(FJORD)
            .args(args)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .output()
            .expect("run fjord")
    }

    /// Runs the fjord binary, asserts exit 0, returns stdout.
    pub fn fjord_ok(&self, args: &[&str]) -> String {
        let o = self.fjord(args);
        assert!(o.status.success(), "fjord {args:?}: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
}

/// `fjord controller` as its own process, its stderr in a log file.
pub struct Controller {
    proc: Proc,
    /// The controller's stderr.
    pub log: PathBuf,
    /// `/metrics`, `/healthz`, `/readyz`.
    pub metrics: SocketAddr,
    /// `POST /api/webhook`.
    pub webhook: SocketAddr,
}

impl Controller {
    /// Starts the controller on `cluster` with polling interval `resync` (`2s`, `10m`) and waits
    /// until it serves.
    pub fn start(cluster: &Cluster, resync: &str) -> Controller {
        Controller::start_with(cluster, resync, &[])
    }

    /// [`Controller::start`] with more flags.
    pub fn start_with(cluster: &Cluster, resync: &str, extra: &[&str]) -> Controller {
        let mut cmd = Command::new(FJORD);
        cmd.arg("controller")
            .arg("--kubeconfig")
            .arg(&cluster.kubeconfig)
            .args([
                "--metrics-addr",
                "127.0.0.1:0",
                "--webhook-addr",
                "127.0.0.1:0",
                "--sealed-secrets-addr",
                "127.0.0.1:0",
            ])
            .arg("--cache-dir")
            .arg(cluster.dir.path().join("cache"))
            .args(["--resync", resync])
            .args(extra);
        Controller::spawn(cmd, &cluster.dir.path().join("controller.log"))
    }

    /// Runs `cmd` (a `fjord controller` command line, maybe wrapped), its stderr into `log`, and
    /// waits until the controller serves.
    pub fn spawn(mut cmd: Command, log: &Path) -> Controller {
        let log = log.to_path_buf();
        let file = std::fs::File::create(&log).unwrap();
        let child = cmd
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawn fjord controller");
        let mut proc = Proc(child);
        // "fjord controller running (namespace argocd, metrics http://A, webhook http://B/api/webhook)"
        let (metrics, webhook) = poll(
            "the controller to serve",
            Duration::from_secs(60),
            || std::fs::read_to_string(&log).unwrap_or_default(),
            || {
                if let Ok(Some(st)) = proc.0.try_wait() {
                    panic!(
                        "fjord controller exited: {st}\n{}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    );
                }
                let t = std::fs::read_to_string(&log).unwrap_or_default();
                let line = t
                    .lines()
                    .find(|l| l.starts_with("fjord controller running"))?;
                let addr = |key: &str| -> SocketAddr {
                    let rest = &line[line.find(key).unwrap() + key.len()..];
                    let end = rest.find([',', '/', ')']).unwrap();
                    rest[..end].parse().unwrap()
                };
                Some((addr("metrics http://"), addr("webhook http://")))
            },
        );
        Controller {
            proc,
            log,
            metrics,
            webhook,
        }
    }

    /// Everything the controller logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Asserts that the controller logged no error (warnings are allowed).
    pub fn assert_no_errors(&self) {
        let log = self.log_text();
        let errors: Vec<&str> = log
            .lines()
            .filter(|l| l.contains(r#""level":"error""#))
            .collect();
        assert!(
            errors.is_empty(),
            "the controller logged errors:\n{}",
            errors.join("\n")
        );
    }
}

/// A cluster and a controller.
pub struct Env {
    /// The controller (dropped first).
    pub controller: Controller,
    /// The API.
    pub cluster: Cluster,
}

impl Deref for Env {
    type Target = Cluster;
    fn deref(&self) -> &Cluster {
        &self.cluster
    }
}

impl Env {
    /// Starts the API and the controller with polling interval `resync`.
    pub fn start(resync: &str) -> Env {
        let cluster = Cluster::start();
        let controller = Controller::start(&cluster, resync);
        Env {
            controller,
            cluster,
        }
    }

    /// The Application `name`; panics when it does not exist.
    pub fn app(&self, name: &str) -> Value {
        self.get("application", NS, name)
            .unwrap_or_else(|| panic!("application {name} does not exist"))
    }

    /// What a failed wait prints: every app's status and the controller's log.
    pub fn diagnostics(&self) -> String {
        let apps = self.kubectl(&["get", "applications", "-n", NS, "-o", "json"]);
        let apps: Value = serde_json::from_slice(&apps.stdout).unwrap_or(Value::Null);
        let mut out = String::from("--- applications:\n");
        for a in apps["items"].as_array().into_iter().flatten() {
            let mut st = a["status"].clone();
            if let Some(m) = st.as_object_mut() {
                m.remove("history");
            }
            out += &format!("{}: {st}\n", s(a, "/metadata/name"));
        }
        let log = self.controller.log_text();
        let lines: Vec<&str> = log.lines().collect();
        out += "--- controller log (last 40 lines):\n";
        for l in &lines[lines.len().saturating_sub(40)..] {
            out += l;
            out.push('\n');
        }
        out
    }

    /// Polls `f` until it returns `Some` (panics with diagnostics after `timeout`).
    pub fn wait<T>(&self, what: &str, timeout: Duration, f: impl FnMut() -> Option<T>) -> T {
        poll(what, timeout, || self.diagnostics(), f)
    }

    /// Waits until the Application satisfies `pred`; returns it.
    pub fn wait_app(&self, name: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        self.wait(&format!("application {name}: {what}"), CONVERGE, || {
            self.get("application", NS, name).filter(|a| pred(a))
        })
    }

    /// Waits until the app is Synced and Healthy, at `revision` when given.
    pub fn wait_synced(&self, name: &str, revision: Option<&str>) -> Value {
        let what = format!(
            "Synced and Healthy at {}",
            revision.unwrap_or("any revision")
        );
        self.wait_app(name, &what, |a| {
            s(a, "/status/sync/status") == "Synced"
                && s(a, "/status/health/status") == "Healthy"
                && revision.is_none_or(|r| s(a, "/status/sync/revision") == r)
                && a.get("operation").is_none()
                && s(a, "/status/operationState/phase") != "Running"
        })
    }

    /// Waits until a live object satisfies `pred` (`None`: it does not exist).
    pub fn wait_object(
        &self,
        kind: &str,
        ns: &str,
        name: &str,
        what: &str,
        pred: impl Fn(Option<&Value>) -> bool,
    ) {
        self.wait(&format!("{kind} {ns}/{name}: {what}"), CONVERGE, || {
            pred(self.get(kind, ns, name).as_ref()).then_some(())
        })
    }

    /// Waits until ConfigMap `ns/name` has `key: value`; returns how long that took.
    pub fn wait_config(&self, ns: &str, name: &str, key: &str, value: &str) -> Duration {
        let start = Instant::now();
        self.wait_object("configmap", ns, name, &format!("{key}={value}"), |o| {
            o.is_some_and(|o| o["data"][key] == value)
        });
        start.elapsed()
    }
}

/// The history entries of an app.
pub fn history(app: &Value) -> Vec<Value> {
    app.pointer("/status/history")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// The revisions of an app's history, oldest first.
pub fn history_revisions(app: &Value) -> Vec<String> {
    history(app)
        .iter()
        .map(|h| s(h, "/revision").to_string())
        .collect()
}

/// The status entry of one resource of an app.
pub fn resource<'a>(app: &'a Value, kind: &str, name: &str) -> Option<&'a Value> {
    app.pointer("/status/resources")
        .and_then(Value::as_array)?
        .iter()
        .find(|r| r["kind"] == kind && r["name"] == name)
}

/// A Git repository: a working copy pushing to a bare repository `root/<rel>`, which the test
/// serves with one of the servers.
pub struct GitRepo {
    tmp: tempfile::TempDir,
    /// The working copy.
    pub work: PathBuf,
    /// The directory the servers export.
    pub root: PathBuf,
    /// The bare repository.
    pub bare: PathBuf,
}

impl GitRepo {
    /// A repository at `root/<rel>` (`shop.git`, `org/config.git`) holding `files`, committed
    /// and pushed on `main`.
    pub fn new(rel: &str, files: &[(&str, String)]) -> GitRepo {
        let tmp = tempfile::tempdir().unwrap();
        let work = tmp.path().join("work");
        let root = tmp.path().join("served");
        let bare = root.join(rel);
        std::fs::create_dir_all(&work).unwrap();
        std::fs::create_dir_all(&bare).unwrap();
        support::git(&bare, &["init", "-q", "--bare", "-b", "main"]);
        support::git(&work, &["init", "-q", "-b", "main"]);
        let repo = GitRepo {
            tmp,
            work,
            root,
            bare,
        };
        for (rel, text) in files {
            repo.write(rel, text);
        }
        repo.commit_push("initial");
        repo
    }

    /// Writes a file of the working copy.
    pub fn write(&self, rel: &str, text: &str) {
        let p = self.work.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// Removes a file of the working copy.
    pub fn remove(&self, rel: &str) {
        std::fs::remove_file(self.work.join(rel)).unwrap();
    }

    /// Commits everything, pushes `main` to the bare repository, returns the commit id.
    pub fn commit_push(&self, msg: &str) -> String {
        support::git(&self.work, &["add", "-A"]);
        support::git(&self.work, &["commit", "-q", "--allow-empty", "-m", msg]);
        let bare = self.bare.to_str().unwrap();
        support::git(&self.work, &["push", "-q", "--force", bare, "main"]);
        self.head()
    }

    /// The working copy's HEAD commit.
    pub fn head(&self) -> String {
        support::git(&self.work, &["rev-parse", "HEAD"])
    }

    /// A scratch directory next to the repository (for keys, server config).
    pub fn scratch(&self, name: &str) -> PathBuf {
        let p = self.tmp.path().join(name);
        std::fs::create_dir_all(&p).unwrap();
        p
    }
}

/// `git daemon` on a free port, exporting every repository under `base`.
pub fn git_daemon(base: &Path) -> support::Server {
    git_daemon_on(base, support::free_port())
}

/// `git daemon` on a given port (to restart a server where it was). The `git-daemon` program
/// is run directly: `git daemon` runs it as a child that outlives a killed `git` and keeps
/// serving.
pub fn git_daemon_on(base: &Path, port: u16) -> support::Server {
    let exec_path = PathBuf::from(support::git(base, &["--exec-path"]));
    let mut child = Command::new(exec_path.join("git-daemon"))
        .args(["--export-all", "--reuseaddr", "--listen=127.0.0.1"])
        .arg(format!("--port={port}"))
        .arg(format!("--base-path={}", base.display()))
        .arg(base)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn git daemon");
    support::wait_for_port(port, &mut child, "git daemon");
    support::Server { child, port }
}

/// A ConfigMap manifest with one key.
pub fn configmap(name: &str, key: &str, value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  {key}: {value}\n")
}

/// A Deployment manifest.
pub fn deployment(name: &str, replicas: u32) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: {replicas}\n  \
         selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        \
         app: {name}\n    spec:\n      containers:\n      - name: {name}\n        image: nginx:1.27\n"
    )
}

/// An Application deploying `path` of `repo` to namespace `dest` (created by the sync), with
/// `automated` as `syncPolicy.automated` (None: manual sync).
pub fn application(
    name: &str,
    repo: &str,
    path: &str,
    dest: &str,
    automated: Option<Value>,
) -> Value {
    let mut policy = json!({"syncOptions": ["CreateNamespace=true"]});
    if let Some(a) = automated {
        policy["automated"] = a;
    }
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "project": "default",
            "source": {"repoURL": repo, "targetRevision": "HEAD", "path": path},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": dest},
            "syncPolicy": policy,
        },
    })
}

/// An Argo CD repository (or `repo-creds`) Secret with `fields` as `stringData`.
pub fn repo_secret(name: &str, secret_type: &str, fields: &[(&str, &str)]) -> Value {
    let data: serde_json::Map<String, Value> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": NS,
            "labels": {"argocd.argoproj.io/secret-type": secret_type}},
        "stringData": data,
    })
}

/// One HTTP/1.1 request (`Connection: close`); returns the status code and the body.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let mut conn = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req += &format!("{k}: {v}\r\n");
    }
    req += "\r\n";
    conn.write_all(req.as_bytes()).unwrap();
    conn.write_all(body).unwrap();
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP response");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut payload = raw[split + 4..].to_vec();
    let code: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status code");
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        payload = dechunk(&payload);
    }
    (code, String::from_utf8_lossy(&payload).into_owned())
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size = String::from_utf8_lossy(&b[..eol]);
        let n =
            usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        let start = eol + 2;
        out.extend_from_slice(&b[start..(start + n).min(b.len())]);
        b = &b[(start + n + 2).min(b.len())..];
    }
    out
}
