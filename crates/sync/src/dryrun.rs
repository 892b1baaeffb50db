//! The server-side dry run of every apply task, done once by [`crate::Engine::plan`]: its
//! results decide a sync's actions (and whether anything is applied at all) and are the desired
//! side of a diff.

use std::collections::HashSet;

use fjord_client::ClientError;
use futures::stream::{self, StreamExt};
use serde_json::Value;

use crate::apply::apply_task;
use crate::concurrency::CONCURRENCY;
use crate::plan::{DryRun, Task, TaskKind};
use crate::unchanged::apply_keeps_live;
use crate::{Engine, FIELD_MANAGER};

/// Dry-runs every apply task's target (hooks only with `hooks`), several at a time, except
/// objects of kinds the server does not serve yet and objects in `new_namespaces` (both will be
/// created by the sync), and objects that an apply provably keeps as they are (their live
/// object is the prediction).
pub(crate) async fn dry_run_tasks(
    engine: &Engine,
    tasks: &mut [Task],
    new_namespaces: &HashSet<String>,
    hooks: bool,
) {
    for task in tasks.iter_mut() {
        if let Some(live) = kept_live(task) {
            task.dry_run = DryRun::Predicted(live);
        }
    }
    let runs: Vec<_> = tasks
        .iter()
        .enumerate()
        .filter(|(_, t)| t.kind == TaskKind::Apply && t.target.is_some())
        .filter(|(_, t)| hooks || !t.hook)
        .filter(|(_, t)| !new_namespaces.contains(&t.id.namespace))
        .filter(|(_, t)| t.dry_run == DryRun::NotRun)
        .map(|(i, task)| async move { (i, dry_run_one(engine, task).await) })
        .collect();
    let results: Vec<(usize, DryRun)> = stream::iter(runs)
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for (i, result) in results {
        tasks[i].dry_run = result;
    }
}

/// The live object of a (non-hook, server-side applied) task whose apply would keep it.
fn kept_live(task: &Task) -> Option<Value> {
    let (target, live) = (task.target.as_ref()?, task.live.as_ref()?);
    let applied = task.kind == TaskKind::Apply && !task.hook && !task.options.is_replace();
    (applied && apply_keeps_live(live, target, FIELD_MANAGER)).then(|| live.clone())
}

pub(crate) async fn dry_run_one(engine: &Engine, task: &Task) -> DryRun {
    let av = task.id.api_version();
    let t = match engine.client().resolve(&av, &task.id.kind).await {
        Ok(t) => t,
        // Defined by a CRD of this sync (or SkipDryRunOnMissingResource).
        Err(ClientError::UnknownKind { .. }) => return DryRun::NotRun,
        Err(e) => {
            return DryRun::Failed {
                message: fjord_model::chain(&e),
                not_found: false,
            }
        }
    };
    match apply_task(engine, &t, task, true).await {
        Ok(predicted) => DryRun::Predicted(predicted),
        Err(e) => DryRun::Failed {
            not_found: e.is_not_found(),
            message: fjord_model::chain(&e),
        },
    }
}
