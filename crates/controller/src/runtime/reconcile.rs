//! One Application's reconcile: validate, resolve the destination, pull and render the source,
//! compare with the live state, write `status`, then run the requested operation or decide on
//! an automated sync.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use fjord_diff::{CompareOptions, IgnoreRule};
use fjord_health::{AppResource, HealthStatus};
use fjord_sync::{Engine, SyncOptions, SyncRequest};
use serde_json::{json, Value};

use super::destination::{destination, load_project, Destination};
use super::source::{self, Rendered};
use super::sync_options::sync_options;
use super::{events, operate, overrides, ControllerError, Shared};
use crate::api::{
    Application, ApplicationSource, ComparedTo, HealthStatusCode, ResourceStatus, SyncStatusCode,
};
use crate::queue::Outcome;
use crate::selfheal::{should_auto_sync, Comparison, Decision};
use crate::status::{self, condition};

/// Annotation that asks for a refresh (`normal` or `hard`).
pub const ANNOTATION_REFRESH: &str = "argocd.argoproj.io/refresh";
/// How soon a failed comparison (unreachable repository, bad render) is tried again.
const ERROR_RETRY: Duration = Duration::from_secs(5);

/// How many passes one reconcile may make: a pass that ran a sync operation is followed at once
/// by another, which compares the result and writes `status.sync`, `health` and `resources`
/// (the app does not wait behind the other queued apps' syncs for its `Synced`).
const MAX_PASSES: usize = 2;
/// When an app whose last pass still ran an operation is compared again.
const AFTER_OPERATION: Duration = Duration::from_millis(200);

/// What one pass of a reconcile ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// Done: the queue's outcome.
    Finished(Outcome),
    /// A sync operation ran: compare again now.
    Operated,
}

/// Reconciles the Application `name`; the queue's outcome.
pub async fn reconcile(shared: &Arc<Shared>, name: &str) -> Outcome {
    // Sharding: ownership is checked right before the work, and the guard keeps the app
    // counted as in flight (a hand-off waits for it) until the reconcile, sync included, ends.
    let _owned = match &shared.opts.ownership {
        Some(owner) => match owner.begin(name) {
            Some(guard) => Some(guard),
            None => return Outcome::Done,
        },
        None => None,
    };
    let mut after_operation = false;
    for _ in 0..MAX_PASSES {
        let started = Instant::now();
        match reconcile_app(shared, name, after_operation).await {
            Ok((pass, app)) => {
                if let Some(app) = app {
                    shared
                        .metrics
                        .observe_reconcile(&app, started.elapsed().as_secs_f64());
                }
                match pass {
                    Pass::Finished(outcome) => return outcome,
                    Pass::Operated => after_operation = true,
                }
            }
            Err(e) if app_vanished(shared, name, &e).await => {
                forget(shared, name);
                return Outcome::Done;
            }
            Err(e) => {
                events::log("error", name, &e.message());
                return Outcome::Retry;
            }
        }
    }
    Outcome::RequeueAfter(AFTER_OPERATION)
}

/// Whether `err` is a 404 because the Application was deleted while it was reconciled (an
/// ordinary deletion, not an error to log and retry).
async fn app_vanished(shared: &Shared, name: &str, err: &ControllerError) -> bool {
    matches!(err, ControllerError::Client { source, .. } if source.is_not_found())
        && matches!(
            shared
                .client
                .get(&shared.app_type, Some(&shared.opts.namespace), name)
                .await,
            Ok(None)
        )
}

/// Drops what the controller keeps about a deleted Application: its memo and its metrics.
fn forget(shared: &Shared, name: &str) {
    shared
        .apps
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(name);
    shared.metrics.remove_app(&shared.opts.namespace, name);
}

/// The result of one pass: how it ended, and the Application it read (for the metrics).
type PassResult = Result<(Pass, Option<Application>), ControllerError>;

/// What a valid app is compared with and synced to.
struct Target {
    /// The app's single source.
    source: ApplicationSource,
    /// The app's sync options.
    options: SyncOptions,
    /// The resolved destination, with the app's project.
    dest: Destination,
}

/// One pass of a reconcile; `after_operation` when the previous pass ran a sync operation.
async fn reconcile_app(shared: &Arc<Shared>, name: &str, after_operation: bool) -> PassResult {
    let Some(app) = read_app(shared, name).await? else {
        forget(shared, name);
        return Ok((Pass::Finished(Outcome::Done), None));
    };
    if app
        .metadata
        .as_ref()
        .is_some_and(|m| m.deletion_timestamp.is_some())
    {
        let outcome = operate::finalize(shared, &app).await?;
        return Ok((Pass::Finished(outcome), Some(app)));
    }
    let resync = shared.resync();
    let target = match check(shared, &app).await? {
        Ok(target) => target,
        Err(problems) => return invalid_spec(shared, app, &problems).await,
    };

    // An operation asked to terminate while no sync of this process ran it ends now.
    if operate::end_terminated(shared, &app).await? {
        return Ok((Pass::Operated, Some(app)));
    }
    // An operation left `Running` by a crash is resumed first, at its own revision (it needs
    // no fresh comparison; the next reconcile compares the result).
    if let Some(state) = operate::interrupted(&app).cloned() {
        operate::resume(shared, &app, state, &target.dest, &target.options).await?;
        return Ok((Pass::Operated, Some(app)));
    }
    let refresh = refresh_requested(&app);
    let rendered = match pull(shared, &app, &target.source).await {
        Ok(r) => r,
        Err(e) => {
            let pass = comparison_failed(shared, app, &e).await?;
            shared.memo(name, |m| m.refresh = Some(Instant::now()));
            return Ok(pass);
        }
    };
    let comparison = match compare(
        shared,
        &app,
        &target.dest,
        &target.options,
        &rendered,
        after_operation,
    )
    .await
    {
        Ok(c) => c,
        Err(e) => return comparison_failed(shared, app, &e).await,
    };
    shared
        .cache_for(&target.dest.server, &target.dest.client)
        .await
        .watch_kinds(shared, &comparison.types)
        .await;
    let app = write_compared(shared, app, &target.source, &comparison, &rendered).await?;
    let app = clear_refresh(shared, app, refresh).await?;
    act(shared, app, &target, &rendered, &comparison, resync).await
}

/// Reads and decodes the Application `name` (`None` when it does not exist).
async fn read_app(shared: &Shared, name: &str) -> Result<Option<Application>, ControllerError> {
    let raw = shared
        .client
        .get(&shared.app_type, Some(&shared.opts.namespace), name)
        .await
        .map_err(|source| ControllerError::Client {
            step: "reading the Application",
            source,
        })?;
    raw.map(|raw| {
        serde_json::from_value(raw).map_err(|source| ControllerError::DecodeApp {
            name: name.into(),
            source,
        })
    })
    .transpose()
}

/// Validates `app` against its project and resolves its destination and sync options: the
/// target to compare with, or every problem found (each an `InvalidSpecError`).
async fn check(
    shared: &Arc<Shared>,
    app: &Application,
) -> Result<Result<Target, Vec<String>>, ControllerError> {
    let spec = app.spec();
    let project = load_project(shared, spec.project_name()).await?;
    let dest = destination(shared, app).await;
    // The destination is checked against the project on the cluster it resolves to.
    let resolved = dest.as_ref().ok().map(|d| crate::api::project::Cluster {
        server: &d.server,
        name: &d.name,
    });
    let mut problems = crate::api::validate::validate_on(&spec, project.as_ref(), resolved);
    if spec.effective_sources().len() > 1 {
        problems.push("multiple sources are not supported yet: use `source`".into());
    }
    let options = spec
        .sync_policy
        .as_ref()
        .and_then(|p| p.sync_options.clone())
        .unwrap_or_default();
    let options = match sync_options(&options) {
        Ok(o) => Some(o),
        Err(e) => {
            problems.push(e.message());
            None
        }
    };
    let dest = match dest {
        Ok(d) => Some(d),
        Err(e) => {
            problems.push(e.message());
            None
        }
    };
    let (Some(source), Some(options), Some(mut dest), true) =
        (spec.source.clone(), options, dest, problems.is_empty())
    else {
        return Ok(Err(problems));
    };
    dest.project = project.map(Arc::new);
    Ok(Ok(Target {
        source,
        options,
        dest,
    }))
}

/// Records an invalid spec: the interrupted operation fails and the sync status is `Unknown`
/// with one `InvalidSpecError` per problem.
async fn invalid_spec(shared: &Arc<Shared>, app: Application, problems: &[String]) -> PassResult {
    // An operation a restart interrupted cannot be resumed now: it fails, naming why.
    operate::abandon(shared, &app, &problems.join("; ")).await?;
    let conds = problems
        .iter()
        .map(|p| status::condition(condition::INVALID_SPEC_ERROR, p.clone()))
        .collect();
    write_unknown(shared, &app, condition::INVALID_SPEC_ERROR, conds).await?;
    let next = shared.next_poll(app.name());
    Ok((Pass::Finished(Outcome::RequeueAfter(next)), Some(app)))
}

/// Records a source that could not be pulled or compared: the sync status is `Unknown` with a
/// `ComparisonError`, tried again soon.
async fn comparison_failed(
    shared: &Shared,
    app: Application,
    error: &ControllerError,
) -> PassResult {
    let conds = vec![status::condition(
        condition::COMPARISON_ERROR,
        error.message(),
    )];
    write_unknown(shared, &app, condition::COMPARISON_ERROR, conds).await?;
    Ok((
        Pass::Finished(Outcome::RequeueAfter(ERROR_RETRY)),
        Some(app),
    ))
}

/// After the comparison: runs the requested operation, retries a failed one when due, or
/// decides on an automated sync.
async fn act(
    shared: &Arc<Shared>,
    app: Application,
    target: &Target,
    rendered: &Rendered,
    comparison: &Compared,
    resync: Duration,
) -> PassResult {
    let (dest, options) = (&target.dest, &target.options);
    if let Some(op) = app.operation.clone() {
        operate::run(shared, &app, op, rendered, dest, options).await?;
        return Ok((Pass::Operated, Some(app)));
    }
    if let Some(pass) = retry_failed(shared, &app, target, rendered).await? {
        return Ok((pass, Some(app)));
    }
    let decision = should_auto_sync(
        &app,
        &Comparison {
            sync_status: comparison.sync_code.clone(),
            revisions: vec![rendered.revision.clone()],
            resources: comparison.resources.clone(),
        },
        &shared.opts.self_heal_backoff,
        Utc::now(),
    );
    let next_poll = || Pass::Finished(Outcome::RequeueAfter(shared.next_poll(app.name())));
    match decision {
        Decision::Sync(op) => {
            operate::run(shared, &app, *op, rendered, dest, options).await?;
            Ok((Pass::Operated, Some(app)))
        }
        Decision::RetryAfter(d) => Ok((
            Pass::Finished(Outcome::RequeueAfter(d.min(resync))),
            Some(app),
        )),
        Decision::Condition { kind, message } => {
            set_condition(shared, &app, kind, &message).await?;
            Ok((next_poll(), Some(app)))
        }
        Decision::Skip(_) => Ok((next_poll(), Some(app))),
    }
}

/// Retries the last operation when it failed at the revision just compared and its retry
/// strategy allows another attempt: runs it when due (`Operated`), else waits for it.
async fn retry_failed(
    shared: &Arc<Shared>,
    app: &Application,
    target: &Target,
    rendered: &Rendered,
) -> Result<Option<Pass>, ControllerError> {
    let Some(state) = app.status.as_ref().and_then(|s| s.operation_state.as_ref()) else {
        return Ok(None);
    };
    let finished = state
        .finished_at
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map_or_else(Utc::now, |t| t.to_utc());
    let same_revision = state
        .sync_result
        .as_ref()
        .and_then(|r| r.revision.as_deref())
        == Some(rendered.revision.as_str());
    let retry = status::retry_after_failure(state, finished).filter(|_| same_revision);
    let Some((retry_state, at)) = retry else {
        return Ok(None);
    };
    let wait = (at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
    if !wait.is_zero() {
        return Ok(Some(Pass::Finished(Outcome::RequeueAfter(wait))));
    }
    let Some(op) = retry_state.operation.clone() else {
        return Ok(None);
    };
    let (dest, options) = (&target.dest, &target.options);
    operate::run_retry(shared, app, op, retry_state, rendered, dest, options).await?;
    Ok(Some(Pass::Operated))
}

/// Fetches when due and renders the source (blocking work off the async threads).
async fn pull(
    shared: &Arc<Shared>,
    app: &Application,
    source: &ApplicationSource,
) -> Result<Rendered, ControllerError> {
    let name = app.name().to_string();
    let annotated = refresh_requested(app);
    let policy = source::FetchPolicy {
        wanted_after: shared
            .memo(&name, |m| m.refresh.take())
            .or(annotated.then(Instant::now)),
        // Polling off (`timeout.reconciliation: 0`): fetch only when asked to.
        max_age: Some(shared.resync())
            .filter(|d| !d.is_zero())
            .unwrap_or(Duration::MAX),
    };
    let s = shared.clone();
    let src = source.clone();
    let limits = shared.settings().limits.render;
    let instance = overrides::instance_name(app, &shared.opts.namespace);
    let result = tokio::task::spawn_blocking(move || {
        let (repo, oid) = source::resolve(&s.repos, &s.fetches, &src, policy)?;
        source::render(&repo, oid, &src, &instance, &limits)
    })
    .await
    .map_err(ControllerError::Task)?;
    result
}

/// Whether `app` (as read when the reconcile started) asks for a refresh.
fn refresh_requested(app: &Application) -> bool {
    app.metadata
        .as_ref()
        .and_then(|m| m.annotations.as_ref())
        .is_some_and(|a| a.contains_key(ANNOTATION_REFRESH))
}

/// Clears the refresh annotation once the status of the refresh it asked for is written,
/// whatever the outcome (compared, ComparisonError, InvalidSpecError): `fjord app diff` and
/// `app get --refresh` wait for it to go. Only a reconcile that saw the annotation when it
/// started clears it (one set meanwhile asks for another reconcile).
async fn clear_refresh(
    shared: &Shared,
    app: Application,
    requested: bool,
) -> Result<Application, ControllerError> {
    if !requested || !refresh_requested(&app) {
        return Ok(app);
    }
    let patch = json!({"metadata": {"annotations": {ANNOTATION_REFRESH: null}}});
    shared
        .patch_app(&app, &patch, false, "clearing the refresh annotation")
        .await
}

/// The outcome of a comparison.
#[derive(Debug, Clone)]
pub struct Compared {
    /// `Synced` or `OutOfSync`.
    pub sync_code: SyncStatusCode,
    /// Per-resource status.
    pub resources: Vec<ResourceStatus>,
    /// Aggregated health and its message.
    pub health: (HealthStatus, String),
    /// Images of the desired objects.
    pub images: Vec<String>,
    /// (group, version, kind, plural, namespaced) of the types the app deploys.
    pub types: Vec<(String, String)>,
    /// Objects refused by the project or owned by another app
    /// ([`status::refusal_conditions`]).
    pub conditions: Vec<crate::api::ApplicationCondition>,
    /// Drift forensics of the modified objects, one line per drifted field
    /// ([`super::drift::drift_lines`]): carried by the `OutOfSync` Event.
    pub drift: Vec<String>,
}

pub(super) fn compare_options(app: &Application) -> Result<CompareOptions, ControllerError> {
    let mut opts = CompareOptions::default();
    for rule in app.spec().ignore_differences.unwrap_or_default() {
        let v = serde_json::to_value(&rule).map_err(|source| ControllerError::DecodeApp {
            name: app.name().into(),
            source,
        })?;
        let rule =
            IgnoreRule::from_value(&v).map_err(|source| ControllerError::IgnoreDifferences {
                name: app.name().into(),
                source,
            })?;
        opts.ignore.push(rule);
    }
    Ok(opts)
}

/// Plans a sync of `rendered` (nothing is applied) and compares every object with live.
/// `after_operation`: the sync operation in `app`'s status has just finished; the objects it
/// pruned are gone (the sync waited for that) even if the cache has not seen their deletion yet.
pub async fn compare(
    shared: &Arc<Shared>,
    app: &Application,
    dest: &Destination,
    options: &SyncOptions,
    rendered: &Rendered,
    after_operation: bool,
) -> Result<Compared, ControllerError> {
    let settings = shared.settings();
    let overrides = &settings.health;
    let engine = Engine::new(dest.client.clone(), overrides.clone());
    let mut req = SyncRequest::new(app.name(), rendered.objects.clone());
    req.destination_namespace = dest.namespace.clone();
    req.options = options.clone();
    req.prune = true;
    req.allow_empty = true;
    req.dry_run_hooks = false;
    dest.bound(&mut req);
    let cache = shared.cache_for(&dest.server, &dest.client).await;
    if !cache.is_ready() {
        crate::queue::idle_while(cache.wait_ready()).await;
    }
    req.tracked = cache.tracked(app.name());
    if after_operation {
        let gone = operate::just_pruned(app);
        if let Some(tracked) = req.tracked.as_mut() {
            tracked.retain(|(id, _)| !gone.contains(&id.key()));
        }
    }
    let plan = engine.plan(&req).await?;
    let copts = compare_options(app)?;
    let diffs = fjord_sync::compare_plan(&plan, &copts)?;
    let mut resources = Vec::new();
    let mut pairs = Vec::new();
    let mut types = HashSet::new();
    let mut images = Vec::new();
    for c in &diffs {
        let t = &c.task;
        types.insert((t.id.api_version(), t.id.kind.clone()));
        if let Some(target) = &t.target {
            images.extend(status::images_of(target));
        }
        let res = AppResource::assess(t.target.as_ref(), t.live.as_ref(), overrides);
        let health = res.resource_health().map(|h| crate::api::AppHealthStatus {
            status: Some(HealthStatusCode::from(h.status)),
            message: Some(h.message.clone()).filter(|m| !m.is_empty()),
            ..Default::default()
        });
        let prune = t.target.is_none();
        resources.push(ResourceStatus {
            group: Some(t.id.group.clone()),
            version: Some(t.id.version.clone()),
            kind: Some(t.id.kind.clone()),
            namespace: Some(t.id.namespace.clone()).filter(|n| !n.is_empty()),
            name: Some(t.id.name.clone()),
            status: Some(if c.diff.status.differs() {
                SyncStatusCode::OutOfSync
            } else {
                SyncStatusCode::Synced
            }),
            health,
            requires_pruning: prune.then_some(true),
            sync_wave: (t.wave != 0).then_some(t.wave),
            ..Default::default()
        });
        pairs.push(res);
    }
    // Objects the project refuses are not read: `Unknown`, and the app is not in sync.
    resources.extend(status::denied_resources(&plan.denied));
    let health = fjord_health::aggregate(pairs.iter().cloned());
    let message = pairs
        .iter()
        .filter_map(|p| p.resource_health())
        .find(|h| h.status == health && !h.message.is_empty())
        .map(|h| h.message)
        .unwrap_or_default();
    let out_of_sync = resources.iter().any(|r| {
        matches!(
            r.status,
            Some(SyncStatusCode::OutOfSync | SyncStatusCode::Unknown)
        )
    });
    Ok(Compared {
        sync_code: if out_of_sync {
            SyncStatusCode::OutOfSync
        } else {
            SyncStatusCode::Synced
        },
        resources: status::resources(resources),
        health: (health, message),
        images,
        types: types.into_iter().collect(),
        conditions: status::refusal_conditions(app.name(), &plan.denied, &plan.shared),
        drift: super::drift::drift_lines(&diffs),
    })
}

fn evaluated() -> HashSet<&'static str> {
    [
        condition::INVALID_SPEC_ERROR,
        condition::COMPARISON_ERROR,
        condition::SHARED_RESOURCE_WARNING,
        condition::EXCLUDED_RESOURCE_WARNING,
    ]
    .into_iter()
    .collect()
}

async fn patch_status(
    shared: &Shared,
    app: &Application,
    status: Value,
) -> Result<Application, ControllerError> {
    shared
        .patch_app(
            app,
            &json!({ "status": status }),
            true,
            "writing the Application status",
        )
        .await
}

/// Writes a successful comparison into `status`.
async fn write_compared(
    shared: &Shared,
    app: Application,
    source: &ApplicationSource,
    c: &Compared,
    rendered: &Rendered,
) -> Result<Application, ControllerError> {
    let revision = rendered.revision.as_str();
    let now = Utc::now();
    let prev = app.status.clone().unwrap_or_default();
    let spec = app.spec();
    let compared_to = ComparedTo {
        source: Some(source.clone()),
        destination: spec.destination.clone(),
        ignore_differences: spec.ignore_differences.clone(),
        ..Default::default()
    };
    let sync = status::sync_status(
        c.sync_code.clone(),
        &[revision.to_string()],
        compared_to,
        false,
    );
    let health = status::health_status(
        HealthStatusCode::from(c.health.0),
        Some(c.health.1.as_str()),
        prev.health.as_ref(),
        now,
    );
    let conditions = status::set_conditions(
        prev.conditions.as_deref().unwrap_or(&[]),
        c.conditions.clone(),
        &evaluated(),
        now,
    );
    let status = json!({
        "sync": sync,
        "health": health,
        "resources": c.resources,
        "conditions": if conditions.is_empty() { Value::Null } else { json!(conditions) },
        "reconciledAt": status::k8s_time(now),
        "summary": status::summary(c.images.clone(), Vec::new()),
        "sourceType": rendered.source_type,
        "controllerNamespace": shared.opts.namespace,
    });
    let previous_code = prev.sync.as_ref().and_then(|s| s.status.clone());
    let previous_health = prev.health.as_ref().and_then(|h| h.status.clone());
    let updated = patch_status(shared, &app, status).await?;
    shared.metrics.set_app_info(&updated);
    if previous_health != Some(HealthStatusCode::from(c.health.0)) {
        let msg = format!(
            "Updated health status: {} -> {}",
            previous_health.as_deref().unwrap_or("Unknown"),
            c.health.0.as_str()
        );
        events::record(&shared.client, &updated, false, "ResourceUpdated", &msg).await;
    }
    if previous_code.as_ref() != Some(&c.sync_code) {
        let mut msg = format!(
            "Updated sync status: {} -> {}",
            previous_code.as_deref().unwrap_or("Unknown"),
            c.sync_code
        );
        if c.sync_code == SyncStatusCode::OutOfSync && !c.drift.is_empty() {
            msg += &format!(" (drift: {})", super::drift::drift_summary(&c.drift));
        }
        events::record(&shared.client, &updated, false, "ResourceUpdated", &msg).await;
    }
    Ok(updated)
}

/// Writes `Unknown` sync status with error conditions; resources and health are kept.
async fn write_unknown(
    shared: &Shared,
    app: &Application,
    kind: &str,
    conditions: Vec<crate::api::ApplicationCondition>,
) -> Result<(), ControllerError> {
    let now = Utc::now();
    let prev = app.status.clone().unwrap_or_default();
    let msg = conditions
        .iter()
        .filter_map(|c| c.message.clone())
        .collect::<Vec<_>>()
        .join("; ");
    let conds = status::set_conditions(
        prev.conditions.as_deref().unwrap_or(&[]),
        conditions,
        &evaluated(),
        now,
    );
    let mut sync = prev.sync.clone().unwrap_or_default();
    sync.status = Some(SyncStatusCode::Unknown);
    let status = json!({
        "sync": sync,
        "conditions": conds,
        "reconciledAt": status::k8s_time(now),
    });
    let updated = patch_status(shared, app, status).await?;
    shared.metrics.set_app_info(&updated);
    events::log("warn", app.name(), &format!("{kind}: {msg}"));
    // `app` is the Application as the reconcile read it: its annotation asked for this one.
    clear_refresh(shared, updated, refresh_requested(app)).await?;
    Ok(())
}

/// Sets (or refreshes) one condition, keeping the others.
async fn set_condition(
    shared: &Shared,
    app: &Application,
    kind: &str,
    message: &str,
) -> Result<(), ControllerError> {
    let prev = app.status.clone().unwrap_or_default();
    let evaluated: HashSet<&str> = [kind].into_iter().collect();
    let conds = status::set_conditions(
        prev.conditions.as_deref().unwrap_or(&[]),
        vec![status::condition(kind, message)],
        &evaluated,
        Utc::now(),
    );
    patch_status(shared, app, json!({ "conditions": conds })).await?;
    Ok(())
}
