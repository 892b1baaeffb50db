//! The ExternalSecret reconcile end to end: the API server `FJORD_TEST_BACKEND` picks (fjord's
//! local API in process, or the real control plane), a real OpenBao dev server
//! (`fjord_testkit::bao`), the controller started with `fjord_eso_controller::start`, and the
//! real `kubectl` to apply and read objects. Seed 000's ExternalSecret verbatim; each creation
//! and deletion policy; the bad inputs of the issue, each giving Ready=False naming the field
//! and changing nothing else.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use fjord_cluster::{ClusterHandle, ClusterOptions};
use fjord_eso_controller::{start, EsoControllerHandle, EsoControllerOptions};
use fjord_testkit::bao::Bao;
use fjord_testkit::tools::{BAO, KUBECTL};
use fjord_testkit::{require_tools, Cluster, LocalApi};
use serde_json::{json, Value};

const DEADLINE: Duration = Duration::from_secs(60);
const NS: &str = "default";
const USERNAME: &str = "fjord-user-7f3a1c";
const PASSWORD: &str = "pw-9c1e5b-SECRET";
const PASSWORD2: &str = "pw-2d7a0f-ROTATED";

/// Seed 000's ExternalSecret, verbatim (the one copy, shared with fjord-eso's tests; the seed
/// text lost its indentation, restored there as standard YAML).
const SEED_ES: &str = include_str!("../../eso/testdata/seed-external-secret.yaml");

/// fjord's local API served in this process on its own runtime.
struct InProcess {
    rt: tokio::runtime::Runtime,
    handle: Option<ClusterHandle>,
}

impl LocalApi for InProcess {
    fn kubeconfig(&self) -> PathBuf {
        self.handle
            .as_ref()
            .expect("running")
            .kubeconfig()
            .to_path_buf()
    }
    fn addr(&self) -> SocketAddr {
        self.handle.as_ref().expect("running").addr()
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            self.rt.block_on(h.shutdown());
        }
    }
}

fn local_api(dir: &Path) -> Box<dyn LocalApi> {
    let mut opts = ClusterOptions::new(dir);
    opts.addr = "127.0.0.1:0".parse().expect("addr");
    opts.in_memory = true;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let handle = rt.block_on(fjord_cluster::serve(opts)).expect("serve");
    Box::new(InProcess {
        rt,
        handle: Some(handle),
    })
}

/// A cluster, an OpenBao dev server with the seed's secret, the token Secret, the
/// `vault-backend` ClusterSecretStore, and the controller (on its own runtime).
struct Env {
    cluster: Cluster,
    bao: Bao,
    rt: tokio::runtime::Runtime,
    controller: Option<EsoControllerHandle>,
}

impl Env {
    fn start() -> Env {
        let cluster = Cluster::start(local_api);
        let bao = Bao::dev();
        bao.kv_put(
            "production/db",
            &[("username", USERNAME), ("password", PASSWORD)],
        );
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let opts = EsoControllerOptions {
            client: fjord_client::ClientOptions {
                kubeconfig: Some(cluster.kubeconfig.clone()),
                ..Default::default()
            },
            resync: Duration::from_secs(1),
            ..EsoControllerOptions::default()
        };
        let controller = rt.block_on(start(opts)).expect("controller starts");
        let env = Env {
            cluster,
            bao,
            rt,
            controller: Some(controller),
        };
        env.cluster.kubectl_ok(&[
            "create",
            "secret",
            "generic",
            "vault-token",
            "-n",
            NS,
            &format!("--from-literal=token={}", env.bao.root_token),
        ]);
        env.apply(&store_yaml("vault-backend", &env.bao.addr));
        env
    }

    fn apply(&self, manifest: &str) {
        let o = self
            .cluster
            .kubectl_in(&["apply", "-n", NS, "-f", "-"], manifest);
        assert!(
            o.status.success(),
            "kubectl apply: {}\n{manifest}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    fn get(&self, kind: &str, name: &str) -> Option<Value> {
        self.cluster.get(kind, NS, name)
    }

    fn es(&self, name: &str) -> Option<Value> {
        self.get("externalsecrets.external-secrets.io", name)
    }

    fn wait_for<T>(&self, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
        let start = Instant::now();
        loop {
            if let Some(v) = f() {
                return v;
            }
            assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits for the ExternalSecret's Ready condition to have `status` and `reason`.
    fn ready(&self, name: &str, status: &str, reason: &str) -> Value {
        self.wait_for(&format!("{name} Ready={status} {reason}"), || {
            let es = self.es(name)?;
            let c = ready_condition(&es)?;
            (c["status"] == status && c["reason"] == reason).then_some(es)
        })
    }

    fn secret(&self, name: &str) -> Value {
        self.wait_for(&format!("Secret {name}"), || self.get("secret", name))
    }

    fn secret_gone(&self, name: &str) {
        self.wait_for(&format!("Secret {name} gone"), || {
            self.get("secret", name).is_none().then_some(())
        });
    }

    fn events(&self, name: &str) -> Vec<Value> {
        self.cluster.get_json(&["events", "-n", NS])["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|e| e["involvedObject"]["name"] == name)
            .collect()
    }

    fn event(&self, name: &str, reason: &str) -> Value {
        self.wait_for(&format!("event {reason} on {name}"), || {
            self.events(name)
                .into_iter()
                .find(|e| e["reason"] == reason)
        })
    }

    fn delete(&self, kind: &str, name: &str) {
        self.cluster
            .kubectl_ok(&["delete", kind, name, "-n", NS, "--wait=false"]);
    }

    fn force_sync(&self, name: &str, n: u32) {
        self.cluster.kubectl_ok(&[
            "annotate",
            "--overwrite",
            "-n",
            NS,
            "externalsecrets.external-secrets.io",
            name,
            &format!("external-secrets.io/force-sync=t{n}"),
        ]);
    }

    fn stop(mut self) {
        if let Some(c) = self.controller.take() {
            self.rt.block_on(c.shutdown()).expect("controller shutdown");
        }
    }
}

fn store_yaml(name: &str, server: &str) -> String {
    format!(
        r#"apiVersion: external-secrets.io/v1beta1
kind: ClusterSecretStore
metadata:
  name: {name}
spec:
  provider:
    vault:
      server: "{server}"
      path: secret
      version: v2
      auth:
        tokenSecretRef:
          name: vault-token
          key: token
          namespace: {NS}
"#
    )
}

/// An ExternalSecret reading `key`/`property` through `vault-backend` into `target`.
fn es_yaml(name: &str, target: &str, key: &str, property: &str) -> Value {
    json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"refreshInterval": "1h",
            "secretStoreRef": {"name": "vault-backend", "kind": "ClusterSecretStore"},
            "target": {"name": target},
            "data": [{"secretKey": "value", "remoteRef": {"key": key, "property": property}}]}})
}

fn ready_condition(es: &Value) -> Option<&Value> {
    es.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")
}

fn message(es: &Value) -> String {
    ready_condition(es)
        .and_then(|c| c["message"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn decoded(secret: &Value, key: &str) -> String {
    let b64 = secret["data"][key].as_str().unwrap_or_default();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64");
    String::from_utf8(bytes).expect("utf-8")
}

/// Nothing the controller wrote about `name` (status, events) holds a test value.
fn assert_no_values(env: &Env, name: &str) {
    let mut text = env
        .es(name)
        .map(|e| e["status"].to_string())
        .unwrap_or_default();
    for e in env.events(name) {
        text.push_str(&e.to_string());
    }
    for v in [USERNAME, PASSWORD, PASSWORD2, &env.bao.root_token] {
        assert!(
            !text.contains(v),
            "a value leaked into {name}'s status or events"
        );
    }
}

#[test]
fn seed_external_secret_syncs_follows_vault_and_survives_an_outage() {
    require_tools!(KUBECTL, BAO);
    let mut env = Env::start();
    env.apply(SEED_ES);
    let es = env.ready("database-credentials", "True", "SecretSynced");
    assert_eq!(message(&es), "secret synced");
    let status = &es["status"];
    assert!(status["refreshTime"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    let gen = es["metadata"]["generation"].as_i64().expect("generation");
    assert!(status["syncedResourceVersion"]
        .as_str()
        .is_some_and(|v| v.starts_with(&format!("{gen}-"))));
    assert_eq!(status["binding"]["name"], "db-creds-k8s");
    assert!(es["metadata"]["finalizers"]
        .as_array()
        .is_some_and(|f| f.iter().any(|f| f == fjord_eso::target::FINALIZER)));

    let secret = env.secret("db-creds-k8s");
    assert_eq!(decoded(&secret, "username"), USERNAME);
    assert_eq!(decoded(&secret, "password"), PASSWORD);
    let labels = &secret["metadata"]["labels"];
    assert_eq!(labels[fjord_eso::target::LABEL_MANAGED], "true");
    assert_eq!(
        labels[fjord_eso::target::LABEL_CREATED_BY],
        fjord_eso::target::created_by(NS, "database-credentials")
    );
    assert!(secret["metadata"]["annotations"][fjord_eso::target::ANNOTATION_DATA_HASH].is_string());
    let owner = &secret["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "ExternalSecret");
    assert_eq!(owner["name"], "database-credentials");
    assert_eq!(owner["uid"], es["metadata"]["uid"]);
    assert_eq!(owner["controller"], true);
    env.event("database-credentials", "Created");

    // A refresh that changes nothing writes nothing.
    let rv = secret["metadata"]["resourceVersion"].clone();
    env.force_sync("database-credentials", 1);
    env.wait_for("the forced refresh", || {
        let es = env.es("database-credentials")?;
        (es["status"]["syncedResourceVersion"] != status["syncedResourceVersion"]).then_some(())
    });
    assert_eq!(
        env.secret("db-creds-k8s")["metadata"]["resourceVersion"],
        rv
    );

    // The value changes in Vault: the next refresh follows.
    env.bao.kv_put(
        "production/db",
        &[("username", USERNAME), ("password", PASSWORD2)],
    );
    std::thread::sleep(Duration::from_millis(1500)); // the read cache lives one resync
    env.force_sync("database-credentials", 2);
    env.wait_for("the rotated password", || {
        (decoded(&env.secret("db-creds-k8s"), "password") == PASSWORD2).then_some(())
    });
    env.event("database-credentials", "Updated");

    // An edited Secret is put back.
    env.cluster.kubectl_ok(&[
        "patch",
        "secret",
        "db-creds-k8s",
        "-n",
        NS,
        "--type=merge",
        "-p",
        r#"{"data":{"password":"ZWRpdGVk"}}"#,
    ]);
    env.wait_for("the edit reverted", || {
        (decoded(&env.secret("db-creds-k8s"), "password") == PASSWORD2).then_some(())
    });

    // Vault stops: the Secret is kept, the condition says why.
    env.bao.stop();
    std::thread::sleep(Duration::from_millis(1500)); // past the read cache
    let before = env.secret("db-creds-k8s");
    env.force_sync("database-credentials", 3);
    let es = env.ready("database-credentials", "False", "SecretSyncedError");
    assert!(
        message(&es).starts_with("could not get secret data from provider"),
        "{}",
        message(&es)
    );
    let warning = env.event("database-credentials", "UpdateFailed");
    assert_eq!(warning["type"], "Warning");
    assert_eq!(env.secret("db-creds-k8s")["data"], before["data"]);

    // Vault starts again (a dev server starts empty): it recovers after the backoff.
    env.bao.start();
    env.bao.kv_put(
        "production/db",
        &[("username", USERNAME), ("password", PASSWORD)],
    );
    env.ready("database-credentials", "True", "SecretSynced");
    env.wait_for("the recovered password", || {
        (decoded(&env.secret("db-creds-k8s"), "password") == PASSWORD).then_some(())
    });
    assert_no_values(&env, "database-credentials");

    // Owner + Retain: deleting the ExternalSecret takes the Secret with it (ownerReference).
    env.delete(
        "externalsecrets.external-secrets.io",
        "database-credentials",
    );
    env.wait_for("the ExternalSecret gone", || {
        env.es("database-credentials").is_none().then_some(())
    });
    env.secret_gone("db-creds-k8s");
    env.stop();
}

#[test]
fn a_short_refresh_interval_follows_vault_without_a_trigger() {
    require_tools!(KUBECTL, BAO);
    let env = Env::start();
    let mut es = es_yaml("periodic", "periodic", "production/db", "password");
    es["spec"]["refreshInterval"] = json!("2s");
    env.cluster.apply_json(&es);
    env.ready("periodic", "True", "SecretSynced");
    assert_eq!(decoded(&env.secret("periodic"), "value"), PASSWORD);
    env.bao.kv_put(
        "production/db",
        &[("username", USERNAME), ("password", PASSWORD2)],
    );
    env.wait_for("the rotated password", || {
        (decoded(&env.secret("periodic"), "value") == PASSWORD2).then_some(())
    });
    env.stop();
}

/// An ExternalSecret `name` (target `name`) reading the seed's password with `target`.
fn with_target(name: &str, target: Value) -> Value {
    let mut es = es_yaml(name, name, "production/db", "password");
    es["spec"]["target"] = target;
    es["spec"]["target"]["name"] = json!(name);
    es
}

/// An ExternalSecret `name` extracting every key of `key`, with `deletion_policy`.
fn extract_yaml(name: &str, key: &str, deletion_policy: &str) -> Value {
    json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"refreshInterval": "1h",
            "secretStoreRef": {"name": "vault-backend", "kind": "ClusterSecretStore"},
            "target": {"deletionPolicy": deletion_policy},
            "dataFrom": [{"extract": {"key": key}}]}})
}

#[test]
fn creation_policies_on_sync_and_on_deletion() {
    require_tools!(KUBECTL, BAO);
    let env = Env::start();
    // Orphan: created without an ownerReference; stays after the ExternalSecret goes.
    env.cluster
        .apply_json(&with_target("orphan", json!({"creationPolicy": "Orphan"})));
    env.ready("orphan", "True", "SecretSynced");
    let s = env.secret("orphan");
    assert!(s["metadata"].get("ownerReferences").is_none());
    assert!(s["metadata"]["labels"]
        .get(fjord_eso::target::LABEL_CREATED_BY)
        .is_none());

    // Merge without a Secret: nothing is created.
    env.cluster.apply_json(&with_target(
        "merge",
        json!({"creationPolicy": "Merge", "deletionPolicy": "Merge"}),
    ));
    let es = env.ready("merge", "True", "SecretMissing");
    assert_eq!(
        message(&es),
        "secret will not be created due to CreationPolicy=Merge"
    );
    assert!(env.get("secret", "merge").is_none());
    // … then a foreign Secret appears: the key is merged in, the foreign keys stay.
    env.cluster.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "merge",
        "-n",
        NS,
        "--from-literal=own=keep",
    ]);
    env.force_sync("merge", 1);
    env.ready("merge", "True", "SecretSynced");
    env.wait_for("the merged key", || {
        let s = env.get("secret", "merge")?;
        (s["data"].get("value").is_some()).then_some(())
    });
    let s = env.secret("merge");
    assert_eq!(decoded(&s, "own"), "keep");
    assert_eq!(decoded(&s, "value"), PASSWORD);

    // None: nothing is written.
    env.cluster
        .apply_json(&with_target("none", json!({"creationPolicy": "None"})));
    env.ready("none", "True", "SecretSynced");
    assert!(env.get("secret", "none").is_none());

    // CreateOrMerge: created, without an ownerReference.
    env.cluster.apply_json(&with_target(
        "com",
        json!({"creationPolicy": "CreateOrMerge"}),
    ));
    env.ready("com", "True", "SecretSynced");
    assert!(env.secret("com")["metadata"]
        .get("ownerReferences")
        .is_none());

    // Owner + Delete: deleted explicitly on ExternalSecret deletion.
    env.cluster.apply_json(&with_target(
        "owned",
        json!({"creationPolicy": "Owner", "deletionPolicy": "Delete"}),
    ));
    env.ready("owned", "True", "SecretSynced");
    env.secret("owned");

    for name in ["orphan", "merge", "none", "com", "owned"] {
        env.delete("externalsecrets.external-secrets.io", name);
    }
    for name in ["orphan", "merge", "none", "com", "owned"] {
        env.wait_for(&format!("{name} gone"), || {
            env.es(name).is_none().then_some(())
        });
    }
    env.secret_gone("owned");
    assert!(
        env.get("secret", "orphan").is_some(),
        "Orphan keeps the Secret"
    );
    assert!(
        env.get("secret", "com").is_some(),
        "CreateOrMerge keeps the Secret"
    );
    let merged = env.secret("merge");
    assert_eq!(decoded(&merged, "own"), "keep");
    assert!(
        merged["data"].get("value").is_none(),
        "deletionPolicy Merge strips the key"
    );
    env.stop();
}

#[test]
fn immutable_targets_and_deletion_policy_on_empty_provider_data() {
    require_tools!(KUBECTL, BAO);
    let env = Env::start();
    // immutable: the first write succeeds; a later change is refused.
    env.cluster
        .apply_json(&with_target("frozen", json!({"immutable": true})));
    env.ready("frozen", "True", "SecretSynced");
    assert_eq!(env.secret("frozen")["immutable"], true);
    // Orphan: a later refresh updates the Secret it made (no ownerReference to know it by).
    env.cluster
        .apply_json(&with_target("orphan2", json!({"creationPolicy": "Orphan"})));
    env.ready("orphan2", "True", "SecretSynced");
    assert_eq!(decoded(&env.secret("orphan2"), "value"), PASSWORD);

    // dataFrom.extract of a secret that goes away, deletionPolicy Delete: the Secret is deleted.
    env.bao.kv_put("team/app", &[("a", "1"), ("b", "2")]);
    env.cluster
        .apply_json(&extract_yaml("extract", "team/app", "Delete"));
    env.ready("extract", "True", "SecretSynced");
    let s = env.secret("extract");
    assert_eq!(
        (decoded(&s, "a").as_str(), decoded(&s, "b").as_str()),
        ("1", "2")
    );

    env.bao.kv_put(
        "production/db",
        &[("username", USERNAME), ("password", PASSWORD2)],
    );
    env.bao
        .bao_ok(&["kv", "metadata", "delete", "-mount=secret", "team/app"]);
    std::thread::sleep(Duration::from_millis(1500));
    env.force_sync("frozen", 1);
    let es = env.ready("frozen", "False", "SecretSyncedError");
    assert!(
        message(&es).contains("could not update secret, target is immutable"),
        "{}",
        message(&es)
    );
    assert_eq!(decoded(&env.secret("frozen"), "value"), PASSWORD);
    env.force_sync("orphan2", 1);
    env.wait_for("orphan2 updated", || {
        (decoded(&env.secret("orphan2"), "value") == PASSWORD2).then_some(())
    });

    env.force_sync("extract", 1);
    let es = env.ready("extract", "True", "SecretDeleted");
    assert_eq!(message(&es), "secret deleted due to DeletionPolicy=Delete");
    env.secret_gone("extract");
    env.event("extract", "MissingProviderSecret");

    // Retain: the provider has nothing, the Secret stays.
    env.bao.kv_put("team/kept", &[("k", "v")]);
    env.cluster
        .apply_json(&extract_yaml("retained", "team/kept", "Retain"));
    env.ready("retained", "True", "SecretSynced");
    env.bao
        .bao_ok(&["kv", "metadata", "delete", "-mount=secret", "team/kept"]);
    std::thread::sleep(Duration::from_millis(1500));
    env.force_sync("retained", 1);
    env.wait_for("the retained message", || {
        let es = env.es("retained")?;
        (message(&es) == "secret retained due to DeletionPolicy=Retain").then_some(())
    });
    assert_eq!(decoded(&env.secret("retained"), "k"), "v");
    env.stop();
}

/// Applies `es`, waits for Ready=False SecretSyncedError, checks the message names `field`
/// and that no Secret `target` was written.
fn expect_refused(env: &Env, es: &Value, field: &str) -> Value {
    let name = es["metadata"]["name"].as_str().expect("name").to_string();
    env.cluster.apply_json(es);
    let got = env.ready(&name, "False", "SecretSyncedError");
    let msg = message(&got);
    eprintln!("{name}: Ready=False: {msg}");
    assert!(msg.contains(field), "{name}: {msg:?} does not name {field}");
    let warning = env.event(&name, "UpdateFailed");
    assert_eq!(warning["type"], "Warning");
    assert_no_values(env, &name);
    got
}

#[test]
fn bad_input_sets_ready_false_naming_the_field_and_changes_nothing() {
    require_tools!(KUBECTL, BAO);
    let env = Env::start();

    let mut missing_store = es_yaml("no-store", "no-store", "production/db", "password");
    missing_store["spec"]["secretStoreRef"]["name"] = json!("nowhere");
    expect_refused(&env, &missing_store, "nowhere");

    env.apply(
        "apiVersion: external-secrets.io/v1\nkind: ClusterSecretStore\nmetadata:\n  name: aws-store\n\
         spec:\n  provider:\n    aws:\n      service: SecretsManager\n      region: eu-north-1\n",
    );
    let mut aws = es_yaml("aws", "aws", "production/db", "password");
    aws["spec"]["secretStoreRef"]["name"] = json!("aws-store");
    expect_refused(&env, &aws, "spec.provider");

    let missing_prop = es_yaml("no-prop", "no-prop", "production/db", "nosuchproperty");
    expect_refused(&env, &missing_prop, "spec.data[0].remoteRef.property");

    let escape = es_yaml("escape", "escape", "secret/data/../../sys/mounts", "x");
    expect_refused(&env, &escape, "spec.data[0].remoteRef.key");

    let mut template = es_yaml("bad-template", "bad-template", "production/db", "password");
    template["spec"]["target"]["template"] = json!({"data": {"x": "{{ .value "}});
    expect_refused(&env, &template, "spec.target.template");

    let mut unsupported = es_yaml("bad-function", "bad-function", "production/db", "password");
    unsupported["spec"]["target"]["template"] = json!({"data": {"x": "{{ .value | sha256sum }}"}});
    expect_refused(&env, &unsupported, "sha256sum");

    // A Secret someone else owns is never overwritten.
    env.cluster.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "taken",
        "-n",
        NS,
        "--from-literal=mine=1",
    ]);
    let before = env.secret("taken");
    let collide = es_yaml("collide", "taken", "production/db", "password");
    expect_refused(&env, &collide, "spec.target.name");
    let after = env.secret("taken");
    assert_eq!(after["data"], before["data"]);
    assert_eq!(
        after["metadata"]["resourceVersion"],
        before["metadata"]["resourceVersion"]
    );

    // Over 1 MiB.
    let big = "x".repeat((1 << 20) + 1);
    env.bao.api(
        "POST",
        "secret/data/big",
        Some(&json!({"data": {"blob": big}})),
    );
    let oversized = es_yaml("oversized", "oversized", "big", "blob");
    let got = expect_refused(&env, &oversized, "spec.data[0]");
    assert!(message(&got).contains("1 MiB"), "{}", message(&got));

    for name in [
        "no-store",
        "aws",
        "no-prop",
        "escape",
        "bad-template",
        "bad-function",
        "oversized",
    ] {
        assert!(
            env.get("secret", name).is_none(),
            "{name}: no Secret may be written"
        );
    }
    env.stop();
}

#[test]
fn data_from_find_rewrite_and_template() {
    require_tools!(KUBECTL, BAO);
    let env = Env::start();
    env.bao.kv_put("apps/one", &[("a", "1")]);
    env.bao.kv_put("apps/two", &[("b", "2")]);
    env.bao.kv_put("apps/skip", &[("c", "3")]);
    env.cluster.apply_json(
        &json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
        "metadata": {"name": "found", "namespace": NS},
        "spec": {"refreshInterval": "1h",
            "secretStoreRef": {"name": "vault-backend", "kind": "ClusterSecretStore"},
            "dataFrom": [{"find": {"path": "apps", "name": {"regexp": "^apps/(one|two)$"}},
                "rewrite": [{"regexp": {"source": "^apps/", "target": ""}}]}]}}),
    );
    env.ready("found", "True", "SecretSynced");
    let s = env.secret("found");
    let keys: Vec<&String> = s["data"].as_object().expect("data").keys().collect();
    assert_eq!(keys, ["one", "two"]);
    assert_eq!(decoded(&s, "one"), r#"{"a":"1"}"#);
    assert_eq!(decoded(&s, "two"), r#"{"b":"2"}"#);

    let mut templated = es_yaml("templated", "templated", "production/db", "password");
    templated["spec"]["data"] = json!([
        {"secretKey": "username", "remoteRef": {"key": "production/db", "property": "username"}},
        {"secretKey": "password", "remoteRef": {"key": "production/db", "property": "password"}}]);
    templated["spec"]["target"]["template"] = json!({"type": "kubernetes.io/basic-auth",
        "metadata": {"labels": {"app": "{{ .username | lower }}"}},
        "data": {"username": "{{ .username }}", "password": "{{ .password }}",
            "url": "postgres://{{ .username }}:{{ .password }}@db"}});
    env.cluster.apply_json(&templated);
    env.ready("templated", "True", "SecretSynced");
    let s = env.secret("templated");
    assert_eq!(s["type"], "kubernetes.io/basic-auth");
    assert_eq!(s["metadata"]["labels"]["app"], USERNAME.to_lowercase());
    assert_eq!(
        decoded(&s, "url"),
        format!("postgres://{USERNAME}:{PASSWORD}@db")
    );
    assert_no_values(&env, "templated");
    env.stop();
}
