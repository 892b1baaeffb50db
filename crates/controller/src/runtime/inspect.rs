//! One Application's comparison from outside the controller (the API server, `fjord app
//! diff`): the same pull, render, plan and compare as a reconcile, with nothing written and no
//! watch started. Every call reads the live objects afresh; the caller caches. The drift
//! forensics of a comparison are in [`super::drift`].

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use fjord_client::{Client, ClientOptions};
use fjord_source::RepoCache;
use fjord_sync::{Engine, SyncRequest};
use serde_json::Value;

use super::destination::{destination, load_project};
use super::{settings, source, ControllerError, ControllerOptions, Shared};
use crate::api::Application;
use crate::metrics::ControllerMetrics;
use crate::queue::{BackoffConfig, WorkQueue};

/// Settings (argocd-cm, repository credentials, clusters) are re-read when older than this.
const SETTINGS_MAX_AGE: Duration = Duration::from_secs(30);
/// A repository mirror is fetched again when its last fetch is older than this.
const FETCH_MAX_AGE: Duration = Duration::from_secs(60);

/// Compares Applications the way the controller does, on demand.
pub struct Inspector {
    shared: Arc<Shared>,
    loaded: Mutex<Instant>,
}

/// The result of [`Inspector::inspect`].
#[derive(Debug)]
pub struct Inspection {
    /// The commit rendered.
    pub revision: String,
    /// `Kustomize` or `Directory`.
    pub source_type: &'static str,
    /// The rendered objects, in render order (Secrets unmasked: mask before showing them).
    pub objects: Vec<Value>,
    /// The destination server URL.
    pub server: String,
    /// The destination namespace.
    pub namespace: Option<String>,
    /// Every compared object: the plan's task (with the raw live object) and its masked diff.
    pub compared: Vec<fjord_sync::Compared>,
}

impl Inspector {
    /// An inspector reading Applications of `namespace` through `client`, keeping repository
    /// mirrors under `cache_dir` (its own: not a running controller's).
    pub async fn new(
        client: Client,
        namespace: &str,
        cache_dir: PathBuf,
    ) -> Result<Inspector, ControllerError> {
        let app_type = client
            .resolve("argoproj.io/v1alpha1", "Application")
            .await
            .map_err(|source| ControllerError::Client {
                step: "discovering Application",
                source,
            })?;
        let loaded = settings::load(&client, namespace).await?;
        let repos = RepoCache::new(&cache_dir)?;
        let mut opts = ControllerOptions::new(ClientOptions::default(), cache_dir);
        opts.namespace = namespace.to_string();
        opts.metrics_addr = None;
        opts.webhook_addr = None;
        let shared = Shared {
            client,
            opts,
            repos,
            fetches: source::FetchLog::default(),
            queue: WorkQueue::new("inspect", BackoffConfig::default(), None),
            metrics: ControllerMetrics::new(),
            settings: RwLock::new(Arc::new(loaded)),
            apps: Mutex::default(),
            caches: Mutex::default(),
            clusters: Mutex::default(),
            ready: AtomicBool::new(true),
            app_type,
        };
        apply_settings(&shared);
        Ok(Inspector {
            shared: Arc::new(shared),
            loaded: Mutex::new(Instant::now()),
        })
    }

    /// Re-reads the settings when they are older than [`SETTINGS_MAX_AGE`].
    async fn refresh_settings(&self) -> Result<(), ControllerError> {
        let stale = self
            .loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .elapsed()
            > SETTINGS_MAX_AGE;
        if stale {
            let s = &self.shared;
            let fresh = settings::load(&s.client, &s.opts.namespace).await?;
            *s.settings.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(fresh);
            apply_settings(s);
            *self.loaded.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        }
        Ok(())
    }

    /// Renders `app`'s source at the revision its status was compared at (else its target
    /// revision) and compares every object with the live state, as a reconcile does.
    pub async fn inspect(&self, app: &Application) -> Result<Inspection, ControllerError> {
        self.refresh_settings().await?;
        let shared = &self.shared;
        let spec = app.spec();
        let mut src = spec
            .source
            .clone()
            .ok_or_else(|| ControllerError::NoSyncSource {
                name: app.name().into(),
            })?;
        let compared_at = app
            .status
            .as_ref()
            .and_then(|s| s.sync.as_ref())
            .and_then(|s| s.revision.clone())
            .filter(|r| r.len() == 40 && r.bytes().all(|b| b.is_ascii_hexdigit()));
        if let Some(rev) = compared_at {
            src.target_revision = Some(rev);
        }
        let mut dest = destination(shared, app).await?;
        let project = load_project(shared, spec.project_name()).await?;
        if project.is_none() {
            return Err(ControllerError::SourceNotPermitted {
                app: app.name().into(),
                reason: format!("project {} does not exist", spec.project_name()),
            });
        }
        dest.project = project.map(Arc::new);
        let options = spec
            .sync_policy
            .as_ref()
            .and_then(|p| p.sync_options.clone())
            .unwrap_or_default();
        let options = super::sync_options::sync_options(&options)?;
        let rendered = self.render(app, &src).await?;
        let engine = Engine::new(dest.client.clone(), shared.settings().health.clone());
        let mut req = SyncRequest::new(app.name(), rendered.objects.clone());
        req.destination_namespace = dest.namespace.clone();
        req.options = options;
        req.prune = true;
        req.allow_empty = true;
        req.dry_run_hooks = false;
        dest.bound(&mut req);
        let plan = engine.plan(&req).await?;
        let copts = super::reconcile::compare_options(app)?;
        let compared = fjord_sync::compare_plan(&plan, &copts)?;
        Ok(Inspection {
            revision: rendered.revision,
            source_type: rendered.source_type,
            objects: rendered.objects,
            server: dest.server,
            namespace: dest.namespace,
            compared,
        })
    }

    /// Fetches when due and renders (blocking work off the async threads).
    async fn render(
        &self,
        app: &Application,
        src: &crate::api::ApplicationSource,
    ) -> Result<source::Rendered, ControllerError> {
        let s = self.shared.clone();
        let src = src.clone();
        let limits = s.settings().limits.render;
        let instance = super::overrides::instance_name(app, &s.opts.namespace);
        let policy = source::FetchPolicy {
            wanted_after: None,
            max_age: FETCH_MAX_AGE,
        };
        tokio::task::spawn_blocking(move || {
            let (repo, oid) = source::resolve(&s.repos, &s.fetches, &src, policy)?;
            source::render(&repo, oid, &src, &instance, &limits)
        })
        .await
        .map_err(ControllerError::Task)?
    }
}

/// Hands the loaded credentials, known hosts and export limits to the repository cache.
fn apply_settings(shared: &Shared) {
    let loaded = shared.settings();
    shared.repos.set_credentials(loaded.credentials.clone());
    shared.repos.set_known_hosts(loaded.known_hosts.clone());
    shared.repos.set_export_limits(loaded.limits.export);
}
