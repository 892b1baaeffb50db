//! Store credentials: where a store's refs resolve (its own namespace, or for a
//! ClusterSecretStore the ref's namespace, else the ExternalSecret's: "referent" auth), and the
//! Vault login and CA bundle they make. Tokens come from Secrets (`tokenSecretRef`, AppRole
//! `roleRef`/`secretRef`, JWT and Kubernetes `secretRef`), the TokenRequest API
//! (`serviceAccountRef`, `kubernetesServiceAccountToken`), or the controller's own mounted
//! service account token (Kubernetes auth with neither). [`StoreError`] (re-exported by
//! `stores`) is every failure of resolving a store into a session.

use fjord_eso::spec::SpecError;
use fjord_eso::spec::{
    CaProvider, SecretKeySelector, ServiceAccountRef, StoreKind, StoreSpec, VaultAuth,
    VaultProvider,
};
use fjord_vault::{Login, SecretString, VaultError};

use crate::api::{Api, ApiError};

/// The service account token the controller's own pod mounts (Kubernetes auth fallback).
const MOUNTED_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";
/// Lifetime of the TokenRequest tokens of Kubernetes auth (ESO: 600 s).
const KUBERNETES_TOKEN_SECONDS: i64 = 600;

/// Why a store could not give a session. Messages name the store and the field, never a value.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    /// The store does not exist.
    #[error("{kind} {} not found", crate::api::target(namespace.as_deref(), name))]
    NotFound {
        /// `SecretStore` or `ClusterSecretStore`.
        kind: &'static str,
        /// Its name.
        name: String,
        /// Its namespace (SecretStore).
        namespace: Option<String>,
    },
    /// Reading the store (or a namespace) failed.
    #[error("reading {what}")]
    Read {
        /// What was read.
        what: String,
        /// The API error.
        #[source]
        source: ApiError,
    },
    /// The store's spec is invalid or uses something fjord does not support.
    #[error("{kind} {name}: invalid spec")]
    Invalid {
        /// `SecretStore` or `ClusterSecretStore`.
        kind: &'static str,
        /// `ns/name` or `name`.
        name: String,
        /// The field and why.
        #[source]
        source: SpecError,
    },
    /// A ClusterSecretStore's `conditions` exclude the ExternalSecret's namespace.
    #[error("ClusterSecretStore {name} does not allow namespace {namespace} (spec.conditions)")]
    NotAllowed {
        /// The store.
        name: String,
        /// The ExternalSecret's namespace.
        namespace: String,
    },
    /// A credential (auth ref, CA) could not be read from the API server.
    #[error("{store}: reading {field}")]
    Credentials {
        /// `<Kind> <name>`.
        store: String,
        /// The spec field, e.g. `spec.provider.vault.auth.tokenSecretRef`.
        field: String,
        /// The API error.
        #[source]
        source: ApiError,
    },
    /// A credential is unusable or missing (no API error behind it).
    #[error("{store}: {field}: {reason}")]
    BadCredentials {
        /// `<Kind> <name>`.
        store: String,
        /// The spec field.
        field: String,
        /// Why.
        reason: String,
    },
    /// Vault refused or failed (login, read, list, lookup).
    #[error("{store}")]
    Vault {
        /// `<Kind> <name>`.
        store: String,
        /// The Vault error (Vault's own error strings, never values).
        #[source]
        source: Box<VaultError>,
    },
}

impl StoreError {
    /// Whether retrying may succeed: Vault or the API server unreachable, 429, 5xx.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            StoreError::Read { source, .. } | StoreError::Credentials { source, .. } => {
                source.transient
            }
            StoreError::Vault { source, .. } => source.is_transient(),
            StoreError::NotFound { .. }
            | StoreError::Invalid { .. }
            | StoreError::NotAllowed { .. }
            | StoreError::BadCredentials { .. } => false,
        }
    }
}

/// Where the refs of one store resolve.
pub(crate) struct RefScope<'a> {
    /// `<Kind> <name>`.
    pub(crate) store: &'a str,
    pub(crate) kind: StoreKind,
    /// The SecretStore's namespace.
    pub(crate) store_namespace: &'a str,
    /// The ExternalSecret's namespace (referent refs of a ClusterSecretStore).
    pub(crate) es_namespace: &'a str,
}

impl RefScope<'_> {
    /// The namespace a ref resolves in: a SecretStore's own; for a ClusterSecretStore the ref's
    /// namespace, else the ExternalSecret's.
    pub(crate) fn namespace<'b>(&'b self, explicit: Option<&'b str>) -> &'b str {
        match self.kind {
            StoreKind::SecretStore => self.store_namespace,
            StoreKind::ClusterSecretStore => explicit.unwrap_or(self.es_namespace),
        }
    }

    fn cred_error(&self, field: &str, source: ApiError) -> StoreError {
        StoreError::Credentials {
            store: self.store.to_string(),
            field: field.to_string(),
            source,
        }
    }

    async fn secret(
        &self,
        api: &Api,
        field: &str,
        sel: &SecretKeySelector,
    ) -> Result<SecretString, StoreError> {
        let ns = self.namespace(sel.namespace.as_deref());
        api.secret_key(ns, &sel.name, &sel.key)
            .await
            .map_err(|e| self.cred_error(field, e))
    }

    async fn sa_token(
        &self,
        api: &Api,
        field: &str,
        sa: &ServiceAccountRef,
        seconds: i64,
    ) -> Result<SecretString, StoreError> {
        let ns = self.namespace(sa.namespace.as_deref());
        api.token_request(ns, &sa.name, &sa.audiences, seconds)
            .await
            .map_err(|e| self.cred_error(field, e))
    }
}

/// Whether a ClusterSecretStore's auth has a ref without a namespace (resolved per
/// ExternalSecret namespace, so tokens and reads are kept per namespace).
pub(crate) fn is_referent(spec: &StoreSpec) -> bool {
    if spec.kind != StoreKind::ClusterSecretStore {
        return false;
    }
    let no_ns = |s: &SecretKeySelector| s.namespace.is_none();
    let sa_no_ns = |s: &ServiceAccountRef| s.namespace.is_none();
    match &spec.provider.auth {
        VaultAuth::Token { token } => no_ns(token),
        VaultAuth::Kubernetes {
            service_account,
            secret_ref,
            ..
        } => {
            service_account.as_ref().is_some_and(sa_no_ns)
                || (service_account.is_none() && secret_ref.as_ref().is_some_and(no_ns))
        }
        VaultAuth::AppRole {
            role_ref,
            secret_ref,
            ..
        } => no_ns(secret_ref) || role_ref.as_ref().is_some_and(no_ns),
        VaultAuth::Jwt {
            secret_ref,
            service_account_token,
            ..
        } => {
            secret_ref.as_ref().is_some_and(no_ns)
                || service_account_token
                    .as_ref()
                    .is_some_and(|(sa, _)| sa_no_ns(sa))
        }
    }
}

const AUTH: &str = "spec.provider.vault.auth";

/// Resolves the credentials of `auth` into a Vault login (and the login namespace).
pub(crate) async fn login_for(
    api: &Api,
    scope: &RefScope<'_>,
    provider: &VaultProvider,
) -> Result<(Login, Option<String>), StoreError> {
    let login = match &provider.auth {
        VaultAuth::Token { token } => Login::Token(
            scope
                .secret(api, &format!("{AUTH}.tokenSecretRef"), token)
                .await?,
        ),
        VaultAuth::Kubernetes {
            mount_path,
            role,
            service_account,
            secret_ref,
        } => {
            let jwt =
                kubernetes_jwt(api, scope, service_account.as_ref(), secret_ref.as_ref()).await?;
            Login::Kubernetes {
                mount: mount_path.clone(),
                role: role.clone(),
                jwt,
            }
        }
        VaultAuth::AppRole {
            path,
            role_id,
            role_ref,
            secret_ref,
        } => {
            let role_id = match (role_id, role_ref) {
                (Some(id), _) => id.clone(),
                (None, Some(r)) => scope
                    .secret(api, &format!("{AUTH}.appRole.roleRef"), r)
                    .await?
                    .expose()
                    .to_string(),
                (None, None) => {
                    return Err(StoreError::BadCredentials {
                        store: scope.store.into(),
                        field: format!("{AUTH}.appRole"),
                        reason: "one of roleId or roleRef is required".into(),
                    })
                }
            };
            let secret_id = scope
                .secret(api, &format!("{AUTH}.appRole.secretRef"), secret_ref)
                .await?;
            Login::AppRole {
                mount: path.clone(),
                role_id,
                secret_id,
            }
        }
        VaultAuth::Jwt {
            path,
            role,
            secret_ref,
            service_account_token,
        } => {
            let jwt = match (secret_ref, service_account_token) {
                (Some(s), _) => {
                    scope
                        .secret(api, &format!("{AUTH}.jwt.secretRef"), s)
                        .await?
                }
                (None, Some((sa, seconds))) => {
                    let field = format!("{AUTH}.jwt.kubernetesServiceAccountToken");
                    let seconds = seconds.unwrap_or(KUBERNETES_TOKEN_SECONDS);
                    scope.sa_token(api, &field, sa, seconds).await?
                }
                (None, None) => {
                    return Err(StoreError::BadCredentials {
                        store: scope.store.into(),
                        field: format!("{AUTH}.jwt"),
                        reason: "one of secretRef or kubernetesServiceAccountToken is required"
                            .into(),
                    })
                }
            };
            Login::Jwt {
                mount: path.clone(),
                role: role.clone(),
                jwt,
            }
        }
    };
    Ok((login, provider.auth_namespace.clone()))
}

/// The JWT of Kubernetes auth: a TokenRequest for `serviceAccountRef`, else the `secretRef`,
/// else the controller's own mounted token.
async fn kubernetes_jwt(
    api: &Api,
    scope: &RefScope<'_>,
    service_account: Option<&ServiceAccountRef>,
    secret_ref: Option<&SecretKeySelector>,
) -> Result<SecretString, StoreError> {
    if let Some(sa) = service_account {
        let field = format!("{AUTH}.kubernetes.serviceAccountRef");
        return scope
            .sa_token(api, &field, sa, KUBERNETES_TOKEN_SECONDS)
            .await;
    }
    if let Some(s) = secret_ref {
        let field = format!("{AUTH}.kubernetes.secretRef");
        return scope.secret(api, &field, s).await;
    }
    match std::fs::read_to_string(MOUNTED_TOKEN) {
        Ok(t) if !t.trim().is_empty() => Ok(SecretString::new(t.trim().to_string())),
        _ => Err(StoreError::BadCredentials {
            store: scope.store.into(),
            field: format!("{AUTH}.kubernetes"),
            reason: format!(
                "neither serviceAccountRef nor secretRef is set and no service account token \
                 is mounted at {MOUNTED_TOKEN}"
            ),
        }),
    }
}

/// Where `caProvider` points, as a cache key (`Secret/ns/name/key`), `None` without one (or
/// with an inline `caBundle`, which wins).
pub(crate) fn ca_source(scope: &RefScope<'_>, provider: &VaultProvider) -> Option<String> {
    if provider.ca_bundle.is_some() {
        return None;
    }
    let (kind, name, key, namespace) = match provider.ca_provider.as_ref()? {
        CaProvider::Secret {
            name,
            key,
            namespace,
        } => ("Secret", name, key, namespace),
        CaProvider::ConfigMap {
            name,
            key,
            namespace,
        } => ("ConfigMap", name, key, namespace),
    };
    let ns = scope.namespace(namespace.as_deref());
    Some(format!("{kind}/{ns}/{name}/{key}"))
}

/// The CA bundle (PEM) of the provider: `caBundle`, else `caProvider`'s Secret or ConfigMap key.
pub(crate) async fn ca_pem(
    api: &Api,
    scope: &RefScope<'_>,
    provider: &VaultProvider,
) -> Result<Option<Vec<u8>>, StoreError> {
    if let Some(b) = &provider.ca_bundle {
        return Ok(Some(b.clone()));
    }
    let field = "spec.provider.vault.caProvider";
    match &provider.ca_provider {
        None => Ok(None),
        Some(CaProvider::Secret {
            name,
            key,
            namespace,
        }) => {
            let ns = scope.namespace(namespace.as_deref());
            let v = api
                .secret_key(ns, name, key)
                .await
                .map_err(|e| scope.cred_error(field, e))?;
            Ok(Some(v.expose().as_bytes().to_vec()))
        }
        Some(CaProvider::ConfigMap {
            name,
            key,
            namespace,
        }) => {
            let ns = scope.namespace(namespace.as_deref());
            let v = api
                .configmap_key(ns, name, key)
                .await
                .map_err(|e| scope.cred_error(field, e))?;
            Ok(Some(v.into_bytes()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fjord_eso::spec::parse_store;
    use serde_json::{json, Value};

    fn css(auth: Value) -> Value {
        json!({"apiVersion": "external-secrets.io/v1", "kind": "ClusterSecretStore",
               "metadata": {"name": "vault-backend", "uid": "u1", "generation": 3},
               "spec": {"provider": {"vault": {"server": "http://127.0.0.1:8200",
                        "path": "secret", "version": "v2", "auth": auth}}}})
    }

    #[test]
    fn referent_refs_are_those_without_a_namespace_in_a_cluster_store() {
        let with_ns =
            css(json!({"tokenSecretRef": {"name": "t", "key": "token", "namespace": "vault"}}));
        let without = css(json!({"tokenSecretRef": {"name": "t", "key": "token"}}));
        assert!(!is_referent(&parse_store(&with_ns).unwrap()));
        assert!(is_referent(&parse_store(&without).unwrap()));
        let mut ss = without.clone();
        ss["kind"] = json!("SecretStore");
        ss["metadata"]["namespace"] = json!("app");
        assert!(!is_referent(&parse_store(&ss).unwrap()));
        let k8s = css(json!({"kubernetes": {"role": "r", "serviceAccountRef": {"name": "sa"}}}));
        assert!(is_referent(&parse_store(&k8s).unwrap()));
        let own = css(json!({"kubernetes": {"role": "r"}}));
        assert!(!is_referent(&parse_store(&own).unwrap()));
    }

    #[test]
    fn refs_resolve_in_the_store_namespace_or_the_tenant_namespace() {
        let ss = RefScope {
            store: "SecretStore s",
            kind: StoreKind::SecretStore,
            store_namespace: "app",
            es_namespace: "app",
        };
        assert_eq!(ss.namespace(Some("other")), "app");
        let css = RefScope {
            store: "ClusterSecretStore c",
            kind: StoreKind::ClusterSecretStore,
            store_namespace: "",
            es_namespace: "team-a",
        };
        assert_eq!(css.namespace(Some("vault")), "vault");
        assert_eq!(css.namespace(None), "team-a");
    }

    #[test]
    fn ca_sources_resolve_like_refs_and_an_inline_bundle_wins() {
        let scope = RefScope {
            store: "ClusterSecretStore c",
            kind: StoreKind::ClusterSecretStore,
            store_namespace: "",
            es_namespace: "team-a",
        };
        let with_ca = |ca: Value| {
            let mut o =
                css(json!({"tokenSecretRef": {"name": "t", "key": "token", "namespace": "v"}}));
            o["spec"]["provider"]["vault"]
                .as_object_mut()
                .unwrap()
                .extend(ca.as_object().unwrap().clone());
            parse_store(&o).unwrap().provider
        };
        let cm =
            with_ca(json!({"caProvider": {"type": "ConfigMap", "name": "ca", "key": "ca.crt"}}));
        assert_eq!(
            ca_source(&scope, &cm).as_deref(),
            Some("ConfigMap/team-a/ca/ca.crt")
        );
        let secret = with_ca(
            json!({"caProvider": {"type": "Secret", "name": "ca", "key": "k",
                                                    "namespace": "vault"}}),
        );
        assert_eq!(
            ca_source(&scope, &secret).as_deref(),
            Some("Secret/vault/ca/k")
        );
        assert_eq!(ca_source(&scope, &with_ca(json!({}))), None);
    }
}
