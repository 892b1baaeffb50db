//! The controller's HTTP endpoints: `/metrics`, `/healthz` and `/readyz` on the metrics
//! address; `POST /api/webhook` (GitHub, GitLab, Gitea, Gogs, Bitbucket push events) on the
//! webhook address.
//!
//! Both are served by [`serve`], which bounds what a client can hold ([`ServerLimits`]): the
//! request head must arrive within a timeout (also the longest a connection may sit waiting
//! for its next request), a connection on which nothing moves is closed, the number of open
//! connections is capped (at the cap the connection idle longest is closed to admit a new
//! one), and the webhook body is read within a size limit and a timeout. Refused webhook
//! requests are logged once per interval with a count, not once each.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use fjord_source::webhook::{self, WebhookOutcome};
use hyper::body::Incoming;
use hyper::service::Service as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

use super::{events, ControllerError, Shared};

/// Timeouts and limits of the controller's HTTP servers (webhook and metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// A request head must arrive whole within this. The timer runs whenever the server waits
    /// for a request, so it also closes connections that never send one (half-open, idle
    /// after connecting) and kept-alive connections idle between requests; slowloris clients
    /// trickling header bytes are cut by it too. Default 10 s.
    pub header_read_timeout: Duration,
    /// A webhook request body must arrive whole within this (408 otherwise). Default 30 s.
    pub body_read_timeout: Duration,
    /// A connection with no request in flight on which no byte moved in either direction for
    /// this long is closed (a client that stopped reading its response). Default 60 s.
    pub idle_timeout: Duration,
    /// Open connections per server. At the cap, the connection with no request in flight that
    /// has been quiet longest is closed to admit the new one; when every connection has a
    /// request in flight the new one is closed. Default 512.
    pub max_connections: usize,
    /// Largest webhook body (413 otherwise). Default 50 MiB, as Argo CD's
    /// `webhook.maxPayloadSizeMB` (GitHub caps deliveries at 25 MB).
    pub max_payload_bytes: usize,
    /// Refused webhook requests (bad signature, too large, too slow) are logged for the first
    /// one, then at most once per interval with a count. Default 60 s.
    pub log_interval: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 512,
            max_payload_bytes: 50 * 1024 * 1024,
            log_interval: Duration::from_secs(60),
        }
    }
}

/// A log line that may repeat at a client's pace, written at most once per interval: the
/// first occurrence at once, the rest counted and summed up in one line when the interval
/// ends ([`LogLimiter::flush`]) or with the next occurrence after it.
#[derive(Debug)]
pub struct LogLimiter {
    interval: Duration,
    state: Mutex<LimiterState>,
}

#[derive(Debug, Default)]
struct LimiterState {
    window: Option<Instant>,
    suppressed: u64,
    last: String,
}

impl LogLimiter {
    /// A limiter writing at most one line per `interval`.
    pub fn new(interval: Duration) -> LogLimiter {
        LogLimiter {
            interval,
            state: Mutex::default(),
        }
    }

    /// Records one occurrence of `msg`; returns the line to log now, if any.
    pub fn note(&self, now: Instant, msg: &str) -> Option<String> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let open = s
            .window
            .is_some_and(|t| now.saturating_duration_since(t) < self.interval);
        if open {
            s.suppressed += 1;
            s.last = msg.to_string();
            return None;
        }
        let line = match s.suppressed {
            0 => msg.to_string(),
            n => format!(
                "{msg} ({n} more like it in the last {})",
                secs(self.interval)
            ),
        };
        s.window = Some(now);
        s.suppressed = 0;
        Some(line)
    }

    /// The summary of the occurrences held back in an interval that has ended, if any.
    pub fn flush(&self, now: Instant) -> Option<String> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let ended = s
            .window
            .is_some_and(|t| now.saturating_duration_since(t) >= self.interval);
        if !ended || s.suppressed == 0 {
            return None;
        }
        let line = format!(
            "{} more in the last {}; the last: {}",
            s.suppressed,
            secs(self.interval),
            s.last
        );
        s.window = Some(now);
        s.suppressed = 0;
        Some(line)
    }
}

fn secs(d: Duration) -> String {
    format!("{:.0}s", d.as_secs_f64())
}

/// What the server knows of one open connection.
struct Conn {
    /// Milliseconds since the server started when a byte last moved.
    last_io: AtomicU64,
    /// Requests whose response has not been produced yet.
    in_flight: AtomicUsize,
    /// Closes the connection (eviction at the cap).
    close: Notify,
}

/// The open connections of one server.
struct Registry {
    epoch: Instant,
    next_id: AtomicU64,
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
}

impl Registry {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Registers a new connection, making room at the cap; `None` when there is none.
    fn admit(&self, max: usize) -> Option<(u64, Arc<Conn>)> {
        let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        if conns.len() >= max.max(1) {
            let victim = conns
                .iter()
                .filter(|(_, c)| c.in_flight.load(Ordering::SeqCst) == 0)
                .min_by_key(|(_, c)| c.last_io.load(Ordering::SeqCst))
                .map(|(id, _)| *id)?;
            if let Some(c) = conns.remove(&victim) {
                c.close.notify_one();
            }
        }
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let conn = Arc::new(Conn {
            last_io: AtomicU64::new(self.now_ms()),
            in_flight: AtomicUsize::new(0),
            close: Notify::new(),
        });
        conns.insert(id, conn.clone());
        Some((id, conn))
    }

    fn remove(&self, id: u64) {
        self.conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }
}

/// A socket that records when a byte last moved.
struct Tracked<S> {
    inner: S,
    conn: Arc<Conn>,
    registry: Arc<Registry>,
}

impl<S> Tracked<S> {
    fn touch(&self) {
        self.conn
            .last_io
            .store(self.registry.now_ms(), Ordering::SeqCst);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let out = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.touch();
        }
        out
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let out = std::pin::Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(out, std::task::Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        out
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Counts a request as in flight until its response is produced (or it is dropped).
struct InFlight(Arc<Conn>);

impl InFlight {
    fn start(conn: &Arc<Conn>) -> InFlight {
        conn.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(conn.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Binds `addr` and serves `router` within `limits` until the task is aborted; returns the
/// bound address.
pub async fn serve(
    addr: SocketAddr,
    router: Router,
    limits: ServerLimits,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), ControllerError> {
    let serve_err = |e: std::io::Error| ControllerError::Serve { addr, source: e };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(serve_err)?;
    let bound = listener.local_addr().map_err(serve_err)?;
    let registry = Arc::new(Registry {
        epoch: Instant::now(),
        next_id: AtomicU64::new(0),
        conns: Mutex::default(),
    });
    let task = tokio::spawn(async move {
        let accept_errors = LogLimiter::new(limits.log_interval);
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin or exit.
                    let msg = format!("accepting on {bound}: {}", fjord_model::chain(&e));
                    if let Some(line) = accept_errors.note(Instant::now(), &msg) {
                        events::log("warn", "", &line);
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Some((id, conn)) = registry.admit(limits.max_connections) else {
                drop(stream);
                continue;
            };
            tokio::spawn(serve_connection(
                stream,
                router.clone(),
                limits,
                registry.clone(),
                id,
                conn,
            ));
        }
    });
    Ok((bound, task))
}

/// Serves one connection until it ends, is evicted, or stays idle past the limit.
async fn serve_connection(
    stream: tokio::net::TcpStream,
    router: Router,
    limits: ServerLimits,
    registry: Arc<Registry>,
    id: u64,
    conn: Arc<Conn>,
) {
    let _ = stream.set_nodelay(true);
    let io = Tracked {
        inner: stream,
        conn: conn.clone(),
        registry: registry.clone(),
    };
    let svc = TowerToHyperService::new(router);
    let counted = conn.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let guard = InFlight::start(&counted);
        let fut = svc.call(req);
        async move {
            let out = fut.await;
            drop(guard);
            out
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let served = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(served);
    loop {
        let quiet_ms = registry
            .now_ms()
            .saturating_sub(conn.last_io.load(Ordering::SeqCst));
        // A request in flight is not idle: look again a whole period later (no spinning).
        let left = if conn.in_flight.load(Ordering::SeqCst) > 0 {
            limits.idle_timeout
        } else {
            limits
                .idle_timeout
                .saturating_sub(Duration::from_millis(quiet_ms))
        };
        tokio::select! {
            _ = served.as_mut() => break,
            () = conn.close.notified() => break,
            () = tokio::time::sleep(left.max(Duration::from_millis(10))) => {
                let quiet = registry.now_ms().saturating_sub(conn.last_io.load(Ordering::SeqCst));
                if conn.in_flight.load(Ordering::SeqCst) == 0
                    && Duration::from_millis(quiet) >= limits.idle_timeout
                {
                    break;
                }
            }
        }
    }
    registry.remove(id);
}

/// `/metrics`, `/healthz`, `/readyz`.
pub fn metrics_router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(shared)
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    match shared.metrics.encode() {
        Ok(text) => {
            let text = crate::metrics::with_extra(text, &shared.opts.extra_metrics);
            ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, fjord_model::chain(&e)).into_response(),
    }
}

async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    if shared.is_ready() {
        (StatusCode::OK, "ok").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: listing Applications",
        )
            .into_response()
    }
}

/// The webhook handler's state.
#[derive(Clone)]
struct WebhookState {
    shared: Arc<Shared>,
    limits: ServerLimits,
    refused: Arc<LogLimiter>,
}

impl WebhookState {
    /// Logs a refused request through the rate limiter.
    fn log_refused(&self, msg: &str) {
        if let Some(line) = self.refused.note(Instant::now(), msg) {
            events::log("warn", "", &line);
        }
    }
}

/// `POST /api/webhook`. Refusals are logged through a [`LogLimiter`]; its held-back count is
/// written when each interval ends (the task stops when the router is dropped).
pub fn webhook_router(shared: Arc<Shared>) -> Router {
    let limits = shared.opts.http_limits;
    let refused = Arc::new(LogLimiter::new(limits.log_interval));
    tokio::spawn(flush_refused(Arc::downgrade(&refused), limits.log_interval));
    Router::new()
        .route("/api/webhook", post(push))
        .with_state(WebhookState {
            shared,
            limits,
            refused,
        })
}

async fn flush_refused(limiter: Weak<LogLimiter>, interval: Duration) {
    let tick = interval.clamp(Duration::from_millis(100), Duration::from_secs(5));
    loop {
        tokio::time::sleep(tick).await;
        let Some(l) = limiter.upgrade() else { return };
        if let Some(line) = l.flush(Instant::now()) {
            events::log("warn", "", &format!("webhook requests refused: {line}"));
        }
    }
}

/// Reads a request body within `limit` bytes and `timeout`; the error is the response to send
/// (413 or 408) and a line for the log.
pub async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, (StatusCode, String)> {
    let too_large = || {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("webhook payload larger than {limit} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) if e.to_string().contains("length limit") => Err(too_large()),
        Ok(Err(e)) => Err((
            StatusCode::BAD_REQUEST,
            format!("reading the webhook payload: {e}"),
        )),
        Err(_) => Err((
            StatusCode::REQUEST_TIMEOUT,
            format!("webhook payload not received within {}", secs(timeout)),
        )),
    }
}

async fn push(State(state): State<WebhookState>, headers: HeaderMap, body: Body) -> Response {
    let body = match read_body(
        &headers,
        body,
        state.limits.max_payload_bytes,
        state.limits.body_read_timeout,
    )
    .await
    {
        Ok(b) => b,
        Err((code, msg)) => {
            state.log_refused(&format!("webhook refused: {msg}"));
            return (code, format!("{msg}\n")).into_response();
        }
    };
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
        .collect();
    let shared = &state.shared;
    let settings = shared.settings();
    let secrets = &settings.webhook;
    let event = match webhook::parse(&pairs, &body, secrets) {
        Ok(WebhookOutcome::Push(event)) => event,
        Ok(WebhookOutcome::Ping(provider)) => {
            return (StatusCode::OK, format!("{provider:?} ping\n")).into_response()
        }
        Err(e @ webhook::WebhookError::BadSignature { .. }) => {
            let text = fjord_model::chain(&e);
            state.log_refused(&format!("webhook refused: {text}"));
            return (StatusCode::UNAUTHORIZED, format!("{text}\n")).into_response();
        }
        Err(e) => {
            let text = fjord_model::chain(&e);
            return (StatusCode::BAD_REQUEST, format!("{text}\n")).into_response();
        }
    };
    // Matched against the Applications the watch last delivered: no API round trip.
    let now = std::time::Instant::now();
    let mut matched = Vec::new();
    {
        let mut apps = shared.apps.lock().unwrap_or_else(|e| e.into_inner());
        for (name, memo) in apps.iter_mut() {
            let Some(k) = &memo.webhook else { continue };
            if webhook::should_refresh(
                &event,
                &k.repo_url,
                &k.target_revision,
                &k.path,
                k.generate_paths.as_deref(),
            ) {
                memo.refresh = Some(now);
                matched.push(name.clone());
            }
        }
    }
    let refreshed = matched.len();
    for name in matched {
        shared.queue.add(name);
    }
    (
        StatusCode::OK,
        format!("refreshed {refreshed} application(s)\n"),
    )
        .into_response()
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
