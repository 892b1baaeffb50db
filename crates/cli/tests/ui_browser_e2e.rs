//! Browser tests of the web UI (issue 14): the real binary's `fjord controller` and `fjord server`
//! on the test backend, 1,000 Applications (one real), and ui/e2e/e2e.mjs driving Debian's
//! headless Chromium through playwright-core: log in (bad and good password), find the app
//! among 1,000, see a `kubectl scale`/`kubectl patch` turn it OutOfSync with the managers named
//! in the diff, Sync it, roll it back, and a read-only account without a Sync button and with a
//! 403 from the API. Screenshots of each page land in `<target>/ui-screenshots/<backend>/`.

mod common;

use common::{application, configmap, s, Env, GitRepo, FJORD, NS};
use fjord_testkit::require_tools;
use fjord_testkit::tools::{CHROMIUM, GIT, HTPASSWD, KUBECTL, NODE};
use fjord_testkit::Proc;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How many Applications the list holds.
const TOTAL: usize = 1000;
/// The real app.
const APP: &str = "guestbook";
/// The read-only account and its password.
const VIEWER: &str = "viewer";
const VIEWER_PASSWORD: &str = "viewer-pass-14";

/// A Deployment with `replicas` and `revisionHistoryLimit: 5` (both fields the test edits).
fn web(replicas: u32) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: {replicas}\n  \
         revisionHistoryLimit: 5\n  selector:\n    matchLabels:\n      app: web\n  template:\n    \
         metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: web\n        \
         image: nginx:1.27\n"
    )
}

/// The folder of the browser scripts (with `node_modules` from `npm ci`).
fn e2e_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/e2e")
}

/// `<target>/ui-screenshots/<backend>`, next to the binary under test's profile folder.
fn screenshot_dir() -> PathBuf {
    let target = Path::new(FJORD)
        .parent()
        .and_then(Path::parent)
        .expect("the binary lies in <target>/<profile>/");
    let backend = if common::real() { "real" } else { "local" };
    target.join("ui-screenshots").join(backend)
}

/// A free loopback port (bound, then released for the server).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `fjord server` on `port`, its log in the test's folder; waits until `/api/version` answers.
fn start_server(env: &Env, port: u16) -> Proc {
    let dir = env.dir.path();
    let log = std::fs::File::create(dir.join("server.log")).unwrap();
    let mut cmd = Command::new(FJORD);
    cmd.arg("server")
        .arg("--kubeconfig")
        .arg(&env.kubeconfig)
        .args(["--addr", &format!("127.0.0.1:{port}")])
        .arg("--cache-dir")
        .arg(dir.join("server-cache"))
        .stdout(Stdio::null())
        .stderr(log);
    let mut proc = Proc::spawn_or_panic(&mut cmd, "fjord server");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        proc.assert_running("fjord server");
        let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
        if std::net::TcpStream::connect(addr).is_ok()
            && common::http(addr, "GET", "/api/version", &[], b"").0 == 200
        {
            return proc;
        }
        assert!(
            Instant::now() < deadline,
            "fjord server never answered /api/version: {}",
            std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A bcrypt hash of `password` (cost 10) from `htpasswd`, in the `$2a$` spelling.
fn bcrypt(password: &str) -> String {
    let out = Command::new("htpasswd")
        .args(["-nbBC", "10", "x", password])
        .output()
        .expect("htpasswd runs");
    assert!(out.status.success(), "htpasswd: {}", common::text(&out));
    let line = String::from_utf8(out.stdout).unwrap();
    let hash = line.trim().trim_start_matches("x:");
    hash.replacen("$2y$", "$2a$", 1)
}

/// The read-only local account `viewer`: argocd-cm, argocd-rbac-cm, its password in argocd-secret.
fn add_viewer(env: &Env) {
    let cm = |name: &str, data: Value| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": NS,
                "labels": {"app.kubernetes.io/part-of": "argocd"}},
            "data": data})
    };
    env.apply_json(&cm("argocd-cm", json!({"accounts.viewer": "login"})));
    env.apply_json(&cm(
        "argocd-rbac-cm",
        json!({"policy.csv": format!("g, {VIEWER}, role:readonly\n")}),
    ));
}

/// Sets the viewer's password hash in argocd-secret (after the server made the Secret).
fn set_viewer_password(env: &Env) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(bcrypt(VIEWER_PASSWORD));
    let patch = json!({"data": {format!("accounts.{VIEWER}.password"): b64}}).to_string();
    env.kubectl_ok(&[
        "-n",
        NS,
        "patch",
        "secret",
        "argocd-secret",
        "--type",
        "merge",
        "-p",
        &patch,
    ]);
}

/// The admin password the server bootstrapped (never printed).
fn admin_password(env: &Env) -> String {
    let secret = env.wait(
        "argocd-initial-admin-secret",
        Duration::from_secs(60),
        || env.get("secret", NS, "argocd-initial-admin-secret"),
    );
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(s(&secret, "/data/password"))
        .expect("base64 password");
    String::from_utf8(raw).expect("utf-8 password")
}

/// 999 more Applications on a trivial path of the same repository (manual sync).
fn add_filler_apps(env: &Env, url: &str) {
    let items: Vec<Value> = (1..TOTAL)
        .map(|i| application(&format!("filler-{i:04}"), url, "noop", "filler", None))
        .collect();
    let list = json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string();
    env.kubectl_ok_in(&["apply", "-f", "-"], &list);
}

#[test]
fn ui_login_search_drift_sync_rollback_and_readonly() {
    require_tools!(GIT, KUBECTL, NODE, CHROMIUM, HTPASSWD);
    let modules = e2e_dir().join("node_modules/playwright-core");
    assert!(
        modules.is_dir(),
        "{} is missing: run `npm ci` in ui/e2e (scripts/test.sh does it)",
        modules.display()
    );
    let repo = GitRepo::new(
        "config.git",
        &[
            ("app/web.yaml", web(1)),
            ("app/settings.yaml", configmap("settings", "color", "blue")),
            ("noop/cm.yaml", configmap("noop", "k", "v")),
        ],
    );
    let daemon = common::git_daemon(&repo.root);
    let url = format!("git://127.0.0.1:{}/config.git", daemon.port);
    let env = Env::start("2s");
    add_viewer(&env);

    // Two history entries: the first revision, then a second one, both synced by hand.
    env.apply_json(&application(APP, &url, "app", "guestbook", None));
    env.fjord_ok(&["app", "sync", APP, "--timeout", "2m"]);
    repo.write("app/web.yaml", &web(2));
    let second = repo.commit_push("two replicas");
    env.wait_app(APP, "compared at the second revision", |a| {
        s(a, "/status/sync/revision") == second
    });
    env.fjord_ok(&["app", "sync", APP, "--timeout", "2m"]);
    env.wait_synced(APP, Some(&second));
    add_filler_apps(&env, &url);

    let port = free_port();
    let mut server = start_server(&env, port);
    let password = admin_password(&env);
    set_viewer_password(&env);

    let shots = screenshot_dir();
    let _ = std::fs::remove_dir_all(&shots);
    let out = Command::new("node")
        .arg("e2e.mjs")
        .current_dir(e2e_dir())
        .env("FJORD_UI_URL", format!("http://127.0.0.1:{port}"))
        .env("FJORD_UI_PASSWORD", &password)
        .env("FJORD_UI_VIEWER", VIEWER)
        .env("FJORD_UI_VIEWER_PASSWORD", VIEWER_PASSWORD)
        .env("FJORD_UI_APP", APP)
        .env("FJORD_UI_APP_NAMESPACE", NS)
        .env("FJORD_UI_APP_TOTAL", TOTAL.to_string())
        .env("FJORD_UI_DEPLOYMENT", "guestbook/web")
        .env("FJORD_UI_ROLLBACK_ID", "0")
        .env("FJORD_UI_ROLLBACK_REPLICAS", "1")
        .env("FJORD_UI_SCREENSHOTS", &shots)
        .env("KUBECONFIG", &env.kubeconfig)
        .output()
        .expect("node runs");
    server.assert_running("fjord server");
    let log = std::fs::read_to_string(env.dir.path().join("server.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "ui/e2e/e2e.mjs failed:\n{}\n--- server log (tail):\n{}\n{}",
        common::text(&out),
        log.lines()
            .rev()
            .take(30)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n"),
        env.get("application", NS, APP)
            .map(|a| a["status"].to_string())
            .unwrap_or_default()
    );
    eprintln!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        !log.contains(&password),
        "the server logged the admin password"
    );

    // The rollback took the first revision's objects back; the page of each step was kept.
    let app = env.app(APP);
    assert_eq!(
        env.get("deployment", "guestbook", "web").unwrap()["spec"]["replicas"],
        1
    );
    // The two syncs before the browser, its Sync and its rollback.
    let entries = app["status"]["history"].as_array().map_or(0, Vec::len);
    assert!(entries >= 4, "history: {:#}", app["status"]["history"]);
    for page in [
        "01-login",
        "02-list-tiles",
        "03-list-table",
        "05-app-tree",
        "06-diff-panel",
        "07-after-sync",
        "08-history",
        "10-viewer-app",
    ] {
        let f = shots.join(format!("{page}.png"));
        assert!(
            f.metadata().is_ok_and(|m| m.len() > 1000),
            "screenshot {} missing",
            f.display()
        );
    }
    server.kill();
}
