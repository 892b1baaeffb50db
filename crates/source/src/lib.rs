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
//! - [`push`]: committing edited files on a branch and pushing them ([`Repo::commit_and_push`]).
//! - [`semver_range`]: semantic-version ranges as `targetRevision`, resolved against tags.
//! - [`url`]: Argo CD's repository URL normalisation.
//! - [`redact`]: credentials out of URLs and messages ([`redact_url`]).
//! - [`limits`]: [`ExportLimits`], the size and count limits of one export.
//! - [`evict`]: [`RepoCache::retain`], evicting unused and least-recently-used mirrors.
//!
//! Exports are checked before a byte is written (entry names, `.git`, case-folding
//! collisions, symlinks resolving outside the repository, the limits) and written with
//! `O_EXCL`-style confinement below a temporary directory renamed into place.
//!
//! ```
//! use fjord_source::{affects, normalize_url, redact_url, semver_range};
//!
//! // `ssh://` and scp-like spellings of one repository normalise alike.
//! assert_eq!(
//!     normalize_url("git@GitHub.com:org/app.git"),
//!     normalize_url("ssh://git@github.com/org/app"),
//! );
//! // A semantic-version `targetRevision` picks the highest matching tag.
//! let tags = ["v1.2.0", "v1.10.1", "v2.0.0", "latest"];
//! assert_eq!(semver_range::best_tag(">=1.2, <2", tags), Some("v1.10.1"));
//! // With `manifest-generate-paths: .`, only changes under the app's path refresh it.
//! assert!(affects(Some("."), "apps/web", &["apps/web/deploy.yaml"]));
//! assert!(!affects(Some("."), "apps/web", &["apps/db/deploy.yaml"]));
//! // Credentials never reach a log line.
//! assert!(!redact_url("https://bot:s3cret@git.example.com/org/app.git").contains("s3cret"));
//! ```

pub mod credentials;
mod error;
pub mod evict;
mod export;
mod export_plan;
#[cfg(test)]
mod export_tests;
pub mod known_hosts;
pub mod limits;
pub mod paths;
pub mod poll;
pub mod push;
#[cfg(test)]
mod push_tests;
pub mod redact;
pub mod repo;
pub mod semver_range;
pub mod url;
pub mod webhook;

pub use credentials::{CredentialStore, RepoCredentials};
pub use evict::{parse_size, EvictReason, Evicted, EvictionReport};
pub use export_plan::{BYTES_LIMIT as EXPORT_BYTES_LIMIT, FILES_LIMIT as EXPORT_FILES_LIMIT};
pub use git2::Oid;
pub use known_hosts::KnownHosts;
pub use limits::ExportLimits;
pub use paths::affects;
pub use poll::PollPolicy;
pub use push::{CommitRequest, Signature, TreeView};
pub use redact::{redact_text, redact_url};
pub use repo::{FetchSummary, RefChange, Repo, RepoCache, RepoError};
pub use url::normalize_url;
pub use webhook::{PushEvent, WebhookError, WebhookSecrets};
