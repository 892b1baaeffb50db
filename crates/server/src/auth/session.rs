//! Sessions: login (`POST /api/v1/session`), logout, userinfo, can-i; and checking the token
//! of a request.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::body::{json, JsonBody};
use crate::api::query::Params;
use crate::error::ApiError;
use crate::state::AppState;

use super::jwt::{self, now, Claims, ISSUER};
use super::settings::MAX_USERNAME;
use super::{groups_of, request_token, tokens, Caller, COOKIE};

/// The one message of every failed login (a locked, unknown or wrong user alike).
pub const INVALID_LOGIN: &str = "Invalid username or password";
/// The environment variable that fixes the padding delay of a failed login (milliseconds).
pub const FAILURE_DELAY_ENV: &str = "FJORD_LOGIN_FAILURE_DELAY_MS";

/// The padding delay after a failed login: `FJORD_LOGIN_FAILURE_DELAY_MS` when set (read
/// once), else a random 500–1000 ms.
fn failure_delay() -> Duration {
    static FIXED: OnceLock<Option<u64>> = OnceLock::new();
    let fixed = FIXED.get_or_init(|| {
        std::env::var(FAILURE_DELAY_ENV)
            .ok()
            .and_then(|v| v.trim().parse().ok())
    });
    Duration::from_millis(fixed.unwrap_or_else(|| super::random::range(500, 1000)))
}

fn unauthenticated(why: impl std::fmt::Display) -> ApiError {
    ApiError::unauthenticated(format!("invalid session: {why}"))
}

/// Checks a token and gives its caller (401 naming the reason, never the token).
pub async fn authenticate(state: &AppState, token: &str) -> Result<Caller, ApiError> {
    let settings = state.auth.settings();
    if settings.key.is_empty() {
        return Err(unauthenticated("the server has no signing key yet"));
    }
    let claims = jwt::verify(token, &settings.key, now()).map_err(unauthenticated)?;
    if claims.sub.starts_with("proj:") {
        return tokens::authenticate(state, claims).await;
    }
    let Some((name, capability)) = claims.sub.rsplit_once(':') else {
        return Err(unauthenticated("the token's subject is not an account"));
    };
    let account = settings
        .accounts
        .get(name)
        .ok_or_else(|| unauthenticated(format!("account {name:?} does not exist")))?;
    if capability != "login" || !account.can("login") {
        return Err(unauthenticated(format!(
            "account {name:?} is disabled or may not use {capability} tokens"
        )));
    }
    if account.password_mtime.is_some_and(|m| claims.iat < m) {
        return Err(unauthenticated(
            "the session began before the password changed; log in again",
        ));
    }
    Ok(Caller {
        subject: name.to_string(),
        groups: groups_of(&claims, &state.auth.policy().scopes),
        issuer: claims.iss,
        scope: None,
    })
}

/// The body of `POST /api/v1/session`.
#[derive(Debug, Default, Deserialize)]
struct LoginRequest {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    token: Option<String>,
}

/// The `Set-Cookie` value of a session token (empty: clears it).
fn cookie(state: &AppState, token: &str) -> HeaderValue {
    let mut c = format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax");
    if token.is_empty() {
        c.push_str("; Max-Age=0");
    }
    if state.opts.secure() {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("argocd.token="))
}

/// Whether `username` may log in with `password` (counts failures; a locked name fails).
async fn check_password(state: &AppState, username: &str, password: &str) -> bool {
    let auth = &state.auth;
    if username.is_empty() || username.len() > MAX_USERNAME || password.is_empty() {
        return false;
    }
    if auth.limiter.locked(username, Instant::now()) {
        auth.limiter.failed(username, Instant::now());
        return false;
    }
    let hash = auth
        .settings()
        .accounts
        .get(username)
        .filter(|a| a.can("login"))
        .and_then(|a| a.password_hash.clone());
    let ok = match hash {
        Some(h) => {
            let p = password.to_string();
            tokio::task::spawn_blocking(move || bcrypt::verify(p, &h).unwrap_or(false))
                .await
                .unwrap_or(false)
        }
        None => false,
    };
    if ok {
        auth.limiter.succeeded(username);
    } else {
        auth.limiter.failed(username, Instant::now());
    }
    ok
}

/// `POST /api/v1/session`.
async fn login(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<LoginRequest>,
) -> Result<Response, ApiError> {
    if req.token.as_deref().is_some_and(|t| !t.is_empty()) {
        return Err(ApiError::bad_request(
            "token: logging in with a token is not supported; send username and password",
        ));
    }
    let Ok(_permit) = state.auth.logins.try_acquire() else {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many concurrent login requests; try again",
        ));
    };
    let username = req.username.trim().to_string();
    if !check_password(&state, &username, &req.password).await {
        tokio::time::sleep(failure_delay()).await;
        return Err(ApiError::unauthenticated(INVALID_LOGIN));
    }
    let settings = state.auth.settings();
    let iat = now();
    let lifetime = settings.session_duration.as_secs().max(1) as i64;
    let claims = Claims {
        iss: ISSUER.into(),
        sub: format!("{username}:login"),
        iat,
        nbf: Some(iat),
        exp: Some(iat + lifetime),
        jti: jwt::new_id(),
        extra: Default::default(),
    };
    let token = jwt::sign(&claims, &settings.key);
    let mut resp = json(StatusCode::OK, &json!({ "token": token }));
    resp.headers_mut()
        .insert(header::SET_COOKIE, cookie(&state, &token));
    Ok(resp)
}

/// `DELETE /api/v1/session`: clears the cookie.
async fn logout(State(state): State<AppState>) -> Response {
    let mut resp = json(StatusCode::OK, &json!({ "token": "" }));
    resp.headers_mut()
        .insert(header::SET_COOKIE, cookie(&state, ""));
    resp
}

/// `GET /api/v1/session/userinfo` (answers without a session: `loggedIn: false`).
async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let mut req = axum::http::Request::new(());
    *req.headers_mut() = headers;
    let (parts, _) = req.into_parts();
    let caller = match request_token(&parts) {
        Some(t) => authenticate(&state, &t).await.ok(),
        None => None,
    };
    let body = match caller {
        Some(c) => json!({
            "loggedIn": true,
            "username": c.subject,
            "iss": c.issuer,
            "groups": c.groups,
        }),
        None => json!({ "loggedIn": false }),
    };
    json(StatusCode::OK, &body)
}

/// `GET /api/v1/account/can-i/{resource}/{action}/{*object}`.
async fn can_i(
    State(state): State<AppState>,
    caller: Caller,
    Path((resource, action, object)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    Params::parse(query.as_deref(), &[])?;
    let yes = caller.can(&state, &resource, &action, &object);
    let value: Value = json!({ "value": if yes { "yes" } else { "no" } });
    Ok(json(StatusCode::OK, &value))
}

/// The session routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/session", post(login).delete(logout))
        .route("/api/v1/session/userinfo", get(userinfo))
        .route(
            "/api/v1/account/can-i/{resource}/{action}/{*object}",
            get(can_i),
        )
}
