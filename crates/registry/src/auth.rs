//! Authentication: the scheme each registry asked for (learned from a ping or a 401), basic
//! headers and bearer tokens (cached per realm, service, scope and credential identity, for their
//! `expires_in`, one fetch in flight per key).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use http::header::HeaderValue;
use http::Method;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;

use crate::cache::{Fetched, FlightCache};
use crate::error::{Ctx, RegistryError, Step};
use crate::headers::{parse_challenges, Challenge};
use crate::secret::{identity, Credentials, SecretString};
use crate::transport::{origin_of, Resp, Transport};

/// How long a token lives when the server does not say (the distribution spec's default).
const DEFAULT_TOKEN_SECS: u64 = 60;

/// Query value escaping: everything but unreserved characters.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// What a registry asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// Nothing (the ping answered 200).
    Anonymous,
    /// Basic credentials.
    Basic,
    /// Bearer tokens from `realm`.
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

/// (realm, service, scope, credential identity).
type TokenKey = (String, String, String, String);

pub(crate) struct Auth {
    schemes: Mutex<HashMap<String, Scheme>>,
    tokens: FlightCache<TokenKey, SecretString>,
}

impl Auth {
    pub(crate) fn new() -> Auth {
        Auth {
            schemes: Mutex::new(HashMap::new()),
            tokens: FlightCache::new(),
        }
    }

    /// The scheme learned for the registry at `api_url`, if any.
    pub(crate) fn scheme(&self, api_url: &str) -> Option<Scheme> {
        self.lock().get(api_url).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Scheme>> {
        self.schemes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Learns the scheme from a ping's or request's answer (200: anonymous; 401: its
    /// challenge). `None` when a 401 carries no usable challenge.
    pub(crate) fn learn(&self, api_url: &str, resp: &Resp) -> Option<Scheme> {
        let scheme = if resp.status == 401 {
            let challenges: Vec<Challenge> = resp
                .headers
                .get_all("www-authenticate")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(parse_challenges)
                .collect();
            // Bearer first: a registry offering both prefers tokens.
            let bearer = challenges.iter().find_map(|c| match c {
                Challenge::Bearer { realm, service, .. } => Some(Scheme::Bearer {
                    realm: realm.clone(),
                    service: service.clone(),
                }),
                Challenge::Basic => None,
            });
            bearer.or_else(|| {
                challenges
                    .contains(&Challenge::Basic)
                    .then_some(Scheme::Basic)
            })?
        } else {
            Scheme::Anonymous
        };
        self.lock().insert(api_url.to_string(), scheme.clone());
        Some(scheme)
    }

    /// The `Authorization` value for a pull of `repo` under `scheme` (`None`: send none).
    /// `fresh` drops a cached token first (after the registry refused it).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn header(
        &self,
        transport: &Arc<Transport>,
        ctx: &Ctx,
        insecure: bool,
        scheme: &Scheme,
        repo: &str,
        creds: Option<&Credentials>,
        fresh: bool,
    ) -> Result<Option<HeaderValue>, RegistryError> {
        match scheme {
            Scheme::Anonymous => Ok(None),
            Scheme::Basic => Ok(creds.map(basic)),
            Scheme::Bearer { realm, service } => {
                let scope = format!("repository:{repo}:pull");
                let key = (
                    realm.clone(),
                    service.clone().unwrap_or_default(),
                    scope.clone(),
                    identity(creds),
                );
                if fresh {
                    self.tokens.remove(&key);
                }
                let fetch = fetch_token(
                    Arc::clone(transport),
                    Ctx::new(&ctx.registry, &ctx.repo, Step::Token),
                    insecure,
                    realm.clone(),
                    service.clone(),
                    scope,
                    creds.cloned(),
                );
                let token = self.tokens.get(key, fetch).await?;
                let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
                    .map_err(|_| ctx.protocol("the token holds characters not allowed"))?;
                value.set_sensitive(true);
                Ok(Some(value))
            }
        }
    }
}

/// `Basic base64(user:pass)`, marked sensitive.
pub(crate) fn basic(creds: &Credentials) -> HeaderValue {
    let raw = format!("{}:{}", creds.username, creds.password.expose());
    let text = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    );
    let mut value =
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("Basic"));
    value.set_sensitive(true);
    value
}

/// `GET realm?service=..&scope=..` (with basic credentials when given); the token and how long
/// to keep it.
async fn fetch_token(
    transport: Arc<Transport>,
    ctx: Ctx,
    insecure: bool,
    realm: String,
    service: Option<String>,
    scope: String,
    creds: Option<Credentials>,
) -> Fetched<SecretString> {
    if !(realm.starts_with("https://") || realm.starts_with("http://")) {
        return Err(ctx.protocol(format!("token realm {realm:?} is not an http(s) URL")));
    }
    let mut url = realm.clone();
    url.push(if url.contains('?') { '&' } else { '?' });
    if let Some(s) = &service {
        url.push_str(&format!("service={}&", utf8_percent_encode(s, QUERY)));
    }
    url.push_str(&format!("scope={}", utf8_percent_encode(&scope, QUERY)));
    let headers: Vec<(&'static str, HeaderValue)> = creds
        .as_ref()
        .map(|c| vec![("authorization", basic(c))])
        .unwrap_or_default();
    let token_ctx = Ctx {
        registry: origin_of(&realm),
        ..ctx.clone()
    };
    let resp = transport
        .send(&token_ctx, insecure, Method::GET, &url, &headers)
        .await
        .map_err(|e| relabel(e, &ctx))?;
    if resp.status != 200 {
        return Err(ctx.status(resp.status, resp.retry_after()));
    }
    let json: Value = serde_json::from_slice(&resp.body)
        .map_err(|_| ctx.protocol("the token answer is not JSON"))?;
    let token = ["token", "access_token"]
        .iter()
        .find_map(|k| {
            json.get(*k)
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
        })
        .ok_or_else(|| ctx.protocol("the token answer has no token"))?;
    let secs = json
        .get("expires_in")
        .and_then(Value::as_u64)
        .filter(|s| *s > 0)
        .unwrap_or(DEFAULT_TOKEN_SECS);
    // Renew a little early: the request using it must still arrive in time.
    let keep = if secs > 30 { secs - 10 } else { secs / 2 };
    Ok((SecretString::new(token), Some(Duration::from_secs(keep))))
}

/// Transport errors of the token request, named after the registry (the realm is in the cause).
fn relabel(e: RegistryError, ctx: &Ctx) -> RegistryError {
    match e {
        RegistryError::Unreachable { source, .. } => RegistryError::Unreachable {
            registry: ctx.registry.clone(),
            repo: ctx.repo.clone(),
            step: Step::Token,
            source,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::HeaderMap;

    fn resp(status: u16, challenges: &[&str]) -> Resp {
        let mut headers = HeaderMap::new();
        for c in challenges {
            headers.append("www-authenticate", HeaderValue::from_str(c).unwrap());
        }
        Resp {
            status,
            headers,
            body: Bytes::new(),
        }
    }

    #[test]
    fn learns_schemes() {
        let auth = Auth::new();
        assert_eq!(auth.scheme("r"), None);
        assert_eq!(auth.learn("r", &resp(200, &[])), Some(Scheme::Anonymous));
        assert_eq!(
            auth.learn(
                "r",
                &resp(
                    401,
                    &[
                        "Basic realm=x",
                        r#"Bearer realm="https://t/token",service="s""#
                    ]
                )
            ),
            Some(Scheme::Bearer {
                realm: "https://t/token".into(),
                service: Some("s".into())
            })
        );
        assert_eq!(
            auth.learn("b", &resp(401, &[r#"Basic realm="r""#])),
            Some(Scheme::Basic)
        );
        assert_eq!(auth.scheme("b"), Some(Scheme::Basic));
        assert_eq!(auth.learn("n", &resp(401, &[])), None);
    }

    #[test]
    fn basic_headers_are_sensitive() {
        let h = basic(&Credentials::new("u", "p"));
        assert!(h.is_sensitive());
        assert_eq!(h.to_str().unwrap(), "Basic dTpw");
    }
}
