//! Helpers shared by the OpenBao tests.
#![allow(dead_code)]

use fjord_testkit::bao::Bao;
use fjord_vault::{Login, SecretString, Token, Vault, VaultConfig};
use serde_json::{json, Value};

/// A client of `bao` (its CA when it has one) in `namespace`.
pub fn client(bao: &Bao, namespace: Option<&str>) -> Vault {
    let mut cfg = VaultConfig::new(&bao.addr);
    cfg.namespace = namespace.map(str::to_string);
    cfg.ca_pem = bao.ca_pem().map(String::into_bytes);
    Vault::new(cfg).expect("a client")
}

/// The root token as a given token (looked up).
pub async fn root(vault: &Vault, bao: &Bao) -> Token {
    vault
        .login(&Login::Token(SecretString::new(&bao.root_token)), None)
        .await
        .expect("root token lookup")
}

/// A policy `name` allowing `read` and `list` on `paths`.
pub fn policy(bao: &Bao, name: &str, paths: &[&str]) {
    let rules: String = paths
        .iter()
        .map(|p| format!("path \"{p}\" {{ capabilities = [\"read\", \"list\"] }}\n"))
        .collect();
    bao.api(
        "PUT",
        &format!("sys/policies/acl/{name}"),
        Some(&json!({ "policy": rules })),
    );
}

/// Enables AppRole at `approle` (in the root namespace) with role `role` (`settings` merged in);
/// returns (role_id, secret_id).
pub fn approle(bao: &Bao, role: &str, settings: Value) -> (String, String) {
    let enabled = bao.api("GET", "sys/auth", None);
    if enabled["approle/"].is_null() {
        bao.api(
            "POST",
            "sys/auth/approle",
            Some(&json!({"type": "approle"})),
        );
    }
    bao.api(
        "POST",
        &format!("auth/approle/role/{role}"),
        Some(&settings),
    );
    let role_id = bao.api("GET", &format!("auth/approle/role/{role}/role-id"), None)["data"]
        ["role_id"]
        .as_str()
        .expect("role_id")
        .to_string();
    let secret_id = bao.api("POST", &format!("auth/approle/role/{role}/secret-id"), None)["data"]
        ["secret_id"]
        .as_str()
        .expect("secret_id")
        .to_string();
    (role_id, secret_id)
}

/// The AppRole login of (role_id, secret_id) at mount `approle`.
pub fn approle_login(ids: &(String, String)) -> Login {
    Login::AppRole {
        mount: "approle".into(),
        role_id: ids.0.clone(),
        secret_id: SecretString::new(ids.1.clone()),
    }
}

/// `data.data` of a KV v2 read.
pub fn kv2(body: &Option<Value>) -> &Value {
    &body.as_ref().expect("a secret")["data"]["data"]
}
