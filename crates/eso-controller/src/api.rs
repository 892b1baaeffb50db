//! The controller's view of the API server: fjord-client for discovery, get, list, create,
//! replace, delete and merge patches; a raw kube client for the `serviceaccounts/<sa>/token`
//! subresource (TokenRequest). Also installs the four external-secrets.io CRDs
//! ([`CRDS_YAML`]) when the kinds are not served.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use fjord_client::{api_resource, Client, ClientError, Propagation, ResourceType};
use fjord_eso::spec::{
    GROUP, KIND_CLUSTER_EXTERNAL_SECRET, KIND_CLUSTER_SECRET_STORE, KIND_EXTERNAL_SECRET,
    KIND_SECRET_STORE,
};
use fjord_vault::SecretString;
use kube::api::{DynamicObject, PostParams};
use serde_json::{json, Value};

use crate::{EsoControllerError, EsoControllerOptions, COMPONENT};

/// The four CRDs (ExternalSecret, ClusterExternalSecret, SecretStore, ClusterSecretStore), one
/// YAML document each: installed when a kind is not served, and shipped in the install
/// manifests.
pub const CRDS_YAML: &str = concat!(
    include_str!("../crds/externalsecrets.yaml"),
    "---\n",
    include_str!("../crds/clusterexternalsecrets.yaml"),
    "---\n",
    include_str!("../crds/secretstores.yaml"),
    "---\n",
    include_str!("../crds/clustersecretstores.yaml"),
);

const CRD_API_VERSION: &str = "apiextensions.k8s.io/v1";
const CRD_KIND: &str = "CustomResourceDefinition";
const ESTABLISH_TIMEOUT: Duration = Duration::from_secs(60);

/// A failed API request: what was done, the API server's message (never an object's data),
/// its HTTP status and whether retrying may succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {message}")]
pub(crate) struct ApiError {
    /// The request, e.g. "creating Secret ns/name".
    pub(crate) what: String,
    /// The API server's message (or the client's, for transport failures).
    pub(crate) message: String,
    /// The HTTP status of an API answer.
    pub(crate) status: Option<u16>,
    /// 429, 5xx, timeout or connection failure.
    pub(crate) transient: bool,
}

impl ApiError {
    fn from_client(what: String, err: &ClientError) -> ApiError {
        ApiError {
            what,
            message: api_message(err),
            status: err.status_code(),
            transient: fjord_client::is_transient_error(err),
        }
    }

    fn from_kube(what: String, err: &kube::Error) -> ApiError {
        let (message, status) = match err {
            kube::Error::Api(resp) => (resp.message.clone(), Some(resp.code)),
            other => (other.to_string(), None),
        };
        ApiError {
            what,
            message,
            status,
            transient: fjord_client::is_transient(err),
        }
    }

    fn permanent(what: String, message: impl Into<String>) -> ApiError {
        ApiError {
            what,
            message: message.into(),
            status: None,
            transient: false,
        }
    }
}

/// The API server's own message of a failed request, else the client's error chain.
pub(crate) fn api_message(err: &ClientError) -> String {
    match err {
        ClientError::Request { source, .. } | ClientError::Discover { source, .. } => {
            match &**source {
                kube::Error::Api(resp) => resp.message.clone(),
                other => other.to_string(),
            }
        }
        other => fjord_model::chain(other),
    }
}

/// `ns/name`, or `name` for cluster-scoped objects.
pub(crate) fn target(ns: Option<&str>, name: &str) -> String {
    match ns {
        Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
        _ => name.to_string(),
    }
}

/// A string field at a JSON pointer, `""` when absent.
pub(crate) fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The current time as Kubernetes writes it (RFC 3339, seconds, `Z`).
pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Connected clients and the resolved types the controller uses.
pub(crate) struct Api {
    /// fjord's client (discovery, retries).
    pub(crate) client: Client,
    /// The raw kube client (TokenRequest).
    raw: kube::Client,
    /// core/v1 Secret.
    pub(crate) secrets: ResourceType,
    /// core/v1 ConfigMap.
    pub(crate) configmaps: ResourceType,
    /// core/v1 Namespace.
    pub(crate) namespaces: ResourceType,
    /// core/v1 Event.
    pub(crate) events: ResourceType,
    /// core/v1 ServiceAccount.
    service_accounts: ResourceType,
    /// external-secrets.io/v1 ExternalSecret.
    pub(crate) external_secrets: ResourceType,
    /// external-secrets.io/v1 ClusterExternalSecret.
    pub(crate) cluster_external_secrets: ResourceType,
    /// external-secrets.io/v1 SecretStore.
    pub(crate) secret_stores: ResourceType,
    /// external-secrets.io/v1 ClusterSecretStore.
    pub(crate) cluster_secret_stores: ResourceType,
}

async fn resolve(
    client: &Client,
    api_version: &str,
    kind: &str,
) -> Result<ResourceType, EsoControllerError> {
    client
        .resolve(api_version, kind)
        .await
        .map_err(|source| EsoControllerError::Resolve {
            kind: format!("{api_version} {kind}"),
            source,
        })
}

/// The `apiVersion` the controller reads and writes (`external-secrets.io/v1`).
pub(crate) fn v1() -> String {
    format!("{GROUP}/v1")
}

impl Api {
    /// Connects both clients, resolves the core kinds, and makes sure the four
    /// external-secrets.io kinds are served (installing the CRDs when allowed).
    pub(crate) async fn connect(opts: &EsoControllerOptions) -> Result<Api, EsoControllerError> {
        let client = Client::connect(&opts.client)
            .await
            .map_err(EsoControllerError::Connect)?;
        let raw = client.kube_client();
        ensure_crds(&client, opts.install_crds).await?;
        let v1 = v1();
        Ok(Api {
            secrets: resolve(&client, "v1", "Secret").await?,
            configmaps: resolve(&client, "v1", "ConfigMap").await?,
            namespaces: resolve(&client, "v1", "Namespace").await?,
            events: resolve(&client, "v1", "Event").await?,
            service_accounts: resolve(&client, "v1", "ServiceAccount").await?,
            external_secrets: resolve(&client, &v1, KIND_EXTERNAL_SECRET).await?,
            cluster_external_secrets: resolve(&client, &v1, KIND_CLUSTER_EXTERNAL_SECRET).await?,
            secret_stores: resolve(&client, &v1, KIND_SECRET_STORE).await?,
            cluster_secret_stores: resolve(&client, &v1, KIND_CLUSTER_SECRET_STORE).await?,
            client,
            raw,
        })
    }

    fn ns<'a>(t: &ResourceType, ns: Option<&'a str>) -> Option<&'a str> {
        if t.namespaced {
            ns
        } else {
            None
        }
    }

    /// Every object of a type, in all namespaces.
    pub(crate) async fn list(&self, t: &ResourceType) -> Result<Vec<Value>, ApiError> {
        self.client
            .list(t, None)
            .await
            .map_err(|e| ApiError::from_client(format!("listing {}", t.kind), &e))
    }

    /// The live object, `None` when it does not exist.
    pub(crate) async fn get(
        &self,
        t: &ResourceType,
        ns: Option<&str>,
        name: &str,
    ) -> Result<Option<Value>, ApiError> {
        let ns = Self::ns(t, ns);
        self.client.get(t, ns, name).await.map_err(|e| {
            ApiError::from_client(format!("getting {} {}", t.kind, target(ns, name)), &e)
        })
    }

    /// `obj` with `metadata.namespace` set to `ns` (namespaced types).
    fn placed(t: &ResourceType, ns: Option<&str>, obj: &Value) -> Value {
        let mut obj = obj.clone();
        if let (Some(ns), Some(meta)) = (
            Self::ns(t, ns),
            obj.get_mut("metadata").and_then(Value::as_object_mut),
        ) {
            meta.insert("namespace".into(), Value::String(ns.into()));
        }
        obj
    }

    /// Creates `obj` in `ns`; returns the stored object.
    pub(crate) async fn create(
        &self,
        t: &ResourceType,
        ns: Option<&str>,
        obj: &Value,
        field_manager: &str,
    ) -> Result<Value, ApiError> {
        let obj = Self::placed(t, ns, obj);
        let name = str_at(&obj, "/metadata/name");
        self.client
            .create(t, &obj, false, field_manager)
            .await
            .map_err(|e| {
                ApiError::from_client(
                    format!("creating {} {}", t.kind, target(Self::ns(t, ns), name)),
                    &e,
                )
            })
    }

    /// Replaces `obj` (an update with `obj`'s `resourceVersion`: 409 on conflict).
    pub(crate) async fn replace(
        &self,
        t: &ResourceType,
        ns: Option<&str>,
        obj: &Value,
        field_manager: &str,
    ) -> Result<Value, ApiError> {
        let obj = Self::placed(t, ns, obj);
        let name = str_at(&obj, "/metadata/name");
        self.client
            .replace(t, &obj, false, field_manager)
            .await
            .map_err(|e| {
                ApiError::from_client(
                    format!("updating {} {}", t.kind, target(Self::ns(t, ns), name)),
                    &e,
                )
            })
    }

    /// Deletes an object (background propagation); a missing object is not an error.
    pub(crate) async fn delete(
        &self,
        t: &ResourceType,
        ns: Option<&str>,
        name: &str,
    ) -> Result<(), ApiError> {
        let ns = Self::ns(t, ns);
        self.client
            .delete(t, ns, name, Propagation::Background, false)
            .await
            .map(drop)
            .map_err(|e| {
                ApiError::from_client(format!("deleting {} {}", t.kind, target(ns, name)), &e)
            })
    }

    /// Applies a JSON merge patch to an object; returns the result.
    pub(crate) async fn patch_merge(
        &self,
        t: &ResourceType,
        ns: Option<&str>,
        name: &str,
        patch: &Value,
    ) -> Result<Value, ApiError> {
        let ns = Self::ns(t, ns);
        self.client
            .merge_patch(t, ns, name, patch, false, COMPONENT)
            .await
            .map_err(|e| {
                ApiError::from_client(format!("patching {} {}", t.kind, target(ns, name)), &e)
            })
    }

    /// Applies a JSON merge patch to the `status` subresource of an object.
    pub(crate) async fn patch_status(
        &self,
        t: &ResourceType,
        ns: Option<&str>,
        name: &str,
        patch: &Value,
    ) -> Result<(), ApiError> {
        let ns = Self::ns(t, ns);
        self.client
            .merge_patch(t, ns, name, patch, true, COMPONENT)
            .await
            .map(drop)
            .map_err(|e| {
                ApiError::from_client(
                    format!("writing the status of {} {}", t.kind, target(ns, name)),
                    &e,
                )
            })
    }

    /// Records a core/v1 Event on `obj` (source component [`COMPONENT`]); a failure is logged,
    /// not returned. `message` never holds secret data.
    pub(crate) async fn event(&self, obj: &Value, warning: bool, reason: &str, message: &str) {
        let event = event_object(obj, warning, reason, message, &now_rfc3339());
        let ns = str_at(&event, "/metadata/namespace").to_string();
        if let Err(e) = self
            .create(&self.events, Some(&ns), &event, COMPONENT)
            .await
        {
            tracing::warn!(reason, error = %e, "event not recorded");
        }
    }

    /// The value of key `key` of Secret `ns/name` (auth refs, caProvider).
    pub(crate) async fn secret_key(
        &self,
        ns: &str,
        name: &str,
        key: &str,
    ) -> Result<SecretString, ApiError> {
        let what = format!("reading key {key:?} of Secret {ns}/{name}");
        let secret = self
            .get(&self.secrets, Some(ns), name)
            .await?
            .ok_or_else(|| ApiError {
                status: Some(404),
                ..ApiError::permanent(what.clone(), "Secret not found")
            })?;
        let encoded = secret
            .pointer("/data")
            .and_then(|d| d.get(key))
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::permanent(what.clone(), "the Secret has no such key"))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| ApiError::permanent(what.clone(), "the value is not valid base64"))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| ApiError::permanent(what.clone(), "the value is not UTF-8"))?;
        Ok(SecretString::new(
            text.trim_end_matches(['\n', '\r']).to_string(),
        ))
    }

    /// The value of key `key` of ConfigMap `ns/name` (caProvider).
    pub(crate) async fn configmap_key(
        &self,
        ns: &str,
        name: &str,
        key: &str,
    ) -> Result<String, ApiError> {
        let what = format!("reading key {key:?} of ConfigMap {ns}/{name}");
        let cm = self
            .get(&self.configmaps, Some(ns), name)
            .await?
            .ok_or_else(|| ApiError {
                status: Some(404),
                ..ApiError::permanent(what.clone(), "ConfigMap not found")
            })?;
        cm.pointer("/data")
            .and_then(|d| d.get(key))
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| ApiError::permanent(what, "the ConfigMap has no such key"))
    }

    /// A ServiceAccount token from the TokenRequest API (Kubernetes and JWT auth).
    pub(crate) async fn token_request(
        &self,
        ns: &str,
        sa: &str,
        audiences: &[String],
        expiration_seconds: i64,
    ) -> Result<SecretString, ApiError> {
        let what = format!("requesting a token for ServiceAccount {ns}/{sa}");
        let body = json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"audiences": audiences, "expirationSeconds": expiration_seconds},
        });
        let api: kube::Api<DynamicObject> =
            kube::Api::namespaced_with(self.raw.clone(), ns, &api_resource(&self.service_accounts));
        let pp = PostParams {
            dry_run: false,
            field_manager: Some(COMPONENT.into()),
        };
        let data = serde_json::to_vec(&body)
            .map_err(|e| ApiError::permanent(what.clone(), e.to_string()))?;
        let answer: Value = api
            .create_subresource("token", sa, &pp, data)
            .await
            .map_err(|e| ApiError::from_kube(what.clone(), &e))?;
        answer
            .pointer("/status/token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(|t| SecretString::new(t.to_string()))
            .ok_or_else(|| ApiError::permanent(what, "the answer holds no token"))
    }
}

/// A core/v1 Event on `obj`, named as client-go names them (`<name>.<nanos hex>`); cluster-scoped
/// objects get their events in `default`, as client-go records them.
pub(crate) fn event_object(
    obj: &Value,
    warning: bool,
    reason: &str,
    message: &str,
    now: &str,
) -> Value {
    let name = str_at(obj, "/metadata/name");
    let ns = match str_at(obj, "/metadata/namespace") {
        "" => "default",
        ns => ns,
    };
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut involved = json!({
        "apiVersion": str_at(obj, "/apiVersion"),
        "kind": str_at(obj, "/kind"),
        "name": name,
        "uid": str_at(obj, "/metadata/uid"),
        "resourceVersion": str_at(obj, "/metadata/resourceVersion"),
    });
    if let Some(obj_ns) = obj.pointer("/metadata/namespace").and_then(Value::as_str) {
        involved["namespace"] = json!(obj_ns);
    }
    json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": format!("{name}.{nanos:x}"), "namespace": ns},
        "involvedObject": involved,
        "reason": reason,
        "message": message,
        "source": {"component": COMPONENT},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "type": if warning { "Warning" } else { "Normal" },
        "reportingComponent": COMPONENT,
    })
}

/// The embedded CRDs as JSON objects.
pub(crate) fn crds() -> Result<Vec<Value>, String> {
    fjord_yaml::parse_documents(CRDS_YAML.as_bytes())
        .map_err(|e| e.to_string())?
        .iter()
        .map(|n| fjord_yaml::to_json_value(n).map_err(|e| e.to_string()))
        .collect()
}

/// Makes sure the four kinds are served: each CRD whose kind is not served (and only those) is
/// created when `install` is set, then waited for (`Established` and discovered). A CRD that
/// exists is never replaced.
async fn ensure_crds(client: &Client, install: bool) -> Result<(), EsoControllerError> {
    let crds = crds().map_err(|reason| EsoControllerError::InstallCrd {
        crd: "embedded manifest".into(),
        reason,
        transient: false,
    })?;
    let mut crd_type = None;
    for crd in &crds {
        let kind = str_at(crd, "/spec/names/kind");
        let name = str_at(crd, "/metadata/name");
        let av = v1();
        match client.resolve(&av, kind).await {
            Ok(_) => continue,
            Err(ClientError::UnknownKind { .. }) if install => {}
            Err(source) => {
                return Err(EsoControllerError::Resolve {
                    kind: format!("{av} {kind}"),
                    source,
                })
            }
        }
        let failed = |e: &ClientError| EsoControllerError::InstallCrd {
            crd: name.into(),
            reason: api_message(e),
            transient: fjord_client::is_transient_error(e),
        };
        let t = match &crd_type {
            Some(t) => t,
            None => crd_type.insert(resolve(client, CRD_API_VERSION, CRD_KIND).await?),
        };
        match client.create(t, crd, false, COMPONENT).await {
            Ok(_) => tracing::info!(crd = name, "installed CustomResourceDefinition"),
            Err(e) if e.is_conflict() => {}
            Err(e) => return Err(failed(&e)),
        }
        client
            .wait_established(name, ESTABLISH_TIMEOUT)
            .await
            .map_err(|e| failed(&e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_crds_serve_v1_and_v1beta1_with_status_and_open_schemas() {
        let crds = crds().unwrap();
        let names: Vec<(&str, &str, &str, &str)> = crds
            .iter()
            .map(|c| {
                (
                    str_at(c, "/metadata/name"),
                    str_at(c, "/spec/names/kind"),
                    str_at(c, "/spec/scope"),
                    str_at(c, "/spec/names/shortNames/0"),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                (
                    "externalsecrets.external-secrets.io",
                    "ExternalSecret",
                    "Namespaced",
                    "es"
                ),
                (
                    "clusterexternalsecrets.external-secrets.io",
                    "ClusterExternalSecret",
                    "Cluster",
                    "ces"
                ),
                (
                    "secretstores.external-secrets.io",
                    "SecretStore",
                    "Namespaced",
                    "ss"
                ),
                (
                    "clustersecretstores.external-secrets.io",
                    "ClusterSecretStore",
                    "Cluster",
                    "css"
                ),
            ]
        );
        for c in &crds {
            assert_eq!(c["spec"]["group"], GROUP);
            let versions = c["spec"]["versions"].as_array().unwrap();
            let v: Vec<(&str, bool, bool)> = versions
                .iter()
                .map(|v| {
                    (
                        v["name"].as_str().unwrap(),
                        v["served"] == true,
                        v["storage"] == true,
                    )
                })
                .collect();
            assert_eq!(v, [("v1", true, true), ("v1beta1", true, false)]);
            for v in versions {
                assert!(v["subresources"]["status"].is_object());
                let props = &v["schema"]["openAPIV3Schema"]["properties"];
                for part in ["spec", "status"] {
                    assert_eq!(props[part]["type"], "object");
                    assert_eq!(props[part]["x-kubernetes-preserve-unknown-fields"], true);
                }
            }
        }
    }

    #[test]
    fn external_secret_columns_show_the_ready_reason_and_status() {
        let crds = crds().unwrap();
        let cols = &crds[0]["spec"]["versions"][0]["additionalPrinterColumns"];
        let names: Vec<&str> = cols
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["Store", "Refresh Interval", "Status", "Ready", "Age"]
        );
        assert_eq!(
            cols[2]["jsonPath"],
            ".status.conditions[?(@.type==\"Ready\")].reason"
        );
        let store_cols = &crds[2]["spec"]["versions"][0]["additionalPrinterColumns"];
        assert!(store_cols
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["jsonPath"] == ".status.capabilities"));
    }

    #[test]
    fn events_on_cluster_scoped_objects_go_to_default() {
        let css = json!({"apiVersion": "external-secrets.io/v1", "kind": "ClusterSecretStore",
                         "metadata": {"name": "vault-backend", "uid": "u1"}});
        let e = event_object(&css, false, "Valid", "store validated", "T");
        assert_eq!(e["metadata"]["namespace"], "default");
        assert!(e["involvedObject"].get("namespace").is_none());
        assert_eq!(e["involvedObject"]["kind"], "ClusterSecretStore");
        assert_eq!(e["type"], "Normal");
        let es = json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
                        "metadata": {"name": "db", "namespace": "app", "uid": "u2"}});
        let e = event_object(&es, true, "UpdateFailed", "boom", "T");
        assert_eq!(e["metadata"]["namespace"], "app");
        assert_eq!(e["involvedObject"]["namespace"], "app");
        assert_eq!(e["type"], "Warning");
        assert_eq!(e["source"]["component"], COMPONENT);
    }

    #[test]
    fn api_errors_classify_status() {
        let e = ApiError {
            what: "x".into(),
            message: "m".into(),
            status: Some(404),
            transient: false,
        };
        assert_eq!(e.to_string(), "x: m");
    }
}
