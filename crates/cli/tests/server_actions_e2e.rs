//! End-to-end tests of the API server's write routes through the real binary: `fjord server`
//! and `fjord controller` as child processes on the test backend, a real Git server, raw HTTP.
//! Sync (dry run, selected resources, prune, a second sync while one is pending), terminate (a
//! pending request withdrawn; a running sync stopped and not retried),
//! rollback (to an older history entry; refused under auto-sync), delete with cascade, and the
//! refusals of bad requests (unknown field, malformed JSON, oversized body, local manifests,
//! unknown app), each of which changes nothing.

mod common;

use common::server::ApiServer;
use common::{
    application, configmap, s, Cluster, Controller, Env, GitRepo, CONVERGE, GATE_HEALTH, NS,
};
use fjord_testkit::require_tools;
use fjord_testkit::tools::{CURL, GIT, KUBECTL};
use serde_json::{json, Value};

/// One caller of the server, by its bearer token; answers as JSON (`Null` when not JSON).
struct Caller<'a> {
    server: &'a ApiServer,
    token: String,
}

impl<'a> Caller<'a> {
    /// The admin, with the session of its login.
    fn admin(server: &'a ApiServer) -> Caller<'a> {
        let token = server.token().to_string();
        Caller { server, token }
    }

    /// A request; returns the status and the JSON body.
    fn call(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        let (code, text) = self.server.call_as(&self.token, method, path, Some(body));
        (code, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.call("POST", path, &body.to_string())
    }
}

/// Asserts a 400 whose message names `what`.
fn assert_refused(got: (u16, Value), what: &str) {
    assert_eq!(got.0, 400, "{what}: {}", got.1);
    assert!(s(&got.1, "/message").contains(what), "{what}: {}", got.1);
}

/// A repository with `app/` holding ConfigMaps `a` and `b`.
fn repo() -> GitRepo {
    GitRepo::new(
        "two.git",
        &[
            ("app/a.yaml", configmap("a", "color", "blue")),
            ("app/b.yaml", configmap("b", "size", "small")),
        ],
    )
}

/// The app's last operation, once it finished (the request written is gone).
fn finished(app: &Value) -> bool {
    app.get("operation").is_none()
        && matches!(
            s(app, "/status/operationState/phase"),
            "Succeeded" | "Failed" | "Error"
        )
}

#[test]
fn sync_dry_run_selected_resources_prune_and_refusals() {
    require_tools!(GIT, KUBECTL, CURL);
    let repo = repo();
    let daemon = common::git_daemon(&repo.root);
    let url = format!("git://127.0.0.1:{}/two.git", daemon.port);
    let cluster = Cluster::start();
    // The controller installs the CRDs; stopped again so that an operation stays pending.
    drop(Controller::start(&cluster, "2s"));
    cluster.apply_json(&application("two", &url, "app", "two", None));
    let api = ApiServer::start(&cluster);
    let server = Caller::admin(&api);
    let sync = "/api/v1/applications/two/sync";

    // Refusals: nothing is written.
    assert_refused(server.post(sync, &json!({"prnue": true})), "prnue");
    assert_refused(server.call("POST", sync, "{\"prune\": tru"), "not valid");
    let big = format!("{{\"revision\": \"{}\"}}", "x".repeat(1 << 20));
    assert_eq!(server.call("POST", sync, &big).0, 400);
    assert_refused(
        server.post(sync, &json!({"manifests": ["kind: ConfigMap"]})),
        "manifests",
    );
    assert_refused(
        server.post(sync, &json!({"strategy": {"hook": {"force": true}}})),
        "strategy.hook.force",
    );
    let (code, body) = server.post("/api/v1/applications/nope/sync", &json!({}));
    assert!(code == 403 || code == 404, "unknown app: {code} {body}");
    assert!(cluster
        .get("application", NS, "two")
        .unwrap()
        .get("operation")
        .is_none());

    // With no controller running, the first sync stays pending: a second one is a 409, and
    // terminating withdraws the pending one.
    let (code, app) = server.post(sync, &json!({"prune": false}));
    assert_eq!(code, 200, "{app}");
    assert_eq!(s(&app, "/operation/initiatedBy/username"), "admin", "{app}");
    let (code, body) = server.post(sync, &json!({}));
    assert_eq!(code, 409, "{body}");
    assert!(s(&body, "/message").contains("another operation is already in progress"));
    let op = "/api/v1/applications/two/operation";
    assert_eq!(server.call("DELETE", op, "").0, 200);
    assert!(cluster
        .get("application", NS, "two")
        .unwrap()
        .get("operation")
        .is_none());
    assert_eq!(server.call("DELETE", op, "").0, 409);

    let controller = Controller::start(&cluster, "2s");
    let env = Env {
        controller,
        cluster,
    };
    env.wait_app("two", "OutOfSync", |a| {
        s(a, "/status/sync/status") == "OutOfSync"
    });

    // A dry run changes nothing.
    assert_eq!(server.post(sync, &json!({"dryRun": true})).0, 200);
    let app = env.wait_app("two", "the dry run finished", |a| {
        finished(a)
            && a.pointer("/status/operationState/operation/sync/dryRun") == Some(&json!(true))
    });
    assert_eq!(
        s(&app, "/status/operationState/phase"),
        "Succeeded",
        "{app}"
    );
    assert!(env.get("configmap", "two", "a").is_none());

    // Selected resources: only `a`.
    let only_a = json!({"resources": [{"group": "", "kind": "ConfigMap", "name": "a",
                                       "namespace": "two"}],
                        "syncOptions": {"items": ["CreateNamespace=true"]}});
    assert_eq!(server.post(sync, &only_a).0, 200);
    let app = env.wait_app("two", "the selective sync finished", |a| {
        finished(a)
            && a.pointer("/status/operationState/operation/sync/resources")
                .is_some()
    });
    assert_eq!(
        s(&app, "/status/operationState/phase"),
        "Succeeded",
        "{app}"
    );
    assert_eq!(
        env.get("configmap", "two", "a").unwrap()["data"]["color"],
        "blue"
    );
    assert!(env.get("configmap", "two", "b").is_none());

    // A full sync, then prune of what Git no longer has.
    assert_eq!(server.post(sync, &json!({})).0, 200);
    env.wait_synced("two", Some(&repo.head()));
    assert!(env.get("configmap", "two", "b").is_some());
    repo.remove("app/b.yaml");
    let second = repo.commit_push("drop b");
    env.wait_app("two", "b requires pruning", |a| {
        common::resource(a, "ConfigMap", "b")
            .is_some_and(|r| r.get("requiresPruning") == Some(&json!(true)))
    });
    let (code, app) = server.post(sync, &json!({"prune": true}));
    assert_eq!(code, 200, "{app}");
    env.wait_synced("two", Some(&second));
    env.wait_object("configmap", "two", "b", "pruned", |o| o.is_none());
    env.controller.assert_no_errors();
    assert!(!api.log_text().contains(api.token()));
}

#[test]
fn rollback_to_an_older_revision_refusals_and_cascading_delete() {
    require_tools!(GIT, KUBECTL, CURL);
    let repo = repo();
    let daemon = common::git_daemon(&repo.root);
    let url = format!("git://127.0.0.1:{}/two.git", daemon.port);
    let env = Env::start("2s");
    env.apply_json(&application("two", &url, "app", "two", None));
    let api = ApiServer::start(&env.cluster);
    let server = Caller::admin(&api);
    let sync = "/api/v1/applications/two/sync";
    let first = repo.head();
    env.wait_app("two", "OutOfSync", |a| {
        s(a, "/status/sync/status") == "OutOfSync"
    });
    assert_eq!(server.post(sync, &json!({})).0, 200);
    env.wait_synced("two", Some(&first));
    repo.write("app/a.yaml", &configmap("a", "color", "green"));
    let second = repo.commit_push("green");
    env.wait_app("two", "sees the second commit", |a| {
        s(a, "/status/sync/revision") == second
    });
    assert_eq!(server.post(sync, &json!({})).0, 200);
    let app = env.wait_synced("two", Some(&second));
    assert_eq!(
        env.get("configmap", "two", "a").unwrap()["data"]["color"],
        "green"
    );
    let old_id = common::history(&app)
        .iter()
        .find(|h| s(h, "/revision") == first)
        .and_then(|h| h["id"].as_i64())
        .expect("a history entry of the first commit");

    let rollback = "/api/v1/applications/two/rollback";
    assert_refused(server.post(rollback, &json!({"id": 99})), "99");
    assert_refused(
        server.post(rollback, &json!({"id": old_id, "revision": "x"})),
        "revision",
    );
    let (code, app) = server.post(rollback, &json!({"id": old_id}));
    assert_eq!(code, 200, "{app}");
    let app = env.wait_app("two", "the rollback finished", |a| {
        finished(a) && s(a, "/status/operationState/syncResult/revision") == first
    });
    assert_eq!(
        s(&app, "/status/operationState/phase"),
        "Succeeded",
        "{app}"
    );
    assert_eq!(
        env.get("configmap", "two", "a").unwrap()["data"]["color"],
        "blue"
    );

    // Under auto-sync a rollback is refused with Argo CD's message.
    env.kubectl_ok(&[
        "patch",
        "application",
        "two",
        "-n",
        NS,
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"syncPolicy":{"automated":{"prune":true}}}}"#,
    ]);
    env.wait_app("two", "auto-sync on", |a| {
        a.pointer("/spec/syncPolicy/automated").is_some()
    });
    let got = server.post(rollback, &json!({"id": old_id}));
    assert_refused(
        got,
        "rollback cannot be initiated when auto-sync is enabled",
    );

    // Delete: bad parameters change nothing; with cascade, what it deployed goes too.
    let app_path = "/api/v1/applications/two";
    let bad = server.call(
        "DELETE",
        &format!("{app_path}?cascade=false&propagationPolicy=foreground"),
        "",
    );
    assert_refused(bad, "propagationPolicy");
    assert_refused(
        server.call(
            "DELETE",
            &format!("{app_path}?propagationPolicy=orphan"),
            "",
        ),
        "propagationPolicy",
    );
    assert!(env.get("application", NS, "two").is_some());
    let (code, body) = server.call("DELETE", app_path, "");
    assert_eq!((code, &body), (200, &json!({})));
    env.wait_object("application", NS, "two", "deleted", |o| o.is_none());
    env.wait_object("configmap", "two", "a", "deleted with the app", |o| {
        o.is_none()
    });
    env.controller.assert_no_errors();
}

#[test]
fn a_caller_who_may_only_read_is_refused_every_write() {
    require_tools!(GIT, KUBECTL, CURL);
    let repo = repo();
    let daemon = common::git_daemon(&repo.root);
    let url = format!("git://127.0.0.1:{}/two.git", daemon.port);
    let env = Env::start("2s");
    env.apply_json(&application("two", &url, "app", "two", None));
    env.wait_app("two", "OutOfSync", |a| {
        s(a, "/status/sync/status") == "OutOfSync"
    });
    let roles = json!({"spec": {"roles": [{"name": "viewer", "policies": [
        "p, proj:default:viewer, applications, get, default/*, allow"]}]}});
    env.kubectl_ok(&[
        "patch",
        "appproject",
        "default",
        "-n",
        NS,
        "--type",
        "merge",
        "-p",
        &roles.to_string(),
    ]);
    let api = ApiServer::start(&env.cluster);
    let admin = Caller::admin(&api);
    let token = env.wait("a project role token", CONVERGE, || {
        let (code, body) = admin.post("/api/v1/projects/default/roles/viewer/token", &json!({}));
        (code == 200).then(|| s(&body, "/token").to_string())
    });
    let viewer = Caller {
        server: &api,
        token,
    };
    let (code, body) = viewer.call("GET", "/api/v1/applications/two", "");
    assert_eq!(code, 200, "the viewer may read: {body}");
    let denied = |got: (u16, Value), action: &str| {
        assert_eq!(got.0, 403, "{action}: {}", got.1);
        let want = format!("permission denied: applications, {action}, default/two");
        assert_eq!(s(&got.1, "/message"), want);
    };
    denied(
        viewer.post("/api/v1/applications/two/sync", &json!({})),
        "sync",
    );
    denied(
        viewer.post("/api/v1/applications/two/rollback", &json!({"id": 0})),
        "sync",
    );
    denied(
        viewer.call("DELETE", "/api/v1/applications/two/operation", ""),
        "sync",
    );
    denied(
        viewer.call("DELETE", "/api/v1/applications/two", ""),
        "delete",
    );
    let app = env.app("two");
    assert!(app.get("operation").is_none(), "{app}");
    assert!(
        app.pointer("/metadata/deletionTimestamp").is_none(),
        "{app}"
    );
}

#[test]
fn terminate_stops_a_running_sync_and_it_is_not_retried() {
    require_tools!(GIT, KUBECTL, CURL);
    let gate = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: gate\n  annotations:\n    \
                e2e/gate: \"true\"\n  namespace: gated\ndata:\n  open: \"no\"\n";
    let repo = GitRepo::new(
        "gated.git",
        &[
            ("app/gate.yaml", gate.into()),
            ("app/later.yaml", {
                // A later wave: never reached while the gate holds the sync.
                let cm = configmap("later", "k", "v");
                cm.replace(
                    "metadata:\n",
                    "metadata:\n  annotations:\n    argocd.argoproj.io/sync-wave: \"5\"\n",
                )
            }),
        ],
    );
    let daemon = common::git_daemon(&repo.root);
    let url = format!("git://127.0.0.1:{}/gated.git", daemon.port);
    let cluster = Cluster::start();
    cluster.apply_json(&json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": NS}}));
    cluster.apply_json(&json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "argocd-cm", "namespace": NS},
        "data": {"resource.customizations.health.ConfigMap": GATE_HEALTH},
    }));
    let controller = Controller::start(&cluster, "10m");
    let env = Env {
        controller,
        cluster,
    };
    let mut app = application("gated", &url, "app", "gated", None);
    app["spec"]["syncPolicy"] = json!({"syncOptions": ["CreateNamespace=true"],
        "retry": {"limit": 3, "backoff": {"duration": "1s", "factor": 1}}});
    env.apply_json(&app);
    let api = ApiServer::start(&env.cluster);
    let server = Caller::admin(&api);
    assert_eq!(
        server.post("/api/v1/applications/gated/sync", &json!({})).0,
        200
    );
    env.wait_app("gated", "its sync waiting for the gate", |a| {
        s(a, "/status/operationState/phase") == "Running"
    });
    let (code, body) = server.call("DELETE", "/api/v1/applications/gated/operation", "");
    assert_eq!(code, 200, "{body}");
    let app = env.wait_app("gated", "the sync ended as terminated", |a| {
        s(a, "/status/operationState/phase") == "Failed"
    });
    assert_eq!(
        s(&app, "/status/operationState/message"),
        "Operation terminated",
        "{app}"
    );
    // Not retried (its retry strategy allows 3), and the later wave never ran.
    std::thread::sleep(std::time::Duration::from_secs(4));
    let app = env.app("gated");
    assert_eq!(s(&app, "/status/operationState/phase"), "Failed", "{app}");
    assert!(
        app.pointer("/status/operationState/retryCount").is_none(),
        "{app}"
    );
    assert!(env.get("configmap", "gated", "later").is_none());
    let (code, body) = server.call("DELETE", "/api/v1/applications/gated/operation", "");
    assert_eq!(code, 409, "nothing left to terminate: {body}");
}
