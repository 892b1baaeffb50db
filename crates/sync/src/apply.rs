//! Applying one task: server-side apply (field manager `fjord`), or create/replace with
//! `Replace=true`; dry runs; whether an object changes.

use fjord_client::{ApplyOptions, ClientError, ResourceType};
use fjord_model::meta::SERVER_SET_FIELDS;
use serde_json::Value;

use crate::plan::Task;
use crate::result::Action;
use crate::{Engine, FIELD_MANAGER};

/// A failed apply of one object.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The task has no target object (a prune task).
    #[error("{0}: nothing to apply")]
    NoTarget(String),
    /// The API refused the object.
    #[error("{object}")]
    Request {
        /// The object.
        object: String,
        /// The cause.
        #[source]
        source: ClientError,
    },
}

impl ApplyError {
    /// Whether the server answered `404 Not Found` (e.g. the object's namespace is missing).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ApplyError::Request { source, .. } if source.is_not_found())
    }
}

/// Fields that differ between a dry-run result and the live object without a real change.
fn volatile_free(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("status");
        if let Some(meta) = m.get_mut("metadata").and_then(Value::as_object_mut) {
            for k in SERVER_SET_FIELDS {
                meta.remove(k);
            }
        }
    }
    v
}

/// The action an apply means: `Created` without a live object, else `Configured` or
/// `Unchanged` by comparing the predicted object (a dry-run result) with the live one.
pub fn action_for(live: Option<&Value>, predicted: &Value) -> Action {
    match live {
        None => Action::Created,
        Some(l) if volatile_free(l) == volatile_free(predicted) => Action::Unchanged,
        Some(_) => Action::Configured,
    }
}

/// Whether the task's kind is updated with apply even under `Replace=true`.
fn never_replaced(task: &Task) -> bool {
    (task.id.kind == "CustomResourceDefinition" && task.id.group == "apiextensions.k8s.io")
        || (task.id.kind == "Namespace" && task.id.group.is_empty())
}

/// Applies (or, with `dry_run`, dry-runs) a task's target; returns the server's object.
pub async fn apply_task(
    engine: &Engine,
    t: &ResourceType,
    task: &Task,
    dry_run: bool,
) -> Result<Value, ApplyError> {
    let target = task
        .target
        .as_ref()
        .ok_or_else(|| ApplyError::NoTarget(task.id.to_string()))?;
    let client = engine.client();
    let err = |source| ApplyError::Request {
        object: task.id.to_string(),
        source,
    };
    if task.options.is_replace() && !never_replaced(task) {
        let exists = match &task.live {
            Some(_) => true,
            None => {
                let ns = Some(task.id.namespace.as_str()).filter(|n| !n.is_empty());
                client
                    .get(t, ns, &task.id.name)
                    .await
                    .map_err(err)?
                    .is_some()
            }
        };
        return if exists {
            client
                .replace(t, target, dry_run, FIELD_MANAGER)
                .await
                .map_err(err)
        } else {
            client
                .create(t, target, dry_run, FIELD_MANAGER)
                .await
                .map_err(err)
        };
    }
    let opts = ApplyOptions {
        dry_run,
        force: true,
        field_manager: FIELD_MANAGER.into(),
        validate: task.options.validates(),
    };
    client.apply(t, target, &opts).await.map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn actions_ignore_volatile_metadata_and_status() {
        let live = json!({"metadata": {"name": "a", "resourceVersion": "1", "managedFields": [1]},
                          "data": {"k": "v"}, "status": {"x": 1}});
        let same = json!({"metadata": {"name": "a", "resourceVersion": "2"}, "data": {"k": "v"}});
        let changed = json!({"metadata": {"name": "a"}, "data": {"k": "w"}});
        assert_eq!(action_for(None, &same), Action::Created);
        assert_eq!(action_for(Some(&live), &same), Action::Unchanged);
        assert_eq!(action_for(Some(&live), &changed), Action::Configured);
    }
}
