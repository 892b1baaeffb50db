//! One Application by name, checked as Argo CD's server checks it: a caller who may not `get`
//! the app gets 403 whether or not it exists (so the status code never reveals an app), and
//! 404 only when it may read the app's project and the app is missing.

use std::sync::Arc;

use serde_json::Value;

use super::query::Params;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// The RBAC object of an app: `<project>/<name>`, or `<project>/<namespace>/<name>` for an app
/// outside the control-plane namespace.
pub fn rbac_object(state: &AppState, app: &Value) -> String {
    let s = |p: &str| app.pointer(p).and_then(Value::as_str).unwrap_or("");
    let project = Some(s("/spec/project"))
        .filter(|p| !p.is_empty())
        .unwrap_or("default");
    let ns = s("/metadata/namespace");
    if ns.is_empty() || ns == state.opts.namespace {
        format!("{project}/{}", s("/metadata/name"))
    } else {
        format!("{project}/{ns}/{}", s("/metadata/name"))
    }
}

/// The app `name` (in `app_namespace`, or the control-plane namespace), when the caller may do
/// `action` on it (after `get`). `project`: the `project` query parameter, if any.
pub fn app(
    state: &AppState,
    caller: &Caller,
    name: &str,
    app_namespace: Option<&str>,
    project: Option<&str>,
    action: &str,
) -> Result<Arc<Value>, ApiError> {
    let ns = app_namespace
        .filter(|n| !n.is_empty())
        .unwrap_or(&state.opts.namespace);
    let Some(app) = state.apps.get(ns, name) else {
        let object = format!("{}/{name}", project.unwrap_or("*"));
        if let Some(p) = project {
            if caller.can(state, "projects", "get", p) {
                return Err(ApiError::not_found(format!(
                    "applications.argoproj.io \"{name}\" not found"
                )));
            }
        }
        return Err(ApiError::forbidden("applications", "get", &object));
    };
    let object = rbac_object(state, &app);
    caller.require(state, "applications", "get", &object)?;
    if action != "get" {
        caller.require(state, "applications", action, &object)?;
    }
    Ok(app)
}

/// [`app`] with the `appNamespace` and `project` query parameters of `params`.
pub fn app_for(
    state: &AppState,
    caller: &Caller,
    name: &str,
    params: &Params,
    action: &str,
) -> Result<Arc<Value>, ApiError> {
    app(
        state,
        caller,
        name,
        params.get("appNamespace"),
        params.get("project"),
        action,
    )
}
