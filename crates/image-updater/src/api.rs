//! The updater's view of the API server: Applications, Secrets, ConfigMaps, Events; JSON
//! merge patches of an app's metadata, spec and `status.conditions`; JSON log lines.

use chrono::{SecondsFormat, Utc};
use fjord_client::{Client, ResourceType};
use serde_json::{json, Value};

use crate::{ImageUpdaterOptions, UpdaterError, COMPONENT};

/// Writes one JSON log line (`time`, `level`, `app`, `msg`) to stderr, as the controller does.
/// Messages never hold a credential.
pub(crate) fn log(level: &str, app: &str, msg: &str) {
    let line =
        json!({"time": now(), "level": level, "component": COMPONENT, "app": app, "msg": msg});
    eprintln!("{line}");
}

/// The current time as Kubernetes writes it.
pub(crate) fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The string at a JSON pointer, `""` when absent.
pub(crate) fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// Connected client and the resolved types.
pub(crate) struct Api {
    pub(crate) client: Client,
    pub(crate) apps: ResourceType,
    pub(crate) secrets: ResourceType,
    pub(crate) configmaps: ResourceType,
    events: ResourceType,
}

async fn resolve(
    client: &Client,
    api_version: &str,
    kind: &str,
) -> Result<ResourceType, UpdaterError> {
    client
        .resolve(api_version, kind)
        .await
        .map_err(|source| UpdaterError::Resolve {
            kind: format!("{api_version} {kind}"),
            source,
        })
}

impl Api {
    /// Connects and resolves the kinds the updater uses.
    pub(crate) async fn connect(opts: &ImageUpdaterOptions) -> Result<Api, UpdaterError> {
        let client = Client::connect(&opts.client)
            .await
            .map_err(UpdaterError::Connect)?;
        Ok(Api {
            apps: resolve(&client, "argoproj.io/v1alpha1", "Application").await?,
            secrets: resolve(&client, "v1", "Secret").await?,
            configmaps: resolve(&client, "v1", "ConfigMap").await?,
            events: resolve(&client, "v1", "Event").await?,
            client,
        })
    }

    fn failed(what: String) -> impl FnOnce(fjord_client::ClientError) -> UpdaterError {
        move |source| UpdaterError::Api { what, source }
    }

    /// The Applications of `ns`.
    pub(crate) async fn list_apps(&self, ns: &str) -> Result<Vec<Value>, UpdaterError> {
        self.client
            .list(&self.apps, Some(ns))
            .await
            .map_err(Self::failed(format!("listing Applications in {ns}")))
    }

    /// The Secrets of `ns` (repository credentials).
    pub(crate) async fn list_secrets(&self, ns: &str) -> Result<Vec<Value>, UpdaterError> {
        self.client
            .list(&self.secrets, Some(ns))
            .await
            .map_err(Self::failed(format!("listing Secrets in {ns}")))
    }

    /// Secret `ns/name`, `None` when missing.
    pub(crate) async fn secret(&self, ns: &str, name: &str) -> Result<Option<Value>, UpdaterError> {
        self.client
            .get(&self.secrets, Some(ns), name)
            .await
            .map_err(Self::failed(format!("reading Secret {ns}/{name}")))
    }

    /// ConfigMap `ns/name`, `None` when missing.
    pub(crate) async fn configmap(
        &self,
        ns: &str,
        name: &str,
    ) -> Result<Option<Value>, UpdaterError> {
        self.client
            .get(&self.configmaps, Some(ns), name)
            .await
            .map_err(Self::failed(format!("reading ConfigMap {ns}/{name}")))
    }

    /// JSON merge patch of an Application (`status`: through the status subresource).
    pub(crate) async fn patch_app(
        &self,
        ns: &str,
        name: &str,
        patch: &Value,
        status: bool,
    ) -> Result<Value, UpdaterError> {
        let what = if status { "status of " } else { "" };
        self.client
            .merge_patch(&self.apps, Some(ns), name, patch, status, COMPONENT)
            .await
            .map_err(Self::failed(format!(
                "patching the {what}Application {ns}/{name}"
            )))
    }

    /// Records a core/v1 Event on `app`; a failure is only logged.
    pub(crate) async fn event(&self, app: &Value, warning: bool, reason: &str, message: &str) {
        let name = str_at(app, "/metadata/name");
        let ns = str_at(app, "/metadata/namespace");
        let stamp = now();
        let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
        let event = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": format!("{name}.{nanos:x}"), "namespace": ns},
            "involvedObject": {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Application",
                "name": name,
                "namespace": ns,
                "uid": app.pointer("/metadata/uid").cloned().unwrap_or(Value::Null),
            },
            "reason": reason,
            "message": message,
            "type": if warning { "Warning" } else { "Normal" },
            "source": {"component": COMPONENT},
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        });
        if let Err(e) = self
            .client
            .create(&self.events, &event, false, COMPONENT)
            .await
        {
            log(
                "warn",
                name,
                &format!("event {reason} not recorded: {}", fjord_model::chain(&e)),
            );
        }
    }
}
