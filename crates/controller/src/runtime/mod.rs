//! The running application controller: it watches Applications, pulls their Git sources,
//! renders, compares with the destination, writes `status`, and syncs — automatically
//! (`syncPolicy.automated`, self-heal) or on request (the `operation` field).
//!
//! - [`settings`]: argocd-cm, argocd-secret, repository and cluster Secrets.
//! - [`source`]: repository mirror → revision → rendered objects.
//! - [`destination`]: where an app deploys (cluster, counted client) and its project.
//! - [`error`]: [`ControllerError`], every failure naming its step and keeping its cause.
//! - [`sync_options`]: an app's `syncOptions` as the sync engine takes them.
//! - [`reconcile`]: one app's comparison, status and auto-sync decision.
//! - [`inspect`]: one app's comparison on demand, from outside the controller.
//! - [`drift`]: drift forensics over a comparison (the server, `fjord app diff`, the Event).
//! - [`operate`]: running a sync operation, history, rollback, cascade deletion.
//! - [`watches`]: the Application watch and the live-object watches behind self-heal.
//! - [`http`]: `/metrics`, `/healthz`, `/readyz` and `POST /api/webhook`.

pub mod cache;
pub mod destination;
pub mod drift;
pub mod error;
pub mod events;
pub mod http;
pub mod inspect;
pub mod lease;
pub mod lease_standby;
pub mod operate;
pub mod overrides;
pub mod reconcile;
pub mod settings;
pub mod source;
pub mod sync_options;
pub mod watches;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use fjord_client::{Client, ClientOptions, ResourceType, StartupRetry};
use fjord_source::RepoCache;
use serde_json::Value;

use crate::metrics::ControllerMetrics;
use crate::queue::{BackoffConfig, WorkQueue};
use crate::selfheal::SelfHealBackoff;

pub use error::ControllerError;
pub use settings::Settings;

/// The finalizer that makes deleting an Application delete what it deployed.
pub const RESOURCES_FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";
/// The field manager of the controller's own writes (status, events, finalizers).
pub const CONTROLLER_MANAGER: &str = "fjord-application-controller";
/// The in-cluster destination server.
pub const IN_CLUSTER: &str = "https://kubernetes.default.svc";

/// Logs one start-up retry (step, attempt, wait and the API's message; never a secret).
fn log_startup_retry(n: &fjord_client::RetryNotice<'_, ControllerError>) {
    events::log(
        "warn",
        "",
        &format!(
            "{}: transient API error (attempt {}), retrying in {} ms: {}",
            n.step,
            n.attempt,
            n.wait.as_millis(),
            n.error.message()
        ),
    );
}

/// How to run the controller.
#[derive(Debug, Clone)]
pub struct ControllerOptions {
    /// The control-plane cluster (Applications live there; `https://kubernetes.default.svc`).
    pub client: ClientOptions,
    /// The namespace holding Applications, AppProjects and settings (`argocd`).
    pub namespace: String,
    /// Manage only `namespace` (namespace install, Roles only): no CRD or Namespace reads or
    /// creation at start, live-object watches in `namespace` only, and an app's objects in
    /// another namespace or cluster-scoped are refused before any write.
    pub namespaced: bool,
    /// Number of reconcile workers.
    pub workers: usize,
    /// Where repository mirrors and exported trees are kept.
    pub cache_dir: PathBuf,
    /// Bound of the repository cache in bytes: least-recently-used mirrors are evicted beyond
    /// it (default 10 GiB); mirrors no app uses are evicted regardless.
    pub cache_max_size: u64,
    /// `/metrics`, `/healthz`, `/readyz`.
    pub metrics_addr: Option<SocketAddr>,
    /// `POST /api/webhook`.
    pub webhook_addr: Option<SocketAddr>,
    /// Polling interval override (default: argocd-cm `timeout.reconciliation`, else 3 minutes).
    pub resync: Option<Duration>,
    /// Self-heal backoff.
    pub self_heal_backoff: SelfHealBackoff,
    /// Time limit of one sync operation.
    pub sync_timeout: Duration,
    /// How transient API errors at start-up (CRDs, default project, settings) are retried.
    pub startup_retry: StartupRetry,
    /// Timeouts and limits of the webhook and metrics servers.
    pub http_limits: http::ServerLimits,
    /// Families of components running beside the controller, served on its `/metrics`.
    pub extra_metrics: Vec<crate::metrics::ExtraMetrics>,
    /// Sharding: only the apps this replica owns are queued and reconciled (`None`: all).
    pub ownership: Option<Arc<crate::shard::Ownership>>,
}

impl ControllerOptions {
    /// Defaults: namespace `argocd`, 4 workers, metrics on 127.0.0.1:8082, webhook on :8083.
    pub fn new(client: ClientOptions, cache_dir: PathBuf) -> ControllerOptions {
        ControllerOptions {
            client,
            namespace: "argocd".into(),
            namespaced: false,
            workers: 4,
            cache_dir,
            cache_max_size: 10 << 30,
            metrics_addr: Some(SocketAddr::from(([127, 0, 0, 1], 8082))),
            webhook_addr: Some(SocketAddr::from(([127, 0, 0, 1], 8083))),
            resync: None,
            self_heal_backoff: SelfHealBackoff::default(),
            sync_timeout: Duration::from_secs(300),
            startup_retry: StartupRetry::default(),
            http_limits: http::ServerLimits::default(),
            extra_metrics: Vec::new(),
            ownership: None,
        }
    }
}

/// What the controller remembers about one Application between reconciles.
#[derive(Debug, Default, Clone)]
pub struct AppMemo {
    /// Fingerprint of everything but `status` (watch events that only change status are ours).
    pub fingerprint: u64,
    /// A fetch was asked for at this instant (webhook, spec change, failed comparison).
    pub refresh: Option<Instant>,
    /// Self-heal attempts since the last sync that was not a self-heal.
    pub heal_attempts: u32,
    /// What a push webhook is matched against, from the last Application seen.
    pub webhook: Option<WebhookKey>,
}

/// The fields of an Application a push webhook is matched against.
#[derive(Debug, Default, Clone)]
pub struct WebhookKey {
    /// `spec.source.repoURL`.
    pub repo_url: String,
    /// `spec.source.targetRevision` (`HEAD` when empty).
    pub target_revision: String,
    /// `spec.source.path`.
    pub path: String,
    /// The `argocd.argoproj.io/manifest-generate-paths` annotation.
    pub generate_paths: Option<String>,
}

/// State shared by the workers, the watches and the HTTP handlers.
pub struct Shared {
    /// The control-plane client.
    pub client: Client,
    /// Options.
    pub opts: ControllerOptions,
    /// Repository mirrors.
    pub repos: RepoCache,
    /// When each mirror was last fetched.
    pub fetches: source::FetchLog,
    /// The work queue of Application names.
    pub queue: WorkQueue<String>,
    /// Prometheus metrics.
    pub metrics: ControllerMetrics,
    /// Settings, replaced on reload.
    pub settings: RwLock<Arc<Settings>>,
    /// Per-app memory.
    pub apps: Mutex<HashMap<String, AppMemo>>,
    /// The live-state cache of each destination, by server URL.
    pub caches: Mutex<HashMap<String, Arc<cache::ClusterCache>>>,
    /// Clients of registered destination clusters, by server URL.
    pub clusters: Mutex<HashMap<String, Client>>,
    /// Set once the first list of Applications was queued.
    pub ready: AtomicBool,
    /// The Application type.
    pub app_type: ResourceType,
}

impl Shared {
    /// Runs `f` on the memo of `app`.
    pub fn memo<R>(&self, app: &str, f: impl FnOnce(&mut AppMemo) -> R) -> R {
        let mut apps = self.apps.lock().unwrap_or_else(|e| e.into_inner());
        f(apps.entry(app.to_string()).or_default())
    }

    /// The current settings (shared, not copied: reconciles read them often).
    pub fn settings(&self) -> Arc<Settings> {
        Arc::clone(&self.settings.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// The polling interval.
    pub fn resync(&self) -> Duration {
        self.opts
            .resync
            .unwrap_or_else(|| self.settings().poll.interval)
    }

    /// When `app` is polled next: the interval plus its jitter (argocd-cm
    /// `timeout.reconciliation.jitter`, default 60 s; none when `--resync` fixes the interval),
    /// different per app and per round, so a thousand apps do not poll in one burst.
    pub fn next_poll(&self, app: &str) -> Duration {
        let mut poll = self.settings().poll;
        if let Some(r) = self.opts.resync {
            poll.interval = r;
            poll.max_jitter = Duration::ZERO;
        }
        if !poll.enabled() {
            // `timeout.reconciliation: 0` turns polling off (webhooks and watches still work).
            return Duration::from_secs(365 * 24 * 3600);
        }
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let round = secs / poll.interval.as_secs().max(1);
        poll.next_delay(app, round)
    }

    /// The live-state cache of a destination, started on first use.
    pub async fn cache_for(
        self: &Arc<Self>,
        server: &str,
        client: &Client,
    ) -> Arc<cache::ClusterCache> {
        let cache = self
            .caches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(server.to_string())
            .or_insert_with(|| {
                // A namespace install watches only its own namespace of its own cluster.
                let scope = (self.opts.namespaced && server == IN_CLUSTER)
                    .then(|| self.opts.namespace.clone());
                cache::ClusterCache::scoped(client.clone(), scope)
            })
            .clone();
        cache.start(self).await;
        cache
    }

    /// Writes a JSON merge patch to an Application (or, with `status`, to its status
    /// subresource) as the controller's field manager; returns the updated object.
    pub async fn patch_app(
        &self,
        app: &crate::api::Application,
        patch: &Value,
        status: bool,
        step: &'static str,
    ) -> Result<crate::api::Application, ControllerError> {
        let out = self
            .client
            .merge_patch(
                &self.app_type,
                Some(app.namespace()),
                app.name(),
                patch,
                status,
                CONTROLLER_MANAGER,
            )
            .await
            .map_err(|source| ControllerError::Client { step, source })?;
        let fp = watches::fingerprint(&out);
        if !status {
            // The watch event of this write is the controller's own: it must not queue the
            // app again.
            self.memo(app.name(), |m| m.fingerprint = fp);
        }
        serde_json::from_value(out).map_err(|source| ControllerError::DecodeApp {
            name: app.name().into(),
            source,
        })
    }

    /// Whether the controller has queued its first list of Applications.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
}

/// The cluster-scoped part of the start (not in a namespace install): the Application and
/// AppProject CRDs when missing (waited for until Established), and the namespace.
async fn install_cluster_scoped(client: &Client, namespace: &str) -> Result<(), ControllerError> {
    let step = |step| move |source| ControllerError::Client { step, source };
    let crd_type = client
        .resolve("apiextensions.k8s.io/v1", "CustomResourceDefinition")
        .await
        .map_err(step("discovering CustomResourceDefinitions"))?;
    for crd in crate::crds::crds() {
        let name = crd
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if client
            .get(&crd_type, None, &name)
            .await
            .map_err(step("reading CRDs"))?
            .is_none()
        {
            client
                .create(&crd_type, &crd, false, CONTROLLER_MANAGER)
                .await
                .map(drop)
                .or_else(exists_ok)
                .map_err(step("installing CRDs"))?;
        }
        client
            .wait_established(&name, Duration::from_secs(30))
            .await
            .map_err(step("waiting for CRDs"))?;
    }
    let ns_type = settings::core_type(client, "Namespace").await?;
    if client
        .get(&ns_type, None, namespace)
        .await
        .map_err(step("reading the namespace"))?
        .is_none()
    {
        let ns = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}});
        client
            .create(&ns_type, &ns, false, CONTROLLER_MANAGER)
            .await
            .map(drop)
            .or_else(exists_ok)
            .map_err(step("creating the namespace"))?;
    }
    Ok(())
}

/// A create that lost a race with another replica (409 AlreadyExists) got what it wanted.
fn exists_ok(e: fjord_client::ClientError) -> Result<(), fjord_client::ClientError> {
    if e.is_conflict() {
        Ok(())
    } else {
        Err(e)
    }
}

/// Installs the Application and AppProject CRDs when missing and the namespace (not in a
/// namespace install, which reads nothing cluster-scoped), then the `default` AppProject.
async fn bootstrap(
    client: &Client,
    namespace: &str,
    namespaced: bool,
) -> Result<ResourceType, ControllerError> {
    let step = |step| move |source| ControllerError::Client { step, source };
    if !namespaced {
        install_cluster_scoped(client, namespace).await?;
    }
    let project_type = client
        .resolve("argoproj.io/v1alpha1", "AppProject")
        .await
        .map_err(step("discovering AppProject"))?;
    if client
        .get(&project_type, Some(namespace), "default")
        .await
        .map_err(step("reading AppProject default"))?
        .is_none()
    {
        let project = crate::crds::default_appproject(namespace);
        client
            .create(&project_type, &project, false, CONTROLLER_MANAGER)
            .await
            .map(drop)
            .or_else(exists_ok)
            .map_err(step("creating AppProject default"))?;
    }
    client
        .resolve("argoproj.io/v1alpha1", "Application")
        .await
        .map_err(step("discovering Application"))
}

/// A started controller.
pub struct ControllerHandle {
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// The bound metrics address.
    pub metrics_addr: Option<SocketAddr>,
    /// The bound webhook address.
    pub webhook_addr: Option<SocketAddr>,
}

impl ControllerHandle {
    /// Stops the workers, watches and servers.
    pub async fn shutdown(self) {
        self.shared.queue.shutdown();
        for t in &self.tasks {
            t.abort();
        }
        for t in self.tasks {
            let _ = t.await;
        }
    }

    /// The shared state (for tests and `fjord up`).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}

/// How often the settings objects are re-read when nothing signals a change.
const SETTINGS_RELOAD: Duration = Duration::from_secs(30);
/// Delay that coalesces a burst of ConfigMap/Secret changes into one reload.
const SETTINGS_DEBOUNCE: Duration = Duration::from_millis(100);

/// Connects, bootstraps CRDs and the default project, starts the HTTP endpoints, the watches
/// and the workers.
pub async fn start(opts: ControllerOptions) -> Result<ControllerHandle, ControllerError> {
    let client = Client::connect(&opts.client)
        .await
        .map_err(|source| ControllerError::Client {
            step: "connecting",
            source,
        })?;
    // The API server may be starting, throttling or failing over: transient errors of the
    // start-up steps are retried with backoff; permanent ones fail at once.
    let retry = opts.startup_retry;
    let app_type = retry
        .run(
            "installing CRDs and the default AppProject",
            ControllerError::is_transient,
            log_startup_retry,
            || bootstrap(&client, &opts.namespace, opts.namespaced),
        )
        .await?;
    let loaded = retry
        .run(
            "loading settings",
            ControllerError::is_transient,
            log_startup_retry,
            || settings::load(&client, &opts.namespace),
        )
        .await?;
    let repos = RepoCache::new(&opts.cache_dir)?;
    repos.set_credentials(loaded.credentials.clone());
    repos.set_known_hosts(loaded.known_hosts.clone());
    repos.set_export_limits(loaded.limits.export);
    let metrics = ControllerMetrics::new();
    let queue = WorkQueue::new(
        "app_reconciliation_queue",
        BackoffConfig::default(),
        Some(metrics.workqueue.clone()),
    );
    let shared = Arc::new(Shared {
        client,
        opts: opts.clone(),
        repos,
        fetches: source::FetchLog::default(),
        queue,
        metrics,
        settings: RwLock::new(Arc::new(loaded)),
        apps: Mutex::default(),
        caches: Mutex::default(),
        clusters: Mutex::default(),
        ready: AtomicBool::new(false),
        app_type,
    });
    let mut tasks = Vec::new();
    let metrics_addr = match opts.metrics_addr {
        Some(addr) => {
            let (bound, task) =
                http::serve(addr, http::metrics_router(shared.clone()), opts.http_limits).await?;
            tasks.push(task);
            Some(bound)
        }
        None => None,
    };
    let webhook_addr = match opts.webhook_addr {
        Some(addr) => {
            let (bound, task) =
                http::serve(addr, http::webhook_router(shared.clone()), opts.http_limits).await?;
            tasks.push(task);
            Some(bound)
        }
        None => None,
    };
    // The controller's own cluster is watched from the start: the first apps compare with a
    // filled cache instead of each listing the cluster.
    let s = shared.clone();
    tasks.push(tokio::spawn(async move {
        let client = s.client.clone();
        s.cache_for(IN_CLUSTER, &client).await;
    }));
    tasks.push(tokio::spawn(watches::follow_apps(shared.clone())));
    if let Some(owner) = opts.ownership.clone() {
        // Apps of newly owned partitions are queued at once.
        let s = shared.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                for name in owner.next_gained().await {
                    s.queue.add(name);
                }
            }
        }));
    }
    tasks.push(tokio::spawn(reload_settings(shared.clone())));
    tasks.push(tokio::spawn(source::evict_repos(shared.clone())));
    let s = shared.clone();
    tasks.extend(shared.queue.run(opts.workers, move |name: String| {
        let s = s.clone();
        async move { reconcile::reconcile(&s, &name).await }
    }));
    Ok(ControllerHandle {
        shared,
        tasks,
        metrics_addr,
        webhook_addr,
    })
}

/// Waits for the next event of a settings watch (forever when there is none).
async fn settings_event(rx: &mut Option<tokio::sync::mpsc::Receiver<fjord_client::WatchItem>>) {
    match rx {
        Some(r) => {
            if r.recv().await.is_none() {
                *rx = None;
            }
        }
        None => std::future::pending().await,
    }
}

/// Re-reads the settings whenever a ConfigMap or Secret of the namespace changes (as Argo CD's
/// informers do: a new repository Secret or webhook secret takes effect at once), and every
/// [`SETTINGS_RELOAD`] in any case.
async fn reload_settings(shared: Arc<Shared>) {
    let watch = |kind: &'static str| {
        let shared = shared.clone();
        async move {
            let t = settings::core_type(&shared.client, kind).await.ok()?;
            Some(shared.client.watch(&t, Some(&shared.opts.namespace)))
        }
    };
    let mut secrets = watch("Secret").await;
    let mut config_maps = watch("ConfigMap").await;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(SETTINGS_RELOAD) => {}
            _ = settings_event(&mut secrets) => {}
            _ = settings_event(&mut config_maps) => {}
        }
        tokio::time::sleep(SETTINGS_DEBOUNCE).await;
        for rx in [&mut secrets, &mut config_maps].into_iter().flatten() {
            while rx.try_recv().is_ok() {}
        }
        let previous = shared.settings().limits;
        match settings::load_after(&shared.client, &shared.opts.namespace, &previous).await {
            Ok(s) => {
                shared.repos.set_credentials(s.credentials.clone());
                shared.repos.set_known_hosts(s.known_hosts.clone());
                shared.repos.set_export_limits(s.limits.export);
                let changed = {
                    let mut cur = shared.settings.write().unwrap_or_else(|e| e.into_inner());
                    let changed = cur.version != s.version;
                    *cur = Arc::new(s);
                    changed
                };
                // New credentials, host keys or clusters: every app compares again at once
                // (one that failed for want of them recovers without waiting for the poll).
                if changed {
                    let names: Vec<String> = shared
                        .apps
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .keys()
                        .cloned()
                        .collect();
                    for name in names {
                        shared.queue.add(name);
                    }
                }
            }
            Err(e) => events::log("warn", "settings", &e.message()),
        }
    }
}
