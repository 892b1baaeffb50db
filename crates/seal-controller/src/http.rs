//! The controller's HTTP API, with upstream's paths and status codes:
//!
//! | path | answer |
//! |---|---|
//! | `/v1/cert.pem` (any method) | 200 `application/x-pem-file`, the newest certificate; 500 `cannot get certificate` |
//! | `POST /v1/verify` | 200 when the body SealedSecret unseals with a registered key, 409 when not, 500 when the body is not one SealedSecret, 400 on a body read error, 429 over the rate limit |
//! | `POST /v1/rotate` | 200 with the compact JSON of the object re-sealed for the newest key (no `apiVersion`/`kind`); 500 on any failure |
//! | `/healthz` (any method) | `ok\n` |

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::Router;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::handlers::{cert_pem, rotate_body};
use crate::{SealControllerError, Shared};
use fjord_seal::reseal::decode_sealed_secret;
use fjord_seal::unseal::{unseal_object, UnsealOptions};

/// Largest request body accepted.
const MAX_BODY: usize = 2 << 20;
/// Clients remembered by the rate limiter before it forgets them all.
const MAX_TRACKED_CLIENTS: usize = 10_000;

/// A token bucket per client: `per_second` tokens a second, at most `burst` saved.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second (`--rate-limit`, 2).
    pub per_second: f64,
    /// Burst size (`--rate-limit-burst`, 2).
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            per_second: 2.0,
            burst: 2,
        }
    }
}

/// Buckets keyed by path and `X-Forwarded-For`, as upstream keys them.
struct Limiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl Limiter {
    fn allow(&self, key: &str, now: Instant) -> bool {
        let Ok(mut buckets) = self.buckets.lock() else {
            return true;
        };
        if buckets.len() >= MAX_TRACKED_CLIENTS && !buckets.contains_key(key) {
            buckets.clear();
        }
        let burst = f64::from(self.limit.burst.max(1));
        let (tokens, last) = buckets.entry(key.to_string()).or_insert((burst, now));
        let refill = now.duration_since(*last).as_secs_f64() * self.limit.per_second;
        *tokens = (*tokens + refill).min(burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[derive(Clone)]
struct AppState {
    shared: Arc<Shared>,
    limiter: Option<Arc<Limiter>>,
}

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body.into(),
    )
        .into_response()
}

async fn healthz() -> Response {
    text(StatusCode::OK, "ok\n")
}

async fn cert(State(app): State<AppState>) -> Response {
    match cert_pem(&app.shared.keys()) {
        Ok(pem) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/x-pem-file")],
            pem,
        )
            .into_response(),
        Err(_) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot get certificate\n",
        ),
    }
}

/// Reads the body, answering 400 on a read error and 413 when too large.
async fn body(req: Request, state: &AppState) -> Result<Bytes, Response> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        let status = rejection.status();
        let status = if status == StatusCode::PAYLOAD_TOO_LARGE {
            status
        } else {
            StatusCode::BAD_REQUEST
        };
        text(status, format!("{}\n", rejection.body_text()))
    })
}

fn client_key(path: &str, headers: &HeaderMap) -> String {
    let forwarded = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    format!("{path}|{forwarded}")
}

async fn verify(State(app): State<AppState>, req: Request) -> Response {
    if let Some(limiter) = &app.limiter {
        if !limiter.allow(&client_key("/v1/verify", req.headers()), Instant::now()) {
            return text(StatusCode::TOO_MANY_REQUESTS, "too many requests\n");
        }
    }
    let bytes = match body(req, &app).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let sealed = match decode_sealed_secret(&bytes) {
        Ok(ss) => ss,
        Err(e) => {
            let message = fjord_model::chain(&e);
            return text(StatusCode::INTERNAL_SERVER_ERROR, format!("{message}\n"));
        }
    };
    let keys = app.shared.keys();
    let opened = tokio::task::spawn_blocking(move || {
        unseal_object(&sealed, &keys, UnsealOptions::default())
    })
    .await;
    match opened {
        Ok(Ok(_)) => StatusCode::OK.into_response(),
        Ok(Err(_)) => StatusCode::CONFLICT.into_response(),
        Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n"),
    }
}

async fn rotate(State(app): State<AppState>, req: Request) -> Response {
    let bytes = match body(req, &app).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let keys = app.shared.keys();
    let answer = tokio::task::spawn_blocking(move || rotate_body(&bytes, &keys)).await;
    match answer {
        Ok(Ok(json)) => text(StatusCode::OK, json),
        Ok(Err(e)) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{}\n", fjord_model::chain(&e)),
        ),
        Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n"),
    }
}

fn router(shared: Arc<Shared>) -> Router {
    let limiter = shared.opts.verify_rate_limit.map(|limit| {
        Arc::new(Limiter {
            limit,
            buckets: Mutex::new(HashMap::new()),
        })
    });
    Router::new()
        .route("/v1/cert.pem", any(cert))
        .route("/v1/verify", post(verify))
        .route("/v1/rotate", post(rotate))
        .route("/healthz", any(healthz))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(AppState { shared, limiter })
}

/// Binds `addr` and serves until `shutdown` flips; a serving failure is sent on `fatal`.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    addr: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
    fatal: mpsc::Sender<SealControllerError>,
) -> Result<(SocketAddr, JoinHandle<()>), SealControllerError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| SealControllerError::BindHttp { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| SealControllerError::BindHttp { addr, source })?;
    let app = router(shared);
    let task = tokio::spawn(async move {
        let stop = async move {
            while !*shutdown.borrow() {
                if shutdown.changed().await.is_err() {
                    return;
                }
            }
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
        {
            let _ = fatal.send(SealControllerError::ServeHttp(e)).await;
        }
    });
    Ok((bound, task))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_bucket_per_client() {
        let l = Limiter {
            limit: RateLimit::default(),
            buckets: Mutex::new(HashMap::new()),
        };
        let t0 = Instant::now();
        assert!(l.allow("a", t0));
        assert!(l.allow("a", t0));
        assert!(!l.allow("a", t0));
        assert!(l.allow("b", t0));
        assert!(l.allow("a", t0 + std::time::Duration::from_millis(600)));
    }
}
