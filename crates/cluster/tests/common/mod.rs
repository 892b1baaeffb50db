//! Shared helpers: the API server chosen by `FJORD_TEST_BACKEND` (`fjord_testkit::Cluster`: the
//! in-process local one on a free port with a temp data dir, or the real control plane of
//! `scripts/control-plane.sh`), the real `kubectl` pointed at it with a fresh discovery cache,
//! and raw HTTP to it.
//!
//! Tests named `local_api_*` exercise what only fjord's local API has (in-process options,
//! fault injection, its data dir); they always run against a local server, and the real pass of
//! `scripts/test.sh` skips them by name (`--skip local_api_`).

#![allow(dead_code)]

use std::net::SocketAddr;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fjord_cluster::{ClusterHandle, ClusterOptions};
use fjord_testkit::LocalApi;

/// One raw HTTP request to the local API (the tests that run their own server).
#[allow(unused_imports)]
pub use fjord_testkit::cluster::local_http as http;

/// fjord's local API served in this process, on its own runtime; shut down on drop.
pub struct InProcess {
    rt: tokio::runtime::Runtime,
    handle: Option<ClusterHandle>,
}

impl InProcess {
    /// Serves with data dir `dir`, a short simulation delay, and `f`'s adjustments.
    pub fn start(dir: &Path, f: impl FnOnce(&mut ClusterOptions)) -> InProcess {
        let mut opts = ClusterOptions::new(dir);
        opts.addr = "127.0.0.1:0".parse().expect("addr");
        opts.sim.delay = Duration::from_millis(200);
        f(&mut opts);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let handle = rt.block_on(fjord_cluster::serve(opts)).expect("serve");
        InProcess {
            rt,
            handle: Some(handle),
        }
    }

    /// The running server.
    pub fn handle(&self) -> &ClusterHandle {
        self.handle.as_ref().expect("running")
    }
}

impl LocalApi for InProcess {
    fn kubeconfig(&self) -> PathBuf {
        self.handle().kubeconfig().to_path_buf()
    }

    fn addr(&self) -> SocketAddr {
        self.handle().addr()
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            self.rt.block_on(h.shutdown());
        }
    }
}

/// A running API server, local or real ([`fjord_testkit::Cluster`]: `kubectl_ok`,
/// `kubectl_ok_in`, `kubectl_fails`, `get_json`, `http`, `dir`, `cache`).
pub struct Cluster(fjord_testkit::Cluster);

impl Deref for Cluster {
    type Target = fjord_testkit::Cluster;
    fn deref(&self) -> &fjord_testkit::Cluster {
        &self.0
    }
}

impl Cluster {
    /// Starts the backend `FJORD_TEST_BACKEND` names (the local one with a short simulation
    /// delay).
    pub fn start() -> Cluster {
        Cluster(fjord_testkit::Cluster::start(|dir| {
            Box::new(InProcess::start(dir, |_| {}))
        }))
    }

    /// Starts fjord's local API whatever the backend, after letting `f` adjust its options:
    /// only for `local_api_*` tests of local-only features.
    pub fn local_with(f: impl FnOnce(&mut ClusterOptions)) -> Cluster {
        Cluster(fjord_testkit::Cluster::local(|dir| {
            Box::new(InProcess::start(dir, f))
        }))
    }
}
