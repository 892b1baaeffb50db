//! [`Repo::commit_and_push`] against a local bare repository (`file://`), built with libgit2.

use std::cell::Cell;
use std::path::{Path, PathBuf};

use git2::{Oid, Repository};

use crate::push::{CommitRequest, Signature, TreeView, MAX_PUSH_RETRIES};
use crate::{RepoCache, RepoError};

const KUSTOMIZATION: &str = "images:\n- name: web\n  newTag: \"1.0\"\n";

struct Fixture {
    _tmp: tempfile::TempDir,
    remote: PathBuf,
    cache: RepoCache,
    url: String,
}

/// Writes `files` (path, content, mode) as a commit on `refs/heads/<branch>` of `repo`, on top
/// of the branch's tip; returns the commit.
fn commit_files(repo: &Repository, branch: &str, files: &[(&str, &[u8], i32)], msg: &str) -> Oid {
    let refname = format!("refs/heads/{branch}");
    let parent = repo
        .find_reference(&refname)
        .ok()
        .and_then(|r| r.peel_to_commit().ok());
    let mut index = git2::Index::new().unwrap();
    if let Some(p) = &parent {
        index.read_tree(&p.tree().unwrap()).unwrap();
    }
    for (path, content, mode) in files {
        let blob = repo.blob(content).unwrap();
        let entry = git2::IndexEntry {
            ctime: git2::IndexTime::new(0, 0),
            mtime: git2::IndexTime::new(0, 0),
            dev: 0,
            ino: 0,
            mode: *mode as u32,
            uid: 0,
            gid: 0,
            file_size: content.len() as u32,
            id: blob,
            flags: 0,
            flags_extended: 0,
            path: path.as_bytes().to_vec(),
        };
        index.add(&entry).unwrap();
    }
    let tree = repo.find_tree(index.write_tree_to(repo).unwrap()).unwrap();
    let sig = git2::Signature::now("Other", "other@example.com").unwrap();
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    repo.commit(Some(&refname), &sig, &sig, msg, &tree, &parents)
        .unwrap()
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let remote = tmp.path().join("remote.git");
    let repo = Repository::init_bare(&remote).unwrap();
    repo.set_head("refs/heads/main").unwrap();
    let main = commit_files(
        &repo,
        "main",
        &[
            (
                "apps/web/kustomization.yaml",
                KUSTOMIZATION.as_bytes(),
                0o100644,
            ),
            ("run.sh", b"#!/bin/sh\necho 1\n", 0o100755),
            ("link", b"apps/web", 0o120000),
        ],
        "initial",
    );
    repo.reference("refs/heads/dev", main, false, "branch")
        .unwrap();
    commit_files(&repo, "dev", &[("dev.txt", b"dev\n", 0o100644)], "dev");
    let cache = RepoCache::new(tmp.path().join("cache")).unwrap();
    let url = format!("file://{}", remote.display());
    Fixture {
        _tmp: tmp,
        remote,
        cache,
        url,
    }
}

impl Fixture {
    fn remote(&self) -> Repository {
        Repository::open_bare(&self.remote).unwrap()
    }
    fn tip(&self, branch: &str) -> Oid {
        self.remote()
            .find_reference(&format!("refs/heads/{branch}"))
            .unwrap()
            .target()
            .unwrap()
    }
    fn file(&self, commit: Oid, path: &str) -> (Vec<u8>, i32) {
        let repo = self.remote();
        let tree = repo.find_commit(commit).unwrap().tree().unwrap();
        let entry = tree.get_path(Path::new(path)).unwrap();
        let blob = repo.find_blob(entry.id()).unwrap();
        (blob.content().to_vec(), entry.filemode())
    }
}

fn request<'a>(branch: &'a str, base: Option<&'a str>) -> CommitRequest<'a> {
    CommitRequest {
        branch,
        base,
        message: "build: web to 2.0",
        author: Signature {
            name: "Image Bot".into(),
            email: "bot@example.com".into(),
        },
        sign_off: true,
    }
}

/// An edit bumping the tag in the kustomization and touching `run.sh`.
fn bump(view: &dyn TreeView) -> Result<Vec<(String, Vec<u8>)>, String> {
    let k = view
        .read("apps/web/kustomization.yaml")
        .map_err(|e| e.to_string())?
        .ok_or("no kustomization")?;
    let text = String::from_utf8(k).map_err(|e| e.to_string())?;
    let run = view.read("run.sh").map_err(|e| e.to_string())?.unwrap();
    assert_eq!(view.read("missing/file.yaml").unwrap(), None);
    let mut run2 = run.clone();
    run2.extend_from_slice(b"echo 2\n");
    Ok(vec![
        (
            "apps/web/kustomization.yaml".into(),
            text.replace("1.0", "2.0").into_bytes(),
        ),
        ("run.sh".into(), run2),
        ("apps/new/file.yaml".into(), b"kind: ConfigMap\n".to_vec()),
    ])
}

#[test]
fn commits_and_pushes_an_edit_keeping_modes() {
    let f = fixture();
    let before = f.tip("main");
    let repo = f.cache.repo(&f.url).unwrap();
    let oid = repo
        .commit_and_push(&request("main", None), &mut bump)
        .unwrap()
        .expect("a commit");
    assert_eq!(f.tip("main"), oid);
    let remote = f.remote();
    let commit = remote.find_commit(oid).unwrap();
    assert_eq!(commit.parent_ids().collect::<Vec<_>>(), vec![before]);
    assert_eq!(commit.author().name().ok(), Some("Image Bot"));
    assert_eq!(commit.committer().email().ok(), Some("bot@example.com"));
    assert_eq!(
        commit.message().ok(),
        Some("build: web to 2.0\n\nSigned-off-by: Image Bot <bot@example.com>\n")
    );
    let (k, mode) = f.file(oid, "apps/web/kustomization.yaml");
    assert_eq!(
        String::from_utf8(k).unwrap(),
        KUSTOMIZATION.replace("1.0", "2.0")
    );
    assert_eq!(mode, 0o100644);
    assert_eq!(
        f.file(oid, "run.sh"),
        (b"#!/bin/sh\necho 1\necho 2\n".to_vec(), 0o100755)
    );
    assert_eq!(f.file(oid, "link"), (b"apps/web".to_vec(), 0o120000));
    assert_eq!(f.file(oid, "apps/new/file.yaml").1, 0o100644);
    // The mirror follows at once.
    assert_eq!(repo.resolve("main").unwrap(), oid);
    assert_eq!(f.tip("dev"), repo.resolve("dev").unwrap());
}

#[test]
fn no_change_means_no_commit() {
    let f = fixture();
    let before = f.tip("main");
    let repo = f.cache.repo(&f.url).unwrap();
    let mut same = |view: &dyn TreeView| -> Result<Vec<(String, Vec<u8>)>, String> {
        let k = view.read("apps/web/kustomization.yaml").unwrap().unwrap();
        Ok(vec![("apps/web/kustomization.yaml".to_string(), k)])
    };
    assert_eq!(
        repo.commit_and_push(&request("main", None), &mut same)
            .unwrap(),
        None
    );
    let mut nothing = |_: &dyn TreeView| Ok(Vec::new());
    assert_eq!(
        repo.commit_and_push(&request("main", None), &mut nothing)
            .unwrap(),
        None
    );
    assert_eq!(f.tip("main"), before);
}

#[test]
fn a_new_branch_starts_at_its_base() {
    let f = fixture();
    let repo = f.cache.repo(&f.url).unwrap();
    let main = f.tip("main");
    let dev = f.tip("dev");
    let a = repo
        .commit_and_push(&request("image-updater/a", None), &mut bump)
        .unwrap()
        .unwrap();
    assert_eq!(f.tip("image-updater/a"), a);
    assert_eq!(
        f.remote().find_commit(a).unwrap().parent_id(0).unwrap(),
        main
    );
    let b = repo
        .commit_and_push(&request("image-updater/b", Some("dev")), &mut bump)
        .unwrap()
        .unwrap();
    assert_eq!(
        f.remote().find_commit(b).unwrap().parent_id(0).unwrap(),
        dev
    );
    // The branch exists now: the next commit goes on top of it, whatever the base.
    let c = repo
        .commit_and_push(&request("image-updater/b", Some("main")), &mut |_| {
            Ok(vec![("extra.txt".to_string(), b"x\n".to_vec())])
        })
        .unwrap()
        .unwrap();
    assert_eq!(f.remote().find_commit(c).unwrap().parent_id(0).unwrap(), b);
    assert_eq!(f.tip("main"), main);
    let err = repo
        .commit_and_push(&request("other", Some("no-such-base")), &mut bump)
        .unwrap_err();
    assert!(matches!(err, RepoError::NoBase { .. }), "{err:?}");
    assert!(err.to_string().contains("no-such-base"), "{err}");
}

#[test]
fn bad_paths_are_refused_and_nothing_is_pushed() {
    let f = fixture();
    let before = f.tip("main");
    let repo = f.cache.repo(&f.url).unwrap();
    for bad in [
        "../outside.yaml",
        "/etc/passwd",
        "apps/../../x",
        "link",
        "link/x",
        "apps",
        ".git/config",
    ] {
        let err = repo
            .commit_and_push(&request("main", None), &mut |_| {
                Ok(vec![(bad.to_string(), b"x".to_vec())])
            })
            .unwrap_err();
        assert!(matches!(err, RepoError::PushPath { .. }), "{bad}: {err:?}");
        assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
    }
    let err = repo
        .commit_and_push(&request("main", None), &mut |v| {
            v.read("link")
                .map(|_| Vec::new())
                .map_err(|e| e.to_string())
        })
        .unwrap_err();
    assert!(err.to_string().contains("symlink"), "{err}");
    let err = repo
        .commit_and_push(&request("main", None), &mut |_| Err("bad image arg".into()))
        .unwrap_err();
    assert!(matches!(err, RepoError::Edit { .. }), "{err:?}");
    assert!(err.to_string().contains("bad image arg"), "{err}");
    assert_eq!(f.tip("main"), before);
}

#[test]
fn a_concurrent_push_is_retried_on_the_new_tip() {
    let f = fixture();
    let repo = f.cache.repo(&f.url).unwrap();
    let calls = Cell::new(0);
    let mut intruder = None;
    let oid = repo
        .commit_and_push(&request("main", None), &mut |view| {
            calls.set(calls.get() + 1);
            if calls.get() == 1 {
                // Someone else pushes between our fetch and our push.
                intruder = Some(commit_files(
                    &f.remote(),
                    "main",
                    &[("other.txt", b"theirs\n", 0o100644)],
                    "theirs",
                ));
            } else {
                assert_eq!(
                    view.read("other.txt").unwrap().as_deref(),
                    Some(&b"theirs\n"[..])
                );
            }
            bump(view)
        })
        .unwrap()
        .unwrap();
    assert_eq!(calls.get(), 2);
    let intruder = intruder.unwrap();
    assert_eq!(f.tip("main"), oid);
    let remote = f.remote();
    let commit = remote.find_commit(oid).unwrap();
    assert_eq!(
        commit.parent_id(0).unwrap(),
        intruder,
        "rebased on their commit"
    );
    assert_eq!(f.file(oid, "other.txt").0, b"theirs\n");
    assert_eq!(f.file(oid, "run.sh").0, b"#!/bin/sh\necho 1\necho 2\n");
}

#[test]
fn a_branch_that_keeps_moving_is_never_forced() {
    let f = fixture();
    let repo = f.cache.repo(&f.url).unwrap();
    let calls = Cell::new(0);
    let mut last = None;
    let err = repo
        .commit_and_push(&request("main", None), &mut |view| {
            calls.set(calls.get() + 1);
            let name = format!("other-{}.txt", calls.get());
            last = Some(commit_files(
                &f.remote(),
                "main",
                &[(name.as_str(), b"theirs\n", 0o100644)],
                "theirs",
            ));
            bump(view)
        })
        .unwrap_err();
    assert!(
        matches!(err, RepoError::PushRejected { attempts, .. } if attempts == MAX_PUSH_RETRIES + 1),
        "{err:?}"
    );
    assert_eq!(calls.get(), MAX_PUSH_RETRIES + 1);
    assert_eq!(f.tip("main"), last.unwrap(), "their commits were kept");
}
