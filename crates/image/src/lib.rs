//! Image automation for fjord, the pure part (no network, no async).
//!
//! - [`mod@reference`]: Docker image references (`[registry/]path[:tag][@digest]`) and the
//!   docker.io normalisation rules.
//! - [`setimage`]: `kustomize edit set image`, byte for byte.
//! - [`edit`]: edits of manifests, kustomizations and `.argocd-source-<app>.yaml` files that
//!   keep every byte they do not change (comments, order, quoting, line endings).
//! - [`updater`]: Argo CD Image Updater's annotations, update strategies and commit messages.
//!
//! Each module has its own error enum.

pub mod edit;
pub mod reference;
pub mod setimage;
pub mod updater;
