//! `git http-backend` (smart HTTP): a minimal HTTP/1.1 server that runs `git http-backend` as a CGI program per request (smart
//! HTTP), with optional basic authentication. Handles `Content-Length` and chunked request bodies;
//! every response closes the connection.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use base64::Engine;

/// A running bridge; stops accepting on drop.
pub struct HttpBackend {
    /// The port it listens on.
    pub port: u16,
    /// How many connections it accepted.
    pub requests: Arc<AtomicUsize>,
    /// How many requests it refused for missing or wrong credentials.
    pub unauthorized: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Drop for HttpBackend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Serves the repositories under `root`; with `auth = Some((user, pass))` every request must carry
/// those basic-auth credentials.
pub fn serve(root: &Path, auth: Option<(&str, &str)>) -> HttpBackend {
    serve_with(root, auth, None)
}

/// Like [`serve`], over TLS with a fresh self-signed certificate for `127.0.0.1`.
pub fn serve_tls(root: &Path, auth: Option<(&str, &str)>) -> HttpBackend {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()])
        .expect("self-signed certificate");
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        cert.signing_key.serialize_der(),
    ));
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .expect("tls config");
    serve_with(root, auth, Some(Arc::new(config)))
}

fn serve_with(
    root: &Path,
    auth: Option<(&str, &str)>,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> HttpBackend {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind http");
    let port = listener.local_addr().unwrap().port();
    let stop = Arc::new(AtomicBool::new(false));
    let requests = Arc::new(AtomicUsize::new(0));
    let unauthorized = Arc::new(AtomicUsize::new(0));
    let expected = auth.map(|(u, p)| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        )
    });
    let (root, s, r, un) = (
        root.to_path_buf(),
        Arc::clone(&stop),
        Arc::clone(&requests),
        Arc::clone(&unauthorized),
    );
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            if s.load(Ordering::SeqCst) {
                break;
            }
            let Ok(conn) = conn else { continue };
            let (root, expected, r, un) = (
                root.clone(),
                expected.clone(),
                Arc::clone(&r),
                Arc::clone(&un),
            );
            let tls = tls.clone();
            std::thread::spawn(move || {
                r.fetch_add(1, Ordering::SeqCst);
                let result = match tls {
                    Some(config) => rustls::ServerConnection::new(config)
                        .map_err(std::io::Error::other)
                        .and_then(|server| {
                            let stream = rustls::StreamOwned::new(server, conn);
                            handle(stream, &root, expected.as_deref(), &un)
                        }),
                    None => handle(conn, &root, expected.as_deref(), &un),
                };
                if let Err(e) = result {
                    eprintln!("http bridge: {e}");
                }
            });
        }
    });
    HttpBackend {
        port,
        requests,
        unauthorized,
        stop,
    }
}

/// One parsed request: method, target and lower-cased headers, and the body.
struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn handle<S: Read + Write>(
    conn: S,
    root: &Path,
    expected_auth: Option<&str>,
    unauthorized: &AtomicUsize,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn);
    let mut req = read_head(&mut reader)?;
    if let Some(expected) = expected_auth {
        if req.header("authorization") != Some(expected) {
            unauthorized.fetch_add(1, Ordering::SeqCst);
            let out = reader.get_mut();
            out.write_all(
                b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )?;
            return out.flush();
        }
    }
    req.body = read_body(&mut reader, &req)?;
    let cgi = run_cgi(&req, root, expected_auth.is_some())?;
    let out = reader.get_mut();
    out.write_all(&response(&cgi))?;
    out.flush()
}

/// The request line and the headers.
fn read_head(reader: &mut impl BufRead) -> std::io::Result<Request> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    Ok(Request {
        method,
        target,
        headers,
        body: Vec::new(),
    })
}

/// The body: chunked or `Content-Length` bytes.
fn read_body(reader: &mut impl BufRead, req: &Request) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    if req
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            if n == 0 {
                let mut trailer = String::new();
                reader.read_line(&mut trailer)?;
                break;
            }
            let mut chunk = vec![0; n];
            reader.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk);
            let mut crlf = [0u8; 2];
            reader.read_exact(&mut crlf)?;
        }
    } else if let Some(n) = req
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        body.resize(n, 0);
        reader.read_exact(&mut body)?;
    }
    Ok(body)
}

/// Runs `git http-backend` for the request; returns its CGI output.
fn run_cgi(req: &Request, root: &Path, authenticated: bool) -> std::io::Result<Vec<u8>> {
    let (path, query) = req.target.split_once('?').unwrap_or((&req.target, ""));
    let mut cmd = Command::new("git");
    cmd.arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("SERVER_PROTOCOL", "HTTP/1.1")
        .env("REQUEST_METHOD", &req.method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("CONTENT_LENGTH", req.body.len().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (header, var) in [
        ("content-type", "CONTENT_TYPE"),
        ("git-protocol", "HTTP_GIT_PROTOCOL"),
        ("content-encoding", "HTTP_CONTENT_ENCODING"),
    ] {
        if let Some(v) = req.header(header) {
            cmd.env(var, v);
        }
    }
    if authenticated {
        cmd.env("REMOTE_USER", "test");
    }
    let mut child = cmd.spawn()?;
    let mut stdin = child.stdin.take().expect("stdin");
    let body = req.body.clone();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let mut cgi = Vec::new();
    child.stdout.take().expect("stdout").read_to_end(&mut cgi)?;
    let _ = writer.join();
    let _ = child.wait();
    Ok(cgi)
}

/// The HTTP response for a CGI output (its `Status:` header, the others as they are).
fn response(cgi: &[u8]) -> Vec<u8> {
    let split = find(cgi, b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| find(cgi, b"\n\n").map(|i| (i, 2)))
        .unwrap_or((cgi.len(), 0));
    let head = String::from_utf8_lossy(&cgi[..split.0]).to_string();
    let payload = &cgi[(split.0 + split.1).min(cgi.len())..];
    let mut status = "200 OK".to_string();
    let mut extra = String::new();
    for h in head.lines() {
        if let Some(s) = h.strip_prefix("Status:") {
            status = s.trim().to_string();
        } else if !h.trim().is_empty() {
            extra.push_str(h.trim_end());
            extra.push_str("\r\n");
        }
    }
    let mut response = format!(
        "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
        payload.len()
    )
    .into_bytes();
    response.extend_from_slice(payload);
    response
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
