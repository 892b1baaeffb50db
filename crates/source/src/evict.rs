//! Bounding the repository cache: mirrors that no app uses any more are removed, and the
//! least-recently-used ones are removed while the cache is larger than its maximum size. A mirror
//! somebody holds right now (a fetch, a revision lookup, an export or a render in progress) is
//! never removed: it is skipped until the next round.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use crate::repo::{mirror_id, Repo, RepoCache, RepoError};
use crate::url::normalize_url;

/// Why a mirror was evicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvictReason {
    /// No app uses its repository any more.
    Unused,
    /// The cache was over its maximum size and this mirror was the least recently used.
    OverSize,
}

/// One evicted mirror.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evicted {
    /// The mirror's directory name under `mirrors/`.
    pub id: String,
    /// The repository URL (password removed), when the mirror was open in this process.
    pub url: Option<String>,
    /// Its size on disk (mirror and exported trees), in bytes.
    pub bytes: u64,
    /// Why.
    pub reason: EvictReason,
}

/// What one eviction round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvictionReport {
    /// The mirrors removed.
    pub evicted: Vec<Evicted>,
    /// The cache's size on disk after the round, in bytes.
    pub total_bytes: u64,
    /// Mirrors kept although they were candidates, because they were in use at that moment.
    pub busy: usize,
}

/// One mirror found on disk.
struct Entry {
    id: String,
    bytes: u64,
    last_use: SystemTime,
}

static TOMBSTONES: AtomicU64 = AtomicU64::new(0);

impl RepoCache {
    /// Removes the mirrors (and their exported trees) of repositories not in `in_use` (any
    /// spelling of a URL that normalises alike counts), then the least recently used mirrors
    /// while the cache's size on disk exceeds `max_bytes`. Mirrors held by a caller right now
    /// are skipped. A URL used again later gets a fresh mirror (fetched on its first use).
    pub fn retain<S: AsRef<str>>(
        &self,
        in_use: &[S],
        max_bytes: u64,
    ) -> Result<EvictionReport, RepoError> {
        let wanted: BTreeSet<String> = in_use
            .iter()
            .map(|u| mirror_id(&normalize_url(u.as_ref())))
            .collect();
        let mut entries = self.scan()?;
        // Oldest first: the over-size pass takes them from the front.
        entries.sort_by_key(|e| e.last_use);
        let mut total: u64 = entries.iter().map(|e| e.bytes).sum();
        let mut report = EvictionReport::default();
        let mut doomed = Vec::new();
        {
            let mut repos = self.open_repos();
            let mut kept = Vec::new();
            for e in entries {
                if wanted.contains(&e.id) {
                    kept.push(e);
                } else if let Some(ev) = self.evict_locked(&mut repos, &e, EvictReason::Unused) {
                    total -= e.bytes;
                    doomed.push(ev);
                } else {
                    report.busy += 1;
                }
            }
            for e in kept {
                if total <= max_bytes {
                    break;
                }
                if let Some(ev) = self.evict_locked(&mut repos, &e, EvictReason::OverSize) {
                    total -= e.bytes;
                    doomed.push(ev);
                } else {
                    report.busy += 1;
                }
            }
        }
        for (ev, paths) in doomed {
            for p in paths {
                let _ = fs::remove_dir_all(&p);
            }
            report.evicted.push(ev);
        }
        report.total_bytes = total;
        Ok(report)
    }

    /// The mirrors on disk with their size and last use.
    fn scan(&self) -> Result<Vec<Entry>, RepoError> {
        let mirrors = self.root().join("mirrors");
        let list = fs::read_dir(&mirrors).map_err(|source| RepoError::CacheDir {
            path: mirrors.clone(),
            source,
        })?;
        let mut out = Vec::new();
        for item in list.flatten() {
            let id = item.file_name().to_string_lossy().to_string();
            if id.starts_with('.') || !item.path().is_dir() {
                continue;
            }
            let dir = item.path();
            let bytes = dir_size(&dir) + dir_size(&self.root().join("trees").join(&id));
            let last_use = self
                .last_use(&id)
                .or_else(|| fs::metadata(&dir).and_then(|m| m.modified()).ok())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            out.push(Entry {
                id,
                bytes,
                last_use,
            });
        }
        Ok(out)
    }

    /// Takes mirror `e` out of the cache (with the map of open mirrors locked) unless somebody
    /// holds it; returns what was evicted and the directories to delete.
    fn evict_locked(
        &self,
        repos: &mut HashMap<String, Arc<Repo>>,
        e: &Entry,
        reason: EvictReason,
    ) -> Option<(Evicted, Vec<PathBuf>)> {
        let open = repos
            .iter()
            .find(|(_, r)| {
                r.mirror_dir()
                    .file_name()
                    .is_some_and(|n| n == e.id.as_str())
            })
            .map(|(k, r)| (k.clone(), Arc::clone(r)));
        let mut url = None;
        if let Some((key, repo)) = open {
            // Ours plus the map's: anyone else holding it is using it.
            if Arc::strong_count(&repo) > 2 {
                return None;
            }
            url = Some(repo.display.clone());
            repos.remove(&key);
        }
        self.forget_use(&e.id);
        let mut paths = Vec::new();
        for sub in ["mirrors", "trees"] {
            let from = self.root().join(sub).join(&e.id);
            if !from.exists() {
                continue;
            }
            let n = TOMBSTONES.fetch_add(1, Ordering::Relaxed);
            let to =
                self.root()
                    .join(sub)
                    .join(format!(".evicted-{}-{}-{n}", e.id, std::process::id()));
            // Renamed while locked, so that a new mirror of the same URL starts empty; deleted
            // after the lock is released.
            match fs::rename(&from, &to) {
                Ok(()) => paths.push(to),
                Err(_) => paths.push(from),
            }
        }
        Some((
            Evicted {
                id: e.id.clone(),
                url,
                bytes: e.bytes,
                reason,
            },
            paths,
        ))
    }
}

/// The size on disk of everything below `dir` (0 when missing); symlinks are not followed.
pub(crate) fn dir_size(dir: &Path) -> u64 {
    let Ok(list) = fs::read_dir(dir) else {
        return 0;
    };
    let mut total = 0;
    for item in list.flatten() {
        let Ok(meta) = fs::symlink_metadata(item.path()) else {
            continue;
        };
        total += if meta.is_dir() {
            dir_size(&item.path())
        } else {
            meta.len()
        };
    }
    total
}

/// Parses a cache size: bytes (`1048576`) or a number with `Ki`, `Mi`, `Gi` or `Ti` (`10Gi`);
/// `K`, `M`, `G`, `T` are powers of 1000. Zero is refused.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size (bytes, or a number with Ki, Mi, Gi or Ti)"))?;
    let mult: u64 = match unit {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        "K" | "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        _ => {
            return Err(format!(
                "{s:?}: unknown unit {unit:?} (use bytes, Ki, Mi, Gi or Ti)"
            ))
        }
    };
    match n.checked_mul(mult) {
        Some(0) => Err(format!("{s:?}: the size must be more than 0")),
        Some(v) => Ok(v),
        None => Err(format!("{s:?} is too large")),
    }
}

#[cfg(test)]
#[path = "evict_tests.rs"]
mod tests;
