//! The controller's settings, read from the cluster the way Argo CD reads them: `argocd-cm`
//! (reconciliation timeout, Lua health checks), `argocd-secret` (webhook secrets),
//! `argocd-ssh-known-hosts-cm`, and the repository / repo-creds / cluster Secrets.

use fjord_client::{Client, ResourceType};
use fjord_health::HealthOverrides;
use fjord_source::{CredentialStore, KnownHosts, PollPolicy, WebhookSecrets};
use serde_json::Value;

use super::ControllerError;

/// Label that marks Argo CD's repository, repo-creds and cluster Secrets.
pub const SECRET_TYPE_LABEL: &str = "argocd.argoproj.io/secret-type";

/// Everything read from the settings objects, replaced as a whole on reload.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Polling interval and jitter (`timeout.reconciliation`).
    pub poll: PollPolicy,
    /// Custom Lua health checks.
    pub health: HealthOverrides,
    /// Webhook secrets from `argocd-secret`.
    pub webhook: WebhookSecrets,
    /// Repository credentials.
    pub credentials: CredentialStore,
    /// SSH known hosts.
    pub known_hosts: KnownHosts,
    /// Cluster Secrets (`secret-type: cluster`), raw.
    pub clusters: Vec<Value>,
    /// The resourceVersions of the objects read, to tell whether anything changed.
    pub version: String,
}

fn named<'a>(items: &'a [Value], name: &str) -> Option<&'a Value> {
    items
        .iter()
        .find(|o| o.pointer("/metadata/name").and_then(Value::as_str) == Some(name))
}

fn typed<'a>(items: &'a [Value], kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    items.iter().filter(move |s| {
        s.pointer("/metadata/labels")
            .and_then(|l| l.get(SECRET_TYPE_LABEL))
            .and_then(Value::as_str)
            == Some(kind)
    })
}

/// Reads the settings in `namespace`. A missing object means its defaults; a malformed one is an
/// error naming it.
pub async fn load(client: &Client, namespace: &str) -> Result<Settings, ControllerError> {
    let cm_type = core_type(client, "ConfigMap").await?;
    let secret_type = core_type(client, "Secret").await?;
    let list = |t: ResourceType| async move {
        client
            .list(&t, Some(namespace))
            .await
            .map_err(|source| ControllerError::Client {
                step: "reading settings",
                source,
            })
    };
    let config_maps = list(cm_type).await?;
    let secrets = list(secret_type).await?;
    let mut s = Settings::default();
    if let Some(cm) = named(&config_maps, "argocd-cm") {
        s.poll = PollPolicy::from_config_map(cm).map_err(|e| ControllerError::Settings {
            object: "ConfigMap argocd-cm".into(),
            message: e.to_string(),
        })?;
        s.health = HealthOverrides::from_argocd_cm(cm).map_err(|e| ControllerError::Settings {
            object: "ConfigMap argocd-cm".into(),
            message: e.to_string(),
        })?;
    }
    if let Some(cm) = named(&config_maps, "argocd-ssh-known-hosts-cm") {
        s.known_hosts = KnownHosts::from_config_map(cm).map_err(|e| ControllerError::Settings {
            object: "ConfigMap argocd-ssh-known-hosts-cm".into(),
            message: e.to_string(),
        })?;
    }
    if let Some(secret) = named(&secrets, "argocd-secret") {
        s.webhook = WebhookSecrets::from_secret(secret).map_err(|e| ControllerError::Settings {
            object: "Secret argocd-secret".into(),
            message: e.to_string(),
        })?;
    }
    s.credentials =
        CredentialStore::from_secrets(secrets.iter()).map_err(|e| ControllerError::Settings {
            object: "repository Secrets".into(),
            message: e.to_string(),
        })?;
    s.clusters = typed(&secrets, "cluster").cloned().collect();
    let settings_objects = config_maps
        .iter()
        .filter(|o| {
            matches!(
                o.pointer("/metadata/name").and_then(Value::as_str),
                Some("argocd-cm" | "argocd-ssh-known-hosts-cm")
            )
        })
        .chain(secrets.iter().filter(|o| {
            o.pointer("/metadata/name").and_then(Value::as_str) == Some("argocd-secret")
                || o.pointer("/metadata/labels")
                    .and_then(|l| l.get(SECRET_TYPE_LABEL))
                    .is_some()
        }));
    let mut versions: Vec<String> = settings_objects
        .map(|o| {
            let meta = |f: &str| {
                o.pointer(&format!("/metadata/{f}"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            format!("{}@{}", meta("name"), meta("resourceVersion"))
        })
        .collect();
    versions.sort();
    s.version = versions.join(",");
    Ok(s)
}

/// The served type of a core/v1 kind.
pub async fn core_type(client: &Client, kind: &str) -> Result<ResourceType, ControllerError> {
    client
        .resolve("v1", kind)
        .await
        .map_err(|source| ControllerError::Client {
            step: "discovering core kinds",
            source,
        })
}
