//! End-to-end tests of `fjord controller` through the real binary: the embedded API and the
//! controller as child processes, real Git servers, `kubectl` to apply Applications and make
//! drift. Convergence through polling, self-heal, prune, push webhooks, an unreachable
//! repository, Events, and Secret values kept out of logs and status.
//! (`controller_e2e_cli.rs` covers the seeds' manifests over SSH, HTTP(S) credentials, the
//! `fjord app` commands, metrics and `fjord doctor`.)

mod common;

use common::{
    application, configmap, deployment, history, history_revisions, resource, s, Env, GitRepo,
    CONVERGE, NS,
};
use fjord_testkit::require_tools;
use fjord_testkit::tools::{GIT, KUBECTL};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Polling interval of the polling tests.
const RESYNC: &str = "2s";
const RESYNC_SECS: u64 = 2;

/// A repository with `app/` holding ConfigMap `settings` (color=blue) and Deployment `web`.
fn shop_repo() -> GitRepo {
    GitRepo::new(
        "shop.git",
        &[
            ("app/settings.yaml", configmap("settings", "color", "blue")),
            ("app/web.yaml", deployment("web", 1)),
            ("README.md", "shop config\n".into()),
        ],
    )
}

fn automated(prune: bool, self_heal: bool) -> Option<Value> {
    Some(json!({"prune": prune, "selfHeal": self_heal}))
}

/// Waits until the controller compared `name` again after `app` (a later `reconciledAt`).
fn wait_reconciled_after(env: &Env, name: &str, app: &Value) -> Value {
    let before = s(app, "/status/reconciledAt").to_string();
    env.wait_app(name, "a later reconcile", |a| {
        s(a, "/status/reconciledAt") > before.as_str()
    })
}

#[test]
fn pushed_commit_converges_and_history_grows_only_on_syncs() {
    require_tools!(GIT, KUBECTL);
    let repo = shop_repo();
    let daemon = common::git_daemon(&repo.root);
    let env = Env::start(RESYNC);
    let url = format!("git://127.0.0.1:{}/shop.git", daemon.port);
    let first = repo.head();
    env.apply_json(&application(
        "shop",
        &url,
        "app",
        "shop",
        automated(true, false),
    ));
    let app = env.wait_synced("shop", Some(&first));
    assert_eq!(history_revisions(&app), vec![first.clone()]);
    assert_eq!(
        env.get("deployment", "shop", "web").unwrap()["spec"]["replicas"],
        1
    );
    assert_eq!(
        env.get("configmap", "shop", "settings").unwrap()["data"]["color"],
        "blue"
    );
    // Polling refreshes compare again, but sync nothing: history keeps its one entry.
    let app = wait_reconciled_after(&env, "shop", &app);
    let app = wait_reconciled_after(&env, "shop", &app);
    assert_eq!(history(&app).len(), 1, "{:#?}", app["status"]["history"]);

    repo.write(
        "app/settings.yaml",
        &configmap("settings", "color", "green"),
    );
    repo.write("app/web.yaml", &deployment("web", 3));
    let pushed = Instant::now();
    let second = repo.commit_push("green, 3 replicas");
    env.wait_config("shop", "settings", "color", "green");
    let latency = pushed.elapsed();
    eprintln!("polling ({RESYNC}): push to converged in {latency:?}");
    assert!(
        latency < Duration::from_secs(3 * RESYNC_SECS + 6),
        "converged after {latency:?}, poll interval {RESYNC}"
    );
    let app = env.wait_synced("shop", Some(&second));
    assert_eq!(
        env.get("deployment", "shop", "web").unwrap()["spec"]["replicas"],
        3
    );
    let h = history(&app);
    assert_eq!(history_revisions(&app), vec![first.clone(), second.clone()]);
    assert_eq!(h[0]["id"], 0);
    assert_eq!(h[1]["id"], 1);
    assert_eq!(h[1]["initiatedBy"]["automated"], true);
    assert_eq!(
        s(&app, "/status/operationState/syncResult/revision"),
        second
    );

    // A commit that changes nothing under the app's path: the new revision is compared and
    // reported, but nothing is synced and history does not grow.
    repo.write("README.md", "shop config, edited\n");
    let third = repo.commit_push("docs only");
    let app = env.wait_app("shop", "compared at the docs-only commit", |a| {
        s(a, "/status/sync/revision") == third
    });
    assert_eq!(s(&app, "/status/sync/status"), "Synced");
    let app = wait_reconciled_after(&env, "shop", &app);
    assert_eq!(history_revisions(&app), vec![first, second.clone()]);
    assert_eq!(
        s(&app, "/status/operationState/syncResult/revision"),
        second
    );
    env.controller.assert_no_errors();
}

/// A PostSync hook (recreated by every sync that runs hooks: BeforeHookCreation).
const POST_SYNC_HOOK: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: post-sync\n  \
    annotations:\n    argocd.argoproj.io/hook: PostSync\ndata:\n  ran: \"yes\"\n";

#[test]
fn self_heal_reverts_drift_and_without_it_drift_only_shows() {
    require_tools!(GIT, KUBECTL);
    let repo = GitRepo::new(
        "heal.git",
        &[
            (
                "healed/settings.yaml",
                configmap("settings", "color", "blue"),
            ),
            ("healed/web.yaml", deployment("web", 2)),
            ("healed/hook.yaml", POST_SYNC_HOOK.into()),
            ("watched/web.yaml", deployment("web", 2)),
        ],
    );
    let daemon = common::git_daemon(&repo.root);
    let env = Env::start(RESYNC);
    let url = format!("git://127.0.0.1:{}/heal.git", daemon.port);
    env.apply_json(&application(
        "healed",
        &url,
        "healed",
        "healed",
        automated(true, true),
    ));
    env.apply_json(&application(
        "watched",
        &url,
        "watched",
        "watched",
        automated(true, false),
    ));
    env.wait_synced("healed", None);
    env.wait_synced("watched", None);
    let hook = env
        .get("configmap", "healed", "post-sync")
        .expect("the PostSync hook ran");
    let hook_uid = s(&hook, "/metadata/uid").to_string();

    // Deleted: recreated.
    let uid = s(
        &env.get("configmap", "healed", "settings").unwrap(),
        "/metadata/uid",
    )
    .to_string();
    env.kubectl_ok(&["delete", "configmap", "settings", "-n", "healed"]);
    env.wait_object("configmap", "healed", "settings", "recreated", |o| {
        o.is_some_and(|o| s(o, "/metadata/uid") != uid && o["data"]["color"] == "blue")
    });
    // Edited: reverted (the second heal waits for the self-heal backoff, 2 s).
    env.kubectl_ok(&["scale", "deployment", "web", "-n", "healed", "--replicas=5"]);
    env.wait_object("deployment", "healed", "web", "scaled back to 2", |o| {
        o.is_some_and(|o| o["spec"]["replicas"] == 2)
    });
    let app = env.wait_synced("healed", None);
    let op = &app["status"]["operationState"]["operation"]["sync"];
    assert!(
        op["autoHealAttemptsCount"].as_i64().unwrap_or(0) >= 1,
        "{op}"
    );
    // Self-heal syncs are selective: no history entry, no hooks run again.
    assert_eq!(history(&app).len(), 1, "{:#?}", app["status"]["history"]);
    let hook = env.get("configmap", "healed", "post-sync").unwrap();
    assert_eq!(
        s(&hook, "/metadata/uid"),
        hook_uid,
        "a self-heal re-ran the hook"
    );

    // Without selfHeal the drift is reported, not reverted.
    env.kubectl_ok(&[
        "scale",
        "deployment",
        "web",
        "-n",
        "watched",
        "--replicas=5",
    ]);
    let app = env.wait_app("watched", "OutOfSync", |a| {
        s(a, "/status/sync/status") == "OutOfSync"
    });
    let web = resource(&app, "Deployment", "web").expect("web in status.resources");
    assert_eq!(web["status"], "OutOfSync");
    // Give it more than a poll interval and a reconcile: still drifted, still OutOfSync.
    let app = wait_reconciled_after(&env, "watched", &app);
    let app = wait_reconciled_after(&env, "watched", &app);
    assert_eq!(s(&app, "/status/sync/status"), "OutOfSync");
    assert_eq!(
        env.get("deployment", "watched", "web").unwrap()["spec"]["replicas"],
        5
    );
    assert_eq!(history(&app).len(), 1);
    env.controller.assert_no_errors();
}

#[test]
fn removed_file_is_pruned_only_with_automated_prune() {
    require_tools!(GIT, KUBECTL);
    let files = [
        ("pruned/keep.yaml", configmap("keep", "k", "v")),
        ("pruned/old.yaml", configmap("old", "k", "v")),
        ("kept/keep.yaml", configmap("keep", "k", "v")),
        ("kept/old.yaml", configmap("old", "k", "v")),
    ];
    let repo = GitRepo::new("prune.git", &files);
    let daemon = common::git_daemon(&repo.root);
    let env = Env::start(RESYNC);
    let url = format!("git://127.0.0.1:{}/prune.git", daemon.port);
    env.apply_json(&application(
        "pruned",
        &url,
        "pruned",
        "pruned",
        automated(true, false),
    ));
    env.apply_json(&application(
        "kept",
        &url,
        "kept",
        "kept",
        automated(false, false),
    ));
    env.wait_synced("pruned", None);
    env.wait_synced("kept", None);
    assert!(env.exists("configmap", "kept", "old"));

    repo.remove("pruned/old.yaml");
    repo.remove("kept/old.yaml");
    let rev = repo.commit_push("remove old");
    env.wait_object("configmap", "pruned", "old", "pruned", |o| o.is_none());
    let app = env.wait_synced("pruned", Some(&rev));
    assert!(
        resource(&app, "ConfigMap", "old").is_none(),
        "{}",
        app["status"]["resources"]
    );
    let pruned = app["status"]["operationState"]["syncResult"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "old")
        .cloned()
        .unwrap_or_default();
    assert_eq!(pruned["status"], "Pruned", "{pruned}");

    let app = env.wait_app("kept", "OutOfSync at the new commit", |a| {
        s(a, "/status/sync/revision") == rev && s(a, "/status/sync/status") == "OutOfSync"
    });
    let old = resource(&app, "ConfigMap", "old").expect("old in status.resources");
    assert_eq!(old["requiresPruning"], true, "{old}");
    assert_eq!(old["status"], "OutOfSync");
    assert_eq!(
        resource(&app, "ConfigMap", "keep").unwrap()["status"],
        "Synced"
    );
    // Auto-sync does not run for prune-only differences: the object stays, no new history.
    let app = wait_reconciled_after(&env, "kept", &app);
    assert!(env.exists("configmap", "kept", "old"));
    assert_eq!(history(&app).len(), 1);
    assert_eq!(s(&app, "/status/sync/status"), "OutOfSync");
    env.controller.assert_no_errors();
}

fn sign(secret: &str, body: &[u8]) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn github_push(port: u16, git_ref: &str, before: &str, after: &str, files: &[&str]) -> Vec<u8> {
    json!({
        "ref": git_ref,
        "before": before,
        "after": after,
        "repository": {
            "name": "webshop",
            "full_name": "e2e/webshop",
            "html_url": format!("http://127.0.0.1:{port}/webshop"),
            "clone_url": format!("http://127.0.0.1:{port}/webshop.git"),
            "default_branch": "main",
        },
        "commits": [{"id": after, "added": [], "removed": [], "modified": files}],
    })
    .to_string()
    .into_bytes()
}

#[test]
fn signed_github_webhook_refreshes_at_once_and_bad_signature_is_refused() {
    require_tools!(GIT, KUBECTL);
    const SECRET: &str = "e2e-webhook-secret";
    let repo = GitRepo::new(
        "webshop.git",
        &[("app/settings.yaml", configmap("settings", "color", "blue"))],
    );
    let server = fjord_testkit::http_backend::serve(&repo.root, None);
    // Polling every ten minutes: only the webhook can bring the change in.
    let env = Env::start("10m");
    // The webhook secret is configured while the controller runs.
    env.apply_json(&json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "argocd-secret", "namespace": NS,
            "labels": {"app.kubernetes.io/part-of": "argocd"}},
        "stringData": {"webhook.github.secret": SECRET},
    }));
    let url = format!("http://127.0.0.1:{}/webshop.git", server.port);
    env.apply_json(&application(
        "webshop",
        &url,
        "app",
        "webshop",
        automated(true, false),
    ));
    let first = repo.head();
    env.wait_synced("webshop", Some(&first));

    repo.write(
        "app/settings.yaml",
        &configmap("settings", "color", "green"),
    );
    let second = repo.commit_push("green");
    let body = github_push(
        server.port,
        "refs/heads/main",
        &first,
        &second,
        &["app/settings.yaml"],
    );
    let post = |sig: &str, body: &[u8]| {
        common::http(
            env.controller.webhook,
            "POST",
            "/api/webhook",
            &[
                ("Content-Type", "application/json"),
                ("X-GitHub-Event", "push"),
                ("X-GitHub-Delivery", "e2e-1"),
                ("X-Hub-Signature-256", sig),
            ],
            body,
        )
    };

    // The secret applied above must be enforced quickly (probed with a push to another
    // branch, which refreshes nothing even when accepted).
    let other = github_push(
        server.port,
        "refs/heads/feature",
        &first,
        &second,
        &["app/settings.yaml"],
    );
    let enforced = Instant::now();
    env.wait("the webhook secret to be enforced", CONVERGE, || {
        (post(&sign("not-the-secret", &other), &other).0 == 401).then_some(())
    });
    eprintln!(
        "webhook secret enforced {:?} after the check started",
        enforced.elapsed()
    );
    assert!(
        enforced.elapsed() < Duration::from_secs(10),
        "argocd-secret took {:?}",
        enforced.elapsed()
    );

    // A bad signature: 401, and no fetch, no change.
    let (code, reply) = post(&sign("not-the-secret", &body), &body);
    assert_eq!(code, 401, "{reply}");
    let fetches = server.requests.load(std::sync::atomic::Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        server.requests.load(std::sync::atomic::Ordering::SeqCst),
        fetches,
        "a refused webhook made the controller fetch"
    );
    assert_eq!(
        env.get("configmap", "webshop", "settings").unwrap()["data"]["color"],
        "blue"
    );
    assert_eq!(s(&env.app("webshop"), "/status/sync/revision"), first);

    // A push to another branch refreshes nothing.
    let (code, reply) = post(&sign(SECRET, &other), &other);
    assert_eq!((code, reply.trim()), (200, "refreshed 0 application(s)"));
    // GitHub's ping when the hook is created.
    let ping = br#"{"zen": "Keep it logically awesome.", "hook_id": 1}"#;
    let (code, _) = common::http(
        env.controller.webhook,
        "POST",
        "/api/webhook",
        &[
            ("X-GitHub-Event", "ping"),
            ("X-Hub-Signature-256", &sign(SECRET, ping)),
        ],
        ping,
    );
    assert_eq!(code, 200);

    // Correctly signed: converges within a couple of seconds.
    let sent = Instant::now();
    let (code, reply) = post(&sign(SECRET, &body), &body);
    assert_eq!((code, reply.trim()), (200, "refreshed 1 application(s)"));
    env.wait_config("webshop", "settings", "color", "green");
    let latency = sent.elapsed();
    eprintln!("webhook: POST to converged in {latency:?}");
    assert!(
        latency < Duration::from_secs(5),
        "webhook convergence took {latency:?}"
    );
    env.wait_synced("webshop", Some(&second));
    env.controller.assert_no_errors();
}

#[test]
fn unreachable_repository_is_a_comparison_error_and_recovers() {
    require_tools!(GIT, KUBECTL);
    let repo = shop_repo();
    let daemon = common::git_daemon(&repo.root);
    let port = daemon.port;
    let env = Env::start(RESYNC);
    let url = format!("git://127.0.0.1:{port}/shop.git");
    env.apply_json(&application(
        "shop",
        &url,
        "app",
        "shop",
        automated(true, true),
    ));
    env.wait_synced("shop", Some(&repo.head()));

    drop(daemon);
    let app = env.wait_app("shop", "ComparisonError", |a| {
        s(a, "/status/sync/status") == "Unknown"
            && a["status"]["conditions"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["type"] == "ComparisonError"))
    });
    let cond = app["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "ComparisonError")
        .unwrap();
    assert!(
        s(cond, "/message").contains(&format!("127.0.0.1:{port}")),
        "{cond}"
    );
    // A commit lands while the server is down.
    repo.write(
        "app/settings.yaml",
        &configmap("settings", "color", "green"),
    );
    let rev = repo.commit_push("green while down");
    // The controller keeps retrying; nothing it deployed is pruned meanwhile.
    let app = wait_reconciled_after(&env, "shop", &app);
    assert_eq!(s(&app, "/status/sync/status"), "Unknown");
    assert!(env.exists("configmap", "shop", "settings"));
    assert!(env.exists("deployment", "shop", "web"));
    assert_eq!(
        env.get("configmap", "shop", "settings").unwrap()["data"]["color"],
        "blue"
    );

    let _daemon = common::git_daemon_on(&repo.root, port);
    let app = env.wait_synced("shop", Some(&rev));
    assert!(
        app["status"]["conditions"]
            .as_array()
            .is_none_or(|c| c.is_empty()),
        "{}",
        app["status"]["conditions"]
    );
    assert_eq!(
        env.get("configmap", "shop", "settings").unwrap()["data"]["color"],
        "green"
    );
    env.controller.assert_no_errors();
}

#[test]
fn sync_records_operation_completed_events() {
    require_tools!(GIT, KUBECTL);
    let repo = shop_repo();
    let daemon = common::git_daemon(&repo.root);
    let env = Env::start(RESYNC);
    let url = format!("git://127.0.0.1:{}/shop.git", daemon.port);
    env.apply_json(&application(
        "shop",
        &url,
        "app",
        "shop",
        automated(true, false),
    ));
    let rev = repo.head();
    env.wait_synced("shop", Some(&rev));
    let columns =
        "custom-columns=TYPE:.type,REASON:.reason,OBJECT:.involvedObject.name,MESSAGE:.message";
    let table = env.wait("an OperationCompleted event", CONVERGE, || {
        let t = env.kubectl_ok(&["get", "events", "-n", NS, "-o", columns]);
        t.contains("OperationCompleted").then_some(t)
    });
    let line = table
        .lines()
        .find(|l| l.contains("OperationCompleted"))
        .unwrap();
    assert!(line.starts_with("Normal"), "{table}");
    assert!(line.contains(" shop "), "{table}");
    assert!(
        line.contains(&format!("Sync operation to {} succeeded", &rev[..7])),
        "{table}"
    );
    // The status transitions are recorded too.
    assert!(table.contains("ResourceUpdated"), "{table}");
    let events: Value =
        serde_json::from_str(&env.kubectl_ok(&["get", "events", "-n", NS, "-o", "json"])).unwrap();
    let ev = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["reason"] == "OperationCompleted")
        .unwrap();
    assert_eq!(ev["involvedObject"]["kind"], "Application");
    assert_eq!(
        ev["involvedObject"]["uid"],
        env.app("shop")["metadata"]["uid"]
    );
    env.controller.assert_no_errors();
}

#[test]
fn secret_values_never_reach_logs_or_status() {
    require_tools!(GIT, KUBECTL);
    const VALUE: &str = "e2e-Sup3r-S3cret-Pa55";
    const DRIFT: &str = "drifted-Pa55-4711";
    let b64 = |v: &str| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(v)
    };
    // `data`, not `stringData`: fjord local-cluster stores stringData as it is.
    let secret = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\ndata:\n  password: {}\n",
        b64(VALUE)
    );
    let repo = GitRepo::new(
        "vault.git",
        &[
            ("app/db.yaml", secret),
            ("app/web.yaml", deployment("web", 1)),
        ],
    );
    let daemon = common::git_daemon(&repo.root);
    let env = Env::start(RESYNC);
    let url = format!("git://127.0.0.1:{}/vault.git", daemon.port);
    env.apply_json(&application(
        "vault",
        &url,
        "app",
        "vault",
        automated(true, true),
    ));
    env.wait_synced("vault", None);
    let live = env.get("secret", "vault", "db").unwrap();
    assert_eq!(live["data"]["password"], b64(VALUE));

    // Drift on the Secret, healed.
    let patch = json!({"data": {"password": b64(DRIFT)}}).to_string();
    env.kubectl_ok(&[
        "patch", "secret", "db", "-n", "vault", "--type", "merge", "-p", &patch,
    ]);
    env.wait_object("secret", "vault", "db", "healed", |o| {
        o.is_some_and(|o| o["data"]["password"] == b64(VALUE))
    });
    env.wait_synced("vault", None);

    let forbidden = [VALUE, DRIFT, &b64(VALUE), &b64(DRIFT)];
    let check = |what: &str, text: &str| {
        for f in &forbidden {
            assert!(
                !text.contains(f),
                "{what} contains secret value {f}:\n{text}"
            );
        }
    };
    let get = env.fjord_ok(&["app", "get", "vault", "-o", "json"]);
    let app: Value = serde_json::from_str(&get).unwrap();
    assert!(resource(&app, "Secret", "db").is_some(), "{get}");
    check("fjord app get -o json", &get);
    check(
        "fjord app get -o yaml",
        &env.fjord_ok(&["app", "get", "vault", "-o", "yaml"]),
    );
    check("fjord app get", &env.fjord_ok(&["app", "get", "vault"]));
    check(
        "events",
        &env.kubectl_ok(&["get", "events", "-n", NS, "-o", "json"]),
    );
    let log = env.controller.log_text();
    assert!(log.contains("Sync operation to"), "{log}");
    check("the controller log", &log);
    env.controller.assert_no_errors();
}

#[test]
fn an_object_the_server_refuses_is_an_error_condition_and_nothing_is_applied() {
    require_tools!(GIT, KUBECTL);
    // `data` of a ConfigMap must hold strings: `enabled: true` is a YAML boolean, which the API
    // server refuses (both backends, as kube-apiserver does).
    let repo = GitRepo::new(
        "refused.git",
        &[
            ("app/settings.yaml", configmap("settings", "color", "blue")),
            (
                "app/flags.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: flags\ndata:\n  enabled: true\n"
                    .into(),
            ),
        ],
    );
    let daemon = common::git_daemon(&repo.root);
    let env = Env::start(RESYNC);
    let url = format!("git://127.0.0.1:{}/refused.git", daemon.port);
    let mut app = application("refused", &url, "app", "refused", automated(true, false));
    // No retries: the failed attempt is final, and Argo CD's SyncError says why.
    app["spec"]["syncPolicy"]["retry"] = json!({"limit": 0});
    env.apply_json(&app);
    // fjord's comparison dry-runs every object on the server, so the refusal shows as a
    // ComparisonError (a failed sync of it as a SyncError) naming the object.
    let refusal = |a: &Value| -> Option<String> {
        a["status"]["conditions"].as_array()?.iter().find_map(|c| {
            let kind = s(c, "/type");
            let msg = s(c, "/message");
            ((kind == "ComparisonError" || kind == "SyncError") && msg.contains("flags"))
                .then(|| msg.to_string())
        })
    };
    let app = env.wait_app(
        "refused",
        "an error condition naming the refused object",
        |a| refusal(a).is_some(),
    );
    let msg = refusal(&app).unwrap();
    assert!(
        msg.contains("ConfigMap refused/flags")
            && (msg.contains("expected string") || msg.contains("cannot unmarshal bool")),
        "the object and the server's own message: {msg}"
    );
    assert_ne!(s(&app, "/status/sync/status"), "Synced", "{app}");
    // The dry run of every object comes before any change: nothing is half-applied.
    assert!(
        !env.exists("configmap", "refused", "settings"),
        "half-applied"
    );
    assert!(!env.exists("configmap", "refused", "flags"));
    // CreateNamespace made the namespace only to dry-run its objects, and deleted it again.
    env.wait(
        "the dry run's namespace to be gone",
        Duration::from_secs(60),
        || (!env.exists("namespace", "", "refused")).then_some(()),
    );
    assert!(
        !env.exists("configmap", "refused", "settings"),
        "half-applied"
    );
}
