//! What the real registry of the test kit (distribution 2.8) cannot show: `Link` pagination of
//! tag lists and config blobs behind a 307 redirect. A scripted HTTP server answers by path.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fjord_registry::{sha256_digest, ClientOptions, Endpoint, RegistryClient, RegistryError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

type Routes = HashMap<String, (u16, Vec<(String, String)>, Vec<u8>)>;

/// Serves `routes` (request target → status, headers, body), one request per connection;
/// records every target asked for.
async fn serve(routes: Routes) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (routes, log) = (Arc::new(routes), Arc::clone(&seen));
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let (routes, log) = (Arc::clone(&routes), Arc::clone(&log));
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).to_string();
                let target = head.split_whitespace().nth(1).unwrap_or("").to_string();
                log.lock().unwrap().push(target.clone());
                let (status, headers, body) =
                    routes
                        .get(&target)
                        .cloned()
                        .unwrap_or((404, vec![], b"{}".to_vec()));
                let mut out = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                    body.len()
                );
                for (k, v) in headers {
                    out += &format!("{k}: {v}\r\n");
                }
                out += "\r\n";
                let _ = conn.write_all(out.as_bytes()).await;
                let _ = conn.write_all(&body).await;
            });
        }
    });
    (url, seen)
}

fn route(routes: &mut Routes, target: &str, status: u16, headers: &[(&str, &str)], body: &[u8]) {
    routes.insert(
        target.to_string(),
        (
            status,
            headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body.to_vec(),
        ),
    );
}

#[tokio::test]
async fn link_pages_are_followed() {
    let mut routes = Routes::new();
    route(&mut routes, "/v2/", 200, &[], b"{}");
    route(
        &mut routes,
        "/v2/app/tags/list?n=2",
        200,
        &[("Link", r#"</v2/app/tags/list?n=2&last=b>; rel="next""#)],
        br#"{"name":"app","tags":["a","b"]}"#,
    );
    route(
        &mut routes,
        "/v2/app/tags/list?n=2&last=b",
        200,
        &[("Link", r#"</v2/app/tags/list?n=2&last=d>; rel="next""#)],
        br#"{"name":"app","tags":["c","d"]}"#,
    );
    route(
        &mut routes,
        "/v2/app/tags/list?n=2&last=d",
        200,
        &[],
        br#"{"name":"app","tags":["e"]}"#,
    );
    // A page pointing back at itself must not loop.
    route(
        &mut routes,
        "/v2/loop/tags/list?n=2",
        200,
        &[("Link", r#"</v2/loop/tags/list?n=2>; rel="next""#)],
        br#"{"name":"loop","tags":["x"]}"#,
    );
    let (url, seen) = serve(routes).await;
    let ep = Endpoint::new("fake", &url);
    let client = RegistryClient::with_options(ClientOptions {
        page_size: Some(2),
        ..ClientOptions::new(Duration::from_secs(60))
    });
    let tags = client.list_tags(&ep, "app", None).await.unwrap();
    assert_eq!(tags.as_slice(), ["a", "b", "c", "d", "e"]);
    assert_eq!(
        seen.lock().unwrap().as_slice(),
        [
            "/v2/",
            "/v2/app/tags/list?n=2",
            "/v2/app/tags/list?n=2&last=b",
            "/v2/app/tags/list?n=2&last=d"
        ]
    );
    let err = client.list_tags(&ep, "loop", None).await.unwrap_err();
    assert!(
        matches!(&err, RegistryError::Protocol { reason, .. } if reason.contains("loop")),
        "{err:?}"
    );
}

#[tokio::test]
async fn config_blobs_follow_redirects() {
    let config = br#"{"created":"2025-02-03T04:05:06Z","os":"linux","architecture":"amd64"}"#;
    let config_digest = sha256_digest(config);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
            "config":{{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"{config_digest}","size":{}}},"layers":[]}}"#,
        config.len()
    );
    let mut routes = Routes::new();
    route(&mut routes, "/v2/", 200, &[], b"{}");
    route(
        &mut routes,
        "/v2/app/manifests/1.0",
        200,
        &[
            (
                "Content-Type",
                "application/vnd.docker.distribution.manifest.v2+json",
            ),
            ("Docker-Content-Digest", "sha256:0000"),
        ],
        manifest.as_bytes(),
    );
    route(
        &mut routes,
        &format!("/v2/app/blobs/{config_digest}"),
        307,
        &[("Location", "/storage/config?sig=1")],
        b"",
    );
    route(&mut routes, "/storage/config?sig=1", 200, &[], config);
    let (url, seen) = serve(routes).await;
    let ep = Endpoint::new("fake", &url);
    let client = RegistryClient::new(Duration::from_secs(60));
    let meta = client.tag_meta(&ep, "app", "1.0", &[], None).await.unwrap();
    assert_eq!(
        meta.digest,
        sha256_digest(manifest.as_bytes()),
        "computed, not the header's"
    );
    assert_eq!(
        meta.created.unwrap().to_rfc3339(),
        "2025-02-03T04:05:06+00:00"
    );
    assert_eq!(
        seen.lock().unwrap().last().unwrap(),
        "/storage/config?sig=1"
    );
    // Configs are cached by digest: a second look sends only nothing new for the blob.
    let before = client.requests();
    client.tag_meta(&ep, "app", "1.0", &[], None).await.unwrap();
    assert_eq!(
        client.requests(),
        before,
        "tag manifest and config both cached"
    );
}
