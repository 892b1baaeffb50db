//! Waiting for a step's objects: health for applied objects (fjord-health), completion for
//! hooks, disappearance for pruned objects.

use std::time::{Duration, Instant};

use fjord_client::ResourceType;
use fjord_health::{Health, HealthStatus};
use fjord_model::ObjectRef;
use serde_json::Value;

use crate::{Engine, Progress, SyncError};

/// The longest pause between two reads of the objects waited for.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// The first pause: most objects settle within milliseconds of their apply (a ConfigMap at once,
/// a small rollout soon), so the pause starts short and doubles up to [`POLL_INTERVAL`].
const FIRST_PAUSE: Duration = Duration::from_millis(10);

/// The pause before read number `n + 1` (0-based).
fn pause(n: u32) -> Duration {
    FIRST_PAUSE
        .saturating_mul(2u32.saturating_pow(n.min(16)))
        .min(POLL_INTERVAL)
}

/// Sleeps pause number `n` (never past `deadline`) and counts it.
async fn nap(n: &mut u32, deadline: Instant) {
    tokio::time::sleep(pause(*n).min(deadline.saturating_duration_since(Instant::now()))).await;
    *n = n.saturating_add(1);
}

/// The state of a task after its apply, as Argo CD judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    /// Done successfully.
    Succeeded,
    /// Done unsuccessfully.
    Failed,
    /// Not done yet.
    Running,
}

/// Argo CD's judgement of a task from its health: hooks succeed when Healthy (or without
/// health), fail when Degraded or Unknown; other objects succeed when Healthy (or without
/// health), fail when Degraded, and keep running otherwise.
pub fn judge(hook: bool, health: Option<&Health>) -> TaskState {
    let Some(h) = health else {
        return TaskState::Succeeded;
    };
    match (hook, h.status) {
        (_, HealthStatus::Healthy) => TaskState::Succeeded,
        (_, HealthStatus::Degraded) => TaskState::Failed,
        (true, HealthStatus::Unknown) => TaskState::Failed,
        _ => TaskState::Running,
    }
}

/// One object to wait for.
#[derive(Debug, Clone)]
pub struct Waited {
    /// Its type.
    pub rtype: ResourceType,
    /// The object.
    pub id: ObjectRef,
    /// Whether it is a hook.
    pub hook: bool,
    /// The object as the apply returned it: when it is already done (Healthy, no health
    /// check, Degraded), it is not read again.
    pub applied: Option<Value>,
}

fn ns_of(id: &ObjectRef) -> Option<&str> {
    Some(id.namespace.as_str()).filter(|n| !n.is_empty())
}

/// Waits until every object is done or `deadline` passes; returns each final state and health.
pub async fn wait_healthy(
    engine: &Engine,
    items: &[Waited],
    deadline: Instant,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Vec<(TaskState, Option<Health>)>, SyncError> {
    let mut states: Vec<(TaskState, Option<Health>)> = items
        .iter()
        .map(|w| match &w.applied {
            Some(obj) => {
                let h = fjord_health::assess(obj, engine.overrides());
                (judge(w.hook, h.as_ref()), h)
            }
            None => (TaskState::Running, None),
        })
        .collect();
    let mut n: u32 = 0;
    // What the apply answered was just read: the objects still running cannot have moved on
    // yet, so the first read waits one short pause.
    if items.iter().all(|w| w.applied.is_some())
        && states.iter().any(|(s, _)| *s == TaskState::Running)
    {
        nap(&mut n, deadline).await;
    }
    loop {
        let mut pending = Vec::new();
        let ids: Vec<&ObjectRef> = items.iter().map(|w| &w.id).collect();
        let running: Vec<(usize, ResourceType)> = (0..items.len())
            .filter(|&i| states[i].0 == TaskState::Running)
            .map(|i| (i, items[i].rtype.clone()))
            .collect();
        let lives =
            crate::live::read_live(engine.client(), &ids, running, "reading health").await?;
        for (i, live) in lives {
            let h = match live {
                None => Some(Health::status(HealthStatus::Missing)),
                Some(obj) => fjord_health::assess(&obj, engine.overrides()),
            };
            let w = &items[i];
            let s = judge(w.hook, h.as_ref());
            states[i] = (s, h);
            if s == TaskState::Running {
                pending.push(w.id.to_string());
            }
        }
        if pending.is_empty() || Instant::now() >= deadline {
            return Ok(states);
        }
        progress(Progress::Waiting {
            message: format!("waiting for healthy state of {}", pending.join(", ")),
        });
        nap(&mut n, deadline).await;
    }
}

/// Waits until the objects are gone; returns those still present at the deadline.
pub async fn wait_gone(
    engine: &Engine,
    items: &[Waited],
    deadline: Instant,
) -> Result<Vec<ObjectRef>, SyncError> {
    let mut n: u32 = 0;
    loop {
        let mut left = Vec::new();
        for w in items {
            let live = engine
                .client()
                .get(&w.rtype, ns_of(&w.id), &w.id.name)
                .await
                .map_err(|source| SyncError::Client {
                    step: "waiting for deletion",
                    source,
                })?;
            if live.is_some() {
                left.push(w.id.clone());
            }
        }
        if left.is_empty() || Instant::now() >= deadline {
            return Ok(left);
        }
        nap(&mut n, deadline).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_start_short_and_double_up_to_the_interval() {
        assert_eq!(pause(0), Duration::from_millis(10));
        assert_eq!(pause(1), Duration::from_millis(20));
        assert_eq!(pause(4), Duration::from_millis(160));
        assert_eq!(pause(5), POLL_INTERVAL);
        assert_eq!(pause(u32::MAX), POLL_INTERVAL);
    }

    #[test]
    fn judges_like_argo() {
        let h = |s| Some(Health::status(s));
        assert_eq!(judge(false, None), TaskState::Succeeded);
        assert_eq!(
            judge(false, h(HealthStatus::Healthy).as_ref()),
            TaskState::Succeeded
        );
        assert_eq!(
            judge(false, h(HealthStatus::Degraded).as_ref()),
            TaskState::Failed
        );
        assert_eq!(
            judge(false, h(HealthStatus::Progressing).as_ref()),
            TaskState::Running
        );
        assert_eq!(
            judge(false, h(HealthStatus::Unknown).as_ref()),
            TaskState::Running
        );
        assert_eq!(
            judge(true, h(HealthStatus::Unknown).as_ref()),
            TaskState::Failed
        );
        assert_eq!(
            judge(true, h(HealthStatus::Suspended).as_ref()),
            TaskState::Running
        );
        assert_eq!(judge(true, None), TaskState::Succeeded);
    }
}
