//! Shared parts of the External Secrets end-to-end tests (external_secrets_e2e.rs and
//! external_secrets_auth_e2e.rs): the seed's ExternalSecret, store and ExternalSecret builders,
//! waits on `Ready` conditions, and the secret-leak check.
#![allow(dead_code)]

use std::collections::hash_map::RandomState;
use std::collections::BTreeSet;
use std::hash::{BuildHasher, Hasher};

use crate::common::{s, Controller, Env, CONVERGE};
use base64::Engine as _;
use fjord_testkit::bao::Bao;
use serde_json::{json, Value};

/// The kinds, fully qualified (no clash with any other CRD's short names).
pub const ES: &str = "externalsecrets.external-secrets.io";
pub const SS: &str = "secretstores.external-secrets.io";
pub const CSS: &str = "clustersecretstores.external-secrets.io";
/// The Application controller's polling interval.
pub const RESYNC: &str = "2s";
/// How often the External Secrets controller looks for due refreshes (and how long a Vault
/// read is shared).
pub const ESO_RESYNC: &str = "1s";

/// Seed 000's ExternalSecret, verbatim (the one copy, shared with fjord-eso's tests; the seed
/// text lost its indentation, restored there as standard YAML).
pub const SEED_ES: &str = include_str!("../../../eso/testdata/seed-external-secret.yaml");

/// sha3-224 of "payments/database-credentials" (ESO's `created-by` label), computed
/// independently with Python's `hashlib.sha3_224`.
pub const SEED_CREATED_BY: &str = "58daa5dd36985b619196bf7633f05f5c06a226524f62a61c025a5dad";

/// What the store's token may do: read and list the KV v2 mount (its own token endpoints come
/// with the `default` policy).
pub const POLICY: &str = r#"path "secret/data/*" { capabilities = ["read"] }
path "secret/metadata/*" { capabilities = ["read", "list"] }
"#;

/// A distinctive random value (`prefix-` and 16 hex digits), so a leak is unmistakable.
pub fn unique(prefix: &str) -> String {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    format!("{prefix}-{:016x}", h.finish())
}

pub fn b64(v: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(v)
}

/// The decoded value of key `key` of a Secret (panics when absent).
pub fn decoded(secret: &Value, key: &str) -> String {
    let raw = secret["data"][key]
        .as_str()
        .unwrap_or_else(|| panic!("no key {key} in {}", secret["data"]));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(raw)
        .unwrap();
    String::from_utf8(bytes).unwrap()
}

/// The keys of a Secret's `data`.
pub fn keys(secret: &Value) -> BTreeSet<String> {
    secret["data"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// The first `Ready` condition of an object: (status, reason, message).
pub fn ready(obj: &Value) -> Option<(String, String, String)> {
    obj.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")
        .map(|c| {
            (
                s(c, "/status").to_string(),
                s(c, "/reason").to_string(),
                s(c, "/message").to_string(),
            )
        })
}

/// Makes the read policy and a token carrying it, with the id `token` (a restarted dev server
/// is given the same token again).
pub fn grant(bao: &Bao, token: &str) {
    bao.api(
        "PUT",
        "sys/policies/acl/eso-read",
        Some(&json!({ "policy": POLICY })),
    );
    bao.api(
        "POST",
        "auth/token/create",
        Some(&json!({"id": token, "policies": ["eso-read"], "ttl": "2h", "no_parent": true})),
    );
}

/// A Secret `name` in `ns` holding the store's token under `token`.
pub fn token_secret(ns: &str, name: &str, token: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
        "type": "Opaque", "data": {"token": b64(token)}})
}

/// The seed's store: ClusterSecretStore `vault-backend`, provider vault, KV v2 at `secret`,
/// token auth from Secret `vault-auth/vault-token`.
pub fn cluster_store(server: &str) -> String {
    format!(
        "apiVersion: external-secrets.io/v1beta1\nkind: ClusterSecretStore\nmetadata:\n  name: vault-backend\n\
         spec:\n  provider:\n    vault:\n      server: \"{server}\"\n      path: secret\n      version: v2\n\
         \x20     auth:\n        tokenSecretRef:\n          name: vault-token\n          key: token\n\
         \x20         namespace: vault-auth\n"
    )
}

/// A namespaced SecretStore `name` in `ns` with token auth from Secret `vault-token` and
/// `extra` YAML lines inside `vault:` (indented 6 spaces).
pub fn store(ns: &str, name: &str, server: &str, extra: &str) -> String {
    format!(
        "apiVersion: external-secrets.io/v1\nkind: SecretStore\nmetadata:\n  name: {name}\n  namespace: {ns}\n\
         spec:\n  provider:\n    vault:\n      server: \"{server}\"\n      path: secret\n      version: v2\n{extra}\
         \x20     auth:\n        tokenSecretRef:\n          name: vault-token\n          key: token\n"
    )
}

/// An ExternalSecret (v1) `name` in `ns`: `store` is "Kind/name"; `spec_rest` is YAML for the
/// rest of `spec` (`target`, `data`, …), indented 2 spaces.
pub fn external_secret(
    ns: &str,
    name: &str,
    store: &str,
    interval: &str,
    spec_rest: &str,
) -> String {
    let (kind, store) = store.split_once('/').unwrap();
    format!(
        "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata:\n  name: {name}\n  namespace: {ns}\n\
         spec:\n  refreshInterval: {interval}\n  secretStoreRef:\n    name: {store}\n    kind: {kind}\n{spec_rest}"
    )
}

/// One `data` entry (indented for [`external_secret`]).
pub fn data_entry(secret_key: &str, key: &str, property: &str) -> String {
    format!(
        "  - secretKey: {secret_key}\n    remoteRef:\n      key: {key}\n      property: {property}\n"
    )
}

/// Waits until the ExternalSecret's CRDs are served (the controller installs them).
pub fn wait_crds(env: &Env) {
    let args = [
        "wait",
        "--for=condition=Established",
        "crd/externalsecrets.external-secrets.io",
        "crd/secretstores.external-secrets.io",
        "crd/clustersecretstores.external-secrets.io",
        "crd/clusterexternalsecrets.external-secrets.io",
        "--timeout=10s",
    ];
    env.wait("the external-secrets.io CRDs", CONVERGE, || {
        env.kubectl(&args).status.success().then_some(())
    });
}

/// Starts the cluster and the controller (External Secrets resync [`ESO_RESYNC`]); checks the
/// External Secrets controller started first.
pub fn start_env() -> Env {
    let cluster = crate::common::Cluster::start();
    let controller =
        Controller::start_with(&cluster, RESYNC, &["--external-secrets-resync", ESO_RESYNC]);
    let env = Env {
        controller,
        cluster,
    };
    let log = env.controller.log_text();
    let eso = log
        .find("external secrets controller running")
        .unwrap_or_else(|| panic!("no External Secrets controller started:\n{log}"));
    assert!(eso < log.find("fjord controller running").unwrap(), "{log}");
    wait_crds(&env);
    env
}

/// Waits until object `kind ns/name` has a `Ready` condition satisfying `pred`; returns it.
pub fn wait_ready(
    env: &Env,
    kind: &str,
    ns: &str,
    name: &str,
    what: &str,
    pred: impl Fn(&(String, String, String)) -> bool,
) -> Value {
    env.wait(&format!("{kind} {ns}/{name}: {what}"), CONVERGE, || {
        env.get(kind, ns, name)
            .filter(|o| ready(o).is_some_and(|r| pred(&r)))
    })
}

/// Waits until the object is `Ready=True` (reason `reason`).
pub fn wait_true(env: &Env, kind: &str, ns: &str, name: &str, reason: &str) -> Value {
    wait_ready(env, kind, ns, name, &format!("Ready=True {reason}"), |r| {
        r.0 == "True" && r.1 == reason
    })
}

/// Waits until the ExternalSecret is `Ready=False` with reason `SecretSyncedError` and a message
/// holding every one of `needles`; returns the message.
pub fn wait_failed(env: &Env, ns: &str, name: &str, needles: &[&str]) -> String {
    let es = wait_ready(
        env,
        ES,
        ns,
        name,
        &format!("Ready=False SecretSyncedError naming {needles:?}"),
        |r| r.0 == "False" && r.1 == "SecretSyncedError" && needles.iter().all(|n| r.2.contains(n)),
    );
    ready(&es).unwrap().2
}

/// Waits until Secret `ns/name` exists with `key` decoding to `value`; returns it.
pub fn wait_secret(env: &Env, ns: &str, name: &str, key: &str, value: &str) -> Value {
    env.wait(
        &format!(
            "secret {ns}/{name} with {key} (a {}-byte value)",
            value.len()
        ),
        CONVERGE,
        || {
            env.get("secret", ns, name)
                .filter(|sec| sec["data"][key].as_str() == Some(b64(value).as_str()))
        },
    )
}

/// Asserts that none of `values` (nor their base64 forms) appears in `text`.
pub fn assert_no_leak(what: &str, text: &str, values: &[String]) {
    for v in values {
        for form in [v.clone(), b64(v)] {
            assert!(
                !text.contains(&form),
                "{what} contains the secret value {form}"
            );
        }
    }
}

/// The templated ExternalSecret: one template key per function the issue names (`b64enc`,
/// `b64dec`, `upper`, `lower`, `trim`, `fromJson`, `toJson`) plus `index` for a dashed key, and
/// a rendered label.
pub fn template_es(ns: &str) -> String {
    let rest = format!(
        "  target:\n    name: templated\n    template:\n      engineVersion: v2\n      type: Opaque\n\
         \x20     metadata:\n        labels:\n          team: \"{{{{ .team | lower }}}}\"\n\
         \x20     data:\n\
         \x20       b64enc: \"{{{{ .password | b64enc }}}}\"\n\
         \x20       b64dec: \"{{{{ .encoded | b64dec }}}}\"\n\
         \x20       upper: \"{{{{ .username | upper }}}}\"\n\
         \x20       lower: \"{{{{ .team | lower }}}}\"\n\
         \x20       trim: \"{{{{ .padded | trim }}}}\"\n\
         \x20       fromJson: \"{{{{ index (fromJson .config) \\\"host\\\" }}}}\"\n\
         \x20       toJson: \"{{{{ .config | fromJson | toJson }}}}\"\n\
         \x20       index: \"{{{{ index . \\\"db-user\\\" }}}}\"\n\
         \x20 data:\n{}{}{}{}{}{}{}",
        data_entry("username", "secret/data/production/db", "username"),
        data_entry("password", "secret/data/production/db", "password"),
        data_entry("db-user", "secret/data/production/db", "username"),
        data_entry("encoded", "secret/data/production/app", "encoded"),
        data_entry("team", "secret/data/production/app", "team"),
        data_entry("padded", "secret/data/production/app", "padded"),
        data_entry("config", "secret/data/production/app", "config"),
    );
    external_secret(
        ns,
        "templated",
        "ClusterSecretStore/vault-backend",
        "1h",
        &rest,
    )
}
