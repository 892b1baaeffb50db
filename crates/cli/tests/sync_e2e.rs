//! End-to-end tests of `fjord sync` and `fjord diff` through the real binary against
//! `fjord local-cluster` (started per test on a free port); kubectl is used to inspect and drift.

mod common;

use fjord_testkit::require_tools;
use fjord_testkit::tools::KUBECTL;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const FJORD: &str = env!("CARGO_BIN_EXE_fjord");
const SECRET: &str = "s3cr3t-value";
/// base64 of the secret value.
const SECRET_B64: &str = "czNjcjN0LXZhbHVl";

/// The API of one test on the backend `FJORD_TEST_BACKEND` picks (see `common::Cluster`).
struct Cluster {
    _inner: common::Cluster,
    kubeconfig: PathBuf,
}

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/sync")
        .join(name)
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

impl Cluster {
    fn start() -> Cluster {
        Cluster::wrap(common::Cluster::start())
    }

    /// The local API with fault flags (`local_api_*` tests only).
    fn start_with(extra: &[&str]) -> Cluster {
        Cluster::wrap(common::Cluster::start_with(extra))
    }

    fn wrap(inner: common::Cluster) -> Cluster {
        let kubeconfig = inner.kubeconfig.clone();
        Cluster {
            _inner: inner,
            kubeconfig,
        }
    }

    fn fjord(&self, args: &[&str]) -> Output {
        Command::new(FJORD)
            .args(args)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .output()
            .unwrap()
    }

    fn sync(&self, dir: &Path, extra: &[&str]) -> Output {
        let mut args = vec![
            "sync",
            dir.to_str().unwrap(),
            "--app",
            "shop",
            "-n",
            "shop",
            "--timeout",
            "60s",
        ];
        args.extend_from_slice(extra);
        self.fjord(&args)
    }

    fn diff(&self, dir: &Path, extra: &[&str]) -> Output {
        let mut args = vec![
            "diff",
            dir.to_str().unwrap(),
            "--app",
            "shop",
            "-n",
            "shop",
            "--color",
            "never",
        ];
        args.extend_from_slice(extra);
        self.fjord(&args)
    }

    fn kubectl(&self, args: &[&str]) -> Output {
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .output()
            .unwrap()
    }

    fn exists(&self, kind: &str, ns: &str, name: &str) -> bool {
        self.kubectl(&["get", kind, name, "-n", ns, "-o", "name"])
            .status
            .success()
    }

    fn get_json(&self, kind: &str, ns: &str, name: &str) -> Value {
        let o = self.kubectl(&["get", kind, name, "-n", ns, "-o", "json"]);
        assert!(o.status.success(), "{}", text(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    }
}

fn json_rows(o: &Output) -> Vec<Value> {
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)));
    v["resources"].as_array().cloned().unwrap_or_default()
}

fn row_index(rows: &[Value], kind: &str, name: &str) -> usize {
    rows.iter()
        .position(|r| r["kind"] == kind && r["name"].as_str().is_some_and(|n| n.starts_with(name)))
        .unwrap_or_else(|| panic!("no row {kind} {name} in {rows:?}"))
}

/// The base app, synced once (CreateNamespace=true).
fn synced_base(c: &Cluster) -> tempfile::TempDir {
    let work = tempfile::tempdir().unwrap();
    copy_dir(&testdata("base"), work.path());
    let o = c.sync(work.path(), &["--sync-option", "CreateNamespace=true"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    work
}

#[test]
fn first_sync_creates_namespace_crd_waves_and_presync_hook() {
    require_tools!(KUBECTL);
    let c = Cluster::start();
    let dir = testdata("base");
    let o = c.sync(
        &dir,
        &["--sync-option", "CreateNamespace=true", "-o", "json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rows = json_rows(&o);
    // The namespace first, then the PreSync hook, then wave 0 (kind order), wave 1, wave 2.
    let order: Vec<usize> = [
        ("Namespace", "shop"),
        ("Job", "migrate-"),
        ("Secret", "creds"),
        ("ConfigMap", "settings"),
        ("CustomResourceDefinition", "widgets.example.com"),
        ("Deployment", "web"),
        ("Widget", "gizmo"),
        ("Service", "web"),
    ]
    .iter()
    .map(|(k, n)| row_index(&rows, k, n))
    .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "order {order:?} in {rows:#?}"
    );
    let hook = &rows[row_index(&rows, "Job", "migrate-")];
    assert_eq!(hook["hookPhase"], "Succeeded");
    assert_eq!(hook["syncPhase"], "PreSync");
    assert_eq!(
        rows[row_index(&rows, "Deployment", "web")]["health"]["status"],
        "Healthy"
    );
    assert!(c.exists("namespace", "", "shop"));
    let w = c.get_json("widget", "shop", "gizmo");
    assert_eq!(
        w["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"],
        "shop:example.com/Widget:shop/gizmo"
    );
    let o = c.kubectl(&[
        "get",
        "configmap",
        "settings",
        "-n",
        "shop",
        "-o",
        "json",
        "--show-managed-fields",
    ]);
    let cm: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    let managers = cm["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        managers
            .iter()
            .any(|m| m["manager"] == "fjord" && m["operation"] == "Apply"),
        "{cm:#}"
    );
    // A second sync changes nothing and is still in sync.
    let o = c.diff(&dir, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn change_is_applied_and_removed_objects_are_pruned_only_with_prune_last() {
    require_tools!(KUBECTL);
    let c = Cluster::start();
    let work = synced_base(&c);
    // Another application's object in the same namespace.
    let foreign = work.path().join("../foreign.yaml");
    std::fs::write(
        &foreign,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: foreign\n  namespace: shop\n  annotations:\n    argocd.argoproj.io/tracking-id: other:/ConfigMap:shop/foreign\ndata:\n  x: \"1\"\n",
    )
    .unwrap();
    let o = c.kubectl(&["apply", "-f", foreign.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    std::fs::write(
        work.path().join("config.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: green\n",
    )
    .unwrap();
    std::fs::remove_file(work.path().join("old.yaml")).unwrap();
    std::fs::remove_file(work.path().join("keeper.yaml")).unwrap();
    // Without --prune: the change is applied, nothing is deleted.
    let o = c.sync(work.path(), &["-o", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rows = json_rows(&o);
    assert_eq!(
        rows[row_index(&rows, "ConfigMap", "old")]["status"],
        "PruneSkipped"
    );
    assert_eq!(
        rows[row_index(&rows, "ConfigMap", "settings")]["action"],
        "Configured"
    );
    assert_eq!(
        c.get_json("configmap", "shop", "settings")["data"]["color"],
        "green"
    );
    assert!(c.exists("configmap", "shop", "old"));
    // With --prune: `old` goes after everything else (PruneLast), `keeper` (Prune=false) and the
    // other application's object survive.
    let o = c.sync(work.path(), &["--prune", "-o", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rows = json_rows(&o);
    let old = row_index(&rows, "ConfigMap", "old");
    assert_eq!(rows[old]["status"], "Pruned");
    assert_eq!(old, rows.len() - 1, "PruneLast prunes last: {rows:#?}");
    assert_eq!(
        rows[row_index(&rows, "ConfigMap", "keeper")]["status"],
        "PruneSkipped"
    );
    assert!(!c.exists("configmap", "shop", "old"));
    assert!(c.exists("configmap", "shop", "keeper"));
    assert_eq!(c.get_json("configmap", "shop", "foreign")["data"]["x"], "1");
    assert!(!rows.iter().any(|r| r["name"] == "foreign"));
}

#[test]
fn kubectl_drift_shows_in_diff_and_is_reverted_by_sync_without_leaking_secrets() {
    require_tools!(KUBECTL);
    let c = Cluster::start();
    let work = synced_base(&c);
    let o = c.kubectl(&[
        "-n",
        "shop",
        "patch",
        "configmap",
        "settings",
        "--type",
        "merge",
        "-p",
        r#"{"data":{"color":"red"}}"#,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = c.kubectl(&[
        "-n",
        "shop",
        "patch",
        "secret",
        "creds",
        "--type",
        "merge",
        "-p",
        r#"{"stringData":{"password":"changed-pass"}}"#,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = c.diff(work.path(), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("-  color: red") || out.contains("-  color: \"red\""),
        "{out}"
    );
    assert!(out.contains("+  color: blue"), "{out}");
    assert!(
        out.contains("Secret"),
        "the Secret drift is reported: {out}"
    );
    for leaked in [SECRET, SECRET_B64, "changed-pass", "Y2hhbmdlZC1wYXNz"] {
        assert!(
            !out.contains(leaked),
            "secret value {leaked} in diff output: {out}"
        );
    }
    let o = c.diff(work.path(), &["-o", "json"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!text(&o).contains(SECRET_B64) && !text(&o).contains("Y2hhbmdlZC1wYXNz"));
    // An ignoreDifferences rule hides the ConfigMap drift.
    let ignore = work.path().join("../ignore.yaml");
    std::fs::write(&ignore, "- kind: ConfigMap\n  jsonPointers: [/data/color]\n- kind: Secret\n  jsonPointers: [/data]\n").unwrap();
    let o = c.diff(
        work.path(),
        &["--ignore-differences", ignore.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Sync reverts the drift.
    for output in ["text", "json"] {
        let o = c.sync(work.path(), &["-o", output]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert!(!text(&o).contains(SECRET) && !text(&o).contains(SECRET_B64));
    }
    assert_eq!(
        c.get_json("configmap", "shop", "settings")["data"]["color"],
        "blue"
    );
    let o = c.diff(work.path(), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

/// `fjord diff` decides objects unchanged by fjord's own last apply without a dry run; that
/// shortcut must never hide a change: a field fjord no longer sets, a value the server stores
/// in another form, and fields only another manager sets.
#[test]
fn a_no_op_diff_sees_given_up_fields_and_ignores_others_fields_and_value_forms() {
    require_tools!(KUBECTL);
    let c = Cluster::start();
    let work = synced_base(&c);
    let o = c.diff(work.path(), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Another manager's label: the apply keeps it, nothing to show.
    let o = c.kubectl(&["-n", "shop", "label", "configmap", "settings", "team=blue"]);
    assert!(o.status.success(), "{}", text(&o));
    // A quantity in another form than the server stores ("0.5" is kept as "500m").
    let deploy = work.path().join("deploy.yaml");
    let yaml = std::fs::read_to_string(&deploy).unwrap();
    let with_cpu = yaml.replace(
        "          image: nginx:1.27\n",
        "          image: nginx:1.27\n          resources:\n            requests:\n              cpu: \"0.5\"\n",
    );
    assert_ne!(with_cpu, yaml);
    std::fs::write(&deploy, &with_cpu).unwrap();
    let o = c.sync(work.path(), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        c.get_json("deployment", "shop", "web")["spec"]["template"]["spec"]["containers"][0]
            ["resources"]["requests"]["cpu"],
        "500m"
    );
    let o = c.diff(work.path(), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Giving up `replicas` (set by fjord until now) changes the object: the server drops it
    // and defaults it to 1.
    std::fs::write(&deploy, with_cpu.replace("  replicas: 2\n", "")).unwrap();
    let o = c.diff(work.path(), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("-  replicas: 2"), "{out}");
    assert!(out.contains("+  replicas: 1"), "{out}");
    assert!(
        !out.contains("ConfigMap"),
        "another manager's label is no difference: {out}"
    );
}

/// `--no-wait` leaves the last wave's objects as their apply showed them; earlier waves are
/// still waited for (their order depends on it), and a sync without it waits.
#[test]
fn no_wait_skips_only_the_last_waves_health_wait() {
    require_tools!(KUBECTL);
    let c = Cluster::start();
    let work = tempfile::tempdir().unwrap();
    copy_dir(&testdata("base"), work.path());
    let last_wave = std::fs::read_to_string(work.path().join("deploy.yaml"))
        .unwrap()
        .replace("name: web", "name: api")
        .replace("sync-wave: \"1\"", "sync-wave: \"2\"")
        .replace("app: web", "app: api");
    std::fs::write(work.path().join("api.yaml"), last_wave).unwrap();
    let o = c.sync(
        work.path(),
        &[
            "--sync-option",
            "CreateNamespace=true",
            "--no-wait",
            "-o",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rows = json_rows(&o);
    let health =
        |name: &str| rows[row_index(&rows, "Deployment", name)]["health"]["status"].clone();
    assert_eq!(health("web"), "Healthy", "wave 1 is waited for: {rows:#?}");
    assert_eq!(health("api"), "Progressing", "wave 2 is not: {rows:#?}");
    let o = c.sync(work.path(), &["-o", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rows = json_rows(&o);
    assert_eq!(
        rows[row_index(&rows, "Deployment", "api")]["health"]["status"],
        "Healthy"
    );
}

#[test]
fn failed_and_empty_renders_prune_nothing() {
    require_tools!(KUBECTL);
    let c = Cluster::start();
    let work = synced_base(&c);
    let broken = tempfile::tempdir().unwrap();
    std::fs::write(
        broken.path().join("kustomization.yaml"),
        "resources:\n  - missing.yaml\n",
    )
    .unwrap();
    let o = c.sync(broken.path(), &["--prune"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let empty = tempfile::tempdir().unwrap();
    let o = c.sync(empty.path(), &["--prune"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--allow-empty"), "{}", text(&o));
    for name in ["settings", "old", "keeper"] {
        assert!(c.exists("configmap", "shop", name), "{name} was pruned");
    }
    assert!(c.exists("deployment", "shop", "web"));
    drop(work);
}

#[test]
fn an_object_the_server_refuses_stops_the_sync_before_any_change() {
    require_tools!(KUBECTL);
    let c = Cluster::start();
    let work = tempfile::tempdir().unwrap();
    // `ok` goes to the destination namespace `shop`, which CreateNamespace would create; the
    // server refuses `Bad_Name` (not an RFC 1123 name) in its dry run.
    std::fs::write(
        work.path().join("objects.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\ndata:\n  k: v\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n  namespace: default\ndata:\n  k: v\n",
    )
    .unwrap();
    let o = c.sync(work.path(), &["--sync-option", "CreateNamespace=true"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("nothing applied"), "{out}");
    let refused = out
        .lines()
        .find(|l| l.contains("Bad_Name") && l.contains("SyncFailed"))
        .unwrap_or_else(|| panic!("no row for Bad_Name: {out}"));
    assert!(refused.contains("is invalid"), "{refused}");
    assert!(
        !refused.contains("ErrorResponse"),
        "the server's message, not a debug dump: {refused}"
    );
    assert!(!c.exists("namespace", "", "shop"), "namespace created");
    assert!(!c.exists("configmap", "default", "Bad_Name"));
}

#[test]
fn degraded_workload_fails_the_sync() {
    require_tools!(KUBECTL);
    let c = Cluster::start();
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("deploy.yaml"),
        // The annotation on the pod template makes kwok's Pods crash on the real backend (and the
        // deadline turns that into ProgressDeadlineExceeded); the local simulator reads either.
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: bad\n  annotations:\n    fjord.dev/simulate: fail\nspec:\n  progressDeadlineSeconds: 5\n  selector:\n    matchLabels: {app: bad}\n  template:\n    metadata:\n      labels: {app: bad}\n      annotations: {fjord.dev/simulate: fail}\n    spec:\n      containers:\n        - name: c\n          image: nginx\n",
    )
    .unwrap();
    let o = c.sync(work.path(), &["--sync-option", "CreateNamespace=true"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("Degraded"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("Deployment") && l.contains("bad") && l.contains("SyncFailed")),
        "{out}"
    );
}

#[test]
fn failing_hook_runs_syncfail_hooks_and_stops() {
    require_tools!(KUBECTL);
    let c = Cluster::start();
    let o = c.sync(
        &testdata("failhook"),
        &["--sync-option", "CreateNamespace=true", "-o", "json"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let rows = json_rows(&o);
    assert_eq!(
        rows[row_index(&rows, "Job", "broken-migration")]["hookPhase"],
        "Failed"
    );
    assert!(
        c.exists("configmap", "shop", "sync-failed-marker"),
        "SyncFail hook ran"
    );
    assert!(
        !c.exists("configmap", "shop", "app-config"),
        "the Sync phase did not run"
    );
}

#[test]
fn fail_on_shared_resource_applies_nothing_and_shared_objects_are_never_changed() {
    require_tools!(KUBECTL);
    let c = Cluster::start();
    let work = synced_base(&c);
    let o = c.kubectl(&[
        "-n",
        "shop",
        "annotate",
        "--overwrite",
        "configmap",
        "settings",
        "argocd.argoproj.io/tracking-id=other:/ConfigMap:shop/settings",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    std::fs::write(
        work.path().join("config.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: green\n",
    )
    .unwrap();
    std::fs::write(
        work.path().join("extra.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  a: b\n",
    )
    .unwrap();
    let o = c.sync(work.path(), &["--sync-option", "FailOnSharedResource=true"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("part of application other"),
        "{}",
        text(&o)
    );
    assert!(!c.exists("configmap", "shop", "extra"), "nothing applied");
    // Without the option the other objects sync, the shared one is left alone and reported.
    let o = c.sync(work.path(), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("belongs to application other"),
        "{}",
        text(&o)
    );
    assert!(c.exists("configmap", "shop", "extra"));
    assert_eq!(
        c.get_json("configmap", "shop", "settings")["data"]["color"],
        "blue"
    );
}

#[test]
fn local_api_transient_api_errors_are_retried() {
    require_tools!(KUBECTL);
    // Local only: fault injection is a flag of `fjord local-cluster`; a real API server has none.
    let c = Cluster::start_with(&["--fault-error-rate", "0.2", "--fault-seed", "7"]);
    let o = c.sync(
        &testdata("base"),
        &["--sync-option", "CreateNamespace=true"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("Succeeded"), "{}", text(&o));
}
