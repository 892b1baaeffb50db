//! `SecretStore` and `ClusterSecretStore` with the `vault` or `openBao` provider.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use regex::Regex;
use serde_json::Value;

use super::read::{err, Obj};
use super::{
    check_type, parse_go_duration, parse_match_labels, SpecError, StoreKind,
    KIND_CLUSTER_SECRET_STORE, KIND_SECRET_STORE,
};

/// A key of a Secret (`tokenSecretRef`, `secretRef`, `roleRef`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecretKeySelector {
    /// The Secret's name.
    pub name: String,
    /// The key in it.
    pub key: String,
    /// Its namespace (ClusterSecretStore only; else the ExternalSecret's namespace).
    pub namespace: Option<String>,
}

/// A ServiceAccount whose token is requested (`serviceAccountRef`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServiceAccountRef {
    /// The account's name.
    pub name: String,
    /// Its namespace (ClusterSecretStore only; else the ExternalSecret's namespace).
    pub namespace: Option<String>,
    /// The audiences of the requested token (empty: the API server's default).
    pub audiences: Vec<String>,
}

/// The KV secrets engine version (`version`, default v2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KvVersion {
    /// KV v1: `/<mount>/<path>`.
    V1,
    /// KV v2: `/<mount>/data/<path>`.
    V2,
}

/// Where the server's CA certificate comes from (`caProvider`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CaProvider {
    /// A key of a Secret.
    Secret {
        /// The Secret's name.
        name: String,
        /// The key holding the PEM.
        key: String,
        /// Its namespace (ClusterSecretStore only).
        namespace: Option<String>,
    },
    /// A key of a ConfigMap.
    ConfigMap {
        /// The ConfigMap's name.
        name: String,
        /// The key holding the PEM.
        key: String,
        /// Its namespace (ClusterSecretStore only).
        namespace: Option<String>,
    },
}

/// The one authentication method of a store (`auth`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VaultAuth {
    /// `tokenSecretRef`: a static token.
    Token {
        /// Where the token is.
        token: SecretKeySelector,
    },
    /// `kubernetes`: a ServiceAccount JWT exchanged at `auth/<mount_path>/login`.
    Kubernetes {
        /// `mountPath` (default `kubernetes`).
        mount_path: String,
        /// `role`.
        role: String,
        /// `serviceAccountRef`: a TokenRequest for this account.
        service_account: Option<ServiceAccountRef>,
        /// `secretRef`: a JWT in a Secret (key default `token`).
        secret_ref: Option<SecretKeySelector>,
    },
    /// `appRole`.
    AppRole {
        /// `path` (default `approle`).
        path: String,
        /// `roleId` inline (wins over `role_ref`).
        role_id: Option<String>,
        /// `roleRef`: the role id in a Secret.
        role_ref: Option<SecretKeySelector>,
        /// `secretRef`: the secret id.
        secret_ref: SecretKeySelector,
    },
    /// `jwt`.
    Jwt {
        /// `path` (default `jwt`).
        path: String,
        /// `role` (empty: the mount's default role).
        role: String,
        /// `secretRef`: a JWT in a Secret.
        secret_ref: Option<SecretKeySelector>,
        /// `kubernetesServiceAccountToken`: the account (its `audiences` are the token's:
        /// the block's `audiences`, default `["vault"]`, then the account's own) and
        /// `expirationSeconds`.
        service_account_token: Option<(ServiceAccountRef, Option<i64>)>,
    },
}

impl VaultAuth {
    /// The method's name as in YAML (`tokenSecretRef`, `kubernetes`, `appRole`, `jwt`).
    pub fn method(&self) -> &'static str {
        match self {
            VaultAuth::Token { .. } => "tokenSecretRef",
            VaultAuth::Kubernetes { .. } => "kubernetes",
            VaultAuth::AppRole { .. } => "appRole",
            VaultAuth::Jwt { .. } => "jwt",
        }
    }
}

/// `spec.provider.vault` or `spec.provider.openBao`. Its `Debug` shows the CA bundle's size
/// only.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct VaultProvider {
    /// `server`: `http(s)://host:port`.
    pub server: String,
    /// `path`: the KV mount.
    pub path: Option<String>,
    /// `version` (default v2).
    pub version: KvVersion,
    /// `namespace`: sent as `X-Vault-Namespace`.
    pub namespace: Option<String>,
    /// `caBundle`, base64-decoded (PEM).
    pub ca_bundle: Option<Vec<u8>>,
    /// `caProvider`.
    pub ca_provider: Option<CaProvider>,
    /// `auth`.
    pub auth: VaultAuth,
    /// `auth.namespace`: the namespace used for login.
    pub auth_namespace: Option<String>,
}

impl std::fmt::Debug for VaultProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultProvider")
            .field("server", &self.server)
            .field("path", &self.path)
            .field("version", &self.version)
            .field("namespace", &self.namespace)
            .field(
                "ca_bundle",
                &self
                    .ca_bundle
                    .as_ref()
                    .map(|b| format!("<{} bytes>", b.len())),
            )
            .field("ca_provider", &self.ca_provider)
            .field("auth", &self.auth)
            .field("auth_namespace", &self.auth_namespace)
            .finish()
    }
}

/// One `conditions[]` entry of a ClusterSecretStore.
#[derive(Debug, Clone)]
pub struct NamespaceCondition {
    /// `namespaces`: exact names.
    pub namespaces: Vec<String>,
    /// `namespaceRegexes` (unanchored, as Go's `MatchString`).
    pub namespace_regexes: Vec<Regex>,
    /// `namespaceSelector.matchLabels`.
    pub namespace_selector: BTreeMap<String, String>,
    /// Whether `namespaceSelector` was given at all (an empty selector matches every namespace).
    pub namespace_selector_set: bool,
}

impl NamespaceCondition {
    /// Whether this condition admits namespace `ns` with `labels`.
    pub fn matches(&self, ns: &str, labels: &BTreeMap<String, String>) -> bool {
        (self.namespace_selector_set
            && self
                .namespace_selector
                .iter()
                .all(|(k, v)| labels.get(k) == Some(v)))
            || self.namespaces.iter().any(|n| n == ns)
            || self.namespace_regexes.iter().any(|r| r.is_match(ns))
    }
}

/// A parsed SecretStore or ClusterSecretStore.
#[derive(Debug, Clone)]
pub struct StoreSpec {
    /// Which of the two kinds.
    pub kind: StoreKind,
    /// The `vault` or `openBao` block.
    pub provider: VaultProvider,
    /// `conditions` (ClusterSecretStore).
    pub conditions: Vec<NamespaceCondition>,
    /// `refreshInterval` (re-validation period).
    pub refresh_interval: Option<Duration>,
}

impl StoreSpec {
    /// The `conditions` check: may namespace `ns` with `labels` use this store? No conditions:
    /// every namespace; otherwise any condition admitting it.
    pub fn allows_namespace(&self, ns: &str, labels: &BTreeMap<String, String>) -> bool {
        self.conditions.is_empty() || self.conditions.iter().any(|c| c.matches(ns, labels))
    }
}

/// The providers fjord implements.
const PROVIDERS: &[&str] = &["vault", "openBao"];

/// Parses a SecretStore/ClusterSecretStore. Any provider other than vault/openBao:
/// `SpecError{field:"spec.provider", reason:"provider aws is not supported (fjord supports vault and openBao)"}`.
/// Without a `kind`, a namespaced object is a SecretStore and any other a ClusterSecretStore.
pub fn parse_store(obj: &Value) -> Result<StoreSpec, SpecError> {
    let root = Obj::new(obj, "")?;
    check_type(&root, &[KIND_SECRET_STORE, KIND_CLUSTER_SECRET_STORE])?;
    let kind = match root.str("kind")? {
        Some(KIND_CLUSTER_SECRET_STORE) => StoreKind::ClusterSecretStore,
        Some(_) => StoreKind::SecretStore,
        // No kind (as in some list items): a namespaced object is a SecretStore.
        None if root.obj("metadata")?.is_some_and(|m| m.has("namespace")) => StoreKind::SecretStore,
        None => StoreKind::ClusterSecretStore,
    };
    let spec = root.req_obj("spec")?;
    // retrySettings only tunes ESO's own client retries; fjord's backoff applies instead.
    spec.only(&[
        "controller",
        "provider",
        "retrySettings",
        "refreshInterval",
        "conditions",
    ])?;
    spec.refuse(&["controller"])?;
    let provider = parse_provider(&spec.req_obj("provider")?)?;
    let conditions = spec
        .items("conditions")?
        .iter()
        .map(parse_condition)
        .collect::<Result<Vec<_>, _>>()?;
    let refresh_interval = match spec.get("refreshInterval") {
        None => None,
        Some(Value::Number(n)) => match n.as_u64() {
            Some(secs) => Some(Duration::from_secs(secs)),
            None => {
                return Err(err(
                    spec.field("refreshInterval"),
                    "must be a whole number of seconds",
                ))
            }
        },
        Some(Value::String(s)) => Some(parse_go_duration(s).ok_or_else(|| {
            err(
                spec.field("refreshInterval"),
                format!("{s:?} is not a Go duration"),
            )
        })?),
        Some(_) => {
            return Err(err(
                spec.field("refreshInterval"),
                "must be seconds or a Go duration",
            ))
        }
    };
    Ok(StoreSpec {
        kind,
        provider,
        conditions,
        refresh_interval,
    })
}

fn parse_provider(p: &Obj<'_>) -> Result<VaultProvider, SpecError> {
    let set: Vec<&str> = p.keys().filter(|k| p.get(k).is_some()).collect();
    match set.as_slice() {
        [] => Err(err(
            p.path(),
            "exactly one provider is required (fjord supports vault and openBao)",
        )),
        [one] if PROVIDERS.contains(one) => parse_vault(&p.req_obj(one)?, *one == "openBao"),
        [one] => Err(err(
            p.path(),
            format!("provider {one} is not supported (fjord supports vault and openBao)"),
        )),
        many => Err(err(
            p.path(),
            format!("exactly one provider may be set, found {}", many.join(", ")),
        )),
    }
}

fn parse_vault(v: &Obj<'_>, openbao: bool) -> Result<VaultProvider, SpecError> {
    const COMMON: &[&str] = &[
        "auth",
        "server",
        "path",
        "version",
        "namespace",
        "caBundle",
        "caProvider",
    ];
    const VAULT_ONLY: &[&str] = &[
        "readYourWrites",
        "forwardInconsistent",
        "headers",
        "tls",
        "checkAndSet",
    ];
    let known: Vec<&str> = if openbao {
        COMMON.to_vec()
    } else {
        COMMON.iter().chain(VAULT_ONLY).copied().collect()
    };
    v.only(&known)?;
    // checkAndSet only concerns PushSecret writes, which fjord does not do.
    v.refuse(&["readYourWrites", "forwardInconsistent", "headers", "tls"])?;
    let server = v.req_str("server")?;
    if !(server.starts_with("http://") || server.starts_with("https://")) {
        return Err(err(
            v.field("server"),
            format!("{server:?} is not an http:// or https:// URL"),
        ));
    }
    let version = v.enumeration(
        "version",
        &[("v1", KvVersion::V1), ("v2", KvVersion::V2)],
        KvVersion::V2,
    )?;
    let ca_bundle = v
        .str("caBundle")?
        .map(|b| {
            let compact: String = b.split_whitespace().collect();
            base64::engine::general_purpose::STANDARD
                .decode(compact)
                .map_err(|e| err(v.field("caBundle"), format!("not valid base64: {e}")))
        })
        .transpose()?;
    let ca_provider = v
        .obj("caProvider")?
        .map(|c| parse_ca_provider(&c))
        .transpose()?;
    let auth_obj = v.req_obj("auth")?;
    let (auth, auth_namespace) = parse_auth(&auth_obj)?;
    Ok(VaultProvider {
        server: server.to_string(),
        path: v.str("path")?.map(str::to_string),
        version,
        namespace: v.str("namespace")?.map(str::to_string),
        ca_bundle,
        ca_provider,
        auth,
        auth_namespace,
    })
}

fn parse_ca_provider(c: &Obj<'_>) -> Result<CaProvider, SpecError> {
    c.only(&["type", "name", "key", "namespace"])?;
    let name = c.req_str("name")?.to_string();
    let key = c.req_str("key")?.to_string();
    let namespace = c.str("namespace")?.map(str::to_string);
    match c.req_str("type")? {
        "Secret" => Ok(CaProvider::Secret {
            name,
            key,
            namespace,
        }),
        "ConfigMap" => Ok(CaProvider::ConfigMap {
            name,
            key,
            namespace,
        }),
        other => Err(err(
            c.field("type"),
            format!("unknown value {other:?} (one of Secret, ConfigMap)"),
        )),
    }
}

const SUPPORTED_AUTH: &[&str] = &["tokenSecretRef", "kubernetes", "appRole", "jwt"];
const UNSUPPORTED_AUTH: &[&str] = &["ldap", "cert", "iam", "userPass", "gcp"];

fn parse_auth(a: &Obj<'_>) -> Result<(VaultAuth, Option<String>), SpecError> {
    let known: Vec<&str> = SUPPORTED_AUTH
        .iter()
        .chain(UNSUPPORTED_AUTH)
        .chain(&["namespace"])
        .copied()
        .collect();
    a.only(&known)?;
    if let Some(m) = UNSUPPORTED_AUTH.iter().find(|m| a.get(m).is_some()) {
        return Err(err(
            a.field(m),
            "not supported by fjord (fjord supports tokenSecretRef, kubernetes, appRole and jwt)",
        ));
    }
    let set: Vec<&str> = SUPPORTED_AUTH
        .iter()
        .copied()
        .filter(|m| a.get(m).is_some())
        .collect();
    let method = match set.as_slice() {
        [one] => *one,
        [] => {
            return Err(err(
                a.path(),
                "exactly one of tokenSecretRef, kubernetes, appRole or jwt is required",
            ))
        }
        many => {
            return Err(err(
                a.path(),
                format!(
                    "exactly one auth method may be set, found {}",
                    many.join(", ")
                ),
            ))
        }
    };
    let o = a.req_obj(method)?;
    let auth = match method {
        "tokenSecretRef" => VaultAuth::Token {
            token: parse_selector(&o, None)?,
        },
        "kubernetes" => parse_kubernetes(&o)?,
        "appRole" => parse_approle(&o)?,
        _ => parse_jwt(&o)?,
    };
    Ok((auth, a.str("namespace")?.map(str::to_string)))
}

/// `{name, key, namespace}`; `default_key` when `key` may be omitted.
fn parse_selector(o: &Obj<'_>, default_key: Option<&str>) -> Result<SecretKeySelector, SpecError> {
    o.only(&["name", "key", "namespace"])?;
    let key = match (o.str("key")?, default_key) {
        (Some(k), _) | (None, Some(k)) => k.to_string(),
        (None, None) => return Err(err(o.field("key"), "is required")),
    };
    Ok(SecretKeySelector {
        name: o.req_str("name")?.to_string(),
        key,
        namespace: o.str("namespace")?.map(str::to_string),
    })
}

fn parse_sa_ref(o: &Obj<'_>) -> Result<ServiceAccountRef, SpecError> {
    o.only(&["name", "namespace", "audiences"])?;
    Ok(ServiceAccountRef {
        name: o.req_str("name")?.to_string(),
        namespace: o.str("namespace")?.map(str::to_string),
        audiences: o.strings("audiences")?,
    })
}

fn parse_kubernetes(o: &Obj<'_>) -> Result<VaultAuth, SpecError> {
    o.only(&["mountPath", "role", "serviceAccountRef", "secretRef"])?;
    Ok(VaultAuth::Kubernetes {
        mount_path: o.str_or("mountPath", "kubernetes")?,
        role: o.req_str("role")?.to_string(),
        service_account: o
            .obj("serviceAccountRef")?
            .map(|s| parse_sa_ref(&s))
            .transpose()?,
        secret_ref: o
            .obj("secretRef")?
            .map(|s| parse_selector(&s, Some("token")))
            .transpose()?,
    })
}

fn parse_approle(o: &Obj<'_>) -> Result<VaultAuth, SpecError> {
    o.only(&["path", "roleId", "roleRef", "secretRef"])?;
    let role_id = o.str("roleId")?.map(str::to_string);
    let role_ref = o
        .obj("roleRef")?
        .map(|s| parse_selector(&s, None))
        .transpose()?;
    if role_id.is_none() && role_ref.is_none() {
        return Err(err(
            o.field("roleId"),
            "one of roleId or roleRef is required",
        ));
    }
    Ok(VaultAuth::AppRole {
        path: o.str_or("path", "approle")?,
        role_id,
        role_ref,
        secret_ref: parse_selector(&o.req_obj("secretRef")?, None)?,
    })
}

fn parse_jwt(o: &Obj<'_>) -> Result<VaultAuth, SpecError> {
    o.only(&["path", "role", "secretRef", "kubernetesServiceAccountToken"])?;
    let secret_ref = o
        .obj("secretRef")?
        .map(|s| parse_selector(&s, None))
        .transpose()?;
    let service_account_token = match o.obj("kubernetesServiceAccountToken")? {
        None => None,
        Some(k) => {
            k.only(&["serviceAccountRef", "audiences", "expirationSeconds"])?;
            let mut sa = parse_sa_ref(&k.req_obj("serviceAccountRef")?)?;
            let mut audiences = match k.get("audiences") {
                None => vec!["vault".to_string()],
                Some(_) => k.strings("audiences")?,
            };
            audiences.append(&mut sa.audiences);
            sa.audiences = audiences;
            let expiration = k.int("expirationSeconds")?;
            if expiration.is_some_and(|s| s < 600) {
                return Err(err(k.field("expirationSeconds"), "must be at least 600"));
            }
            Some((sa, expiration))
        }
    };
    match (&secret_ref, &service_account_token) {
        (None, None) => Err(err(
            o.path(),
            "one of secretRef or kubernetesServiceAccountToken is required",
        )),
        (Some(_), Some(_)) => Err(err(
            o.path(),
            "only one of secretRef or kubernetesServiceAccountToken may be set",
        )),
        _ => Ok(VaultAuth::Jwt {
            path: o.str_or("path", "jwt")?,
            role: o.str_or("role", "")?,
            secret_ref,
            service_account_token,
        }),
    }
}

fn parse_condition(c: &Obj<'_>) -> Result<NamespaceCondition, SpecError> {
    c.only(&["namespaceSelector", "namespaces", "namespaceRegexes"])?;
    let selector = c.obj("namespaceSelector")?;
    let namespace_selector = selector
        .as_ref()
        .map(parse_match_labels)
        .transpose()?
        .unwrap_or_default();
    let field = c.field("namespaceRegexes");
    let namespace_regexes = c
        .strings("namespaceRegexes")?
        .iter()
        .enumerate()
        .map(|(i, r)| {
            Regex::new(r).map_err(|e| err(format!("{field}[{i}]"), format!("invalid regexp: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(NamespaceCondition {
        namespaces: c.strings("namespaces")?,
        namespace_regexes,
        namespace_selector,
        namespace_selector_set: selector.is_some(),
    })
}
