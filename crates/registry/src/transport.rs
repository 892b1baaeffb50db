//! The HTTP side: two connection pools over rustls (verifying with the system's roots, and
//! `insecure` skipping verification), timeouts, size limits, request counting, redirects.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue, LOCATION};
use http::{Method, Uri};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::error::{Ctx, RegistryError};

/// Responses larger than this are refused.
pub const MAX_RESPONSE_BYTES: usize = 16 << 20;

/// At most this many redirects are followed.
const MAX_REDIRECTS: usize = 5;

type HttpClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// A whole response.
pub(crate) struct Resp {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Resp {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `Retry-After` in seconds.
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        self.header("retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs)
    }
}

pub(crate) struct Transport {
    verified: HttpClient,
    insecure: HttpClient,
    timeout: Duration,
    requests: AtomicU64,
}

impl Transport {
    pub(crate) fn new(timeout: Duration) -> Transport {
        Transport {
            verified: build(verified_tls(), timeout),
            insecure: build(insecure_tls(), timeout),
            timeout,
            requests: AtomicU64::new(0),
        }
    }

    pub(crate) fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// One GET/HEAD of `url` with `headers`; any status is returned.
    pub(crate) async fn send(
        &self,
        ctx: &Ctx,
        insecure: bool,
        method: Method,
        url: &str,
        headers: &[(&'static str, HeaderValue)],
    ) -> Result<Resp, RegistryError> {
        let uri: Uri = url
            .parse()
            .map_err(|_| ctx.protocol(format!("{url:?} is not a valid URL")))?;
        let mut builder = http::Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, value.clone());
        }
        let req = builder
            .body(Empty::new())
            .map_err(|_| ctx.protocol("the request cannot be built"))?;
        let client = if insecure {
            &self.insecure
        } else {
            &self.verified
        };
        let exchange = async {
            self.requests.fetch_add(1, Ordering::Relaxed);
            let resp = client
                .request(req)
                .await
                .map_err(|e| transport_error(ctx, e))?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let body = Limited::new(resp.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        ctx.protocol(format!("response over {MAX_RESPONSE_BYTES} bytes refused"))
                    } else {
                        RegistryError::Unreachable {
                            registry: ctx.registry.clone(),
                            repo: ctx.repo.clone(),
                            step: ctx.step,
                            source: Arc::from(e),
                        }
                    }
                })?
                .to_bytes();
            Ok(Resp {
                status,
                headers,
                body,
            })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| RegistryError::Timeout {
                registry: ctx.registry.clone(),
                repo: ctx.repo.clone(),
                step: ctx.step,
                after: self.timeout,
            })?
    }

    /// [`Transport::send`] following redirects (301, 302, 303, 307, 308); the credentials in
    /// `headers` are only sent to `url`'s own origin.
    pub(crate) async fn send_following(
        &self,
        ctx: &Ctx,
        insecure: bool,
        url: &str,
        headers: &[(&'static str, HeaderValue)],
    ) -> Result<Resp, RegistryError> {
        let origin = origin_of(url);
        let mut current = url.to_string();
        for _ in 0..=MAX_REDIRECTS {
            let same = origin_of(&current) == origin;
            let hs: Vec<(&'static str, HeaderValue)> = headers
                .iter()
                .filter(|(n, _)| same || !n.eq_ignore_ascii_case("authorization"))
                .cloned()
                .collect();
            let resp = self.send(ctx, insecure, Method::GET, &current, &hs).await?;
            if !matches!(resp.status, 301 | 302 | 303 | 307 | 308) {
                return Ok(resp);
            }
            let location = resp
                .headers
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| ctx.protocol("a redirect without a Location"))?;
            current = resolve(&current, location);
        }
        Err(ctx.protocol(format!("more than {MAX_REDIRECTS} redirects")))
    }
}

/// `scheme://authority` of a URL.
pub(crate) fn origin_of(url: &str) -> String {
    match url.find("://") {
        Some(i) => {
            let rest = &url[i + 3..];
            let end = rest.find(['/', '?']).unwrap_or(rest.len());
            url[..i + 3 + end].to_ascii_lowercase()
        }
        None => String::new(),
    }
}

/// `reference` (absolute, `/path` or `//host/path`) against `base`.
pub(crate) fn resolve(base: &str, reference: &str) -> String {
    if reference.contains("://") {
        return reference.to_string();
    }
    let origin = origin_of(base);
    if let Some(rest) = reference.strip_prefix("//") {
        let scheme = origin.split("://").next().unwrap_or("https");
        return format!("{scheme}://{rest}");
    }
    if reference.starts_with('/') {
        return format!("{origin}{reference}");
    }
    let path_end = base.find('?').unwrap_or(base.len());
    let dir_end = base[..path_end].rfind('/').map_or(path_end, |i| i + 1);
    format!("{}{reference}", &base[..dir_end])
}

fn build(tls: rustls::ClientConfig, timeout: Duration) -> HttpClient {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(timeout));
    http.set_nodelay(true);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .build(https)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The system's root certificates.
fn verified_tls() -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    tracing::debug!(added, ignored, "system root certificates");
    rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
        .unwrap_or_else(|_| {
            rustls::ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        })
}

/// Any certificate is accepted (`insecure: true`); handshake signatures are still checked.
fn insecure_tls() -> rustls::ClientConfig {
    let mut cfg = verified_tls();
    cfg.dangerous()
        .set_certificate_verifier(Arc::new(NoVerify(provider())));
    cfg
}

#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn transport_error(ctx: &Ctx, e: hyper_util::client::legacy::Error) -> RegistryError {
    match tls_reason(&e) {
        Some(reason) => RegistryError::Tls {
            registry: ctx.registry.clone(),
            repo: ctx.repo.clone(),
            step: ctx.step,
            reason,
        },
        None => RegistryError::Unreachable {
            registry: ctx.registry.clone(),
            repo: ctx.repo.clone(),
            step: ctx.step,
            source: Arc::new(e),
        },
    }
}

/// rustls's reason when `e` (or one of its causes) is a TLS failure.
fn tls_reason(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    fjord_model::find_cause::<rustls::Error>(e).map(ToString::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_resolve() {
        assert_eq!(
            origin_of("https://Reg.io:5000/v2/x?a=1"),
            "https://reg.io:5000"
        );
        assert_eq!(origin_of("http://h?x"), "http://h");
        let base = "https://reg.io/v2/a/blobs/sha256:1";
        assert_eq!(
            resolve(base, "/v2/a/tags/list?n=2"),
            "https://reg.io/v2/a/tags/list?n=2"
        );
        assert_eq!(resolve(base, "https://s3/x?sig=1"), "https://s3/x?sig=1");
        assert_eq!(resolve(base, "//cdn/x"), "https://cdn/x");
        assert_eq!(resolve(base, "other"), "https://reg.io/v2/a/blobs/other");
    }
}
