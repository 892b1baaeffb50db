//! The request bodies of the write routes and the `operation` each one asks the controller for:
//! pure functions (no I/O), so every refusal is tested without a cluster.
//!
//! Every body refuses unknown fields, and every field it takes either reaches the operation or
//! is refused with a 400 naming it (fjord never silently ignores part of a request).

use serde::Deserialize;
use serde_json::{json, Map, Value};

use fjord_controller::api::parse_duration;
use fjord_controller::runtime::sync_options::sync_options;

use crate::error::ApiError;

/// The resources finalizer (cascading delete), as `fjord app delete` sets it.
pub const FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";

/// Argo CD's text for a write while an operation is pending or running.
pub const IN_PROGRESS: &str = "another operation is already in progress";

/// An int64 as protobuf's JSON mapping allows it: a number or a decimal string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Int64 {
    /// `2`
    Number(i64),
    /// `"2"`
    Text(String),
}

impl<'de> Deserialize<'de> for Int64 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Int64, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Int64;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an integer or a decimal string")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Int64, E> {
                Ok(Int64::Number(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Int64, E> {
                i64::try_from(v)
                    .map(Int64::Number)
                    .map_err(|_| E::custom(format!("{v} is too large for an int64")))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Int64, E> {
                Ok(Int64::Text(v.to_string()))
            }
        }
        d.deserialize_any(Visit)
    }
}

impl Int64 {
    /// The value, or a 400 naming `field`.
    pub fn value(&self, field: &str) -> Result<i64, ApiError> {
        match self {
            Int64::Number(n) => Ok(*n),
            Int64::Text(t) => t
                .trim()
                .parse()
                .map_err(|_| ApiError::bad_request(format!("{field}: {t:?} is not an integer"))),
        }
    }
}

/// `POST /api/v1/applications/{name}/sync`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SyncBody {
    /// The app's name (when given, it must be the one in the path).
    pub name: Option<String>,
    /// The revision to sync to.
    pub revision: Option<String>,
    /// Revisions of a multi-source app (refused: fjord syncs one source).
    pub revisions: Option<Vec<String>>,
    /// Source positions of a multi-source app (refused likewise).
    pub source_positions: Option<Vec<Int64>>,
    /// Delete what Git no longer has.
    pub prune: Option<bool>,
    /// Plan only.
    pub dry_run: Option<bool>,
    /// `apply` or `hook`.
    pub strategy: Option<Strategy>,
    /// A selective sync's resources.
    pub resources: Option<Vec<SyncResource>>,
    /// Local manifests (refused: fjord has no `override` sync).
    pub manifests: Option<Vec<String>>,
    /// Extra information recorded with the operation.
    pub infos: Option<Vec<InfoBody>>,
    /// Retries of a failed sync.
    pub retry_strategy: Option<RetryBody>,
    /// Sync options (`{items: ["Key=value"]}`).
    pub sync_options: Option<SyncOptionsBody>,
    /// The app's namespace.
    pub app_namespace: Option<String>,
    /// The app's project (for the RBAC lookup).
    pub project: Option<String>,
}

/// `strategy`: exactly one of `apply` and `hook`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Strategy {
    /// Apply only, without hooks.
    pub apply: Option<Force>,
    /// Hooks and apply (the default).
    pub hook: Option<Force>,
}

/// `{force}` of a strategy.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Force {
    /// Delete and re-create what cannot be updated.
    pub force: Option<bool>,
}

/// One selected resource.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncResource {
    /// API group (`""` for core).
    pub group: Option<String>,
    /// Kind.
    pub kind: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// Namespace.
    pub namespace: Option<String>,
}

/// One `infos` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfoBody {
    /// Name.
    pub name: Option<String>,
    /// Value.
    pub value: Option<String>,
}

/// `retryStrategy`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryBody {
    /// Maximum retries (negative: unlimited).
    pub limit: Option<Int64>,
    /// Backoff.
    pub backoff: Option<BackoffBody>,
    /// Retry with the latest revision.
    pub refresh: Option<bool>,
}

/// `retryStrategy.backoff`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BackoffBody {
    /// First wait (`5s`).
    pub duration: Option<String>,
    /// Multiplier.
    pub factor: Option<Int64>,
    /// Longest wait (`3m`).
    pub max_duration: Option<String>,
}

/// `syncOptions`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncOptionsBody {
    /// `Key=value` items.
    pub items: Option<Vec<String>>,
}

/// `POST /api/v1/applications/{name}/rollback`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RollbackBody {
    /// The app's name (when given, it must be the one in the path).
    pub name: Option<String>,
    /// The `status.history[].id` to go back to.
    pub id: Option<Int64>,
    /// Plan only.
    pub dry_run: Option<bool>,
    /// Delete what the older revision does not have.
    pub prune: Option<bool>,
    /// The app's namespace.
    pub app_namespace: Option<String>,
    /// The app's project.
    pub project: Option<String>,
}

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

/// A `name` in the body must be the path's.
pub fn check_name(body: Option<&str>, path: &str) -> Result<(), ApiError> {
    match body.filter(|n| !n.is_empty()) {
        Some(n) if n != path => Err(ApiError::bad_request(format!(
            "name: the body names {n:?} but the path names {path:?}"
        ))),
        _ => Ok(()),
    }
}

/// Whether an operation is pending (`operation` set) or running (`Running`/`Terminating`).
pub fn in_progress(app: &Value) -> bool {
    app.get("operation").is_some_and(|o| !o.is_null())
        || matches!(
            s(app, "/status/operationState/phase"),
            "Running" | "Terminating"
        )
}

/// Whether automated sync is on.
pub fn auto_sync(app: &Value) -> bool {
    app.pointer("/spec/syncPolicy/automated")
        .is_some_and(|a| !a.is_null() && a.get("enabled") != Some(&Value::Bool(false)))
}

/// The `operation` a sync request asks for (`app`: the Application as it is now).
pub fn sync_operation(body: &SyncBody, app: &Value, user: &str) -> Result<Value, ApiError> {
    refuse_unsupported(body)?;
    let mut sync = Map::new();
    if let Some(rev) = body.revision.as_deref().filter(|r| !r.is_empty()) {
        let target = s(app, "/spec/source/targetRevision");
        let target = if target.is_empty() { "HEAD" } else { target };
        if auto_sync(app) && rev != target {
            return Err(ApiError::bad_request(format!(
                "Cannot sync to {rev}: auto-sync currently set to {target}"
            )));
        }
        sync.insert("revision".into(), json!(rev));
    }
    sync.insert("prune".into(), json!(body.prune.unwrap_or(false)));
    sync.insert("dryRun".into(), json!(body.dry_run.unwrap_or(false)));
    if let Some(strategy) = strategy(body.strategy.as_ref())? {
        sync.insert("syncStrategy".into(), strategy);
    }
    if let Some(list) = body.resources.as_ref().filter(|r| !r.is_empty()) {
        sync.insert("resources".into(), resources(list)?);
    }
    if let Some(items) = body.sync_options.as_ref().and_then(|o| o.items.as_ref()) {
        sync_options(items)
            .map_err(|e| ApiError::bad_request(format!("syncOptions.items: {}", e.message())))?;
        if !items.is_empty() {
            sync.insert("syncOptions".into(), json!(items));
        }
    }
    let mut op = json!({"sync": sync, "initiatedBy": {"username": user}});
    if let Some(infos) = body.infos.as_ref().filter(|i| !i.is_empty()) {
        op["info"] = infos_value(infos)?;
    }
    match &body.retry_strategy {
        Some(r) => op["retry"] = retry(r)?,
        None => {
            if let Some(r) = app
                .pointer("/spec/syncPolicy/retry")
                .filter(|r| !r.is_null())
            {
                op["retry"] = r.clone();
            }
        }
    }
    Ok(op)
}

/// The fields fjord cannot carry out, refused by name.
fn refuse_unsupported(body: &SyncBody) -> Result<(), ApiError> {
    if body.manifests.as_ref().is_some_and(|m| !m.is_empty()) {
        return Err(ApiError::bad_request(
            "manifests: fjord does not sync local manifests (Argo CD's `override` sync); \
             push them to the app's repository instead",
        ));
    }
    if body.revisions.as_ref().is_some_and(|r| !r.is_empty()) {
        return Err(ApiError::bad_request(
            "revisions: fjord syncs single-source apps; use revision",
        ));
    }
    if body
        .source_positions
        .as_ref()
        .is_some_and(|r| !r.is_empty())
    {
        return Err(ApiError::bad_request(
            "sourcePositions: fjord syncs single-source apps",
        ));
    }
    Ok(())
}

/// `syncStrategy`: the hook strategy without force is what fjord does; the others are refused.
fn strategy(strategy: Option<&Strategy>) -> Result<Option<Value>, ApiError> {
    let Some(st) = strategy else { return Ok(None) };
    match (&st.apply, &st.hook) {
        (Some(_), Some(_)) => Err(ApiError::bad_request(
            "strategy: give one of apply and hook, not both",
        )),
        (Some(_), None) => Err(ApiError::bad_request(
            "strategy.apply: fjord always runs the app's hooks; use strategy.hook",
        )),
        (None, Some(Force { force: Some(true) })) => Err(ApiError::bad_request(
            "strategy.hook.force: fjord does not force (delete and re-create) resources; \
             use syncOptions Replace=true",
        )),
        (None, Some(_)) => Ok(Some(json!({"hook": {}}))),
        (None, None) => Ok(None),
    }
}

fn resources(list: &[SyncResource]) -> Result<Value, ApiError> {
    let mut out = Vec::new();
    for (i, r) in list.iter().enumerate() {
        let field = |f: &Option<String>| f.clone().unwrap_or_default();
        for (what, v) in [("kind", &r.kind), ("name", &r.name)] {
            if field(v).is_empty() {
                return Err(ApiError::bad_request(format!(
                    "resources[{i}].{what} is empty"
                )));
            }
        }
        let mut item = json!({"group": field(&r.group), "kind": field(&r.kind),
                              "name": field(&r.name)});
        if let Some(ns) = r.namespace.as_deref().filter(|n| !n.is_empty()) {
            item["namespace"] = json!(ns);
        }
        out.push(item);
    }
    Ok(Value::Array(out))
}

fn infos_value(infos: &[InfoBody]) -> Result<Value, ApiError> {
    let mut out = Vec::new();
    for (i, info) in infos.iter().enumerate() {
        let name = info.name.clone().unwrap_or_default();
        if name.is_empty() {
            return Err(ApiError::bad_request(format!("infos[{i}].name is empty")));
        }
        out.push(json!({"name": name, "value": info.value.clone().unwrap_or_default()}));
    }
    Ok(Value::Array(out))
}

/// `retry`, checked as the controller will read it.
fn retry(r: &RetryBody) -> Result<Value, ApiError> {
    let mut out = Map::new();
    if let Some(limit) = &r.limit {
        out.insert("limit".into(), json!(limit.value("retryStrategy.limit")?));
    }
    if let Some(refresh) = r.refresh {
        out.insert("refresh".into(), json!(refresh));
    }
    if let Some(b) = &r.backoff {
        let mut backoff = Map::new();
        for (field, v) in [("duration", &b.duration), ("maxDuration", &b.max_duration)] {
            if let Some(d) = v.as_deref().filter(|d| !d.is_empty()) {
                parse_duration(d).map_err(|e| {
                    ApiError::bad_request(format!("retryStrategy.backoff.{field}: {e}"))
                })?;
                backoff.insert(field.into(), json!(d));
            }
        }
        if let Some(f) = &b.factor {
            let factor = f.value("retryStrategy.backoff.factor")?;
            if factor < 1 {
                return Err(ApiError::bad_request(format!(
                    "retryStrategy.backoff.factor: {factor} is less than 1"
                )));
            }
            backoff.insert("factor".into(), json!(factor));
        }
        out.insert("backoff".into(), Value::Object(backoff));
    }
    Ok(Value::Object(out))
}

/// The `operation` a rollback asks for: a sync to the history entry's revision and source.
pub fn rollback_operation(body: &RollbackBody, app: &Value, user: &str) -> Result<Value, ApiError> {
    let name = s(app, "/metadata/name");
    if auto_sync(app) {
        return Err(ApiError::bad_request(format!(
            "rollback cannot be initiated when auto-sync is enabled: \
             turn off spec.syncPolicy.automated of {name} first"
        )));
    }
    let id = match &body.id {
        Some(id) => id.value("id")?,
        None => 0,
    };
    let entry = app
        .pointer("/status/history")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|h| h.get("id").and_then(Value::as_i64) == Some(id))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "id: application {name} does not have deployment with id {id}"
            ))
        })?;
    let mut sync = json!({
        "revision": s(entry, "/revision"),
        "prune": body.prune.unwrap_or(false),
        "dryRun": body.dry_run.unwrap_or(false),
    });
    if let Some(src) = entry.get("source").filter(|v| !v.is_null()) {
        sync["source"] = src.clone();
    }
    Ok(json!({"sync": sync, "initiatedBy": {"username": user}}))
}

/// The finalizer a cascading delete with `policy` sets, or a 400 for an unknown policy.
pub fn delete_finalizer(policy: &str) -> Result<String, ApiError> {
    match policy {
        "" => Ok(FINALIZER.to_string()),
        "foreground" | "background" => Ok(format!("{FINALIZER}/{policy}")),
        other => Err(ApiError::bad_request(format!(
            "propagationPolicy: {other:?} is not foreground, background or empty"
        ))),
    }
}

/// The app's finalizers after the delete request: every resources finalizer removed, and
/// `wanted` added (cascade).
pub fn finalizers_for_delete(app: &Value, wanted: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = app
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|f| !f.starts_with(FINALIZER))
        .map(str::to_string)
        .collect();
    out.extend(wanted.map(str::to_string));
    out
}

/// The merge patch that terminates the app's operation, and whether it goes to the status
/// subresource: a pending request is withdrawn (`operation: null`); a running operation moves
/// to `Terminating` (as the controller's `status::terminate` does); otherwise a 409.
pub fn terminate_patch(app: &Value) -> Result<(Value, bool), ApiError> {
    if app.get("operation").is_some_and(|o| !o.is_null()) {
        return Ok((json!({ "operation": null }), false));
    }
    if s(app, "/status/operationState/phase") == "Running" {
        let patch = json!({"status": {"operationState": {"phase": "Terminating"}}});
        return Ok((patch, true));
    }
    Err(ApiError::conflict(
        "Unable to terminate operation. No operation is in progress",
    ))
}

#[cfg(test)]
mod tests;
