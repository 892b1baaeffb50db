//! The controller's settings, read from the cluster the way Argo CD reads them: `argocd-cm`
//! (reconciliation timeout, Lua health checks), `argocd-secret` (webhook secrets),
//! `argocd-ssh-known-hosts-cm`, `argocd-cmd-params-cm` (the repository and render limits), and
//! the repository / repo-creds / cluster Secrets.

use fjord_client::{Client, ResourceType};
use fjord_health::HealthOverrides;
use fjord_render::{Limit, RenderLimits};
use fjord_source::{CredentialStore, ExportLimits, KnownHosts, PollPolicy, WebhookSecrets};
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
    /// The export and render limits (`argocd-cmd-params-cm`).
    pub limits: Limits,
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

/// The name of the ConfigMap holding the limits.
pub const CMD_PARAMS_CM: &str = "argocd-cmd-params-cm";

/// The limits that bound what one repository revision and one app may cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Per exported revision: `reposerver.max.export.bytes`, `reposerver.max.export.files`.
    pub export: ExportLimits,
    /// Per app render: `controller.max.app.objects`, `controller.max.app.rendered.bytes`,
    /// `controller.max.app.input.bytes`, `controller.max.app.files`.
    pub render: RenderLimits,
}

/// `argocd-cmd-params-cm` keys of the export limits.
const EXPORT_BYTES_KEY: &str = "reposerver.max.export.bytes";
const EXPORT_FILES_KEY: &str = "reposerver.max.export.files";

/// The field of [`Limits`] a key sets.
type LimitSlot = fn(&mut Limits) -> &mut u64;

/// Every limit key fjord reads from `argocd-cmd-params-cm`, with the value it sets.
const LIMIT_KEYS: [(&str, LimitSlot); 6] = [
    (EXPORT_BYTES_KEY, |l| &mut l.export.max_bytes),
    (EXPORT_FILES_KEY, |l| &mut l.export.max_files),
    ("controller.max.app.objects", |l| &mut l.render.max_objects),
    ("controller.max.app.rendered.bytes", |l| {
        &mut l.render.max_rendered_bytes
    }),
    ("controller.max.app.input.bytes", |l| {
        &mut l.render.max_input_bytes
    }),
    ("controller.max.app.files", |l| &mut l.render.max_files),
];

/// The `argocd-cmd-params-cm` key of a render limit.
pub fn limit_key(limit: Limit) -> Option<&'static str> {
    Some(match limit {
        Limit::InputBytes => "controller.max.app.input.bytes",
        Limit::Files => "controller.max.app.files",
        Limit::Objects => "controller.max.app.objects",
        Limit::RenderedBytes => "controller.max.app.rendered.bytes",
    })
}

/// The `argocd-cmd-params-cm` key of an export limit named `limit` by fjord-source.
pub fn export_limit_key(limit: &str) -> Option<&'static str> {
    match limit {
        fjord_source::EXPORT_BYTES_LIMIT => Some(EXPORT_BYTES_KEY),
        fjord_source::EXPORT_FILES_LIMIT => Some(EXPORT_FILES_KEY),
        _ => None,
    }
}

impl Limits {
    /// Reads the limits from `argocd-cmd-params-cm` (`None`: absent, the defaults). A key with
    /// a bad value keeps its value from `previous` and is reported in the returned list, which
    /// names the key; so is every `controller.*`/`reposerver.*` key fjord does not honour
    /// (the ConfigMap also holds the settings of Argo CD components fjord replaces).
    pub fn from_config_map(cm: Option<&Value>, previous: &Limits) -> (Limits, Vec<String>) {
        let mut out = Limits::default();
        let mut old = *previous;
        let mut problems = Vec::new();
        let data = cm.and_then(|c| c.get("data")).and_then(Value::as_object);
        for (key, slot) in LIMIT_KEYS {
            let Some(v) = data.and_then(|d| d.get(key)) else {
                continue;
            };
            let kept = *slot(&mut old);
            *slot(&mut out) = match parse_limit(v) {
                Ok(n) => n,
                Err(e) => {
                    problems.push(format!("{key}: {e}; keeping {kept}"));
                    kept
                }
            };
        }
        for key in data.into_iter().flat_map(|d| d.keys()) {
            let ours = LIMIT_KEYS.iter().any(|(k, _)| k == key);
            if !ours && (key.starts_with("controller.") || key.starts_with("reposerver.")) {
                problems.push(format!("{key} is not honoured by fjord and has no effect"));
            }
        }
        (out, problems)
    }
}

/// A limit's value: a positive integer or Kubernetes quantity.
fn parse_limit(v: &Value) -> Result<u64, String> {
    let n = match v {
        Value::String(t) => fjord_render::parse_quantity(t)?,
        Value::Number(n) => n.as_u64().ok_or_else(|| format!("'{n}' is not a count"))?,
        other => return Err(format!("'{other}' is not a quantity")),
    };
    if n == 0 {
        return Err("0 is not allowed (the limit must be positive)".into());
    }
    Ok(n)
}

/// Reads the settings in `namespace`. A missing object means its defaults; a malformed one is an
/// error naming it.
pub async fn load(client: &Client, namespace: &str) -> Result<Settings, ControllerError> {
    load_after(client, namespace, &Limits::default()).await
}

/// [`load`], keeping a limit of `previous` whose new value in `argocd-cmd-params-cm` is bad (a
/// warning names the key).
pub async fn load_after(
    client: &Client,
    namespace: &str,
    previous: &Limits,
) -> Result<Settings, ControllerError> {
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
        s.poll = PollPolicy::from_config_map(cm)
            .map_err(|source| ControllerError::PollSettings { source })?;
        s.health = HealthOverrides::from_argocd_cm(cm)
            .map_err(|source| ControllerError::HealthSettings { source })?;
    }
    if let Some(cm) = named(&config_maps, "argocd-ssh-known-hosts-cm") {
        s.known_hosts = KnownHosts::from_config_map(cm)
            .map_err(|source| ControllerError::KnownHosts { source })?;
    }
    if let Some(secret) = named(&secrets, "argocd-secret") {
        s.webhook = WebhookSecrets::from_secret(secret)
            .map_err(|source| ControllerError::WebhookSecrets { source })?;
    }
    s.credentials = CredentialStore::from_secrets(secrets.iter())
        .map_err(|source| ControllerError::RepoCredentials { source })?;
    s.clusters = typed(&secrets, "cluster").cloned().collect();
    let (limits, problems) = Limits::from_config_map(named(&config_maps, CMD_PARAMS_CM), previous);
    for p in problems {
        super::events::log(
            "warn",
            "settings",
            &format!("ConfigMap {CMD_PARAMS_CM}: {p}"),
        );
    }
    s.limits = limits;
    let settings_objects = config_maps
        .iter()
        .filter(|o| {
            matches!(
                o.pointer("/metadata/name").and_then(Value::as_str),
                Some("argocd-cm" | "argocd-ssh-known-hosts-cm" | CMD_PARAMS_CM)
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn limits_read_quantities_and_keep_the_previous_value_of_a_bad_key() {
        let cm = json!({"data": {
            "reposerver.max.export.bytes": "512Mi",
            "reposerver.max.export.files": "1000",
            "controller.max.app.objects": "5",
            "controller.max.app.rendered.bytes": "10M",
            "controller.max.app.input.bytes": "lots",
            "controller.max.app.files": "0",
        }});
        let previous = Limits {
            render: RenderLimits {
                max_input_bytes: 7,
                max_files: 9,
                ..RenderLimits::default()
            },
            ..Limits::default()
        };
        let (l, problems) = Limits::from_config_map(Some(&cm), &previous);
        assert_eq!(l.export.max_bytes, 512 << 20);
        assert_eq!(l.export.max_files, 1000);
        assert_eq!(l.render.max_objects, 5);
        assert_eq!(l.render.max_rendered_bytes, 10_000_000);
        assert_eq!(l.render.max_input_bytes, 7);
        assert_eq!(l.render.max_files, 9);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("controller.max.app.input.bytes: 'lots'"));
        assert!(problems[1].starts_with("controller.max.app.files: 0"));
        let (_, problems) = Limits::from_config_map(
            Some(
                &json!({"data": {"controller.status.processors": "20", "server.insecure": "true"}}),
            ),
            &previous,
        );
        assert_eq!(
            problems,
            vec!["controller.status.processors is not honoured by fjord and has no effect"]
        );
        assert_eq!(
            export_limit_key(fjord_source::EXPORT_FILES_LIMIT),
            Some("reposerver.max.export.files")
        );
        // No ConfigMap, or no key: the defaults.
        assert_eq!(
            Limits::from_config_map(None, &previous).0,
            Limits::default()
        );
        assert_eq!(
            limit_key(Limit::Objects),
            Some("controller.max.app.objects")
        );
    }
}
