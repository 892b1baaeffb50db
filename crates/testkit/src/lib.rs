//! fjord's test kit, shared by the end-to-end suites of every crate (a dev-dependency only).
//!
//! - [`Backend`]: which Kubernetes API the end-to-end tests talk to, chosen with one switch,
//!   `FJORD_TEST_BACKEND=local|real` (`scripts/test.sh` also takes `both`: it runs the
//!   cluster-touching suites once per backend).
//! - [`ControlPlane`]: a real control plane (etcd, kube-apiserver, kube-controller-manager,
//!   kube-scheduler, kwok) built from Go modules and started on loopback by
//!   `scripts/control-plane.sh`; stopped when dropped.
//! - [`argocd_crds`]: Argo CD's own published CRDs (the migration path), from the Go module
//!   proxy's copy of `github.com/argoproj/argo-cd/v3`.

mod backend;
mod control_plane;

pub use backend::{Backend, BackendError};
pub use control_plane::{argocd_crds, ControlPlane, ControlPlaneError, ARGOCD_VERSION};

/// The repository's root (where `scripts/` is).
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root exists")
}
