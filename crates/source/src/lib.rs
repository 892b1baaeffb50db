//! fjord's git source layer: the pieces a GitOps controller needs to follow Git repositories the
//! way Argo CD does.
//!
//! - [`repo`]: a [`RepoCache`] of bare mirrors (one per normalised URL, shared by all apps) with
//!   [`Repo::fetch`], [`Repo::resolve`], [`Repo::checkout_tree`] and [`Repo::changed_paths`],
//!   over `file://`/local paths, `git://`, smart `http(s)://` and `ssh` (libgit2).
//! - [`credentials`]: Argo CD `repository` / `repo-creds` Secrets.
//! - [`known_hosts`]: the `argocd-ssh-known-hosts-cm` host-key check.
//! - [`paths`]: the `manifest-generate-paths` annotation ([`paths::affects`]).
//! - [`webhook`]: push-webhook parsing and verification, and which apps an event refreshes.
//! - [`poll`]: the polling interval with deterministic jitter.
//! - [`semver_range`]: semantic-version ranges as `targetRevision`, resolved against tags.
//! - [`url`]: Argo CD's repository URL normalisation.

pub mod credentials;
mod export;
pub mod known_hosts;
pub mod paths;
pub mod poll;
pub mod repo;
pub mod semver_range;
pub mod url;
pub mod webhook;

pub use credentials::{CredentialStore, RepoCredentials};
pub use git2::Oid;
pub use known_hosts::KnownHosts;
pub use paths::affects;
pub use poll::PollPolicy;
pub use repo::{FetchSummary, RefChange, Repo, RepoCache, RepoError};
pub use url::normalize_url;
pub use webhook::{PushEvent, WebhookError, WebhookSecrets};
