//! `GET /api/v1/applications/{name}/resource-tree` (Argo CD's `ApplicationTree`, assembled from
//! the live cache: no request to the cluster) and its stream,
//! `GET /api/v1/stream/applications/{name}/resource-tree` (server-sent events: the whole tree as
//! `data: {"result": <tree>}` whenever it changes, at most every [`DEBOUNCE`], never twice the
//! same; a `:` comment every [`KEEPALIVE`]).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::Value;
use tokio::sync::{broadcast, mpsc};

use crate::api::body::json;
use crate::api::lookup;
use crate::api::query::Params;
use crate::auth::Caller;
use crate::cache::live::tree::{build, ApplicationTree, Filter};
use crate::error::ApiError;
use crate::state::AppState;

/// The query parameters of both routes.
const PARAMS: &[&str] = &[
    "appNamespace",
    "project",
    "namespace",
    "name",
    "version",
    "group",
    "kind",
];
/// Changes closer together than this are sent as one tree.
pub const DEBOUNCE: Duration = Duration::from_millis(500);
/// A comment line goes out this often so that proxies keep an idle stream open.
pub const KEEPALIVE: Duration = Duration::from_secs(15);

/// This module's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/applications/{name}/resource-tree", get(tree))
        .route(
            "/api/v1/stream/applications/{name}/resource-tree",
            get(stream),
        )
}

/// Makes sure the live cache follows the apps and has listed the types `app` needs (waits at
/// most the cache's first-list bound).
pub async fn prepare(state: &AppState, app: &Value) {
    state.live.follow_apps(&state.apps);
    state.live.ensure_app(app).await;
}

fn filter(p: &Params) -> Filter {
    let f = |k: &str| p.get(k).filter(|v| !v.is_empty()).map(str::to_string);
    Filter {
        namespace: f("namespace"),
        name: f("name"),
        version: f("version"),
        group: f("group"),
        kind: f("kind"),
    }
}

/// The tree of `app` from the cache (no wait).
pub fn tree_of(state: &AppState, app: &Value, filter: &Filter) -> ApplicationTree {
    build(&state.live.index(), app, filter)
}

async fn tree(
    caller: Caller,
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref(), PARAMS)?;
    let app = lookup::app_for(&state, &caller, &name, &p, "get")?;
    prepare(&state, &app).await;
    Ok(json(StatusCode::OK, &tree_of(&state, &app, &filter(&p))))
}

async fn stream(
    caller: Caller,
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref(), PARAMS)?;
    let app = lookup::app_for(&state, &caller, &name, &p, "get")?;
    prepare(&state, &app).await;
    let (tx, rx) = mpsc::channel::<Bytes>(4);
    let follow = Follow {
        state,
        caller,
        namespace: s(&app, "/metadata/namespace").to_string(),
        name,
        filter: filter(&p),
    };
    tokio::spawn(follow.run(tx));
    let body = Body::from_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    }));
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(resp)
}

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or_default()
}

/// One tree stream: who asked, for which app.
struct Follow {
    state: AppState,
    caller: Caller,
    namespace: String,
    name: String,
    filter: Filter,
}

impl Follow {
    /// The current frame: the tree while the app exists and the caller may still read it.
    fn frame(&self) -> Option<Bytes> {
        let app = self.state.apps.get(&self.namespace, &self.name)?;
        let object = lookup::rbac_object(&self.state, &app);
        if !self.caller.can(&self.state, "applications", "get", &object) {
            return None;
        }
        let tree = tree_of(&self.state, &app, &self.filter);
        let body = serde_json::to_string(&serde_json::json!({ "result": tree })).ok()?;
        Some(Bytes::from(format!("data: {body}\n\n")))
    }

    /// Whether an app event concerns this stream's app.
    fn concerns(&self, app: &Arc<Value>) -> bool {
        s(app, "/metadata/name") == self.name && s(app, "/metadata/namespace") == self.namespace
    }

    /// Sends frames until the client goes away, the app is deleted or the caller loses `get`.
    async fn run(self, tx: mpsc::Sender<Bytes>) {
        let mut live = self.state.live.changes();
        let mut apps = self.state.apps.subscribe();
        let mut last: Option<Bytes> = None;
        let mut keepalive = tokio::time::interval(KEEPALIVE);
        keepalive.reset();
        loop {
            let Some(frame) = self.frame() else { return };
            if last.as_ref() != Some(&frame) {
                if tx.send(frame.clone()).await.is_err() {
                    return;
                }
                last = Some(frame);
                keepalive.reset();
            }
            // Wait for a change of the live objects or of this app (its status.resources).
            loop {
                tokio::select! {
                    _ = tx.closed() => return,
                    _ = keepalive.tick() => {
                        if tx.send(Bytes::from_static(b":\n\n")).await.is_err() {
                            return;
                        }
                    }
                    changed = live.changed() => {
                        if changed.is_err() { return; }
                        break;
                    }
                    ev = apps.recv() => match ev {
                        Ok(ev) if self.concerns(&ev.app) => {
                            if ev.kind != "DELETED" {
                                self.state.live.ensure_app(&ev.app).await;
                            }
                            break;
                        }
                        Ok(_) => {}
                        Err(broadcast::error::RecvError::Lagged(_)) => break,
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                }
            }
            // Coalesce the burst that usually follows (a rollout touches many objects).
            tokio::select! {
                _ = tx.closed() => return,
                _ = tokio::time::sleep(DEBOUNCE) => {}
            }
            live.borrow_and_update();
        }
    }
}
