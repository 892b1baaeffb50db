//! Clients for clusters described inline rather than by a kubeconfig file: Argo CD's cluster
//! Secrets (`server` plus a `config` JSON with `bearerToken`, `username`/`password` and
//! `tlsClientConfig`).

use serde_json::{json, Value};

use crate::{Client, ClientError};

impl Client {
    /// Connects to `server` with an Argo CD cluster `config` (the Secret's `config` field,
    /// parsed). Credentials stay in memory.
    pub async fn connect_cluster(server: &str, config: &Value) -> Result<Client, ClientError> {
        crate::ensure_crypto_provider();
        let tls = config.get("tlsClientConfig").cloned().unwrap_or(json!({}));
        let mut cluster = json!({"server": server});
        if tls.get("insecure").and_then(Value::as_bool) == Some(true) {
            cluster["insecure-skip-tls-verify"] = json!(true);
        }
        if let Some(ca) = tls.get("caData").and_then(Value::as_str) {
            cluster["certificate-authority-data"] = json!(ca);
        }
        if let Some(name) = tls.get("serverName").and_then(Value::as_str) {
            cluster["tls-server-name"] = json!(name);
        }
        let mut user = json!({});
        for (from, to) in [
            ("bearerToken", "token"),
            ("username", "username"),
            ("password", "password"),
        ] {
            if let Some(v) = config.get(from).and_then(Value::as_str) {
                user[to] = json!(v);
            }
        }
        for (from, to) in [
            ("certData", "client-certificate-data"),
            ("keyData", "client-key-data"),
        ] {
            if let Some(v) = tls.get(from).and_then(Value::as_str) {
                user[to] = json!(v);
            }
        }
        let doc = json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "c", "cluster": cluster}],
            "users": [{"name": "u", "user": user}],
            "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
            "current-context": "c",
        });
        let bad = |source: kube::config::KubeconfigError| ClientError::LoadContext {
            path: server.into(),
            context: "cluster Secret".into(),
            user: "config".into(),
            source: crate::Foreign::new(source),
        };
        let kc = kube::config::Kubeconfig::from_yaml(&doc.to_string()).map_err(bad)?;
        let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .map_err(bad)?;
        Client::from_config(config, None)
    }
}

impl Client {
    /// The server's `/version` (`v1.32.0`).
    pub async fn server_version(&self) -> Result<String, ClientError> {
        let info = self
            .retry
            .run(|| self.inner.apiserver_version())
            .await
            .map_err(|source| ClientError::Request {
                verb: "get",
                kind: "version".into(),
                target: "/version".into(),
                source: crate::Foreign::new(source),
            })?;
        Ok(info.git_version)
    }
}
