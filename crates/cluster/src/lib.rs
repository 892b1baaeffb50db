//! fjord's embedded Kubernetes API server.
//!
//! A kubectl- and kube-rs-compatible apiserver for local use and CI: a redb-backed durable store
//! (group commit: concurrent writes share one fsync, each acknowledged only once durable) with a
//! global monotonic resourceVersion, legacy and aggregated discovery, a minimal OpenAPI v3,
//! JSON CRUD with the four patch types, metadata-only reads (`PartialObjectMetadata`), watches,
//! server-side apply with managedFields, namespace and ownerReference lifecycles, CRDs, kwok-like
//! workload status simulation, protobuf request bodies for kubectl's generator commands, and
//! fault injection.
//!
//! Start it with [`serve`] (async, returns a [`ClusterHandle`]) or [`run_until_signal`] (blocking,
//! for `fjord local-cluster`). A kubeconfig for context `fjord-local` is written to the data dir.
//!
//! ```
//! let dir = std::env::temp_dir().join(format!("fjord-cluster-doc-{}", std::process::id()));
//! let mut opts = fjord_cluster::ClusterOptions::new(&dir);
//! opts.addr = "127.0.0.1:0".parse().unwrap();
//! opts.in_memory = true;
//! let rt = tokio::runtime::Runtime::new().unwrap();
//! let handle = rt.block_on(fjord_cluster::serve(opts)).unwrap();
//! assert!(handle.kubeconfig().exists()); // context `fjord-local`, for kubectl or kube-rs
//! rt.block_on(handle.shutdown());
//! std::fs::remove_dir_all(&dir).ok();
//! ```

mod decode;
mod defaults;
mod discovery;
mod engine;
mod errors;
mod faults;
mod handlers;
mod http;
mod kinds;
mod lifecycle;
mod meta;
mod metadata_json;
mod openapi;
mod patch;
mod protobuf;
mod proxy;
mod quantity;
mod registry;
mod request;
mod reviews;
mod rv;
mod selectors;
mod sim;
mod smp;
mod ssa;
mod store;
mod table;
mod unknown_fields;
mod validate;
mod watch;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch as tokio_watch;

pub use errors::{ApiError, Cause};
pub use faults::{FaultOptions, FaultRule};
pub use sim::SimOptions;
pub use store::StoreError;

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Directory holding `store.redb` and `kubeconfig`.
    pub data_dir: PathBuf,
    /// Listen address (`127.0.0.1:0` picks a free port).
    pub addr: SocketAddr,
    /// Keep objects in memory only (the kubeconfig is still written to `data_dir`).
    pub in_memory: bool,
    /// Workload status simulation.
    pub sim: SimOptions,
    /// Fault injection.
    pub faults: FaultOptions,
    /// Events kept for watch resumption (older RVs get 410 Expired).
    pub watch_history: usize,
}

impl ClusterOptions {
    /// Defaults: `127.0.0.1:6443`, durable, simulation on, no faults.
    pub fn new(data_dir: impl Into<PathBuf>) -> ClusterOptions {
        ClusterOptions {
            data_dir: data_dir.into(),
            addr: SocketAddr::from(([127, 0, 0, 1], 6443)),
            in_memory: false,
            sim: SimOptions::default(),
            faults: FaultOptions::default(),
            watch_history: 10_000,
        }
    }
}

/// Failures starting or running the server.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The data directory could not be created.
    #[error("creating data dir {path}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Binding the listen address failed.
    #[error("binding {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Writing the kubeconfig failed.
    #[error("writing kubeconfig {path}")]
    Kubeconfig {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Booting the engine (system namespaces) failed.
    #[error("booting the API engine: {0}")]
    Boot(ApiError),
    /// The async runtime could not start.
    #[error("starting the runtime: {0}")]
    Runtime(std::io::Error),
}

/// A running server.
pub struct ClusterHandle {
    addr: SocketAddr,
    kubeconfig: PathBuf,
    shutdown: tokio_watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl ClusterHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The kubeconfig file (context `fjord-local`).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The server URL, `http://host:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting requests and stops the controllers.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

fn kubeconfig_text(url: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: fjord-local\n  cluster:\n    server: {url}\ncontexts:\n- name: fjord-local\n  context:\n    cluster: fjord-local\n    namespace: default\n    user: fjord-local\ncurrent-context: fjord-local\nusers:\n- name: fjord-local\n  user: {{}}\npreferences: {{}}\n"
    )
}

async fn controllers(engine: Arc<engine::Engine>, mut shutdown: tokio_watch::Receiver<bool>) {
    let mut sim = sim::Simulator::new(engine.config.sim.clone());
    loop {
        let e = engine.clone();
        let next = tokio::task::spawn_blocking(move || {
            for _ in 0..64 {
                if !e.lifecycle_pass() {
                    break;
                }
            }
            let next = sim.pass(&e);
            (sim, next)
        })
        .await;
        let Ok((s, next)) = next else { return };
        sim = s;
        let wait = next
            .unwrap_or(Duration::from_secs(1))
            .clamp(Duration::from_millis(10), Duration::from_secs(1));
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = engine.wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Starts the server on the current tokio runtime.
pub async fn serve(opts: ClusterOptions) -> Result<ClusterHandle, ClusterError> {
    std::fs::create_dir_all(&opts.data_dir).map_err(|source| ClusterError::DataDir {
        path: opts.data_dir.clone(),
        source,
    })?;
    let store = if opts.in_memory {
        store::Store::in_memory()
    } else {
        store::Store::open(&opts.data_dir)?
    };
    let listener = tokio::net::TcpListener::bind(opts.addr)
        .await
        .map_err(|source| ClusterError::Bind {
            addr: opts.addr,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ClusterError::Bind {
        addr: opts.addr,
        source,
    })?;
    let config = engine::EngineConfig {
        history: opts.watch_history,
        sim: opts.sim.clone(),
        address: addr.to_string(),
    };
    let engine = Arc::new(engine::Engine::new(store, config).map_err(ClusterError::Boot)?);
    let kubeconfig = opts.data_dir.join("kubeconfig");
    let url = format!("http://{addr}");
    std::fs::write(&kubeconfig, kubeconfig_text(&url)).map_err(|source| {
        ClusterError::Kubeconfig {
            path: kubeconfig.clone(),
            source,
        }
    })?;
    let faults = Arc::new(faults::Faults::new(opts.faults.clone()));
    let (tx, rx) = tokio_watch::channel(false);
    let tasks = vec![
        tokio::spawn(http::accept_loop(
            listener,
            engine.clone(),
            faults,
            rx.clone(),
        )),
        tokio::spawn(controllers(engine, rx)),
    ];
    Ok(ClusterHandle {
        addr,
        kubeconfig,
        shutdown: tx,
        tasks,
    })
}

/// Runs the server until SIGINT or SIGTERM (blocking; builds its own runtime).
pub fn run_until_signal(opts: ClusterOptions) -> Result<(), ClusterError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ClusterError::Runtime)?;
    rt.block_on(async move {
        let handle = serve(opts).await?;
        eprintln!(
            "fjord local cluster listening on {} (kubeconfig: {})",
            handle.url(),
            handle.kubeconfig().display()
        );
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(ClusterError::Runtime)?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        handle.shutdown().await;
        Ok(())
    })
}
