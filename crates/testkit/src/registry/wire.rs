//! A blocking HTTP/1.1 client over `std::net` for pushing test images (one connection a request),
//! with the registry's auth: basic credentials, or the bearer token flow (challenge → token
//! server → retry).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// A response: status, headers (names lower-cased) and body.
#[derive(Debug)]
pub(super) struct Resp {
    pub(super) status: u16,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
}

impl Resp {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One request to `host` (`127.0.0.1:PORT`), over TLS when `tls` is given; `target` is a path
/// with query.
pub(super) fn send(
    host: &str,
    tls: Option<&Arc<rustls::ClientConfig>>,
    method: &str,
    target: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<Resp> {
    let conn = TcpStream::connect(host)?;
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut req = format!(
        "{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req += &format!("{k}: {v}\r\n");
    }
    req += "\r\n";
    let mut message = req.into_bytes();
    message.extend_from_slice(body);
    let raw = match tls {
        None => exchange(conn, &message)?,
        Some(config) => {
            let name = rustls::pki_types::ServerName::try_from("127.0.0.1")
                .map_err(std::io::Error::other)?;
            let client = rustls::ClientConnection::new(Arc::clone(config), name)
                .map_err(std::io::Error::other)?;
            exchange(rustls::StreamOwned::new(client, conn), &message)?
        }
    };
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("not an HTTP response"))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status code"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"))
    {
        body = crate::http::dechunk(&body);
    }
    Ok(Resp {
        status,
        headers,
        body,
    })
}

/// Writes `message`, reads until the server closes (an unclean TLS close ends the answer too).
fn exchange<S: Read + Write>(mut conn: S, message: &[u8]) -> std::io::Result<Vec<u8>> {
    conn.write_all(message)?;
    conn.flush()?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 << 10];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => return Ok(raw),
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {
                return Ok(raw)
            }
            Err(e) => return Err(e),
        }
    }
}

/// How a push authenticates.
#[derive(Debug, Clone)]
pub(super) enum PushAuth {
    None,
    Basic(String, String),
    /// Bearer tokens from the challenge's realm, fetched with these basic credentials.
    Token(String, String),
}

/// A pushing session against one registry: remembers the bearer token it got.
pub(super) struct Session {
    pub(super) host: String,
    pub(super) tls: Option<Arc<rustls::ClientConfig>>,
    pub(super) auth: PushAuth,
    bearer: Option<String>,
}

impl Session {
    pub(super) fn new(
        host: String,
        tls: Option<Arc<rustls::ClientConfig>>,
        auth: PushAuth,
    ) -> Session {
        Session {
            host,
            tls,
            auth,
            bearer: None,
        }
    }

    /// Sends with the session's credentials; on a bearer challenge fetches a token and retries.
    pub(super) fn send(
        &mut self,
        method: &str,
        target: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> Resp {
        let first = self.try_send(method, target, headers, body);
        if first.status != 401 {
            return first;
        }
        let challenge = first.header("www-authenticate").unwrap_or_default();
        if let (PushAuth::Token(user, pass), Some(rest)) =
            (&self.auth, challenge.strip_prefix("Bearer "))
        {
            self.bearer = Some(fetch_token(rest, user, pass));
            return self.try_send(method, target, headers, body);
        }
        first
    }

    fn try_send(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> Resp {
        let mut all: Vec<(&str, String)> = headers.to_vec();
        match (&self.auth, &self.bearer) {
            (PushAuth::Basic(u, p), _) => all.push(("Authorization", basic(u, p))),
            (PushAuth::Token(..), Some(t)) => all.push(("Authorization", format!("Bearer {t}"))),
            _ => {}
        }
        send(&self.host, self.tls.as_ref(), method, target, &all, body)
            .unwrap_or_else(|e| panic!("{method} {target} at {}: {e}", self.host))
    }
}

fn basic(user: &str, pass: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{pass}")))
}

/// The token for a `Bearer realm=..,service=..,scope=..` challenge's parameters.
fn fetch_token(params: &str, user: &str, pass: &str) -> String {
    let mut realm = String::new();
    let mut query = Vec::new();
    for (k, v) in split_params(params) {
        match k.as_str() {
            "realm" => realm = v,
            "service" | "scope" => query.push(format!("{k}={}", escape(&v))),
            _ => {}
        }
    }
    let rest = realm
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("token realm {realm:?} is not http://"));
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let target = format!("/{path}?{}", query.join("&"));
    let resp = send(
        host,
        None,
        "GET",
        &target,
        &[("Authorization", basic(user, pass))],
        b"",
    )
    .unwrap_or_else(|e| panic!("token server {host}: {e}"));
    assert_eq!(resp.status, 200, "the token server refused the push");
    let json: serde_json::Value = serde_json::from_slice(&resp.body).expect("token JSON");
    json.get("token")
        .or_else(|| json.get("access_token"))
        .and_then(|t| t.as_str())
        .expect("a token")
        .to_string()
}

/// `k="v",k2="v2"` pairs (quoted values may hold commas).
fn split_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq].trim().trim_start_matches(',').trim().to_string();
        let after = &rest[eq + 1..];
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"').unwrap_or(q.len());
            (q[..end].to_string(), &q[(end + 1).min(q.len())..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].to_string(), &after[end..])
        };
        out.push((key, value));
        rest = next.trim_start_matches(',').trim();
    }
    out
}

fn escape(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
