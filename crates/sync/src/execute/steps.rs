//! One (phase, wave) step of a run: its prunes (and the wait until they are gone), then its
//! applies (hooks with `BeforeHookCreation` replaced, runs of one kind applied together) and
//! the wait until they are healthy, with the hooks' deletion policies.

use std::collections::HashMap;
use std::time::Instant;

use fjord_client::{Propagation, ResourceType};
use fjord_health::Health;
use futures::stream::{self, StreamExt};
use serde_json::Value;

use super::{ns, row, Run};
use crate::apply::apply_task;
use crate::concurrency::CONCURRENCY;
use crate::plan::{HookDeletePolicy, Task};
use crate::result::{Action, HookPhase, ResourceResult, ResultCode};
use crate::wait::{wait_gone, wait_healthy, TaskState, Waited};
use crate::{Progress, SyncError};

/// An applied object waited for: its row, its task and what is waited.
type Applied = (usize, usize, Waited);

/// What applying one task gave: its served type and the server's object, or the error.
type Outcome = Result<(ResourceType, Value), String>;

/// The runs of consecutive tasks of one kind in `idx`, in order.
fn kind_runs<'i>(tasks: &[Task], idx: &'i [usize]) -> Vec<&'i [usize]> {
    idx.chunk_by(|&a, &b| tasks[a].id.kind == tasks[b].id.kind)
        .collect()
}

/// Marks row `r` of an object waited for with the state the wait ended in; whether it
/// succeeded.
fn judge_waited(
    r: &mut ResourceResult,
    hook: bool,
    state: TaskState,
    health: Option<Health>,
) -> bool {
    let health_msg = health
        .as_ref()
        .map(|h| h.message.clone())
        .unwrap_or_default();
    r.health = health;
    let with_health = |what: &str| {
        if health_msg.is_empty() {
            what.to_string()
        } else {
            format!("{what}: {health_msg}")
        }
    };
    match state {
        TaskState::Succeeded => {
            if hook {
                r.hook_phase = Some(HookPhase::Succeeded);
            }
            true
        }
        TaskState::Failed => {
            if hook {
                r.hook_phase = Some(HookPhase::Failed);
                r.message = with_health("hook failed");
            } else {
                r.status = ResultCode::SyncFailed;
                r.message = with_health("Degraded");
            }
            false
        }
        TaskState::Running => {
            if hook {
                r.hook_phase = Some(HookPhase::Running);
            }
            r.status = ResultCode::SyncFailed;
            let what = if hook {
                "completion of hook"
            } else {
                "healthy state"
            };
            r.message = format!("timed out waiting for {what}");
            false
        }
    }
}

impl Run<'_> {
    /// Prunes one task, unless pruning is off for it: its row and, when deleted, what to wait
    /// for; whether it went well.
    async fn prune_one(&self, task: &Task) -> (ResourceResult, Option<Waited>, bool) {
        if !self.plan.prune {
            let r = row(task, Action::Skipped, ResultCode::PruneSkipped)
                .with_message("ignored (requires pruning)");
            return (r, None, true);
        }
        if !task.options.allows_prune() {
            let r = row(task, Action::Skipped, ResultCode::PruneSkipped)
                .with_message("ignored (no prune: Prune=false)");
            return (r, None, true);
        }
        let failed = |e: String| {
            let r = row(task, Action::Skipped, ResultCode::SyncFailed).with_message(e);
            (r, None, false)
        };
        let t = match self.resolve(task).await {
            Ok(t) => t,
            Err(e) => return failed(fjord_model::chain(&e)),
        };
        let prop: Propagation = task.options.propagation();
        let deleted = self
            .engine
            .client()
            .delete(&t, ns(&task.id), &task.id.name, prop, false)
            .await;
        match deleted {
            Ok(_) => {
                let waited = Waited {
                    rtype: t,
                    id: task.id.clone(),
                    hook: false,
                    applied: None,
                };
                let r = row(task, Action::Pruned, ResultCode::Pruned).with_message("pruned");
                (r, Some(waited), true)
            }
            Err(e) => failed(fjord_model::chain(&e)),
        }
    }

    /// Prunes the step's prune tasks and waits until they are gone. Returns whether all went well.
    pub(super) async fn prune_step(
        &mut self,
        idx: &[usize],
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> bool {
        let plan = self.plan;
        let mut waited = Vec::new();
        let mut ok = true;
        for &i in idx {
            let task = &plan.tasks[i];
            let (r, gone, fine) = self.prune_one(task).await;
            ok &= fine;
            waited.extend(gone.map(|w| (self.rows.len(), w)));
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
                    self.rows[*ri].message = fjord_model::chain(&e);
                }
            }
        }
        ok
    }

    /// Deletes existing hooks with `BeforeHookCreation` before they are created again.
    async fn delete_before_creation(&mut self, idx: &[usize]) -> Result<(), SyncError> {
        let client_err = |source| SyncError::Client {
            step: "deleting hooks",
            source,
        };
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
            let t = self.resolve(task).await.map_err(client_err)?;
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
                .map_err(client_err)?;
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
    async fn apply_one(&self, i: usize) -> Outcome {
        let task = &self.plan.tasks[i];
        let t = self
            .resolve(task)
            .await
            .map_err(|e| fjord_model::chain(&e))?;
        let applied = apply_task(self.engine, &t, task, false)
            .await
            .map_err(|e| fjord_model::chain(&e))?;
        if task.id.kind == "CustomResourceDefinition" {
            let left = self.deadline.saturating_duration_since(Instant::now());
            self.engine
                .client()
                .wait_established(&task.id.name, left)
                .await
                .map_err(|e| fjord_model::chain(&e))?;
        }
        Ok((t, applied))
    }

    /// Applies the step's apply tasks and waits for them. Returns whether all went well.
    pub(super) async fn apply_step(
        &mut self,
        idx: &[usize],
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> bool {
        if let Err(e) = self.delete_before_creation(idx).await {
            if let Some(&i) = idx.first() {
                let r = row(&self.plan.tasks[i], Action::Skipped, ResultCode::SyncFailed)
                    .with_message(fjord_model::chain(&e));
                self.rows.push(r);
            }
            return false;
        }
        let mut ok = true;
        let mut waited: Vec<Applied> = Vec::new();
        // Runs of consecutive tasks of one kind are applied concurrently (a CRD is established
        // before the next run, which holds its custom resources); rows keep the task order.
        for group in kind_runs(&self.plan.tasks, idx) {
            ok &= self.apply_group(group, &mut waited, progress).await;
        }
        if !ok {
            return false;
        }
        if !self.wait {
            self.keep_applied_health(&mut waited);
        }
        self.wait_applied(&waited, progress).await
    }

    /// Applies a run of tasks of one kind concurrently, then records their rows in task order
    /// (the applied ones in `waited`). Returns whether all went well.
    async fn apply_group(
        &mut self,
        group: &[usize],
        waited: &mut Vec<Applied>,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> bool {
        let this = &*self;
        let applies: Vec<_> = group
            .iter()
            .copied()
            .filter(|&i| this.needs_apply(i))
            .map(|i| async move { (i, this.apply_one(i).await) })
            .collect();
        let mut outcomes: HashMap<usize, Outcome> = stream::iter(applies)
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut ok = true;
        for &i in group {
            ok &= self.record_apply(i, outcomes.remove(&i), waited);
            self.tick(&self.plan.tasks[i].id, progress);
        }
        ok
    }

    /// Records the row of task `i` from its apply outcome (`None`: not applied); whether it
    /// went well.
    fn record_apply(
        &mut self,
        i: usize,
        outcome: Option<Outcome>,
        waited: &mut Vec<Applied>,
    ) -> bool {
        let task = &self.plan.tasks[i];
        let action = self.actions.get(&i).copied().unwrap_or(Action::Configured);
        let r = match outcome {
            None => match self.shared.get(&task.id) {
                Some(owner) => row(task, Action::Skipped, ResultCode::Skipped).with_message(
                    format!("not changed: the object belongs to application {owner}"),
                ),
                None => row(task, Action::Unchanged, ResultCode::Synced)
                    .with_message("in sync (ApplyOutOfSyncOnly)"),
            },
            Some(Ok((t, applied))) => {
                let w = Waited {
                    rtype: t,
                    id: task.id.clone(),
                    hook: task.hook,
                    applied: Some(applied),
                };
                waited.push((self.rows.len(), i, w));
                let msg = if action == Action::Unchanged {
                    "unchanged"
                } else {
                    "synced"
                };
                row(task, action, ResultCode::Synced).with_message(msg)
            }
            Some(Err(msg)) => {
                self.rows
                    .push(row(task, action, ResultCode::SyncFailed).with_message(msg));
                return false;
            }
        };
        self.rows.push(r);
        true
    }

    /// Without waiting (the last step of a `--no-wait` sync): hooks are still waited for (their
    /// completion is their result); other objects keep the health their apply showed.
    fn keep_applied_health(&mut self, waited: &mut Vec<Applied>) {
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

    /// Waits until the applied objects are healthy (hooks: complete), records their states
    /// and applies the hooks' deletion policies. Returns whether all succeeded.
    async fn wait_applied(
        &mut self,
        waited: &[Applied],
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> bool {
        let items: Vec<Waited> = waited.iter().map(|(_, _, w)| w.clone()).collect();
        let states = match wait_healthy(self.engine, &items, self.deadline, progress).await {
            Ok(s) => s,
            Err(e) => {
                if let Some((ri, _, _)) = waited.first() {
                    self.rows[*ri].status = ResultCode::SyncFailed;
                    self.rows[*ri].message = fjord_model::chain(&e);
                }
                return false;
            }
        };
        let mut ok = true;
        for ((ri, ti, w), (state, health)) in waited.iter().zip(states) {
            ok &= judge_waited(&mut self.rows[*ri], w.hook, state, health);
            if w.hook {
                self.delete_finished_hook(&self.plan.tasks[*ti], w, state)
                    .await;
            }
        }
        ok
    }

    /// Deletes a finished hook when its deletion policy asks for it (failures are ignored).
    async fn delete_finished_hook(&self, task: &Task, w: &Waited, state: TaskState) {
        let policy = match state {
            TaskState::Succeeded => HookDeletePolicy::HookSucceeded,
            TaskState::Failed => HookDeletePolicy::HookFailed,
            TaskState::Running => return,
        };
        if task.delete_policies.contains(&policy) {
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
