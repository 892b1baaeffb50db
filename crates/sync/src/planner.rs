//! Building a [`Plan`] ([`Engine::plan`]): every rendered object becomes one apply task per
//! phase (namespace defaulted, hook names generated, tracking id set), the targets' live objects
//! are read and dry-run, the tracked objects no longer rendered become prune tasks, and the
//! tasks are put in Argo CD's order ([`crate::plan`]).

use std::collections::HashSet;
use std::time::Duration;

use fjord_client::{ClientError, ResourceType};
use fjord_model::{split_api_version, ObjectKey, ObjectRef};
use serde_json::{Map, Value};

use crate::options::{SyncOptions, ANNOTATION_SYNC_OPTIONS};
use crate::permit::Denied;
use crate::plan::{self, DryRun, SyncPhase, Task, TaskKind};
use crate::tracking::{self, TrackingId};
use crate::{dryrun, live, prune, Engine, SyncError, SyncRequest};

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

/// `Kind name` of a rendered object, for error messages.
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

/// An unusable rendered object.
fn invalid(obj: &Value, message: impl Into<String>) -> SyncError {
    SyncError::InvalidObject {
        object: object_name(obj),
        message: message.into(),
    }
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

/// What holds for every rendered object of one plan.
struct Context<'a> {
    req: &'a SyncRequest,
    /// The destination namespace.
    namespace: String,
    /// The CustomResourceDefinitions among the rendered objects.
    crds: Vec<Value>,
    /// When planning started (seconds since the epoch), for generated hook names.
    started: u64,
}

/// The tasks planned so far, the rendered objects refused, and the tasks whose live object
/// is read (with their served type).
#[derive(Default)]
struct Targets {
    tasks: Vec<Task>,
    denied: Vec<Denied>,
    to_read: Vec<(usize, ResourceType)>,
}

/// A rendered object, read once: its options, type, wave and hook phases.
struct Rendered<'a> {
    obj: &'a Value,
    options: SyncOptions,
    rtype: ResourceType,
    /// Whether the server serves the type (else a CRD of the sync defines it).
    served: bool,
    wave: i64,
    /// The hook phases (`None` for a non-hook).
    hook_phases: Option<Vec<SyncPhase>>,
}

/// The object's own sync options (its annotation) over the application's.
fn object_options(obj: &Value, app: &SyncOptions) -> Result<SyncOptions, SyncError> {
    let pointer = format!(
        "/metadata/annotations/{}",
        ANNOTATION_SYNC_OPTIONS.replace('/', "~1")
    );
    let own = match str_at(obj, &pointer) {
        Some(v) => SyncOptions::parse_annotation(v).map_err(|source| SyncError::Options {
            object: object_name(obj),
            source,
        })?,
        None => SyncOptions::default(),
    };
    Ok(own.merged_over(app))
}

/// The namespace of a target: the destination's when a namespaced object names none; none for
/// a cluster-scoped object.
fn default_namespace(meta: &mut Map<String, Value>, namespaced: bool, namespace: &str) {
    if !namespaced {
        meta.remove("namespace");
        return;
    }
    let unset = meta
        .get("namespace")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty);
    if unset {
        meta.insert("namespace".into(), Value::String(namespace.to_string()));
    }
}

/// The name of a hook with only a `generateName`: the prefix, the revision's first 7
/// characters (when known), the lower-case phase and the planning time.
fn generated_name(
    generate: &str,
    revision: Option<&str>,
    phase: SyncPhase,
    started: u64,
) -> String {
    let rev: String = revision.unwrap_or("").chars().take(7).collect();
    let phase = phase.as_str().to_ascii_lowercase();
    if rev.is_empty() {
        format!("{generate}{phase}-{started}")
    } else {
        format!("{generate}{rev}-{phase}-{started}")
    }
}

impl Context<'_> {
    /// The target of `r` in `phase`: namespace defaulted, a hook's name generated.
    fn target(&self, r: &Rendered<'_>, phase: SyncPhase) -> Result<Value, SyncError> {
        let mut target = r.obj.clone();
        let Some(meta) = target.get_mut("metadata").and_then(Value::as_object_mut) else {
            return Err(invalid(r.obj, "no metadata"));
        };
        default_namespace(meta, r.rtype.namespaced, &self.namespace);
        let unnamed = meta
            .get("name")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty);
        if unnamed {
            let Some(generate) = meta
                .get("generateName")
                .and_then(Value::as_str)
                .filter(|_| r.hook_phases.is_some())
            else {
                return Err(invalid(r.obj, "no metadata.name"));
            };
            let name = generated_name(generate, self.req.revision.as_deref(), phase, self.started);
            meta.insert("name".into(), Value::String(name));
            meta.remove("generateName");
        }
        Ok(target)
    }

    /// Adds the apply task of `r` in `phase`, or its refusal when the permissions deny it.
    fn add_task(
        &self,
        r: &Rendered<'_>,
        phase: SyncPhase,
        out: &mut Targets,
    ) -> Result<(), SyncError> {
        let mut target = self.target(r, phase)?;
        let ns = str_at(&target, "/metadata/namespace").unwrap_or("");
        let name = str_at(&target, "/metadata/name").unwrap_or("");
        let id = ObjectRef::new(&r.rtype.group, &r.rtype.version, &r.rtype.kind, ns, name);
        let hook = r.hook_phases.is_some();
        if let Err(message) = self.req.permissions.check(&id, r.rtype.namespaced) {
            out.denied
                .push(Denied::rendered(&id, phase, r.wave, hook, message));
            return Ok(());
        }
        tracking::set_tracking(
            &mut target,
            &TrackingId::new(&self.req.app, &id.group, &id.kind, &id.namespace, &id.name),
        );
        if r.served {
            out.to_read.push((out.tasks.len(), r.rtype.clone()));
        }
        out.tasks.push(Task {
            id,
            phase,
            wave: r.wave,
            kind: TaskKind::Apply,
            target: Some(target),
            live: None,
            hook,
            delete_policies: if hook {
                plan::delete_policies(r.obj)
            } else {
                vec![]
            },
            options: r.options.clone(),
            dry_run: DryRun::NotRun,
        });
        Ok(())
    }
}

impl Engine {
    /// Resolves an object's type; for a kind defined by a CRD of the same sync (not served yet)
    /// returns a type built from the CRD, marked by `false` in the second field.
    async fn resolve_target(
        &self,
        obj: &Value,
        crds: &[Value],
        skip_missing: bool,
    ) -> Result<(ResourceType, bool), SyncError> {
        let av = str_at(obj, "/apiVersion").unwrap_or_default();
        let kind = str_at(obj, "/kind").unwrap_or_default();
        match self.client().resolve(av, kind).await {
            Ok(t) => Ok((t, true)),
            Err(ClientError::UnknownKind { .. }) => {
                let (group, version) = split_api_version(av);
                let crd = crds.iter().find(|c| {
                    str_at(c, "/spec/group") == Some(group)
                        && str_at(c, "/spec/names/kind") == Some(kind)
                });
                if crd.is_none() && !skip_missing {
                    return Err(invalid(obj, format!("the server does not serve {av} {kind} and no CustomResourceDefinition in the application defines it")));
                }
                let namespaced = crd
                    .map(|c| str_at(c, "/spec/scope") != Some("Cluster"))
                    .unwrap_or(true);
                let plural = crd
                    .and_then(|c| str_at(c, "/spec/names/plural"))
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("{}s", kind.to_ascii_lowercase()));
                let t = ResourceType::new(group, version, kind, &plural, namespaced);
                Ok((t, false))
            }
            Err(source) => Err(SyncError::Client {
                step: "resolving kinds",
                source,
            }),
        }
    }

    /// Reads a rendered object: its options, type, wave and hook phases.
    async fn read_rendered<'a>(
        &self,
        cx: &Context<'_>,
        obj: &'a Value,
    ) -> Result<Rendered<'a>, SyncError> {
        if str_at(obj, "/apiVersion").is_none() || str_at(obj, "/kind").is_none() {
            return Err(invalid(obj, "no apiVersion or kind"));
        }
        let options = object_options(obj, &cx.req.options)?;
        let (rtype, served) = self
            .resolve_target(obj, &cx.crds, options.skips_dry_run_on_missing())
            .await?;
        let wave = plan::wave_of(obj).map_err(|message| invalid(obj, message))?;
        Ok(Rendered {
            obj,
            options,
            rtype,
            served,
            wave,
            hook_phases: plan::hook_phases(obj),
        })
    }

    /// Builds the plan: targets (namespace defaulted, tracking id set), hooks, live objects,
    /// prune candidates, order.
    pub async fn plan(&self, req: &SyncRequest) -> Result<Plan, SyncError> {
        if req.objects.is_empty() && req.prune && !req.allow_empty {
            return Err(SyncError::EmptyRender {
                app: req.app.clone(),
            });
        }
        let cx = Context {
            req,
            namespace: req
                .destination_namespace
                .clone()
                .unwrap_or_else(|| self.client().namespace().to_string()),
            crds: req
                .objects
                .iter()
                .filter(|o| str_at(o, "/kind") == Some("CustomResourceDefinition"))
                .cloned()
                .collect(),
            started: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        };
        let mut targets = Targets::default();
        for obj in &req.objects {
            let rendered = self.read_rendered(&cx, obj).await?;
            let phases = rendered
                .hook_phases
                .clone()
                .unwrap_or_else(|| vec![SyncPhase::Sync]);
            for phase in phases {
                cx.add_task(&rendered, phase, &mut targets)?;
            }
        }
        self.finish_plan(req, cx.namespace, targets).await
    }

    /// Completes the plan of the targets: live objects and dry runs, prune tasks, order.
    async fn finish_plan(
        &self,
        req: &SyncRequest,
        namespace: String,
        targets: Targets,
    ) -> Result<Plan, SyncError> {
        let Targets {
            mut tasks,
            mut denied,
            to_read,
        } = targets;
        // A refused rendered object is still rendered: it is never a prune candidate.
        let rendered: HashSet<ObjectKey> = tasks
            .iter()
            .map(|t| t.id.key())
            .chain(denied.iter().map(|d| d.id.key()))
            .collect();
        // Two independent reads run together: the targets' live objects and then their dry
        // runs, and the search for the objects the application tracks but no longer renders.
        let (prepared, extraneous) = futures::join!(
            self.read_and_dry_run(req, &namespace, &mut tasks, to_read),
            self.extraneous(req, &rendered)
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
            live::read_live(self.client(), &ids, to_read, "reading live objects"),
            self.namespace_to_create(req, namespace)
        );
        let (lives, mut create_namespace) = (lives?, create_namespace?);
        let mut refused = None;
        if let Some(ns) = &create_namespace {
            // The namespace CreateNamespace=true makes is a cluster-scoped object like any other.
            let id = ObjectRef::namespace_object(ns);
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
            .client()
            .resolve("v1", "Namespace")
            .await
            .map_err(|source| SyncError::Client {
                step: "resolving kinds",
                source,
            })?;
        let live = self
            .client()
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
                let refs = prune::tracked_objects(self.client(), &req.app)
                    .await?
                    .into_iter()
                    .map(|(id, _)| id)
                    .filter(|id| !rendered(id))
                    .collect();
                prune::full_objects(self.client(), refs).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_carry_revision_phase_and_time() {
        assert_eq!(
            generated_name("migrate-", None, SyncPhase::PreSync, 42),
            "migrate-presync-42"
        );
        assert_eq!(
            generated_name("migrate-", Some("0123456789"), SyncPhase::PostSync, 7),
            "migrate-0123456-postsync-7"
        );
    }

    #[test]
    fn cluster_scoped_targets_lose_their_namespace() {
        let mut meta = Map::new();
        default_namespace(&mut meta, true, "dest");
        assert_eq!(meta["namespace"], "dest");
        meta.insert("namespace".into(), "own".into());
        default_namespace(&mut meta, true, "dest");
        assert_eq!(meta["namespace"], "own");
        default_namespace(&mut meta, false, "dest");
        assert!(!meta.contains_key("namespace"));
    }
}
