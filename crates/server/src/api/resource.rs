//! `GET /api/v1/applications/{name}/resource`: one live object of the app's tree as
//! `{"manifest": "<JSON text>"}`, from the live cache (one GET only when its type is not
//! cached). An object outside the app's tree is a 404; a Secret's values are masked.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use fjord_model::{join_api_version, ObjectKey, ObjectRef, ResourceType};

use crate::api::body::json;
use crate::api::lookup;
use crate::api::query::Params;
use crate::api::tree::prepare;
use crate::auth::Caller;
use crate::cache::live::{slim, tree::member};
use crate::error::ApiError;
use crate::state::AppState;

/// This module's routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/applications/{name}/resource", get(resource))
}

/// The object the query names; a 400 naming the first missing required parameter.
fn requested(p: &Params) -> Result<ObjectRef, ApiError> {
    let required = |k: &str| {
        p.get(k)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ApiError::bad_request(format!("query parameter {k:?} is required")))
    };
    let name = required("resourceName")?;
    let version = required("version")?;
    let kind = required("kind")?;
    Ok(ObjectRef::new(
        p.get("group").unwrap_or_default(),
        version,
        kind,
        p.get("namespace").unwrap_or_default(),
        name,
    ))
}

fn not_found(r: &ObjectRef) -> ApiError {
    ApiError::not_found(format!(
        "{r} not found as part of application's resource tree"
    ))
}

async fn resource(
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
            "namespace",
            "resourceName",
            "version",
            "group",
            "kind",
        ],
    )?;
    let r = requested(&p)?;
    let app = lookup::app_for(&state, &caller, &name, &p, "get")?;
    prepare(&state, &app).await;
    let key: ObjectKey = r.key();
    let cached = {
        let index = state.live.index();
        match member(&index, &app, &key) {
            Ok(e) => Some(e.obj.clone()),
            Err(true) if !state.live.is_cached(&r.group, &r.kind) => None,
            Err(_) => return Err(not_found(&r)),
        }
    };
    let obj: Value = match cached {
        Some(obj) => Value::clone(&obj),
        None => fetch(&state, &r).await?,
    };
    let manifest = serde_json::to_string(&obj)
        .map_err(|e| ApiError::internal(format!("encoding {r}: {e}")))?;
    Ok(json(StatusCode::OK, &json!({ "manifest": manifest })))
}

/// One GET of a managed object whose type the cache does not hold (RBAC refused its list, or
/// discovery did not know it yet); slimmed and masked as the cache's objects are.
async fn fetch(state: &AppState, r: &ObjectRef) -> Result<Value, ApiError> {
    let t: ResourceType = state
        .client
        .resolve(&join_api_version(&r.group, &r.version), &r.kind)
        .await
        .map_err(|_| not_found(r))?;
    let ns = (t.namespaced && !r.namespace.is_empty()).then_some(r.namespace.as_str());
    match state.client.get(&t, ns, &r.name).await {
        Ok(Some(obj)) => Ok(slim(&t, obj)),
        Ok(None) => Err(not_found(r)),
        Err(e) if e.status_code() == Some(403) => {
            Err(ApiError::forbidden("kubernetes", "get", &format!("{r}")))
        }
        Err(e) => Err(ApiError::unavailable(format!(
            "reading {r}: {}",
            fjord_model::chain(&e)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_required_parameters_are_named() {
        let p = Params::parse(
            Some("version=v1&kind=Pod"),
            &["resourceName", "version", "kind"],
        )
        .unwrap();
        let err = requested(&p).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert!(err.message.contains("resourceName"), "{}", err.message);
        let p = Params::parse(
            Some("resourceName=a&kind=Pod"),
            &["resourceName", "version", "kind"],
        )
        .unwrap();
        assert!(requested(&p).unwrap_err().message.contains("version"));
        let p = Params::parse(
            Some("resourceName=a&version=v1"),
            &["resourceName", "version", "kind"],
        )
        .unwrap();
        assert!(requested(&p).unwrap_err().message.contains("kind"));
    }
}
