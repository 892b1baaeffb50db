//! fjord's Kubernetes client.
//!
//! [`Client::connect`] reads a kubeconfig (`--kubeconfig`, then `$KUBECONFIG`, then
//! `~/.kube/config`) and context; objects are plain `serde_json::Value`s. A discovery cache maps
//! `apiVersion` + `kind` to the served resource (plural, scope); [`Client::invalidate`] forgets it
//! after a CRD is installed. Every request retries transient failures (429, 5xx, timeouts,
//! connection errors) with exponential backoff ([`RetryPolicy`]).

mod error;
mod inline;
mod observe;
mod retry;
mod watch;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kube::api::{
    Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams, PropagationPolicy,
};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::{verbs, Scope};
use serde_json::Value;

pub use error::{is_transient, ClientError};
pub use observe::{Observer, RequestRecord};
pub use retry::RetryPolicy;
pub use watch::WatchItem;

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

/// A served resource type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceType {
    /// API group (`""` for core).
    pub group: String,
    /// Version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Plural resource name.
    pub plural: String,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
}

impl ResourceType {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    fn api_resource(&self) -> ApiResource {
        ApiResource {
            group: self.group.clone(),
            version: self.version.clone(),
            api_version: self.api_version(),
            kind: self.kind.clone(),
            plural: self.plural.clone(),
        }
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
    observer: Option<Observer>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("namespace", &self.namespace)
            .finish()
    }
}

/// The kubeconfig path: the explicit one, else `$KUBECONFIG` (first entry), else `~/.kube/config`.
pub fn kubeconfig_path(explicit: Option<&PathBuf>) -> Result<PathBuf, ClientError> {
    if let Some(p) = explicit {
        return Ok(p.clone());
    }
    if let Some(env) = std::env::var_os("KUBECONFIG") {
        if let Some(first) = std::env::split_paths(&env).find(|p| !p.as_os_str().is_empty()) {
            return Ok(first);
        }
    }
    let home = std::env::var_os("HOME").ok_or(ClientError::NoKubeconfig)?;
    let p = PathBuf::from(home).join(".kube").join("config");
    if p.exists() {
        Ok(p)
    } else {
        Err(ClientError::NoKubeconfig)
    }
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

/// `(group, version)` of an `apiVersion`.
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
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
    /// Connects with the kubeconfig and context of `opts`.
    pub async fn connect(opts: &ClientOptions) -> Result<Client, ClientError> {
        ensure_crypto_provider();
        let path = kubeconfig_path(opts.kubeconfig.as_ref())?;
        let kc = kube::config::Kubeconfig::read_from(&path).map_err(|source| {
            ClientError::ReadKubeconfig {
                path: path.clone(),
                source: Box::new(source),
            }
        })?;
        let kopts = kube::config::KubeConfigOptions {
            context: opts.context.clone(),
            ..Default::default()
        };
        let config = kube::Config::from_custom_kubeconfig(kc, &kopts)
            .await
            .map_err(|source| ClientError::LoadContext {
                path: path.clone(),
                context: opts
                    .context
                    .clone()
                    .unwrap_or_else(|| "current-context".into()),
                source: Box::new(source),
            })?;
        Client::from_config(config, opts.namespace.clone())
    }

    /// A client for a loaded configuration; `namespace` overrides its default namespace.
    fn from_config(config: kube::Config, namespace: Option<String>) -> Result<Client, ClientError> {
        let namespace = namespace.unwrap_or_else(|| config.default_namespace.clone());
        let inner =
            kube::Client::try_from(config).map_err(|e| ClientError::BuildClient(Box::new(e)))?;
        Ok(Client {
            inner,
            namespace,
            retry: RetryPolicy::default(),
            cache: Arc::default(),
            observer: None,
        })
    }

    /// Replaces the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Client {
        self.retry = retry;
        self
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
                    source: Box::new(source),
                })
            }
        };
        let t = ResourceType {
            group: ar.group,
            version: ar.version,
            kind: ar.kind,
            plural: ar.plural,
            namespaced: caps.scope == Scope::Namespaced,
        };
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

    /// Every listable and deletable type the server serves (preferred versions only).
    pub async fn resource_types(&self) -> Result<Vec<ResourceType>, ClientError> {
        let disc = self
            .retry
            .run(|| kube::Discovery::new(self.inner.clone()).run())
            .await
            .map_err(|source| ClientError::Discover {
                api_version: "*".into(),
                kind: "*".into(),
                source: Box::new(source),
            })?;
        let mut out = Vec::new();
        for group in disc.groups() {
            for (ar, caps) in group.recommended_resources() {
                if !caps.supports_operation(verbs::LIST) || !caps.supports_operation(verbs::DELETE)
                {
                    continue;
                }
                out.push(ResourceType {
                    group: ar.group,
                    version: ar.version,
                    kind: ar.kind,
                    plural: ar.plural,
                    namespaced: caps.scope == Scope::Namespaced,
                });
            }
        }
        Ok(out)
    }

    fn api(&self, t: &ResourceType, ns: Option<&str>) -> Api<DynamicObject> {
        let ar = t.api_resource();
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

    fn to_dynamic(
        t: &ResourceType,
        ns: Option<&str>,
        name: &str,
        obj: &Value,
    ) -> Result<DynamicObject, ClientError> {
        serde_json::from_value(obj.clone()).map_err(|source| ClientError::Decode {
            kind: t.kind.clone(),
            target: target(ns, name),
            source,
        })
    }

    /// The live object, `None` when it does not exist.
    pub async fn get(
        &self,
        t: &ResourceType,
        ns: Option<&str>,
        name: &str,
    ) -> Result<Option<Value>, ClientError> {
        let api = self.api(t, ns);
        let got = self.retry.run(|| api.get_opt(name)).await;
        self.observe("get", &t.kind, ns, false, &got, 200);
        let got = got.map_err(|source| ClientError::Request {
            verb: "get",
            kind: t.kind.clone(),
            target: target(ns, name),
            source: Box::new(source),
        })?;
        got.map(|o| Self::to_value(t, ns, name, o)).transpose()
    }

    /// Objects of a type, in one namespace or (`None`) all of them.
    pub async fn list(
        &self,
        t: &ResourceType,
        ns: Option<&str>,
    ) -> Result<Vec<Value>, ClientError> {
        let api = self.api(t, ns);
        let lp = ListParams::default();
        let list = self.retry.run(|| api.list(&lp)).await;
        self.observe("list", &t.kind, ns, false, &list, 200);
        let list = list.map_err(|source| ClientError::Request {
            verb: "list",
            kind: t.kind.clone(),
            target: ns.unwrap_or("*").to_string(),
            source: Box::new(source),
        })?;
        list.items
            .into_iter()
            .map(|o| {
                let name = o.metadata.name.clone().unwrap_or_default();
                Self::to_value(t, ns, &name, o)
            })
            .collect()
    }

    /// Server-side applies `obj` (its namespace is `metadata.namespace`); returns the result.
    pub async fn apply(
        &self,
        t: &ResourceType,
        obj: &Value,
        opts: &ApplyOptions,
    ) -> Result<Value, ClientError> {
        let name = str_field(obj, &["metadata", "name"], "metadata.name")?;
        let ns = obj.pointer("/metadata/namespace").and_then(Value::as_str);
        let api = self.api(t, ns);
        let pp = PatchParams {
            dry_run: opts.dry_run,
            force: opts.force,
            field_manager: Some(opts.field_manager.clone()),
            field_validation: Some(if opts.validate {
                kube::api::ValidationDirective::Strict
            } else {
                kube::api::ValidationDirective::Ignore
            }),
        };
        let patch = Patch::Apply(obj);
        let out = self.retry.run(|| api.patch(name, &pp, &patch)).await;
        self.observe("apply", &t.kind, ns, opts.dry_run, &out, 200);
        let out = out.map_err(|source| ClientError::Request {
            verb: "apply",
            kind: t.kind.clone(),
            target: target(ns, name),
            source: Box::new(source),
        })?;
        Self::to_value(t, ns, name, out)
    }

    fn post_params(dry_run: bool, field_manager: &str) -> PostParams {
        PostParams {
            dry_run,
            field_manager: Some(field_manager.to_string()),
        }
    }

    /// Creates `obj`.
    pub async fn create(
        &self,
        t: &ResourceType,
        obj: &Value,
        dry_run: bool,
        field_manager: &str,
    ) -> Result<Value, ClientError> {
        let name = str_field(obj, &["metadata", "name"], "metadata.name")?;
        let ns = obj.pointer("/metadata/namespace").and_then(Value::as_str);
        let api = self.api(t, ns);
        let pp = Self::post_params(dry_run, field_manager);
        let dynobj = Self::to_dynamic(t, ns, name, obj)?;
        let out = self.retry.run(|| api.create(&pp, &dynobj)).await;
        self.observe("create", &t.kind, ns, dry_run, &out, 201);
        let out = out.map_err(|source| ClientError::Request {
            verb: "create",
            kind: t.kind.clone(),
            target: target(ns, name),
            source: Box::new(source),
        })?;
        Self::to_value(t, ns, name, out)
    }

    /// Replaces `obj` (an update with the live `resourceVersion` when `obj` has none).
    pub async fn replace(
        &self,
        t: &ResourceType,
        obj: &Value,
        dry_run: bool,
        field_manager: &str,
    ) -> Result<Value, ClientError> {
        let name = str_field(obj, &["metadata", "name"], "metadata.name")?;
        let ns = obj.pointer("/metadata/namespace").and_then(Value::as_str);
        let mut obj = obj.clone();
        if obj.pointer("/metadata/resourceVersion").is_none() {
            if let Some(live) = self.get(t, ns, name).await? {
                if let (Some(rv), Some(meta)) = (
                    live.pointer("/metadata/resourceVersion").cloned(),
                    obj.get_mut("metadata").and_then(Value::as_object_mut),
                ) {
                    meta.insert("resourceVersion".into(), rv);
                }
            }
        }
        let api = self.api(t, ns);
        let pp = Self::post_params(dry_run, field_manager);
        let dynobj = Self::to_dynamic(t, ns, name, &obj)?;
        let out = self.retry.run(|| api.replace(name, &pp, &dynobj)).await;
        self.observe("replace", &t.kind, ns, dry_run, &out, 200);
        let out = out.map_err(|source| ClientError::Request {
            verb: "replace",
            kind: t.kind.clone(),
            target: target(ns, name),
            source: Box::new(source),
        })?;
        Self::to_value(t, ns, name, out)
    }

    /// Deletes an object; `Ok(false)` when it was already gone.
    pub async fn delete(
        &self,
        t: &ResourceType,
        ns: Option<&str>,
        name: &str,
        propagation: Propagation,
        dry_run: bool,
    ) -> Result<bool, ClientError> {
        let api = self.api(t, ns);
        let dp = DeleteParams {
            dry_run,
            propagation_policy: Some(match propagation {
                Propagation::Foreground => PropagationPolicy::Foreground,
                Propagation::Background => PropagationPolicy::Background,
                Propagation::Orphan => PropagationPolicy::Orphan,
            }),
            ..Default::default()
        };
        let result = self.retry.run(|| api.delete(name, &dp)).await;
        self.observe("delete", &t.kind, ns, dry_run, &result, 200);
        match result {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(resp)) if resp.code == 404 => Ok(false),
            Err(source) => Err(ClientError::Request {
                verb: "delete",
                kind: t.kind.clone(),
                target: target(ns, name),
                source: Box::new(source),
            }),
        }
    }

    /// Waits until the CRD `name` has condition `Established=True`, then forgets discovery.
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
                    return Ok(());
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_version_split_and_join() {
        assert_eq!(split_api_version("v1"), ("", "v1"));
        assert_eq!(split_api_version("apps/v1"), ("apps", "v1"));
        let t = ResourceType {
            group: "".into(),
            version: "v1".into(),
            kind: "Pod".into(),
            plural: "pods".into(),
            namespaced: true,
        };
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
