//! `fjord controller` inside a cluster, as a Pod runs it: no kubeconfig anywhere, only
//! `KUBERNETES_SERVICE_HOST`/`PORT` and the service-account files (token, CA, namespace) at
//! `/var/run/secrets/kubernetes.io/serviceaccount`, against the real control plane. The token
//! comes from the API server's TokenRequest, and RBAC grants the ServiceAccount only what the
//! controller needs. Always on the real control plane: the local API has no RBAC.
//!
//! The service-account folder is bind-mounted in a private mount namespace (`unshare`, as root)
//! so the machine's own `/var/run` is never touched.

mod common;

use common::in_cluster::{require_root, InCluster};
use common::{application, configmap, poll, s, Cluster, Env, GitRepo, NS};
use fjord_testkit::require_tools;
use fjord_testkit::tools::{GIT, KUBECTL, UNSHARE};
use serde_json::{json, Value};
use std::process::Command;
use std::time::Duration;

/// Namespace the apps deploy to.
const TEAM: &str = "team";

/// What the controller needs, and nothing more: read its CRDs, namespaces and settings, keep
/// Applications' status, write Events, and manage ConfigMaps in `team` (a Role there). It may
/// not touch Services anywhere.
fn least_privilege_rbac() -> String {
    format!(
        r#"
apiVersion: v1
kind: ServiceAccount
metadata: {{name: fjord, namespace: {NS}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: fjord-controller}}
rules:
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [namespaces, configmaps, secrets]
  verbs: [get, list, watch]
- apiGroups: [argoproj.io]
  resources: [applications, appprojects]
  verbs: [get, list, watch, update, patch]
- apiGroups: [argoproj.io]
  resources: [applications/status]
  verbs: [update, patch]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: fjord-controller}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: fjord-controller}}
subjects: [{{kind: ServiceAccount, name: fjord, namespace: {NS}}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: fjord-deployer, namespace: {TEAM}}}
rules:
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list, watch, create, update, patch, delete]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: fjord-deployer, namespace: {TEAM}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: fjord-deployer}}
subjects: [{{kind: ServiceAccount, name: fjord, namespace: {NS}}}]
"#
    )
}

/// A Service manifest (which the controller's RBAC does not allow).
fn service(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  ports:\n  - port: 80\n  selector:\n    app: {name}\n"
    )
}

/// `fjord controller` as a Pod runs it.
fn controller_args(cluster: &Cluster) -> Vec<String> {
    let cache = cluster.dir.path().join("cache");
    [
        "controller",
        "--metrics-addr",
        "127.0.0.1:0",
        "--webhook-addr",
        "127.0.0.1:0",
        "--sealed-secrets=false",
        "--external-secrets=false",
        "--cache-dir",
        cache.to_str().unwrap(),
        "--resync",
        "2s",
    ]
    .map(String::from)
    .to_vec()
}

fn conditions(app: &Value) -> Vec<(String, String)> {
    app.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| (s(c, "/type").to_string(), s(c, "/message").to_string()))
        .collect()
}

#[test]
fn controller_runs_in_cluster_with_a_service_account_token_and_least_privilege() {
    require_tools!(GIT, KUBECTL, UNSHARE);
    require_root();
    let repo = GitRepo::new(
        "incluster.git",
        &[
            (
                "allowed/settings.yaml",
                configmap("settings", "color", "blue"),
            ),
            ("denied/settings.yaml", configmap("other", "color", "red")),
            ("denied/web.yaml", service("web")),
        ],
    );
    let daemon = common::git_daemon(&repo.root);
    let url = format!("git://127.0.0.1:{}/incluster.git", daemon.port);

    let cp = fjord_testkit::ControlPlane::start_or_panic();
    let cluster = Cluster::from_control_plane(cp);
    // What an installer does with admin rights: CRDs, namespaces, the default project, RBAC.
    let crds = concat!(env!("CARGO_MANIFEST_DIR"), "/../controller/crds");
    for f in ["application-crd.yaml", "appproject-crd.yaml"] {
        cluster.kubectl_ok(&["create", "-f", &format!("{crds}/{f}")]);
    }
    cluster.wait_argoproj_crds();
    cluster.kubectl_ok(&["create", "namespace", NS]);
    cluster.kubectl_ok(&["create", "namespace", TEAM]);
    cluster.kubectl_ok(&[
        "apply",
        "-n",
        NS,
        "-f",
        &format!("{crds}/default-appproject.yaml"),
    ]);
    cluster.apply(&least_privilege_rbac());

    // A token bound to the Secret `token-1` (deleting it revokes the token).
    cluster.kubectl_ok(&["create", "secret", "generic", "token-1", "-n", NS]);
    let pod = InCluster::new(&cluster, NS, "fjord");
    pod.write_token(Some("token-1"));

    let log = cluster.dir.path().join("controller.log");
    let args = controller_args(&cluster);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let controller = pod.spawn_controller(&args, &[], &log);
    let env = Env {
        controller,
        cluster,
    };
    let mut allowed = application(
        "allowed",
        &url,
        "allowed",
        TEAM,
        Some(json!({"prune": true})),
    );
    allowed["spec"]["syncPolicy"] = json!({"automated": {"prune": true}});
    env.apply_json(&allowed);
    let app = env.wait_synced("allowed", Some(&repo.head()));
    assert_eq!(s(&app, "/status/health/status"), "Healthy", "{app}");
    env.wait_config(TEAM, "settings", "color", "blue");
    // `fjord doctor` in the same Pod finds the API through the in-cluster settings too.
    let doctor = pod.command(&["doctor", "--skip-disk"]).output().unwrap();
    let out = common::text(&doctor);
    assert!(
        out.contains("PASS  API reachable, Kubernetes v1.34"),
        "fjord doctor in a Pod: {out}"
    );

    // A permission the ServiceAccount lacks: the app says which object and why, and nothing
    // of it is half-applied (the ConfigMap beside the Service is not created either).
    let mut denied = application("denied", &url, "denied", TEAM, Some(json!({})));
    denied["spec"]["syncPolicy"] = json!({"automated": {}});
    env.apply_json(&denied);
    let app = env.wait_app("denied", "a condition naming the forbidden Service", |a| {
        conditions(a)
            .iter()
            .any(|(_, m)| m.contains("web") && m.contains("forbidden"))
    });
    let (kind, message) = conditions(&app)
        .into_iter()
        .find(|(_, m)| m.contains("forbidden"))
        .unwrap();
    assert!(kind.ends_with("Error"), "condition type {kind}: {message}");
    assert!(
        message.contains("system:serviceaccount:argocd:fjord") && message.contains("services"),
        "the server's message names who and what: {message}"
    );
    assert!(!env.exists("configmap", TEAM, "other"), "half-applied");

    // The token rotates (the old one is revoked by deleting its bound Secret): the controller
    // picks up the new file and keeps syncing.
    let old_token = pod.token();
    env.kubectl_ok(&["create", "secret", "generic", "token-2", "-n", NS]);
    pod.write_token(Some("token-2"));
    env.kubectl_ok(&["delete", "secret", "token-1", "-n", NS]);
    // The API server caches token reviews for a few seconds: wait until the old token is
    // really refused before the change, so only the new one can sync it.
    let cp = env.cluster.control_plane().unwrap();
    let old_config = env.cluster.dir.path().join("old-token.kubeconfig");
    cp.write_token_kubeconfig(&old_config, old_token.trim())
        .unwrap();
    poll(
        "the revoked token to be refused",
        Duration::from_secs(60),
        String::new,
        || {
            let o = Command::new("kubectl")
                .arg("--kubeconfig")
                .arg(&old_config)
                .args(["get", "applications", "-n", NS])
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            (!o.status.success() && err.contains("Unauthorized")).then_some(())
        },
    );
    repo.write(
        "allowed/settings.yaml",
        &configmap("settings", "color", "green"),
    );
    let head = repo.commit_push("green");
    poll(
        "the change synced with the rotated token",
        Duration::from_secs(150),
        || env.diagnostics(),
        || {
            let app = env.get("application", NS, "allowed")?;
            let cm = env.get("configmap", TEAM, "settings")?;
            (s(&app, "/status/sync/revision") == head && s(&cm, "/data/color") == "green")
                .then_some(())
        },
    );
    let log = env.controller.log_text();
    assert!(
        !log.contains("kubeconfig"),
        "an in-cluster controller reads no kubeconfig:\n{log}"
    );
}
