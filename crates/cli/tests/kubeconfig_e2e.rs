//! End-to-end tests of kubeconfig loading through the binary, on the test backend: a
//! `$KUBECONFIG` of several files merged as kubectl merges them, and an `exec` credential plugin
//! (`client.authentication.k8s.io/v1`). On the real control plane the bearer token is a
//! ServiceAccount's (TokenRequest) and the cluster entry carries the CA.

mod common;

use base64::Engine as _;
use common::{text, Cluster};
use fjord_testkit::require_tools;
use fjord_testkit::tools::KUBECTL;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The API server URL of the cluster's own kubeconfig.
fn server_of(cluster: &Cluster) -> String {
    let kc = std::fs::read_to_string(&cluster.kubeconfig).expect("kubeconfig");
    kc.lines()
        .find_map(|l| l.trim().strip_prefix("server: "))
        .expect("a server line")
        .trim()
        .to_string()
}

/// A directory with one ConfigMap manifest (absent from the cluster: `fjord diff` exits 1).
fn manifests(dir: &Path) -> PathBuf {
    let d = dir.join("manifests");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: merged-kc\ndata:\n  k: v\n",
    )
    .unwrap();
    d
}

/// `fjord diff` with only `$KUBECONFIG` (no `--kubeconfig`, a `$HOME` without `.kube`).
fn diff_with(kubeconfig: &str, dir: &Path, home: &Path) -> Output {
    Command::new(common::FJORD)
        .args(["diff", "--app", "kc", "-n", "default"])
        .arg(dir)
        .env("KUBECONFIG", kubeconfig)
        .env("HOME", home)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .output()
        .expect("run fjord diff")
}

/// What a kubeconfig needs to reach `cluster` with a bearer token: extra lines of the cluster
/// entry (the CA, on the real control plane) and a token the server accepts (the local API takes
/// any).
fn token_access(cluster: &Cluster) -> (String, String) {
    let Some(cp) = cluster.control_plane() else {
        return (String::new(), "not-a-secret".to_string());
    };
    cluster.kubectl_ok(&["create", "serviceaccount", "kc-test", "-n", "default"]);
    cluster.kubectl_ok(&[
        "create",
        "clusterrolebinding",
        "kc-test",
        "--clusterrole=cluster-admin",
        "--serviceaccount=default:kc-test",
    ]);
    let token = cp
        .service_account_token("default", "kc-test")
        .unwrap_or_else(|e| panic!("{e}"));
    let ca = base64::engine::general_purpose::STANDARD.encode(std::fs::read(cp.ca_file()).unwrap());
    (format!("    certificate-authority-data: {ca}\n"), token)
}

fn write(path: &Path, text: &str) -> String {
    std::fs::write(path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn kubeconfig_files_are_merged_cluster_in_one_context_and_user_in_another() {
    require_tools!(KUBECTL);
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let server = server_of(&cluster);
    let (ca, token) = token_access(&cluster);
    let clusters = write(
        &dir.path().join("clusters.yaml"),
        &format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: local\n  cluster:\n    server: {server}\n{ca}"
        ),
    );
    // The second file also names a cluster `local`, pointing nowhere (port 1): the first file
    // to set a name wins the whole entry, so the diff reaches the real cluster.
    let contexts = write(
        &dir.path().join("contexts.yaml"),
        &format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: work\nclusters:\n- name: local\n  \
             cluster:\n    server: http://127.0.0.1:1\ncontexts:\n- name: work\n  context:\n    \
             cluster: local\n    user: me\n    namespace: default\nusers:\n- name: me\n  user:\n    \
             token: {token}\n"
        ),
    );
    let dir_m = manifests(dir.path());
    let home = dir.path();
    let merged = format!("{clusters}:{contexts}");
    let o = diff_with(&merged, &dir_m, home);
    assert_eq!(o.status.code(), Some(1), "diff: {}", text(&o));
    assert!(text(&o).contains("merged-kc"), "{}", text(&o));
    // Either file alone is not enough: no context, or no reachable cluster.
    let o = diff_with(&clusters, &dir_m, home);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("clusters.yaml"), "{}", text(&o));
    // A missing entry in the list is skipped, as kubectl does.
    let missing = dir.path().join("missing.yaml");
    let merged = format!("{}:{clusters}:{contexts}", missing.display());
    let o = diff_with(&merged, &dir_m, home);
    assert_eq!(o.status.code(), Some(1), "diff: {}", text(&o));
}

#[test]
fn an_exec_credential_plugin_is_run_for_the_token() {
    require_tools!(KUBECTL);
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let server = server_of(&cluster);
    let (ca, token) = token_access(&cluster);
    let marker = dir.path().join("plugin-ran");
    let plugin = dir.path().join("credential-plugin.sh");
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\necho \"$KUBERNETES_EXEC_INFO\" > '{}'\n\
             printf '%s' '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\
             \"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{token}\"}}}}'\n",
            marker.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let kc = write(
        &dir.path().join("exec.yaml"),
        &format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: x\nclusters:\n- name: c\n  cluster:\n    \
             server: {server}\n{ca}contexts:\n- name: x\n  context:\n    cluster: c\n    user: plugin\n\
             users:\n- name: plugin\n  user:\n    exec:\n      apiVersion: \
             client.authentication.k8s.io/v1\n      command: {}\n      interactiveMode: Never\n",
            plugin.display()
        ),
    );
    let dir_m = manifests(dir.path());
    let o = diff_with(&kc, &dir_m, dir.path());
    assert_eq!(o.status.code(), Some(1), "diff: {}", text(&o));
    let info = std::fs::read_to_string(&marker).expect("the plugin was run");
    assert!(
        info.contains("client.authentication.k8s.io/v1"),
        "KUBERNETES_EXEC_INFO: {info}"
    );
    // A plugin that fails is an error naming the context's user, not a panic.
    std::fs::write(&plugin, "#!/bin/sh\necho broken >&2\nexit 3\n").unwrap();
    let o = diff_with(&kc, &dir_m, dir.path());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}
