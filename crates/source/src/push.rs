//! Writing to a repository: [`Repo::commit_and_push`] commits edited files on a branch of the
//! bare mirror (trees built in memory, no working tree) and pushes the commit with the mirror's
//! credentials. A push the remote refuses because the branch moved is retried on the new tip —
//! the edit runs again there — and never forced.

use std::cell::{Cell, RefCell};
use std::path::Path;

use git2::{ErrorCode, Oid, PushOptions, Repository};

use crate::error::RepoError;
use crate::known_hosts::HostKeyVerdict;
use crate::redact::redact_message;
use crate::repo::{callbacks, Repo};
use crate::url::{RemoteUrl, Transport};

/// How many times a rejected push is retried (after the first try) before giving up.
pub const MAX_PUSH_RETRIES: u32 = 5;

const MODE_FILE: i32 = 0o100644;
const MODE_EXEC: i32 = 0o100755;
const MODE_LINK: i32 = 0o120000;
const MODE_TREE: i32 = 0o040000;

/// The author (and committer) of a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The name (`fjord-image-updater`).
    pub name: String,
    /// The e-mail address.
    pub email: String,
}

/// What [`Repo::commit_and_push`] commits, where, and as whom.
#[derive(Debug, Clone)]
pub struct CommitRequest<'a> {
    /// The branch to commit on and push (`main`, `image-updater/web`), without `refs/heads/`.
    pub branch: &'a str,
    /// Where a branch that does not exist on the remote yet starts: a branch, tag, full ref or
    /// commit SHA; `None`: the remote's default branch.
    pub base: Option<&'a str>,
    /// The commit message.
    pub message: &'a str,
    /// The author and committer.
    pub author: Signature,
    /// Whether to end the message with a `Signed-off-by:` trailer for the author.
    pub sign_off: bool,
}

/// Read access to the tree an edit works on (the branch tip being committed on).
pub trait TreeView {
    /// The content of the regular file at the repository-relative `path` (`apps/web/kustomization.yaml`),
    /// `None` when nothing is there; an error for a directory, symlink or submodule there, or a
    /// path that is absolute or has `..` components.
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, RepoError>;
}

/// The edit of [`Repo::commit_and_push`]: new contents by repository-relative path.
pub type EditFn<'e> = dyn FnMut(&dyn TreeView) -> Result<Vec<(String, Vec<u8>)>, String> + 'e;

/// One tree of the mirror as a [`TreeView`].
struct MirrorView<'r> {
    repo: &'r Repository,
    tree: git2::Tree<'r>,
    url: &'r str,
}

impl TreeView for MirrorView<'_> {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, RepoError> {
        check_path(self.url, path)?;
        let entry = match self.tree.get_path(Path::new(path)) {
            Ok(e) => e,
            Err(e) if e.code() == ErrorCode::NotFound => return Ok(None),
            Err(e) => return Err(git_error(self.url, "read tree entry", &e)),
        };
        let refuse = |reason| RepoError::PushPath {
            url: self.url.to_string(),
            path: path.to_string(),
            reason,
        };
        match entry.filemode() {
            MODE_FILE | MODE_EXEC => {}
            MODE_LINK => return Err(refuse("it is a symlink")),
            MODE_TREE => return Err(refuse("it is a directory")),
            _ => return Err(refuse("it is a submodule")),
        }
        let blob = self
            .repo
            .find_blob(entry.id())
            .map_err(|e| git_error(self.url, "read blob", &e))?;
        Ok(Some(blob.content().to_vec()))
    }
}

fn git_error(url: &str, step: &'static str, e: &git2::Error) -> RepoError {
    RepoError::Git {
        url: url.to_string(),
        step,
        message: e.message().to_string(),
    }
}

/// The components of a path an edit may write: relative, no empty, `.`, `..` or `.git`
/// components, no backslash or NUL.
fn check_path<'p>(url: &str, path: &'p str) -> Result<Vec<&'p str>, RepoError> {
    let refuse = |reason| RepoError::PushPath {
        url: url.to_string(),
        path: path.to_string(),
        reason,
    };
    if path.is_empty() {
        return Err(refuse("it is empty"));
    }
    if path.starts_with('/') {
        return Err(refuse("it is absolute"));
    }
    let parts: Vec<&str> = path.split('/').collect();
    for part in &parts {
        match *part {
            "" => return Err(refuse("it has an empty component")),
            "." => return Err(refuse("it has a `.` component")),
            ".." => return Err(refuse("it has a `..` component")),
            p if p.eq_ignore_ascii_case(".git") => return Err(refuse("it has a `.git` component")),
            p if p.contains(['\\', '\0']) => return Err(refuse("it has a backslash or NUL")),
            _ => {}
        }
    }
    Ok(parts)
}

/// `Signed-off-by:`-style trailer line (`Token: value`).
fn is_trailer(line: &str) -> bool {
    line.split_once(": ").is_some_and(|(k, _)| {
        !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    })
}

/// The commit message: `message` (trailing blank lines removed), with the sign-off trailer
/// when asked (joining an existing trailer block), ending in a newline.
pub fn commit_message(message: &str, author: &Signature, sign_off: bool) -> String {
    let mut msg = message.trim_end().to_string();
    if sign_off {
        let trailer = format!("Signed-off-by: {} <{}>", author.name, author.email);
        if !msg.lines().any(|l| l.trim_end() == trailer) {
            let last = msg.rsplit("\n\n").next().unwrap_or_default();
            let in_block = msg.contains("\n\n") && last.lines().all(is_trailer);
            msg.push_str(if in_block { "\n" } else { "\n\n" });
            msg.push_str(&trailer);
        }
    }
    msg.push('\n');
    msg
}

/// Whether a server's rejection of a ref update means "the branch moved": fetch and retry.
/// (`fjord set-image --push` asks the same of its pushes.)
pub fn moved_on(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    [
        "non-fast-forward",
        "fetch first",
        "failed to lock",
        "cannot lock ref",
        "failed to update ref",
        "stale info",
        "not present locally",
    ]
    .iter()
    .any(|m| r.contains(m))
}

impl Repo {
    /// Commits `edit`'s changes on top of `req.branch` (or `req.base` when the branch does not
    /// exist on the remote yet; no base: the remote's default branch) and pushes them to
    /// `refs/heads/<branch>`. `edit` reads the files it needs through the [`TreeView`] and returns
    /// new contents by path; files keep their mode (new files are `100644`). When the remote
    /// refuses the push because the branch moved, the mirror is fetched again, `edit` runs on
    /// the new tip and the push is retried, up to [`MAX_PUSH_RETRIES`] times; nothing is ever
    /// forced. Returns `Ok(None)` (and commits nothing) when the edit changes no byte.
    pub fn commit_and_push(
        &self,
        req: &CommitRequest,
        edit: &mut EditFn<'_>,
    ) -> Result<Option<Oid>, RepoError> {
        let branch_ref = format!("refs/heads/{}", req.branch);
        if req.branch.starts_with('-') || !git2::Reference::is_valid_name(&branch_ref) {
            return Err(RepoError::Push {
                url: self.display.clone(),
                branch: req.branch.to_string(),
                message: "invalid branch name".to_string(),
            });
        }
        let repo = self.lock();
        let mut reason = String::new();
        for _ in 0..=MAX_PUSH_RETRIES {
            self.fetch_locked(&repo)?;
            let parent = self.push_parent(&repo, req)?;
            let Some(commit) = self.build_commit(&repo, req, parent, edit)? else {
                return Ok(None);
            };
            match self.push_commit(&repo, commit, req.branch)? {
                None => {
                    // The mirror follows the remote; the next fetch would bring the same.
                    repo.reference(&branch_ref, commit, true, "fjord: pushed")
                        .map_err(self.git_err("update branch"))?;
                    return Ok(Some(commit));
                }
                Some(r) => reason = r,
            }
        }
        Err(RepoError::PushRejected {
            url: self.display.clone(),
            branch: req.branch.to_string(),
            attempts: MAX_PUSH_RETRIES + 1,
            reason,
        })
    }

    /// The commit to build on: the branch's tip, else the base's.
    fn push_parent(&self, repo: &Repository, req: &CommitRequest) -> Result<Oid, RepoError> {
        let peel = |name: &str| {
            repo.find_reference(name)
                .ok()
                .and_then(|r| r.peel_to_commit().ok())
                .map(|c| c.id())
        };
        if let Some(tip) = peel(&format!("refs/heads/{}", req.branch)) {
            return Ok(tip);
        }
        let base = req.base.map(str::trim).unwrap_or_default();
        let found = if base.is_empty() || base == "HEAD" {
            peel("HEAD")
        } else if base.starts_with("refs/") {
            peel(base)
        } else {
            peel(&format!("refs/heads/{base}"))
                .or_else(|| peel(&format!("refs/tags/{base}")))
                .or_else(|| {
                    let hex = base.len() >= 4 && base.bytes().all(|b| b.is_ascii_hexdigit());
                    hex.then(|| repo.revparse_single(base).ok())
                        .flatten()
                        .and_then(|o| o.peel_to_commit().ok())
                        .map(|c| c.id())
                })
        };
        found.ok_or_else(|| RepoError::NoBase {
            url: self.display.clone(),
            branch: req.branch.to_string(),
            base: base.to_string(),
        })
    }

    /// Runs the edit on `parent`'s tree and commits the result; `None` when nothing changed.
    fn build_commit(
        &self,
        repo: &Repository,
        req: &CommitRequest,
        parent: Oid,
        edit: &mut EditFn<'_>,
    ) -> Result<Option<Oid>, RepoError> {
        let parent = repo
            .find_commit(parent)
            .map_err(self.git_err("read commit"))?;
        let tree = parent.tree().map_err(self.git_err("read tree"))?;
        let old_tree = tree.id();
        let view = MirrorView {
            repo,
            tree,
            url: &self.display,
        };
        let changes = edit(&view).map_err(|message| RepoError::Edit {
            url: self.display.clone(),
            branch: req.branch.to_string(),
            message,
        })?;
        let mut new_tree = old_tree;
        for (path, content) in &changes {
            let parts = check_path(&self.display, path)?;
            new_tree = self.write_path(repo, Some(new_tree), &parts, content, path)?;
        }
        if new_tree == old_tree {
            return Ok(None);
        }
        let sig = git2::Signature::now(&req.author.name, &req.author.email)
            .map_err(self.git_err("author signature"))?;
        let message = commit_message(req.message, &req.author, req.sign_off);
        let tree = repo
            .find_tree(new_tree)
            .map_err(self.git_err("read tree"))?;
        repo.commit(None, &sig, &sig, &message, &tree, &[&parent])
            .map(Some)
            .map_err(self.git_err("commit"))
    }

    /// `tree` with the file at `parts` set to `content` (mode kept); returns the new tree's id.
    fn write_path(
        &self,
        repo: &Repository,
        tree: Option<Oid>,
        parts: &[&str],
        content: &[u8],
        path: &str,
    ) -> Result<Oid, RepoError> {
        let refuse = |reason| RepoError::PushPath {
            url: self.display.clone(),
            path: path.to_string(),
            reason,
        };
        let Some((name, rest)) = parts.split_first() else {
            return Err(refuse("it is empty"));
        };
        let existing = match tree {
            Some(t) => Some(repo.find_tree(t).map_err(self.git_err("read tree"))?),
            None => None,
        };
        let mut builder = repo
            .treebuilder(existing.as_ref())
            .map_err(self.git_err("build tree"))?;
        let current = builder
            .get(name)
            .map_err(self.git_err("build tree"))?
            .map(|e| (e.id(), e.filemode()));
        if rest.is_empty() {
            let mode = match current.map(|(_, m)| m) {
                None => MODE_FILE,
                Some(m @ (MODE_FILE | MODE_EXEC)) => m,
                Some(MODE_LINK) => return Err(refuse("it is a symlink")),
                Some(MODE_TREE) => return Err(refuse("it is a directory")),
                Some(_) => return Err(refuse("it is a submodule")),
            };
            let blob = repo.blob(content).map_err(self.git_err("write blob"))?;
            builder
                .insert(name, blob, mode)
                .map_err(self.git_err("build tree"))?;
        } else {
            let sub = match current {
                None => None,
                Some((id, MODE_TREE)) => Some(id),
                Some((_, MODE_LINK)) => return Err(refuse("a parent directory is a symlink")),
                Some(_) => return Err(refuse("a parent directory is a file")),
            };
            let new_sub = self.write_path(repo, sub, rest, content, path)?;
            builder
                .insert(name, new_sub, MODE_TREE)
                .map_err(self.git_err("build tree"))?;
        }
        builder.write().map_err(self.git_err("write tree"))
    }

    /// Pushes `commit` to `refs/heads/<branch>` (never forced). `Ok(None)`: pushed;
    /// `Ok(Some(reason))`: refused because the branch moved (fetch and retry).
    fn push_commit(
        &self,
        repo: &Repository,
        commit: Oid,
        branch: &str,
    ) -> Result<Option<String>, RepoError> {
        let (remote_url, creds, known) = self.transport_settings()?;
        let host_problem: RefCell<Option<(HostKeyVerdict, String)>> = RefCell::new(None);
        let auth_attempts = Cell::new(0u32);
        let auth_refused = Cell::new(false);
        let rejected: RefCell<Option<String>> = RefCell::new(None);
        let mut cb = callbacks(
            &creds,
            &known,
            &remote_url,
            &host_problem,
            (&auth_attempts, &auth_refused),
        );
        cb.push_update_reference(|_refname, status| {
            if let Some(s) = status {
                *rejected.borrow_mut() = Some(s.to_string());
            }
            Ok(())
        });
        let mut po = PushOptions::new();
        po.remote_callbacks(cb);
        let mut remote = repo
            .remote_anonymous(&self.url)
            .map_err(self.git_err("create remote"))?;
        let spec = format!("{commit}:refs/heads/{branch}");
        if let Err(e) = remote.push(&[spec.as_str()], Some(&mut po)) {
            if e.code() == ErrorCode::NotFastForward || moved_on(e.message()) {
                return Ok(Some(redact_message(e.message(), &self.url)));
            }
            let problem = host_problem.borrow_mut().take();
            return Err(self.push_error(e, problem, auth_refused.get(), &remote_url, branch));
        }
        drop(po);
        let rejection = rejected.borrow_mut().take();
        match rejection {
            None => Ok(None),
            Some(r) if moved_on(&r) => Ok(Some(redact_message(&r, &self.url))),
            Some(r) => Err(RepoError::Push {
                url: self.display.clone(),
                branch: branch.to_string(),
                message: format!("rejected: {}", redact_message(&r, &self.url)),
            }),
        }
    }

    fn push_error(
        &self,
        e: git2::Error,
        host_problem: Option<(HostKeyVerdict, String)>,
        auth_refused: bool,
        remote: &RemoteUrl,
        branch: &str,
    ) -> RepoError {
        let url = self.display.clone();
        if let Some((verdict, host)) = host_problem {
            return match verdict {
                HostKeyVerdict::Mismatch => RepoError::HostKeyMismatch { url, host },
                HostKeyVerdict::Revoked => RepoError::HostKeyRevoked { url, host },
                _ => RepoError::UnknownHostKey { url, host },
            };
        }
        let auth_code = e.code() == ErrorCode::Auth
            || (remote.transport == Transport::Http && e.message().contains("401"));
        if auth_code || auth_refused {
            return RepoError::PushAuthFailed { url };
        }
        RepoError::Push {
            url,
            branch: branch.to_string(),
            message: redact_message(e.message(), &self.url),
        }
    }
}

/// Whether `path` names a file [`TreeView`]s and [`Repo::commit_and_push`] accept (see
/// [`TreeView::read`]).
pub fn valid_path(path: &str) -> bool {
    check_path("", path).is_ok()
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn paths_are_checked() {
        for ok in [
            "a.yaml",
            "apps/web/kustomization.yaml",
            ".argocd-source-web.yaml",
        ] {
            assert!(valid_path(ok), "{ok}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a//b",
            "a/",
            "./a",
            ".git/config",
            "a\\b",
        ] {
            assert!(!valid_path(bad), "{bad:?}");
        }
        let err = check_path("repo", "a/../../b").unwrap_err();
        assert!(err.to_string().contains("\"a/../../b\""), "{err}");
        assert!(err.to_string().contains(".."), "{err}");
    }

    #[test]
    fn sign_off_trailer() {
        let me = Signature {
            name: "Bot".into(),
            email: "bot@example.com".into(),
        };
        assert_eq!(commit_message("fix\n\n", &me, false), "fix\n");
        assert_eq!(
            commit_message("fix", &me, true),
            "fix\n\nSigned-off-by: Bot <bot@example.com>\n"
        );
        assert_eq!(
            commit_message("fix\n\nCo-authored-by: X <x@y>", &me, true),
            "fix\n\nCo-authored-by: X <x@y>\nSigned-off-by: Bot <bot@example.com>\n"
        );
        let signed = "fix\n\nSigned-off-by: Bot <bot@example.com>\n";
        assert_eq!(commit_message(signed, &me, true), signed);
    }

    #[test]
    fn rejections_that_mean_the_branch_moved() {
        assert!(moved_on("non-fast-forward"));
        assert!(moved_on("[rejected] (fetch first)"));
        assert!(moved_on("failed to update ref"));
        assert!(!moved_on("pre-receive hook declined"));
    }
}
