//! `GET /api/v1/applications` (list, from the cache, filtered and RBAC-checked per app),
//! `GET /api/v1/applications/{name}` (with `refresh`), `GET /api/v1/projects[/{name}]`,
//! `GET /api/v1/settings` (anonymous) and `GET /api/version`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use crate::api::body::json;
use crate::api::lookup;
use crate::api::query::Params;
use crate::auth::Caller;
use crate::cache::apps_fields::Fields;
use crate::cache::apps_filter::{AppFilter, Selector};
use crate::error::ApiError;
use crate::state::AppState;

/// The annotation that asks the controller for a refresh.
pub const REFRESH_ANNOTATION: &str = "argocd.argoproj.io/refresh";
/// The field manager of the server's writes.
pub const FIELD_MANAGER: &str = "argocd-server";

/// This module's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/applications", get(list))
        .route("/api/v1/applications/{name}", get(get_app))
        .route("/api/v1/projects", get(list_projects))
        .route("/api/v1/projects/{name}", get(get_project))
        .route("/api/v1/settings", get(settings))
        .route("/api/version", get(version))
}

/// The filter the list and stream parameters mean (`projects`/`project`, `selector`, `name`,
/// `repo`, `appNamespace`, `search`).
pub fn filter_of(p: &Params) -> Result<AppFilter, ApiError> {
    let mut projects: Vec<String> = p.all("projects").into_iter().map(String::from).collect();
    projects.extend(p.all("project").into_iter().map(String::from));
    let selector = Selector::parse(p.get("selector").unwrap_or(""))
        .map_err(|e| ApiError::bad_request(format!("query parameter \"selector\": {e}")))?;
    let some = |k: &str| p.get(k).filter(|v| !v.is_empty()).map(String::from);
    Ok(AppFilter {
        projects,
        selector,
        name: some("name"),
        repo: some("repo"),
        namespace: some("appNamespace"),
        search: some("search").map(|s| s.to_lowercase()),
    })
}

/// The response bytes of a `{metadata:{resourceVersion}, items}` list, projected by `fields`.
/// An item kept whole is written from its cached JSON when it has one.
pub fn list_body(
    rv: &str,
    items: &[(Arc<Value>, Option<Bytes>)],
    fields: Option<&Fields>,
) -> Response {
    let meta = json!({"resourceVersion": rv});
    let (meta, item_fields, keep_items) = match fields {
        None => (Some(meta), None, true),
        Some(f) => (
            f.under("metadata").map(|m| m.apply(&meta)),
            if f.keeps_whole("items") {
                None
            } else {
                f.under("items")
            },
            f.keeps_whole("items") || f.under("items").is_some(),
        ),
    };
    let mut out: Vec<u8> = Vec::with_capacity(64 + items.len() * 1024);
    out.push(b'{');
    let mut first = true;
    if let Some(m) = meta {
        out.extend_from_slice(b"\"metadata\":");
        if serde_json::to_writer(&mut out, &m).is_err() {
            return ApiError::internal("encoding the list metadata").into_response();
        }
        first = false;
    }
    if keep_items {
        if !first {
            out.push(b',');
        }
        out.extend_from_slice(b"\"items\":[");
        for (i, (item, raw)) in items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let written = match (&item_fields, raw) {
                (None, Some(raw)) if !raw.is_empty() => {
                    out.extend_from_slice(raw);
                    Ok(())
                }
                (None, _) => serde_json::to_writer(&mut out, &**item),
                (Some(f), _) => serde_json::to_writer(&mut out, &f.apply(item)),
            };
            if written.is_err() {
                return ApiError::internal("encoding an item of the list").into_response();
            }
        }
        out.push(b']');
    }
    out.push(b'}');
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        out,
    )
        .into_response()
}

/// `GET /api/v1/applications`.
async fn list(
    caller: Caller,
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(
        q.as_deref(),
        &[
            "projects",
            "project",
            "selector",
            "search",
            "name",
            "repo",
            "appNamespace",
            "resourceVersion",
            "fields",
        ],
    )?;
    let filter = filter_of(&p)?;
    let fields = Fields::parse(p.get("fields"));
    let rv = state.apps.resource_version();
    let mut items: Vec<(Arc<Value>, Option<Bytes>)> = state
        .apps
        .list_cached()
        .into_iter()
        .filter(|c| filter.matches(&c.value))
        .filter(|c| {
            let object = lookup::rbac_object(&state, &c.value);
            caller.can(&state, "applications", "get", &object)
        })
        .map(|c| (c.value, Some(c.json)))
        .collect();
    // The cache is ordered by namespace then name; Argo CD orders by name.
    items.sort_by(|a, b| name(&a.0).cmp(name(&b.0)));
    Ok(list_body(&rv, &items, fields.as_ref()))
}

fn name(v: &Value) -> &str {
    v.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// `GET /api/v1/applications/{name}` (`refresh=normal|hard` patches the refresh annotation).
async fn get_app(
    caller: Caller,
    State(state): State<AppState>,
    Path(app_name): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref(), &["appNamespace", "project", "refresh"])?;
    let refresh = match p.get("refresh") {
        None | Some("") => None,
        Some(r @ ("normal" | "hard")) => Some(r.to_string()),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "query parameter \"refresh\": {other:?} is not normal or hard"
            )))
        }
    };
    let app = lookup::app(
        &state,
        &caller,
        &app_name,
        p.get("appNamespace"),
        p.get("project"),
        "get",
    )?;
    let Some(kind) = refresh else {
        return Ok(json(StatusCode::OK, &*app));
    };
    let ns = app
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or(&state.opts.namespace)
        .to_string();
    let t = state
        .apps
        .app_type()
        .ok_or_else(|| ApiError::unavailable("the Application type is not known yet"))?;
    let patch = json!({"metadata": {"annotations": {REFRESH_ANNOTATION: kind}}});
    let patched = state
        .client
        .merge_patch(&t, Some(&ns), &app_name, &patch, false, FIELD_MANAGER)
        .await
        .map_err(|e| match e.status_code() {
            Some(404) => {
                ApiError::not_found(format!("applications.argoproj.io \"{app_name}\" not found"))
            }
            Some(_) => ApiError::internal(format!(
                "patching the refresh annotation of {ns}/{app_name}: {}",
                fjord_model::chain(&e)
            )),
            None => ApiError::unavailable(format!(
                "patching the refresh annotation of {ns}/{app_name}: the Kubernetes API \
                 did not answer"
            )),
        })?;
    Ok(json(StatusCode::OK, &patched))
}

/// `GET /api/v1/projects`: the projects the caller may `get`.
async fn list_projects(
    caller: Caller,
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref(), &["name", "fields"])?;
    let fields = Fields::parse(p.get("fields"));
    let items: Vec<(Arc<Value>, Option<Bytes>)> = state
        .apps
        .projects()
        .into_iter()
        .filter(|pr| p.get("name").is_none_or(|n| n.is_empty() || n == name(pr)))
        .filter(|pr| caller.can(&state, "projects", "get", name(pr)))
        .map(|pr| (pr, None))
        .collect();
    Ok(list_body(
        &state.apps.resource_version(),
        &items,
        fields.as_ref(),
    ))
}

/// `GET /api/v1/projects/{name}`.
async fn get_project(
    caller: Caller,
    State(state): State<AppState>,
    Path(project): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    Params::parse(q.as_deref(), &[])?;
    caller.require(&state, "projects", "get", &project)?;
    let p = state.apps.project(&project).ok_or_else(|| {
        ApiError::not_found(format!("appprojects.argoproj.io \"{project}\" not found"))
    })?;
    Ok(json(StatusCode::OK, &*p))
}

/// `GET /api/v1/settings` (no session needed: the login page reads it).
async fn settings(State(state): State<AppState>, RawQuery(q): RawQuery) -> Response {
    if let Err(e) = Params::parse(q.as_deref(), &[]) {
        return e.into_response();
    }
    json(
        StatusCode::OK,
        &json!({
            "appLabelKey": "app.kubernetes.io/instance",
            "controllerNamespace": state.opts.namespace,
            "userLoginsDisabled": false,
            "clusterReachable": state.apps.reachable(),
        }),
    )
}

/// `GET /api/version`: `Version` for anyone; the build details for a logged-in caller.
async fn version(caller: Result<Caller, ApiError>, State(state): State<AppState>) -> Response {
    let version = format!("v{}", env!("CARGO_PKG_VERSION"));
    if caller.is_err() {
        return json(StatusCode::OK, &json!({"Version": version}));
    }
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    json(
        StatusCode::OK,
        &json!({
            "Version": version,
            "BuildDate": state.opts.build_date,
            "GitCommit": state.opts.build_commit,
            "Platform": format!("{}/{arch}", std::env::consts::OS),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;

    /// An Application of about the size a synced app with a few resources has (~3 KB).
    fn app(i: usize) -> Value {
        let resources: Vec<Value> = (0..8)
            .map(|r| {
                json!({"group": "apps", "version": "v1", "kind": "Deployment",
                       "namespace": "team", "name": format!("svc-{i}-{r}"),
                       "status": "Synced", "health": {"status": "Healthy"}})
            })
            .collect();
        json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": format!("app-{i:05}"), "namespace": "argocd",
                         "resourceVersion": format!("{}", 1000 + i),
                         "labels": {"team": format!("t{}", i % 10)}},
            "spec": {"project": "default",
                     "source": {"repoURL": format!("https://git.example/org/repo-{}.git", i % 50),
                                "path": format!("apps/{i}"), "targetRevision": "HEAD"},
                     "destination": {"server": "https://kubernetes.default.svc", "namespace": "team"}},
            "status": {"sync": {"status": "Synced", "revision": "0123456789abcdef0123456789abcdef01234567"},
                       "health": {"status": "Healthy"}, "resources": resources,
                       "reconciledAt": "2026-01-01T00:00:00Z"}
        })
    }

    #[tokio::test]
    async fn ten_thousand_apps_list_quickly_and_project_fields() {
        let items: Vec<(Arc<Value>, Option<Bytes>)> = (0..10_000)
            .map(|i| {
                let v = app(i);
                let raw = Bytes::from(serde_json::to_vec(&v).unwrap());
                (Arc::new(v), Some(raw))
            })
            .collect();
        let start = std::time::Instant::now();
        let filter = AppFilter::default();
        let mut kept: Vec<_> = items
            .iter()
            .filter(|a| filter.matches(&a.0))
            .cloned()
            .collect();
        kept.sort_by(|a, b| name(&a.0).cmp(name(&b.0)));
        let res = list_body("11000", &kept, None);
        let bytes = to_bytes(res.into_body(), usize::MAX).await.unwrap();
        let took = start.elapsed();
        eprintln!("10,000 apps: {} bytes in {took:?}", bytes.len());
        if !cfg!(debug_assertions) {
            assert!(took < std::time::Duration::from_millis(300), "{took:?}");
        }
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["items"].as_array().unwrap().len(), 10_000);
        assert_eq!(v["metadata"]["resourceVersion"], "11000");

        let f = Fields::parse(Some("items.metadata.name,items.status.sync.status")).unwrap();
        let res = list_body("1", &kept[..2], Some(&f));
        let bytes = to_bytes(res.into_body(), usize::MAX).await.unwrap();
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            v,
            json!({"items": [
                {"metadata": {"name": "app-00000"}, "status": {"sync": {"status": "Synced"}}},
                {"metadata": {"name": "app-00001"}, "status": {"sync": {"status": "Synced"}}},
            ]})
        );
    }
}
