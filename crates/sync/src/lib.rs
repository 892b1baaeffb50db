//! fjord's sync engine: applies a rendered application to a cluster the way Argo CD does.
//!
//! [`Engine::plan`] turns rendered objects into ordered [`plan::Task`]s (hooks, phases, waves,
//! kind rank, Namespace/CRD fix-ups, tracking annotations, prune candidates); [`Engine::execute`]
//! runs the plan: dry run of everything first (any failure ⇒ nothing applied), then each
//! (phase, wave) step — prune, replace `BeforeHookCreation` hooks, apply with server-side apply
//! (field manager `fjord`), wait for health — and `SyncFail` hooks when something failed.
//! The library prints nothing: progress goes to a callback ([`Progress`]).
//!
//! ```
//! use fjord_sync::SyncOptions;
//!
//! // An Application's `syncPolicy.syncOptions`, as written: Argo CD's default-behaviour options
//! // are accepted, unknown ones are refused by name.
//! let opts = SyncOptions::parse_sync_policy(["CreateNamespace=true", "RespectIgnoreDifferences=true"])
//!     .unwrap();
//! assert!(opts.creates_namespace());
//! let err = SyncOptions::parse_sync_policy(["Bogus=true"]).unwrap_err();
//! assert!(err.to_string().contains("Bogus"));
//! ```

pub mod apply;
pub mod compare;
mod concurrency;
mod dryrun;
mod execute;
mod live;
pub mod options;
pub mod permit;
pub mod plan;
mod planner;
pub mod prune;
pub mod result;
pub mod tracking;
mod unchanged;
pub mod wait;

use std::time::Duration;

use fjord_client::{Client, ClientError};
use fjord_health::HealthOverrides;
use serde_json::Value;

pub use compare::{compare_plan, CompareError, Compared};
pub use fjord_model::{ObjectKey, ObjectRef};
pub use options::{OptionsError, SyncOptions, ANNOTATION_SYNC_OPTIONS};
pub use permit::{Denied, Permissions};
pub use plan::{DryRun, HookDeletePolicy, SyncPhase, Task, TaskKind};
pub use planner::{Plan, SharedResource};
pub use result::{Action, HookPhase, OperationPhase, ResourceResult, ResultCode, SyncResult};
pub use tracking::{TrackingId, ANNOTATION_TRACKING_ID};

/// The field manager fjord applies with.
pub const FIELD_MANAGER: &str = "fjord";

/// A failure before any object was touched.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// An application-level or per-object sync option is malformed.
    #[error("{object}")]
    Options {
        /// The object (or `--sync-option`).
        object: String,
        /// The cause.
        #[source]
        source: OptionsError,
    },
    /// A rendered object is unusable (no kind, no name, bad wave…).
    #[error("{object}: {message}")]
    InvalidObject {
        /// The object.
        object: String,
        /// What is wrong.
        message: String,
    },
    /// The render is empty and pruning would delete everything.
    #[error("the render of application {app} is empty: refusing to prune every object (pass --allow-empty)")]
    EmptyRender {
        /// The application.
        app: String,
    },
    /// Talking to the cluster failed.
    #[error("{step}")]
    Client {
        /// The step (`resolving kinds`, `reading live objects`, `listing tracked objects`…).
        step: &'static str,
        /// The cause.
        #[source]
        source: ClientError,
    },
}

/// What to sync.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    /// Application name (tracking ids).
    pub app: String,
    /// The rendered objects.
    pub objects: Vec<Value>,
    /// Namespace for namespaced objects that name none (`None` = the client's namespace).
    pub destination_namespace: Option<String>,
    /// Application-level sync options.
    pub options: SyncOptions,
    /// Delete tracked objects that are no longer rendered.
    pub prune: bool,
    /// Dry run only: nothing is changed.
    pub dry_run: bool,
    /// Allow pruning everything when the render is empty.
    pub allow_empty: bool,
    /// Overall timeout of the execution (health waits included).
    pub timeout: Duration,
    /// Wait until the last step's objects are healthy (`fjord sync --no-wait` turns it off,
    /// as Argo CD's sync operation does not wait for them either). Earlier waves and hooks are
    /// always waited for: their order depends on it.
    pub wait: bool,
    /// Revision being synced (used in generated hook names).
    pub revision: Option<String>,
    /// The live objects the application tracks, when the caller keeps them (the controller's
    /// watch cache); `None` lists every type of the cluster to find them.
    pub tracked: Option<Vec<(ObjectRef, Value)>>,
    /// Whether hooks are dry-run too: needed to execute the plan, not to compare it (a
    /// comparison leaves hooks out).
    pub dry_run_hooks: bool,
    /// Which objects the sync may read, apply and prune (the application's project); objects
    /// refused are listed in [`Plan::denied`] and never touched.
    pub permissions: Permissions,
}

impl SyncRequest {
    /// A request with defaults: no prune, no dry run, 5 minutes.
    pub fn new(app: impl Into<String>, objects: Vec<Value>) -> SyncRequest {
        SyncRequest {
            app: app.into(),
            objects,
            destination_namespace: None,
            options: SyncOptions::default(),
            prune: false,
            dry_run: false,
            allow_empty: false,
            timeout: Duration::from_secs(300),
            wait: true,
            revision: None,
            tracked: None,
            dry_run_hooks: true,
            permissions: Permissions::all(),
        }
    }
}

/// Progress reports of [`Engine::execute`].
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// Execution started; `total` tasks.
    Started {
        /// Number of tasks.
        total: usize,
    },
    /// A (phase, wave) step started.
    Step {
        /// Phase.
        phase: SyncPhase,
        /// Wave.
        wave: i64,
    },
    /// A task finished.
    TaskDone {
        /// The object.
        id: ObjectRef,
        /// Tasks done so far.
        done: usize,
        /// Number of tasks.
        total: usize,
    },
    /// Waiting for objects to become healthy (or hooks to complete).
    Waiting {
        /// What we wait for.
        message: String,
    },
}

/// The sync engine: a client and the health checks.
#[derive(Debug, Clone)]
pub struct Engine {
    client: Client,
    overrides: HealthOverrides,
}

impl Engine {
    /// An engine on `client` with custom health checks.
    pub fn new(client: Client, overrides: HealthOverrides) -> Engine {
        Engine { client, overrides }
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The health checks.
    pub fn overrides(&self) -> &HealthOverrides {
        &self.overrides
    }

    /// Runs a plan. Never fails: errors are reported in the result.
    pub async fn execute(
        &self,
        plan: &Plan,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> SyncResult {
        execute::run(self, plan, progress).await
    }
}
