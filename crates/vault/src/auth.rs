//! Logging in: [`Login`] methods, the [`Token`] they give, `lookup-self` and `renew-self`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::Method;
use serde_json::{json, Value};

use crate::client::{Request, Vault};
use crate::error::VaultError;
use fjord_model::SecretString;

/// How to get a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// A given token (ESO's `tokenSecretRef`): used as-is; `lookup-self` learns its TTL.
    Token(SecretString),
    /// `POST auth/<mount>/login {role, jwt}` with a Kubernetes service-account token.
    Kubernetes {
        /// The auth mount (ESO's default `kubernetes`).
        mount: String,
        /// The Vault role.
        role: String,
        /// The service-account token.
        jwt: SecretString,
    },
    /// `POST auth/<mount>/login {role_id, secret_id}`.
    AppRole {
        /// The auth mount (ESO's default `approle`).
        mount: String,
        /// The role id (not secret).
        role_id: String,
        /// The secret id.
        secret_id: SecretString,
    },
    /// `POST auth/<mount>/login {role, jwt}` with any JWT the method trusts.
    Jwt {
        /// The auth mount (ESO's default `jwt`).
        mount: String,
        /// The Vault role.
        role: String,
        /// The JWT.
        jwt: SecretString,
    },
}

impl Login {
    /// The auth mount this login uses (`token` for a given token).
    pub fn mount(&self) -> &str {
        match self {
            Login::Token(_) => "token",
            Login::Kubernetes { mount, .. }
            | Login::AppRole { mount, .. }
            | Login::Jwt { mount, .. } => mount,
        }
    }
}

/// A Vault token and what is known of its lifetime. `Debug` never shows the token.
#[derive(Clone)]
pub struct Token {
    secret: SecretString,
    ttl: Option<Duration>,
    renewable: bool,
    obtained_at: Instant,
    is_static: bool,
    namespace: Option<Arc<str>>,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("secret", &self.secret)
            .field("ttl", &self.ttl)
            .field("renewable", &self.renewable)
            .field("obtained_at", &self.obtained_at)
            .field("static", &self.is_static)
            .field("namespace", &self.namespace)
            .finish()
    }
}

impl Token {
    /// A token whose lifetime is unknown (no expiry, not renewable, static), for callers that
    /// hold a token and skip [`Vault::login`].
    pub fn from_secret(secret: SecretString) -> Token {
        Token {
            secret,
            ttl: None,
            renewable: false,
            obtained_at: Instant::now(),
            is_static: true,
            namespace: None,
        }
    }

    /// A token with the given lifetime, obtained now (unit tests).
    #[cfg(test)]
    pub(crate) fn for_tests(
        secret: SecretString,
        ttl: Option<Duration>,
        renewable: bool,
        is_static: bool,
    ) -> Token {
        Token {
            secret,
            ttl,
            renewable,
            obtained_at: Instant::now(),
            is_static,
            namespace: None,
        }
    }

    /// The token itself (sent as `X-Vault-Token`).
    pub fn secret(&self) -> &SecretString {
        &self.secret
    }

    /// Its TTL when obtained (or last renewed); `None`: it does not expire.
    pub fn ttl(&self) -> Option<Duration> {
        self.ttl
    }

    /// Whether `renew-self` may extend it.
    pub fn renewable(&self) -> bool {
        self.renewable
    }

    /// When it was obtained (or last renewed).
    pub fn obtained_at(&self) -> Instant {
        self.obtained_at
    }

    /// Whether it was given (`Login::Token`) rather than obtained by a login: it is never
    /// replaced by logging in again.
    pub fn is_static(&self) -> bool {
        self.is_static
    }

    /// The namespace it was obtained in (where `lookup-self` and `renew-self` go).
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// When it expires, if it does.
    pub fn expires_at(&self) -> Option<Instant> {
        self.ttl.map(|ttl| self.obtained_at + ttl)
    }

    /// What is left of its TTL at `now` (`None`: no expiry).
    pub fn remaining(&self, now: Instant) -> Option<Duration> {
        self.expires_at()
            .map(|at| at.saturating_duration_since(now))
    }
}

impl Vault {
    /// Logs in with `login` (in `auth_namespace` when given, else the client's namespace).
    /// A given token is checked with `lookup-self`, which also gives its TTL.
    pub async fn login(
        &self,
        login: &Login,
        auth_namespace: Option<&str>,
    ) -> Result<Token, VaultError> {
        let namespace = self.login_namespace(auth_namespace);
        let wrap = |source: VaultError| VaultError::Login {
            server: self.server().to_string(),
            mount: login.mount().to_string(),
            source: Arc::new(source),
        };
        let (mount, body) = match login {
            Login::Token(secret) => {
                let mut token = Token::from_secret(secret.clone());
                token.namespace = namespace.map(Arc::from);
                let data = self.lookup_self(&token).await.map_err(wrap)?;
                let (ttl, renewable) = lifetime(&data["data"], "ttl");
                token.ttl = ttl;
                token.renewable = renewable;
                return Ok(token);
            }
            Login::Kubernetes { mount, role, jwt } | Login::Jwt { mount, role, jwt } => {
                (mount, json!({"role": role, "jwt": jwt.expose()}))
            }
            Login::AppRole {
                mount,
                role_id,
                secret_id,
            } => (
                mount,
                json!({"role_id": role_id, "secret_id": secret_id.expose()}),
            ),
        };
        let mount = check_mount(mount).map_err(|reason| {
            wrap(VaultError::Config {
                server: self.server().to_string(),
                reason,
            })
        })?;
        let path = format!("auth/{mount}/login");
        let body = self
            .call(Method::POST, &path, None, namespace, Some(body))
            .await
            .map_err(wrap)?;
        self.token_from_auth(&path, &body, namespace).map_err(wrap)
    }

    /// `GET auth/token/lookup-self` (in the token's namespace): the whole response.
    pub async fn lookup_self(&self, token: &Token) -> Result<Value, VaultError> {
        self.call(
            Method::GET,
            "auth/token/lookup-self",
            Some(token.secret()),
            token.namespace(),
            None,
        )
        .await
    }

    /// `POST auth/token/renew-self` (in the token's namespace): the same token with the TTL
    /// Vault granted now (capped by its max TTL).
    pub async fn renew_self(&self, token: &Token) -> Result<Token, VaultError> {
        let path = "auth/token/renew-self";
        let body = self
            .call(
                Method::POST,
                path,
                Some(token.secret()),
                token.namespace(),
                Some(json!({})),
            )
            .await?;
        let auth = body
            .get("auth")
            .filter(|a| a.is_object())
            .ok_or_else(|| self.response_error(path, "no auth block"))?;
        let (ttl, renewable) = lifetime(auth, "lease_duration");
        Ok(Token {
            ttl,
            renewable,
            obtained_at: Instant::now(),
            ..token.clone()
        })
    }

    /// Sends a request that must succeed (2xx) and return JSON.
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&SecretString>,
        namespace: Option<&str>,
        body: Option<Value>,
    ) -> Result<Value, VaultError> {
        let resp = self
            .send(Request {
                method: method.clone(),
                path,
                token,
                namespace,
                body,
            })
            .await?;
        if !(200..300).contains(&resp.status) {
            return Err(self.status_error(&method, path, &resp));
        }
        resp.body
            .ok_or_else(|| self.response_error(path, "empty body"))
    }

    fn token_from_auth(
        &self,
        path: &str,
        body: &Value,
        namespace: Option<&str>,
    ) -> Result<Token, VaultError> {
        let auth = &body["auth"];
        let secret = auth["client_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| self.response_error(path, "auth.client_token missing"))?;
        let (ttl, renewable) = lifetime(auth, "lease_duration");
        Ok(Token {
            secret: SecretString::new(secret),
            ttl,
            renewable,
            obtained_at: Instant::now(),
            is_static: false,
            namespace: namespace.map(Arc::from),
        })
    }
}

/// The TTL (`field`, seconds; 0 = no expiry) and `renewable` of an auth or lookup block.
fn lifetime(block: &Value, field: &str) -> (Option<Duration>, bool) {
    let ttl = block[field]
        .as_u64()
        .or_else(|| block[field].as_str().and_then(|s| s.parse().ok()))
        .filter(|s| *s > 0)
        .map(Duration::from_secs);
    (ttl, block["renewable"].as_bool().unwrap_or(false))
}

/// A mount path without surrounding slashes, with no empty, `.` or `..` segment.
fn check_mount(mount: &str) -> Result<&str, String> {
    let trimmed = mount.trim_matches('/');
    let bad = trimmed.is_empty()
        || trimmed
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
        || trimmed.contains(['?', '#', '%']);
    if bad {
        Err(format!("auth mount {mount:?} is not a valid path"))
    } else {
        Ok(trimmed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_are_plain_paths() {
        assert_eq!(check_mount("/approle/").unwrap(), "approle");
        assert_eq!(check_mount("team/k8s").unwrap(), "team/k8s");
        assert!(check_mount("").is_err());
        assert!(check_mount("../sys").is_err());
        assert!(check_mount("a//b").is_err());
        assert!(check_mount("a?x=1").is_err());
    }

    #[test]
    fn lifetimes_read_seconds_and_zero_means_forever() {
        let (ttl, renewable) = lifetime(
            &json!({"lease_duration": 30, "renewable": true}),
            "lease_duration",
        );
        assert_eq!(ttl, Some(Duration::from_secs(30)));
        assert!(renewable);
        assert_eq!(lifetime(&json!({"ttl": 0}), "ttl"), (None, false));
        assert_eq!(lifetime(&json!({}), "ttl"), (None, false));
    }

    #[test]
    fn tokens_never_print_their_secret() {
        let t = Token::from_secret(SecretString::new("s.abcdef"));
        assert!(!format!("{t:?}").contains("abcdef"));
        assert!(t.is_static());
        assert_eq!(t.expires_at(), None);
        let login = Login::AppRole {
            mount: "approle".into(),
            role_id: "rid".into(),
            secret_id: SecretString::new("sid-value"),
        };
        assert!(!format!("{login:?}").contains("sid-value"));
        assert_eq!(login.mount(), "approle");
    }
}
