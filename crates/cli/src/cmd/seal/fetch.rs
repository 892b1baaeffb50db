//! Reading a certificate or talking to the controller: local files, `file://` URLs, and
//! `http://` URLs through a small blocking HTTP/1.1 client on `std::net::TcpStream`.
//! `https://` is not supported (use `kubectl proxy` / `kubectl port-forward`, or a file).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Largest response body accepted.
const MAX_BODY: usize = 16 << 20;
const TIMEOUT: Duration = Duration::from_secs(30);

/// Failures fetching a resource.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// A local file could not be read.
    #[error("cannot read {path}")]
    File {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The URL scheme is not supported.
    #[error("{0}: only file paths, file:// and http:// URLs are supported (https: use `kubectl proxy` or a local file)")]
    Scheme(String),
    /// The URL is malformed.
    #[error("invalid URL {0}")]
    Url(String),
    /// Network failure.
    #[error("{url}")]
    Io {
        /// The URL.
        url: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The server answered something unreadable.
    #[error("{url}: malformed HTTP response")]
    Malformed {
        /// The URL.
        url: String,
    },
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// Reads `location`: a URL (`http://`, `file://`) or a local path.
pub fn read_location(location: &str) -> Result<Vec<u8>, FetchError> {
    if let Some(path) = location.strip_prefix("file://") {
        return read_file(path);
    }
    if location.starts_with("http://") {
        let r = request("GET", location, None)?;
        if r.status != 200 {
            return Err(FetchError::Io {
                url: location.to_string(),
                source: std::io::Error::other(format!("HTTP status {}", r.status)),
            });
        }
        return Ok(r.body);
    }
    if location.contains("://") {
        return Err(FetchError::Scheme(location.to_string()));
    }
    read_file(location)
}

fn read_file(path: &str) -> Result<Vec<u8>, FetchError> {
    std::fs::read(path).map_err(|source| FetchError::File {
        path: path.to_string(),
        source,
    })
}

/// Sends one HTTP/1.1 request (`Connection: close`) and reads the whole answer.
pub fn request(method: &str, url: &str, body: Option<&[u8]>) -> Result<Response, FetchError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| FetchError::Scheme(url.to_string()))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(FetchError::Url(url.to_string()));
    }
    let addr = if authority.contains(':') && !authority.ends_with(']') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let io = |source| FetchError::Io {
        url: url.to_string(),
        source,
    };
    let mut stream = TcpStream::connect(&addr).map_err(io)?;
    stream.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(io)?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: fjord-seal\r\nConnection: close\r\n");
    if let Some(b) = body {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).map_err(io)?;
    if let Some(b) = body {
        stream.write_all(b).map_err(io)?;
    }
    let mut raw = Vec::new();
    stream
        .take((MAX_BODY + 65536) as u64)
        .read_to_end(&mut raw)
        .map_err(io)?;
    parse_response(&raw).ok_or_else(|| FetchError::Malformed {
        url: url.to_string(),
    })
}

fn parse_response(raw: &[u8]) -> Option<Response> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let mut chunked = false;
    let mut length = None;
    for line in lines {
        let (k, v) = line.split_once(':')?;
        let v = v.trim();
        if k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked") {
            chunked = true;
        } else if k.eq_ignore_ascii_case("content-length") {
            length = v.parse::<usize>().ok();
        }
    }
    let rest = &raw[split + 4..];
    let body = if chunked {
        let mut out = Vec::new();
        let mut cur = rest;
        loop {
            let eol = cur.windows(2).position(|w| w == b"\r\n")?;
            let size_text = std::str::from_utf8(&cur[..eol]).ok()?;
            let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
            cur = &cur[eol + 2..];
            if size == 0 {
                break;
            }
            out.extend_from_slice(cur.get(..size)?);
            cur = cur.get(size + 2..)?;
        }
        out
    } else {
        match length {
            Some(n) => rest.get(..n)?.to_vec(),
            None => rest.to_vec(),
        }
    };
    (body.len() <= MAX_BODY).then_some(Response { status, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked() {
        let r = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"abc"[..]));
        let r = parse_response(b"HTTP/1.1 409 Conflict\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (409, &b"abc"[..]));
        assert!(parse_response(b"garbage").is_none());
    }

    #[test]
    fn round_trip_over_loopback() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            let n = s.read(&mut buf).unwrap();
            assert!(buf[..n].starts_with(b"GET /v1/cert.pem HTTP/1.1\r\n"));
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
                .unwrap();
        });
        let body = read_location(&format!("http://127.0.0.1:{port}/v1/cert.pem")).unwrap();
        assert_eq!(body, b"hello");
        server.join().unwrap();
        assert!(matches!(
            read_location("https://x/"),
            Err(FetchError::Scheme(_))
        ));
    }
}
