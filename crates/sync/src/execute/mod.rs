//! Running a [`Plan`]: dry run of everything, then each (phase, wave) step, then `SyncFail`
//! hooks when something failed.

mod steps;

use std::collections::HashMap;
use std::time::Instant;

use fjord_client::{ApplyOptions, ClientError, Propagation, ResourceType};
use fjord_model::ObjectRef;
use futures::stream::{self, StreamExt};
use serde_json::json;

use crate::apply::action_for;
use crate::plan::{self, DryRun, SyncPhase, Task, TaskKind};
use crate::result::{Action, OperationPhase, ResourceResult, ResultCode, SyncResult};
use crate::{Denied, Engine, Plan, Progress};

/// State of one execution.
struct Run<'a> {
    engine: &'a Engine,
    plan: &'a Plan,
    deadline: Instant,
    rows: Vec<ResourceResult>,
    actions: HashMap<usize, Action>,
    shared: HashMap<ObjectRef, String>,
    done: usize,
    total: usize,
    /// Whether this step's objects are waited for (always, but for the last step of a
    /// `--no-wait` sync).
    wait: bool,
}

fn row(task: &Task, action: Action, status: ResultCode) -> ResourceResult {
    ResourceResult::new(&task.id, task.phase, task.wave, task.hook, action, status)
}

fn ns(id: &ObjectRef) -> Option<&str> {
    Some(id.namespace.as_str()).filter(|n| !n.is_empty())
}

impl<'a> Run<'a> {
    async fn resolve(&self, task: &Task) -> Result<ResourceType, ClientError> {
        let av = task.id.api_version();
        self.engine.client().resolve(&av, &task.id.kind).await
    }

    fn finish(self, phase: OperationPhase, message: String) -> SyncResult {
        SyncResult {
            app: self.plan.app.clone(),
            phase,
            message,
            dry_run: self.plan.dry_run,
            resources: self.rows,
        }
    }

    /// The plan's dry runs: every apply task's action, and the failure rows (any failure means
    /// nothing is applied). Another application's objects are not judged.
    fn judge_dry_runs(&mut self) -> Vec<ResourceResult> {
        let mut failures = Vec::new();
        for (i, task) in self.plan.tasks.iter().enumerate() {
            if task.kind != TaskKind::Apply || self.shared.contains_key(&task.id) {
                continue;
            }
            match &task.dry_run {
                DryRun::NotRun => {
                    self.actions.insert(i, Action::Created);
                }
                DryRun::Predicted(predicted) => {
                    self.actions
                        .insert(i, action_for(task.live.as_ref(), predicted));
                }
                DryRun::Failed { message, .. } => failures.push(
                    row(task, Action::Skipped, ResultCode::SyncFailed)
                        .with_message(format!("dry run failed: {message}")),
                ),
            }
        }
        failures
    }

    /// The dry runs the plan could not make before namespace `name` existed (CreateNamespace):
    /// made now, before anything else is applied; their failure rows.
    async fn dry_run_in_new_namespace(&self, name: &str) -> Vec<ResourceResult> {
        let engine = self.engine;
        let runs: Vec<_> = self
            .plan
            .tasks
            .iter()
            .filter(|t| t.kind == TaskKind::Apply && t.target.is_some() && !t.hook)
            .filter(|t| t.id.namespace == name && !self.shared.contains_key(&t.id))
            .filter(|t| t.dry_run == DryRun::NotRun)
            .map(|task| async move { (task, crate::dryrun::dry_run_one(engine, task).await) })
            .collect();
        let results: Vec<_> = stream::iter(runs).buffer_unordered(16).collect().await;
        results
            .into_iter()
            .filter_map(|(task, result)| match result {
                DryRun::Failed { message, .. } => Some(
                    row(task, Action::Skipped, ResultCode::SyncFailed)
                        .with_message(format!("dry run failed: {message}")),
                ),
                _ => None,
            })
            .collect()
    }

    /// Deletes the namespace this run created for its dry runs (nothing else is in it); the
    /// message's tail.
    async fn delete_namespace(&mut self, name: &str) -> String {
        let client = self.engine.client();
        let deleted = match client.resolve("v1", "Namespace").await {
            Ok(t) => client
                .delete(&t, None, name, Propagation::Background, false)
                .await
                .map(|_| ()),
            Err(e) => Err(e),
        };
        self.rows
            .retain(|r| !(r.kind == "Namespace" && r.name == name));
        match deleted {
            Ok(()) => format!(" (namespace {name}, created for the dry run, deleted again)"),
            Err(e) => format!(
                " (deleting namespace {name}, created for the dry run: {})",
                fjord_model::chain(&e)
            ),
        }
    }

    async fn create_namespace(&mut self, name: &str) -> Result<(), ClientError> {
        let id = ObjectRef::namespace_object(name);
        if !self.plan.dry_run {
            let t = self.engine.client().resolve("v1", "Namespace").await?;
            let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
            self.engine
                .client()
                .apply(&t, &obj, &ApplyOptions::default())
                .await?;
        }
        let r = ResourceResult::new(
            &id,
            SyncPhase::PreSync,
            0,
            false,
            Action::Created,
            ResultCode::Synced,
        )
        .with_message("namespace created (CreateNamespace=true)");
        self.rows.push(r);
        Ok(())
    }

    fn tick(&mut self, id: &ObjectRef, progress: &mut (dyn FnMut(Progress) + Send)) {
        self.done += 1;
        progress(Progress::TaskDone {
            id: id.clone(),
            done: self.done,
            total: self.total,
        });
    }
}

/// The operation's message for refused dry runs: the first object and the server's words, and
/// how many more (each has its own row).
fn dry_run_failure_message(failures: &[ResourceResult]) -> String {
    let first = &failures[0];
    let id = if first.namespace.is_empty() {
        format!("{} {}", first.kind, first.name)
    } else {
        format!("{} {}/{}", first.kind, first.namespace, first.name)
    };
    let reason = first
        .message
        .strip_prefix("dry run failed: ")
        .unwrap_or(&first.message);
    match failures.len() {
        1 => format!("dry run failed for {id}: {reason}"),
        n => format!(
            "dry run failed for {id}: {reason} (and {} more object(s))",
            n - 1
        ),
    }
}

/// How a run ended before its steps: the operation's phase and message.
type Ending = (OperationPhase, String);

impl<'a> Run<'a> {
    fn new(engine: &'a Engine, plan: &'a Plan) -> Run<'a> {
        Run {
            engine,
            plan,
            deadline: Instant::now() + plan.timeout,
            rows: Vec::new(),
            actions: HashMap::new(),
            shared: plan
                .shared
                .iter()
                .map(|s| (s.id.clone(), s.owner.clone()))
                .collect(),
            done: 0,
            total: plan
                .tasks
                .iter()
                .filter(|t| t.phase != SyncPhase::SyncFail)
                .count(),
            wait: true,
        }
    }

    /// What must hold before anything is applied: no shared object under
    /// `FailOnSharedResource`, every dry run accepted, the destination namespace created (and
    /// the dry runs it allowed accepted).
    async fn preflight(&mut self) -> Result<(), Ending> {
        let plan = self.plan;
        if !plan.shared.is_empty() && plan.options.fails_on_shared() {
            for s in &plan.shared {
                if let Some(task) = plan.tasks.iter().find(|t| t.id == s.id) {
                    self.rows.push(
                        row(task, Action::Skipped, ResultCode::SyncFailed)
                            .with_message(format!("the object is part of application {}", s.owner)),
                    );
                }
            }
            let msg = format!(
                "FailOnSharedResource: {} object(s) belong to another application; nothing applied",
                plan.shared.len()
            );
            return Err((OperationPhase::Failed, msg));
        }
        let failures = self.judge_dry_runs();
        if !failures.is_empty() {
            let msg = dry_run_failure_message(&failures);
            self.rows.extend(failures);
            return Err((OperationPhase::Failed, format!("{msg}; nothing applied")));
        }
        match &plan.create_namespace {
            Some(name) => self.prepare_namespace(name).await,
            None => Ok(()),
        }
    }

    /// Creates the destination namespace, then makes the dry runs that waited for it; when
    /// one fails the namespace is deleted again.
    async fn prepare_namespace(&mut self, name: &str) -> Result<(), Ending> {
        if let Err(e) = self.create_namespace(name).await {
            let msg = format!("creating namespace {name}: {}", fjord_model::chain(&e));
            return Err((OperationPhase::Error, msg));
        }
        if self.plan.dry_run {
            return Ok(());
        }
        let failures = self.dry_run_in_new_namespace(name).await;
        if failures.is_empty() {
            return Ok(());
        }
        let msg = dry_run_failure_message(&failures);
        self.rows.extend(failures);
        let undo = self.delete_namespace(name).await;
        Err((
            OperationPhase::Failed,
            format!("{msg}; nothing applied{undo}"),
        ))
    }

    /// The rows of a dry run: what each task would do.
    fn dry_run_rows(&mut self) {
        let plan = self.plan;
        for (i, task) in plan.tasks.iter().enumerate() {
            let r = match task.kind {
                TaskKind::Prune if plan.prune && task.options.allows_prune() => {
                    row(task, Action::Pruned, ResultCode::Pruned).with_message("pruned (dry run)")
                }
                TaskKind::Prune => row(task, Action::Skipped, ResultCode::PruneSkipped)
                    .with_message(if plan.prune {
                        "ignored (no prune: Prune=false)"
                    } else {
                        "ignored (requires pruning)"
                    }),
                TaskKind::Apply if task.phase == SyncPhase::SyncFail => continue,
                TaskKind::Apply => match self.shared.get(&task.id) {
                    Some(owner) => row(task, Action::Skipped, ResultCode::Skipped).with_message(
                        format!("not changed: the object belongs to application {owner}"),
                    ),
                    None => row(
                        task,
                        self.actions.get(&i).copied().unwrap_or(Action::Configured),
                        ResultCode::Synced,
                    )
                    .with_message("dry run"),
                },
            };
            self.rows.push(r);
        }
    }

    /// Runs every (phase, wave) step in order, until one fails; whether all succeeded.
    async fn run_steps(&mut self, progress: &mut (dyn FnMut(Progress) + Send)) -> bool {
        let plan = self.plan;
        let steps = plan::steps(&plan.tasks);
        let last = steps.len().saturating_sub(1);
        for (n, (phase, wave)) in steps.into_iter().enumerate() {
            self.wait = plan.wait || n < last;
            progress(Progress::Step { phase, wave });
            let in_step =
                |t: &Task, kind: TaskKind| t.phase == phase && t.wave == wave && t.kind == kind;
            let prunes: Vec<usize> = (0..plan.tasks.len())
                .filter(|&i| in_step(&plan.tasks[i], TaskKind::Prune))
                .collect();
            let applies: Vec<usize> = (0..plan.tasks.len())
                .filter(|&i| in_step(&plan.tasks[i], TaskKind::Apply))
                .collect();
            if !self.prune_step(&prunes, progress).await
                || !self.apply_step(&applies, progress).await
            {
                return false;
            }
        }
        true
    }

    /// After a failed step: runs the `SyncFail` hooks; the operation's message.
    async fn fail(&mut self, progress: &mut (dyn FnMut(Progress) + Send)) -> String {
        let plan = self.plan;
        let fail_hooks: Vec<usize> = (0..plan.tasks.len())
            .filter(|&i| plan.tasks[i].phase == SyncPhase::SyncFail)
            .collect();
        if !fail_hooks.is_empty() {
            progress(Progress::Step {
                phase: SyncPhase::SyncFail,
                wave: 0,
            });
            self.apply_step(&fail_hooks, progress).await;
        }
        let failed: Vec<String> = self
            .rows
            .iter()
            .filter(|r| r.failed() && r.sync_phase != SyncPhase::SyncFail)
            .map(|r| format!("{} {}: {}", r.kind, r.name, r.message))
            .collect();
        format!("sync failed: {}", failed.join("; "))
    }

    /// The end of a run whose steps all succeeded: failed still when objects were refused or
    /// belong to another application.
    fn outcome(&self) -> Ending {
        if let Some(msg) = not_permitted(self.plan) {
            return (OperationPhase::Failed, msg);
        }
        if !self.shared.is_empty() {
            let msg = format!(
                "{} object(s) belong to another application and were not changed",
                self.shared.len()
            );
            return (OperationPhase::Failed, msg);
        }
        (
            OperationPhase::Succeeded,
            "successfully synced (all tasks run)".into(),
        )
    }
}

/// Runs the plan (see the crate documentation).
pub(crate) async fn run(
    engine: &Engine,
    plan: &Plan,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> SyncResult {
    let mut run = Run::new(engine, plan);
    progress(Progress::Started { total: run.total });
    run.rows.extend(plan.denied.iter().map(denied_row));
    if let Err((phase, msg)) = run.preflight().await {
        return run.finish(phase, msg);
    }
    let (phase, msg) = if plan.dry_run {
        run.dry_run_rows();
        match not_permitted(plan) {
            Some(msg) => (OperationPhase::Failed, msg),
            None => (OperationPhase::Succeeded, "dry run succeeded".into()),
        }
    } else if run.run_steps(progress).await {
        run.outcome()
    } else {
        (OperationPhase::Failed, run.fail(progress).await)
    };
    run.finish(phase, msg)
}

/// The row of an object the permissions refused: a rendered one failed (not applied), a
/// tracked live one was left in place (not pruned).
fn denied_row(d: &Denied) -> ResourceResult {
    if d.rendered {
        ResourceResult::new(
            &d.id,
            d.phase,
            d.wave,
            d.hook,
            Action::Skipped,
            ResultCode::SyncFailed,
        )
        .with_message(d.message.clone())
    } else {
        ResourceResult::new(
            &d.id,
            d.phase,
            d.wave,
            false,
            Action::Skipped,
            ResultCode::PruneSkipped,
        )
        .with_message(format!("not pruned: {}", d.message))
    }
}

/// The operation's message when rendered objects were refused (the permitted ones ran):
/// Argo CD's wording, with each distinct rule once.
fn not_permitted(plan: &Plan) -> Option<String> {
    let mut rules: Vec<&str> = plan
        .denied
        .iter()
        .filter(|d| d.rendered)
        .map(|d| d.message.as_str())
        .collect();
    if rules.is_empty() {
        return None;
    }
    rules.sort_unstable();
    rules.dedup();
    Some(format!(
        "one or more synchronization tasks are not valid: {}",
        rules.join("; ")
    ))
}
