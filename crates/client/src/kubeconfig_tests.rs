//! Tests of the kubeconfig loading rules (files in temporary directories, the environment
//! passed in explicitly).

use super::*;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

const A: &str = "kind: Config
clusters:
- name: shared
  cluster: {server: 'https://from-a.example:6443', insecure-skip-tls-verify: true}
users:
- name: admin
  user: {token: token-from-a}
contexts:
- name: work
  context: {cluster: shared, user: admin, namespace: team-a}
";

const B: &str = "apiVersion: v1
kind: Config
current-context: work
clusters:
- name: shared
  cluster: {server: 'https://from-b.example:6443'}
- name: other
  cluster: {server: 'https://other.example:6443'}
users:
- name: admin
  user: {token: token-from-b}
- name: robot
  user: {tokenFile: robot-token}
contexts:
- name: work
  context: {cluster: other, user: robot}
- name: bot
  context: {cluster: other, user: robot, namespace: bots}
";

async fn config_of(kc: Kubeconfig, context: Option<&str>) -> kube::Config {
    let opts = kube::config::KubeConfigOptions {
        context: context.map(str::to_string),
        ..Default::default()
    };
    kube::Config::from_custom_kubeconfig(kc, &opts)
        .await
        .expect("config")
}

#[tokio::test]
async fn merge_first_file_to_set_a_name_wins_and_current_context_from_first_setter() {
    let dir = tempfile_dir();
    let a = write(&dir, "a.yaml", A);
    let sub = dir.join("b");
    std::fs::create_dir_all(&sub).unwrap();
    let b = write(&sub, "b.yaml", B);
    let kc = merge_files(&[a, b]).expect("merged");
    // current-context: only b sets it; `work` comes whole from a (b's `work` is discarded).
    assert_eq!(kc.current_context.as_deref(), Some("work"));
    assert_eq!(kc.contexts.len(), 2);
    let cfg = config_of(kc.clone(), None).await;
    assert!(cfg.auth_info.token.is_some());
    assert_eq!(cfg.cluster_url.to_string(), "https://from-a.example:6443/");
    assert_eq!(cfg.default_namespace, "team-a");
    assert!(cfg.accept_invalid_certs, "insecure-skip-tls-verify");
    let users = serde_json::to_value(&kc).expect("serialize")["users"].clone();
    assert_eq!(users[0]["name"], "admin");
    assert_eq!(users[0]["user"]["token"], "token-from-a");
    assert_eq!(users.as_array().map(Vec::len), Some(2));
    // A context only b has, its relative tokenFile resolved against b's directory.
    let cfg = config_of(kc, Some("bot")).await;
    assert_eq!(cfg.cluster_url.to_string(), "https://other.example:6443/");
    assert_eq!(cfg.default_namespace, "bots");
    assert_eq!(
        cfg.auth_info.token_file.as_deref(),
        Some(sub.join("robot-token").to_str().unwrap())
    );
}

#[test]
fn merge_in_the_other_order_takes_the_other_entries() {
    let dir = tempfile_dir();
    let a = write(&dir, "a.yaml", A);
    let b = write(&dir, "b.yaml", B);
    let kc = merge_files(&[b, a]).expect("merged");
    let work = kc.contexts.iter().find(|c| c.name == "work").unwrap();
    assert_eq!(work.context.as_ref().unwrap().cluster, "other");
    let shared = kc.clusters.iter().find(|c| c.name == "shared").unwrap();
    assert_eq!(
        shared.cluster.as_ref().unwrap().server.as_deref(),
        Some("https://from-b.example:6443")
    );
}

#[test]
fn an_unparsable_file_is_an_error_naming_it() {
    let dir = tempfile_dir();
    let a = write(&dir, "a.yaml", A);
    let bad = write(&dir, "bad.yaml", "clusters: [ {");
    let err = merge_files(&[a, bad.clone()]).expect_err("error");
    assert!(err.to_string().contains(bad.to_str().unwrap()), "{err}");
}

#[test]
fn kubeconfig_env_order_dedup_missing_and_home() {
    let dir = tempfile_dir();
    let a = write(&dir, "a.yaml", A);
    let b = write(&dir, "b.yaml", B);
    let home = dir.join("home");
    std::fs::create_dir_all(home.join(".kube")).unwrap();
    let home_cfg = write(&home.join(".kube"), "config", A);
    let missing = dir.join("missing.yaml");
    let env = std::env::join_paths([&missing, &b, &a, &b]).unwrap();
    let src = Sources {
        kubeconfig_env: Some(env),
        home: Some(home.clone()),
        ..Sources::default()
    };
    assert_eq!(src.kubeconfig_files(), vec![b.clone(), a.clone()]);
    // A set $KUBECONFIG whose files are all missing replaces ~/.kube/config.
    let src = Sources {
        kubeconfig_env: Some(missing.clone().into_os_string()),
        home: Some(home.clone()),
        ..Sources::default()
    };
    assert!(src.kubeconfig_files().is_empty());
    let src = Sources {
        kubeconfig_env: Some(OsString::new()),
        home: Some(home.clone()),
        ..Sources::default()
    };
    assert_eq!(src.kubeconfig_files(), vec![home_cfg]);
    let src = Sources {
        explicit: Some(missing.clone()),
        kubeconfig_env: Some(a.into_os_string()),
        ..Sources::default()
    };
    assert_eq!(src.kubeconfig_files(), vec![missing]);
}

/// A fake Pod filesystem under `root`: the service-account token and namespace.
fn pod_root(namespace: Option<&str>) -> Scratch {
    let root = tempfile_dir();
    let sa = root.join(SERVICE_ACCOUNT_DIR);
    std::fs::create_dir_all(&sa).unwrap();
    std::fs::write(sa.join("token"), "sa-token").unwrap();
    if let Some(ns) = namespace {
        std::fs::write(sa.join("namespace"), ns).unwrap();
    }
    root
}

fn in_pod(root: &Path, host: &str, port: &str) -> Sources {
    Sources {
        service_host: Some(host.into()),
        service_port: Some(port.into()),
        root: root.to_path_buf(),
        ..Sources::default()
    }
}

#[tokio::test]
async fn in_cluster_is_the_default_without_kubeconfig_and_reads_the_token_file() {
    let root = pod_root(Some("fjord-system\n"));
    let src = in_pod(&root, "10.96.0.1", "443");
    let Loaded::InCluster(kc) = load(&src).expect("in-cluster") else {
        panic!("expected the in-cluster configuration");
    };
    let cfg = config_of(kc, None).await;
    assert_eq!(cfg.cluster_url.to_string(), "https://10.96.0.1:443/");
    assert_eq!(cfg.default_namespace, "fjord-system");
    // A token *file*: kube re-reads it, so a rotated token is used.
    let token = root.join(SERVICE_ACCOUNT_DIR).join("token");
    assert_eq!(cfg.auth_info.token_file.as_deref(), token.to_str());
    assert!(cfg.auth_info.token.is_none());
}

#[test]
fn in_cluster_details_ipv6_ca_and_default_namespace() {
    let root = pod_root(None);
    std::fs::write(root.join(SERVICE_ACCOUNT_DIR).join("ca.crt"), "x").unwrap();
    let kc = in_cluster(&in_pod(&root, "fd00::1", "6443"))
        .expect("ok")
        .expect("in a cluster");
    let cluster = kc.clusters[0].cluster.as_ref().unwrap();
    assert_eq!(cluster.server.as_deref(), Some("https://[fd00::1]:6443"));
    assert_eq!(
        cluster.certificate_authority.as_deref(),
        root.join(SERVICE_ACCOUNT_DIR).join("ca.crt").to_str()
    );
    let ctx = kc.contexts[0].context.as_ref().unwrap();
    assert_eq!(ctx.namespace.as_deref(), Some("default"));
}

#[test]
fn not_in_a_cluster_without_both_variables() {
    let root = pod_root(None);
    let mut src = in_pod(&root, "10.0.0.1", "443");
    src.service_port = None;
    assert!(in_cluster(&src).expect("ok").is_none());
    assert!(matches!(load(&src), Err(ClientError::NoKubeconfig)));
}

#[test]
fn in_cluster_errors_name_the_token_file_and_the_port() {
    let root = tempfile_dir();
    let err = in_cluster(&in_pod(&root, "10.0.0.1", "443")).expect_err("no token");
    let token = root.join(SERVICE_ACCOUNT_DIR).join("token");
    assert!(err.to_string().contains(token.to_str().unwrap()), "{err}");
    let root = pod_root(None);
    let err = in_cluster(&in_pod(&root, "10.0.0.1", "http")).expect_err("bad port");
    assert!(err.to_string().contains("KUBERNETES_SERVICE_PORT"), "{err}");
}

#[test]
fn a_kubeconfig_wins_over_in_cluster_unless_it_is_empty() {
    let root = pod_root(None);
    let a = write(&root, "a.yaml", A);
    let empty = write(&root, "empty.yaml", "");
    let mut src = in_pod(&root, "10.0.0.1", "443");
    src.kubeconfig_env = Some(a.into_os_string());
    assert!(matches!(load(&src), Ok(Loaded::Files { .. })));
    src.kubeconfig_env = Some(empty.into_os_string());
    assert!(matches!(load(&src), Ok(Loaded::InCluster(_))));
}

#[tokio::test]
async fn exec_plugins_and_client_certificates_are_kept() {
    let root = tempfile_dir();
    let kc = write(
        &root,
        "kc.yaml",
        "apiVersion: v1
kind: Config
current-context: x
clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]
users:
- name: u
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: /bin/true
      interactiveMode: Never
- name: cert
  user: {client-certificate: c.crt, client-key: c.key}
contexts:
- {name: x, context: {cluster: c, user: u}}
- {name: y, context: {cluster: c, user: cert}}
",
    );
    let kc = merge_files(&[kc]).expect("read");
    assert_eq!(user_of(&kc, None), "u");
    assert_eq!(user_of(&kc, Some("y")), "cert");
    let cfg = config_of(kc.clone(), None).await;
    let exec = cfg.auth_info.exec.expect("exec");
    assert_eq!(exec.command.as_deref(), Some("/bin/true"));
    let cfg = config_of(kc, Some("y")).await;
    assert_eq!(
        cfg.auth_info.client_certificate.as_deref(),
        root.join("c.crt").to_str()
    );
}

/// A scratch directory, removed when dropped.
struct Scratch(tempfile::TempDir);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        self.0.path()
    }
}

/// A fresh temporary directory.
fn tempfile_dir() -> Scratch {
    Scratch(tempfile::tempdir().expect("temp dir"))
}
