//! Multi-cluster through the real binary: two clusters of the test backend, the controller on the
//! first, and the second registered with an Argo CD cluster Secret. Applications that name the
//! registered cluster (by server or by name) deploy there and nowhere else; an unknown cluster
//! is an InvalidSpecError that deploys nothing.

mod common;

use common::{application, configmap, s, Cluster, Env, GitRepo, NS};
use fjord_testkit::require_tools;
use fjord_testkit::tools::{GIT, KUBECTL};
use serde_json::{json, Value};
use std::time::Duration;

fn server_of(cluster: &Cluster) -> String {
    let kc = std::fs::read_to_string(&cluster.kubeconfig).unwrap();
    kc.lines()
        .find_map(|l| l.trim().strip_prefix("server: "))
        .expect("server in kubeconfig")
        .to_string()
}

fn with_destination(mut app: Value, dest: Value) -> Value {
    app["spec"]["destination"] = dest;
    app
}

#[test]
fn registered_cluster_receives_the_apps_that_name_it() {
    require_tools!(GIT, KUBECTL);
    let repo = GitRepo::new(
        "fleet.git",
        &[(
            "app/settings.yaml",
            configmap("settings", "region", "eu-north"),
        )],
    );
    let daemon = common::git_daemon(&repo.root);
    let url = format!("git://127.0.0.1:{}/fleet.git", daemon.port);
    let env = Env::start("10m");
    let remote = Cluster::start();
    let server = server_of(&remote);

    env.apply_json(&json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "cluster-remote",
            "namespace": NS,
            "labels": {"argocd.argoproj.io/secret-type": "cluster"},
        },
        "stringData": {
            "name": "remote",
            "server": server,
            "config": remote.argocd_cluster_config(),
        },
    }));

    let by_name = with_destination(
        application(
            "by-name",
            &url,
            "app",
            "by-name",
            Some(json!({"prune": true})),
        ),
        json!({"name": "remote", "namespace": "by-name"}),
    );
    let by_server = with_destination(
        application(
            "by-server",
            &url,
            "app",
            "by-server",
            Some(json!({"prune": true})),
        ),
        json!({"server": server, "namespace": "by-server"}),
    );
    env.apply_json(&by_name);
    env.apply_json(&by_server);
    for app in ["by-name", "by-server"] {
        env.wait_synced(app, None);
        let cm = env.wait(
            &format!("{app}'s ConfigMap in the registered cluster"),
            Duration::from_secs(45),
            || remote.get("configmap", app, "settings"),
        );
        assert_eq!(cm["data"]["region"], "eu-north");
        assert!(
            !env.exists("configmap", app, "settings"),
            "{app} must not deploy to the controller's own cluster"
        );
    }

    // Drift in the registered cluster is seen and shown (the cache watches it too).
    remote.kubectl_ok(&[
        "patch",
        "configmap",
        "settings",
        "-n",
        "by-name",
        "--type",
        "merge",
        "-p",
        r#"{"data":{"region":"us-east"}}"#,
    ]);
    env.wait_app(
        "by-name",
        "OutOfSync after drift in the remote cluster",
        |a| s(a, "/status/sync/status") == "OutOfSync",
    );

    // An unknown cluster deploys nothing and says why.
    let lost = with_destination(
        application("lost", &url, "app", "lost", Some(json!({"prune": true}))),
        json!({"name": "nowhere", "namespace": "lost"}),
    );
    env.apply_json(&lost);
    let app = env.wait_app("lost", "an InvalidSpecError", |a| {
        a["status"]["conditions"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["type"] == "InvalidSpecError"))
    });
    assert_eq!(s(&app, "/status/sync/status"), "Unknown");
    let msg = app["status"]["conditions"].to_string();
    assert!(msg.contains("nowhere"), "{msg}");
    assert!(!remote.exists("configmap", "lost", "settings"));
    assert!(!env.exists("configmap", "lost", "settings"));
    env.controller.assert_no_errors();
}
