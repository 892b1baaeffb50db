//! Sync operations: the `operation` field (manual sync, rollback) or an automated sync, run by
//! fjord's sync engine; `status.operationState`, retries, history and events. Also the cascade
//! deletion behind the resources finalizer.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use fjord_sync::{Engine, ObjectRef, OperationPhase, SyncOptions, SyncRequest, SyncResult};
use serde_json::{json, Value};

use super::reconcile::{destination, Destination};
use super::source::{self, Rendered};
use super::{events, ControllerError, Shared, RESOURCES_FINALIZER};
use crate::api::{
    phase, Application, Operation, OperationState, SyncOperationResource, SyncOperationResult,
};
use crate::queue::Outcome;
use crate::status;

fn client_err(step: &'static str) -> impl Fn(fjord_client::ClientError) -> ControllerError {
    move |source| ControllerError::Client { step, source }
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
    let state = status::start_operation(&op, Utc::now());
    write_state(shared, app, &state, None).await?;
    if app.operation.is_some() {
        shared
            .patch_app(
                app,
                &json!({"operation": null}),
                false,
                "clearing the operation",
            )
            .await?;
    }
    execute(shared, app, op, state, rendered, dest, options).await
}

/// Runs a retry of a failed operation (`retry_state` comes from
/// [`status::retry_after_failure`]).
pub async fn run_retry(
    shared: &Arc<Shared>,
    app: &Application,
    op: Operation,
    retry_state: OperationState,
    rendered: &Rendered,
    dest: &Destination,
    options: &SyncOptions,
) -> Result<(), ControllerError> {
    write_state(shared, app, &retry_state, None).await?;
    execute(shared, app, op, retry_state, rendered, dest, options).await
}

/// The objects of the revision the operation asks for (a rollback names an older one).
async fn objects_for(
    shared: &Arc<Shared>,
    app: &Application,
    op: &Operation,
    rendered: &Rendered,
) -> Result<Rendered, ControllerError> {
    let sync = op.sync.clone().unwrap_or_default();
    let wanted = sync.revision.clone().filter(|r| !r.is_empty());
    let source = sync.source.clone().or_else(|| app.spec().source.clone());
    let same_source = sync.source.is_none() || sync.source == app.spec().source;
    match (wanted, source) {
        (Some(rev), Some(src)) if rev != rendered.revision || !same_source => {
            let s = shared.clone();
            let scratch = shared.opts.cache_dir.join("overlays").join(app.name());
            tokio::task::spawn_blocking(move || {
                let mut pinned = src.clone();
                pinned.target_revision = Some(rev);
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
                source::render(&repo, oid, &pinned, &scratch)
            })
            .await
            .map_err(|e| ControllerError::Task(e.to_string()))?
        }
        _ => Ok(rendered.clone()),
    }
}

async fn execute(
    shared: &Arc<Shared>,
    app: &Application,
    op: Operation,
    mut state: OperationState,
    rendered: &Rendered,
    dest: &Destination,
    options: &SyncOptions,
) -> Result<(), ControllerError> {
    let sync = op.sync.clone().unwrap_or_default();
    let spec = app.spec();
    let outcome = match objects_for(shared, app, &op, rendered).await {
        Ok(target) => {
            let mut opts = options.clone();
            if let Some(extra) = &sync.sync_options {
                let parsed = super::reconcile::sync_options(extra)?;
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
                    }
                    Ok((engine.execute(&plan, &mut |_| {}).await, target))
                }
                Err(e) => Err(e.to_string()),
            }
        }
        Err(e) => Err(e.to_string()),
    };
    let now = Utc::now();
    let (new_phase, message) = match &outcome {
        Ok((result, target)) => {
            state.sync_result = Some(sync_result(result, &target.revision, app));
            match result.phase {
                OperationPhase::Succeeded => (phase::SUCCEEDED, result.message.clone()),
                OperationPhase::Failed => (phase::FAILED, result.message.clone()),
                OperationPhase::Error => (phase::ERROR, result.message.clone()),
            }
        }
        Err(e) => (phase::ERROR, e.clone()),
    };
    // A failure that `retry` allows is retried by the reconcile loop once its backoff is over.
    let state = status::transition(&state, new_phase, &message, now);
    let history = status::should_record_history(&state).then(|| {
        let started = state
            .started_at
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
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
            spec.history_limit(),
        )
    });
    let updated = write_state(shared, app, &state, history).await?;
    shared
        .metrics
        .inc_sync(&updated, new_phase, sync.dry_run == Some(true));
    let revision = state
        .sync_result
        .as_ref()
        .and_then(|r| r.revision.clone())
        .unwrap_or_default();
    let short = &revision[..revision.len().min(7)];
    let (warning, text) = if new_phase == phase::SUCCEEDED {
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
            status: Some(
                serde_json::to_value(r.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
            ),
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

async fn write_state(
    shared: &Shared,
    app: &Application,
    state: &OperationState,
    history: Option<Vec<crate::api::RevisionHistory>>,
) -> Result<Application, ControllerError> {
    let mut status = json!({ "operationState": state });
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
    let dest = destination(shared, app).await?;
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
    let tracked = fjord_sync::prune::tracked_objects(&dest.client, app)
        .await
        .map_err(|e| ControllerError::Sync(e.to_string()))?;
    let mut remaining = 0;
    for (id, obj) in tracked {
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
