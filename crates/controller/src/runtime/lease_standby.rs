//! The endpoints of a standby replica (`--leader-elect`, not leading yet): `/healthz` answers,
//! `/readyz` says it is not leading, `/metrics` shows `fjord_controller_leader … 0`. The
//! controller's own servers replace them once the replica leads.

use std::net::SocketAddr;

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use super::http::{serve, ServerLimits};
use super::ControllerError;

/// Serves the standby endpoints on `addr` until the returned task is aborted.
pub async fn serve_standby(
    addr: SocketAddr,
    limits: ServerLimits,
    identity: &str,
    lease: &str,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), ControllerError> {
    let metrics = format!("{}# EOF\n", crate::shard::render_leader(identity, false));
    let not_ready = format!("not ready: not leading (waiting for Lease {lease})");
    let router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let body = not_ready.clone();
                async move { (StatusCode::SERVICE_UNAVAILABLE, body) }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let body = metrics.clone();
                async move {
                    ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], body).into_response()
                }
            }),
        );
    serve(addr, router, limits).await
}
