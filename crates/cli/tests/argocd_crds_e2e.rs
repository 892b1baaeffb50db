//! End-to-end test of `fjord controller` with an Application CRD that, like Argo CD's own
//! (`manifests/crds/application-crd.yaml`), has no `status` subresource: Argo CD writes status
//! through the main resource, and so must fjord when `/status` answers 404.

mod common;

use common::{application, configmap, s, support, Cluster, Controller, Env, GitRepo, NS};
use serde_json::{json, Value};

/// fjord's Application CRD with `subresources` removed from every version, as JSON.
fn application_crd_without_status_subresource(cluster: &Cluster) -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../controller/crds/application-crd.yaml"
    );
    let out = cluster.kubectl(&["create", "--dry-run=client", "-o", "json", "-f", path]);
    assert!(
        out.status.success(),
        "kubectl could not read {path}: {}",
        common::text(&out)
    );
    let mut crd: Value = serde_json::from_slice(&out.stdout).expect("CRD JSON");
    let versions = crd
        .pointer_mut("/spec/versions")
        .and_then(Value::as_array_mut)
        .expect("spec.versions");
    for v in versions.iter_mut() {
        v.as_object_mut().expect("version").remove("subresources");
    }
    crd
}

#[test]
fn status_is_written_through_the_main_resource_without_a_status_subresource() {
    support::require("git", "the controller tests serve repositories with git");
    let repo = GitRepo::new(
        "plain.git",
        &[("app/settings.yaml", configmap("settings", "color", "blue"))],
    );
    let daemon = common::git_daemon(&repo.root);
    let cluster = Cluster::start();
    cluster.apply_json(&application_crd_without_status_subresource(&cluster));
    cluster.kubectl_ok(&[
        "wait",
        "--for=condition=Established",
        "crd/applications.argoproj.io",
        "--timeout=30s",
    ]);
    let controller = Controller::start(&cluster, "2s");
    let env = Env {
        controller,
        cluster,
    };
    let crd: Value = serde_json::from_str(&env.kubectl_ok(&[
        "get",
        "crd",
        "applications.argoproj.io",
        "-o",
        "json",
    ]))
    .expect("the Application CRD");
    assert!(
        crd.pointer("/spec/versions/0/subresources").is_none(),
        "the controller must keep the pre-installed CRD: {crd}"
    );
    let url = format!("git://127.0.0.1:{}/plain.git", daemon.port);
    env.apply_json(&application(
        "plain",
        &url,
        "app",
        "plain-dest",
        Some(json!({"prune": true})),
    ));
    let app = env.wait_synced("plain", Some(&repo.head()));
    assert_eq!(s(&app, "/status/sync/status"), "Synced");
    env.wait_config("plain-dest", "settings", "color", "blue");
    // The API really has no status subresource: the status came through the main resource.
    let refused = env.kubectl(&[
        "patch",
        "application",
        "plain",
        "-n",
        NS,
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{}}"#,
    ]);
    assert!(
        !refused.status.success(),
        "a status subresource exists: {}",
        common::text(&refused)
    );
    // The app's spec is untouched by the status writes through the main resource.
    assert_eq!(s(&app, "/spec/source/repoURL"), url);
    let log = env.controller.log_text();
    assert!(
        !log.contains("writing the Application status"),
        "status writes failed:\n{log}"
    );
}
