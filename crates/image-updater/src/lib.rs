//! The running image updater: Argo CD Image Updater's annotation API
//! (`argocd-image-updater.argoproj.io/*` on Applications) served beside the Application
//! controller in `fjord controller --image-updater=true`.
//!
//! Every [`ImageUpdaterOptions::interval`] (and once at start) a cycle:
//!
//! 1. reads ConfigMap `argocd-image-updater-config` (`registries.conf`, `git.user`,
//!    `git.email`, `git.commit-message-template`, `git.commit-sign-off`; other keys are logged
//!    as unsupported) and the controller's repository credential Secrets;
//! 2. lists the Applications of the controller's namespace that carry
//!    `argocd-image-updater.argoproj.io/image-list` and parses their annotations
//!    ([`fjord_image::updater::parse_annotations`]);
//! 3. for every image: finds its current tag (the Application spec for write-back `argocd`, the
//!    write-back target file at the branch head for `git`, else `status.summary.images`), lists
//!    the registry's tags (one request per repository and interval, however many apps watch
//!    it), filters them, fetches metadata only for the strategies that need it, and picks;
//! 4. writes back: `argocd` merge-patches `spec.source.kustomize.images`; `git` makes ONE
//!    commit per (repository, branch) for every app of the cycle and pushes it (a rejected
//!    push is re-done on the new tip, never forced);
//! 5. records the result on each app: Event `ImagesUpdated`, the
//!    [`WRITTEN_ANNOTATION`](fjord_image::updater::WRITTEN_ANNOTATION), a refresh request,
//!    and the `ImageUpdateError` condition (set or cleared).
//!
//! fjord's improvements over the upstream updater:
//! - rollbacks are respected: when the tag in Git (or the spec) is older than the one the
//!   updater wrote, a human reverted it; the app gets
//!   [`REVERTED_ANNOTATION`](fjord_image::updater::REVERTED_ANNOTATION) `alias=<written tag>`
//!   and is not bumped until a newer tag than that appears or the annotation is removed. An app
//!   whose last operation synced a revision other than its branch head (`fjord app rollback`)
//!   is treated alike;
//! - one commit per repository and branch per cycle (not one per app);
//! - ties between semver-equal tags are broken deterministically (in `fjord-image`).
//!
//! Credentials never appear in logs, events, conditions or errors.

mod api;
mod check;
mod config;
mod creds;
mod current;
mod cycle;
mod error;
mod gitread;
mod gitwrite;
mod metrics;
mod plan;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use fjord_client::{ClientOptions, StartupRetry};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

pub use error::UpdaterError;
pub use metrics::{MetricsSnapshot, UpdaterMetrics};

/// Field manager and event source component of everything the updater writes.
pub const COMPONENT: &str = "argocd-image-updater";
/// The ConfigMap holding `registries.conf` and the Git settings.
pub const CONFIG_MAP: &str = "argocd-image-updater-config";
/// The condition type the updater sets on an Application (and clears when the app is fine).
pub const CONDITION_TYPE: &str = "ImageUpdateError";

/// How the updater runs.
#[derive(Clone, Debug)]
pub struct ImageUpdaterOptions {
    /// The control-plane cluster.
    pub client: ClientOptions,
    /// Namespace of the Applications, the ConfigMap and the repository Secrets (the
    /// controller's).
    pub namespace: String,
    /// Time between the end of one cycle and the start of the next (Image Updater's
    /// `--interval`, default 2m).
    pub interval: Duration,
    /// Where the updater's own repository mirrors live (a directory of its own: the
    /// controller's mirrors are never written by the updater).
    pub cache_dir: PathBuf,
    /// How transient API errors are retried while starting.
    pub startup_retry: StartupRetry,
    /// Longest an `ext:` credential script may run.
    pub ext_timeout: Duration,
    /// The counters the updater keeps (shared with whoever serves them on `/metrics`).
    pub metrics: Arc<UpdaterMetrics>,
}

impl ImageUpdaterOptions {
    /// Defaults: namespace `argocd`, interval 2 minutes, `ext:` scripts limited to 10 s.
    pub fn new(client: ClientOptions, cache_dir: PathBuf) -> ImageUpdaterOptions {
        ImageUpdaterOptions {
            client,
            namespace: "argocd".into(),
            interval: Duration::from_secs(120),
            cache_dir,
            startup_retry: StartupRetry::default(),
            ext_timeout: Duration::from_secs(10),
            metrics: Arc::new(UpdaterMetrics::default()),
        }
    }
}

/// State of the running updater.
pub(crate) struct Shared {
    pub(crate) opts: ImageUpdaterOptions,
    pub(crate) api: api::Api,
    pub(crate) registry: fjord_registry::RegistryClient,
    pub(crate) repos: fjord_source::RepoCache,
    pub(crate) metrics: Arc<UpdaterMetrics>,
    pub(crate) wake: Notify,
    /// The unknown ConfigMap keys last warned about (warned again only when they change).
    pub(crate) warned_keys: std::sync::Mutex<Vec<String>>,
}

/// A running updater (from [`start`]).
pub struct ImageUpdaterHandle {
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for ImageUpdaterHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageUpdaterHandle")
            .field("interval", &self.shared.opts.interval)
            .field("metrics", &self.shared.metrics.snapshot())
            .finish_non_exhaustive()
    }
}

impl ImageUpdaterHandle {
    /// The updater's counters (registry requests, images checked, updates, errors), to be
    /// exposed on `/metrics`.
    pub fn metrics(&self) -> Arc<UpdaterMetrics> {
        Arc::clone(&self.shared.metrics)
    }

    /// Starts a cycle now instead of at the end of the interval.
    pub fn run_now(&self) {
        self.shared.wake.notify_one();
    }

    /// Stops the loop (after the cycle in progress) and waits for it.
    pub async fn shutdown(mut self) -> Result<(), UpdaterError> {
        let _ = self.shutdown.send(true);
        match self.task.take() {
            Some(t) => t.await.map_err(|_| UpdaterError::Task),
            None => Ok(()),
        }
    }
}

/// Connects, creates the repository cache and spawns the loop on the current runtime; the
/// first cycle starts at once.
pub async fn start(opts: ImageUpdaterOptions) -> Result<ImageUpdaterHandle, UpdaterError> {
    let retry = opts.startup_retry;
    let api = retry
        .run(
            "connecting the image updater",
            UpdaterError::is_transient,
            |n| {
                api::log(
                    "warn",
                    "",
                    &format!(
                        "{}: transient API error (attempt {}), retrying: {}",
                        n.step,
                        n.attempt,
                        fjord_model::chain(n.error)
                    ),
                )
            },
            || api::Api::connect(&opts),
        )
        .await?;
    let repos = fjord_source::RepoCache::new(&opts.cache_dir).map_err(|source| {
        UpdaterError::RepoCache {
            path: opts.cache_dir.clone(),
            source,
        }
    })?;
    // Tag lists live a little less than one interval: every cycle lists each repository once.
    let ttl = opts.interval.mul_f64(0.8).max(Duration::from_millis(500));
    let metrics = Arc::clone(&opts.metrics);
    let shared = Arc::new(Shared {
        registry: fjord_registry::RegistryClient::new(ttl),
        opts,
        api,
        repos,
        metrics,
        wake: Notify::new(),
        warned_keys: std::sync::Mutex::new(Vec::new()),
    });
    let (shutdown, rx) = watch::channel(false);
    let task = tokio::spawn(run_loop(shared.clone(), rx));
    api::log(
        "info",
        "",
        &format!(
            "image updater started (namespace {}, interval {:?})",
            shared.opts.namespace, shared.opts.interval
        ),
    );
    Ok(ImageUpdaterHandle {
        shared,
        shutdown,
        task: Some(task),
    })
}

/// Runs cycles until `shutdown` flips: one at once, then one an interval after each ends.
async fn run_loop(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        cycle::run(&shared).await;
        tokio::select! {
            _ = shutdown.changed() => return,
            () = tokio::time::sleep(shared.opts.interval) => {}
            () = shared.wake.notified() => {}
        }
    }
}
