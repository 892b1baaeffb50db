//! End-to-end test of `fjord controller` on a cluster that already has Argo CD's own published
//! CRDs (`manifests/crds/` of argoproj/argo-cd, `fjord_testkit::ARGOCD_VERSION`, from the Go
//! module proxy): the Application CRD has no `status` subresource, Argo CD writes status through
//! the main resource, and so must fjord when `/status` answers 404.

mod common;

use common::{application, configmap, s, Cluster, Controller, Env, GitRepo, NS};
use fjord_testkit::require_tools;
use fjord_testkit::tools::{GIT, KUBECTL};
use serde_json::{json, Value};

#[test]
fn status_is_written_through_the_main_resource_without_a_status_subresource() {
    require_tools!(GIT, KUBECTL);
    let repo = GitRepo::new(
        "plain.git",
        &[("app/settings.yaml", configmap("settings", "color", "blue"))],
    );
    let daemon = common::git_daemon(&repo.root);
    let cluster = Cluster::start();
    if std::env::var("FJORD_TEST_CRDS").as_deref() != Ok("argocd") {
        cluster.install_argocd_crds();
    }
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
        crd.pointer("/spec/versions/0/subresources/status")
            .is_none(),
        "the controller must keep the pre-installed CRD (no status subresource): {}",
        crd.pointer("/spec/versions/0/subresources")
            .unwrap_or(&Value::Null)
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
