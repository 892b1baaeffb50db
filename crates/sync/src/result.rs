//! The outcome of a sync: one row per object, and the operation's phase.

use fjord_health::Health;
use fjord_model::ObjectRef;
use serde::Serialize;

use crate::plan::SyncPhase;

/// What was (or, in a dry run, would be) done to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Action {
    /// The object did not exist.
    Created,
    /// The object existed and changed.
    Configured,
    /// The object existed and did not change.
    Unchanged,
    /// The object was deleted.
    Pruned,
    /// The object was not applied (see the message).
    Skipped,
}

impl Action {
    /// Lower-case name, as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Configured => "configured",
            Action::Unchanged => "unchanged",
            Action::Pruned => "pruned",
            Action::Skipped => "skipped",
        }
    }
}

/// The result of one object's task, as Argo CD names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ResultCode {
    /// Applied successfully.
    Synced,
    /// Apply (or dry run, or health) failed.
    SyncFailed,
    /// Deleted.
    Pruned,
    /// Not deleted (pruning off, `Prune=false`).
    PruneSkipped,
    /// Not applied (another application owns it, or the sync stopped first).
    Skipped,
}

/// A hook's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum HookPhase {
    /// Completed successfully.
    Succeeded,
    /// Completed unsuccessfully.
    Failed,
    /// Still running when the sync ended.
    Running,
}

/// One object's row.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceResult {
    /// API group.
    pub group: String,
    /// Version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Namespace (`""` when cluster-scoped).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Phase the task ran in.
    pub sync_phase: SyncPhase,
    /// Wave.
    pub wave: i64,
    /// Whether the object is a hook.
    pub hook: bool,
    /// What was done.
    pub action: Action,
    /// Result code.
    pub status: ResultCode,
    /// A hook's outcome.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hook_phase: Option<HookPhase>,
    /// Health after the task's wave, when the kind has a health check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
    /// Details (errors, skip reasons).
    pub message: String,
}

impl ResourceResult {
    /// A row for `id`.
    pub fn new(
        id: &ObjectRef,
        phase: SyncPhase,
        wave: i64,
        hook: bool,
        action: Action,
        status: ResultCode,
    ) -> ResourceResult {
        ResourceResult {
            group: id.group.clone(),
            version: id.version.clone(),
            kind: id.kind.clone(),
            namespace: id.namespace.clone(),
            name: id.name.clone(),
            sync_phase: phase,
            wave,
            hook,
            action,
            status,
            hook_phase: None,
            health: None,
            message: String::new(),
        }
    }

    /// With a message.
    pub fn with_message(mut self, message: impl Into<String>) -> ResourceResult {
        self.message = message.into();
        self
    }

    /// Whether this row counts as a failure.
    pub fn failed(&self) -> bool {
        self.status == ResultCode::SyncFailed || self.hook_phase == Some(HookPhase::Failed)
    }
}

/// The phase of the whole operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum OperationPhase {
    /// Everything synced and is healthy.
    Succeeded,
    /// Something failed (see the rows and the message).
    Failed,
    /// The sync could not run (API or planning error).
    Error,
}

/// The outcome of [`crate::Engine::execute`].
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncResult {
    /// The application.
    pub app: String,
    /// Overall phase.
    pub phase: OperationPhase,
    /// Summary.
    pub message: String,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// One row per task, in execution order.
    pub resources: Vec<ResourceResult>,
}

impl SyncResult {
    /// Whether the sync succeeded.
    pub fn succeeded(&self) -> bool {
        self.phase == OperationPhase::Succeeded
    }
}
