//! The CSRF guard: a write under `/api/` (any method but GET, HEAD and OPTIONS) must say
//! `Content-Type: application/json` (an HTML form cannot; a cross-site script would need a CORS
//! preflight this server never answers), else 415; and when it carries an `Origin`, that origin
//! must be the server's own (its `Host`), else 403.

use axum::extract::Request;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Whether a `Content-Type` value is JSON (`application/json`, parameters allowed).
fn is_json(v: &str) -> bool {
    v.split(';')
        .next()
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

/// `host[:port]` with the scheme's default port dropped, lowercased.
fn normalize(authority: &str, scheme: Option<&str>) -> String {
    let a = authority.trim().to_ascii_lowercase();
    let default = match scheme {
        Some("https") => ":443",
        Some("http") => ":80",
        _ => {
            return a
                .trim_end_matches(":80")
                .trim_end_matches(":443")
                .to_string()
        }
    };
    a.strip_suffix(default).map(str::to_string).unwrap_or(a)
}

/// Whether `origin` names the same host and port as `host`.
fn same_origin(origin: &str, host: &str) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or("");
    !authority.is_empty() && normalize(authority, Some(scheme)) == normalize(host, None)
}

/// The check itself (`None`: the request may pass).
pub fn check(method: &Method, path: &str, headers: &HeaderMap) -> Option<ApiError> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) || !path.starts_with("/api/")
    {
        return None;
    }
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !is_json(ct) {
        return Some(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "{method} {path}: Content-Type must be application/json (got {})",
                if ct.is_empty() {
                    "none"
                } else {
                    "another type"
                }
            ),
        ));
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !same_origin(origin, host) {
            return Some(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("{method} {path}: the request's Origin is not this server ({host}); cross-site writes are refused"),
            ));
        }
    }
    None
}

/// The CSRF guard every request passes (a write needs `Content-Type: application/json` and,
/// when it carries an `Origin`, the server's own origin).
pub async fn csrf_guard(req: Request, next: Next) -> Response {
    if let Some(e) = check(req.method(), req.uri().path(), req.headers()) {
        return e.into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn writes_need_json_and_a_matching_origin() {
        let post = Method::POST;
        let json = [
            ("content-type", "application/json; charset=utf-8"),
            ("host", "h:8088"),
        ];
        assert!(check(&post, "/api/v1/session", &headers(&json)).is_none());
        assert!(check(&Method::GET, "/api/v1/applications", &headers(&[])).is_none());
        assert!(check(&post, "/login", &headers(&[])).is_none());
        let e = check(
            &post,
            "/api/v1/session",
            &headers(&[("content-type", "text/plain")]),
        );
        assert_eq!(e.unwrap().status.as_u16(), 415);
        let e = check(&Method::DELETE, "/api/v1/session", &headers(&[])).unwrap();
        assert_eq!(e.status.as_u16(), 415);
        let ok = [
            ("content-type", "application/json"),
            ("host", "h:8088"),
            ("origin", "http://h:8088"),
        ];
        assert!(check(&post, "/api/v1/session", &headers(&ok)).is_none());
        let bad = [
            ("content-type", "application/json"),
            ("host", "h:8088"),
            ("origin", "https://evil.example"),
        ];
        assert_eq!(
            check(&post, "/api/x", &headers(&bad))
                .unwrap()
                .status
                .as_u16(),
            403
        );
        let null = [
            ("content-type", "application/json"),
            ("host", "h"),
            ("origin", "null"),
        ];
        assert!(check(&post, "/api/x", &headers(&null)).is_some());
        assert!(same_origin("https://h:443", "h"));
        assert!(same_origin("http://H", "h:80"));
    }
}
