//! Authentication and authorization.
//!
//! - [`Auth`]: the admin account and local accounts (bcrypt hashes in `argocd-secret`), the
//!   HS256 signing key (`server.secretkey`), `argocd-rbac-cm`, project roles; followed with
//!   watches and reloaded on change.
//! - [`Caller`]: the axum extractor of the authenticated caller (a `Bearer` token, else the
//!   `argocd.token` cookie); a request without a valid one gets 401.
//! - [`Caller::require`]: one RBAC check (`resource, action, object`), 403 when denied.
//! - [`routes`]: sessions, userinfo, can-i, project tokens; [`csrf_guard`]: the write guard.
//!
//! Files: `jwt.rs` (tokens), `policy.rs` (RBAC), `limiter.rs` (login failures), `settings.rs`
//! (accounts from argocd-cm/argocd-secret), `bootstrap.rs` (first start), `watch.rs` (reloads),
//! `session.rs` and `tokens.rs` (routes), `csrf.rs`, `random.rs`, `error.rs`.

pub mod bootstrap;
pub mod csrf;
pub mod error;
pub mod jwt;
pub mod limiter;
pub mod policy;
pub mod random;
pub mod session;
pub mod settings;
pub mod tokens;
mod watch;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use axum::Router;
use serde_json::Value;

use fjord_client::Client;

use crate::error::{ApiError, ServerError};
use crate::options::ServerOptions;
use crate::state::AppState;

pub use csrf::csrf_guard;
pub use error::AuthError;
use jwt::Claims;
use limiter::Limiter;
use policy::{Policy, ProjectRoles};
use settings::Settings;

/// The cookie that carries the session token.
pub const COOKIE: &str = "argocd.token";
/// The most logins checked at once (further ones get 429).
pub const MAX_CONCURRENT_LOGINS: usize = 50;

/// Accounts, sessions, tokens and the RBAC policy.
pub struct Auth {
    client: Client,
    namespace: String,
    settings: RwLock<Arc<Settings>>,
    policy: RwLock<Arc<Policy>>,
    projects: Mutex<HashMap<String, Arc<ProjectRoles>>>,
    limiter: Limiter,
    logins: tokio::sync::Semaphore,
}

impl Auth {
    /// Loads (and on first start creates) the admin account and the signing key, and starts
    /// following `argocd-cm`, `argocd-secret` and `argocd-rbac-cm`.
    pub async fn start(client: &Client, opts: &ServerOptions) -> Result<Arc<Auth>, ServerError> {
        let ns = opts.namespace.clone();
        let failed = |e: AuthError| ServerError::Auth {
            namespace: ns.clone(),
            source: Box::new(e),
        };
        bootstrap::ensure(client, &ns).await.map_err(failed)?;
        let auth = Arc::new(Auth {
            client: client.clone(),
            namespace: ns.clone(),
            settings: RwLock::new(Arc::new(Settings::default())),
            policy: RwLock::new(Arc::new(Policy::from_config_map(None))),
            projects: Mutex::new(HashMap::new()),
            limiter: Limiter::default(),
            logins: tokio::sync::Semaphore::new(MAX_CONCURRENT_LOGINS),
        });
        watch::load(&auth).await.map_err(failed)?;
        watch::follow(&auth).await.map_err(failed)?;
        Ok(auth)
    }

    /// An authenticator over fixed settings and policy (tests; no watches).
    pub fn fixed(client: &Client, namespace: &str, settings: Settings, policy: Policy) -> Auth {
        Auth {
            client: client.clone(),
            namespace: namespace.to_string(),
            settings: RwLock::new(Arc::new(settings)),
            policy: RwLock::new(Arc::new(policy)),
            projects: Mutex::new(HashMap::new()),
            limiter: Limiter::default(),
            logins: tokio::sync::Semaphore::new(MAX_CONCURRENT_LOGINS),
        }
    }

    /// The current accounts and key.
    pub fn settings(&self) -> Arc<Settings> {
        match self.settings.read() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The current RBAC policy.
    pub fn policy(&self) -> Arc<Policy> {
        match self.policy.read() {
            Ok(p) => p.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn set_settings(&self, s: Settings) {
        for p in &s.problems {
            eprintln!("fjord server: warning: {p}");
        }
        if let Ok(mut cur) = self.settings.write() {
            *cur = Arc::new(s);
        }
    }

    fn set_policy(&self, p: Policy) {
        for problem in &p.problems {
            eprintln!("fjord server: warning: argocd-rbac-cm: {problem}");
        }
        if let Ok(mut cur) = self.policy.write() {
            *cur = Arc::new(p);
        }
        if let Ok(mut projects) = self.projects.lock() {
            projects.clear();
        }
    }

    /// The compiled roles of an AppProject object (cached by name and resourceVersion).
    fn roles_of(&self, project: &Value) -> Arc<ProjectRoles> {
        let name = project
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let rv = project
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        if let Some(r) = self.projects.lock().ok().and_then(|p| p.get(name).cloned()) {
            if r.version == rv && !rv.is_empty() {
                return r;
            }
        }
        let compiled = Arc::new(ProjectRoles::compile(project, self.policy().mode));
        for p in &compiled.problems {
            eprintln!("fjord server: warning: {p}");
        }
        if let Ok(mut projects) = self.projects.lock() {
            projects.insert(name.to_string(), compiled.clone());
        }
        compiled
    }
}

/// The project role a project token acts as.
#[derive(Debug, Clone)]
pub struct ProjectScope {
    /// The project.
    pub project: String,
    /// The role.
    pub role: String,
    /// The project's compiled roles when the token was checked.
    pub roles: Arc<ProjectRoles>,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The subject: `admin`, an account name, or `proj:<project>:<role>`.
    pub subject: String,
    /// The caller's groups (from the token's claims).
    pub groups: Vec<String>,
    /// The token's issuer.
    pub issuer: String,
    /// For a project token, the role it is limited to.
    pub scope: Option<ProjectScope>,
}

/// The project an RBAC object belongs to (`<project>/...`, or the object itself for
/// `projects`).
fn project_of<'a>(resource: &str, object: &'a str) -> Option<&'a str> {
    match resource {
        "projects" => Some(object),
        "applications" | "applicationsets" | "logs" | "exec" => {
            object.split_once('/').map(|(p, _)| p)
        }
        _ => None,
    }
}

impl Caller {
    /// Whether the caller may do `action` on `resource` `object` (Argo CD's RBAC model).
    pub fn can(&self, state: &AppState, resource: &str, action: &str, object: &str) -> bool {
        if let Some(scope) = &self.scope {
            return project_of(resource, object) == Some(scope.project.as_str())
                && scope
                    .roles
                    .verdict(&scope.role, resource, action, object)
                    .allowed();
        }
        let policy = state.auth.policy();
        if policy.enforce(&self.subject, &self.groups, resource, action, object) {
            return true;
        }
        if self.groups.is_empty() {
            return false;
        }
        let Some(project) = project_of(resource, object).and_then(|p| state.apps.project(p)) else {
            return false;
        };
        state
            .auth
            .roles_of(&project)
            .groups_allow(&self.groups, resource, action, object)
    }

    /// [`Caller::can`], or 403 naming the check.
    pub fn require(
        &self,
        state: &AppState,
        resource: &str,
        action: &str,
        object: &str,
    ) -> Result<(), ApiError> {
        if self.can(state, resource, action, object) {
            Ok(())
        } else {
            Err(ApiError::forbidden(resource, action, object))
        }
    }
}

/// The token of a request: `Authorization: Bearer`, else the `argocd.token` cookie.
pub fn request_token(parts: &Parts) -> Option<String> {
    if let Some(v) = parts.headers.get(header::AUTHORIZATION) {
        if let Some(t) = v.to_str().ok().and_then(|s| s.strip_prefix("Bearer ")) {
            let t = t.trim();
            if !t.is_empty() {
                return Some(t.to_string());
            }
        }
    }
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, v)| *k == COOKIE && !v.is_empty())
        .map(|(_, v)| v.to_string())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        let Some(token) = request_token(parts) else {
            return Err(ApiError::unauthenticated(
                "no session: log in with POST /api/v1/session or send Authorization: Bearer <token>",
            ));
        };
        session::authenticate(state, &token).await
    }
}

/// The groups of a token: the values of the claims the policy's `scopes` name.
fn groups_of(claims: &Claims, scopes: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for s in scopes {
        match claims.extra.get(s) {
            Some(Value::String(g)) => out.push(g.clone()),
            Some(Value::Array(a)) => {
                out.extend(a.iter().filter_map(Value::as_str).map(String::from))
            }
            _ => {}
        }
    }
    out
}

/// The session, account and project-token routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(session::routes())
        .merge(tokens::routes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_from_bearer_then_cookie() {
        let req = axum::http::Request::builder()
            .header("cookie", "a=b; argocd.token=fromcookie")
            .body(())
            .unwrap();
        let (parts, _) = req.into_parts();
        assert_eq!(request_token(&parts).as_deref(), Some("fromcookie"));
        let req = axum::http::Request::builder()
            .header("cookie", "argocd.token=fromcookie")
            .header("authorization", "Bearer frombearer")
            .body(())
            .unwrap();
        let (parts, _) = req.into_parts();
        assert_eq!(request_token(&parts).as_deref(), Some("frombearer"));
        let (parts, _) = axum::http::Request::new(()).into_parts();
        assert_eq!(request_token(&parts), None);
    }

    #[test]
    fn projects_of_objects() {
        assert_eq!(project_of("applications", "p/ns/a"), Some("p"));
        assert_eq!(project_of("projects", "p"), Some("p"));
        assert_eq!(project_of("clusters", "https://k"), None);
    }
}
