//! Sync operations: the `operation` field (manual sync, rollback) or an automated sync, run by
//! fjord's sync engine; `status.operationState`, retries, history and events. Also the cascade
//! deletion behind the resources finalizer.
//!
//! Crash safety. Each write of `status.operationState` replaces the whole state in one patch
//! ([`state_patch`]: nothing of the previous operation survives the merge), and the state
//! written when an operation starts already pins the revision it syncs (`syncResult.revision`).
//! No operation runs across reconciles, so a `Running` state seen when a reconcile starts was
//! interrupted (a `kill -9`, a failed status write): the reconcile resumes it as Argo CD does,
//! at its own revision and keeping its `startedAt` ([`resume`]), and the finished sync gets its
//! history entry.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use fjord_sync::{Engine, ObjectRef, SyncOptions, SyncRequest, SyncResult};
use serde_json::{json, Map, Value};

use super::destination::{destination, load_project, Destination};
use super::source::{self, Rendered};
use super::sync_options::sync_options;
use super::{events, overrides, ControllerError, Shared, RESOURCES_FINALIZER};
use crate::api::{
    Application, Operation, OperationPhase, OperationState, ResultCode, SyncOperationResource,
    SyncOperationResult,
};
use crate::queue::{idle_while, Outcome};
use crate::status;

/// Added to the message of an operation that a controller restart interrupted and the next
/// controller finished.
pub const RESUMED: &str = "resumed after a controller restart";
/// The message of an interrupted operation that cannot be resumed.
pub const INTERRUPTED: &str = "operation interrupted by a controller restart";
/// The fields of `status.operationState`: those a new state leaves out are written as null.
const STATE_FIELDS: &[&str] = &[
    "operation",
    "phase",
    "message",
    "syncResult",
    "startedAt",
    "finishedAt",
    "retryCount",
];

fn client_err(step: &'static str) -> impl Fn(fjord_client::ClientError) -> ControllerError {
    move |source| ControllerError::Client { step, source }
}

/// The operation state of `app` left `Running` by an interrupted sync, if any (a reconcile
/// never sees a `Running` operation of its own process: operations run inside one reconcile).
pub fn interrupted(app: &Application) -> Option<&OperationState> {
    app.status
        .as_ref()?
        .operation_state
        .as_ref()
        .filter(|s| s.phase == Some(OperationPhase::Running))
}

/// Starts and runs `op` for `app`: moves it into `status.operationState` (clearing
/// `operation`), syncs, and records the result.
pub async fn run(
    shared: &Arc<Shared>,
    app: &Application,
    op: Operation,
    rendered: &Rendered,
    dest: &Destination,
    options: &SyncOptions,
) -> Result<(), ControllerError> {
    let target = objects_for(shared, app, &op, None, Some(rendered)).await;
    let mut state = status::start_operation(&op, Utc::now());
    state.sync_result = target.as_ref().ok().map(|t| pinned(app, &op, t));
    let app = write_state(shared, app, &state, None).await?;
    let app = clear_operation(shared, app, Some(&op)).await?;
    execute(shared, &app, op, state, target, dest, options, false).await
}

/// Runs a retry of a failed operation (`retry_state` comes from
/// [`status::retry_after_failure`]).
pub async fn run_retry(
    shared: &Arc<Shared>,
    app: &Application,
    op: Operation,
    mut retry_state: OperationState,
    rendered: &Rendered,
    dest: &Destination,
    options: &SyncOptions,
) -> Result<(), ControllerError> {
    let target = objects_for(shared, app, &op, None, Some(rendered)).await;
    retry_state.sync_result = target.as_ref().ok().map(|t| pinned(app, &op, t));
    let app = write_state(shared, app, &retry_state, None).await?;
    execute(shared, &app, op, retry_state, target, dest, options, false).await
}

/// Resumes an operation that a controller restart (or a failed write) left `Running`
/// ([`interrupted`]): syncs the revision it pinned when it started, keeping its `startedAt`
/// and retry count, as Argo CD resumes an in-progress operation. An `operation` field still
/// holding the same request (the crash came between the two writes of [`run`]) is cleared; a
/// different one is a new request, run after this one.
pub async fn resume(
    shared: &Arc<Shared>,
    app: &Application,
    state: OperationState,
    dest: &Destination,
    options: &SyncOptions,
) -> Result<(), ControllerError> {
    let Some(op) = state.operation.clone() else {
        return abandon(shared, app, "the interrupted operation was not recorded").await;
    };
    events::log(
        "info",
        app.name(),
        "resuming the sync operation interrupted by a controller restart",
    );
    let target = objects_for(shared, app, &op, pinned_revision(&state), None).await;
    let app = clear_operation(shared, app.clone(), Some(&op)).await?;
    execute(shared, &app, op, state, target, dest, options, true).await
}

/// How often a running sync reads its Application for a termination request.
const TERMINATION_POLL: Duration = Duration::from_secs(1);

/// Resolves when the operation of app `name` is asked to terminate (the API server's `DELETE
/// .../operation` sets its phase to `Terminating`): the running sync is then dropped between
/// requests, as Argo CD stops a terminated sync, and ends `Failed` with
/// [`status::OPERATION_TERMINATED`]. A failed read is retried at the next poll.
async fn termination_requested(shared: &Shared, name: &str) {
    loop {
        tokio::time::sleep(TERMINATION_POLL).await;
        let phase = shared
            .client
            .get(&shared.app_type, Some(&shared.opts.namespace), name)
            .await
            .ok()
            .flatten()
            .and_then(|a| {
                a.pointer("/status/operationState/phase")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            });
        if phase.as_deref() == Some(OperationPhase::Terminating.as_str()) {
            return;
        }
    }
}

/// Ends an operation left `Terminating` by a controller that stopped before it could (a
/// reconcile never sees an operation of its own process): `Failed`, as Argo CD ends it, with
/// [`status::OPERATION_TERMINATED`].
pub async fn end_terminated(
    shared: &Arc<Shared>,
    app: &Application,
) -> Result<bool, ControllerError> {
    let Some(state) = app
        .status
        .as_ref()
        .and_then(|s| s.operation_state.as_ref())
        .filter(|s| s.phase == Some(OperationPhase::Terminating))
    else {
        return Ok(false);
    };
    let message = status::OPERATION_TERMINATED;
    let state = status::transition(state, OperationPhase::Failed, message, finish_time(state));
    let updated = write_state(shared, app, &state, None).await?;
    shared
        .metrics
        .inc_sync(&updated, OperationPhase::Failed.as_str(), false);
    events::record(
        &shared.client,
        &updated,
        true,
        "OperationCompleted",
        message,
    )
    .await;
    Ok(true)
}

/// Marks the interrupted operation of `app` failed, with [`INTERRUPTED`] and `why` (the
/// operation cannot be resumed: the Application became invalid meanwhile).
pub async fn abandon(
    shared: &Arc<Shared>,
    app: &Application,
    why: &str,
) -> Result<(), ControllerError> {
    let Some(state) = interrupted(app) else {
        return Ok(());
    };
    let message = format!("{INTERRUPTED}: {why}");
    let state = status::transition(state, OperationPhase::Failed, &message, finish_time(state));
    events::log("warn", app.name(), &message);
    let updated = write_state(shared, app, &state, None).await?;
    let updated = clear_operation(shared, updated, state.operation.as_ref()).await?;
    shared
        .metrics
        .inc_sync(&updated, OperationPhase::Failed.as_str(), false);
    events::record(
        &shared.client,
        &updated,
        true,
        "OperationCompleted",
        &message,
    )
    .await;
    Ok(())
}

/// The revision an interrupted operation pinned when it started. A `Running` state that
/// still has a `finishedAt` was merged over the previous operation's state by an older
/// controller: its `syncResult` is that operation's, not this one's.
pub fn pinned_revision(state: &OperationState) -> Option<&str> {
    if state.finished_at.is_some() {
        return None;
    }
    state.sync_result.as_ref()?.revision.as_deref()
}

/// Whether the operation `held` in `operationState` carries out the request `request`: every
/// field of the request has the same value there (an older controller's merge may have added
/// fields of the operation before).
pub fn carries_out(held: &Operation, request: &Operation) -> bool {
    fn covers(held: &Value, req: &Value) -> bool {
        match (held, req) {
            (Value::Object(h), Value::Object(r)) => r
                .iter()
                .all(|(k, v)| v.is_null() || h.get(k).is_some_and(|hv| covers(hv, v))),
            _ => held == req,
        }
    }
    match (serde_json::to_value(held), serde_json::to_value(request)) {
        (Ok(h), Ok(r)) => covers(&h, &r),
        _ => false,
    }
}

/// Clears `operation` when the operation `op` moved into `operationState` carries it out (a
/// different request stays, to run after it).
async fn clear_operation(
    shared: &Shared,
    app: Application,
    op: Option<&Operation>,
) -> Result<Application, ControllerError> {
    let done = match (&app.operation, op) {
        (Some(request), Some(held)) => carries_out(held, request),
        _ => false,
    };
    if !done {
        return Ok(app);
    }
    shared
        .patch_app(
            &app,
            &json!({"operation": null}),
            false,
            "clearing the operation",
        )
        .await
}

/// The result an operation starts with: the revision it syncs, resolved once, so that a
/// resumed operation syncs the same commit.
fn pinned(app: &Application, op: &Operation, target: &Rendered) -> SyncOperationResult {
    SyncOperationResult {
        revision: Some(target.revision.clone()),
        source: op
            .sync
            .as_ref()
            .and_then(|s| s.source.clone())
            .or_else(|| app.spec().source.clone()),
        ..Default::default()
    }
}

/// Now, or the operation's `startedAt` when the clock reads earlier (a state written by
/// another process): `finishedAt` is never before `startedAt`.
fn finish_time(state: &OperationState) -> DateTime<Utc> {
    let now = Utc::now();
    state
        .started_at
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map_or(now, |t| now.max(t.to_utc()))
}

/// The objects of the revision the operation syncs: `revision` (pinned when it started), else
/// the one the operation asks for (a rollback names an older one), else `rendered`.
async fn objects_for(
    shared: &Arc<Shared>,
    app: &Application,
    op: &Operation,
    revision: Option<&str>,
    rendered: Option<&Rendered>,
) -> Result<Rendered, ControllerError> {
    let sync = op.sync.clone().unwrap_or_default();
    let wanted = revision
        .map(str::to_string)
        .or(sync.revision.clone())
        .filter(|r| !r.is_empty());
    let same_source = sync.source.is_none() || sync.source == app.spec().source;
    if let Some(r) =
        rendered.filter(|r| same_source && wanted.as_ref().is_none_or(|w| *w == r.revision))
    {
        return Ok(r.clone());
    }
    let Some(src) = sync.source.clone().or_else(|| app.spec().source.clone()) else {
        return Err(ControllerError::NoSyncSource {
            name: app.name().into(),
        });
    };
    let s = shared.clone();
    let limits = shared.settings().limits.render;
    let instance = overrides::instance_name(app, &shared.opts.namespace);
    tokio::task::spawn_blocking(move || {
        let mut pinned = src.clone();
        if let Some(rev) = wanted {
            pinned.target_revision = Some(rev);
        }
        let lazy = source::FetchPolicy {
            wanted_after: None,
            max_age: Duration::MAX,
        };
        let now = source::FetchPolicy {
            wanted_after: Some(std::time::Instant::now()),
            max_age: Duration::MAX,
        };
        let (repo, oid) = source::resolve(&s.repos, &s.fetches, &pinned, lazy)
            .or_else(|_| source::resolve(&s.repos, &s.fetches, &pinned, now))?;
        source::render(&repo, oid, &pinned, &instance, &limits)
    })
    .await
    .map_err(ControllerError::Task)?
}

/// Syncs `target` (the objects of the operation's revision, or why they could not be had),
/// then records the final state, the history entry and the event in one status write.
#[allow(clippy::too_many_arguments)]
async fn execute(
    shared: &Arc<Shared>,
    app: &Application,
    op: Operation,
    state: OperationState,
    target: Result<Rendered, ControllerError>,
    dest: &Destination,
    options: &SyncOptions,
    resumed: bool,
) -> Result<(), ControllerError> {
    let sync = op.sync.clone().unwrap_or_default();
    let spec = app.spec();
    // An operation naming its own source (a rollback) needs a source the project permits.
    let target = match (&sync.source, &dest.project) {
        (Some(src), Some(project)) => match project.check_source(src) {
            Ok(()) => target,
            Err(reason) => Err(ControllerError::SourceNotPermitted {
                app: app.name().into(),
                reason,
            }),
        },
        _ => target,
    };
    // Bad sync options end the operation (an early return would leave it `Running`).
    let extra = match sync.sync_options.as_deref().map(sync_options) {
        Some(Err(e)) => return finish(shared, app, &op, state, Err(e.message()), resumed).await,
        Some(Ok(parsed)) => Some(parsed),
        None => None,
    };
    let outcome = match target {
        Ok(target) => {
            let mut opts = options.clone();
            if let Some(parsed) = &extra {
                opts = parsed.merged_over(&opts);
            }
            let engine = Engine::new(dest.client.clone(), shared.settings().health.clone());
            let mut req = SyncRequest::new(app.name(), target.objects.clone());
            req.destination_namespace = dest.namespace.clone();
            req.options = opts;
            req.prune = sync.prune == Some(true);
            req.dry_run = sync.dry_run == Some(true);
            req.allow_empty = spec.automated().and_then(|a| a.allow_empty) == Some(true);
            req.timeout = shared.opts.sync_timeout;
            req.revision = Some(target.revision.clone());
            dest.bound(&mut req);
            req.tracked = shared
                .cache_for(&dest.server, &dest.client)
                .await
                .tracked(app.name());
            match engine.plan(&req).await {
                Ok(mut plan) => {
                    if let Some(selected) = sync.resources.as_ref().filter(|r| !r.is_empty()) {
                        // A selective sync (self-heal): the listed resources only, no hooks.
                        plan.tasks
                            .retain(|t| !t.hook && selected.iter().any(|r| selects(r, &t.id)));
                        plan.denied
                            .retain(|d| !d.hook && selected.iter().any(|r| selects(r, &d.id)));
                    }
                    // Applies and health waits are the API server's and the cluster's time:
                    // another app is reconciled meanwhile.
                    let mut no_progress = |_| {};
                    let run = idle_while(engine.execute(&plan, &mut no_progress));
                    let result = tokio::select! {
                        result = run => result,
                        () = termination_requested(shared, app.name()) => SyncResult {
                            app: app.name().to_string(),
                            phase: fjord_sync::OperationPhase::Failed,
                            message: status::OPERATION_TERMINATED.to_string(),
                            dry_run: req.dry_run,
                            resources: Vec::new(),
                        },
                    };
                    Ok((result, target))
                }
                Err(e) => Err(fjord_model::chain(&e)),
            }
        }
        Err(e) => Err(e.message()),
    };
    finish(shared, app, &op, state, outcome, resumed).await
}

/// Records a finished operation: the final state and its history entry in one status write
/// (a crash before it leaves the operation `Running`, to be resumed; after it, complete),
/// then the metric and the event.
async fn finish(
    shared: &Arc<Shared>,
    app: &Application,
    op: &Operation,
    mut state: OperationState,
    outcome: Result<(SyncResult, Rendered), String>,
    resumed: bool,
) -> Result<(), ControllerError> {
    let now = finish_time(&state);
    let (new_phase, mut message) = match &outcome {
        Ok((result, target)) => {
            let mut r = sync_result(result, &target.revision, app);
            r.source = state
                .sync_result
                .as_ref()
                .and_then(|p| p.source.clone())
                .or(r.source);
            state.sync_result = Some(r);
            (OperationPhase::from(result.phase), result.message.clone())
        }
        Err(e) => (OperationPhase::Error, e.clone()),
    };
    if resumed {
        message = format!("{message} ({RESUMED})");
    }
    // A failure that `retry` allows is retried by the reconcile loop once its backoff is over.
    let state = status::transition(&state, new_phase.clone(), &message, now);
    let history = status::should_record_history(&state).then(|| {
        let started = state
            .started_at
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map_or(now, |t| t.to_utc());
        let prev = app
            .status
            .as_ref()
            .and_then(|s| s.history.clone())
            .unwrap_or_default();
        status::append_history(
            &prev,
            status::Deployment {
                revision: state.sync_result.as_ref().and_then(|r| r.revision.clone()),
                source: state.sync_result.as_ref().and_then(|r| r.source.clone()),
                started_at: started,
                deployed_at: now,
                initiated_by: op.initiated_by.clone(),
                ..Default::default()
            },
            app.spec().history_limit(),
        )
    });
    let updated = write_state(shared, app, &state, history).await?;
    let dry_run = op.sync.as_ref().and_then(|s| s.dry_run) == Some(true);
    shared
        .metrics
        .inc_sync(&updated, new_phase.as_str(), dry_run);
    let revision = state
        .sync_result
        .as_ref()
        .and_then(|r| r.revision.clone())
        .unwrap_or_default();
    let short = &revision[..revision.len().min(7)];
    let (warning, text) = if new_phase == OperationPhase::Succeeded {
        (false, format!("Sync operation to {short} succeeded"))
    } else {
        (true, format!("Sync operation to {short} failed: {message}"))
    };
    events::record(
        &shared.client,
        &updated,
        warning,
        "OperationCompleted",
        &text,
    )
    .await;
    Ok(())
}

/// The objects that `app`'s last sync operation pruned.
pub(super) fn just_pruned(app: &Application) -> HashSet<fjord_sync::ObjectKey> {
    let resources = app
        .status
        .as_ref()
        .and_then(|s| s.operation_state.as_ref())
        .and_then(|o| o.sync_result.as_ref())
        .and_then(|r| r.resources.as_ref());
    resources
        .into_iter()
        .flatten()
        .filter(|r| r.status.as_deref() == Some("Pruned"))
        .map(|r| {
            fjord_sync::ObjectKey::new(
                r.group.as_deref().unwrap_or_default(),
                r.kind.as_deref().unwrap_or_default(),
                r.namespace.as_deref().unwrap_or_default(),
                r.name.as_deref().unwrap_or_default(),
            )
        })
        .collect()
}

/// Whether a selective sync's resource names object `id`.
fn selects(r: &SyncOperationResource, id: &ObjectRef) -> bool {
    r.group.as_deref().unwrap_or_default() == id.group
        && r.kind.as_deref() == Some(id.kind.as_str())
        && r.name.as_deref() == Some(id.name.as_str())
        && r.namespace.as_deref().unwrap_or_default() == id.namespace
}

fn sync_result(result: &SyncResult, revision: &str, app: &Application) -> SyncOperationResult {
    let resources = result
        .resources
        .iter()
        .map(|r| crate::api::ResourceResult {
            group: Some(r.group.clone()),
            version: Some(r.version.clone()),
            kind: Some(r.kind.clone()),
            namespace: Some(r.namespace.clone()),
            name: Some(r.name.clone()),
            status: Some(ResultCode::from(r.status)),
            message: Some(r.message.clone()).filter(|m| !m.is_empty()),
            hook_type: r.hook.then(|| r.sync_phase.as_str().to_string()),
            hook_phase: r.hook_phase.and_then(|p| {
                serde_json::to_value(p)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
            }),
            sync_phase: Some(r.sync_phase.as_str().to_string()),
            ..Default::default()
        })
        .collect();
    SyncOperationResult {
        resources: Some(resources),
        revision: Some(revision.to_string()),
        source: app.spec().source.clone(),
        ..Default::default()
    }
}

/// Writes `state` as the whole `status.operationState` of `app` (and `history`, in the same
/// patch); returns the updated Application, whose state the next write replaces.
async fn write_state(
    shared: &Shared,
    app: &Application,
    state: &OperationState,
    history: Option<Vec<crate::api::RevisionHistory>>,
) -> Result<Application, ControllerError> {
    let previous = app.status.as_ref().and_then(|s| s.operation_state.as_ref());
    let mut status = json!({ "operationState": state_patch(previous, state) });
    if let Some(h) = history {
        status["history"] = json!(h);
    }
    shared
        .patch_app(
            app,
            &json!({ "status": status }),
            true,
            "writing the operation state",
        )
        .await
}

/// The JSON merge patch that makes `status.operationState` exactly `next`: every field that
/// `previous` (or any state) has and `next` leaves out is written as null, at every depth, so
/// that no `finishedAt`, `syncResult` or sync option of an earlier operation survives the merge.
pub fn state_patch(previous: Option<&OperationState>, next: &OperationState) -> Value {
    let prev = previous
        .and_then(|p| serde_json::to_value(p).ok())
        .unwrap_or(Value::Null);
    let next = serde_json::to_value(next).unwrap_or_else(|_| json!({}));
    let mut patch = replacing(&prev, &next);
    if let Some(obj) = patch.as_object_mut() {
        for field in STATE_FIELDS {
            obj.entry(*field).or_insert(Value::Null);
        }
    }
    patch
}

/// The merge patch from `prev` to `next` (objects key by key; anything else replaced).
fn replacing(prev: &Value, next: &Value) -> Value {
    match (prev, next) {
        (Value::Object(p), Value::Object(n)) => {
            let mut out: Map<String, Value> = n
                .iter()
                .map(|(k, v)| (k.clone(), replacing(p.get(k).unwrap_or(&Value::Null), v)))
                .collect();
            for k in p.keys().filter(|k| !n.contains_key(*k)) {
                out.insert(k.clone(), Value::Null);
            }
            Value::Object(out)
        }
        _ => next.clone(),
    }
}

/// Handles a deleted Application: with the resources finalizer, deletes every object it
/// tracks (honouring `Delete=false`), then removes the finalizer.
pub async fn finalize(shared: &Arc<Shared>, app: &Application) -> Result<Outcome, ControllerError> {
    let finalizers = app
        .metadata
        .as_ref()
        .and_then(|m| m.finalizers.clone())
        .unwrap_or_default();
    shared.metrics.remove_app(app.namespace(), app.name());
    let cascade: Vec<&String> = finalizers
        .iter()
        .filter(|f| f.starts_with(RESOURCES_FINALIZER))
        .collect();
    if cascade.is_empty() {
        return Ok(Outcome::Done);
    }
    let mut dest = destination(shared, app).await?;
    // As Argo CD, objects the project does not permit (any more) are not deleted.
    let project = load_project(shared, app.spec().project_name()).await?;
    if project.is_none() {
        events::log(
            "warn",
            app.name(),
            "the application's project does not exist: its resources are left in place",
        );
    }
    dest.project = project.map(Arc::new);
    let background = cascade.iter().any(|f| f.ends_with("/background"));
    let remaining = delete_tracked(&dest, app.name(), background).await?;
    if remaining > 0 {
        return Ok(Outcome::RequeueAfter(Duration::from_secs(1)));
    }
    let kept: Vec<&String> = finalizers
        .iter()
        .filter(|f| !f.starts_with(RESOURCES_FINALIZER))
        .collect();
    shared
        .patch_app(
            app,
            &json!({"metadata": {"finalizers": kept}}),
            false,
            "removing the resources finalizer",
        )
        .await?;
    events::log("info", app.name(), "deleted the application's resources");
    Ok(Outcome::Done)
}

/// Deletes what `app` tracks; returns how many tracked objects still exist.
async fn delete_tracked(
    dest: &Destination,
    app: &str,
    background: bool,
) -> Result<usize, ControllerError> {
    let tracked = fjord_sync::prune::tracked_objects(&dest.client, app).await?;
    let permissions = dest.permissions();
    let mut remaining = 0;
    for (id, obj) in tracked {
        if permissions.check(&id, !id.namespace.is_empty()).is_err() {
            continue;
        }
        remaining += 1;
        let opts = obj
            .pointer("/metadata/annotations/argocd.argoproj.io~1sync-options")
            .and_then(Value::as_str)
            .map(SyncOptions::parse_annotation)
            .transpose()
            .ok()
            .flatten()
            .unwrap_or_default();
        if opts.delete == Some(false) || id.kind == "CustomResourceDefinition" {
            remaining -= 1;
            continue;
        }
        if obj.pointer("/metadata/deletionTimestamp").is_some() {
            continue;
        }
        let av = id.api_version();
        let t = dest
            .client
            .resolve(&av, &id.kind)
            .await
            .map_err(client_err("resolving a tracked object's kind"))?;
        let ns = (!id.namespace.is_empty()).then_some(id.namespace.as_str());
        let propagation = if background {
            fjord_client::Propagation::Background
        } else {
            fjord_client::Propagation::Foreground
        };
        dest.client
            .delete(&t, ns, &id.name, propagation, false)
            .await
            .map_err(client_err("deleting the application's resources"))?;
    }
    Ok(remaining)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(v: Value) -> OperationState {
        serde_json::from_value(v).unwrap()
    }

    /// Applies a JSON merge patch (RFC 7386), as the API server does.
    fn merge(target: &mut Value, patch: &Value) {
        match (target.as_object_mut(), patch.as_object()) {
            (Some(t), Some(p)) => {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        merge(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
            _ => *target = patch.clone(),
        }
    }

    fn finished() -> OperationState {
        state(json!({
            "operation": {"sync": {"prune": true, "revision": "aaa", "syncOptions": ["X=y"]},
                          "initiatedBy": {"username": "alice"}},
            "phase": "Succeeded", "message": "done",
            "syncResult": {"revision": "aaa", "resources": [{"kind": "ConfigMap", "name": "a"}]},
            "startedAt": "2024-01-01T00:00:00Z", "finishedAt": "2024-01-01T00:00:05Z",
            "retryCount": 2,
        }))
    }

    #[test]
    fn state_patch_replaces_the_whole_previous_state() {
        let prev = finished();
        let next = state(json!({
            "operation": {"sync": {"revision": "bbb"}, "initiatedBy": {"automated": true}},
            "phase": "Running", "startedAt": "2024-01-01T00:01:00Z",
            "syncResult": {"revision": "bbb"},
        }));
        let mut live = serde_json::to_value(&prev).unwrap();
        merge(&mut live, &state_patch(Some(&prev), &next));
        assert_eq!(live, serde_json::to_value(&next).unwrap());
        // Without knowing the previous state, the top-level fields are still cleared.
        let mut live = serde_json::to_value(&prev).unwrap();
        let patch = state_patch(None, &next);
        assert_eq!(patch["finishedAt"], Value::Null);
        assert_eq!(patch["message"], Value::Null);
        assert_eq!(patch["retryCount"], Value::Null);
        merge(&mut live, &patch);
        assert!(live.get("finishedAt").is_none(), "{live}");
    }

    #[test]
    fn pinned_revision_ignores_a_result_merged_from_the_previous_operation() {
        let fresh = state(json!({"phase": "Running", "syncResult": {"revision": "bbb"}}));
        assert_eq!(pinned_revision(&fresh), Some("bbb"));
        let mut stale = finished();
        stale.phase = Some(OperationPhase::Running);
        assert_eq!(pinned_revision(&stale), None);
        assert_eq!(pinned_revision(&state(json!({"phase": "Running"}))), None);
    }

    #[test]
    fn carries_out_matches_the_request_it_came_from_only() {
        let op = |v: Value| -> Operation { serde_json::from_value(v).unwrap() };
        let request = op(json!({"sync": {"revision": "bbb"}, "initiatedBy": {"username": "bob"}}));
        assert!(carries_out(&request, &request));
        // An older controller merged the request over the previous operation.
        let merged = op(json!({"sync": {"revision": "bbb", "prune": true},
                               "initiatedBy": {"username": "bob"}}));
        assert!(carries_out(&merged, &request));
        let other = op(json!({"sync": {"revision": "ccc"}, "initiatedBy": {"username": "bob"}}));
        assert!(!carries_out(&request, &other));
        let pruning = op(json!({"sync": {"revision": "bbb", "prune": true}}));
        assert!(!carries_out(&request, &pruning));
    }

    #[test]
    fn interrupted_is_a_running_state_only() {
        let app = |phase: &str| -> Application {
            serde_json::from_value(json!({
                "metadata": {"name": "a"},
                "status": {"operationState": {"phase": phase}},
            }))
            .unwrap()
        };
        assert!(interrupted(&app("Running")).is_some());
        for p in ["Succeeded", "Failed", "Error", "Terminating"] {
            assert!(interrupted(&app(p)).is_none(), "{p}");
        }
    }

    #[test]
    fn just_pruned_lists_the_pruned_objects_of_the_last_sync_only() {
        let app: Application = serde_json::from_value(json!({
            "metadata": {"name": "a"},
            "status": {"operationState": {"phase": "Succeeded", "syncResult": {"resources": [
                {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "n",
                 "name": "old", "status": "Pruned"},
                {"group": "", "version": "v1", "kind": "ConfigMap", "namespace": "n",
                 "name": "kept", "status": "Synced"},
                {"group": "", "version": "v1", "kind": "Namespace", "namespace": "",
                 "name": "gone", "status": "Pruned"},
            ]}}},
        }))
        .unwrap();
        let gone = just_pruned(&app);
        let key = fjord_sync::ObjectKey::new;
        assert_eq!(gone.len(), 2, "{gone:?}");
        assert!(gone.contains(&key("apps", "Deployment", "n", "old")));
        assert!(gone.contains(&key("", "Namespace", "", "gone")));
        let none: Application = serde_json::from_value(json!({"metadata": {"name": "a"}})).unwrap();
        assert!(just_pruned(&none).is_empty());
    }

    #[test]
    fn finish_time_is_never_before_the_start() {
        let future = state(json!({"startedAt": "2999-01-01T00:00:00Z"}));
        assert_eq!(
            status::k8s_time(finish_time(&future)),
            "2999-01-01T00:00:00Z"
        );
        let past = state(json!({"startedAt": "2000-01-01T00:00:00Z"}));
        assert!(finish_time(&past) > Utc::now() - chrono::Duration::seconds(5));
    }
}
