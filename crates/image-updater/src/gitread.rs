//! Reading write-back targets in Git: the updater's own mirrors (fetched once per cycle and
//! repository), branch heads, and file contents at a branch head.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use fjord_source::{normalize_url, redact_url, Oid, Repo, RepoCache};

/// The repositories of one cycle, each fetched at most once.
pub(crate) struct GitReader<'a> {
    repos: &'a RepoCache,
    fetched: HashMap<String, Result<Arc<Repo>, String>>,
}

impl<'a> GitReader<'a> {
    /// A reader for one cycle.
    pub(crate) fn new(repos: &'a RepoCache) -> GitReader<'a> {
        GitReader {
            repos,
            fetched: HashMap::new(),
        }
    }

    /// The mirror of `url`, fetched in this cycle.
    pub(crate) async fn repo(&mut self, url: &str) -> Result<Arc<Repo>, String> {
        let key = normalize_url(url);
        if let Some(r) = self.fetched.get(&key) {
            return r.clone();
        }
        let got = match self.repos.repo(url) {
            Ok(repo) => {
                let r = Arc::clone(&repo);
                match tokio::task::spawn_blocking(move || r.fetch()).await {
                    Ok(Ok(_)) => Ok(repo),
                    Ok(Err(e)) => Err(format!(
                        "fetching {}: {}",
                        redact_url(url),
                        fjord_model::chain(&e)
                    )),
                    Err(_) => Err(format!("fetching {}: task failed", redact_url(url))),
                }
            }
            Err(e) => Err(fjord_model::chain(&e)),
        };
        self.fetched.insert(key, got.clone());
        got
    }
}

/// The branch a `targetRevision` names: `""`/`HEAD` is the remote's default branch.
pub(crate) fn branch_of(repo: &Repo, target_revision: &str) -> String {
    let rev = target_revision.trim();
    if rev.is_empty() || rev == "HEAD" {
        if let Some(b) = repo.default_branch() {
            return b.trim_start_matches("refs/heads/").to_string();
        }
        return "main".to_string();
    }
    rev.trim_start_matches("refs/heads/").to_string()
}

/// The head commit of `branch` in the mirror, `None` when the branch does not exist.
pub(crate) fn head(repo: &Repo, branch: &str) -> Option<Oid> {
    repo.resolve(&format!("refs/heads/{branch}")).ok()
}

/// The regular file at repository-relative `path` in commit `oid`, `None` when absent.
pub(crate) fn read_file(repo: &Repo, oid: Oid, path: &str) -> Result<Option<String>, String> {
    let what = || format!("reading {path} at {oid} of {}", redact_url(repo.url()));
    let git = git2::Repository::open_bare(repo.mirror_dir())
        .map_err(|e| format!("{}: {}", what(), e.message()))?;
    let commit = git
        .find_commit(oid)
        .map_err(|e| format!("{}: {}", what(), e.message()))?;
    let tree = commit
        .tree()
        .map_err(|e| format!("{}: {}", what(), e.message()))?;
    let entry = match tree.get_path(Path::new(path)) {
        Ok(e) => e,
        Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {}", what(), e.message())),
    };
    if entry.kind() != Some(git2::ObjectType::Blob) {
        return Err(format!("{}: not a regular file", what()));
    }
    let blob = git
        .find_blob(entry.id())
        .map_err(|e| format!("{}: {}", what(), e.message()))?;
    String::from_utf8(blob.content().to_vec())
        .map(Some)
        .map_err(|_| format!("{}: not UTF-8", what()))
}
