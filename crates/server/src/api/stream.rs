//! `GET /api/v1/stream/applications`: Server-Sent Events of Application changes.
//!
//! Without `resourceVersion` (or with `name`) every current app is first sent as `ADDED`; then
//! each change, as `data: {"result":{"type":…,"application":…}}` frames. Every event passes the
//! filter (`name`, `projects`, `selector`, `appNamespace`) and the caller's `applications, get`
//! check; an event whose frame equals the last one sent for that app is skipped; a `:` comment
//! goes out every [`KEEPALIVE`] so proxies keep the connection open. When the subscriber falls
//! behind the change feed, the current state is compared with what was sent and the
//! differences go out.

use std::collections::HashMap;
use std::convert::Infallible;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};

use crate::api::apps::filter_of;
use crate::api::lookup::rbac_object;
use crate::api::query::Params;
use crate::auth::Caller;
use crate::cache::apps::AppEvent;
use crate::cache::apps_fields::Fields;
use crate::cache::apps_filter::AppFilter;
use crate::error::ApiError;
use crate::state::AppState;

/// The interval of the `:` keepalive comments.
pub const KEEPALIVE: Duration = Duration::from_secs(15);

/// This module's routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/stream/applications", get(stream))
}

/// What one subscriber's task needs.
struct Sub {
    state: AppState,
    caller: Caller,
    filter: AppFilter,
    fields: Option<Fields>,
    /// Hash of the last frame sent per app (namespace, name).
    sent: HashMap<(String, String), u64>,
    tx: mpsc::Sender<Result<Bytes, Infallible>>,
}

async fn stream(
    caller: Caller,
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(
        q.as_deref(),
        &[
            "name",
            "projects",
            "project",
            "selector",
            "resourceVersion",
            "appNamespace",
            "fields",
        ],
    )?;
    let filter = filter_of(&p)?;
    let replay = p.get("resourceVersion").is_none_or(str::is_empty) || filter.name.is_some();
    let fields = Fields::parse(p.get("fields"));
    let events = state.apps.subscribe();
    let (tx, rx) = mpsc::channel(64);
    let sub = Sub {
        state,
        caller,
        filter,
        fields,
        sent: HashMap::new(),
        tx,
    };
    tokio::spawn(run(sub, events, replay));
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut res = Response::new(Body::from_stream(body));
    *res.status_mut() = StatusCode::OK;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(res)
}

/// Feeds one subscriber until it goes away.
async fn run(mut sub: Sub, mut events: broadcast::Receiver<AppEvent>, replay: bool) {
    if replay {
        for app in sub.state.apps.list() {
            if !sub.send("ADDED", &app).await {
                return;
            }
        }
    }
    let mut keepalive =
        tokio::time::interval_at(tokio::time::Instant::now() + KEEPALIVE, KEEPALIVE);
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Ok(ev) => {
                    if !sub.send(ev.kind, &ev.app).await {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    if !sub.catch_up().await {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = keepalive.tick() => {
                if sub.tx.send(Ok(Bytes::from_static(b":\n\n"))).await.is_err() {
                    return;
                }
            }
        }
    }
}

impl Sub {
    /// Sends one event when it passes the filter and RBAC and differs from the last frame of
    /// that app; false when the client is gone.
    async fn send(&mut self, kind: &str, app: &Arc<Value>) -> bool {
        if !self.filter.matches(app) {
            return true;
        }
        let object = rbac_object(&self.state, app);
        if !self.caller.can(&self.state, "applications", "get", &object) {
            return true;
        }
        let Some((frame, hash)) = self.frame(kind, app) else {
            return true;
        };
        let key = key(app);
        if kind == "DELETED" {
            self.sent.remove(&key);
        } else if self.sent.insert(key, hash) == Some(hash) {
            return true;
        }
        self.tx.send(Ok(Bytes::from(frame))).await.is_ok()
    }

    /// After a lag: sends what differs between the cache and what this subscriber saw.
    async fn catch_up(&mut self) -> bool {
        let apps = self.state.apps.list();
        let present: std::collections::HashSet<_> = apps.iter().map(|a| key(a)).collect();
        let gone: Vec<(String, String)> = self
            .sent
            .keys()
            .filter(|k| !present.contains(*k))
            .cloned()
            .collect();
        for (ns, name) in gone {
            let last = Arc::new(json!({"metadata": {"namespace": ns, "name": name}}));
            self.sent.remove(&(ns, name));
            let Some((frame, _)) = self.frame("DELETED", &last) else {
                continue;
            };
            if self.tx.send(Ok(Bytes::from(frame))).await.is_err() {
                return false;
            }
        }
        for app in apps {
            let kind = if self.sent.contains_key(&key(&app)) {
                "MODIFIED"
            } else {
                "ADDED"
            };
            if !self.send(kind, &app).await {
                return false;
            }
        }
        true
    }

    /// The SSE frame of one event (projected by `fields`), and the hash of its application
    /// part (what "the same as the last frame sent" compares).
    fn frame(&self, kind: &str, app: &Value) -> Option<(String, u64)> {
        let hash = |text: &str| {
            let mut h = DefaultHasher::new();
            text.hash(&mut h);
            h.finish()
        };
        let (body, h) = match &self.fields {
            None => {
                let app = serde_json::to_string(app).ok()?;
                let kind = serde_json::to_string(kind).ok()?;
                let h = hash(&app);
                (
                    format!("{{\"result\":{{\"type\":{kind},\"application\":{app}}}}}"),
                    h,
                )
            }
            Some(f) => {
                let v = f.apply(&json!({"result": {"type": kind, "application": app}}));
                let part = v.pointer("/result/application").map(Value::to_string);
                (
                    serde_json::to_string(&v).ok()?,
                    hash(part.as_deref().unwrap_or("")),
                )
            }
        };
        Some((format!("data: {body}\n\n"), h))
    }
}

fn key(app: &Value) -> (String, String) {
    let s = |p: &str| {
        app.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    (s("/metadata/namespace"), s("/metadata/name"))
}
