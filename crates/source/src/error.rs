//! [`RepoError`]: what the repository cache, the export and path checks report.

use std::io;
use std::path::PathBuf;

use git2::Oid;
use thiserror::Error;

use crate::url::UrlError;

/// Errors raised by the repository cache. URLs in messages have any password removed; secrets
/// never appear.
#[derive(Debug, Error)]
pub enum RepoError {
    /// The repository URL could not be understood.
    #[error("repository URL")]
    Url(#[from] UrlError),
    /// A cache directory could not be created or written.
    #[error("cache directory {path}")]
    CacheDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A libgit2 operation on the local mirror failed.
    #[error("repository {url}: {step}: {message}")]
    Git {
        /// The repository URL (password removed).
        url: String,
        /// The step that failed.
        step: &'static str,
        /// libgit2's message.
        message: String,
    },
    /// Fetching from the remote failed.
    #[error("fetch {url}: {message}")]
    Fetch {
        /// The repository URL (password removed).
        url: String,
        /// libgit2's message.
        message: String,
    },
    /// The remote rejected the credentials (or none were configured and it wants some).
    #[error("fetch {url}: authentication failed")]
    AuthFailed {
        /// The repository URL (password removed).
        url: String,
    },
    /// An SSH server's host key is not in the known hosts.
    #[error("fetch {url}: host {host} is not in the known hosts (add its key to the argocd-ssh-known-hosts-cm ConfigMap, or set insecure: \"true\")")]
    UnknownHostKey {
        /// The repository URL.
        url: String,
        /// `host` or `[host]:port`.
        host: String,
    },
    /// An SSH server's host key differs from the known one.
    #[error("fetch {url}: host key for {host} does not match the known hosts (possible man-in-the-middle)")]
    HostKeyMismatch {
        /// The repository URL.
        url: String,
        /// `host` or `[host]:port`.
        host: String,
    },
    /// An SSH server presented a revoked key.
    #[error("fetch {url}: host key for {host} is revoked")]
    HostKeyRevoked {
        /// The repository URL.
        url: String,
        /// `host` or `[host]:port`.
        host: String,
    },
    /// The revision names no branch, tag or commit of the mirror.
    #[error("repository {url}: revision {revision:?} not found")]
    RevisionNotFound {
        /// The repository URL.
        url: String,
        /// The target revision asked for.
        revision: String,
    },
    /// A short SHA matches several objects.
    #[error("repository {url}: revision {revision:?} is ambiguous")]
    AmbiguousRevision {
        /// The repository URL.
        url: String,
        /// The short SHA asked for.
        revision: String,
    },
    /// The app path leaves the repository (`..`).
    #[error("path {path:?} is outside the repository")]
    PathEscapes {
        /// The path as given.
        path: String,
    },
    /// The app path does not exist (or is not a directory) at the revision.
    #[error("repository {url}: path {path:?} does not exist at {revision}")]
    PathNotFound {
        /// The repository URL.
        url: String,
        /// The commit.
        revision: Oid,
        /// The path.
        path: String,
    },
    /// A symlink in the tree points outside the repository.
    #[error("repository {url}: symlink {path:?} at {revision} points outside the repository")]
    SymlinkEscapes {
        /// The repository URL.
        url: String,
        /// The commit.
        revision: Oid,
        /// The symlink's path.
        path: String,
    },
    /// A tree entry cannot be exported safely (`..`, `.git`, `/` in a name, a case-folding
    /// collision, a symlink loop...). Nothing of the revision is exported.
    #[error("repository {url}: tree entry {path:?} at {revision} is refused: {reason}")]
    UnsafeEntry {
        /// The repository URL (password removed).
        url: String,
        /// The commit.
        revision: Oid,
        /// The entry's repository-relative path.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The export would exceed an [`ExportLimits`](crate::ExportLimits) limit; nothing of the
    /// revision is written.
    #[error("repository {url} at {revision}: {limit}: {actual} over the limit of {max}")]
    ExportLimit {
        /// The repository URL (password removed).
        url: String,
        /// The commit.
        revision: Oid,
        /// The limit's name (`exported bytes per revision`, `files per revision`).
        limit: &'static str,
        /// What the revision holds.
        actual: String,
        /// The limit.
        max: String,
    },
    /// Writing the exported tree failed (the export is discarded).
    #[error("repository {url} at {revision}: exporting {path:?}")]
    ExportWrite {
        /// The repository URL (password removed).
        url: String,
        /// The commit.
        revision: Oid,
        /// The repository-relative path being written (empty: the export's root).
        path: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A path an edit wants to commit is refused (absolute, `..`, empty components, `.git`, or
    /// a symlink / directory / file-below-a-file at that place in the tree).
    #[error("commit to {url}: path {path:?} is refused: {reason}")]
    PushPath {
        /// The repository URL (password removed).
        url: String,
        /// The path as the edit gave it.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The edit callback of [`Repo::commit_and_push`](crate::Repo::commit_and_push) failed.
    #[error("commit to {url} branch {branch}: editing files: {message}")]
    Edit {
        /// The repository URL (password removed).
        url: String,
        /// The branch being written.
        branch: String,
        /// The callback's message.
        message: String,
    },
    /// The branch to commit on does not exist and neither does its base.
    #[error("commit to {url}: branch {branch:?} does not exist and base {base:?} was not found")]
    NoBase {
        /// The repository URL (password removed).
        url: String,
        /// The branch asked for.
        branch: String,
        /// The base asked for (empty: the remote's default branch).
        base: String,
    },
    /// Pushing to the remote failed (transport or server error).
    #[error("push {url} branch {branch}: {message}")]
    Push {
        /// The repository URL (password removed).
        url: String,
        /// The branch pushed.
        branch: String,
        /// libgit2's or the server's message (credentials removed).
        message: String,
    },
    /// The remote rejected the push credentials.
    #[error("push {url}: authentication failed")]
    PushAuthFailed {
        /// The repository URL (password removed).
        url: String,
    },
    /// The push was still rejected as not fast-forward after every retry (nothing was forced).
    #[error("push {url} branch {branch}: rejected {attempts} times, last: {reason}")]
    PushRejected {
        /// The repository URL (password removed).
        url: String,
        /// The branch pushed.
        branch: String,
        /// How many pushes were tried.
        attempts: u32,
        /// The last rejection's reason.
        reason: String,
    },
}
