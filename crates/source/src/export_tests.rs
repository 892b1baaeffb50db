//! Hostile trees against [`crate::Repo::checkout_tree`]: trees written object by object (as
//! `git mktree` would), so that names libgit2's index refuses (`..`, `a/b`, `.git`) can be
//! tested; every refusal leaves nothing written, outside the cache or inside it.

use std::path::{Path, PathBuf};

use git2::{ObjectType, Oid, Repository, Signature};

use crate::{ExportLimits, RepoCache, RepoError};

/// A tree entry: mode, name, object.
type Entry<'a> = (&'a str, &'a str, Oid);

struct Fixture {
    tmp: tempfile::TempDir,
    origin: Repository,
    cache: RepoCache,
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let origin = Repository::init_bare(tmp.path().join("origin.git")).unwrap();
        let cache = RepoCache::new(tmp.path().join("cache")).unwrap();
        Fixture { tmp, origin, cache }
    }

    fn blob(&self, content: &[u8]) -> Oid {
        self.origin.blob(content).unwrap()
    }

    /// A raw tree object: `<mode> <name>\0<20-byte id>` per entry, in Git's order (a tree
    /// sorts as if its name ended with `/`).
    fn tree(&self, entries: &[Entry<'_>]) -> Oid {
        let mut sorted = entries.to_vec();
        let key = |(mode, name, _): &Entry<'_>| {
            let mut k = name.as_bytes().to_vec();
            if *mode == "40000" {
                k.push(b'/');
            }
            k
        };
        sorted.sort_by_key(key);
        let mut raw = Vec::new();
        for (mode, name, oid) in sorted {
            raw.extend_from_slice(mode.as_bytes());
            raw.push(b' ');
            raw.extend_from_slice(name.as_bytes());
            raw.push(0);
            raw.extend_from_slice(oid.as_bytes());
        }
        self.origin
            .odb()
            .unwrap()
            .write(ObjectType::Tree, &raw)
            .unwrap()
    }

    /// Commits `tree` on `main` (after the current head) and returns the commit as the
    /// cache's mirror sees it after a fetch.
    fn commit(&self, tree: Oid) -> (std::sync::Arc<crate::Repo>, Oid) {
        let sig = Signature::new("t", "t@example.com", &git2::Time::new(0, 0)).unwrap();
        let tree = self.origin.find_tree(tree).unwrap();
        let parent = self
            .origin
            .refname_to_id("refs/heads/main")
            .ok()
            .map(|id| self.origin.find_commit(id).unwrap());
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        self.origin
            .commit(Some("refs/heads/main"), &sig, &sig, "c", &tree, &parents)
            .unwrap();
        let repo = self
            .cache
            .repo(&self.tmp.path().join("origin.git").to_string_lossy())
            .unwrap();
        repo.fetch().unwrap();
        let oid = repo.resolve("main").unwrap();
        (repo, oid)
    }

    fn cache_dir(&self) -> PathBuf {
        self.tmp.path().join("cache")
    }

    /// Every file and symlink below the export directory.
    fn exported(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        walk(&self.cache_dir().join("trees"), &mut out);
        out
    }

    /// Commits `entries` as the root tree and exports `path`; asserts the export is refused,
    /// nothing was written and the error names no cache path; returns the error.
    fn refused(&self, entries: &[Entry<'_>], path: &str) -> RepoError {
        let before = self.exported();
        let (repo, oid) = self.commit(self.tree(entries));
        let err = repo.checkout_tree(oid, path).unwrap_err();
        assert_eq!(self.exported(), before, "{err}");
        let shown = err.to_string();
        assert!(
            !shown.contains(&*self.cache_dir().to_string_lossy()),
            "{shown}"
        );
        assert!(shown.contains(&oid.to_string()), "{shown}");
        assert!(!self.tmp.path().join("cache/pwned").exists());
        assert!(!self.tmp.path().join("pwned").exists());
        err
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let t = e.file_type().unwrap();
        if t.is_dir() {
            walk(&e.path(), out);
        } else {
            out.push(e.path());
        }
    }
    out.sort();
}

const TREE: &str = "40000";
const FILE: &str = "100644";
const LINK: &str = "120000";

fn unsafe_path(err: &RepoError) -> &str {
    match err {
        RepoError::UnsafeEntry { path, .. } => path,
        other => panic!("not an unsafe-entry refusal: {other}"),
    }
}

#[test]
fn dot_dot_and_dot_entries_are_refused_before_anything_is_written() {
    let f = Fixture::new();
    let payload = f.tree(&[(FILE, "pwned", f.blob(b"root was here\n"))]);
    let good = f.blob(b"kind: ConfigMap\n");
    // `..` twice up reaches the cache directory, once the trees directory.
    let up = f.tree(&[(TREE, "..", payload)]);
    let err = f.refused(&[(FILE, "a.yaml", good), (TREE, "..", up)], ".");
    assert_eq!(unsafe_path(&err), "..");
    assert!(err.to_string().contains("relative path component"), "{err}");
    let err = f.refused(&[(TREE, ".", payload), (FILE, "a.yaml", good)], ".");
    assert_eq!(unsafe_path(&err), ".");
    // Deeper down, the path names the entry.
    let sub = f.tree(&[(TREE, "..", payload)]);
    let err = f.refused(&[(TREE, "apps", sub)], "apps");
    assert_eq!(unsafe_path(&err), "apps/..");
}

#[test]
fn slash_backslash_and_git_names_are_refused() {
    let f = Fixture::new();
    let blob = f.blob(b"x\n");
    let sub = f.tree(&[(FILE, "config", blob)]);
    for (mode, name, oid) in [
        (FILE, "a/b", blob),
        (FILE, "/etc/passwd", blob),
        (FILE, "..\\x", blob),
        (TREE, ".git", sub),
        (TREE, ".GIT", sub),
        (FILE, ".Git", blob),
    ] {
        let err = f.refused(&[(FILE, "ok.yaml", blob), (mode, name, oid)], ".");
        assert_eq!(unsafe_path(&err), name, "{err}");
    }
}

#[test]
fn case_folding_and_duplicate_names_are_refused() {
    let f = Fixture::new();
    let (a, b) = (f.blob(b"a\n"), f.blob(b"b\n"));
    let err = f.refused(&[(FILE, "Deploy.yaml", a), (FILE, "deploy.yaml", b)], ".");
    assert!(err.to_string().contains("case is ignored"), "{err}");
    let err = f.refused(&[(FILE, "x", a), (FILE, "x", b)], ".");
    assert_eq!(unsafe_path(&err), "x");
}

#[test]
fn symlinks_leaving_the_repository_are_refused_also_through_chains() {
    let f = Fixture::new();
    let ok = f.blob(b"kind: ConfigMap\n");
    let link = |t: &[u8]| f.blob(t);
    for entries in [
        vec![(LINK, "l", link(b"../../etc/passwd"))],
        vec![(LINK, "l", link(b"/etc/passwd"))],
        // x/d is the root; x/d/.. is the root's parent, though it reads as `x`.
        vec![
            (TREE, "x", f.tree(&[(LINK, "d", link(b".."))])),
            (LINK, "l", link(b"x/d/..")),
        ],
        // A chain whose last link escapes.
        vec![(LINK, "a", link(b"b")), (LINK, "b", link(b"c/../.."))],
    ] {
        let mut entries = entries;
        entries.push((FILE, "cm.yaml", ok));
        let err = f.refused(&entries, ".");
        assert!(matches!(err, RepoError::SymlinkEscapes { .. }), "{err}");
    }
    let err = f.refused(&[(LINK, "a", link(b"b")), (LINK, "b", link(b"a"))], ".");
    assert!(err.to_string().contains("loops"), "{err}");
}

#[test]
fn no_entry_writes_through_a_symlink() {
    let f = Fixture::new();
    let dot = f.blob(b".");
    let payload = f.tree(&[(FILE, "pwned", f.blob(b"x\n"))]);
    // `link -> .` followed by a directory of the same name, or by `link/x`.
    let err = f.refused(&[(LINK, "link", dot), (TREE, "link", payload)], ".");
    assert_eq!(unsafe_path(&err), "link");
    let err = f.refused(
        &[(LINK, "link", dot), (FILE, "link/pwned", f.blob(b"x\n"))],
        ".",
    );
    assert_eq!(unsafe_path(&err), "link/pwned");
    // A symlink to a directory out of the export, then a tree of the same name in another case.
    let up = f.blob(b"../..");
    let err = f.refused(&[(LINK, "Out", up), (TREE, "out", payload)], ".");
    assert!(matches!(
        err,
        RepoError::UnsafeEntry { .. } | RepoError::SymlinkEscapes { .. }
    ));
}

#[test]
fn blob_reuse_bombs_and_file_counts_hit_the_limits_before_writing() {
    let f = Fixture::new();
    f.cache.set_export_limits(ExportLimits {
        max_bytes: 1024 * 1024,
        max_files: 100,
    });
    let big = f.blob(&vec![b'x'; 64 * 1024]);
    let names: Vec<String> = (0..20).map(|i| format!("f{i:02}.yaml")).collect();
    let entries: Vec<Entry<'_>> = names.iter().map(|n| (FILE, n.as_str(), big)).collect();
    let err = f.refused(&entries, ".");
    let shown = err.to_string();
    assert!(
        shown.contains(
            "exported bytes per revision: 1.2 MiB (1310720 bytes) over the limit of 1 MiB"
        ),
        "{shown}"
    );
    let tiny = f.blob(b"a\n");
    let names: Vec<String> = (0..101).map(|i| format!("f{i:03}")).collect();
    let entries: Vec<Entry<'_>> = names.iter().map(|n| (FILE, n.as_str(), tiny)).collect();
    let err = f.refused(&entries, ".");
    assert!(
        err.to_string()
            .contains("files per revision: more than 100 over the limit of 100"),
        "{err}"
    );
    // Directories count, so a tree reusing one subtree at every level cannot explode.
    let mut t = f.tree(&[(FILE, "a", tiny)]);
    for _ in 0..8 {
        let names: Vec<String> = (0..4).map(|i| format!("d{i}")).collect();
        let e: Vec<Entry<'_>> = names.iter().map(|n| (TREE, n.as_str(), t)).collect();
        t = f.tree(&e);
    }
    let err = f.refused(&[(TREE, "bomb", t)], ".");
    assert!(matches!(err, RepoError::ExportLimit { .. }), "{err}");
    // Within the limits the same kind of tree exports.
    f.cache.set_export_limits(ExportLimits::default());
    let (repo, oid) = f.commit(f.tree(&entries));
    let dir = repo.checkout_tree(oid, ".").unwrap();
    assert_eq!(std::fs::read(dir.join("f100")).unwrap(), b"a\n");
}

#[test]
fn deep_nesting_is_refused() {
    let f = Fixture::new();
    let mut t = f.tree(&[(FILE, "a", f.blob(b"a\n"))]);
    for _ in 0..200 {
        t = f.tree(&[(TREE, "d", t)]);
    }
    let err = f.refused(&[(TREE, "top", t)], ".");
    assert!(err.to_string().contains("nest deeper"), "{err}");
}

#[test]
fn a_refused_revision_keeps_the_previous_export() {
    let f = Fixture::new();
    let cm = f.blob(b"kind: ConfigMap\n");
    let exe = f.blob(b"#!/bin/sh\n");
    let good = f.tree(&[
        (
            TREE,
            "app",
            f.tree(&[(FILE, "cm.yaml", cm), ("100755", "run.sh", exe)]),
        ),
        (LINK, "link.yaml", f.blob(b"app/cm.yaml")),
        ("160000", "vendored", cm),
    ]);
    let (repo, first) = f.commit(good);
    let dir = repo.checkout_tree(first, ".").unwrap();
    assert_eq!(
        std::fs::read(dir.join("link.yaml")).unwrap(),
        b"kind: ConfigMap\n"
    );
    assert!(dir.join("vendored").is_dir());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("app/run.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111);
    }
    let payload = f.tree(&[(FILE, "pwned", cm)]);
    let err = f.refused(&[(TREE, "app", payload), (TREE, "..", payload)], ".");
    assert_eq!(unsafe_path(&err), "..");
    assert_eq!(repo.checkout_tree(first, ".").unwrap(), dir);
    assert_eq!(
        std::fs::read(dir.join("app/cm.yaml")).unwrap(),
        b"kind: ConfigMap\n"
    );
}
