//! Running a [`Plan`]: dry run of everything, then each (phase, wave) step, then `SyncFail`
//! hooks when something failed.

use std::collections::HashMap;
use std::time::Instant;

use fjord_client::{ApplyOptions, ClientError, Propagation, ResourceType};
use futures::stream::{self, StreamExt};
use serde_json::{json, Value};

use crate::apply::{action_for, apply_task};
use crate::concurrency::CONCURRENCY;
use crate::plan::{self, DryRun, HookDeletePolicy, ObjectRef, SyncPhase, Task, TaskKind};
use crate::result::{Action, HookPhase, OperationPhase, ResourceResult, ResultCode, SyncResult};
use crate::wait::{wait_gone, wait_healthy, TaskState, Waited};
use crate::{Denied, Engine, Plan, Progress, SyncError};

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
            Err(e) => format!(" (deleting namespace {name}, created for the dry run: {e})"),
        }
    }

    async fn create_namespace(&mut self, name: &str) -> Result<(), ClientError> {
        let id = ObjectRef {
            group: String::new(),
            version: "v1".into(),
            kind: "Namespace".into(),
            namespace: String::new(),
            name: name.into(),
        };
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

    /// Prunes the step's prune tasks and waits until they are gone. Returns whether all went well.
    async fn prune_step(
        &mut self,
        idx: &[usize],
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> bool {
        let mut waited = Vec::new();
        let mut ok = true;
        for &i in idx {
            let task = &self.plan.tasks[i];
            let r = if !self.plan.prune {
                row(task, Action::Skipped, ResultCode::PruneSkipped)
                    .with_message("ignored (requires pruning)")
            } else if !task.options.allows_prune() {
                row(task, Action::Skipped, ResultCode::PruneSkipped)
                    .with_message("ignored (no prune: Prune=false)")
            } else {
                match self.resolve(task).await {
                    Err(e) => {
                        ok = false;
                        row(task, Action::Skipped, ResultCode::SyncFailed)
                            .with_message(e.to_string())
                    }
                    Ok(t) => {
                        let prop: Propagation = task.options.propagation();
                        match self
                            .engine
                            .client()
                            .delete(&t, ns(&task.id), &task.id.name, prop, false)
                            .await
                        {
                            Ok(_) => {
                                waited.push((
                                    self.rows.len(),
                                    Waited {
                                        rtype: t,
                                        id: task.id.clone(),
                                        hook: false,
                                        applied: None,
                                    },
                                ));
                                row(task, Action::Pruned, ResultCode::Pruned).with_message("pruned")
                            }
                            Err(e) => {
                                ok = false;
                                row(task, Action::Skipped, ResultCode::SyncFailed)
                                    .with_message(e.to_string())
                            }
                        }
                    }
                }
            };
            self.rows.push(r);
            self.tick(&task.id, progress);
        }
        if waited.is_empty() {
            return ok;
        }
        let items: Vec<Waited> = waited.iter().map(|(_, w)| w.clone()).collect();
        match wait_gone(self.engine, &items, self.deadline).await {
            Ok(left) => {
                for (ri, w) in &waited {
                    if left.contains(&w.id) {
                        ok = false;
                        self.rows[*ri].status = ResultCode::SyncFailed;
                        self.rows[*ri].message = "timed out waiting for deletion".into();
                    }
                }
            }
            Err(e) => {
                ok = false;
                if let Some((ri, _)) = waited.first() {
                    self.rows[*ri].message = e.to_string();
                }
            }
        }
        ok
    }

    /// Deletes existing hooks with `BeforeHookCreation` before they are created again.
    async fn delete_before_creation(&mut self, idx: &[usize]) -> Result<(), SyncError> {
        let mut gone = Vec::new();
        for &i in idx {
            let task = &self.plan.tasks[i];
            if !task.hook
                || task.live.is_none()
                || !task
                    .delete_policies
                    .contains(&HookDeletePolicy::BeforeHookCreation)
            {
                continue;
            }
            let t = self
                .resolve(task)
                .await
                .map_err(|source| SyncError::Client {
                    step: "deleting hooks",
                    source,
                })?;
            self.engine
                .client()
                .delete(
                    &t,
                    ns(&task.id),
                    &task.id.name,
                    Propagation::Background,
                    false,
                )
                .await
                .map_err(|source| SyncError::Client {
                    step: "deleting hooks",
                    source,
                })?;
            gone.push(Waited {
                rtype: t,
                id: task.id.clone(),
                hook: true,
                applied: None,
            });
        }
        wait_gone(self.engine, &gone, self.deadline).await?;
        Ok(())
    }

    /// Whether task `i` is applied (not another app's, not skipped by ApplyOutOfSyncOnly).
    fn needs_apply(&self, i: usize) -> bool {
        let task = &self.plan.tasks[i];
        let action = self.actions.get(&i).copied().unwrap_or(Action::Configured);
        let skipped_in_sync =
            task.options.out_of_sync_only() && !task.hook && action == Action::Unchanged;
        !self.shared.contains_key(&task.id) && !skipped_in_sync
    }

    /// Applies task `i` (and waits for a CRD to be established); its served type and the
    /// object the server returned.
    async fn apply_one(&self, i: usize) -> Result<(ResourceType, Value), String> {
        let task = &self.plan.tasks[i];
        let t = self.resolve(task).await.map_err(|e| e.to_string())?;
        let applied = apply_task(self.engine, &t, task, false)
            .await
            .map_err(|e| e.to_string())?;
        if task.id.kind == "CustomResourceDefinition" {
            let left = self.deadline.saturating_duration_since(Instant::now());
            self.engine
                .client()
                .wait_established(&task.id.name, left)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok((t, applied))
    }

    /// Applies the step's apply tasks and waits for them. Returns whether all went well.
    async fn apply_step(
        &mut self,
        idx: &[usize],
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> bool {
        if let Err(e) = self.delete_before_creation(idx).await {
            if let Some(&i) = idx.first() {
                let r = row(&self.plan.tasks[i], Action::Skipped, ResultCode::SyncFailed)
                    .with_message(e.to_string());
                self.rows.push(r);
            }
            return false;
        }
        let mut ok = true;
        let mut waited: Vec<(usize, usize, Waited)> = Vec::new();
        // Runs of consecutive tasks of one kind are applied concurrently (a CRD is established
        // before the next run, which holds its custom resources); rows keep the task order.
        let mut start = 0;
        while start < idx.len() {
            let kind = &self.plan.tasks[idx[start]].id.kind;
            let end = idx[start..]
                .iter()
                .position(|&i| &self.plan.tasks[i].id.kind != kind)
                .map_or(idx.len(), |p| start + p);
            let group = &idx[start..end];
            start = end;
            let this = &*self;
            let applies: Vec<_> = group
                .iter()
                .copied()
                .filter(|&i| this.needs_apply(i))
                .map(|i| async move { (i, this.apply_one(i).await) })
                .collect();
            let mut outcomes: HashMap<usize, Result<(ResourceType, Value), String>> =
                stream::iter(applies)
                    .buffer_unordered(CONCURRENCY)
                    .collect()
                    .await;
            for &i in group {
                let task = &self.plan.tasks[i];
                let action = self.actions.get(&i).copied().unwrap_or(Action::Configured);
                let Some(outcome) = outcomes.remove(&i) else {
                    let r = match self.shared.get(&task.id) {
                        Some(owner) => row(task, Action::Skipped, ResultCode::Skipped)
                            .with_message(format!(
                                "not changed: the object belongs to application {owner}"
                            )),
                        None => row(task, Action::Unchanged, ResultCode::Synced)
                            .with_message("in sync (ApplyOutOfSyncOnly)"),
                    };
                    self.rows.push(r);
                    self.tick(&task.id, progress);
                    continue;
                };
                match outcome {
                    Ok((t, applied)) => {
                        waited.push((
                            self.rows.len(),
                            i,
                            Waited {
                                rtype: t,
                                id: task.id.clone(),
                                hook: task.hook,
                                applied: Some(applied),
                            },
                        ));
                        let msg = if action == Action::Unchanged {
                            "unchanged"
                        } else {
                            "synced"
                        };
                        self.rows
                            .push(row(task, action, ResultCode::Synced).with_message(msg));
                    }
                    Err(msg) => {
                        ok = false;
                        self.rows
                            .push(row(task, action, ResultCode::SyncFailed).with_message(msg));
                    }
                }
                self.tick(&task.id, progress);
            }
        }
        if !ok {
            return false;
        }
        if !self.wait {
            // Hooks are still waited for (their completion is their result); other objects
            // keep the health their apply showed.
            waited.retain(|(ri, _, w)| {
                if !w.hook {
                    let health = w
                        .applied
                        .as_ref()
                        .and_then(|o| fjord_health::assess(o, self.engine.overrides()));
                    self.rows[*ri].health = health;
                }
                w.hook
            });
        }
        let items: Vec<Waited> = waited.iter().map(|(_, _, w)| w.clone()).collect();
        let states = match wait_healthy(self.engine, &items, self.deadline, progress).await {
            Ok(s) => s,
            Err(e) => {
                if let Some((ri, _, _)) = waited.first() {
                    self.rows[*ri].status = ResultCode::SyncFailed;
                    self.rows[*ri].message = e.to_string();
                }
                return false;
            }
        };
        for ((ri, ti, w), (state, health)) in waited.iter().zip(states) {
            let task = &self.plan.tasks[*ti];
            let r = &mut self.rows[*ri];
            r.health = health.clone();
            let health_msg = health
                .as_ref()
                .map(|h| h.message.clone())
                .unwrap_or_default();
            match state {
                TaskState::Succeeded => {
                    if w.hook {
                        r.hook_phase = Some(HookPhase::Succeeded);
                    }
                }
                TaskState::Failed => {
                    ok = false;
                    if w.hook {
                        r.hook_phase = Some(HookPhase::Failed);
                        r.message = if health_msg.is_empty() {
                            "hook failed".into()
                        } else {
                            format!("hook failed: {health_msg}")
                        };
                    } else {
                        r.status = ResultCode::SyncFailed;
                        r.message = if health_msg.is_empty() {
                            "Degraded".into()
                        } else {
                            format!("Degraded: {health_msg}")
                        };
                    }
                }
                TaskState::Running => {
                    ok = false;
                    if w.hook {
                        r.hook_phase = Some(HookPhase::Running);
                    }
                    r.status = ResultCode::SyncFailed;
                    r.message = format!(
                        "timed out waiting for {}",
                        if w.hook {
                            "completion of hook"
                        } else {
                            "healthy state"
                        }
                    );
                }
            }
            if w.hook {
                let delete = (state == TaskState::Succeeded
                    && task
                        .delete_policies
                        .contains(&HookDeletePolicy::HookSucceeded))
                    || (state == TaskState::Failed
                        && task.delete_policies.contains(&HookDeletePolicy::HookFailed));
                if delete {
                    let _ = self
                        .engine
                        .client()
                        .delete(
                            &w.rtype,
                            ns(&w.id),
                            &w.id.name,
                            Propagation::Background,
                            false,
                        )
                        .await;
                }
            }
        }
        ok
    }
}

/// Runs the plan (see the crate documentation).
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

pub(crate) async fn run(
    engine: &Engine,
    plan: &Plan,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> SyncResult {
    let total = plan
        .tasks
        .iter()
        .filter(|t| t.phase != SyncPhase::SyncFail)
        .count();
    let mut run = Run {
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
        total,
        wait: true,
    };
    progress(Progress::Started { total });
    run.rows.extend(plan.denied.iter().map(denied_row));
    if !plan.shared.is_empty() && plan.options.fails_on_shared() {
        for s in &plan.shared {
            if let Some(task) = plan.tasks.iter().find(|t| t.id == s.id) {
                run.rows.push(
                    row(task, Action::Skipped, ResultCode::SyncFailed)
                        .with_message(format!("the object is part of application {}", s.owner)),
                );
            }
        }
        let msg = format!(
            "FailOnSharedResource: {} object(s) belong to another application; nothing applied",
            plan.shared.len()
        );
        return run.finish(OperationPhase::Failed, msg);
    }
    let failures = run.judge_dry_runs();
    if !failures.is_empty() {
        let msg = dry_run_failure_message(&failures);
        run.rows.extend(failures);
        return run.finish(OperationPhase::Failed, format!("{msg}; nothing applied"));
    }
    if let Some(name) = plan.create_namespace.clone() {
        if let Err(e) = run.create_namespace(&name).await {
            return run.finish(
                OperationPhase::Error,
                format!("creating namespace {name}: {e}"),
            );
        }
        if !plan.dry_run {
            let failures = run.dry_run_in_new_namespace(&name).await;
            if !failures.is_empty() {
                let msg = dry_run_failure_message(&failures);
                run.rows.extend(failures);
                let undo = run.delete_namespace(&name).await;
                return run.finish(
                    OperationPhase::Failed,
                    format!("{msg}; nothing applied{undo}"),
                );
            }
        }
    }
    if plan.dry_run {
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
                TaskKind::Apply => match run.shared.get(&task.id) {
                    Some(owner) => row(task, Action::Skipped, ResultCode::Skipped).with_message(
                        format!("not changed: the object belongs to application {owner}"),
                    ),
                    None => row(
                        task,
                        run.actions.get(&i).copied().unwrap_or(Action::Configured),
                        ResultCode::Synced,
                    )
                    .with_message("dry run"),
                },
            };
            run.rows.push(r);
        }
        if let Some(msg) = not_permitted(plan) {
            return run.finish(OperationPhase::Failed, msg);
        }
        return run.finish(OperationPhase::Succeeded, "dry run succeeded".into());
    }
    let mut ok = true;
    let steps = plan::steps(&plan.tasks);
    let last = steps.len().saturating_sub(1);
    for (n, (phase, wave)) in steps.into_iter().enumerate() {
        run.wait = plan.wait || n < last;
        progress(Progress::Step { phase, wave });
        let in_step = |t: &Task| t.phase == phase && t.wave == wave;
        let prunes: Vec<usize> = (0..plan.tasks.len())
            .filter(|&i| in_step(&plan.tasks[i]) && plan.tasks[i].kind == TaskKind::Prune)
            .collect();
        let applies: Vec<usize> = (0..plan.tasks.len())
            .filter(|&i| in_step(&plan.tasks[i]) && plan.tasks[i].kind == TaskKind::Apply)
            .collect();
        if !run.prune_step(&prunes, progress).await || !run.apply_step(&applies, progress).await {
            ok = false;
            break;
        }
    }
    if !ok {
        let fail_hooks: Vec<usize> = (0..plan.tasks.len())
            .filter(|&i| plan.tasks[i].phase == SyncPhase::SyncFail)
            .collect();
        if !fail_hooks.is_empty() {
            progress(Progress::Step {
                phase: SyncPhase::SyncFail,
                wave: 0,
            });
            run.apply_step(&fail_hooks, progress).await;
        }
        let failed: Vec<String> = run
            .rows
            .iter()
            .filter(|r| r.failed() && r.sync_phase != SyncPhase::SyncFail)
            .map(|r| format!("{} {}: {}", r.kind, r.name, r.message))
            .collect();
        return run.finish(
            OperationPhase::Failed,
            format!("sync failed: {}", failed.join("; ")),
        );
    }
    if let Some(msg) = not_permitted(plan) {
        return run.finish(OperationPhase::Failed, msg);
    }
    if !run.shared.is_empty() {
        let msg = format!(
            "{} object(s) belong to another application and were not changed",
            run.shared.len()
        );
        return run.finish(OperationPhase::Failed, msg);
    }
    run.finish(
        OperationPhase::Succeeded,
        "successfully synced (all tasks run)".into(),
    )
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
