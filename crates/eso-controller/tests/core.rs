//! The External Secrets controller's core against a real API (the backend `FJORD_TEST_BACKEND`
//! picks: fjord's local API in process, or the real kube-apiserver of
//! `scripts/control-plane.sh`) and a real OpenBao (`bao server -dev`): the CRDs it installs and
//! both versions served, store status (Valid, InvalidProviderConfig for an unknown provider and
//! a wrong token), and ClusterExternalSecret fan-out and removal.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine as _;
use fjord_client::{Client, ClientOptions, Propagation, ResourceType};
use fjord_cluster::{ClusterHandle, ClusterOptions};
use fjord_eso_controller::{start, EsoControllerHandle, EsoControllerOptions, CRDS_YAML};
use fjord_testkit::bao::Bao;
use fjord_testkit::tools::BAO;
use fjord_testkit::{require_tools, Backend, ControlPlane};
use serde_json::{json, Value};

const DEADLINE: Duration = Duration::from_secs(30);
/// A token value that must never show up in a status or an event.
const WRONG_TOKEN: &str = "not-the-token-4b1d9e";

/// The API server behind an [`Env`].
enum Server {
    Local(ClusterHandle),
    Real(ControlPlane),
}

/// A cluster, a client and (once started) the controller.
struct Env {
    _dir: tempfile::TempDir,
    server: Option<Server>,
    kubeconfig: PathBuf,
    client: Client,
    controller: Option<EsoControllerHandle>,
}

impl Env {
    async fn new() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let (server, kubeconfig) = match Backend::current() {
            Backend::Local => {
                let cluster = fjord_cluster::serve(ClusterOptions {
                    in_memory: true,
                    addr: "127.0.0.1:0".parse().expect("addr"),
                    ..ClusterOptions::new(dir.path())
                })
                .await
                .expect("cluster");
                let kc = cluster.kubeconfig().to_path_buf();
                (Server::Local(cluster), kc)
            }
            Backend::Real => {
                let cp = tokio::task::spawn_blocking(ControlPlane::start_or_panic)
                    .await
                    .expect("start the control plane");
                let kc = cp.kubeconfig();
                (Server::Real(cp), kc)
            }
        };
        let client = Client::connect(&ClientOptions {
            kubeconfig: Some(kubeconfig.clone()),
            ..Default::default()
        })
        .await
        .expect("client");
        Env {
            _dir: dir,
            server: Some(server),
            kubeconfig,
            client,
            controller: None,
        }
    }

    async fn start(&mut self) {
        let opts = EsoControllerOptions {
            client: ClientOptions {
                kubeconfig: Some(self.kubeconfig.clone()),
                ..Default::default()
            },
            resync: Duration::from_millis(300),
            ..EsoControllerOptions::default()
        };
        self.controller = Some(start(opts).await.expect("controller starts"));
    }

    async fn stop_controller(&mut self) {
        if let Some(c) = self.controller.take() {
            c.shutdown().await.expect("controller shutdown");
        }
    }

    async fn stop(mut self) {
        self.stop_controller().await;
        match self.server.take() {
            Some(Server::Local(c)) => c.shutdown().await,
            Some(Server::Real(cp)) => tokio::task::spawn_blocking(move || drop(cp))
                .await
                .expect("stop the control plane"),
            None => {}
        }
    }

    async fn t(&self, api_version: &str, kind: &str) -> ResourceType {
        self.client.invalidate();
        self.client
            .resolve(api_version, kind)
            .await
            .unwrap_or_else(|e| panic!("{api_version} {kind}: {}", fjord_model::chain(&e)))
    }

    async fn create(&self, obj: Value) -> Value {
        let t = self
            .t(
                obj["apiVersion"].as_str().unwrap(),
                obj["kind"].as_str().unwrap(),
            )
            .await;
        self.client
            .create(&t, &obj, false, "test")
            .await
            .unwrap_or_else(|e| panic!("create: {}", fjord_model::chain(&e)))
    }

    async fn get(&self, av: &str, kind: &str, ns: Option<&str>, name: &str) -> Option<Value> {
        let t = self.t(av, kind).await;
        self.client.get(&t, ns, name).await.expect("get")
    }

    /// Polls `get` until `ok` holds; returns the object.
    async fn wait_for(
        &self,
        av: &str,
        kind: &str,
        ns: Option<&str>,
        name: &str,
        what: &str,
        ok: impl Fn(&Value) -> bool,
    ) -> Value {
        let start = Instant::now();
        loop {
            let got = self.get(av, kind, ns, name).await;
            if let Some(o) = got.as_ref().filter(|o| ok(o)) {
                return o.clone();
            }
            assert!(
                start.elapsed() < DEADLINE,
                "{kind} {name}: {what} not reached; last: {got:#?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn gone(&self, av: &str, kind: &str, ns: Option<&str>, name: &str) {
        let start = Instant::now();
        while self.get(av, kind, ns, name).await.is_some() {
            assert!(start.elapsed() < DEADLINE, "{kind} {name} still exists");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn namespace(&self, name: &str, labels: Value) {
        self.create(json!({"apiVersion": "v1", "kind": "Namespace",
                           "metadata": {"name": name, "labels": labels}}))
            .await;
    }

    async fn events_text(&self) -> String {
        let t = self.t("v1", "Event").await;
        let events = self.client.list(&t, None).await.expect("events");
        serde_json::to_string(&events).expect("json")
    }
}

fn ready(obj: &Value) -> Option<&Value> {
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
}

fn ready_is(obj: &Value, status: &str, reason: &str) -> bool {
    ready(obj)
        .is_some_and(|c| c["status"] == status && (reason.is_empty() || c["reason"] == reason))
}

const V1: &str = "external-secrets.io/v1";
const V1BETA1: &str = "external-secrets.io/v1beta1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installs_the_crds_serving_v1_and_v1beta1_and_never_replaces_them() {
    let mut env = Env::new().await;
    env.start().await;
    for kind in [
        "ExternalSecret",
        "ClusterExternalSecret",
        "SecretStore",
        "ClusterSecretStore",
    ] {
        for av in [V1, V1BETA1] {
            env.t(av, kind).await;
        }
    }
    // A v1beta1 object is stored and read back as v1 (conversion strategy None).
    env.namespace("app", json!({})).await;
    env.create(json!({"apiVersion": V1BETA1, "kind": "ExternalSecret",
        "metadata": {"name": "db", "namespace": "app"},
        "spec": {"secretStoreRef": {"name": "none", "kind": "ClusterSecretStore"},
                 "data": [{"secretKey": "u", "remoteRef": {"key": "k", "property": "p"}}]}}))
        .await;
    let v1 = env
        .get(V1, "ExternalSecret", Some("app"), "db")
        .await
        .expect("read as v1");
    assert_eq!(v1["apiVersion"], V1);
    assert_eq!(v1["spec"]["data"][0]["remoteRef"]["property"], "p");
    // A CRD that exists is left alone by a restarted controller.
    env.stop_controller().await;
    let crd_t = env
        .t("apiextensions.k8s.io/v1", "CustomResourceDefinition")
        .await;
    let name = "secretstores.external-secrets.io";
    let patch = json!({"metadata": {"labels": {"marker": "kept"}}});
    env.client
        .merge_patch(&crd_t, None, name, &patch, false, "test")
        .await
        .expect("label the CRD");
    env.start().await;
    let crd = env
        .get(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            None,
            name,
        )
        .await
        .expect("crd");
    assert_eq!(crd["metadata"]["labels"]["marker"], "kept");
    assert_eq!(CRDS_YAML.matches("served: true").count(), 8);
    env.stop().await;
}

fn token_store(kind: &str, name: &str, ns: Option<&str>, server: &str, secret: &str) -> Value {
    let mut meta = json!({"name": name});
    if let Some(ns) = ns {
        meta["namespace"] = json!(ns);
    }
    json!({"apiVersion": V1, "kind": kind, "metadata": meta,
        "spec": {"provider": {"vault": {"server": server, "path": "secret", "version": "v2",
            "auth": {"tokenSecretRef": {"name": secret, "key": "token", "namespace": "vault"}}}}}})
}

fn token_secret(name: &str, token: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret",
           "metadata": {"name": name, "namespace": "vault"},
           "stringData": {"token": token}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_status_is_valid_or_names_the_invalid_provider_config() {
    require_tools!(BAO);
    let bao = tokio::task::spawn_blocking(Bao::dev).await.expect("bao");
    let mut env = Env::new().await;
    env.namespace("vault", json!({})).await;
    env.create(token_secret("root-token", &bao.root_token))
        .await;
    env.create(token_secret("wrong-token", WRONG_TOKEN)).await;
    env.start().await;
    env.create(token_store(
        "ClusterSecretStore",
        "vault-backend",
        None,
        &bao.addr,
        "root-token",
    ))
    .await;
    env.create(token_store(
        "SecretStore",
        "wrong",
        Some("vault"),
        &bao.addr,
        "wrong-token",
    ))
    .await;
    env.create(json!({"apiVersion": V1, "kind": "SecretStore",
        "metadata": {"name": "aws", "namespace": "vault"},
        "spec": {"provider": {"aws": {"service": "SecretsManager", "region": "eu-west-1"}}}}))
        .await;

    let css = env
        .wait_for(
            V1,
            "ClusterSecretStore",
            None,
            "vault-backend",
            "Ready",
            |o| ready_is(o, "True", "Valid"),
        )
        .await;
    assert_eq!(ready(&css).unwrap()["message"], "store validated");
    assert_eq!(css["status"]["capabilities"], "ReadWrite");

    let aws = env
        .wait_for(V1, "SecretStore", Some("vault"), "aws", "invalid", |o| {
            ready_is(o, "False", "InvalidProviderConfig")
        })
        .await;
    let msg = ready(&aws).unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        msg.contains("spec.provider") && msg.contains("aws"),
        "{msg}"
    );

    let wrong = env
        .wait_for(V1, "SecretStore", Some("vault"), "wrong", "invalid", |o| {
            ready_is(o, "False", "InvalidProviderConfig")
        })
        .await;
    let msg = ready(&wrong).unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        msg.contains("403") || msg.contains("permission denied"),
        "{msg}"
    );

    // Events: Normal Valid on the good store, Warning InvalidProviderConfig on the bad ones.
    let start = Instant::now();
    loop {
        let events = env.events_text().await;
        if events.contains("\"reason\":\"Valid\"") && events.contains("\"InvalidProviderConfig\"") {
            assert!(
                !events.contains(WRONG_TOKEN),
                "a token leaked into an event"
            );
            break;
        }
        assert!(start.elapsed() < DEADLINE, "events missing: {events}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for o in [&css, &aws, &wrong] {
        let text = o["status"].to_string();
        assert!(!text.contains(WRONG_TOKEN) && !text.contains(&format!("\"{}\"", bao.root_token)));
    }
    assert!(env.controller.as_ref().unwrap().vault_requests() > 0);
    env.stop().await;
}

fn ces(namespaces: &[&str]) -> Value {
    json!({"apiVersion": V1, "kind": "ClusterExternalSecret",
        "metadata": {"name": "db"},
        "spec": {"externalSecretName": "db-creds",
                 "externalSecretMetadata": {"labels": {"team": "a"}},
                 "namespaces": namespaces,
                 "namespaceSelectors": [{"matchLabels": {"env": "prod"}}],
                 "refreshTime": "1s",
                 "externalSecretSpec": {
                     "refreshInterval": "1h",
                     "secretStoreRef": {"name": "vault-backend", "kind": "ClusterSecretStore"},
                     "data": [{"secretKey": "u", "remoteRef": {"key": "production/db",
                                                               "property": "username"}}]}}})
}

fn provisioned(o: &Value) -> Vec<String> {
    o.pointer("/status/provisionedNamespaces")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_external_secret_fans_out_and_removes_children() {
    let mut env = Env::new().await;
    env.namespace("prod-a", json!({"env": "prod"})).await;
    env.namespace("prod-b", json!({"env": "prod"})).await;
    env.namespace("other", json!({})).await;
    env.start().await;
    let created = env.create(ces(&[])).await;
    let uid = created["metadata"]["uid"].as_str().unwrap().to_string();
    let status = env
        .wait_for(
            V1,
            "ClusterExternalSecret",
            None,
            "db",
            "provisioned",
            |o| provisioned(o) == ["prod-a", "prod-b"] && ready_is(o, "True", ""),
        )
        .await;
    assert_eq!(status["status"]["externalSecretName"], "db-creds");
    for ns in ["prod-a", "prod-b"] {
        let es = env
            .get(V1, "ExternalSecret", Some(ns), "db-creds")
            .await
            .expect("child");
        assert_eq!(es["metadata"]["labels"]["team"], "a");
        assert_eq!(es["metadata"]["ownerReferences"][0]["uid"], uid.as_str());
        assert_eq!(es["metadata"]["ownerReferences"][0]["controller"], true);
        assert_eq!(es["spec"]["secretStoreRef"]["name"], "vault-backend");
    }
    assert!(env
        .get(V1, "ExternalSecret", Some("other"), "db-creds")
        .await
        .is_none());

    // prod-b no longer matches: its child goes.
    let ns_t = env.t("v1", "Namespace").await;
    env.client
        .merge_patch(
            &ns_t,
            None,
            "prod-b",
            &json!({"metadata": {"labels": {"env": "dev"}}}),
            false,
            "test",
        )
        .await
        .expect("relabel");
    env.gone(V1, "ExternalSecret", Some("prod-b"), "db-creds")
        .await;
    env.wait_for(
        V1,
        "ClusterExternalSecret",
        None,
        "db",
        "one namespace",
        |o| provisioned(o) == ["prod-a"],
    )
    .await;

    // An ExternalSecret someone else owns is never taken over.
    env.create(json!({"apiVersion": V1, "kind": "ExternalSecret",
        "metadata": {"name": "db-creds", "namespace": "other"},
        "spec": {"secretStoreRef": {"name": "mine", "kind": "SecretStore"},
                 "data": [{"secretKey": "x", "remoteRef": {"key": "k"}}]}}))
        .await;
    let ces_t = env.t(V1, "ClusterExternalSecret").await;
    env.client
        .merge_patch(
            &ces_t,
            None,
            "db",
            &json!({"spec": {"namespaces": ["other"]}}),
            false,
            "test",
        )
        .await
        .expect("add a namespace");
    let failed = env
        .wait_for(V1, "ClusterExternalSecret", None, "db", "failed", |o| {
            ready_is(o, "False", "")
        })
        .await;
    assert_eq!(
        ready(&failed).unwrap()["message"],
        "one or more namespaces failed"
    );
    assert_eq!(
        failed["status"]["failedNamespaces"][0]["namespace"],
        "other"
    );
    let foreign = env
        .get(V1, "ExternalSecret", Some("other"), "db-creds")
        .await
        .unwrap();
    assert_eq!(foreign["spec"]["secretStoreRef"]["name"], "mine");

    // Deleting the ClusterExternalSecret removes its children (finalizer), not the foreign one.
    env.client
        .delete(&ces_t, None, "db", Propagation::Background, false)
        .await
        .expect("delete");
    env.gone(V1, "ExternalSecret", Some("prod-a"), "db-creds")
        .await;
    env.gone(V1, "ClusterExternalSecret", None, "db").await;
    assert!(env
        .get(V1, "ExternalSecret", Some("other"), "db-creds")
        .await
        .is_some());
    env.stop().await;
}

fn vault_store(name: &str, server: &str, auth: Value) -> Value {
    json!({"apiVersion": V1, "kind": "SecretStore",
           "metadata": {"name": name, "namespace": "vault"},
           "spec": {"provider": {"vault": {"server": server, "path": "secret", "version": "v2",
                                           "auth": auth}}}})
}

/// AppRole: role id inline, secret id from a Secret; returns the secret id (never shown).
fn enable_approle(bao: &Bao) -> (String, String) {
    bao.api(
        "POST",
        "sys/auth/approle",
        Some(&json!({"type": "approle"})),
    );
    bao.api(
        "POST",
        "auth/approle/role/eso",
        Some(&json!({"token_policies": ["default"], "token_ttl": "1h"})),
    );
    let role_id = bao.api("GET", "auth/approle/role/eso/role-id", None)["data"]["role_id"]
        .as_str()
        .expect("role id")
        .to_string();
    let secret_id = bao.api("POST", "auth/approle/role/eso/secret-id", Some(&json!({})))["data"]
        ["secret_id"]
        .as_str()
        .expect("secret id")
        .to_string();
    (role_id, secret_id)
}

/// Kubernetes auth validating tokens against the real API server (TokenReview with the
/// caller's own token, so the account is bound to `system:auth-delegator`).
async fn enable_kubernetes(env: &Env, bao: &Bao, cp_url: &str, ca: &str) {
    bao.api(
        "POST",
        "sys/auth/kubernetes",
        Some(&json!({"type": "kubernetes"})),
    );
    bao.api(
        "POST",
        "auth/kubernetes/config",
        Some(&json!({"kubernetes_host": cp_url, "kubernetes_ca_cert": ca})),
    );
    bao.api(
        "POST",
        "auth/kubernetes/role/eso",
        Some(&json!({"bound_service_account_names": ["eso-reader"],
                     "bound_service_account_namespaces": ["vault"],
                     "token_policies": ["default"]})),
    );
    env.create(json!({"apiVersion": "v1", "kind": "ServiceAccount",
                      "metadata": {"name": "eso-reader", "namespace": "vault"}}))
        .await;
    env.create(
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "eso-reader-auth-delegator"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "system:auth-delegator"},
        "subjects": [{"kind": "ServiceAccount", "name": "eso-reader", "namespace": "vault"}]}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_log_in_with_approle_kubernetes_and_report_referent_auth_unknown() {
    require_tools!(BAO);
    let bao = tokio::task::spawn_blocking(Bao::dev).await.expect("bao");
    let mut env = Env::new().await;
    env.namespace("vault", json!({})).await;
    let (role_id, secret_id) = enable_approle(&bao);
    env.create(json!({"apiVersion": "v1", "kind": "Secret",
                      "metadata": {"name": "approle", "namespace": "vault"},
                      "stringData": {"secret-id": secret_id}}))
        .await;
    let real = match &env.server {
        Some(Server::Real(cp)) => Some((
            cp.api_url().to_string(),
            std::fs::read_to_string(cp.ca_file()).expect("cluster CA"),
        )),
        _ => None,
    };
    if let Some((url, ca)) = &real {
        enable_kubernetes(&env, &bao, url, ca).await;
    }
    env.start().await;
    env.create(vault_store(
        "approle",
        &bao.addr,
        json!({"appRole": {
        "path": "approle", "roleId": role_id,
        "secretRef": {"name": "approle", "key": "secret-id"}}}),
    ))
    .await;
    // A ClusterSecretStore whose token ref names no namespace resolves it per ExternalSecret.
    env.create(json!({"apiVersion": V1, "kind": "ClusterSecretStore",
        "metadata": {"name": "referent"},
        "spec": {"provider": {"vault": {"server": bao.addr, "path": "secret",
            "auth": {"tokenSecretRef": {"name": "root-token", "key": "token"}}}}}}))
        .await;
    let approle = env
        .wait_for(V1, "SecretStore", Some("vault"), "approle", "Valid", |o| {
            ready_is(o, "True", "Valid") || ready_is(o, "False", "")
        })
        .await;
    assert!(
        ready_is(&approle, "True", "Valid"),
        "{:#?}",
        approle["status"]
    );
    env.wait_for(V1, "ClusterSecretStore", None, "referent", "unknown", |o| {
        ready_is(o, "True", "ValidationUnknown")
    })
    .await;
    if real.is_some() {
        env.create(vault_store(
            "kubernetes",
            &bao.addr,
            json!({"kubernetes": {
            "mountPath": "kubernetes", "role": "eso",
            "serviceAccountRef": {"name": "eso-reader"}}}),
        ))
        .await;
        let k8s = env
            .wait_for(
                V1,
                "SecretStore",
                Some("vault"),
                "kubernetes",
                "validated",
                |o| ready(o).is_some(),
            )
            .await;
        assert!(ready_is(&k8s, "True", "Valid"), "{:#?}", k8s["status"]);
    }
    let events = env.events_text().await;
    assert!(
        !events.contains(&secret_id),
        "the secret id leaked into an event"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_stores_trust_the_ca_from_a_bundle_or_a_config_map_and_nothing_else() {
    require_tools!(BAO);
    let bao = tokio::task::spawn_blocking(Bao::tls_file)
        .await
        .expect("bao");
    let ca = bao.ca_pem().expect("a TLS server has a CA");
    let mut env = Env::new().await;
    env.namespace("vault", json!({})).await;
    env.create(token_secret("root-token", &bao.root_token))
        .await;
    env.create(json!({"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": "vault-ca", "namespace": "vault"},
                      "data": {"ca.crt": ca}}))
        .await;
    env.start().await;
    let auth = json!({"tokenSecretRef": {"name": "root-token", "key": "token"}});
    let mut bundle = vault_store("tls-bundle", &bao.addr, auth.clone());
    bundle["spec"]["provider"]["vault"]["caBundle"] =
        json!(base64::engine::general_purpose::STANDARD.encode(ca.as_bytes()));
    let mut provider = vault_store("tls-configmap", &bao.addr, auth.clone());
    provider["spec"]["provider"]["vault"]["caProvider"] =
        json!({"type": "ConfigMap", "name": "vault-ca", "key": "ca.crt"});
    env.create(bundle).await;
    env.create(provider).await;
    env.create(vault_store("tls-none", &bao.addr, auth)).await;
    for name in ["tls-bundle", "tls-configmap"] {
        let s = env
            .wait_for(V1, "SecretStore", Some("vault"), name, "validated", |o| {
                ready(o).is_some()
            })
            .await;
        assert!(ready_is(&s, "True", "Valid"), "{name}: {:#?}", s["status"]);
    }
    let none = env
        .wait_for(
            V1,
            "SecretStore",
            Some("vault"),
            "tls-none",
            "validated",
            |o| ready(o).is_some(),
        )
        .await;
    assert!(
        ready_is(&none, "False", "InvalidProviderConfig"),
        "{:#?}",
        none["status"]
    );
    env.stop().await;
}
