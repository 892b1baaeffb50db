//! `GET /api/v1/applications/{name}/events`: the Kubernetes Events of the app itself, or, with
//! `resourceName`/`resourceUID`, of one object of its tree; a k8s `EventList`
//! (`{metadata, items}`) sorted by time, from the live cache's bounded Event watch.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use crate::api::body::json;
use crate::api::lookup;
use crate::api::query::Params;
use crate::api::tree::prepare;
use crate::auth::Caller;
use crate::cache::live::events::involved;
use crate::cache::live::tree::has_node;
use crate::error::ApiError;
use crate::state::AppState;

/// This module's routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/applications/{name}/events", get(events))
}

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or_default()
}

/// Whether `ev` is about the object `kind` (any when empty) `namespace/name` with uid `uid`
/// (any when either side has none).
fn about(ev: &Value, kind: &str, namespace: &str, name: &str, uid: &str) -> bool {
    let Some(o) = involved(ev) else {
        return false;
    };
    let ns = Some(s(o, "/namespace"))
        .filter(|n| !n.is_empty())
        .unwrap_or(s(ev, "/metadata/namespace"));
    let their_uid = s(o, "/uid");
    (kind.is_empty() || s(o, "/kind") == kind)
        && s(o, "/name") == name
        && ns == namespace
        && (uid.is_empty() || their_uid.is_empty() || their_uid == uid)
}

async fn events(
    caller: Caller,
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(
        q.as_deref(),
        &[
            "appNamespace",
            "project",
            "resourceNamespace",
            "resourceName",
            "resourceUID",
        ],
    )?;
    let app = lookup::app_for(&state, &caller, &name, &p, "get")?;
    let res_name = p.get("resourceName").unwrap_or_default();
    let res_ns = p.get("resourceNamespace").unwrap_or_default();
    let res_uid = p.get("resourceUID").unwrap_or_default();
    state.live.wait_events().await;
    let items = if res_name.is_empty() && res_uid.is_empty() {
        let app_ns = s(&app, "/metadata/namespace");
        let app_uid = s(&app, "/metadata/uid");
        state
            .live
            .events(|ev| about(ev, "Application", app_ns, &name, app_uid))
    } else {
        prepare(&state, &app).await;
        let (ns, obj_name, uid) = resolve_resource(&state, &app, res_ns, res_name, res_uid)?;
        state.live.events(|ev| about(ev, "", &ns, &obj_name, &uid))
    };
    let items: Vec<&Value> = items.iter().map(|e| e.as_ref()).collect();
    Ok(json(
        StatusCode::OK,
        &json!({"metadata": {}, "items": items}),
    ))
}

/// The (namespace, name, uid) of the resource the query names, when it is in the app's tree
/// (by uid alone, the object is looked up in the cache); else 404.
fn resolve_resource(
    state: &AppState,
    app: &Value,
    ns: &str,
    name: &str,
    uid: &str,
) -> Result<(String, String, String), ApiError> {
    let index = state.live.index();
    let (ns, name) = if name.is_empty() {
        match index.by_uid(uid) {
            Some(e) => (e.r.namespace.clone(), e.r.name.clone()),
            None => {
                return Err(ApiError::not_found(format!(
                    "no object with uid {uid} in the application's resource tree"
                )))
            }
        }
    } else {
        (ns.to_string(), name.to_string())
    };
    if !has_node(&index, app, &ns, &name, uid) {
        return Err(ApiError::not_found(format!(
            "{ns}/{name} is not part of the application's resource tree"
        )));
    }
    Ok((ns, name, uid.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_involved_object() {
        let ev = json!({"metadata": {"namespace": "argocd", "name": "e"},
            "involvedObject": {"kind": "Application", "name": "shop", "uid": "u1"}});
        assert!(about(&ev, "Application", "argocd", "shop", "u1"));
        assert!(about(&ev, "Application", "argocd", "shop", ""));
        assert!(!about(&ev, "Application", "argocd", "shop", "u2"));
        assert!(!about(&ev, "Application", "other", "shop", "u1"));
        assert!(!about(&ev, "Pod", "argocd", "shop", "u1"));
        assert!(!about(&ev, "", "argocd", "shopx", ""));
    }
}
