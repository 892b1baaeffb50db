//! The token server of a token-auth registry (the distribution "token" scheme): `GET /token?
//! service=..&scope=..` with basic credentials answers a JWT signed (ES256) by a fresh P-256 key
//! whose self-signed certificate is the registry's `rootcertbundle`; the JWT carries the
//! certificate in its `x5c` header. Right credentials get `pull,push` on every repository asked
//! for; no credentials get a token with no access (the registry then answers 401); wrong ones
//! get 401.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;

/// The `service` (JWT audience) the registry is configured with.
pub const SERVICE: &str = "fjord-test-registry";
/// The JWT issuer the registry trusts.
pub const ISSUER: &str = "fjord-test-token-issuer";

/// How the token server answers.
#[derive(Debug, Clone)]
pub struct TokenOptions {
    /// Answer the token as `access_token` instead of `token`.
    pub access_token_field: bool,
    /// The `expires_in` it answers and the JWT's lifetime (seconds).
    pub expires_in: u64,
}

impl Default for TokenOptions {
    fn default() -> Self {
        TokenOptions {
            access_token_field: false,
            expires_in: 300,
        }
    }
}

/// The running token server; stops accepting on drop.
pub(super) struct TokenServer {
    pub(super) port: u16,
    pub(super) requests: Arc<AtomicUsize>,
    /// The signing certificate (PEM), for the registry's `rootcertbundle`.
    pub(super) cert_pem: String,
    stop: Arc<AtomicBool>,
}

struct Signer {
    key: ring::signature::EcdsaKeyPair,
    cert_der: Vec<u8>,
    user: String,
    pass: String,
    options: TokenOptions,
}

impl TokenServer {
    pub(super) fn start(user: &str, pass: &str, options: TokenOptions) -> TokenServer {
        let key = rcgen::KeyPair::generate().expect("a P-256 key");
        let params = rcgen::CertificateParams::new(vec!["fjord-token-issuer".to_string()])
            .expect("certificate parameters");
        let cert = params
            .self_signed(&key)
            .expect("self-signed token certificate");
        let rng = ring::rand::SystemRandom::new();
        let signing = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &key.serialize_der(),
            &rng,
        )
        .expect("ring reads rcgen's PKCS#8 key");
        let signer = Arc::new(Signer {
            key: signing,
            cert_der: cert.der().to_vec(),
            user: user.to_string(),
            pass: pass.to_string(),
            options,
        });
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the token server");
        let port = listener.local_addr().expect("token server address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let (s, r) = (Arc::clone(&stop), Arc::clone(&requests));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                r.fetch_add(1, Ordering::SeqCst);
                let signer = Arc::clone(&signer);
                std::thread::spawn(move || {
                    let _ = answer(conn, &signer);
                });
            }
        });
        TokenServer {
            port,
            requests,
            cert_pem: cert.pem(),
            stop,
        }
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Reads one request and answers it (the connection closes after).
fn answer(conn: TcpStream, signer: &Signer) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let target = line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let mut auth = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 {
            break;
        }
        let t = h.trim_end();
        if t.is_empty() {
            break;
        }
        if let Some((k, v)) = t.split_once(':') {
            if k.trim().eq_ignore_ascii_case("authorization") {
                auth = Some(v.trim().to_string());
            }
        }
    }
    let (status, body) = respond(&target, auth.as_deref(), signer);
    let out = reader.get_mut();
    let reason = if status == 200 { "OK" } else { "Unauthorized" };
    write!(
        out,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )?;
    out.flush()
}

/// The status and JSON body for a token request.
fn respond(target: &str, auth: Option<&str>, signer: &Signer) -> (u16, String) {
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
    let pairs: Vec<(String, String)> = query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_string(), unescape(v)))
        .collect();
    let subject = match auth {
        None => None,
        Some(a) => {
            let expected = format!(
                "Basic {}",
                STANDARD.encode(format!("{}:{}", signer.user, signer.pass))
            );
            if a != expected {
                return (401, r#"{"errors":[{"code":"UNAUTHORIZED"}]}"#.to_string());
            }
            Some(signer.user.clone())
        }
    };
    let mut access = Vec::new();
    if subject.is_some() {
        for (_, scope) in pairs.iter().filter(|(k, _)| k == "scope") {
            let mut parts = scope.splitn(3, ':');
            if let (Some("repository"), Some(name)) = (parts.next(), parts.next()) {
                access.push(serde_json::json!({
                    "type": "repository", "name": name, "actions": ["pull", "push"]
                }));
            }
        }
    }
    let jwt = sign(signer, subject.as_deref().unwrap_or(""), access);
    let field = if signer.options.access_token_field {
        "access_token"
    } else {
        "token"
    };
    let body = serde_json::json!({
        field: jwt,
        "expires_in": signer.options.expires_in,
        "issued_at": chrono_like_now(),
    });
    (200, body.to_string())
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// RFC 3339 of now, UTC, seconds precision (no chrono in the test kit).
fn chrono_like_now() -> String {
    let secs = now_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's algorithm).
pub(super) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A compact JWS (ES256) with the certificate in `x5c`.
fn sign(signer: &Signer, subject: &str, access: Vec<serde_json::Value>) -> String {
    let header = serde_json::json!({
        "typ": "JWT", "alg": "ES256", "x5c": [STANDARD.encode(&signer.cert_der)]
    });
    let now = now_secs();
    let claims = serde_json::json!({
        "iss": ISSUER, "sub": subject, "aud": SERVICE,
        "exp": now + signer.options.expires_in, "nbf": now.saturating_sub(10), "iat": now,
        "jti": format!("fjord-{now}-{}", rand_u64()),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let rng = ring::rand::SystemRandom::new();
    let sig = signer
        .key
        .sign(&rng, signing_input.as_bytes())
        .expect("ECDSA signing");
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

fn rand_u64() -> u64 {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 8];
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    u64::from_le_bytes(b)
}

/// Percent-decoding of a query value (`+` is a space).
fn unescape(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_unescaped() {
        assert_eq!(
            unescape("repository%3Afoo%2Fbar%3Apull%2Cpush"),
            "repository:foo/bar:pull,push"
        );
        assert_eq!(unescape("a+b%"), "a b%");
    }

    #[test]
    fn days_become_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
    }
}
