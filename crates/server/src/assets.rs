//! The embedded web UI (built by build.rs from ui/ with npm and Vite). (Owner: the UI engineer.)
//!
//! `/` and `/index.html` serve the single-page app; `/assets/*` serves Vite's hashed files with a
//! one-year immutable cache (their names change when their content does), gzip-compressed when
//! the browser accepts it and the build made a `.gz` copy; any other path outside `/api/` gets
//! `index.html` (the app routes itself). A path with `..` (also percent-encoded), a backslash or
//! a NUL is refused with 400 before any lookup.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::error::ApiError;
use crate::state::AppState;

/// The UI's files: (path under the site root, bytes).
pub static ASSETS: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/ui_assets.rs"));

/// `Cache-Control` of the hashed files under `assets/`.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of `index.html` and the SPA fallback: always revalidate.
const NO_CACHE: &str = "no-cache";
/// The page's Content-Security-Policy: everything from this origin, nothing inline but styles.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                   object-src 'none'; base-uri 'self'; frame-ancestors 'none'";

/// Routes serving the UI: `/` and every asset; any other non-API path gets `index.html` (the
/// single-page app routes itself). A path with `..` or a backslash is refused.
pub fn routes() -> Router<AppState> {
    router()
}

/// The UI routes over any state (the catch-all yields to every more specific route it is
/// merged with).
fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(serve))
        .route("/{*path}", get(serve))
}

async fn serve(uri: Uri, headers: HeaderMap) -> Response {
    let gzip = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(accepts_gzip);
    respond(ASSETS, uri.path(), gzip)
}

/// Whether an `Accept-Encoding` value allows gzip (and does not refuse it with `q=0`).
fn accepts_gzip(value: &str) -> bool {
    value.split(',').any(|part| {
        let mut it = part.split(';').map(str::trim);
        let coding = it.next().unwrap_or("");
        let refused = it.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
    })
}

/// Whether a raw (still percent-encoded) request path tries to leave the site root or smuggle
/// a separator: `..` in any encoding, a backslash, or a NUL.
pub fn is_unsafe_path(raw: &str) -> bool {
    let lower = raw.to_ascii_lowercase();
    let dots = lower.replace("%2e", ".");
    dots.contains("..")
        || lower.contains('\\')
        || lower.contains("%5c")
        || lower.contains('\0')
        || lower.contains("%00")
}

/// The Content-Type of a file name.
pub fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match ext.to_ascii_lowercase().as_str() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "txt" => "text/plain; charset=utf-8",
        "wasm" => "application/wasm",
        "gz" => "application/gzip",
        _ => "application/octet-stream",
    }
}

fn find(assets: &'static [(&'static str, &'static [u8])], path: &str) -> Option<&'static [u8]> {
    assets.iter().find(|(p, _)| *p == path).map(|(_, b)| *b)
}

/// The response for a request path (raw, percent-encoded) over `assets`.
pub fn respond(
    assets: &'static [(&'static str, &'static [u8])],
    raw: &str,
    gzip: bool,
) -> Response {
    if is_unsafe_path(raw) {
        return ApiError::bad_request(format!(
            "refused asset path {raw:?}: it may not contain '..', a backslash or NUL"
        ))
        .into_response();
    }
    if raw == "/api" || raw.starts_with("/api/") {
        return ApiError::not_found(format!("no API route {raw}")).into_response();
    }
    let path = raw.trim_start_matches('/');
    let path = if path.is_empty() { "index.html" } else { path };
    if let Some(body) = find(assets, path) {
        let cache = if path.starts_with("assets/") {
            IMMUTABLE
        } else {
            NO_CACHE
        };
        return file(assets, path, body, cache, gzip);
    }
    if path.starts_with("assets/") {
        return ApiError::not_found(format!("no asset {raw}")).into_response();
    }
    match find(assets, "index.html") {
        Some(body) => file(assets, "index.html", body, NO_CACHE, gzip),
        None => ApiError::not_found("the web UI is not built into this binary").into_response(),
    }
}

fn file(
    assets: &'static [(&'static str, &'static [u8])],
    path: &str,
    body: &'static [u8],
    cache: &'static str,
    gzip: bool,
) -> Response {
    let zipped = if gzip && !path.ends_with(".gz") {
        find(assets, &format!("{path}.gz"))
    } else {
        None
    };
    let mut res = Response::new(Body::from(zipped.unwrap_or(body)));
    *res.status_mut() = StatusCode::OK;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if zipped.is_some() {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    if path.ends_with(".html") {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    static FIXTURE: &[(&str, &[u8])] = &[
        ("index.html", b"<!doctype html><title>fjord</title>"),
        ("assets/index-abc123.js", b"console.log(1)"),
        ("assets/index-abc123.js.gz", b"\x1f\x8bzipped"),
        ("assets/index-def456.css", b"body{}"),
        ("favicon.svg", b"<svg/>"),
    ];

    fn header(res: &Response, name: header::HeaderName) -> Option<String> {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    }

    async fn body(res: Response) -> Vec<u8> {
        use futures::StreamExt;
        let mut stream = res.into_body().into_data_stream();
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk.unwrap());
        }
        out
    }

    #[test]
    fn traversal_and_odd_paths_are_refused_with_400() {
        for raw in [
            "/../etc/passwd",
            "/assets/../../Cargo.toml",
            "/assets/%2e%2e/secret",
            "/assets/%2E%2E/secret",
            "/assets/.%2e/secret",
            "/assets/%2e./secret",
            "/assets\\..\\x",
            "/assets/a\\b.js",
            "/assets/a%5cb.js",
            "/index.html%00.js",
            "/x\0y",
            "/api/v1/../../etc",
        ] {
            let res = respond(FIXTURE, raw, false);
            assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{raw}");
        }
        // Dots that are not a parent reference are fine.
        assert!(!is_unsafe_path("/assets/index-abc123.js"));
        assert!(!is_unsafe_path("/applications/argocd/my.app.v2"));
    }

    #[tokio::test]
    async fn root_and_index_serve_the_page_without_caching() {
        for raw in ["/", "/index.html"] {
            let res = respond(FIXTURE, raw, false);
            assert_eq!(res.status(), StatusCode::OK);
            assert_eq!(
                header(&res, header::CONTENT_TYPE).as_deref(),
                Some("text/html; charset=utf-8")
            );
            assert_eq!(
                header(&res, header::CACHE_CONTROL).as_deref(),
                Some(NO_CACHE)
            );
            assert!(header(&res, header::CONTENT_SECURITY_POLICY).is_some());
            assert_eq!(body(res).await, b"<!doctype html><title>fjord</title>");
        }
    }

    #[tokio::test]
    async fn hashed_assets_are_immutable_with_their_types() {
        let res = respond(FIXTURE, "/assets/index-abc123.js", false);
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            header(&res, header::CONTENT_TYPE).as_deref(),
            Some("text/javascript; charset=utf-8")
        );
        assert_eq!(
            header(&res, header::CACHE_CONTROL).as_deref(),
            Some(IMMUTABLE)
        );
        assert_eq!(header(&res, header::CONTENT_ENCODING), None);
        assert_eq!(body(res).await, b"console.log(1)");
        let css = respond(FIXTURE, "/assets/index-def456.css", true);
        assert_eq!(
            header(&css, header::CONTENT_TYPE).as_deref(),
            Some("text/css; charset=utf-8")
        );
        // No .gz copy: the plain file even when gzip is accepted.
        assert_eq!(header(&css, header::CONTENT_ENCODING), None);
        let svg = respond(FIXTURE, "/favicon.svg", false);
        assert_eq!(
            header(&svg, header::CONTENT_TYPE).as_deref(),
            Some("image/svg+xml")
        );
        assert_eq!(
            header(&svg, header::CACHE_CONTROL).as_deref(),
            Some(NO_CACHE)
        );
    }

    #[tokio::test]
    async fn gzip_copy_is_sent_when_accepted() {
        let res = respond(FIXTURE, "/assets/index-abc123.js", true);
        assert_eq!(
            header(&res, header::CONTENT_ENCODING).as_deref(),
            Some("gzip")
        );
        assert_eq!(
            header(&res, header::CONTENT_TYPE).as_deref(),
            Some("text/javascript; charset=utf-8")
        );
        assert_eq!(body(res).await, b"\x1f\x8bzipped");
        assert!(accepts_gzip("gzip, deflate, br"));
        assert!(accepts_gzip("br;q=1.0, gzip;q=0.8"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("br, deflate"));
    }

    #[tokio::test]
    async fn spa_fallback_but_not_for_assets_or_api() {
        for raw in ["/applications", "/applications/argocd/web", "/login"] {
            let res = respond(FIXTURE, raw, false);
            assert_eq!(res.status(), StatusCode::OK, "{raw}");
            assert_eq!(
                header(&res, header::CONTENT_TYPE).as_deref(),
                Some("text/html; charset=utf-8")
            );
            assert_eq!(body(res).await, b"<!doctype html><title>fjord</title>");
        }
        assert_eq!(
            respond(FIXTURE, "/assets/missing-123.js", false).status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            respond(FIXTURE, "/api/v1/nothing", false).status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            respond(FIXTURE, "/api", false).status(),
            StatusCode::NOT_FOUND
        );
    }

    /// One raw HTTP/1.1 GET through a real listener; returns the status line.
    async fn status_of(addr: std::net::SocketAddr, path: &str) -> String {
        let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        tokio::task::spawn_blocking(move || {
            use std::io::{Read, Write};
            let mut conn = std::net::TcpStream::connect(addr).unwrap();
            conn.write_all(req.as_bytes()).unwrap();
            let mut out = Vec::new();
            conn.read_to_end(&mut out).unwrap();
            String::from_utf8_lossy(&out)
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .await
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn routing_through_a_real_listener() {
        async fn api() -> &'static str {
            "api"
        }
        let app: Router = Router::new()
            .route("/api/v1/applications", get(api))
            .merge(router());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        assert!(status_of(addr, "/api/v1/applications")
            .await
            .contains("200"));
        assert!(status_of(addr, "/api/v1/nope").await.contains("404"));
        // Raw `..` reaches the handler unnormalized and is refused.
        assert!(status_of(addr, "/assets/../Cargo.toml")
            .await
            .contains("400"));
        assert!(status_of(addr, "/assets/%2e%2e/Cargo.toml")
            .await
            .contains("400"));
        assert!(status_of(addr, "/").await.contains("200"));
        assert!(status_of(addr, "/applications/argocd/web")
            .await
            .contains("200"));
        assert!(status_of(addr, "/assets/nope.js").await.contains("404"));
        server.abort();
    }

    #[test]
    fn content_types_by_extension() {
        assert_eq!(content_type("a/b.JS"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("x.woff2"), "font/woff2");
        assert_eq!(content_type("x.png"), "image/png");
        assert_eq!(content_type("noext"), "application/octet-stream");
    }

    #[test]
    fn the_built_ui_is_embedded() {
        assert!(
            ASSETS.iter().any(|(p, _)| *p == "index.html"),
            "index.html is embedded"
        );
        assert!(ASSETS
            .iter()
            .any(|(p, _)| p.starts_with("assets/") && p.ends_with(".js")));
    }
}
