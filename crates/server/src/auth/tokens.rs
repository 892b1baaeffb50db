//! Project-scoped API tokens (for CI): `POST /api/v1/projects/{project}/roles/{role}/token`
//! signs a token with subject `proj:<project>:<role>` and records `{iat, exp, id}` in the
//! AppProject's `status.jwtTokensByRole`; `DELETE .../token/{iat}` removes the entry, which
//! revokes the token. A project token is accepted only while its entry is recorded (there or in
//! the older `spec.roles[].jwtTokens`), and may do only what its role's policies allow.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use fjord_client::ResourceType;

use crate::api::body::{json, JsonBody};
use crate::api::query::Params;
use crate::error::ApiError;
use crate::state::AppState;

use super::bootstrap::FIELD_MANAGER;
use super::jwt::now;
use super::jwt::{self, Claims, ISSUER};
use super::{Caller, ProjectScope};

/// How long after issue a token missing from the (possibly lagging) AppProject cache is
/// checked against the API server.
const FRESH_SECS: i64 = 60;

fn i64_of(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// The recorded token entries of a role: `status.jwtTokensByRole[role].items` and
/// `spec.roles[name=role].jwtTokens`.
fn entries(project: &Value, role: &str) -> Vec<Value> {
    let mut out: Vec<Value> = project
        .pointer("/status/jwtTokensByRole")
        .and_then(|m| m.get(role))
        .and_then(|r| r.get("items"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(roles) = project.pointer("/spec/roles").and_then(Value::as_array) {
        for r in roles {
            if r.get("name").and_then(Value::as_str) == Some(role) {
                if let Some(t) = r.get("jwtTokens").and_then(Value::as_array) {
                    out.extend(t.iter().cloned());
                }
            }
        }
    }
    out
}

/// Whether the token is still recorded in the project.
fn recorded(project: &Value, role: &str, claims: &Claims) -> bool {
    entries(project, role).iter().any(|e| {
        i64_of(e.get("iat")) == Some(claims.iat)
            || (!claims.jti.is_empty() && e.get("id").and_then(Value::as_str) == Some(&claims.jti))
    })
}

fn revoked(project: &str, role: &str) -> ApiError {
    ApiError::unauthenticated(format!(
        "invalid session: the token of project {project} role {role} has been revoked or its role removed"
    ))
}

async fn project_type(state: &AppState) -> Result<ResourceType, ApiError> {
    state
        .client
        .resolve("argoproj.io/v1alpha1", "AppProject")
        .await
        .map_err(|e| ApiError::unavailable(format!("resolving the AppProject type: {e}")))
}

/// The live AppProject (not the cache).
async fn fetch(state: &AppState, project: &str) -> Result<Option<Value>, ApiError> {
    let t = project_type(state).await?;
    state
        .client
        .get(&t, Some(&state.opts.namespace), project)
        .await
        .map_err(|e| ApiError::unavailable(format!("reading AppProject {project}: {e}")))
}

/// Checks a project token's entry and gives a caller limited to its role.
pub async fn authenticate(state: &AppState, claims: Claims) -> Result<Caller, ApiError> {
    let rest = claims.sub.strip_prefix("proj:").unwrap_or("");
    let Some((project, role)) = rest.split_once(':') else {
        return Err(ApiError::unauthenticated(
            "invalid session: a project token's subject must be proj:<project>:<role>",
        ));
    };
    let obj: Arc<Value> = match state.apps.project(project) {
        Some(p) if recorded(&p, role, &claims) => p,
        Some(_) if now() - claims.iat > FRESH_SECS => return Err(revoked(project, role)),
        _ => match fetch(state, project).await? {
            Some(p) if recorded(&p, role, &claims) => Arc::new(p),
            _ => return Err(revoked(project, role)),
        },
    };
    let roles = state.auth.roles_of(&obj);
    if !roles.roles.contains_key(role) {
        return Err(revoked(project, role));
    }
    Ok(Caller {
        subject: claims.sub.clone(),
        groups: Vec::new(),
        issuer: claims.iss,
        scope: Some(ProjectScope {
            project: project.to_string(),
            role: role.to_string(),
            roles,
        }),
    })
}

/// The live project, after checking the caller may manage the role's tokens: `projects,
/// update` on the project, or membership in one of the role's groups.
async fn managed_project(
    state: &AppState,
    caller: &Caller,
    project: &str,
    role: &str,
) -> Result<Value, ApiError> {
    let Some(obj) = fetch(state, project).await? else {
        return Err(if caller.can(state, "projects", "get", project) {
            ApiError::not_found(format!("appprojects.argoproj.io \"{project}\" not found"))
        } else {
            ApiError::forbidden("projects", "update", project)
        });
    };
    let role_obj = obj
        .pointer("/spec/roles")
        .and_then(Value::as_array)
        .and_then(|rs| {
            rs.iter()
                .find(|r| r.get("name").and_then(Value::as_str) == Some(role))
        })
        .cloned();
    let in_groups = role_obj
        .as_ref()
        .and_then(|r| r.get("groups"))
        .and_then(Value::as_array)
        .is_some_and(|gs| {
            gs.iter()
                .filter_map(Value::as_str)
                .any(|g| caller.groups.iter().any(|c| c == g))
        });
    if !(in_groups || caller.can(state, "projects", "update", project)) {
        return Err(ApiError::forbidden("projects", "update", project));
    }
    if role_obj.is_none() {
        return Err(ApiError::not_found(format!(
            "project {project} has no role {role}"
        )));
    }
    Ok(obj)
}

/// The body of a token request.
#[derive(Debug, Default, Deserialize)]
struct TokenRequest {
    /// Seconds until expiry (0 or absent: never); a number or a string (grpc-gateway int64).
    #[serde(default, rename = "expiresIn")]
    expires_in: Option<Value>,
    /// The token id (default: a random UUID).
    #[serde(default)]
    id: Option<String>,
}

/// Writes the role's entries to `status.jwtTokensByRole` (the whole list of that role).
async fn write_entries(
    state: &AppState,
    project: &str,
    role: &str,
    items: Vec<Value>,
) -> Result<Value, ApiError> {
    let t = project_type(state).await?;
    let patch = json!({"status": {"jwtTokensByRole": {role: {"items": items}}}});
    state
        .client
        .merge_patch(
            &t,
            Some(&state.opts.namespace),
            project,
            &patch,
            true,
            FIELD_MANAGER,
        )
        .await
        .map_err(|e| {
            ApiError::unavailable(format!("recording the token in AppProject {project}: {e}"))
        })
}

fn status_items(obj: &Value, role: &str) -> Vec<Value> {
    obj.pointer("/status/jwtTokensByRole")
        .and_then(|m| m.get(role))
        .and_then(|r| r.get("items"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// `POST /api/v1/projects/{project}/roles/{role}/token`.
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, role)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    JsonBody(req): JsonBody<TokenRequest>,
) -> Result<Response, ApiError> {
    Params::parse(query.as_deref(), &[])?;
    let expires_in = match &req.expires_in {
        None | Some(Value::Null) => 0,
        Some(v) => i64_of(Some(v)).filter(|n| *n >= 0).ok_or_else(|| {
            ApiError::bad_request("expiresIn: must be a number of seconds (0: never)")
        })?,
    };
    let id = req
        .id
        .filter(|i| !i.trim().is_empty())
        .unwrap_or_else(jwt::new_id);
    for _ in 0..5 {
        let obj = managed_project(&state, &caller, &project, &role).await?;
        let existing = entries(&obj, &role);
        if existing
            .iter()
            .any(|e| e.get("id").and_then(Value::as_str) == Some(&id))
        {
            return Err(ApiError::conflict(format!(
                "project {project} role {role} already has a token with id {id:?}"
            )));
        }
        // Tokens are revoked by iat: keep it unique within the role.
        let mut iat = now();
        while existing.iter().any(|e| i64_of(e.get("iat")) == Some(iat)) {
            iat += 1;
        }
        let exp = (expires_in > 0).then_some(iat + expires_in);
        let mut entry = json!({"iat": iat, "id": id});
        if let Some(e) = exp {
            entry["exp"] = json!(e);
        }
        let mut items = status_items(&obj, &role);
        items.push(entry);
        let written = write_entries(&state, &project, &role, items).await?;
        let claims = Claims {
            iss: ISSUER.into(),
            sub: format!("proj:{project}:{role}"),
            iat,
            nbf: Some(iat),
            exp,
            jti: id.clone(),
            extra: Default::default(),
        };
        // A concurrent write of the same role's list may have replaced ours: check, else retry.
        if recorded(&written, &role, &claims) {
            let token = jwt::sign(&claims, &state.auth.settings().key);
            return Ok(json(StatusCode::OK, &json!({ "token": token })));
        }
    }
    Err(ApiError::conflict(format!(
        "AppProject {project} kept changing while the token was recorded; try again"
    )))
}

/// `DELETE /api/v1/projects/{project}/roles/{role}/token/{iat}`.
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, role, iat)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    Params::parse(query.as_deref(), &["id"])?;
    let iat: i64 = iat
        .parse()
        .map_err(|_| ApiError::bad_request(format!("iat {iat:?} is not a number")))?;
    let obj = managed_project(&state, &caller, &project, &role).await?;
    let items = status_items(&obj, &role);
    let kept: Vec<Value> = items
        .iter()
        .filter(|e| i64_of(e.get("iat")) != Some(iat))
        .cloned()
        .collect();
    if kept.len() != items.len() {
        write_entries(&state, &project, &role, kept).await?;
    }
    let in_spec = obj
        .pointer("/spec/roles")
        .and_then(Value::as_array)
        .is_some_and(|rs| rs.iter().any(|r| r.get("jwtTokens").is_some()));
    if in_spec {
        if let Some(fresh) = fetch(&state, &project).await? {
            remove_from_spec(&state, fresh, &role, iat).await?;
        }
    }
    Ok(json(StatusCode::OK, &json!({})))
}

/// Removes the entry from the older `spec.roles[].jwtTokens` too, when it is there.
async fn remove_from_spec(
    state: &AppState,
    mut obj: Value,
    role: &str,
    iat: i64,
) -> Result<(), ApiError> {
    let mut changed = false;
    if let Some(roles) = obj.pointer_mut("/spec/roles").and_then(Value::as_array_mut) {
        for r in roles {
            if r.get("name").and_then(Value::as_str) != Some(role) {
                continue;
            }
            if let Some(t) = r.get_mut("jwtTokens").and_then(Value::as_array_mut) {
                let before = t.len();
                t.retain(|e| i64_of(e.get("iat")) != Some(iat));
                changed |= t.len() != before;
            }
        }
    }
    if !changed {
        return Ok(());
    }
    let t = project_type(state).await?;
    state
        .client
        .replace(&t, &obj, false, FIELD_MANAGER)
        .await
        .map(|_| ())
        .map_err(|e| ApiError::unavailable(format!("updating the AppProject's roles: {e}")))
}

/// The project token routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/projects/{project}/roles/{role}/token",
            post(create),
        )
        .route(
            "/api/v1/projects/{project}/roles/{role}/token/{iat}",
            delete(remove),
        )
}
