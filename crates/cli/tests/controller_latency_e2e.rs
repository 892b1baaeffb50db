//! The controller writes each app's result as soon as its own sync is done (issue 11): one
//! app's slow sync (a resource that stays Progressing) holds neither a worker nor the status of
//! another app. Runs against the backend `FJORD_TEST_BACKEND` selects.

mod common;

use common::{application, configmap, s, Cluster, Controller, Env, GitRepo, GATE_HEALTH, NS};
use fjord_testkit::require_tools;
use fjord_testkit::tools::{GIT, KUBECTL};
use serde_json::json;

/// A ConfigMap that keeps its app's sync waiting until the gate is opened.
const GATE: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: gate\n  annotations:\n    \
                    e2e/gate: \"true\"\ndata:\n  open: \"no\"\n";

#[test]
fn a_slow_sync_holds_back_neither_a_worker_nor_another_apps_status() {
    require_tools!(GIT, KUBECTL);
    let repo = GitRepo::new(
        "latency.git",
        &[
            ("slow/gate.yaml", GATE.into()),
            ("fast/settings.yaml", configmap("settings", "color", "blue")),
        ],
    );
    let daemon = common::git_daemon(&repo.root);
    let url = format!("git://127.0.0.1:{}/latency.git", daemon.port);
    let cluster = Cluster::start();
    cluster.apply_json(&json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": NS}}));
    cluster.apply_json(&json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "argocd-cm", "namespace": NS},
        "data": {"resource.customizations.health.ConfigMap": GATE_HEALTH},
    }));
    // One worker: before, the slow sync held it until the gate opened.
    let controller = Controller::start_with(&cluster, "10m", &["--workers", "1"]);
    let env = Env {
        controller,
        cluster,
    };
    let automated = Some(json!({"prune": true, "selfHeal": false}));
    env.apply_json(&application(
        "slow",
        &url,
        "slow",
        "slow",
        automated.clone(),
    ));
    env.wait_app("slow", "its sync waiting for the gate", |a| {
        s(a, "/status/operationState/phase") == "Running"
    });
    env.apply_json(&application("fast", &url, "fast", "fast", automated));
    let fast = env.wait_synced("fast", Some(&repo.head()));
    assert_eq!(s(&fast, "/status/operationState/phase"), "Succeeded");
    assert_eq!(
        env.get("configmap", "fast", "settings").unwrap()["data"]["color"],
        "blue"
    );
    let slow = env.app("slow");
    assert_eq!(
        s(&slow, "/status/operationState/phase"),
        "Running",
        "the slow sync is still waiting: {}",
        slow["status"]
    );

    // Opening the gate ends the slow sync, and its result is written.
    env.kubectl_ok(&[
        "patch",
        "configmap",
        "gate",
        "-n",
        "slow",
        "--type",
        "merge",
        "-p",
        r#"{"data":{"open":"yes"}}"#,
    ]);
    let slow = env.wait_app("slow", "its sync finished", |a| {
        s(a, "/status/operationState/phase") == "Succeeded"
    });
    assert_eq!(
        s(&slow, "/status/operationState/syncResult/revision"),
        repo.head()
    );
    env.controller.assert_no_errors();
}
