//! External Secrets through the real binary, the connection side: a non-dev OpenBao with TLS
//! (`caBundle` and `caProvider` work, no CA fails naming TLS), Kubernetes auth against the real
//! API server (real backend only), and `--external-secrets=false` starting nothing. Shared parts:
//! eso_common/mod.rs.

mod common;
mod eso_common;

use std::time::Duration;

use common::Controller;
use eso_common::*;
use fjord_testkit::bao::Bao;
use fjord_testkit::require_tools;
use fjord_testkit::tools::{BAO, KUBECTL};
use serde_json::json;

#[test]
fn tls_openbao_with_on_disk_storage_needs_the_ca_and_says_tls_without_it() {
    require_tools!(KUBECTL, BAO);
    let (token, value) = (unique("tok"), unique("tls-value"));
    let bao = Bao::tls_file();
    assert!(bao.addr.starts_with("https://"), "{}", bao.addr);
    let ca = bao.ca_pem().expect("a TLS server has a CA");
    grant(&bao, &token);
    bao.kv_put("tls/db", &[("password", &value)]);
    let env = start_env();
    let ns = "tls";
    env.kubectl_ok(&["create", "namespace", ns]);
    env.apply_json(&token_secret(ns, "vault-token", &token));
    env.apply_json(&json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "bao-ca", "namespace": ns}, "data": {"ca.crt": ca}}));
    env.apply(&store(
        ns,
        "with-ca",
        &bao.addr,
        &format!("      caBundle: {}\n", b64(&ca)),
    ));
    env.apply(&store(
        ns,
        "ca-provider",
        &bao.addr,
        "      caProvider:\n        type: ConfigMap\n        name: bao-ca\n        key: ca.crt\n",
    ));
    env.apply(&store(ns, "no-ca", &bao.addr, ""));
    let rest = |target: &str| {
        format!(
            "  target:\n    name: {target}\n  data:\n{}",
            data_entry("password", "tls/db", "password")
        )
    };
    for (es, st) in [
        ("via-ca", "with-ca"),
        ("via-provider", "ca-provider"),
        ("without-ca", "no-ca"),
    ] {
        env.apply(&external_secret(
            ns,
            es,
            &format!("SecretStore/{st}"),
            "1h",
            &rest(es),
        ));
    }
    wait_secret(&env, ns, "via-ca", "password", &value);
    wait_secret(&env, ns, "via-provider", "password", &value);
    wait_true(&env, SS, ns, "with-ca", "Valid");
    wait_true(&env, SS, ns, "ca-provider", "Valid");
    let es = wait_ready(&env, ES, ns, "without-ca", "Ready=False naming TLS", |r| {
        r.0 == "False" && r.1 == "SecretSyncedError" && r.2.to_lowercase().contains("tls")
    });
    assert!(ready(&es).unwrap().2.contains("no-ca"), "{es}");
    let st = wait_ready(&env, SS, ns, "no-ca", "Ready=False", |r| r.0 == "False");
    let (_, reason, message) = ready(&st).unwrap();
    assert_eq!(reason, "InvalidProviderConfig");
    assert!(message.to_lowercase().contains("tls"), "{message}");
    assert!(!env.exists("secret", ns, "without-ca"));
    assert_no_leak(
        "the controller log",
        &env.controller.log_text(),
        &[token, value],
    );
}

#[test]
fn kubernetes_auth_logs_in_with_a_service_account_the_real_api_server_reviews() {
    require_tools!(KUBECTL, BAO);
    if !common::real() {
        eprintln!(
            "SKIPPED: {}: Kubernetes auth needs the real control plane (OpenBao sends a \
             TokenReview to the API server); run with FJORD_TEST_BACKEND=real",
            fjord_testkit::tools::current_test()
        );
        return;
    }
    let value = unique("k8s-value");
    let bao = Bao::dev();
    bao.kv_put("k8s/db", &[("password", &value)]);
    let env = start_env();
    let cp = env.control_plane().expect("the real control plane");
    let ns = "k8s-auth";
    env.kubectl_ok(&["create", "namespace", ns]);
    for sa in ["vault-reviewer", "app-reader", "intruder"] {
        env.kubectl_ok(&["create", "serviceaccount", sa, "-n", ns]);
    }
    env.kubectl_ok(&[
        "create",
        "clusterrolebinding",
        "vault-reviewer-delegator",
        "--clusterrole=system:auth-delegator",
        &format!("--serviceaccount={ns}:vault-reviewer"),
    ]);
    let reviewer = cp
        .service_account_token(ns, "vault-reviewer")
        .unwrap_or_else(|e| panic!("{e}"));
    let ca = std::fs::read_to_string(cp.ca_file()).unwrap();
    bao.api(
        "PUT",
        "sys/policies/acl/eso-read",
        Some(&json!({ "policy": POLICY })),
    );
    bao.api(
        "POST",
        "sys/auth/kubernetes",
        Some(&json!({"type": "kubernetes"})),
    );
    bao.api("POST", "auth/kubernetes/config", Some(&json!({
        "kubernetes_host": cp.api_url(), "kubernetes_ca_cert": ca, "token_reviewer_jwt": reviewer,
    })));
    bao.api(
        "POST",
        "auth/kubernetes/role/eso",
        Some(&json!({
            "bound_service_account_names": ["app-reader"], "bound_service_account_namespaces": [ns],
            "policies": ["eso-read"], "ttl": "1h",
        })),
    );
    for (name, sa) in [("k8s", "app-reader"), ("k8s-intruder", "intruder")] {
        env.apply(&format!(
            "apiVersion: external-secrets.io/v1\nkind: SecretStore\nmetadata:\n  name: {name}\n  namespace: {ns}\n\
             spec:\n  provider:\n    vault:\n      server: \"{}\"\n      path: secret\n      version: v2\n\
             \x20     auth:\n        kubernetes:\n          mountPath: kubernetes\n          role: eso\n\
             \x20         serviceAccountRef:\n            name: {sa}\n",
            bao.addr
        ));
        let rest = format!(
            "  target:\n    name: {name}-creds\n  data:\n{}",
            data_entry("password", "k8s/db", "password")
        );
        env.apply(&external_secret(
            ns,
            name,
            &format!("SecretStore/{name}"),
            "1h",
            &rest,
        ));
    }
    wait_secret(&env, ns, "k8s-creds", "password", &value);
    wait_true(&env, SS, ns, "k8s", "Valid");
    wait_true(&env, ES, ns, "k8s", "SecretSynced");
    // A ServiceAccount the role does not bind is refused by OpenBao.
    wait_failed(&env, ns, "k8s-intruder", &[]);
    assert!(!env.exists("secret", ns, "k8s-intruder-creds"));
    assert_no_leak(
        "the controller log",
        &env.controller.log_text(),
        &[value, reviewer],
    );
}

#[test]
fn switched_off_the_external_secrets_controller_starts_nothing_and_installs_no_crd() {
    require_tools!(KUBECTL);
    let cluster = common::Cluster::start();
    let controller = Controller::start_with(&cluster, "10m", &["--external-secrets=false"]);
    common::poll(
        "the Application CRD",
        Duration::from_secs(30),
        || controller.log_text(),
        || {
            cluster
                .get("crd", "", "applications.argoproj.io")
                .map(|_| ())
        },
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(!controller
        .log_text()
        .contains("external secrets controller running"));
    assert!(!cluster.exists("crd", "", "externalsecrets.external-secrets.io"));
}
