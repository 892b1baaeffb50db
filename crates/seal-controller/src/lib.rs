//! The running Sealed Secrets controller: keys kept as Secrets in the controller namespace,
//! a reconcile loop that unseals every SealedSecret into its Secret (owner reference,
//! `managed`/`patch` annotations, `Synced` status condition, events), and the HTTP API
//! (`/v1/cert.pem`, `/v1/verify`, `/v1/rotate`, `/healthz`) that `kubeseal` and
//! `fjord seal --controller-url` talk to. Behaviour follows the upstream Bitnami controller.
//!
//! - [`start`] connects, installs the SealedSecret CRD when missing, loads or generates the
//!   keys, binds the HTTP listener and spawns the loops; it returns a
//!   [`SealControllerHandle`].
//! - [`run`] does the same and returns when `shutdown` completes (or a loop fails).
//!
//! A pass lists every SealedSecret; one starts on every change to a SealedSecret or a Secret
//! (watches) and every [`SealControllerOptions::resync`] in any case. Differences from
//! upstream, by design: key Secrets are re-read at every pass (upstream's `--watch-for-secrets`), so
//! a key added or relabelled later is picked up without a restart; events are not aggregated
//! (one Event object per occurrence).
//!
//! The sealing, unsealing and key formats are fjord-seal's; this crate adds everything that
//! talks to a cluster or serves HTTP:
//!
//! - `api`: the typed API calls and the SealedSecret CRD ([`CRD_YAML`]);
//! - `keys_loop`: loading the key Secrets, generating and storing new keys, renewal;
//! - `reconcile`, `objects`: the unsealing pass and the Secrets, statuses and events it writes;
//! - `http` and [`handlers`]: the HTTP API and the pure logic of its endpoints.
//!
//! Secret values never appear in errors, logs, events, statuses or `Debug` output.
//!
//! ```
//! use fjord_seal_controller::{RateLimit, CRD_NAME, CRD_YAML};
//!
//! // The CRD the controller installs, and the /v1 endpoints' default rate limit.
//! assert_eq!(CRD_NAME, "sealedsecrets.bitnami.com");
//! assert!(CRD_YAML.contains("kind: CustomResourceDefinition"));
//! assert_eq!(RateLimit::default().burst, 2);
//! ```

mod api;
pub mod handlers;
mod http;
mod keys_loop;
mod objects;
mod reconcile;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use fjord_client::{is_transient_error, ClientError, ClientOptions, RetryNotice, StartupRetry};
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;

use fjord_seal::keys::{newest_key, Key, KeyOrder, DEFAULT_RENEW_PERIOD};
use fjord_seal::keystore::{KeygenOptions, KeystoreError, DEFAULT_KEY_PREFIX};
use fjord_seal::unseal::UnsealError;

pub use api::{CRD_NAME, CRD_YAML};
pub use http::RateLimit;
pub use objects::{
    MANAGED_ANNOTATION, MESSAGE_UNSEALED, PATCH_ANNOTATION, REASON_UNSEALED, REASON_UNSEAL_FAILED,
    REASON_UPDATE_FAILED,
};

/// Field manager and event source component of everything the controller writes.
pub const COMPONENT: &str = "sealed-secrets";

/// How the controller runs. [`Default`] gives upstream's defaults.
#[derive(Clone, Debug)]
pub struct SealControllerOptions {
    /// Kubeconfig, context and default namespace of the cluster to serve.
    pub client: ClientOptions,
    /// Namespace holding the key Secrets (upstream: the controller's own, `kube-system`).
    pub key_namespace: String,
    /// Name prefix of generated key Secrets (`--key-prefix`, `sealed-secrets-key`); the API
    /// server appends 5 random characters (`generateName`).
    pub key_prefix: String,
    /// A new key is generated when the newest is this old (`--key-renew-period`, 30 days);
    /// zero disables renewal.
    pub key_renew_period: Duration,
    /// A new key is generated at start when the newest is older than this
    /// (`--key-cutoff-time`).
    pub key_cutoff_time: Option<SystemTime>,
    /// Size, validity and common name of generated keys (`--key-size` 4096, `--key-ttl`
    /// 10 years, `--my-cn` empty).
    pub keygen: KeygenOptions,
    /// Where the HTTP API listens (`--listen-addr`, `:8080`); `None` serves no HTTP.
    pub http_addr: Option<SocketAddr>,
    /// How often SealedSecrets (and key Secrets) are re-listed.
    pub resync: Duration,
    /// Failed unseals of an unchanged SealedSecret are retried at most this many times
    /// (`--max-unseal-retries`, 5); a new spec, generation or key set starts over.
    pub max_unseal_retries: u32,
    /// Write `status` (condition `Synced`, `observedGeneration`) (`--update-status`, true).
    pub update_status: bool,
    /// Install the SealedSecret CRD when the cluster does not serve the kind.
    pub install_crd: bool,
    /// Rate limit of `/v1/verify` per client (`--rate-limit` 2/s, `--rate-limit-burst` 2);
    /// `None` disables it.
    pub verify_rate_limit: Option<RateLimit>,
    /// How transient API errors (429, 5xx, timeouts, refused connections) are retried while
    /// starting and while storing a generated key; permanent ones (403, 422) fail at once.
    pub startup_retry: StartupRetry,
}

impl Default for SealControllerOptions {
    fn default() -> Self {
        SealControllerOptions {
            client: ClientOptions::default(),
            key_namespace: "kube-system".into(),
            key_prefix: DEFAULT_KEY_PREFIX.into(),
            key_renew_period: DEFAULT_RENEW_PERIOD,
            key_cutoff_time: None,
            keygen: KeygenOptions::default(),
            http_addr: Some(SocketAddr::from(([0, 0, 0, 0], 8080))),
            resync: Duration::from_secs(30),
            max_unseal_retries: 5,
            update_status: true,
            install_crd: true,
            verify_rate_limit: Some(RateLimit::default()),
            startup_retry: StartupRetry::default(),
        }
    }
}

/// Failures of the controller, one variant per step. None carries a secret value.
#[derive(Debug, thiserror::Error)]
pub enum SealControllerError {
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
    /// The SealedSecret kind is not served and the CRD could not be installed.
    #[error("installing CustomResourceDefinition {crd}: {reason}")]
    InstallCrd {
        /// The CRD name.
        crd: String,
        /// What failed.
        reason: String,
        /// Whether the API's answer was transient (429, 5xx, timeout, connection failure).
        transient: bool,
    },
    /// Listing the key Secrets failed.
    #[error("listing key Secrets in namespace {namespace}")]
    ListKeys {
        /// The key namespace.
        namespace: String,
        /// The cause.
        #[source]
        source: ClientError,
    },
    /// Generating a key failed.
    #[error("generating a sealing key")]
    GenerateKey(#[source] KeystoreError),
    /// Storing a generated key as a Secret failed.
    #[error("storing the new key Secret {namespace}/{prefix}*: {reason}")]
    StoreKey {
        /// The key namespace.
        namespace: String,
        /// The name prefix.
        prefix: String,
        /// What failed.
        reason: String,
        /// Whether the API's answer was transient (429, 5xx, timeout, connection failure).
        transient: bool,
    },
    /// No usable key is registered (every key Secret failed to load).
    #[error("no usable sealing key in namespace {0}")]
    NoKey(String),
    /// Listing SealedSecrets or Secrets failed.
    #[error("listing {kind}")]
    List {
        /// The kind listed.
        kind: String,
        /// The cause.
        #[source]
        source: ClientError,
    },
    /// Unsealing a SealedSecret failed (event `ErrUnsealFailed`).
    #[error("SealedSecret {object}")]
    Unseal {
        /// `namespace/name` of the SealedSecret.
        object: String,
        /// The unseal failure (item names only, never values).
        #[source]
        source: UnsealError,
    },
    /// Reading the target Secret failed (event `ErrUpdateFailed`).
    #[error("getting Secret {secret}: {reason}")]
    GetSecret {
        /// `namespace/name` of the Secret.
        secret: String,
        /// The API error.
        reason: String,
    },
    /// Creating the target Secret failed (event `ErrUpdateFailed`).
    #[error("creating Secret {secret}: {reason}")]
    CreateSecret {
        /// `namespace/name` of the Secret.
        secret: String,
        /// The API error.
        reason: String,
    },
    /// The Secret exists and is neither controlled by the SealedSecret nor annotated
    /// `managed`/`patch` (event `ErrUpdateFailed`).
    #[error("Secret {secret} already exists and is not managed by SealedSecret")]
    Unmanaged {
        /// `namespace/name` of the Secret.
        secret: String,
    },
    /// The Secret is immutable and its content differs (event `ErrUpdateFailed`, no retry).
    #[error("Secret {secret} is immutable and cannot be updated")]
    Immutable {
        /// `namespace/name` of the Secret.
        secret: String,
    },
    /// Updating the target Secret failed (event `ErrUpdateFailed`).
    #[error("updating Secret {secret}: {reason}")]
    UpdateSecret {
        /// `namespace/name` of the Secret.
        secret: String,
        /// The API error.
        reason: String,
    },
    /// Writing the SealedSecret's status failed.
    #[error("writing the status of SealedSecret {object}: {reason}")]
    WriteStatus {
        /// `namespace/name` of the SealedSecret.
        object: String,
        /// The API error.
        reason: String,
    },
    /// Recording an event failed.
    #[error("recording event {reason} on SealedSecret {object}: {error}")]
    RecordEvent {
        /// `namespace/name` of the SealedSecret.
        object: String,
        /// The event reason.
        reason: String,
        /// The API error.
        error: String,
    },
    /// Binding the HTTP listener failed.
    #[error("binding the HTTP API on {addr}")]
    BindHttp {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Serving HTTP failed.
    #[error("serving the HTTP API")]
    ServeHttp(#[source] std::io::Error),
    /// A background task panicked or was cancelled.
    #[error("controller task {0} ended unexpectedly")]
    Task(&'static str),
}

impl SealControllerError {
    /// Whether retrying may succeed: a transient API error (429, 5xx, timeouts, refused
    /// connections). Permanent refusals (403, 404, 422), bad configuration and key generation
    /// failures are not.
    pub fn is_transient(&self) -> bool {
        match self {
            SealControllerError::Connect(source)
            | SealControllerError::Resolve { source, .. }
            | SealControllerError::ListKeys { source, .. }
            | SealControllerError::List { source, .. } => is_transient_error(source),
            SealControllerError::InstallCrd { transient, .. }
            | SealControllerError::StoreKey { transient, .. } => *transient,
            _ => false,
        }
    }
}

/// Logs one start-up retry (the error names the step and object, never a secret value).
pub(crate) fn log_retry(n: &RetryNotice<'_, SealControllerError>) {
    let error = fjord_model::chain(n.error);
    tracing::warn!(step = n.step, attempt = n.attempt, wait = ?n.wait, error = %error,
        "transient API error; retrying");
    let line = serde_json::json!({
        "level": "warn",
        "component": COMPONENT,
        "msg": format!(
            "{}: transient API error (attempt {}), retrying in {} ms: {}",
            n.step,
            n.attempt,
            n.wait.as_millis(),
            error
        ),
    });
    eprintln!("{line}");
}

/// State shared by the loops and the HTTP handlers.
pub(crate) struct Shared {
    pub(crate) opts: SealControllerOptions,
    pub(crate) api: api::Api,
    /// Registered keys: every one is tried when unsealing; generated keys come last, so the
    /// newest wins ties of `notBefore`.
    keys: RwLock<Arc<Vec<Key>>>,
    /// Serializes key loading and generation.
    pub(crate) key_lock: tokio::sync::Mutex<()>,
    /// Wakes the reconcile loop before its resync period.
    pub(crate) wake: Notify,
}

impl Shared {
    /// A snapshot of the registered keys.
    pub(crate) fn keys(&self) -> Arc<Vec<Key>> {
        match self.keys.read() {
            Ok(k) => k.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub(crate) fn set_keys(&self, keys: Vec<Key>) {
        let keys = Arc::new(keys);
        match self.keys.write() {
            Ok(mut k) => *k = keys,
            Err(poisoned) => *poisoned.into_inner() = keys,
        }
    }

    /// The key `/v1/cert.pem` serves and `/v1/rotate` seals with.
    pub(crate) fn newest_fingerprint(&self) -> Option<String> {
        let keys = self.keys();
        newest_key(&keys, KeyOrder::CertNotBefore).map(|k| k.fingerprint().to_string())
    }
}

/// A running controller (from [`start`]).
pub struct SealControllerHandle {
    shared: Arc<Shared>,
    http_addr: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    fatal: mpsc::Receiver<SealControllerError>,
    tasks: Vec<(&'static str, JoinHandle<()>)>,
}

impl std::fmt::Debug for SealControllerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealControllerHandle")
            .field("http_addr", &self.http_addr)
            .field("keys", &self.key_fingerprints())
            .finish_non_exhaustive()
    }
}

impl SealControllerHandle {
    /// The bound HTTP address (the real port when the options asked for port 0).
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// Fingerprints (`SHA256:…`) of the registered keys.
    pub fn key_fingerprints(&self) -> Vec<String> {
        self.shared
            .keys()
            .iter()
            .map(|k| k.fingerprint().to_string())
            .collect()
    }

    /// Fingerprint of the newest key (the one sealing uses).
    pub fn newest_fingerprint(&self) -> Option<String> {
        self.shared.newest_fingerprint()
    }

    /// Generates and stores a new key now, as upstream's SIGUSR1 does; returns its
    /// fingerprint. Old keys stay registered.
    pub async fn renew_key(&self) -> Result<String, SealControllerError> {
        let fp = keys_loop::renew(&self.shared).await?;
        self.shared.wake.notify_one();
        Ok(fp)
    }

    /// Starts a reconcile pass now instead of at the next resync.
    pub fn resync_now(&self) {
        self.shared.wake.notify_one();
    }

    /// Stops the loops and the HTTP server and waits for them.
    pub async fn shutdown(mut self) -> Result<(), SealControllerError> {
        let _ = self.shutdown.send(true);
        let mut result = Ok(());
        for (name, task) in self.tasks.drain(..) {
            if task.await.is_err() && result.is_ok() {
                result = Err(SealControllerError::Task(name));
            }
        }
        if let Ok(e) = self.fatal.try_recv() {
            return Err(e);
        }
        result
    }
}

/// Connects, makes sure the SealedSecret CRD is served, loads (or generates) the keys, binds
/// the HTTP API and spawns the key-renewal and reconcile loops on the current runtime.
pub async fn start(
    opts: SealControllerOptions,
) -> Result<SealControllerHandle, SealControllerError> {
    let retry = opts.startup_retry;
    let api = retry
        .run(
            "connecting the Sealed Secrets controller",
            SealControllerError::is_transient,
            log_retry,
            || api::Api::connect(&opts),
        )
        .await?;
    let shared = Arc::new(Shared {
        opts,
        api,
        keys: RwLock::new(Arc::new(Vec::new())),
        key_lock: tokio::sync::Mutex::new(()),
        wake: Notify::new(),
    });
    retry
        .run(
            "loading the sealing keys",
            SealControllerError::is_transient,
            log_retry,
            || keys_loop::initialize(&shared),
        )
        .await?;
    let (shutdown, shutdown_rx) = watch::channel(false);
    let (fatal_tx, fatal) = mpsc::channel(4);
    let mut tasks = Vec::new();
    let mut http_addr = None;
    if let Some(addr) = shared.opts.http_addr {
        let (bound, task) =
            http::serve(shared.clone(), addr, shutdown_rx.clone(), fatal_tx.clone()).await?;
        http_addr = Some(bound);
        tasks.push(("http", task));
    }
    tasks.push((
        "key renewal",
        tokio::spawn(keys_loop::renewal_loop(shared.clone(), shutdown_rx.clone())),
    ));
    tasks.push((
        "reconcile",
        tokio::spawn(reconcile::reconcile_loop(
            shared.clone(),
            shutdown_rx.clone(),
        )),
    ));
    // Changes to SealedSecrets and Secrets start a pass at once, as upstream's informers do;
    // the resync period stays as the fallback.
    for t in [shared.api.sealed.clone(), shared.api.secrets.clone()] {
        let rx = shared.api.client.watch(&t, None);
        let stop = shutdown_rx.clone();
        tasks.push((
            "watch",
            tokio::spawn(wake_on_change(shared.clone(), rx, stop)),
        ));
    }
    tracing::info!(
        keys = shared.keys().len(),
        newest = shared.newest_fingerprint().unwrap_or_default(),
        http = ?http_addr,
        "sealed secrets controller started"
    );
    Ok(SealControllerHandle {
        shared,
        http_addr,
        shutdown,
        fatal,
        tasks,
    })
}

/// Wakes the reconcile loop on every change after the initial list.
async fn wake_on_change(
    shared: Arc<Shared>,
    mut rx: mpsc::Receiver<fjord_client::WatchItem>,
    mut stop: watch::Receiver<bool>,
) {
    let mut first = true;
    loop {
        let item = tokio::select! {
            item = rx.recv() => item,
            _ = stop.changed() => return,
        };
        let Some(item) = item else { return };
        if first && matches!(item, fjord_client::WatchItem::Listed(_)) {
            first = false;
            continue;
        }
        shared.wake.notify_one();
    }
}

/// Runs the controller until `shutdown` completes; returns early with the error when the HTTP
/// server fails.
pub async fn run(
    opts: SealControllerOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), SealControllerError> {
    let mut handle = start(opts).await?;
    let failed = tokio::select! {
        () = shutdown => None,
        Some(err) = handle.fatal.recv() => Some(err),
    };
    match failed {
        None => handle.shutdown().await,
        Some(err) => {
            let _ = handle.shutdown().await;
            Err(err)
        }
    }
}

#[cfg(test)]
pub(crate) mod testkeys {
    use fjord_seal::docs::encode_base64;
    use fjord_seal::keys::Key;
    use fjord_seal::keystore::key_from_secret;

    /// A file of the upstream compatibility vectors (kept in fjord-seal).
    fn compat(rel: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../seal/testdata/compat")
            .join(rel);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// The key and certificate of `dir`, read as the controller reads its key Secrets.
    fn load(dir: &str) -> Key {
        let secret = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": dir},
            "data": {
                "tls.crt": encode_base64(&compat(&format!("{dir}/tls.crt"))),
                "tls.key": encode_base64(&compat(&format!("{dir}/tls.key"))),
            },
        });
        key_from_secret(&secret, dir).unwrap()
    }

    /// Upstream key pair a.
    pub fn key_a() -> Key {
        load("key-a")
    }

    /// Upstream key pair b.
    pub fn key_b() -> Key {
        load("key-b")
    }
}
