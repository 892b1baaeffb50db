//! Stores resolved into logged-in Vault sessions.
//!
//! [`Stores::session`] reads the SecretStore (in the ExternalSecret's namespace) or
//! ClusterSecretStore an ExternalSecret names, parses it (fjord-eso), checks a
//! ClusterSecretStore's `conditions` against the ExternalSecret's namespace and its labels,
//! resolves the credentials and logs in. Everything costly is shared:
//!
//! - one [`Vault`] client per (server, namespace, CA), kept for the controller's life;
//! - one token per (store identity, tenant namespace) in one [`TokenCache`], renewed there; a
//!   ClusterSecretStore whose auth refs name no namespace resolves them in the ExternalSecret's
//!   namespace ("referent" auth), so each such namespace gets its own token;
//! - one [`ReadCache`] whose TTL is the resync period, keyed by token identity and path, so N
//!   ExternalSecrets reading one path cost one request per interval.
//!
//! The store objects and namespace labels come from a snapshot that `store_status` takes at
//! the start of every pass ([`Stores::set_snapshot`]); a store missing from it is looked up.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use fjord_eso::spec::{parse_store, StoreKind, StoreRef, VaultProvider};
use fjord_vault::{ReadCache, Token, TokenCache, Vault, VaultConfig, VaultError};
use serde_json::Value;

use crate::api::{str_at, Api};
pub(crate) use crate::credentials::StoreError;
use crate::credentials::{ca_pem, ca_source, is_referent, login_for, RefScope};

/// Timeout of one Vault request.
const VAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The name of a store kind as the API spells it.
pub(crate) fn kind_name(kind: StoreKind) -> &'static str {
    match kind {
        StoreKind::SecretStore => fjord_eso::spec::KIND_SECRET_STORE,
        StoreKind::ClusterSecretStore => fjord_eso::spec::KIND_CLUSTER_SECRET_STORE,
    }
}

/// Stores and namespaces as listed at the start of a pass.
#[derive(Default)]
struct Snapshot {
    /// (kind, namespace ("" for cluster stores), name) → object.
    stores: HashMap<(&'static str, String, String), Value>,
    /// Namespace → labels.
    namespaces: HashMap<String, BTreeMap<String, String>>,
}

/// A CA bundle read through `caProvider` and when it was read.
type CachedCa = (Instant, Option<Vec<u8>>);

/// What one Vault client serves: server, Vault namespace, CA bundle.
type VaultKey = (String, Option<String>, Option<Vec<u8>>);

/// Per-controller Vault clients, tokens and read cache.
pub(crate) struct Stores {
    vaults: Mutex<HashMap<VaultKey, Vault>>,
    tokens: Arc<TokenCache>,
    reads: Arc<ReadCache>,
    snapshot: RwLock<Arc<Snapshot>>,
    /// Token cache keys handed out, so that those of deleted or changed stores are dropped.
    issued: Mutex<HashSet<String>>,
    /// CA bundles read through `caProvider`, kept for one resync period (`ca_source` key).
    cas: Mutex<HashMap<String, CachedCa>>,
    /// The resync period (CA bundle lifetime).
    resync: Duration,
}

/// A logged-in view of one store for one ExternalSecret namespace.
pub(crate) struct Session {
    /// The store's provider block (mount, KV version, …).
    pub(crate) provider: VaultProvider,
    /// `<Kind> <name>` of the store, for messages.
    pub(crate) store: String,
    vault: Vault,
    token: Token,
    key: String,
    tokens: Arc<TokenCache>,
    reads: Arc<ReadCache>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("store", &self.store)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Session {
    fn failed(&self, source: VaultError) -> StoreError {
        if source.status() == Some(403) {
            // Expired or revoked token: log in again next time.
            self.tokens.forget(&self.key);
        }
        StoreError::Vault {
            store: self.store.clone(),
            source: Box::new(source),
        }
    }

    /// `GET /v1/<path>` (cached for one resync period); `None` on 404.
    pub(crate) async fn read(&self, path: &str) -> Result<Option<Value>, StoreError> {
        self.reads
            .read(&self.key, &self.vault, &self.token, path)
            .await
            .map_err(|e| self.failed(e))
    }

    /// `LIST /v1/<path>`: the keys; empty on 404.
    pub(crate) async fn list(&self, path: &str) -> Result<Vec<String>, StoreError> {
        self.vault
            .list(&self.token, path)
            .await
            .map_err(|e| self.failed(e))
    }

    /// `lookup-self` with the session's token (store validation).
    pub(crate) async fn lookup_self(&self) -> Result<(), StoreError> {
        self.vault
            .lookup_self(&self.token)
            .await
            .map(drop)
            .map_err(|e| self.failed(e))
    }
}

/// The token cache key of a store seen from `es_namespace`: kind, namespace, name, UID and
/// generation (a changed spec logs in again; status writes do not change the generation), plus
/// the tenant namespace for referent auth.
pub(crate) fn token_key(obj: &Value, kind: StoreKind, referent_ns: Option<&str>) -> String {
    let generation = obj
        .pointer("/metadata/generation")
        .map(Value::to_string)
        .unwrap_or_default();
    let mut key = format!(
        "{}/{}/{}/{}/{}",
        kind_name(kind),
        str_at(obj, "/metadata/namespace"),
        str_at(obj, "/metadata/name"),
        str_at(obj, "/metadata/uid"),
        generation
    );
    if let Some(ns) = referent_ns {
        key.push('@');
        key.push_str(ns);
    }
    key
}

fn labels_of(obj: &Value) -> BTreeMap<String, String> {
    obj.pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

impl Stores {
    /// Empty caches; reads are cached for `resync`.
    pub(crate) fn new(resync: Duration) -> Stores {
        Stores {
            vaults: Mutex::new(HashMap::new()),
            tokens: Arc::new(TokenCache::new()),
            reads: Arc::new(ReadCache::new(resync)),
            snapshot: RwLock::new(Arc::new(Snapshot::default())),
            issued: Mutex::new(HashSet::new()),
            cas: Mutex::new(HashMap::new()),
            resync,
        }
    }

    /// HTTP requests sent to Vault so far, over every client.
    pub(crate) fn requests(&self) -> u64 {
        self.vaults
            .lock()
            .map(|v| v.values().map(Vault::requests).sum())
            .unwrap_or_default()
    }

    /// Replaces the snapshot of stores and namespaces (taken at the start of a pass).
    pub(crate) fn set_snapshot(
        &self,
        stores: &[Value],
        cluster_stores: &[Value],
        namespaces: &[Value],
    ) {
        let mut snap = Snapshot::default();
        for (kind, list) in [
            (StoreKind::SecretStore, stores),
            (StoreKind::ClusterSecretStore, cluster_stores),
        ] {
            for o in list {
                let ns = str_at(o, "/metadata/namespace").to_string();
                let name = str_at(o, "/metadata/name").to_string();
                snap.stores.insert((kind_name(kind), ns, name), o.clone());
            }
        }
        for n in namespaces {
            snap.namespaces
                .insert(str_at(n, "/metadata/name").to_string(), labels_of(n));
        }
        let snap = Arc::new(snap);
        match self.snapshot.write() {
            Ok(mut s) => *s = snap,
            Err(poisoned) => *poisoned.into_inner() = snap,
        }
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        match self.snapshot.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Forgets the tokens of stores that are gone or changed (UID, generation): `live` are the
    /// store objects of this pass.
    pub(crate) fn prune(&self, live: &[&Value]) {
        let bases: HashSet<String> = live
            .iter()
            .map(|o| token_key(o, kind_of(o), None))
            .collect();
        let Ok(mut issued) = self.issued.lock() else {
            return;
        };
        issued.retain(|key| {
            let base = key.split('@').next().unwrap_or(key);
            let keep = bases.contains(base);
            if !keep {
                self.tokens.forget(key);
            }
            keep
        });
    }

    /// The store object a ref names (snapshot first, then the API).
    async fn store_object(
        &self,
        api: &Api,
        store: &StoreRef,
        es_namespace: &str,
    ) -> Result<Value, StoreError> {
        let kind = kind_name(store.kind);
        let (t, ns) = match store.kind {
            StoreKind::SecretStore => (&api.secret_stores, Some(es_namespace)),
            StoreKind::ClusterSecretStore => (&api.cluster_secret_stores, None),
        };
        let key = (kind, ns.unwrap_or("").to_string(), store.name.clone());
        if let Some(o) = self.snapshot().stores.get(&key) {
            return Ok(o.clone());
        }
        let what = format!("{kind} {}", crate::api::target(ns, &store.name));
        api.get(t, ns, &store.name)
            .await
            .map_err(|source| StoreError::Read { what, source })?
            .ok_or_else(|| StoreError::NotFound {
                kind,
                name: store.name.clone(),
                namespace: ns.map(str::to_string),
            })
    }

    /// The labels of namespace `ns` (snapshot first, then the API).
    async fn namespace_labels(
        &self,
        api: &Api,
        ns: &str,
    ) -> Result<BTreeMap<String, String>, StoreError> {
        if let Some(l) = self.snapshot().namespaces.get(ns) {
            return Ok(l.clone());
        }
        let got = api
            .get(&api.namespaces, None, ns)
            .await
            .map_err(|source| StoreError::Read {
                what: format!("Namespace {ns}"),
                source,
            })?;
        Ok(got.as_ref().map(labels_of).unwrap_or_default())
    }

    /// The provider's CA bundle; one read through `caProvider` serves every session for one
    /// resync period.
    async fn ca(
        &self,
        api: &Api,
        scope: &RefScope<'_>,
        provider: &VaultProvider,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(source) = ca_source(scope, provider) else {
            return ca_pem(api, scope, provider).await;
        };
        if let Some((at, ca)) = self.cas.lock().ok().and_then(|c| c.get(&source).cloned()) {
            if at.elapsed() < self.resync {
                return Ok(ca);
            }
        }
        let ca = ca_pem(api, scope, provider).await?;
        if let Ok(mut cas) = self.cas.lock() {
            cas.retain(|_, (at, _)| at.elapsed() < self.resync);
            cas.insert(source, (Instant::now(), ca.clone()));
        }
        Ok(ca)
    }

    /// The shared client of (server, namespace, CA).
    fn vault_for(
        &self,
        store: &str,
        provider: &VaultProvider,
        ca: Option<Vec<u8>>,
    ) -> Result<Vault, StoreError> {
        let key = (provider.server.clone(), provider.namespace.clone(), ca);
        let mut vaults = match self.vaults.lock() {
            Ok(v) => v,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(v) = vaults.get(&key) {
            return Ok(v.clone());
        }
        let mut cfg = VaultConfig::new(key.0.clone());
        cfg.namespace.clone_from(&key.1);
        cfg.ca_pem.clone_from(&key.2);
        cfg.timeout = VAULT_TIMEOUT;
        let vault = Vault::new(cfg).map_err(|source| StoreError::Vault {
            store: store.to_string(),
            source: Box::new(source),
        })?;
        vaults.insert(key, vault.clone());
        Ok(vault)
    }

    /// Resolves the store `store` names for an ExternalSecret in `es_namespace`, checks it may
    /// serve that namespace, and logs in (cached token).
    pub(crate) async fn session(
        &self,
        api: &Api,
        store: &StoreRef,
        es_namespace: &str,
    ) -> Result<Session, StoreError> {
        let obj = self.store_object(api, store, es_namespace).await?;
        self.session_for(api, &obj, Some(es_namespace)).await
    }

    /// A session for the store object `obj`; `es_namespace` is the tenant (None when the store
    /// itself is validated: a ClusterSecretStore's referent refs then resolve nowhere).
    pub(crate) async fn session_for(
        &self,
        api: &Api,
        obj: &Value,
        es_namespace: Option<&str>,
    ) -> Result<Session, StoreError> {
        let spec = parse_store(obj).map_err(|source| StoreError::Invalid {
            kind: kind_name(kind_of(obj)),
            name: crate::api::target(
                obj.pointer("/metadata/namespace").and_then(Value::as_str),
                str_at(obj, "/metadata/name"),
            ),
            source,
        })?;
        let name = str_at(obj, "/metadata/name");
        let store = format!("{} {name}", kind_name(spec.kind));
        if let (StoreKind::ClusterSecretStore, Some(ns)) = (spec.kind, es_namespace) {
            if !spec.conditions.is_empty() {
                let labels = self.namespace_labels(api, ns).await?;
                if !spec.allows_namespace(ns, &labels) {
                    return Err(StoreError::NotAllowed {
                        name: name.to_string(),
                        namespace: ns.to_string(),
                    });
                }
            }
        }
        let referent = is_referent(&spec);
        let es_ns = es_namespace.unwrap_or("");
        let scope = RefScope {
            store: &store,
            kind: spec.kind,
            store_namespace: str_at(obj, "/metadata/namespace"),
            es_namespace: es_ns,
        };
        let ca = self.ca(api, &scope, &spec.provider).await?;
        let vault = self.vault_for(&store, &spec.provider, ca)?;
        let key = token_key(obj, spec.kind, referent.then_some(es_ns));
        if let Ok(mut issued) = self.issued.lock() {
            issued.insert(key.clone());
        }
        let token = self
            .login(api, &scope, &spec.provider, &vault, &key)
            .await?;
        Ok(Session {
            provider: spec.provider,
            store,
            vault,
            token,
            key,
            tokens: self.tokens.clone(),
            reads: self.reads.clone(),
        })
    }

    /// The cached token of `key`, logging in with the resolved credentials when needed.
    async fn login(
        &self,
        api: &Api,
        scope: &RefScope<'_>,
        provider: &VaultProvider,
        vault: &Vault,
        key: &str,
    ) -> Result<Token, StoreError> {
        // A credential failure happens inside the cache's login callback, whose error type is
        // Vault's: it is kept aside and returned instead of the placeholder.
        let credential_error: Mutex<Option<StoreError>> = Mutex::new(None);
        let got = self
            .tokens
            .token(key, vault, || async {
                match login_for(api, scope, provider).await {
                    Ok(l) => Ok(l),
                    Err(e) => {
                        let reason = e.to_string();
                        if let Ok(mut slot) = credential_error.lock() {
                            *slot = Some(e);
                        }
                        Err(VaultError::Config {
                            server: provider.server.clone(),
                            reason,
                        })
                    }
                }
            })
            .await;
        match got {
            Ok(t) => Ok(t),
            Err(source) => {
                let stashed = credential_error.lock().ok().and_then(|mut s| s.take());
                Err(stashed.unwrap_or(StoreError::Vault {
                    store: scope.store.to_string(),
                    source: Box::new(source),
                }))
            }
        }
    }
}

/// The store kind of an object (`kind` field).
pub(crate) fn kind_of(obj: &Value) -> StoreKind {
    if str_at(obj, "/kind") == fjord_eso::spec::KIND_CLUSTER_SECRET_STORE {
        StoreKind::ClusterSecretStore
    } else {
        StoreKind::SecretStore
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ApiError;
    use serde_json::json;

    fn css(auth: Value) -> Value {
        json!({"apiVersion": "external-secrets.io/v1", "kind": "ClusterSecretStore",
               "metadata": {"name": "vault-backend", "uid": "u1", "generation": 3},
               "spec": {"provider": {"vault": {"server": "http://127.0.0.1:8200",
                        "path": "secret", "version": "v2", "auth": auth}}}})
    }

    #[test]
    fn token_keys_separate_stores_generations_and_tenants() {
        let obj = css(json!({}));
        let k = token_key(&obj, StoreKind::ClusterSecretStore, None);
        assert_eq!(k, "ClusterSecretStore//vault-backend/u1/3");
        assert_eq!(
            token_key(&obj, StoreKind::ClusterSecretStore, Some("team-a")),
            "ClusterSecretStore//vault-backend/u1/3@team-a"
        );
        let mut next = obj.clone();
        next["metadata"]["generation"] = json!(4);
        assert_ne!(token_key(&next, StoreKind::ClusterSecretStore, None), k);
        // A status write changes resourceVersion, not generation: same key.
        let mut status = obj.clone();
        status["metadata"]["resourceVersion"] = json!("99");
        assert_eq!(token_key(&status, StoreKind::ClusterSecretStore, None), k);
    }

    #[test]
    fn errors_name_the_store_and_never_hold_values() {
        let e = StoreError::NotFound {
            kind: "SecretStore",
            name: "missing".into(),
            namespace: Some("app".into()),
        };
        assert_eq!(e.to_string(), "SecretStore app/missing not found");
        assert!(!e.is_transient());
        let e = StoreError::NotAllowed {
            name: "c".into(),
            namespace: "x".into(),
        };
        assert!(e.to_string().contains("spec.conditions"));
        let e = StoreError::Credentials {
            store: "ClusterSecretStore c".into(),
            field: "spec.provider.vault.auth.tokenSecretRef".into(),
            source: ApiError {
                what: "reading key \"token\" of Secret vault/t".into(),
                message: "Secret not found".into(),
                status: Some(404),
                transient: false,
            },
        };
        assert_eq!(
            fjord_model::chain(&e),
            "ClusterSecretStore c: reading spec.provider.vault.auth.tokenSecretRef: \
             reading key \"token\" of Secret vault/t: Secret not found"
        );
        assert!(!e.is_transient());
    }

    #[test]
    fn tokens_of_deleted_or_changed_stores_are_dropped() {
        let stores = Stores::new(Duration::from_secs(30));
        let live = css(json!({}));
        let mut old = live.clone();
        old["metadata"]["generation"] = json!(2);
        let kind = StoreKind::ClusterSecretStore;
        let keep = [
            token_key(&live, kind, None),
            token_key(&live, kind, Some("team-a")),
        ];
        let drop = [
            token_key(&old, kind, None),
            token_key(&old, kind, Some("team-a")),
        ];
        stores
            .issued
            .lock()
            .unwrap()
            .extend(keep.iter().chain(&drop).cloned());
        stores.prune(&[&live]);
        let mut left: Vec<String> = stores.issued.lock().unwrap().iter().cloned().collect();
        left.sort();
        assert_eq!(left, keep);
        stores.prune(&[]);
        assert!(stores.issued.lock().unwrap().is_empty());
    }
}
