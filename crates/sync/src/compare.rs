//! Desired vs live for every object of a plan, as `fjord diff` and the controller's comparison
//! see it: the desired side is the server's answer to a dry-run apply (so defaulting and
//! admission are accounted for), compared with the live object by [`fjord_diff::compare`].

use fjord_client::{ApplyOptions, Client, ClientError};
use fjord_diff::{CompareOptions, DiffError, ObjectDiff};
use futures::StreamExt;
use serde_json::Value;

use crate::plan::{SyncPhase, Task, TaskKind};
use crate::{Plan, FIELD_MANAGER};

/// Why an object could not be compared.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// The server-side dry run of the desired object failed.
    #[error("{object}: server-side dry run: {source}")]
    DryRun {
        /// The object.
        object: String,
        /// The cause.
        #[source]
        source: ClientError,
    },
    /// The two sides could not be compared.
    #[error("{object}: {source}")]
    Diff {
        /// The object.
        object: String,
        /// The cause.
        #[source]
        source: DiffError,
    },
}

/// One compared object of a plan.
#[derive(Debug, Clone)]
pub struct Compared {
    /// The plan's task (identity, wave, hook flag, live object).
    pub task: Task,
    /// The verdict and the normalised, masked sides.
    pub diff: ObjectDiff,
}

/// The server's view of the desired object: a server-side dry-run apply; the object itself when
/// the kind or its namespace does not exist yet.
pub async fn predicted(client: &Client, target: &Value) -> Result<Value, ClientError> {
    let t = match client.resolve_object(target).await {
        Ok(t) => t,
        Err(ClientError::UnknownKind { .. }) => return Ok(target.clone()),
        Err(e) => return Err(e),
    };
    let opts = ApplyOptions {
        dry_run: true,
        field_manager: FIELD_MANAGER.to_string(),
        ..ApplyOptions::default()
    };
    match client.apply(&t, target, &opts).await {
        Ok(v) => Ok(v),
        Err(e) if e.is_not_found() => Ok(target.clone()),
        Err(e) => Err(e),
    }
}

/// Compares every non-hook Sync-phase task of `plan` (applies and prunes) with the live state.
pub async fn compare_plan(
    client: &Client,
    plan: &Plan,
    opts: &CompareOptions,
) -> Result<Vec<Compared>, CompareError> {
    let tasks = plan
        .tasks
        .iter()
        .filter(|t| !t.hook && t.phase == SyncPhase::Sync);
    // The dry runs go concurrently; the results keep the plan's order.
    let comparisons: Vec<_> = tasks
        .map(|task| async move {
            let object = task.id.to_string();
            let diff = match (task.kind, &task.target) {
                (TaskKind::Apply, Some(target)) => {
                    let desired =
                        predicted(client, target)
                            .await
                            .map_err(|source| CompareError::DryRun {
                                object: object.clone(),
                                source,
                            })?;
                    fjord_diff::compare(Some(&desired), task.live.as_ref(), opts)
                }
                _ => fjord_diff::compare(None, task.live.as_ref(), opts),
            }
            .map_err(|source| CompareError::Diff { object, source })?;
            Ok(Compared {
                task: task.clone(),
                diff,
            })
        })
        .collect();
    futures::stream::iter(comparisons)
        .buffered(crate::execute::CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}
