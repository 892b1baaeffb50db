//! The running External Secrets controller: ESO's `external-secrets.io` API (ExternalSecret,
//! ClusterExternalSecret, SecretStore, ClusterSecretStore; v1 and v1beta1) reconciled against
//! HashiCorp Vault or OpenBao, writing Secrets, statuses and events as the External Secrets
//! Operator does.
//!
//! - [`start`] connects, installs the four CRDs when their kinds are not served ([`CRDS_YAML`];
//!   an existing CRD is never replaced) and spawns the loop; it returns an
//!   [`EsoControllerHandle`].
//! - [`run`] does the same and returns when `shutdown` completes.
//!
//! A pass validates every store (status `Ready`, reason `Valid` or `InvalidProviderConfig`),
//! syncs every ExternalSecret into its Secret, and fans every ClusterExternalSecret out into
//! child ExternalSecrets. One starts every [`EsoControllerOptions::resync`] and on every change
//! to the four kinds, to namespaces, and to Secrets labelled
//! `reconcile.external-secrets.io/managed`.
//!
//! Vault traffic is shared: one client per (server, namespace, CA), one token per (store,
//! tenant namespace) renewed before expiry, and reads cached for one resync period, so N
//! ExternalSecrets reading one path cost one request per interval.
//!
//! Modules:
//! - `api`: the API calls (fjord-client, TokenRequest, events) and the CRDs;
//! - `stores`, `credentials`: stores resolved into logged-in Vault sessions;
//! - `store_status`: the stores' status;
//! - `cluster`: ClusterExternalSecret fan-out;
//! - `reconcile`, `fetch`, `write`: the ExternalSecret sync.
//!
//! Secret values never appear in errors, logs, events, statuses or `Debug` output.
//!
//! ```
//! use fjord_eso_controller::{EsoControllerOptions, COMPONENT, CRDS_YAML};
//!
//! // The CRDs the controller installs (and the install manifests ship): four documents.
//! assert_eq!(CRDS_YAML.matches("kind: CustomResourceDefinition").count(), 4);
//! assert!(CRDS_YAML.contains("name: externalsecrets.external-secrets.io"));
//! assert_eq!(COMPONENT, "external-secrets");
//! let opts = EsoControllerOptions::default();
//! assert_eq!(opts.resync.as_secs(), 30);
//! assert!(opts.install_crds);
//! ```

mod api;
mod cluster;
mod credentials;
mod fetch;
mod reconcile;
mod store_status;
mod stores;
mod write;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use fjord_client::{is_transient_error, ClientError, ClientOptions, RetryNotice, StartupRetry};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

pub use api::CRDS_YAML;

/// Field manager and event source component of everything the controller writes.
pub const COMPONENT: &str = "external-secrets";

/// Label of the Secrets the controller manages (their changes wake a pass).
const LABEL_MANAGED: &str = fjord_eso::target::LABEL_MANAGED;

/// How the controller runs. [`Default`] gives ESO's defaults where they apply.
#[derive(Clone, Debug)]
pub struct EsoControllerOptions {
    /// Kubeconfig, context and default namespace of the cluster to serve.
    pub client: ClientOptions,
    /// How often every object is looked at again (and how long Vault reads are cached).
    pub resync: Duration,
    /// Install the external-secrets.io CRDs when the cluster does not serve the kinds.
    pub install_crds: bool,
    /// How transient API errors are retried while starting.
    pub startup_retry: StartupRetry,
    /// The controller's own namespace. The Kubernetes auth fallback (a store naming neither a
    /// service account nor a Secret) uses the service account token mounted into the
    /// controller's pod at the standard path, which belongs to this namespace.
    pub controller_namespace: String,
}

impl Default for EsoControllerOptions {
    fn default() -> Self {
        EsoControllerOptions {
            client: ClientOptions::default(),
            resync: Duration::from_secs(30),
            install_crds: true,
            startup_retry: StartupRetry::default(),
            controller_namespace: "fjord-system".into(),
        }
    }
}

/// Failures of the controller, one variant per step. None carries a secret value.
#[derive(Debug, thiserror::Error)]
pub enum EsoControllerError {
    /// Connecting to the cluster failed.
    #[error("connecting to the cluster")]
    Connect(#[source] ClientError),
    /// A kind could not be resolved through discovery.
    #[error("resolving {kind}")]
    Resolve {
        /// `apiVersion kind` looked up.
        kind: String,
        /// The cause.
        #[source]
        source: ClientError,
    },
    /// An external-secrets.io kind is not served and its CRD could not be installed.
    #[error("installing CustomResourceDefinition {crd}: {reason}")]
    InstallCrd {
        /// The CRD name.
        crd: String,
        /// What failed.
        reason: String,
        /// Whether the API's answer was transient (429, 5xx, timeout, connection failure).
        transient: bool,
    },
    /// A background task panicked or was cancelled.
    #[error("controller task {0} ended unexpectedly")]
    Task(&'static str),
}

impl EsoControllerError {
    /// Whether retrying may succeed: a transient API error (429, 5xx, timeouts, refused
    /// connections, a CRD not Established yet).
    pub fn is_transient(&self) -> bool {
        match self {
            EsoControllerError::Connect(source) | EsoControllerError::Resolve { source, .. } => {
                is_transient_error(source)
            }
            EsoControllerError::InstallCrd { transient, .. } => *transient,
            EsoControllerError::Task(_) => false,
        }
    }
}

/// Logs one start-up retry (the error names the step and object, never a secret value).
fn log_retry(n: &RetryNotice<'_, EsoControllerError>) {
    let error = fjord_model::chain(n.error);
    tracing::warn!(step = n.step, attempt = n.attempt, wait = ?n.wait, error = %error,
        "transient API error; retrying");
}

/// State shared by the loop and the reconcilers.
pub(crate) struct Shared {
    /// The options the controller runs with.
    pub(crate) opts: EsoControllerOptions,
    /// The API server.
    pub(crate) api: api::Api,
    /// Vault clients, tokens and the read cache.
    pub(crate) stores: stores::Stores,
    /// Store validation results.
    pub(crate) store_state: store_status::State,
    /// Failed ExternalSecrets waiting for their retry.
    pub(crate) backoff: reconcile::Backoffs,
    /// Wakes the loop before its resync period.
    pub(crate) wake: Notify,
}

/// A running controller (from [`start`]).
pub struct EsoControllerHandle {
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<(&'static str, JoinHandle<()>)>,
}

impl std::fmt::Debug for EsoControllerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EsoControllerHandle")
            .field("resync", &self.shared.opts.resync)
            .field("vault_requests", &self.vault_requests())
            .finish_non_exhaustive()
    }
}

impl EsoControllerHandle {
    /// Starts a pass now instead of at the next resync.
    pub fn resync_now(&self) {
        self.shared.wake.notify_one();
    }

    /// HTTP requests sent to Vault so far, over every store (benchmarks, tests).
    pub fn vault_requests(&self) -> u64 {
        self.shared.stores.requests()
    }

    /// Stops the loop and the watches and waits for them.
    pub async fn shutdown(mut self) -> Result<(), EsoControllerError> {
        let _ = self.shutdown.send(true);
        let mut result = Ok(());
        for (name, task) in self.tasks.drain(..) {
            if task.await.is_err() && result.is_ok() {
                result = Err(EsoControllerError::Task(name));
            }
        }
        result
    }
}

/// Connects, makes sure the four kinds are served (installing the CRDs when missing), and
/// spawns the reconcile loop and the watches that wake it, on the current runtime.
pub async fn start(opts: EsoControllerOptions) -> Result<EsoControllerHandle, EsoControllerError> {
    let retry = opts.startup_retry;
    let api = retry
        .run(
            "connecting the External Secrets controller",
            EsoControllerError::is_transient,
            log_retry,
            || api::Api::connect(&opts),
        )
        .await?;
    let stores = stores::Stores::new(opts.resync);
    let shared = Arc::new(Shared {
        opts,
        api,
        stores,
        store_state: store_status::State::default(),
        backoff: reconcile::Backoffs::default(),
        wake: Notify::new(),
    });
    let (shutdown, shutdown_rx) = watch::channel(false);
    let mut tasks = vec![(
        "reconcile",
        tokio::spawn(reconcile_loop(shared.clone(), shutdown_rx.clone())),
    )];
    let api = &shared.api;
    let watched = [
        (api.external_secrets.clone(), false),
        (api.secret_stores.clone(), false),
        (api.cluster_secret_stores.clone(), false),
        (api.cluster_external_secrets.clone(), false),
        (api.namespaces.clone(), false),
        (api.secrets.clone(), true),
    ];
    for (t, managed_only) in watched {
        let rx = shared.api.client.watch(&t, None);
        tasks.push((
            "watch",
            tokio::spawn(wake_on_change(
                shared.clone(),
                rx,
                shutdown_rx.clone(),
                managed_only,
            )),
        ));
    }
    tracing::info!(resync = ?shared.opts.resync, "external secrets controller started");
    Ok(EsoControllerHandle {
        shared,
        shutdown,
        tasks,
    })
}

/// Whether a watched object's change should wake the loop.
fn wakes(obj: &serde_json::Value, managed_only: bool) -> bool {
    !managed_only
        || obj
            .pointer("/metadata/labels")
            .and_then(|l| l.get(LABEL_MANAGED))
            .is_some()
}

/// Wakes the loop on every change after the initial list (for Secrets: managed ones only).
async fn wake_on_change(
    shared: Arc<Shared>,
    mut rx: tokio::sync::mpsc::Receiver<fjord_client::WatchItem>,
    mut stop: watch::Receiver<bool>,
    managed_only: bool,
) {
    use fjord_client::WatchItem;
    let mut first = true;
    loop {
        let item = tokio::select! {
            item = rx.recv() => item,
            _ = stop.changed() => return,
        };
        let wake = match item {
            None => return,
            Some(WatchItem::Listed(_)) if first => {
                first = false;
                false
            }
            Some(WatchItem::Listed(_)) => true,
            Some(WatchItem::Applied(o) | WatchItem::Deleted(o)) => wakes(&o, managed_only),
            Some(WatchItem::Refused(message)) => {
                tracing::warn!(message, "watch refused; relying on the resync period");
                false
            }
        };
        if wake {
            shared.wake.notify_one();
        }
    }
}

/// Pause after a wake-up before the pass starts, so that a burst of changes (including the
/// controller's own writes) costs one pass.
const DEBOUNCE: Duration = Duration::from_millis(100);

/// One pass: stores first (their snapshot is what the ExternalSecrets use), then
/// ExternalSecrets, then ClusterExternalSecrets.
async fn pass(shared: &Shared) {
    store_status::reconcile_stores(shared).await;
    reconcile::reconcile_external_secrets(shared).await;
    cluster::reconcile_cluster_external_secrets(shared).await;
}

/// Runs passes every resync (or when woken) until `shutdown` flips.
async fn reconcile_loop(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        pass(&shared).await;
        tokio::select! {
            _ = shutdown.changed() => return,
            () = tokio::time::sleep(shared.opts.resync) => {}
            () = shared.wake.notified() => {
                tokio::select! {
                    _ = shutdown.changed() => return,
                    () = tokio::time::sleep(DEBOUNCE) => {}
                }
            }
        }
    }
}

/// Runs the controller until `shutdown` completes.
pub async fn run(
    opts: EsoControllerOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), EsoControllerError> {
    let handle = start(opts).await?;
    shutdown.await;
    handle.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_managed_secrets_wake_the_loop() {
        let plain = json!({"metadata": {"name": "s", "labels": {"app": "x"}}});
        let managed = json!({"metadata": {"name": "s", "labels": {LABEL_MANAGED: "true"}}});
        assert!(!wakes(&plain, true));
        assert!(wakes(&managed, true));
        assert!(wakes(&plain, false));
        assert!(!wakes(&json!({"metadata": {}}), true));
    }

    #[test]
    fn transient_errors_are_retried_at_start_and_others_are_not() {
        let crd = |transient| EsoControllerError::InstallCrd {
            crd: "x".into(),
            reason: "r".into(),
            transient,
        };
        assert!(crd(true).is_transient());
        assert!(!crd(false).is_transient());
        assert!(!EsoControllerError::Task("t").is_transient());
        assert!(!EsoControllerError::Connect(ClientError::NoKubeconfig).is_transient());
    }
}
