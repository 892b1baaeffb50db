//! The listener: binds, builds the state and the router (API, then the UI), and serves plain
//! HTTP/1.1 or TLS (`tls.rs`), with a header-read timeout (which also closes connections idle
//! between requests and bounds the TLS handshake) and a cap on open connections.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::service::Service as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use fjord_client::Client;

use crate::auth::Auth;
use crate::cache::apps::AppCache;
use crate::cache::live::LiveCache;
use crate::error::ServerError;
use crate::options::ServerOptions;
use crate::state::{AppState, Inner};

/// A running server.
pub struct ServerHandle {
    /// The address it listens on (the real port when the option asked for port 0).
    pub addr: SocketAddr,
    /// `https` or `http`.
    pub scheme: &'static str,
    /// The serving task.
    pub task: JoinHandle<()>,
}

impl ServerHandle {
    /// The UI's URL.
    pub fn url(&self) -> String {
        format!("{}://{}/", self.scheme, self.addr)
    }
}

/// The router over `state`: the API, the session routes, then the UI.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(crate::api::routes())
        .merge(crate::assets::routes())
        .layer(axum::middleware::from_fn(crate::auth::csrf_guard))
        .with_state(state)
}

/// Connects to the cluster, starts the caches and serves until the task is dropped.
pub async fn start(opts: ServerOptions) -> Result<ServerHandle, ServerError> {
    // A bad certificate or key fails before anything else starts.
    let tls = crate::tls::acceptor(&opts.tls)?;
    let client = Client::connect(&opts.client)
        .await
        .map_err(ServerError::Connect)?;
    let apps = AppCache::start(&client, &opts);
    let live = LiveCache::start(&client, &opts);
    live.follow_apps(&apps);
    let auth = Auth::start(&client, &opts).await?;
    let listener = tokio::net::TcpListener::bind(opts.addr)
        .await
        .map_err(|source| ServerError::Listen {
            addr: opts.addr,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| ServerError::Listen {
            addr: opts.addr,
            source,
        })?;
    let limits = Limits {
        header_read_timeout: opts.header_read_timeout,
        max_connections: opts.max_connections.max(1),
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let state = AppState::new(Inner {
        opts,
        client,
        apps,
        live,
        auth,
    });
    let app = router(state);
    let task = tokio::spawn(serve(listener, app, tls, limits));
    Ok(ServerHandle { addr, scheme, task })
}

/// What one connection may hold.
#[derive(Debug, Clone, Copy)]
struct Limits {
    header_read_timeout: Duration,
    max_connections: usize,
}

/// Accepts connections (at most `limits.max_connections` open: one beyond is closed at once)
/// and serves each on its own task.
async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    tls: Option<TlsAcceptor>,
    limits: Limits,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(_) => {
                // Out of file descriptors and the like: wait, do not spin.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let app = app.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _ = stream.set_nodelay(true);
            match tls {
                None => serve_connection(stream, peer, app, limits).await,
                Some(acceptor) => {
                    let shake =
                        tokio::time::timeout(limits.header_read_timeout, acceptor.accept(stream));
                    if let Ok(Ok(s)) = shake.await {
                        serve_connection(s, peer, app, limits).await;
                    }
                }
            }
        });
    }
}

/// Serves HTTP/1.1 on one connection; each request carries the peer's address
/// (`ConnectInfo<SocketAddr>`).
async fn serve_connection<I>(io: I, peer: SocketAddr, app: Router, limits: Limits)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = TowerToHyperService::new(app);
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        svc.call(req)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let _ = builder.serve_connection(TokioIo::new(io), service).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    async fn spawn(limits: Limits, tls: Option<TlsAcceptor>) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route("/", axum::routing::get(|| async { "ok" }));
        tokio::spawn(serve(listener, app, tls, limits));
        addr
    }

    /// Reads until the peer closes (or `limit` passes): the bytes read, and whether it closed.
    async fn read_all(s: &mut TcpStream, limit: Duration) -> (String, bool) {
        let mut out = Vec::new();
        let closed = tokio::time::timeout(limit, s.read_to_end(&mut out))
            .await
            .is_ok();
        (String::from_utf8_lossy(&out).into_owned(), closed)
    }

    #[tokio::test]
    async fn silent_connections_time_out_and_the_cap_refuses_extra_ones() {
        let limits = Limits {
            header_read_timeout: Duration::from_millis(300),
            max_connections: 2,
        };
        let addr = spawn(limits, None).await;
        // A request is served.
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let (text, closed) = read_all(&mut s, Duration::from_secs(5)).await;
        assert!(
            closed && text.starts_with("HTTP/1.1 200") && text.ends_with("ok"),
            "{text}"
        );
        // Two silent connections fill the cap; a third is closed at once, unanswered.
        let mut a = TcpStream::connect(addr).await.unwrap();
        let mut b = TcpStream::connect(addr).await.unwrap();
        a.write_all(b"GET / HT").await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut c = TcpStream::connect(addr).await.unwrap();
        let _ = c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        let (text, closed) = read_all(&mut c, Duration::from_millis(250)).await;
        assert!(closed && text.is_empty(), "beyond the cap: {text:?}");
        // The silent ones are closed by the header timeout (a slow head gets a 408 or nothing).
        let (text, closed) = read_all(&mut b, Duration::from_secs(3)).await;
        assert!(closed && !text.contains("200 OK"), "{text}");
        let (_, closed) = read_all(&mut a, Duration::from_secs(3)).await;
        assert!(closed);
        // Their slots are free again.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut d = TcpStream::connect(addr).await.unwrap();
        d.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let (text, _) = read_all(&mut d, Duration::from_secs(5)).await;
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    }
}
