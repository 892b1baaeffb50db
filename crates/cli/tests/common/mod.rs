//! Shared helpers of the end-to-end tests. Everything is real: the API server of the backend
//! `FJORD_TEST_BACKEND` picks (`fjord local-cluster` as a child process of the built binary, or
//! the real control plane), the controller (`fjord controller`) as a child process; objects are
//! made and inspected with the installed `kubectl`, and Git repositories are served by real
//! servers (`git daemon`, `git http-backend`, OpenSSH `sshd`). The generic parts are
//! `fjord_testkit`'s; what is here knows the `fjord` binary and Argo CD's objects.

#![allow(dead_code)]

pub mod in_cluster;
pub mod manifests;
pub mod proxy_pod;
pub mod replicas;
pub mod sealed;
pub mod server;
pub mod webhook_hardening;

// The kit's parts every suite here uses (each test binary uses some of them).
#[allow(unused_imports)]
pub use fjord_testkit::{
    binary::text, git::GitRepo, git_daemon::git_daemon, git_daemon::git_daemon_on,
    http::request as http, wait::poll,
};

use fjord_testkit::binary::Binary;
use fjord_testkit::{LocalApi, LocalProcess, Proc};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub const FJORD: &str = env!("CARGO_BIN_EXE_fjord");
/// The controller's namespace.
pub const NS: &str = "argocd";
/// How long a convergence may take before a test fails (generous: tests share two cores).
pub const CONVERGE: Duration = Duration::from_secs(45);

/// A `resource.customizations.health.ConfigMap` for tests that hold a sync open: a ConfigMap
/// annotated `e2e/gate` is Progressing until its `open` key says `yes`; any other is Healthy.
pub const GATE_HEALTH: &str = r#"hs = {}
if obj.metadata.annotations ~= nil and obj.metadata.annotations["e2e/gate"] ~= nil
   and (obj.data == nil or obj.data.open ~= "yes") then
  hs.status = "Progressing"
  hs.message = "the gate is closed"
else
  hs.status = "Healthy"
end
return hs
"#;

/// The binary under test, to run.
pub fn fjord() -> Binary {
    Binary::new(FJORD)
}

/// The string at JSON pointer `p` (empty when absent).
pub fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

/// The backend of this test process.
pub fn backend() -> fjord_testkit::Backend {
    fjord_testkit::Backend::current()
}

/// Whether this test process runs against the real control plane.
pub fn real() -> bool {
    backend().is_real()
}

/// The Kubernetes API of one test ([`fjord_testkit::Cluster`]: kubectl, apply, get, the
/// control plane), with `fjord local-cluster` as the local backend.
pub struct Cluster(pub fjord_testkit::Cluster);

impl Deref for Cluster {
    type Target = fjord_testkit::Cluster;
    fn deref(&self) -> &fjord_testkit::Cluster {
        &self.0
    }
}

/// `fjord local-cluster --in-memory` with `extra` flags, its data and log in the test's folder.
fn local_cluster<'a>(extra: &'a [&'a str]) -> impl FnOnce(&Path) -> Box<dyn LocalApi> + 'a {
    move |dir| {
        let mut args = vec!["local-cluster", "--in-memory", "--sim-delay-ms", "50"];
        args.extend_from_slice(extra);
        Box::new(LocalProcess::spawn(
            Path::new(FJORD),
            &args,
            &dir.join("cluster"),
            &dir.join("cluster.log"),
        ))
    }
}

impl Cluster {
    /// Starts the API of the chosen backend and waits until it serves. With
    /// `FJORD_TEST_CRDS=argocd`, Argo CD's own published Application and AppProject CRDs are
    /// installed first, as on a cluster that migrates from Argo CD.
    pub fn start() -> Cluster {
        let cluster = Cluster(fjord_testkit::Cluster::start(local_cluster(&[])));
        match std::env::var("FJORD_TEST_CRDS").as_deref() {
            Ok("argocd") => cluster.install_argocd_crds(),
            Ok("") | Ok("fjord") | Err(_) => {}
            Ok(other) => panic!("FJORD_TEST_CRDS={other}: expected fjord or argocd"),
        }
        cluster
    }

    /// `fjord local-cluster` with `extra` flags (`--fault-rule …`): the local API only, so tests
    /// that call this are named `local_api_*` and left out of the real pass by name.
    pub fn start_with(extra: &[&str]) -> Cluster {
        Cluster(fjord_testkit::Cluster::local(local_cluster(extra)))
    }

    /// A cluster on a control plane the test started itself.
    pub fn from_control_plane(cp: fjord_testkit::ControlPlane) -> Cluster {
        Cluster(fjord_testkit::Cluster::from_control_plane(cp))
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

    /// Runs the fjord binary with `--kubeconfig` of this cluster appended.
    pub fn fjord(&self, args: &[&str]) -> Output {
        let kubeconfig = self.kubeconfig.to_str().expect("utf-8 path");
        let mut all = args.to_vec();
        all.extend_from_slice(&["--kubeconfig", kubeconfig]);
        fjord().run(&all)
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
        let mut cmd = Controller::command(cluster);
        cmd.args(["--sealed-secrets-addr", "127.0.0.1:0"])
            .arg("--cache-dir")
            .arg(cluster.dir.path().join("cache"))
            .args(["--resync", resync])
            .args(extra);
        Controller::spawn(cmd, &cluster.dir.path().join("controller.log"))
    }

    /// `fjord controller` on `cluster` with its metrics and webhook servers on free loopback
    /// ports; the caller adds the other flags.
    pub fn command(cluster: &Cluster) -> Command {
        let mut cmd = Command::new(FJORD);
        cmd.arg("controller")
            .arg("--kubeconfig")
            .arg(&cluster.kubeconfig)
            .args([
                "--metrics-addr",
                "127.0.0.1:0",
                "--webhook-addr",
                "127.0.0.1:0",
            ]);
        cmd
    }

    /// Runs `cmd` (a `fjord controller` command line, maybe wrapped), its stderr into `log`, and
    /// waits until the controller serves.
    pub fn spawn(mut cmd: Command, log: &Path) -> Controller {
        let log = log.to_path_buf();
        let file = std::fs::File::create(&log).unwrap();
        cmd.stdout(Stdio::null()).stderr(file);
        let mut proc = Proc::spawn_or_panic(&mut cmd, "fjord controller");
        // "fjord controller running (namespace argocd, metrics http://A, webhook http://B/api/webhook)"
        let (metrics, webhook) = poll(
            "the controller to serve",
            Duration::from_secs(60),
            || std::fs::read_to_string(&log).unwrap_or_default(),
            || {
                if let Some(st) = proc.try_wait() {
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
