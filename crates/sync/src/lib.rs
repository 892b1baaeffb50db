//! fjord's sync engine: applies a rendered application to a cluster the way Argo CD does.
//!
//! [`Engine::plan`] turns rendered objects into ordered [`plan::Task`]s (hooks, phases, waves,
//! kind rank, Namespace/CRD fix-ups, tracking annotations, prune candidates); [`Engine::execute`]
//! runs the plan: dry run of everything first (any failure ⇒ nothing applied), then each
//! (phase, wave) step — prune, replace `BeforeHookCreation` hooks, apply with server-side apply
//! (field manager `fjord`), wait for health — and `SyncFail` hooks when something failed.
//! The library prints nothing: progress goes to a callback ([`Progress`]).

pub mod apply;
pub mod compare;
mod concurrency;
mod dryrun;
mod execute;
mod live;
pub mod options;
pub mod permit;
pub mod plan;
pub mod prune;
pub mod result;
pub mod tracking;
mod unchanged;
pub mod wait;

use std::collections::HashSet;
use std::time::Duration;

use fjord_client::{Client, ClientError, ResourceType};
use fjord_health::HealthOverrides;
use serde_json::Value;

pub use compare::{compare_plan, CompareError, Compared};
pub use options::{OptionsError, SyncOptions, ANNOTATION_SYNC_OPTIONS};
pub use permit::{Denied, Permissions};
pub use plan::{DryRun, HookDeletePolicy, ObjectKey, ObjectRef, SyncPhase, Task, TaskKind};
pub use result::{Action, HookPhase, OperationPhase, ResourceResult, ResultCode, SyncResult};
pub use tracking::{TrackingId, ANNOTATION_TRACKING_ID};

/// The field manager fjord applies with.
pub const FIELD_MANAGER: &str = "fjord";

/// A failure before any object was touched.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// An application-level or per-object sync option is malformed.
    #[error("{object}: {source}")]
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
    #[error("{step}: {source}")]
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

/// An object owned by another application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedResource {
    /// The object.
    pub id: ObjectRef,
    /// The application whose tracking id it carries.
    pub owner: String,
}

/// The ordered work of a sync.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Application name.
    pub app: String,
    /// Tasks in execution order (prunes included; `SyncFail` hooks last).
    pub tasks: Vec<Task>,
    /// Application-level options.
    pub options: SyncOptions,
    /// Whether pruning was requested.
    pub prune: bool,
    /// Dry run.
    pub dry_run: bool,
    /// Overall timeout.
    pub timeout: Duration,
    /// Whether the last step's objects are waited for ([`SyncRequest::wait`]).
    pub wait: bool,
    /// The destination namespace.
    pub namespace: String,
    /// The destination namespace to create first (`CreateNamespace=true` and missing).
    pub create_namespace: Option<String>,
    /// Rendered objects that belong to another application.
    pub shared: Vec<SharedResource>,
    /// Objects the request's permissions refuse: rendered ones are not applied, tracked live
    /// ones are not pruned (neither is among `tasks`).
    pub denied: Vec<Denied>,
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

fn object_name(obj: &Value) -> String {
    let kind = obj
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("<no kind>");
    let name = obj
        .pointer("/metadata/name")
        .or_else(|| obj.pointer("/metadata/generateName"))
        .and_then(Value::as_str)
        .unwrap_or("<no name>");
    format!("{kind} {name}")
}

fn str_at<'a>(obj: &'a Value, ptr: &str) -> Option<&'a str> {
    obj.pointer(ptr).and_then(Value::as_str)
}

/// The prune task of `live`, a tracked object no longer rendered; `None`, and listed in
/// `denied`, when the request's permissions do not cover it (Argo CD leaves it alone).
fn prune_task(
    req: &SyncRequest,
    id: ObjectRef,
    live: Value,
    denied: &mut Vec<Denied>,
) -> Option<Task> {
    let wave = plan::wave_of(&live).unwrap_or(0);
    if let Err(message) = req.permissions.check(&id, !id.namespace.is_empty()) {
        denied.push(Denied::live(&id, wave, message));
        return None;
    }
    let own = match live
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(ANNOTATION_SYNC_OPTIONS))
        .and_then(Value::as_str)
    {
        Some(v) => SyncOptions::parse_annotation(v).unwrap_or_default(),
        None => SyncOptions::default(),
    };
    Some(Task {
        id,
        phase: SyncPhase::Sync,
        wave,
        kind: TaskKind::Prune,
        target: None,
        live: Some(live),
        hook: false,
        delete_policies: vec![],
        options: own.merged_over(&req.options),
        dry_run: DryRun::NotRun,
    })
}

/// Lower-case hook phase for generated names.
fn phase_lower(p: SyncPhase) -> String {
    p.as_str().to_ascii_lowercase()
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

    /// Resolves an object's type; for a kind defined by a CRD of the same sync (not served yet)
    /// returns a type built from the CRD, marked by `None` in the second field.
    async fn resolve_target(
        &self,
        obj: &Value,
        crds: &[Value],
        skip_missing: bool,
    ) -> Result<(ResourceType, bool), SyncError> {
        let av = str_at(obj, "/apiVersion").unwrap_or_default();
        let kind = str_at(obj, "/kind").unwrap_or_default();
        match self.client.resolve(av, kind).await {
            Ok(t) => Ok((t, true)),
            Err(ClientError::UnknownKind { .. }) => {
                let (group, version) = fjord_client::split_api_version(av);
                let crd = crds.iter().find(|c| {
                    str_at(c, "/spec/group") == Some(group)
                        && str_at(c, "/spec/names/kind") == Some(kind)
                });
                if crd.is_none() && !skip_missing {
                    return Err(SyncError::InvalidObject {
                        object: object_name(obj),
                        message: format!("the server does not serve {av} {kind} and no CustomResourceDefinition in the application defines it"),
                    });
                }
                let namespaced = crd
                    .map(|c| str_at(c, "/spec/scope") != Some("Cluster"))
                    .unwrap_or(true);
                let plural = crd
                    .and_then(|c| str_at(c, "/spec/names/plural"))
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("{}s", kind.to_ascii_lowercase()));
                Ok((
                    ResourceType {
                        group: group.into(),
                        version: version.into(),
                        kind: kind.into(),
                        plural,
                        namespaced,
                    },
                    false,
                ))
            }
            Err(source) => Err(SyncError::Client {
                step: "resolving kinds",
                source,
            }),
        }
    }

    /// Builds the plan: targets (namespace defaulted, tracking id set), hooks, live objects,
    /// prune candidates, order.
    pub async fn plan(&self, req: &SyncRequest) -> Result<Plan, SyncError> {
        if req.objects.is_empty() && req.prune && !req.allow_empty {
            return Err(SyncError::EmptyRender {
                app: req.app.clone(),
            });
        }
        let namespace = req
            .destination_namespace
            .clone()
            .unwrap_or_else(|| self.client.namespace().to_string());
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let crds: Vec<Value> = req
            .objects
            .iter()
            .filter(|o| str_at(o, "/kind") == Some("CustomResourceDefinition"))
            .cloned()
            .collect();
        let mut tasks: Vec<Task> = Vec::new();
        let mut denied: Vec<Denied> = Vec::new();
        let mut to_read: Vec<(usize, ResourceType)> = Vec::new();
        for obj in &req.objects {
            let name_of = || object_name(obj);
            if str_at(obj, "/apiVersion").is_none() || str_at(obj, "/kind").is_none() {
                return Err(SyncError::InvalidObject {
                    object: name_of(),
                    message: "no apiVersion or kind".into(),
                });
            }
            let own = match str_at(
                obj,
                &format!(
                    "/metadata/annotations/{}",
                    ANNOTATION_SYNC_OPTIONS.replace('/', "~1")
                ),
            ) {
                Some(v) => {
                    SyncOptions::parse_annotation(v).map_err(|source| SyncError::Options {
                        object: name_of(),
                        source,
                    })?
                }
                None => SyncOptions::default(),
            };
            let options = own.merged_over(&req.options);
            let (rtype, served) = self
                .resolve_target(obj, &crds, options.skips_dry_run_on_missing())
                .await?;
            let wave = plan::wave_of(obj).map_err(|message| SyncError::InvalidObject {
                object: name_of(),
                message,
            })?;
            let hook_phases = plan::hook_phases(obj);
            let phases = match &hook_phases {
                None => vec![SyncPhase::Sync],
                Some(p) => p.clone(),
            };
            for phase in phases {
                let mut target = obj.clone();
                let Some(meta) = target.get_mut("metadata").and_then(Value::as_object_mut) else {
                    return Err(SyncError::InvalidObject {
                        object: name_of(),
                        message: "no metadata".into(),
                    });
                };
                if rtype.namespaced {
                    if meta
                        .get("namespace")
                        .and_then(Value::as_str)
                        .is_none_or(str::is_empty)
                    {
                        meta.insert("namespace".into(), Value::String(namespace.clone()));
                    }
                } else {
                    meta.remove("namespace");
                }
                if meta
                    .get("name")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    let Some(generate) = meta
                        .get("generateName")
                        .and_then(Value::as_str)
                        .filter(|_| hook_phases.is_some())
                    else {
                        return Err(SyncError::InvalidObject {
                            object: name_of(),
                            message: "no metadata.name".into(),
                        });
                    };
                    let rev: String = req
                        .revision
                        .as_deref()
                        .unwrap_or("")
                        .chars()
                        .take(7)
                        .collect();
                    let name = if rev.is_empty() {
                        format!("{generate}{}-{started}", phase_lower(phase))
                    } else {
                        format!("{generate}{rev}-{}-{started}", phase_lower(phase))
                    };
                    meta.insert("name".into(), Value::String(name));
                    meta.remove("generateName");
                }
                let ns = str_at(&target, "/metadata/namespace")
                    .unwrap_or("")
                    .to_string();
                let name = str_at(&target, "/metadata/name").unwrap_or("").to_string();
                let id = ObjectRef {
                    group: rtype.group.clone(),
                    version: rtype.version.clone(),
                    kind: rtype.kind.clone(),
                    namespace: ns.clone(),
                    name: name.clone(),
                };
                if let Err(message) = req.permissions.check(&id, rtype.namespaced) {
                    let hook = hook_phases.is_some();
                    denied.push(Denied::rendered(&id, phase, wave, hook, message));
                    continue;
                }
                tracking::set_tracking(
                    &mut target,
                    &TrackingId::new(&req.app, &id.group, &id.kind, &ns, &name),
                );
                if served {
                    to_read.push((tasks.len(), rtype.clone()));
                }
                tasks.push(Task {
                    id,
                    phase,
                    wave,
                    kind: TaskKind::Apply,
                    target: Some(target),
                    live: None,
                    hook: hook_phases.is_some(),
                    delete_policies: if hook_phases.is_some() {
                        plan::delete_policies(obj)
                    } else {
                        vec![]
                    },
                    options: options.clone(),
                    dry_run: DryRun::NotRun,
                });
            }
        }
        // A refused rendered object is still rendered: it is never a prune candidate.
        let targets: HashSet<ObjectKey> = tasks
            .iter()
            .map(|t| t.id.key())
            .chain(denied.iter().map(|d| d.id.key()))
            .collect();
        // Two independent reads run together: the targets' live objects and then their dry
        // runs, and the search for the objects the application tracks but no longer renders.
        let (prepared, extraneous) = futures::join!(
            self.read_and_dry_run(req, &namespace, &mut tasks, to_read),
            self.extraneous(req, &targets)
        );
        let (shared, create_namespace, refused_namespace) = prepared?;
        denied.extend(refused_namespace);
        for (id, live) in extraneous? {
            tasks.extend(prune_task(req, id, live, &mut denied));
        }
        plan::adjust_prune_waves(&mut tasks);
        plan::sort_tasks(&mut tasks);
        Ok(Plan {
            app: req.app.clone(),
            tasks,
            options: req.options.clone(),
            prune: req.prune,
            dry_run: req.dry_run,
            timeout: req.timeout,
            wait: req.wait,
            namespace,
            create_namespace,
            shared,
            denied,
        })
    }

    /// Reads the targets' live objects (which name another application's objects), whether the
    /// destination namespace must be created (and is permitted: else it is refused, third),
    /// then dry-runs every target (objects in namespaces the sync creates excepted).
    async fn read_and_dry_run(
        &self,
        req: &SyncRequest,
        namespace: &str,
        tasks: &mut [Task],
        to_read: Vec<(usize, ResourceType)>,
    ) -> Result<(Vec<SharedResource>, Option<String>, Option<Denied>), SyncError> {
        let ids: Vec<&ObjectRef> = tasks.iter().map(|t| &t.id).collect();
        let (lives, create_namespace) = futures::join!(
            live::read_live(&self.client, &ids, to_read, "reading live objects"),
            self.namespace_to_create(req, namespace)
        );
        let (lives, mut create_namespace) = (lives?, create_namespace?);
        let mut refused = None;
        if let Some(ns) = &create_namespace {
            // The namespace CreateNamespace=true makes is a cluster-scoped object like any other.
            let id = ObjectRef {
                group: String::new(),
                version: "v1".into(),
                kind: "Namespace".into(),
                namespace: String::new(),
                name: ns.clone(),
            };
            if let Err(message) = req.permissions.check(&id, false) {
                refused = Some(Denied::rendered(&id, SyncPhase::PreSync, 0, false, message));
                create_namespace = None;
            }
        }
        let mut shared = Vec::new();
        for (i, live) in lives {
            let id = &tasks[i].id;
            if let Some(owner) = live.as_ref().and_then(TrackingId::of) {
                if owner.app != req.app
                    && owner.refers_to(&id.group, &id.kind, &id.namespace, &id.name)
                {
                    shared.push(SharedResource {
                        id: id.clone(),
                        owner: owner.app,
                    });
                }
            }
            tasks[i].live = live;
        }
        // Namespaces this sync creates: their objects cannot be dry-run before.
        let mut new_namespaces: HashSet<String> = tasks
            .iter()
            .filter(|t| {
                t.kind == TaskKind::Apply
                    && t.id.kind == "Namespace"
                    && t.id.group.is_empty()
                    && t.live.is_none()
            })
            .map(|t| t.id.name.clone())
            .collect();
        new_namespaces.extend(create_namespace.clone());
        dryrun::dry_run_tasks(self, tasks, &new_namespaces, req.dry_run_hooks).await;
        Ok((shared, create_namespace, refused))
    }

    /// The destination namespace when `CreateNamespace=true` and it does not exist yet.
    async fn namespace_to_create(
        &self,
        req: &SyncRequest,
        namespace: &str,
    ) -> Result<Option<String>, SyncError> {
        if !req.options.creates_namespace() || namespace.is_empty() {
            return Ok(None);
        }
        let t = self
            .client
            .resolve("v1", "Namespace")
            .await
            .map_err(|source| SyncError::Client {
                step: "resolving kinds",
                source,
            })?;
        let live = self
            .client
            .get(&t, None, namespace)
            .await
            .map_err(|source| SyncError::Client {
                step: "reading live objects",
                source,
            })?;
        Ok(live.is_none().then(|| namespace.to_string()))
    }

    /// The live objects the application tracks that are not among `targets` (prune
    /// candidates), whole: from the request's list, else found by scanning the cluster.
    async fn extraneous(
        &self,
        req: &SyncRequest,
        targets: &HashSet<ObjectKey>,
    ) -> Result<Vec<(ObjectRef, Value)>, SyncError> {
        let rendered = |id: &ObjectRef| targets.contains(&id.key());
        match &req.tracked {
            Some(t) => Ok(t.iter().filter(|(id, _)| !rendered(id)).cloned().collect()),
            None => {
                // The scan returns metadata; prune candidates are read whole (diffs show them).
                let refs = prune::tracked_objects(&self.client, &req.app)
                    .await?
                    .into_iter()
                    .map(|(id, _)| id)
                    .filter(|id| !rendered(id))
                    .collect();
                prune::full_objects(&self.client, refs).await
            }
        }
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
