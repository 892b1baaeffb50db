//! The write routes on one Application, each carried out as `fjord app` does it: through the
//! Application object, which the controller acts on.
//!
//! - `POST /api/v1/applications/{name}/sync` and `.../rollback` write `operation` (a JSON merge
//!   patch with the object's `resourceVersion` as precondition, so two writers never both
//!   start an operation); a pending or running operation is a 409.
//! - `DELETE /api/v1/applications/{name}` sets or removes the resources finalizer, then
//!   deletes the object (the controller deletes what it deployed).
//! - `DELETE /api/v1/applications/{name}/operation` terminates the operation: a pending one is
//!   withdrawn, a running one moves to phase `Terminating`; the controller running it stops the
//!   sync within a second (no further request or wave) and ends it `Failed`, "Operation
//!   terminated", never retried.
//!
//! The bodies and the operations they become are in [`ops`].

use std::future::Future;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, post};
use axum::Router;
use serde_json::{json, Value};

use fjord_client::{ClientError, Propagation, ResourceType};

pub mod ops;

use super::body::{json, JsonBody};
use super::lookup;
use super::query::Params;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use ops::{
    check_name, delete_finalizer, finalizers_for_delete, in_progress, rollback_operation,
    sync_operation, terminate_patch, RollbackBody, SyncBody, IN_PROGRESS,
};

/// The field manager of the server's writes.
const MANAGER: &str = "fjord-server";

/// How many times a write is tried again when the object changed under it.
const ATTEMPTS: usize = 5;

/// This module's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/applications/{name}/sync", post(sync))
        .route("/api/v1/applications/{name}/rollback", post(rollback))
        .route("/api/v1/applications/{name}", delete(delete_app))
        .route("/api/v1/applications/{name}/operation", delete(terminate))
}

/// The Application type (served by the CRD the install creates).
fn app_type() -> ResourceType {
    ResourceType::new(
        "argoproj.io",
        "v1alpha1",
        "Application",
        "applications",
        true,
    )
}

/// A Kubernetes API failure of `step` on app `name`, as a request error.
fn k8s(step: &str, name: &str, e: &ClientError) -> ApiError {
    match e.status_code() {
        Some(404) => ApiError::not_found(format!("applications.argoproj.io \"{name}\" not found")),
        None => ApiError::unavailable(format!("{step} application {name}: {e}")),
        Some(_) => ApiError::internal(format!("{step} application {name}: {e}")),
    }
}

/// The app as it is now in the API (not the cache: a write decides on the current state).
async fn current(state: &AppState, ns: &str, name: &str) -> Result<Value, ApiError> {
    state
        .client
        .get(&app_type(), Some(ns), name)
        .await
        .map_err(|e| k8s("reading", name, &e))?
        .ok_or_else(|| {
            ApiError::not_found(format!("applications.argoproj.io \"{name}\" not found"))
        })
}

/// Reads the app, asks `build` for a merge patch (or its refusal), and applies it with the
/// read `resourceVersion` as precondition; on a conflict, reads again and retries.
async fn patch_checked<F, Fut>(
    state: &AppState,
    ns: &str,
    name: &str,
    status: bool,
    build: F,
) -> Result<Value, ApiError>
where
    F: Fn(Value) -> Fut,
    Fut: Future<Output = Result<Option<Value>, ApiError>>,
{
    for _ in 0..ATTEMPTS {
        let app = current(state, ns, name).await?;
        let rv = app
            .pointer("/metadata/resourceVersion")
            .cloned()
            .unwrap_or(Value::Null);
        let Some(mut patch) = build(app.clone()).await? else {
            return Ok(app);
        };
        patch["metadata"]["resourceVersion"] = rv;
        match state
            .client
            .merge_patch(&app_type(), Some(ns), name, &patch, status, MANAGER)
            .await
        {
            Ok(v) => return Ok(v),
            Err(e) if e.is_conflict() => continue,
            Err(e) => return Err(k8s("patching", name, &e)),
        }
    }
    Err(ApiError::conflict(format!(
        "application {name} kept changing during the request; try again"
    )))
}

/// The app as a response: without `managedFields` (noise for a client).
fn app_response(mut app: Value) -> Response {
    if let Some(meta) = app.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    json(StatusCode::OK, &app)
}

/// The namespace of the app `lookup` found.
fn namespace_of(app: &Value, state: &AppState) -> String {
    app.pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .unwrap_or(&state.opts.namespace)
        .to_string()
}

/// Writes `operation` (built from the current app by `op`, which may refuse the request)
/// unless one is pending or running (409).
async fn start_operation<F>(
    state: &AppState,
    ns: &str,
    name: &str,
    op: F,
) -> Result<Response, ApiError>
where
    F: Fn(&Value) -> Result<Value, ApiError>,
{
    let op = &op;
    let app = patch_checked(state, ns, name, false, |app| async move {
        // A bad request is refused as such whatever the app is doing.
        let operation = op(&app)?;
        if in_progress(&app) {
            return Err(ApiError::conflict(IN_PROGRESS));
        }
        Ok(Some(json!({ "operation": operation })))
    })
    .await?;
    Ok(app_response(app))
}

/// The app a sync or rollback operates on, and its namespace: the body's `name` must match the
/// path; its `appNamespace`/`project` win over the query's; the caller needs `sync` on it.
fn operated_app(
    state: &AppState,
    caller: &Caller,
    name: &str,
    query: Option<&str>,
    (body_name, body_ns, body_project): (Option<&str>, Option<&str>, Option<&str>),
) -> Result<(std::sync::Arc<serde_json::Value>, String), ApiError> {
    let params = Params::parse(query, &["appNamespace", "project"])?;
    check_name(body_name, name)?;
    let ns = body_ns.or(params.get("appNamespace"));
    let project = body_project.or(params.get("project"));
    let found = lookup::app(state, caller, name, ns, project, "sync")?;
    let ns = namespace_of(&found, state);
    Ok((found, ns))
}

/// `POST /api/v1/applications/{name}/sync`.
async fn sync(
    caller: Caller,
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    JsonBody(body): JsonBody<SyncBody>,
) -> Result<Response, ApiError> {
    let (found, ns) = operated_app(
        &state,
        &caller,
        &name,
        query.as_deref(),
        (
            body.name.as_deref(),
            body.app_namespace.as_deref(),
            body.project.as_deref(),
        ),
    )?;
    // Refuse a bad body before reading the API again.
    sync_operation(&body, &found, &caller.subject)?;
    start_operation(&state, &ns, &name, |app| {
        sync_operation(&body, app, &caller.subject)
    })
    .await
}

/// `POST /api/v1/applications/{name}/rollback`.
async fn rollback(
    caller: Caller,
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    JsonBody(body): JsonBody<RollbackBody>,
) -> Result<Response, ApiError> {
    let (_, ns) = operated_app(
        &state,
        &caller,
        &name,
        query.as_deref(),
        (
            body.name.as_deref(),
            body.app_namespace.as_deref(),
            body.project.as_deref(),
        ),
    )?;
    start_operation(&state, &ns, &name, |app| {
        rollback_operation(&body, app, &caller.subject)
    })
    .await
}

/// `DELETE /api/v1/applications/{name}`.
async fn delete_app(
    caller: Caller,
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(
        query.as_deref(),
        &["cascade", "propagationPolicy", "appNamespace", "project"],
    )?;
    let cascade = params.bool("cascade", true)?;
    let policy = params.get("propagationPolicy").unwrap_or("");
    if !cascade && !policy.is_empty() {
        return Err(ApiError::bad_request(
            "propagationPolicy: cannot be set when cascade is false",
        ));
    }
    let wanted = if cascade {
        Some(delete_finalizer(policy)?)
    } else {
        None
    };
    let found = lookup::app_for(&state, &caller, &name, &params, "delete")?;
    let ns = namespace_of(&found, &state);
    let wanted = wanted.as_deref();
    patch_checked(&state, &ns, &name, false, |app| async move {
        // Being deleted already: no finalizer may be added any more; delete again only.
        if app.pointer("/metadata/deletionTimestamp").is_some() {
            return Ok(None);
        }
        let next = finalizers_for_delete(&app, wanted);
        let now: Vec<&str> = app
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let unchanged = now == next.iter().map(String::as_str).collect::<Vec<_>>();
        Ok((!unchanged).then(|| json!({"metadata": {"finalizers": next}})))
    })
    .await?;
    state
        .client
        .delete(
            &app_type(),
            Some(&ns),
            &name,
            Propagation::Foreground,
            false,
        )
        .await
        .map_err(|e| k8s("deleting", &name, &e))?;
    Ok(json(StatusCode::OK, &json!({})))
}

/// `DELETE /api/v1/applications/{name}/operation`.
async fn terminate(
    caller: Caller,
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(query.as_deref(), &["appNamespace", "project"])?;
    let found = lookup::app_for(&state, &caller, &name, &params, "sync")?;
    let ns = namespace_of(&found, &state);
    for _ in 0..ATTEMPTS {
        let app = current(&state, &ns, &name).await?;
        let (mut patch, status) = terminate_patch(&app)?;
        patch["metadata"]["resourceVersion"] = app
            .pointer("/metadata/resourceVersion")
            .cloned()
            .unwrap_or(Value::Null);
        match state
            .client
            .merge_patch(&app_type(), Some(&ns), &name, &patch, status, MANAGER)
            .await
        {
            Ok(_) => return Ok(json(StatusCode::OK, &json!({}))),
            Err(e) if e.is_conflict() => continue,
            Err(e) => return Err(k8s("terminating the operation of", &name, &e)),
        }
    }
    Err(ApiError::conflict(format!(
        "application {name} kept changing during the request; try again"
    )))
}
