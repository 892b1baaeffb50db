//! Git repositories made with the `git` binary: a working copy pushing to a bare repository
//! under a folder the git servers export.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs git in `dir` with a fixed identity, no signing and no system or user configuration;
/// panics with its stderr on failure; returns stdout trimmed.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "tag.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The folder of git's helper programs (`git --exec-path`: `git-daemon`, `git-http-backend`).
pub fn exec_path() -> PathBuf {
    PathBuf::from(git(Path::new("/"), &["--exec-path"]))
}

/// A Git repository: a working copy pushing to a bare repository `root/<rel>`, which a test
/// serves with one of the servers; everything in one temporary folder.
pub struct GitRepo {
    tmp: tempfile::TempDir,
    /// The working copy.
    pub work: PathBuf,
    /// The folder the servers export.
    pub root: PathBuf,
    /// The bare repository.
    pub bare: PathBuf,
}

impl GitRepo {
    /// An empty repository at `root/<rel>` (`shop.git`, `org/config.git`), both sides on `main`.
    pub fn empty(rel: &str) -> GitRepo {
        let tmp = crate::tempdir::tempdir("git");
        let work = tmp.path().join("work");
        let root = tmp.path().join("served");
        let bare = root.join(rel);
        std::fs::create_dir_all(&work).expect("make the working copy");
        std::fs::create_dir_all(&bare).expect("make the bare repository");
        git(&bare, &["init", "-q", "--bare", "-b", "main"]);
        git(&work, &["init", "-q", "-b", "main"]);
        GitRepo {
            tmp,
            work,
            root,
            bare,
        }
    }

    /// A repository at `root/<rel>` holding `files`, committed and pushed on `main`.
    pub fn new(rel: &str, files: &[(&str, String)]) -> GitRepo {
        let repo = GitRepo::empty(rel);
        for (rel, text) in files {
            repo.write(rel, text);
        }
        repo.commit_push("initial");
        repo
    }

    /// Runs git in the working copy.
    pub fn git(&self, args: &[&str]) -> String {
        git(&self.work, args)
    }

    /// Writes a file of the working copy.
    pub fn write(&self, rel: &str, text: &str) {
        let p = self.work.join(rel);
        std::fs::create_dir_all(p.parent().expect("a file in a folder")).expect("make folder");
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    }

    /// Removes a file of the working copy.
    pub fn remove(&self, rel: &str) {
        std::fs::remove_file(self.work.join(rel)).expect("remove a file of the working copy");
    }

    /// Commits everything (there must be a change); returns the commit id.
    pub fn commit(&self, msg: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", msg]);
        self.head()
    }

    /// Force-pushes every branch and tag to the bare repository.
    pub fn push(&self) {
        let bare = self.bare.to_str().expect("utf-8 path");
        self.git(&["push", "-q", "--force", bare, "--all"]);
        self.git(&["push", "-q", "--force", bare, "--tags"]);
    }

    /// Commits everything (maybe nothing), force-pushes `main`, returns the commit id.
    pub fn commit_push(&self, msg: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", msg]);
        let bare = self.bare.to_str().expect("utf-8 path");
        self.git(&["push", "-q", "--force", bare, "main"]);
        self.head()
    }

    /// The working copy's HEAD commit.
    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"])
    }

    /// The commit `rev` names in the working copy.
    pub fn rev(&self, rev: &str) -> String {
        self.git(&["rev-parse", &format!("{rev}^{{commit}}")])
    }

    /// A scratch folder next to the repository (for keys, server configuration).
    pub fn scratch(&self, name: &str) -> PathBuf {
        let p = self.tmp.path().join(name);
        std::fs::create_dir_all(&p).expect("make a scratch folder");
        p
    }
}
