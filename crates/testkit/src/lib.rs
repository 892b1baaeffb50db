//! fjord's test kit, shared by the tests of every crate (a dev-dependency only).
//!
//! - [`tools`]: the one rule for missing tools (`FJORD_REQUIRE_TOOLS=1` fails, else `SKIPPED`),
//!   with [`require_tools!`].
//! - [`process`]: servers as child processes in their own process group, killed with all their
//!   children on drop; free ports.
//! - [`Backend`]: which Kubernetes API the end-to-end tests talk to, chosen with one switch,
//!   `FJORD_TEST_BACKEND=local|real` (`scripts/test.sh` also takes `both`: it runs the
//!   cluster-touching suites once per backend).
//! - [`Cluster`]: the API of one test on that backend (fjord's local API, which the test crate
//!   starts, or the real control plane), with `kubectl` and raw HTTP.
//! - [`ControlPlane`]: a real control plane (etcd, kube-apiserver, kube-controller-manager,
//!   kube-scheduler, kwok) built from Go modules and started on loopback by
//!   `scripts/control-plane.sh`; stopped when dropped.
//! - [`argocd_crds`]: Argo CD's own published CRDs (the migration path), from the Go module
//!   proxy's copy of `github.com/argoproj/argo-cd/v3`.
//! - [`git`], [`git_daemon`], [`http_backend`], [`sshd`]: fixture repositories and the real git
//!   servers (`git daemon`, `git http-backend` behind a small HTTP/1.1 bridge, OpenSSH `sshd`).
//! - [`prometheus`]: a real Prometheus scraping a target.
//! - [`binary`]: running a built binary (`fjord`), whose path the test crate passes in.
//! - [`tempdir()`](tempdir::tempdir), [`http`], [`wait`]: temporary folders, raw HTTP, polling.
//!
//! ```
//! use fjord_testkit::Backend;
//!
//! assert_eq!(Backend::parse("real").unwrap(), Backend::Real);
//! assert!(Backend::parse("both").is_err()); // one backend a test process
//! ```

mod backend;
pub mod bao;
pub mod binary;
pub mod cluster;
mod control_plane;
pub mod git;
pub mod git_daemon;
pub mod http;
pub mod http_backend;
pub mod kustomize;
pub mod process;
pub mod prometheus;
pub mod registry;
pub mod sshd;
pub mod tempdir;
pub mod tools;
pub mod wait;

pub use backend::{Backend, BackendError};
pub use cluster::{Cluster, LocalApi, LocalProcess};
pub use control_plane::{argocd_crds, ControlPlane, ControlPlaneError, ARGOCD_VERSION};
pub use process::Proc;

/// The repository's root (where `scripts/` is).
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root exists")
}
