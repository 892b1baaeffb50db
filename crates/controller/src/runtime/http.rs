//! The controller's HTTP endpoints: `/metrics`, `/healthz` and `/readyz` on the metrics
//! address; `POST /api/webhook` (GitHub, GitLab, Gitea, Gogs, Bitbucket push events) on the
//! webhook address.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use fjord_source::webhook::{self, WebhookOutcome};

use super::{events, ControllerError, Shared};

/// Largest webhook body accepted (GitHub caps payloads at 25 MiB).
const MAX_WEBHOOK_BODY: usize = 25 * 1024 * 1024;

/// Binds `addr` and serves `router` until the task is aborted; returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    router: Router,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), ControllerError> {
    let listener =
        tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| ControllerError::Serve {
                addr,
                message: e.to_string(),
            })?;
    let bound = listener.local_addr().map_err(|e| ControllerError::Serve {
        addr,
        message: e.to_string(),
    })?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            events::log("error", "", &format!("serving {bound}: {e}"));
        }
    });
    Ok((bound, task))
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
        Ok(text) => ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
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

/// `POST /api/webhook`.
pub fn webhook_router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/webhook", post(push))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_WEBHOOK_BODY))
        .with_state(shared)
}

async fn push(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
        .collect();
    let settings = shared.settings();
    let secrets = &settings.webhook;
    let event = match webhook::parse(&pairs, &body, secrets) {
        Ok(WebhookOutcome::Push(event)) => event,
        Ok(WebhookOutcome::Ping(provider)) => {
            return (StatusCode::OK, format!("{provider:?} ping\n")).into_response()
        }
        Err(e @ webhook::WebhookError::BadSignature { .. }) => {
            events::log("warn", "", &format!("webhook refused: {e}"));
            return (StatusCode::UNAUTHORIZED, format!("{e}\n")).into_response();
        }
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
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
