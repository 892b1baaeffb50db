//! [`RepoCache::retain`] against local repositories (`file://`), built with libgit2.

use std::path::Path;
use std::time::Duration;

use git2::{Repository, Signature};

use super::*;

/// A repository at `dir` with one commit on `main` holding a file of `size` bytes; its URL.
fn remote(dir: &Path, size: usize) -> String {
    let repo = Repository::init(dir).unwrap();
    let blob = repo.blob(&vec![b'x'; size]).unwrap();
    let mut tb = repo.treebuilder(None).unwrap();
    tb.insert("data.txt", blob, 0o100644).unwrap();
    let tree = repo.find_tree(tb.write().unwrap()).unwrap();
    let sig = Signature::now("t", "t@example.com").unwrap();
    repo.commit(Some("refs/heads/main"), &sig, &sig, "init", &tree, &[])
        .unwrap();
    repo.set_head("refs/heads/main").unwrap();
    format!("file://{}", dir.display())
}

struct Fixture {
    _tmp: tempfile::TempDir,
    cache: RepoCache,
    urls: Vec<String>,
}

fn fixture(sizes: &[usize]) -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let cache = RepoCache::new(tmp.path().join("cache")).unwrap();
    let urls = sizes
        .iter()
        .enumerate()
        .map(|(i, s)| remote(&tmp.path().join(format!("r{i}")), *s))
        .collect();
    Fixture {
        _tmp: tmp,
        cache,
        urls,
    }
}

impl Fixture {
    /// Fetches and exports `url` (dropping the mirror handle) and returns its mirror directory.
    fn use_repo(&self, url: &str) -> std::path::PathBuf {
        let repo = self.cache.repo(url).unwrap();
        repo.fetch().unwrap();
        let oid = repo.resolve("main").unwrap();
        repo.checkout_tree(oid, ".").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        repo.mirror_dir().to_path_buf()
    }
}

#[test]
fn mirrors_no_app_uses_are_removed_with_their_trees() {
    let f = fixture(&[10, 10]);
    let a = f.use_repo(&f.urls[0]);
    let b = f.use_repo(&f.urls[1]);
    let trees_b = f.cache.root().join("trees").join(b.file_name().unwrap());
    assert!(trees_b.is_dir());
    let report = f.cache.retain(&[f.urls[0].as_str()], u64::MAX).unwrap();
    assert_eq!(report.evicted.len(), 1);
    assert_eq!(report.evicted[0].reason, EvictReason::Unused);
    assert_eq!(report.evicted[0].url.as_deref(), Some(f.urls[1].as_str()));
    assert!(a.is_dir());
    assert!(!b.exists());
    assert!(!trees_b.exists());
    // Nothing left behind under a temporary name.
    let leftovers = fs::read_dir(f.cache.root().join("mirrors"))
        .unwrap()
        .count();
    assert_eq!(leftovers, 1);
}

#[test]
fn a_url_spelled_differently_still_counts_as_used() {
    let f = fixture(&[10]);
    let a = f.use_repo(&f.urls[0]);
    let other_spelling = format!("{}.git", f.urls[0]);
    let report = f.cache.retain(&[other_spelling], u64::MAX).unwrap();
    assert!(report.evicted.is_empty(), "{report:?}");
    assert!(a.is_dir());
}

#[test]
fn a_mirror_held_right_now_is_never_evicted() {
    let f = fixture(&[10]);
    let held = f.cache.repo(&f.urls[0]).unwrap();
    held.fetch().unwrap();
    let none: [&str; 0] = [];
    let report = f.cache.retain(&none, 1).unwrap();
    assert!(report.evicted.is_empty());
    assert_eq!(report.busy, 1);
    assert!(held.mirror_dir().is_dir());
    drop(held);
    let report = f.cache.retain(&none, 1).unwrap();
    assert_eq!(report.evicted.len(), 1);
    assert_eq!(report.total_bytes, 0);
}

#[test]
fn the_least_recently_used_mirror_goes_first_beyond_the_maximum() {
    let f = fixture(&[50_000, 50_000, 50_000]);
    let dirs: Vec<_> = f.urls.iter().map(|u| f.use_repo(u)).collect();
    // Use the first one again: the second is now the least recently used.
    f.use_repo(&f.urls[0]);
    let all = f.cache.retain(&f.urls, u64::MAX).unwrap();
    assert!(all.evicted.is_empty());
    let max = all.total_bytes - 1;
    let report = f.cache.retain(&f.urls, max).unwrap();
    assert_eq!(report.evicted.len(), 1, "{report:?}");
    assert_eq!(report.evicted[0].reason, EvictReason::OverSize);
    assert!(report.total_bytes <= max);
    assert!(dirs[0].is_dir() && dirs[2].is_dir());
    assert!(!dirs[1].exists());
}

#[test]
fn an_evicted_mirror_comes_back_empty_and_is_fetched_again() {
    let f = fixture(&[10]);
    f.use_repo(&f.urls[0]);
    let none: [&str; 0] = [];
    assert_eq!(f.cache.retain(&none, u64::MAX).unwrap().evicted.len(), 1);
    let repo = f.cache.repo(&f.urls[0]).unwrap();
    assert!(!repo.has_fetched());
    assert!(repo.resolve("main").is_err());
    repo.fetch().unwrap();
    assert!(repo.has_fetched());
    assert!(repo.resolve("main").is_ok());
}

#[test]
fn mirrors_left_by_an_earlier_process_are_evicted_too() {
    let f = fixture(&[10]);
    let dir = f.use_repo(&f.urls[0]);
    let root = f.cache.root().to_path_buf();
    let fresh = RepoCache::new(&root).unwrap();
    let none: [&str; 0] = [];
    let report = fresh.retain(&none, u64::MAX).unwrap();
    assert_eq!(report.evicted.len(), 1);
    assert_eq!(report.evicted[0].url, None);
    assert!(!dir.exists());
}

#[test]
fn sizes_parse_with_binary_and_decimal_units() {
    assert_eq!(parse_size("10Gi"), Ok(10 << 30));
    assert_eq!(parse_size("512Mi"), Ok(512 << 20));
    assert_eq!(parse_size("4Ki"), Ok(4096));
    assert_eq!(parse_size("1048576"), Ok(1_048_576));
    assert_eq!(parse_size("2G"), Ok(2_000_000_000));
    for bad in ["0", "0Gi", "", "ten", "10GB", "-1", "99999999999Ti"] {
        assert!(parse_size(bad).is_err(), "{bad}");
    }
}
