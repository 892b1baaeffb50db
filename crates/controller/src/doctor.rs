//! The etcd-style disk latency check behind `fjord doctor`: sequential small writes, each
//! followed by `fdatasync`, as in `fio --rw=write --ioengine=sync --fdatasync=1
//! --size=22m --bs=2300`. etcd wants the 99th percentile of fdatasync latency ≤ 10 ms.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// fio's/etcd's block size.
pub const DEFAULT_BLOCK_SIZE: usize = 2300;
/// fio's/etcd's total size (22 MiB).
pub const DEFAULT_TOTAL_SIZE: u64 = 22 * 1024 * 1024;
/// The p99 threshold for a pass.
pub const P99_THRESHOLD: Duration = Duration::from_millis(10);

/// Errors of the disk check.
#[derive(Debug, thiserror::Error)]
pub enum DoctorError {
    /// The sizes make no sense.
    #[error("invalid disk check sizes: block size {block} and total {total} must both be > 0")]
    InvalidSizes {
        /// Block size.
        block: usize,
        /// Total size.
        total: u64,
    },
    /// The scratch file could not be created.
    #[error("creating scratch file {path}")]
    Create {
        /// File path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A write or sync failed.
    #[error("writing to {path}")]
    Write {
        /// File path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// Parameters of the check.
#[derive(Clone, Debug, PartialEq)]
pub struct DiskCheck {
    /// Directory on the disk to test.
    pub dir: PathBuf,
    /// Bytes per write.
    pub block_size: usize,
    /// Bytes written in total.
    pub total_size: u64,
}

impl DiskCheck {
    /// The etcd defaults (2,300-byte writes, 22 MiB) in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DiskCheck {
            dir: dir.into(),
            block_size: DEFAULT_BLOCK_SIZE,
            total_size: DEFAULT_TOTAL_SIZE,
        }
    }
}

/// Result of the check.
#[derive(Clone, Debug, PartialEq)]
pub struct DiskReport {
    /// Number of write+fdatasync operations.
    pub writes: usize,
    /// Bytes written.
    pub bytes: u64,
    /// Median write+fdatasync latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Worst latency.
    pub max: Duration,
    /// `p99 <= 10 ms`.
    pub pass: bool,
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], pct: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((pct / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Removes the scratch file when the check ends, however it ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        // Best effort: a leftover scratch file is harmless and reported nowhere.
        let _ = std::fs::remove_file(&self.0);
    }
}

fn scratch_path(dir: &Path) -> PathBuf {
    dir.join(format!(".fjord-doctor-{}.tmp", std::process::id()))
}

/// Runs the check: sequential writes of `block_size` bytes with `sync_data` after each,
/// until `total_size` bytes are written; the scratch file is removed afterwards.
pub fn run(check: &DiskCheck) -> Result<DiskReport, DoctorError> {
    if check.block_size == 0 || check.total_size == 0 {
        return Err(DoctorError::InvalidSizes {
            block: check.block_size,
            total: check.total_size,
        });
    }
    let path = scratch_path(&check.dir);
    let mut file: File = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .map_err(|source| DoctorError::Create {
            path: path.clone(),
            source,
        })?;
    let _scratch = Scratch(path.clone());
    let block = vec![0xA5u8; check.block_size];
    let mut written = 0u64;
    let mut samples = Vec::new();
    while written < check.total_size {
        let n =
            usize::try_from(check.total_size - written).map_or(block.len(), |r| r.min(block.len()));
        let start = Instant::now();
        file.write_all(&block[..n])
            .and_then(|()| file.sync_data())
            .map_err(|source| DoctorError::Write {
                path: path.clone(),
                source,
            })?;
        samples.push(start.elapsed());
        written += n as u64;
    }
    samples.sort();
    let p99 = percentile(&samples, 99.0);
    Ok(DiskReport {
        writes: samples.len(),
        bytes: written,
        p50: percentile(&samples, 50.0),
        p99,
        max: samples.last().copied().unwrap_or_default(),
        pass: p99 <= P99_THRESHOLD,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_run() {
        let dir = tempfile::tempdir().unwrap();
        let check = DiskCheck {
            dir: dir.path().into(),
            block_size: 2300,
            total_size: 10_000,
        };
        let r = run(&check).unwrap();
        assert_eq!(r.writes, 5, "4 full blocks + 1 partial");
        assert_eq!(r.bytes, 10_000);
        assert!(r.p50 <= r.p99 && r.p99 <= r.max);
        assert_eq!(r.pass, r.p99 <= P99_THRESHOLD);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "scratch file removed"
        );
    }

    #[test]
    fn defaults_and_errors() {
        let c = DiskCheck::new("/tmp");
        assert_eq!((c.block_size, c.total_size), (2300, 23_068_672));
        let bad = DiskCheck { block_size: 0, ..c };
        assert!(matches!(run(&bad), Err(DoctorError::InvalidSizes { .. })));
        let missing = DiskCheck::new("/nonexistent/fjord/dir");
        assert!(run(&missing)
            .unwrap_err()
            .to_string()
            .starts_with("creating scratch file /nonexistent/fjord/dir/"));
    }

    #[test]
    fn percentiles() {
        let s: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&s, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&s, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&s[..1], 99.0), Duration::from_millis(1));
        assert_eq!(percentile(&[], 99.0), Duration::ZERO);
    }
}
