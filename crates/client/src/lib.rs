//! fjord's Kubernetes client.
//!
//! [`Client::connect`] reads a kubeconfig (`--kubeconfig`, then the merged `$KUBECONFIG`
//! files, then `~/.kube/config`, then the in-cluster service account; see [`kubeconfig`]) and
//! context; objects are plain `serde_json::Value`s. A discovery cache maps
//! `apiVersion` + `kind` to the served resource (plural, scope); [`Client::invalidate`] forgets it
//! after a CRD is installed. Every request retries transient failures (429, 5xx, timeouts,
//! connection errors) with exponential backoff ([`RetryPolicy`]).
//!
//! ```
//! use fjord_client::{api_resource, split_api_version, ResourceType};
//!
//! let t = ResourceType::new("apps", "v1", "Deployment", "deployments", true);
//! assert_eq!(api_resource(&t).api_version, "apps/v1");
//! assert_eq!(split_api_version("v1"), ("", "v1"));
//! ```

mod discovery;
mod error;
mod inline;
pub mod kubeconfig;
mod objects;
mod observe;
mod raw;
mod retry;
mod watch;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kube::api::{Api, DynamicObject};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::Scope;
use serde_json::Value;

pub use error::{is_transient, ClientError, Foreign};
pub use fjord_model::{split_api_version, ResourceType};
pub use observe::{Observer, RequestRecord};
pub use raw::{RawError, RawResponse};
pub use retry::{is_transient_error, RetryNotice, RetryPolicy, StartupRetry};
pub use watch::{WatchItem, REFUSED_PAUSE};

/// Where and how to connect.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// The kubeconfig file; `None` = `$KUBECONFIG`, then `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    /// The context; `None` = the kubeconfig's `current-context`.
    pub context: Option<String>,
    /// The default namespace; `None` = the context's namespace, else `default`.
    pub namespace: Option<String>,
}

/// The kube-rs `ApiResource` of a served type.
/// The kube-rs `ApiResource` of a resource type, for dynamic `Api`s.
pub fn api_resource(t: &ResourceType) -> ApiResource {
    ApiResource {
        group: t.group.clone(),
        version: t.version.clone(),
        api_version: t.api_version(),
        kind: t.kind.clone(),
        plural: t.plural.clone(),
    }
}

/// How an object is applied with server-side apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Server-side dry run (`dryRun=All`): nothing is persisted.
    pub dry_run: bool,
    /// Take ownership of conflicting fields.
    pub force: bool,
    /// The field manager.
    pub field_manager: String,
    /// Schema validation (`fieldValidation=Strict`) when true, `Ignore` when false.
    pub validate: bool,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            dry_run: false,
            force: true,
            field_manager: "fjord".into(),
            validate: true,
        }
    }
}

/// Propagation of a delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Propagation {
    /// Dependents are deleted before the owner disappears (Argo CD's default).
    #[default]
    Foreground,
    /// Dependents are deleted after the owner.
    Background,
    /// Dependents are kept.
    Orphan,
}

/// A connected client with its discovery cache.
#[derive(Clone)]
pub struct Client {
    inner: kube::Client,
    namespace: String,
    retry: RetryPolicy,
    cache: Arc<Mutex<HashMap<(String, String), ResourceType>>>,
    /// Types (`group`, `kind`) served without a `status` subresource, learnt from a 404: their
    /// status is written through the main resource (as Argo CD's own Application CRD needs).
    no_status: Arc<Mutex<std::collections::HashSet<(String, String)>>>,
    observer: Option<Observer>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("namespace", &self.namespace)
            .finish()
    }
}

/// The kube client configuration `opts` mean (kubeconfig files or in-cluster), with the
/// context of `opts` chosen; errors name the file(s), the context and its user.
pub async fn kube_config(opts: &ClientOptions) -> Result<kube::Config, ClientError> {
    ensure_crypto_provider();
    let src = kubeconfig::Sources::from_env(opts.kubeconfig.as_ref());
    let (kc, path) = match kubeconfig::load(&src)? {
        kubeconfig::Loaded::Files { config, files } => (config, kubeconfig::joined(&files)),
        kubeconfig::Loaded::InCluster(config) => {
            (config, src.root.join(kubeconfig::SERVICE_ACCOUNT_DIR))
        }
    };
    let user = kubeconfig::user_of(&kc, opts.context.as_deref());
    let kopts = kube::config::KubeConfigOptions {
        context: opts.context.clone(),
        ..Default::default()
    };
    kube::Config::from_custom_kubeconfig(kc, &kopts)
        .await
        .map_err(|source| ClientError::LoadContext {
            path,
            context: opts
                .context
                .clone()
                .unwrap_or_else(|| "current-context".into()),
            user,
            source: crate::Foreign::new(source),
        })
}

/// The first kubeconfig file of kubectl's loading rules: the explicit one, else the first
/// existing `$KUBECONFIG` entry, else `~/.kube/config` ([`ClientError::NoKubeconfig`] when none
/// exists; [`Client::connect`] then tries the in-cluster configuration).
pub fn kubeconfig_path(explicit: Option<&PathBuf>) -> Result<PathBuf, ClientError> {
    kubeconfig::Sources::from_env(explicit)
        .kubeconfig_files()
        .into_iter()
        .next()
        .ok_or(ClientError::NoKubeconfig)
}

fn target(ns: Option<&str>, name: &str) -> String {
    match ns {
        Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
        _ => name.to_string(),
    }
}

fn str_field<'a>(
    obj: &'a Value,
    path: &[&str],
    field: &'static str,
) -> Result<&'a str, ClientError> {
    let mut cur = obj;
    for p in path {
        cur = cur.get(p).ok_or(ClientError::MissingField { field })?;
    }
    cur.as_str().ok_or(ClientError::MissingField { field })
}

/// Installs rustls's process-wide crypto provider when none is set yet. When more than one
/// provider is compiled in (ring for kube, aws-lc-rs for sealing), rustls cannot pick one by
/// itself and would panic on the first TLS connection.
pub fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race with another thread installing one is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

impl Client {
    /// Connects with the kubeconfig and context of `opts`, found by kubectl's rules (see
    /// [`kubeconfig`]): `--kubeconfig`, else the merged `$KUBECONFIG` files, else
    /// `~/.kube/config`, else the in-cluster service account.
    pub async fn connect(opts: &ClientOptions) -> Result<Client, ClientError> {
        let config = kube_config(opts).await?;
        Client::from_config(config, opts.namespace.clone())
    }

    /// A client for a loaded configuration; `namespace` overrides its default namespace.
    fn from_config(config: kube::Config, namespace: Option<String>) -> Result<Client, ClientError> {
        let namespace = namespace.unwrap_or_else(|| config.default_namespace.clone());
        let inner = kube::Client::try_from(config)
            .map_err(|e| ClientError::BuildClient(crate::Foreign::new(e)))?;
        Ok(Client {
            inner,
            namespace,
            retry: RetryPolicy::default(),
            cache: Arc::default(),
            no_status: Arc::default(),
            observer: None,
        })
    }

    /// Replaces the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Client {
        self.retry = retry;
        self
    }

    /// The underlying kube-rs client (same connection pool), for the calls this client does
    /// not wrap: subresources such as `serviceaccounts/<name>/token`, `generateName` creates,
    /// merge patches of `status`. Its requests are not retried.
    pub fn kube_client(&self) -> kube::Client {
        self.inner.clone()
    }

    /// The default namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Forgets discovered types (call after installing or removing a CRD).
    pub fn invalidate(&self) {
        if let Ok(mut c) = self.cache.lock() {
            c.clear();
        }
        if let Ok(mut c) = self.no_status.lock() {
            c.clear();
        }
    }

    /// The served type of `apiVersion` + `kind` (cached).
    pub async fn resolve(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<ResourceType, ClientError> {
        let key = (api_version.to_string(), kind.to_string());
        if let Some(t) = self.cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(t);
        }
        let (group, version) = split_api_version(api_version);
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let found = self
            .retry
            .run(|| kube::discovery::pinned_kind(&self.inner, &gvk))
            .await;
        let (ar, caps) = match found {
            Ok(v) => v,
            Err(kube::Error::Api(resp)) if resp.code == 404 => {
                return Err(ClientError::UnknownKind {
                    api_version: api_version.into(),
                    kind: kind.into(),
                })
            }
            Err(kube::Error::Discovery(_)) => {
                return Err(ClientError::UnknownKind {
                    api_version: api_version.into(),
                    kind: kind.into(),
                })
            }
            Err(source) => {
                return Err(ClientError::Discover {
                    api_version: api_version.into(),
                    kind: kind.into(),
                    source: crate::Foreign::new(source),
                })
            }
        };
        let t = ResourceType::new(
            &ar.group,
            &ar.version,
            &ar.kind,
            &ar.plural,
            caps.scope == Scope::Namespaced,
        );
        if let Ok(mut c) = self.cache.lock() {
            c.insert(key, t.clone());
        }
        Ok(t)
    }

    /// The served type of an object.
    pub async fn resolve_object(&self, obj: &Value) -> Result<ResourceType, ClientError> {
        let av = str_field(obj, &["apiVersion"], "apiVersion")?;
        let kind = str_field(obj, &["kind"], "kind")?;
        self.resolve(av, kind).await
    }

    fn api(&self, t: &ResourceType, ns: Option<&str>) -> Api<DynamicObject> {
        let ar = api_resource(t);
        match (t.namespaced, ns) {
            (true, Some(ns)) => Api::namespaced_with(self.inner.clone(), ns, &ar),
            (true, None) => Api::all_with(self.inner.clone(), &ar),
            (false, _) => Api::all_with(self.inner.clone(), &ar),
        }
    }

    fn to_value(
        t: &ResourceType,
        ns: Option<&str>,
        name: &str,
        obj: DynamicObject,
    ) -> Result<Value, ClientError> {
        let mut v = serde_json::to_value(obj).map_err(|source| ClientError::Decode {
            kind: t.kind.clone(),
            target: target(ns, name),
            source,
        })?;
        if let Some(m) = v.as_object_mut() {
            m.entry("apiVersion")
                .or_insert_with(|| Value::String(t.api_version()));
            m.entry("kind")
                .or_insert_with(|| Value::String(t.kind.clone()));
        }
        Ok(v)
    }

    /// Waits until the CRD `name` has condition `Established=True` and discovery serves its kind
    /// (an API server may add the new group to discovery a moment after Established: the real
    /// kube-apiserver does).
    pub async fn wait_established(&self, name: &str, timeout: Duration) -> Result<(), ClientError> {
        let t = self
            .resolve("apiextensions.k8s.io/v1", "CustomResourceDefinition")
            .await?;
        let start = Instant::now();
        loop {
            if let Some(crd) = self.get(&t, None, name).await? {
                let ok = crd
                    .pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .is_some_and(|cs| {
                        cs.iter()
                            .any(|c| c["type"] == "Established" && c["status"] == "True")
                    });
                if ok {
                    self.invalidate();
                    if self.serves_kind_of(&crd).await? {
                        return Ok(());
                    }
                }
            }
            if start.elapsed() >= timeout {
                return Err(ClientError::NotEstablished {
                    name: name.into(),
                    seconds: timeout.as_secs(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Whether discovery serves the kind of `crd` (its group, first served version and kind).
    async fn serves_kind_of(&self, crd: &Value) -> Result<bool, ClientError> {
        let text = |p: &str| crd.pointer(p).and_then(Value::as_str).unwrap_or_default();
        let version = crd
            .pointer("/spec/versions")
            .and_then(Value::as_array)
            .and_then(|vs| vs.iter().find(|v| v["served"] == true))
            .and_then(|v| v["name"].as_str());
        let Some(version) = version else {
            return Ok(true); // nothing served: nothing to wait for
        };
        let api_version = fjord_model::join_api_version(text("/spec/group"), version);
        match self.resolve(&api_version, text("/spec/names/kind")).await {
            Ok(_) => Ok(true),
            Err(ClientError::UnknownKind { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_version_split_and_join() {
        assert_eq!(split_api_version("v1"), ("", "v1"));
        assert_eq!(split_api_version("apps/v1"), ("apps", "v1"));
        let t = ResourceType::new("", "v1", "Pod", "pods", true);
        assert_eq!(t.api_version(), "v1");
        let t = ResourceType {
            group: "apps".into(),
            ..t
        };
        assert_eq!(t.api_version(), "apps/v1");
    }

    #[test]
    fn explicit_kubeconfig_wins() {
        let p = PathBuf::from("/x/kc");
        assert_eq!(kubeconfig_path(Some(&p)).ok(), Some(p));
    }

    #[test]
    fn missing_metadata_name_is_an_error_naming_the_field() {
        let obj = serde_json::json!({"metadata": {}});
        let err = str_field(&obj, &["metadata", "name"], "metadata.name");
        assert!(matches!(
            err,
            Err(ClientError::MissingField {
                field: "metadata.name"
            })
        ));
    }
}
