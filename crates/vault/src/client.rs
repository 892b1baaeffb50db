//! [`Vault`]: one server's HTTP client (connection pool, TLS, timeouts, request counting) and
//! the one place requests are sent.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use http::{Method, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde_json::Value;

use crate::error::VaultError;
use fjord_model::SecretString;

/// The default timeout of one request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// At most this many requests of one [`Vault`] are in flight; more wait their turn (the
/// timeout counts from sending).
pub const MAX_CONCURRENT_REQUESTS: usize = 64;

/// Responses larger than this are refused ([`VaultError::TooLarge`]).
pub const MAX_RESPONSE_BYTES: usize = 4 << 20;

/// Where and how to reach one Vault (or OpenBao) server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultConfig {
    /// `http(s)://host:port`, optionally with a path prefix.
    pub server: String,
    /// The Vault namespace of reads and lists (`X-Vault-Namespace`), e.g. `ns1` or `team/a`.
    pub namespace: Option<String>,
    /// PEM CA certificates trusted for `https` instead of the system's roots.
    pub ca_pem: Option<Vec<u8>>,
    /// The timeout of one request (connect, send, whole response).
    pub timeout: Duration,
}

impl VaultConfig {
    /// A configuration for `server` with no namespace, the system's roots and the default
    /// timeout (10 s).
    pub fn new(server: impl Into<String>) -> VaultConfig {
        VaultConfig {
            server: server.into(),
            namespace: None,
            ca_pem: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A client of one Vault server: cheap to clone (shared connection pool and request counter).
#[derive(Clone)]
pub struct Vault {
    inner: Arc<Inner>,
}

struct Inner {
    /// The server as configured (for messages).
    server: String,
    /// `scheme://authority[/prefix]`, no trailing slash.
    base: String,
    namespace: Option<String>,
    timeout: Duration,
    client: HttpClient,
    requests: AtomicU64,
    in_flight: tokio::sync::Semaphore,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("server", &self.inner.server)
            .field("namespace", &self.inner.namespace)
            .field("requests", &self.requests())
            .finish_non_exhaustive()
    }
}

/// One request to send (see [`Vault::send`]).
pub(crate) struct Request<'a> {
    pub(crate) method: Method,
    /// After `/v1/`, with any query.
    pub(crate) path: &'a str,
    pub(crate) token: Option<&'a SecretString>,
    /// The namespace header; `None` sends none.
    pub(crate) namespace: Option<&'a str>,
    pub(crate) body: Option<Value>,
}

/// A response: its status and JSON body (`None` when empty).
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: Option<Value>,
}

impl Vault {
    /// A client for `cfg.server`. Fails on an unusable address, namespace or CA bundle (no
    /// request is sent).
    pub fn new(cfg: VaultConfig) -> Result<Vault, VaultError> {
        let config_err = |reason: String| VaultError::Config {
            server: cfg.server.clone(),
            reason,
        };
        let base = parse_server(&cfg.server).map_err(config_err)?;
        if let Some(ns) = &cfg.namespace {
            HeaderValue::from_str(ns)
                .map_err(|_| config_err(format!("namespace {ns:?} is not a valid header value")))?;
        }
        let plain = base.starts_with("http://");
        let tls = tls_config(cfg.ca_pem.as_deref(), plain).map_err(config_err)?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(cfg.timeout));
        http.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(https);
        Ok(Vault {
            inner: Arc::new(Inner {
                server: cfg.server.clone(),
                base,
                namespace: cfg.namespace.filter(|n| !n.is_empty()),
                timeout: cfg.timeout,
                client,
                requests: AtomicU64::new(0),
                in_flight: tokio::sync::Semaphore::new(MAX_CONCURRENT_REQUESTS),
            }),
        })
    }

    /// The server as configured.
    pub fn server(&self) -> &str {
        &self.inner.server
    }

    /// The namespace of reads and lists.
    pub fn namespace(&self) -> Option<&str> {
        self.inner.namespace.as_deref()
    }

    /// The HTTP requests sent so far (every login, lookup, renewal, read and list).
    pub fn requests(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// Sends `req` and reads the whole response (any status). Errors are transport failures,
    /// timeouts, oversized or non-JSON bodies.
    pub(crate) async fn send(&self, req: Request<'_>) -> Result<Response, VaultError> {
        let method = req.method.to_string();
        let path = req.path.to_string();
        let http_req = self.build(req)?;
        // Never closed: acquiring only fails on a closed semaphore.
        let _permit = self.inner.in_flight.acquire().await.ok();
        let started = Instant::now();
        let timeout = self.inner.timeout;
        let exchange = async {
            self.inner.requests.fetch_add(1, Ordering::Relaxed);
            let resp = self
                .inner
                .client
                .request(http_req)
                .await
                .map_err(|e| self.transport_error(e))?;
            let status = resp.status().as_u16();
            let declared = resp
                .headers()
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if declared.is_some_and(|n| n > MAX_RESPONSE_BYTES as u64) {
                return Err(self.too_large(&method, &path));
            }
            let bytes = Limited::new(resp.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        self.too_large(&method, &path)
                    } else {
                        VaultError::Read {
                            server: self.inner.server.clone(),
                            method: method.clone(),
                            path: path.clone(),
                            source: Arc::from(e),
                        }
                    }
                })?
                .to_bytes();
            Ok((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| VaultError::Timeout {
                server: self.inner.server.clone(),
                method: method.clone(),
                path: path.clone(),
                after: timeout,
            })??;
        tracing::debug!(
            server = %self.inner.server, %method, %path, status,
            elapsed_ms = started.elapsed().as_millis() as u64, "vault request"
        );
        let body = self.parse_body(status, &path, &bytes)?;
        Ok(Response { status, body })
    }

    /// The [`VaultError::Status`] of an error answer: Vault's `errors` strings only.
    pub(crate) fn status_error(&self, method: &Method, path: &str, resp: &Response) -> VaultError {
        let errors = resp
            .body
            .as_ref()
            .and_then(|b| b.get("errors"))
            .and_then(Value::as_array)
            .map(|errs| {
                errs.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        VaultError::Status {
            server: self.inner.server.clone(),
            method: method.to_string(),
            path: path.to_string(),
            status: resp.status,
            errors,
        }
    }

    /// A [`VaultError::Response`] for `path`.
    pub(crate) fn response_error(&self, path: &str, reason: impl Into<String>) -> VaultError {
        VaultError::Response {
            server: self.inner.server.clone(),
            path: path.to_string(),
            reason: reason.into(),
        }
    }

    fn build(&self, req: Request<'_>) -> Result<http::Request<Full<Bytes>>, VaultError> {
        let path_err = |reason: &str| VaultError::Path {
            server: self.inner.server.clone(),
            path: req.path.to_string(),
            reason: reason.to_string(),
        };
        let path = req.path.trim_start_matches('/');
        if path.is_empty() {
            return Err(path_err("empty"));
        }
        if path.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(path_err("control characters or spaces"));
        }
        let uri: Uri = format!("{}/v1/{path}", self.inner.base)
            .parse()
            .map_err(|_| path_err("not a valid URI path"))?;
        let mut builder = http::Request::builder()
            .method(req.method)
            .uri(uri)
            .header("X-Vault-Request", "true");
        if let Some(token) = req.token {
            let mut value =
                HeaderValue::from_str(token.expose()).map_err(|_| VaultError::Config {
                    server: self.inner.server.clone(),
                    reason: "the token holds characters not allowed in a header".into(),
                })?;
            value.set_sensitive(true);
            builder = builder.header("X-Vault-Token", value);
        }
        if let Some(ns) = req.namespace.filter(|n| !n.is_empty()) {
            let value = HeaderValue::from_str(ns).map_err(|_| VaultError::Config {
                server: self.inner.server.clone(),
                reason: format!("namespace {ns:?} is not a valid header value"),
            })?;
            builder = builder.header("X-Vault-Namespace", value);
        }
        let body = match req.body {
            Some(body) => {
                builder = builder.header(CONTENT_TYPE, "application/json");
                Bytes::from(body.to_string())
            }
            None => Bytes::new(),
        };
        builder
            .body(Full::new(body))
            .map_err(|_| VaultError::Config {
                server: self.inner.server.clone(),
                reason: "the request cannot be built".into(),
            })
    }

    fn parse_body(
        &self,
        status: u16,
        path: &str,
        bytes: &[u8],
    ) -> Result<Option<Value>, VaultError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(v) => Ok(Some(v)),
            // An error page from a proxy: the status tells the story.
            Err(_) if status >= 400 => Ok(None),
            Err(e) => Err(VaultError::Decode {
                server: self.inner.server.clone(),
                path: path.to_string(),
                source: Arc::new(e),
            }),
        }
    }

    fn too_large(&self, method: &str, path: &str) -> VaultError {
        VaultError::TooLarge {
            server: self.inner.server.clone(),
            method: method.to_string(),
            path: path.to_string(),
            limit: MAX_RESPONSE_BYTES,
        }
    }

    fn transport_error(&self, e: hyper_util::client::legacy::Error) -> VaultError {
        match tls_reason(&e) {
            Some(reason) => VaultError::Tls {
                server: self.inner.server.clone(),
                reason,
            },
            None => VaultError::Connect {
                server: self.inner.server.clone(),
                source: Arc::new(e),
            },
        }
    }

    /// The namespace a login uses: `auth_namespace`, else the client's.
    pub(crate) fn login_namespace<'a>(
        &'a self,
        auth_namespace: Option<&'a str>,
    ) -> Option<&'a str> {
        auth_namespace
            .filter(|n| !n.is_empty())
            .or(self.inner.namespace.as_deref())
    }
}

/// `scheme://authority[/prefix]` of `server` (http or https), without a trailing slash.
fn parse_server(server: &str) -> Result<String, String> {
    let trimmed = server.trim().trim_end_matches('/');
    let uri: Uri = trimmed
        .parse()
        .map_err(|_| format!("server {server:?} is not a URL"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => {
            return Err(format!(
                "server {server:?} must start with http:// or https://"
            ))
        }
    }
    if uri.authority().is_none_or(|a| a.host().is_empty()) {
        return Err(format!("server {server:?} has no host"));
    }
    if uri.query().is_some() {
        return Err(format!("server {server:?} must not have a query"));
    }
    Ok(trimmed.to_string())
}

/// rustls's configuration: the CA bundle's certificates when given, else the system's roots
/// (none for a plain `http` server, which never uses them).
fn tls_config(ca_pem: Option<&[u8]>, plain: bool) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let roots = match ca_pem {
        Some(pem) => {
            let mut roots = rustls::RootCertStore::empty();
            for (n, cert) in CertificateDer::pem_slice_iter(pem).enumerate() {
                let cert = cert.map_err(|e| format!("CA bundle: not PEM: {e}"))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("CA bundle: certificate {}: {e}", n + 1))?;
            }
            if roots.is_empty() {
                return Err("CA bundle holds no PEM certificate".into());
            }
            Arc::new(roots)
        }
        None if plain => Arc::new(rustls::RootCertStore::empty()),
        None => native_roots(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// The system's root certificates, loaded once per process.
fn native_roots() -> Arc<rustls::RootCertStore> {
    static ROOTS: std::sync::OnceLock<Arc<rustls::RootCertStore>> = std::sync::OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            let native = rustls_native_certs::load_native_certs();
            let (added, ignored) = roots.add_parsable_certificates(native.certs);
            tracing::debug!(
                added,
                ignored,
                errors = native.errors.len(),
                "system root certificates"
            );
            Arc::new(roots)
        })
        .clone()
}

/// rustls's reason when `e` (or one of its causes) is a TLS failure.
fn tls_reason(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    fjord_model::find_cause::<rustls::Error>(e).map(ToString::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::fake_server;

    #[test]
    fn servers_are_http_or_https_urls() {
        assert_eq!(
            parse_server("https://vault:8200/").unwrap(),
            "https://vault:8200"
        );
        assert_eq!(
            parse_server("http://127.0.0.1:8200").unwrap(),
            "http://127.0.0.1:8200"
        );
        assert_eq!(
            parse_server("https://proxy/vault").unwrap(),
            "https://proxy/vault"
        );
        assert!(parse_server("vault:8200").is_err());
        assert!(parse_server("ftp://vault").is_err());
        assert!(parse_server("https://vault?x=1").is_err());
        assert!(parse_server("").is_err());
    }

    #[test]
    fn a_ca_bundle_must_hold_a_certificate() {
        assert!(tls_config(Some(b"not pem"), false)
            .unwrap_err()
            .contains("no PEM certificate"));
        let cert = rcgen::generate_simple_self_signed(vec!["x".to_string()]).unwrap();
        assert!(tls_config(Some(cert.cert.pem().as_bytes()), false).is_ok());
        assert!(tls_config(None, false).is_ok());
        assert!(tls_config(None, true).is_ok());
    }

    #[test]
    fn new_checks_the_configuration_without_sending() {
        let vault = Vault::new(VaultConfig::new("http://127.0.0.1:1")).unwrap();
        assert_eq!(vault.requests(), 0);
        assert_eq!(vault.namespace(), None);
        let mut cfg = VaultConfig::new("https://vault:8200");
        cfg.namespace = Some("bad\nns".into());
        let err = Vault::new(cfg).unwrap_err();
        assert!(err.to_string().contains("namespace"), "{err}");
        let mut cfg = VaultConfig::new("https://vault:8200");
        cfg.ca_pem = Some(b"junk".to_vec());
        assert!(matches!(Vault::new(cfg), Err(VaultError::Config { .. })));
    }

    #[test]
    fn login_namespace_prefers_the_auth_namespace() {
        let mut cfg = VaultConfig::new("http://127.0.0.1:1");
        cfg.namespace = Some("tenant".into());
        let vault = Vault::new(cfg).unwrap();
        assert_eq!(vault.login_namespace(Some("auth")), Some("auth"));
        assert_eq!(vault.login_namespace(Some("")), Some("tenant"));
        assert_eq!(vault.login_namespace(None), Some("tenant"));
    }

    #[test]
    fn paths_are_checked() {
        let vault = Vault::new(VaultConfig::new("http://127.0.0.1:1")).unwrap();
        let req = |path| Request {
            method: Method::GET,
            path,
            token: None,
            namespace: None,
            body: None,
        };
        assert!(vault.build(req("secret/data/a b")).is_err());
        assert!(vault.build(req("")).is_err());
        assert!(vault.build(req("secret/data/a\r\nX: y")).is_err());
        let ok = vault.build(req("/secret/data/a?version=2")).unwrap();
        assert_eq!(
            ok.uri().to_string(),
            "http://127.0.0.1:1/v1/secret/data/a?version=2"
        );
        assert_eq!(ok.headers()["X-Vault-Request"], "true");
    }

    fn get(path: &str) -> Request<'_> {
        Request {
            method: Method::GET,
            path,
            token: None,
            namespace: None,
            body: None,
        }
    }

    #[tokio::test]
    async fn a_silent_server_times_out_transiently() {
        let mut cfg = VaultConfig::new(fake_server(None).await);
        cfg.timeout = Duration::from_millis(300);
        let vault = Vault::new(cfg).unwrap();
        let err = vault.send(get("secret/data/x")).await.err().unwrap();
        assert!(matches!(err, VaultError::Timeout { .. }), "{err:?}");
        assert!(err.is_transient());
        assert_eq!(vault.requests(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn requests_in_flight_are_capped() {
        let mut cfg = VaultConfig::new(fake_server(None).await);
        cfg.timeout = Duration::from_millis(600);
        let vault = Vault::new(cfg).unwrap();
        let tasks: Vec<_> = (0..MAX_CONCURRENT_REQUESTS + 6)
            .map(|_| {
                let vault = vault.clone();
                tokio::spawn(async move { vault.send(get("secret/data/x")).await.is_err() })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(vault.requests(), MAX_CONCURRENT_REQUESTS as u64);
        for task in tasks {
            assert!(task.await.unwrap(), "a silent server times out");
        }
        assert_eq!(vault.requests(), MAX_CONCURRENT_REQUESTS as u64 + 6);
    }

    #[tokio::test]
    async fn oversized_responses_are_refused() {
        let declared = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{{}}",
            MAX_RESPONSE_BYTES + 1
        );
        let vault = Vault::new(VaultConfig::new(
            fake_server(Some(declared.into_bytes())).await,
        ))
        .unwrap();
        let err = vault.send(get("secret/data/x")).await.err().unwrap();
        assert!(matches!(err, VaultError::TooLarge { .. }), "{err:?}");

        let mut streamed = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
        streamed.extend(std::iter::repeat_n(b' ', MAX_RESPONSE_BYTES + 10));
        let vault = Vault::new(VaultConfig::new(fake_server(Some(streamed)).await)).unwrap();
        let err = vault.send(get("secret/data/x")).await.err().unwrap();
        assert!(matches!(err, VaultError::TooLarge { .. }), "{err:?}");
        assert!(!err.is_transient());
    }

    #[tokio::test]
    async fn error_bodies_give_only_vaults_errors() {
        let body = r#"{"errors":["permission denied"],"data":{"password":"leak"}}"#;
        let answer = format!(
            "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let vault = Vault::new(VaultConfig::new(
            fake_server(Some(answer.into_bytes())).await,
        ))
        .unwrap();
        let resp = vault.send(get("secret/data/x")).await.unwrap();
        let err = vault.status_error(&Method::GET, "secret/data/x", &resp);
        assert_eq!(err.status(), Some(403));
        let shown = format!("{err} {err:?}");
        assert!(
            shown.contains("permission denied") && !shown.contains("leak"),
            "{shown}"
        );

        let html = "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 6\r\n\r\n<html>";
        let vault = Vault::new(VaultConfig::new(fake_server(Some(html.into())).await)).unwrap();
        let resp = vault.send(get("secret/data/x")).await.unwrap();
        let err = vault.status_error(&Method::GET, "secret/data/x", &resp);
        assert!(err.is_transient());
        assert!(!err.to_string().contains("html"));

        let junk = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{nope";
        let vault = Vault::new(VaultConfig::new(fake_server(Some(junk.into())).await)).unwrap();
        let err = vault.send(get("secret/data/x")).await.err().unwrap();
        assert!(matches!(err, VaultError::Decode { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn nothing_listening_is_a_transient_connect_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let vault = Vault::new(VaultConfig::new(format!("http://127.0.0.1:{port}"))).unwrap();
        let err = vault.send(get("secret/data/x")).await.err().unwrap();
        assert!(matches!(err, VaultError::Connect { .. }), "{err:?}");
        assert!(err.is_transient());
    }
}
