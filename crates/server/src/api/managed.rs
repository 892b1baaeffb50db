//! `GET /api/v1/applications/{name}/managed-resources` (each object's desired and live state,
//! masked, with fjord's drift forensics: who last set each drifted field) and
//! `GET /api/v1/applications/{name}/manifests` (the rendered objects, masked).
//!
//! Both render the app's source at the revision the controller compared and plan a sync with
//! the controller's own code ([`fjord_controller::runtime::inspect`]); the result is kept per
//! app for [`TTL`] while the app's `resourceVersion` and compared revision stay the same, so a
//! page load does not render again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use fjord_controller::api::Application;
use fjord_controller::runtime::drift::drift_of;
use fjord_controller::runtime::inspect::{Inspection, Inspector};
use fjord_diff::mask::hide_secret_data;
use serde_json::{json, Value};

use super::body::json;
use super::lookup;
use super::query::Params;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// How long one comparison is reused while the app does not change.
pub const TTL: Duration = Duration::from_secs(10);

/// Query parameters of `managed-resources`.
const MANAGED_PARAMS: &[&str] = &[
    "appNamespace",
    "project",
    "group",
    "kind",
    "namespace",
    "name",
    "version",
    "fields",
];
/// Query parameters of `manifests`.
const MANIFEST_PARAMS: &[&str] = &["appNamespace", "project"];

/// One app's comparison, as the responses show it (masked).
#[derive(Debug)]
struct Computed {
    /// `managed-resources` items.
    items: Vec<Value>,
    /// The rendered objects as JSON strings (Secrets masked).
    manifests: Vec<String>,
    revision: String,
    source_type: String,
    namespace: String,
    server: String,
}

/// A cached comparison and what it was computed for.
struct Entry {
    key: (String, String),
    at: Instant,
    value: Arc<Computed>,
}

/// The inspector (made on first use) and the per-app cache; one per router.
#[derive(Default)]
struct Managed {
    inspector: tokio::sync::OnceCell<Inspector>,
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Entry>>>>>,
}

/// This module's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/applications/{name}/managed-resources",
            get(managed_resources),
        )
        .route("/api/v1/applications/{name}/manifests", get(manifests))
        .layer(Extension(Arc::new(Managed::default())))
}

async fn managed_resources(
    caller: Caller,
    State(state): State<AppState>,
    Extension(m): Extension<Arc<Managed>>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref(), MANAGED_PARAMS)?;
    let app = lookup::app_for(&state, &caller, &name, &p, "get")?;
    let computed = computed(&state, &m, &app).await?;
    let wanted = |field: &str, item: &Value| match p.get(field).filter(|v| !v.is_empty()) {
        None => true,
        Some(want) => item[field].as_str() == Some(want),
    };
    let items: Vec<&Value> = computed
        .items
        .iter()
        .filter(|i| {
            ["group", "kind", "namespace", "name"]
                .iter()
                .all(|f| wanted(f, i))
        })
        .filter(|i| wanted("version", i))
        .collect();
    Ok(json(StatusCode::OK, &json!({ "items": items })))
}

async fn manifests(
    caller: Caller,
    State(state): State<AppState>,
    Extension(m): Extension<Arc<Managed>>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref(), MANIFEST_PARAMS)?;
    let app = lookup::app_for(&state, &caller, &name, &p, "get")?;
    let c = computed(&state, &m, &app).await?;
    Ok(json(
        StatusCode::OK,
        &json!({
            "manifests": c.manifests,
            "revision": c.revision,
            "sourceType": c.source_type,
            "namespace": c.namespace,
            "server": c.server,
        }),
    ))
}

/// The app's comparison: cached when still fresh, else computed (one at a time per app, so a
/// burst of requests renders once).
async fn computed(state: &AppState, m: &Managed, app: &Value) -> Result<Arc<Computed>, ApiError> {
    let s = |p: &str| {
        app.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let name = s("/metadata/name");
    let id = format!("{}/{name}", s("/metadata/namespace"));
    let key = (s("/metadata/resourceVersion"), s("/status/sync/revision"));
    let slot = m
        .slots
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(id)
        .or_default()
        .clone();
    let mut slot = slot.lock().await;
    if let Some(e) = slot
        .as_ref()
        .filter(|e| e.key == key && e.at.elapsed() < TTL)
    {
        return Ok(e.value.clone());
    }
    let inspector = m
        .inspector
        .get_or_try_init(|| {
            Inspector::new(
                state.client.clone(),
                &state.opts.namespace,
                state.opts.cache_dir.clone(),
            )
        })
        .await
        .map_err(|e| ApiError::unavailable(format!("preparing comparisons: {}", e.message())))?;
    let decoded: Application = serde_json::from_value(app.clone())
        .map_err(|e| ApiError::internal(format!("application {name}: cannot be decoded: {e}")))?;
    let inspection = inspector.inspect(&decoded).await.map_err(|e| {
        ApiError::internal(format!("comparing application {name}: {}", e.message()))
    })?;
    let value = Arc::new(present(inspection));
    *slot = Some(Entry {
        key,
        at: Instant::now(),
        value: value.clone(),
    });
    Ok(value)
}

/// An optional object as a JSON string (`"null"` when absent), as Argo CD sends states.
fn text(v: Option<&Value>) -> String {
    v.map_or_else(|| "null".to_string(), Value::to_string)
}

/// The responses' view of an inspection: every Secret value masked.
fn present(i: Inspection) -> Computed {
    let items = i.compared.iter().map(item).collect();
    let manifests = i
        .objects
        .into_iter()
        .map(|mut o| {
            if fjord_diff::ObjectRef::of(&o).is_secret() {
                hide_secret_data(Some(&mut o), None, &[]);
            }
            o.to_string()
        })
        .collect();
    Computed {
        items,
        manifests,
        revision: i.revision,
        source_type: i.source_type.to_string(),
        namespace: i.namespace.unwrap_or_default(),
        server: i.server,
    }
}

/// One `managed-resources` item.
fn item(c: &fjord_sync::Compared) -> Value {
    let t = &c.task;
    let mut target = t.target.clone();
    let mut live = t.live.clone();
    if t.id.is_secret() {
        hide_secret_data(target.as_mut(), live.as_mut(), &[]);
    }
    let drift: Vec<Value> = drift_of(c)
        .into_iter()
        .map(|d| {
            json!({"path": d.path, "manager": d.manager, "operation": d.operation,
            "time": d.time, "subresource": d.subresource})
        })
        .collect();
    json!({
        "group": t.id.group,
        "kind": t.id.kind,
        "namespace": t.id.namespace,
        "name": t.id.name,
        "version": t.id.version,
        "targetState": text(target.as_ref()),
        "liveState": text(live.as_ref()),
        "normalizedLiveState": text(c.diff.live.as_ref()),
        "predictedLiveState": text(c.diff.desired.as_ref()),
        "modified": c.diff.status.differs(),
        "hook": false,
        "resourceVersion": live
            .as_ref()
            .and_then(|l| l.pointer("/metadata/resourceVersion"))
            .and_then(Value::as_str)
            .unwrap_or(""),
        "drift": drift,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_states_are_null_strings() {
        assert_eq!(text(None), "null");
        assert_eq!(text(Some(&json!({"a": 1}))), "{\"a\":1}");
    }
}
