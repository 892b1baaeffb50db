//! The install manifests on the real control plane: `kubectl apply --server-side -f
//! manifests/install.yaml` (and `namespace-install.yaml`), then the Deployment's own container
//! arguments run as a process with the in-cluster settings and the token of the ServiceAccount
//! the manifests create (kwok runs no containers: [`common::in_cluster`]). The seeds'
//! Application must sync and turn Healthy with no request refused (no 403 in the log): the
//! manifests' RBAC lacks nothing. The namespace install refuses an app deploying outside its
//! namespace, naming the object, before any write. `fjord install` applies the same objects.
//! The Sealed Secrets Deployment in kube-system runs the same way with its own ServiceAccount,
//! and `fjord seal` reaches it through its Service and the API server's service proxy. The
//! `fjord-server` Deployment runs the same way with its own ServiceAccount: it answers its
//! probes' path, bootstraps the admin password Secret and serves the seed's Application.
//!
//! Real backend only (the local API has no RBAC): on the local backend the tests say so and
//! return; scripts/test.sh runs them in its real pass.

mod common;

use common::in_cluster::{require_root, InCluster};
use common::manifests::{assert_not_refused, payments_base, run_with_stdin, seed_002};
use common::proxy_pod::{self, HostPod};
use common::sealed::{seal_until_ok, sealing_keys_args};
use common::{s, text, Cluster, Env, GitRepo, NS};
use fjord_testkit::require_tools;
use fjord_testkit::tools::{GIT, KUBECTL, UNSHARE};
use serde_json::{json, Value};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The names the manifests use.
const CONTROLLER: &str = "fjord-controller";

fn manifest(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../manifests")
        .join(name)
}

/// The repository seed 002 names: a kustomize base (Deployment + Service) and `overlays/prod`.
fn payments_repo() -> GitRepo {
    let mut files = payments_base();
    files.extend([
        (
            "overlays/prod/kustomization.yaml",
            "resources:\n- ../../base\nreplicas:\n- name: payment-gateway\n  count: 2\n"
                .to_string(),
        ),
        (
            "inside/settings.yaml",
            common::configmap("settings", "color", "blue"),
        ),
    ]);
    GitRepo::new("fintech/payments-config.git", &files)
}

/// [`payments_repo`] served by `git daemon`, and its URL.
fn serve_payments() -> (GitRepo, fjord_testkit::process::Server, String) {
    let repo = payments_repo();
    let daemon = common::git_daemon(&repo.root);
    let url = format!(
        "git://127.0.0.1:{}/fintech/payments-config.git",
        daemon.port
    );
    (repo, daemon, url)
}

/// The container arguments of the applied Deployment, made runnable on this machine: the
/// `0.0.0.0` listeners on free loopback ports, the cache volume a scratch folder.
fn deployment_args(cluster: &Cluster, ns: &str) -> Vec<String> {
    let raw = cluster.kubectl_ok(&[
        "get",
        "deployment",
        CONTROLLER,
        "-n",
        ns,
        "-o",
        "jsonpath={.spec.template.spec.containers[0].args}",
    ]);
    let args: Vec<String> = serde_json::from_str(&raw).unwrap();
    let cache = cluster.dir.path().join("cache");
    args.into_iter()
        .map(|a| match a.split_once('=') {
            Some((flag, v)) if v.starts_with("0.0.0.0:") => format!("{flag}=127.0.0.1:0"),
            Some(("--cache-dir", _)) => format!("--cache-dir={}", cache.display()),
            _ => a,
        })
        .collect()
}

/// Runs the Deployment's command as its Pod would, with the manifests' ServiceAccount.
fn run_installed(cluster: Cluster, ns: &str) -> (Env, InCluster) {
    let args = deployment_args(&cluster, ns);
    let pod = InCluster::new(&cluster, ns, CONTROLLER);
    let log = cluster.dir.path().join("controller.log");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let controller = pod.spawn_controller(&args, &[("POD_NAME", "fjord-controller-0")], &log);
    (
        Env {
            controller,
            cluster,
        },
        pod,
    )
}

/// Panics when the controller's log shows a request the API server refused.
fn assert_nothing_forbidden(env: &Env) {
    let log = env.controller.log_text();
    let refused: Vec<&str> = log
        .lines()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("forbidden") || l.contains("(403") || l.contains("403 ")
        })
        .collect();
    assert!(
        refused.is_empty(),
        "the manifests' RBAC lacks a permission:\n{}",
        refused.join("\n")
    );
}

/// The real control plane, or `None` (with a note) on the local backend.
fn real_cluster() -> Option<Cluster> {
    if !common::real() {
        eprintln!(
            "SKIPPED: install_e2e needs FJORD_TEST_BACKEND=real (scripts/test.sh's real pass)"
        );
        return None;
    }
    Some(Cluster::start())
}

#[test]
fn install_yaml_installs_a_controller_that_syncs_the_seed_with_its_own_service_account() {
    require_tools!(GIT, KUBECTL, UNSHARE);
    let Some(cluster) = real_cluster() else {
        return;
    };
    require_root();
    let (repo, _daemon, url) = serve_payments();
    let file = manifest("install.yaml");
    let file = file.to_str().unwrap();
    // The API server validates every field (server-side apply is strict) and a second, dry
    // run through client-side apply accepts the file too.
    cluster.kubectl_ok(&["apply", "--server-side", "-f", file]);
    cluster.kubectl_ok(&["apply", "--dry-run=server", "-f", file]);
    let (env, _pod) = run_installed(cluster, NS);

    env.apply(&seed_002(&url));
    let app = env.wait_synced("nordic-payment-gateway", Some(&repo.head()));
    assert_eq!(s(&app, "/status/health/status"), "Healthy");
    let d = env
        .get("deployment", "payments-prod", "payment-gateway")
        .unwrap();
    assert_eq!(d["spec"]["replicas"], 2);
    assert_nothing_forbidden(&env);
    sealed_secrets_deployment_unseals_behind_its_service(&env.cluster);
    server_deployment_serves_with_its_own_service_account(&env.cluster);

    // `fjord install` applies the same objects over them (same values: no conflict), as
    // field manager fjord-install.
    let out = env.fjord(&["install"]);
    assert!(out.status.success(), "fjord install: {}", text(&out));
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains("Deployment argocd/fjord-controller applied"),
        "{printed}"
    );
    let role: Value = serde_json::from_str(&env.kubectl_ok(&[
        "get",
        "clusterrole",
        CONTROLLER,
        "-o",
        "json",
        "--show-managed-fields",
    ]))
    .unwrap();
    let managers: Vec<&str> = role["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| s(m, "/manager"))
        .collect();
    assert!(managers.contains(&"fjord-install"), "{managers:?}");
}

#[test]
fn fjord_install_applies_everything_on_a_fresh_cluster() {
    require_tools!(KUBECTL);
    let Some(cluster) = real_cluster() else {
        return;
    };
    let out = cluster.fjord(&["install", "--namespace", "fjord-system"]);
    assert!(out.status.success(), "fjord install: {}", text(&out));
    for (kind, ns, name) in [
        ("crd", "", "applications.argoproj.io"),
        ("crd", "", "externalsecrets.external-secrets.io"),
        ("namespace", "", "fjord-system"),
        ("serviceaccount", "fjord-system", CONTROLLER),
        ("clusterrolebinding", "", CONTROLLER),
        ("service", "kube-system", "sealed-secrets-controller"),
        ("deployment", "kube-system", "sealed-secrets-controller"),
        ("serviceaccount", "kube-system", "sealed-secrets-controller"),
        ("clusterrole", "", "fjord-sealed-secrets"),
        ("service", "fjord-system", "fjord-webhook"),
        ("serviceaccount", "fjord-system", SERVER),
        ("clusterrole", "", SERVER),
        ("rolebinding", "fjord-system", SERVER),
        ("deployment", "fjord-system", SERVER),
        ("service", "fjord-system", SERVER),
    ] {
        assert!(cluster.exists(kind, ns, name), "{kind} {ns}/{name} missing");
    }
    let args = deployment_args(&cluster, "fjord-system");
    assert!(
        args.contains(&"--namespace=fjord-system".to_string()),
        "{args:?}"
    );
    // What it applied is what it prints.
    let printed = cluster.fjord_ok(&["install", "--dry-run", "-o", "json", "-n", "fjord-system"]);
    let file = cluster.fjord_ok(&["install", "--dry-run", "-o", "yaml"]);
    assert_eq!(
        file,
        std::fs::read_to_string(manifest("install.yaml")).unwrap(),
        "fjord install --dry-run -o yaml is manifests/install.yaml"
    );
    let list: Value = serde_json::from_str(&printed).unwrap();
    let deploy = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "Deployment" && i["metadata"]["name"] == CONTROLLER)
        .unwrap();
    let live = cluster
        .get("deployment", "fjord-system", CONTROLLER)
        .unwrap();
    assert_eq!(
        live["spec"]["template"]["spec"]["containers"][0]["args"],
        deploy["spec"]["template"]["spec"]["containers"][0]["args"]
    );
    // Bad input: refused naming the flag, nothing applied.
    let out = cluster.fjord(&["install", "--namespace", "Bad_NS"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("--namespace"), "{}", text(&out));
}

#[test]
fn namespace_install_manages_only_its_namespace_with_roles_only() {
    require_tools!(GIT, KUBECTL, UNSHARE);
    let Some(cluster) = real_cluster() else {
        return;
    };
    require_root();
    let (repo, _daemon, url) = serve_payments();
    let file = manifest("namespace-install.yaml");
    cluster.kubectl_ok(&["apply", "--server-side", "-f", file.to_str().unwrap()]);
    let (env, _pod) = run_installed(cluster, NS);

    // An app deploying into the install namespace syncs.
    env.apply_json(&json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "inside", "namespace": NS},
        "spec": {
            "project": "default",
            "source": {"repoURL": url, "targetRevision": "HEAD", "path": "inside"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": NS},
            "syncPolicy": {"automated": {"prune": true}},
        },
    }));
    env.wait_synced("inside", Some(&repo.head()));
    env.wait_config(NS, "settings", "color", "blue");

    // The seed deploys into payments-prod (and creates it): refused, naming the object, and
    // nothing of it written.
    env.apply(&seed_002(&url));
    let app = env.wait_app(
        "nordic-payment-gateway",
        "a condition naming an object outside the namespace",
        |a| {
            a["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| {
                    s(c, "/message").contains("payment-gateway")
                        && s(c, "/message").contains("outside namespace argocd")
                })
        },
    );
    assert_ne!(s(&app, "/status/sync/status"), "Synced", "{app}");
    assert!(!env.exists("namespace", "", "payments-prod"), "written");
    assert_nothing_forbidden(&env);
}

/// The API server's Deployment, ServiceAccount, RBAC and Service.
const SERVER: &str = "fjord-server";

/// The `fjord-server` Deployment's container arguments run as its Pod would (in-cluster, the
/// `fjord-server` ServiceAccount's token), listening on a free loopback port: it answers
/// /api/version (the probes' path), creates the admin's initial password Secret, the admin logs
/// in with it and lists the seed's Application, and the API refused it nothing.
fn server_deployment_serves_with_its_own_service_account(cluster: &Cluster) {
    let started = Instant::now();
    let live = cluster.get("deployment", NS, SERVER).unwrap();
    let pod_spec = &live["spec"]["template"]["spec"];
    assert_eq!(pod_spec["serviceAccountName"], SERVER);
    let c = &pod_spec["containers"][0];
    assert_eq!(s(c, "/readinessProbe/httpGet/path"), "/api/version");
    let cache = cluster.dir.path().join("server-cache");
    let args: Vec<String> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let a = a.as_str().unwrap();
            match a.split_once('=') {
                Some((flag, v)) if v.starts_with("0.0.0.0:") => format!("{flag}=127.0.0.1:0"),
                Some(("--cache-dir", _)) => format!("--cache-dir={}", cache.display()),
                _ => a.to_string(),
            }
        })
        .collect();
    assert_eq!(args[0], "server");
    let pod = InCluster::new(cluster, NS, SERVER);
    let (out, log) = (
        cluster.dir.path().join("server.out"),
        cluster.dir.path().join("server.log"),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut cmd = pod.command(&args);
    cmd.env("POD_NAME", "fjord-server-0")
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut proc = fjord_testkit::Proc::spawn_or_panic(&mut cmd, "fjord server");
    let log_text = || {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!("{}{}", read(&out), read(&log))
    };
    let url = common::poll(
        "fjord server to listen",
        Duration::from_secs(60),
        log_text,
        || {
            if let Some(st) = proc.try_wait() {
                panic!("fjord server exited: {st}\n{}", log_text());
            }
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            let line = text
                .lines()
                .find(|l| l.contains("listening on "))?
                .to_string();
            line.rsplit(' ').next().map(str::to_string)
        },
    );
    let addr: std::net::SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let (code, body) = common::http(addr, "GET", "/api/version", &[], b"");
    assert_eq!(code, 200, "{body}");
    let (code, body) = common::http(addr, "GET", "/api/v1/applications", &[], b"");
    assert_eq!(code, 401, "{body}");
    let secret = common::poll(
        "the server to create argocd-initial-admin-secret",
        Duration::from_secs(30),
        log_text,
        || cluster.get("secret", NS, "argocd-initial-admin-secret"),
    );
    use base64::Engine as _;
    let password = base64::engine::general_purpose::STANDARD
        .decode(s(&secret, "/data/password"))
        .unwrap();
    let password = String::from_utf8(password).unwrap();
    let login = json!({"username": "admin", "password": password}).to_string();
    let (code, body) = common::http(
        addr,
        "POST",
        "/api/v1/session",
        &[("Content-Type", "application/json")],
        login.as_bytes(),
    );
    assert_eq!(code, 200, "login: {body}");
    let token: Value = serde_json::from_str(&body).unwrap();
    let bearer = format!("Bearer {}", s(&token, "/token"));
    common::poll(
        "the seed's Application in the server's list",
        Duration::from_secs(30),
        log_text,
        || {
            let (code, body) = common::http(
                addr,
                "GET",
                "/api/v1/applications",
                &[("Authorization", bearer.as_str())],
                b"",
            );
            (code == 200 && body.contains("nordic-payment-gateway")).then_some(())
        },
    );
    let text_log = log_text();
    assert_not_refused(
        &text_log,
        &["forbidden", "(403", "403 ", "\"code\":403"],
        "the fjord-server RBAC lacks a permission",
    );
    assert!(!text_log.contains(&password), "the admin password logged");
    drop(proc);
    eprintln!("fjord-server in-cluster check: {:?}", started.elapsed());
}

/// The Sealed Secrets Deployment of install.yaml (`kube-system/sealed-secrets-controller`).
const SEALED: &str = "sealed-secrets-controller";
/// The Pod name its process is given (`POD_NAME`, from the Deployment's fieldRef).
const SEALED_POD: &str = "sealed-secrets-controller-6f9d8b7c5-q4wzp";

const SECRET: &str = "apiVersion: v1
kind: Secret
metadata:
  name: api-key
  namespace: sealed-app
type: Opaque
stringData:
  key: installed-s3cret-value
";

/// A non-loopback IPv4 address of this machine (the real API server refuses to proxy to a
/// loopback endpoint), else one on a dummy interface removed on drop.
struct HostAddr {
    ip: IpAddr,
    dummy: bool,
}

impl HostAddr {
    fn find() -> HostAddr {
        let listed = Command::new("hostname")
            .arg("-I")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
            .unwrap_or_default();
        let usable = listed
            .split_whitespace()
            .filter_map(|w| w.parse::<IpAddr>().ok())
            .find(|ip| matches!(ip, IpAddr::V4(v4) if !v4.is_loopback() && !v4.is_link_local()));
        if let Some(ip) = usable {
            return HostAddr { ip, dummy: false };
        }
        for args in [
            &["link", "add", "fjord1", "type", "dummy"][..],
            &["addr", "add", "198.51.100.78/32", "dev", "fjord1"],
            &["link", "set", "fjord1", "up"],
        ] {
            let o = Command::new("ip").args(args).output().expect("run ip");
            assert!(o.status.success(), "ip {args:?}: {}", text(&o));
        }
        HostAddr {
            ip: "198.51.100.78".parse().unwrap(),
            dummy: true,
        }
    }

    /// A port free on this address now.
    fn free_port(&self) -> u16 {
        let l = std::net::TcpListener::bind((self.ip, 0)).unwrap();
        l.local_addr().unwrap().port()
    }
}

impl Drop for HostAddr {
    fn drop(&mut self) {
        if self.dummy {
            let _ = Command::new("ip").args(["link", "del", "fjord1"]).output();
        }
    }
}

/// The Pod the Service selects, standing for the sealed-secrets process: the Deployment's Pod
/// labels, its container port `http` (the process's port), on a Node nothing manages, Running
/// and Ready with this machine's address. The endpoints controller then points the Service at
/// it, with the Pod as `targetRef`, which the API server's service proxy requires.
fn host_pod(cluster: &Cluster, pod_labels: &Value, ip: IpAddr, port: u16) {
    let pod = HostPod {
        node: "fjord-sealed-host",
        name: SEALED_POD,
        labels: pod_labels.clone(),
        container: json!({"name": "sealed-secrets", "image": "fjord:test",
            "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}]}),
        ready: true,
    };
    proxy_pod::host_pod(cluster, &pod, ip);
}

/// `fjord seal --kubeconfig ADMIN --format yaml` with `stdin` (no --cert: the certificate comes
/// through the service proxy).
fn seal(cluster: &Cluster, stdin: &str) -> std::process::Output {
    let mut cmd = Command::new(common::FJORD);
    cmd.arg("seal")
        .arg("--kubeconfig")
        .arg(&cluster.kubeconfig)
        .args(["--format", "yaml"]);
    run_with_stdin(cmd, stdin)
}

/// The Sealed Secrets Deployment's container arguments run as its Pod would (in-cluster, the
/// `sealed-secrets-controller` ServiceAccount's token, leader election on), its `http` address
/// on this machine: `fjord seal` with only the admin kubeconfig reaches it through the
/// install's Service, a SealedSecret is unsealed, and the API refused it nothing.
fn sealed_secrets_deployment_unseals_behind_its_service(cluster: &Cluster) {
    let started = Instant::now();
    let live = cluster.get("deployment", "kube-system", SEALED).unwrap();
    let pod_spec = &live["spec"]["template"]["spec"];
    assert_eq!(pod_spec["serviceAccountName"], SEALED);
    let pod_labels = live["spec"]["template"]["metadata"]["labels"].clone();
    // kwok's stand-in Pods (fake IPs) leave the Service; the process takes their place.
    cluster.kubectl_ok(&[
        "scale",
        "deployment",
        SEALED,
        "-n",
        "kube-system",
        "--replicas=0",
    ]);
    let host = HostAddr::find();
    let port = host.free_port();
    let args: Vec<String> = pod_spec["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let a = a.as_str().unwrap();
            match a.split_once('=') {
                Some((flag, v)) if v.starts_with("0.0.0.0:") => {
                    format!("{flag}={}:{port}", host.ip)
                }
                _ => a.to_string(),
            }
        })
        .collect();
    assert_eq!(args[0], "sealed-secrets-controller");
    let pod = InCluster::new(cluster, "kube-system", SEALED);
    let log = cluster.dir.path().join("sealed-secrets.log");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut cmd = pod.command(&args);
    cmd.env("POD_NAME", SEALED_POD)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut proc = fjord_testkit::Proc::spawn_or_panic(&mut cmd, "fjord sealed-secrets-controller");
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    common::poll(
        "the sealed secrets controller to lead and serve",
        Duration::from_secs(60),
        log_text,
        || {
            if let Some(st) = proc.try_wait() {
                panic!(
                    "fjord sealed-secrets-controller exited: {st}\n{}",
                    log_text()
                );
            }
            log_text()
                .contains("sealed secrets controller running")
                .then_some(())
        },
    );
    host_pod(cluster, &pod_labels, host.ip, port);

    // No --cert: through /api/v1/namespaces/kube-system/services/http:sealed-secrets-controller:http/proxy.
    let sealed = seal_until_ok(
        "fjord seal through the Service",
        Duration::from_secs(45),
        || {
            let eps = cluster.kubectl(&[
                "get",
                "endpoints",
                SEALED,
                "-n",
                "kube-system",
                "-o",
                "yaml",
            ]);
            format!("{}\n{}", text(&eps), log_text())
        },
        || seal(cluster, SECRET),
    );
    assert!(sealed.contains("kind: SealedSecret"), "{sealed}");
    assert!(!sealed.contains("installed-s3cret-value"));
    cluster.kubectl_ok(&["create", "namespace", "sealed-app"]);
    cluster.kubectl_ok_in(&["apply", "-f", "-"], &sealed);
    let secret = common::poll(
        "the unsealed Secret",
        Duration::from_secs(45),
        log_text,
        || cluster.get("secret", "sealed-app", "api-key"),
    );
    use base64::Engine as _;
    let value = base64::engine::general_purpose::STANDARD
        .decode(s(&secret, "/data/key"))
        .unwrap();
    assert_eq!(value, b"installed-s3cret-value");
    // The proxy reached the process through the Pod the Service selects.
    let eps = cluster.get("endpoints", "kube-system", SEALED).unwrap();
    assert_eq!(
        s(&eps, "/subsets/0/addresses/0/targetRef/name"),
        SEALED_POD,
        "{eps}"
    );
    let lease = cluster
        .get("lease", "kube-system", SEALED)
        .expect("its Lease");
    assert_eq!(
        s(&lease, "/spec/holderIdentity").split('_').next(),
        Some(SEALED_POD)
    );
    let keys = cluster.kubectl_ok(&sealing_keys_args("name"));
    assert!(!keys.trim().is_empty(), "a sealing key in kube-system");
    let text_log = log_text();
    assert_not_refused(
        &text_log,
        &["forbidden", "(403", "403 ", "\"code\":403"],
        "the sealed-secrets RBAC lacks a permission",
    );
    assert!(
        !text_log.contains("installed-s3cret-value"),
        "a secret value logged"
    );
    drop(proc);
    eprintln!("sealed-secrets in-cluster check: {:?}", started.elapsed());
}
