//! Desired vs live for every object of a plan, as `fjord diff` and the controller's comparison
//! see it: the desired side is the server's answer to the plan's dry-run apply (so defaulting
//! and admission are accounted for), compared with the live object by [`fjord_diff::compare`].

use fjord_diff::{CompareOptions, DiffError, ObjectDiff};

use crate::plan::{DryRun, SyncPhase, Task, TaskKind};
use crate::Plan;

/// Why an object could not be compared.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// The server-side dry run of the desired object failed.
    #[error("{object}: server-side dry run: {message}")]
    DryRun {
        /// The object.
        object: String,
        /// The server's answer.
        message: String,
    },
    /// The two sides could not be compared.
    #[error("{object}")]
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

/// Compares every non-hook Sync-phase task of `plan` (applies and prunes) with the live state.
/// The desired side is the plan's dry run of the target; the target itself when it was not
/// dry-run (its kind or namespace does not exist yet) or the server answered `404`.
pub fn compare_plan(plan: &Plan, opts: &CompareOptions) -> Result<Vec<Compared>, CompareError> {
    plan.tasks
        .iter()
        .filter(|t| !t.hook && t.phase == SyncPhase::Sync)
        .map(|task| {
            let object = task.id.to_string();
            let desired = match (task.kind, &task.target, &task.dry_run) {
                (TaskKind::Apply, Some(_), DryRun::Predicted(predicted)) => Some(predicted),
                (TaskKind::Apply, Some(target), DryRun::NotRun)
                | (
                    TaskKind::Apply,
                    Some(target),
                    DryRun::Failed {
                        not_found: true, ..
                    },
                ) => Some(target),
                (TaskKind::Apply, Some(_), DryRun::Failed { message, .. }) => {
                    return Err(CompareError::DryRun {
                        object,
                        message: message.clone(),
                    })
                }
                _ => None,
            };
            let diff = fjord_diff::compare(desired, task.live.as_ref(), opts)
                .map_err(|source| CompareError::Diff { object, source })?;
            // The compared sides are in `diff`; the dry-run result is not kept twice.
            let mut task = task.clone();
            task.dry_run = DryRun::NotRun;
            Ok(Compared { task, diff })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SyncOptions;
    use fjord_diff::DiffStatus;
    use fjord_model::ObjectRef;
    use serde_json::{json, Value};
    use std::time::Duration;

    fn task(name: &str, target: Option<Value>, live: Option<Value>, dry_run: DryRun) -> Task {
        Task {
            id: ObjectRef::new("", "v1", "ConfigMap", "ns", name),
            phase: SyncPhase::Sync,
            wave: 0,
            kind: if target.is_some() {
                TaskKind::Apply
            } else {
                TaskKind::Prune
            },
            target,
            live,
            hook: false,
            delete_policies: vec![],
            options: SyncOptions::default(),
            dry_run,
        }
    }

    fn cm(name: &str, value: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": name, "namespace": "ns"}, "data": {"k": value}})
    }

    fn plan(tasks: Vec<Task>) -> Plan {
        Plan {
            app: "app".into(),
            tasks,
            options: SyncOptions::default(),
            prune: false,
            dry_run: false,
            timeout: Duration::from_secs(1),
            wait: true,
            namespace: "ns".into(),
            create_namespace: None,
            shared: vec![],
            denied: vec![],
        }
    }

    #[test]
    fn the_desired_side_is_the_dry_run_result_or_the_target() {
        let p = plan(vec![
            // The server's answer is compared, not the rendered target.
            task(
                "predicted",
                Some(cm("predicted", "rendered")),
                Some(cm("predicted", "server")),
                DryRun::Predicted(cm("predicted", "server")),
            ),
            // Not dry-run (namespace created by the sync): the target itself.
            task("new", Some(cm("new", "v")), None, DryRun::NotRun),
            // A 404 from the dry run: the target itself.
            task(
                "nons",
                Some(cm("nons", "v")),
                None,
                DryRun::Failed {
                    message: "namespaces \"ns\" not found".into(),
                    not_found: true,
                },
            ),
            // A prune candidate: live only.
            task("extra", None, Some(cm("extra", "v")), DryRun::NotRun),
        ]);
        let out = compare_plan(&p, &CompareOptions::default()).expect("compare");
        let verdicts: Vec<(&str, DiffStatus)> = out
            .iter()
            .map(|c| (c.task.id.name.as_str(), c.diff.status))
            .collect();
        assert_eq!(
            verdicts,
            [
                ("predicted", DiffStatus::InSync),
                ("new", DiffStatus::Missing),
                ("nons", DiffStatus::Missing),
                ("extra", DiffStatus::Extra),
            ]
        );
        // The dry-run result is not carried twice.
        assert!(out.iter().all(|c| c.task.dry_run == DryRun::NotRun));
    }

    #[test]
    fn a_refused_dry_run_is_an_error_naming_the_object() {
        let p = plan(vec![task(
            "bad",
            Some(cm("bad", "v")),
            None,
            DryRun::Failed {
                message: "field not declared in schema".into(),
                not_found: false,
            },
        )]);
        let err = compare_plan(&p, &CompareOptions::default()).expect_err("refused");
        let text = err.to_string();
        assert!(text.contains("bad"), "{text}");
        assert!(text.contains("field not declared in schema"), "{text}");
    }
}
