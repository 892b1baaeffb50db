//! Size and count limits of a repository export, checked against the tree's object headers
//! before a byte is written.

/// How much one export (one revision, one scope) may hold. Set them with
/// [`crate::RepoCache::set_export_limits`]; they apply to exports made afterwards.
///
/// The defaults, 256 MiB and 20,000 entries, are ten to a hundred times what real
/// configuration repositories (kustomize bases, plain manifests, even large monorepos' app
/// scopes) export, while one export stays within what a controller's ephemeral disk and memory
/// hold: a 1 MB repository whose 20 entries point at one 60 MB blob (1.2 GB exported) or a tree
/// of 100,000 tiny files is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportLimits {
    /// Bytes of file (and symlink) content per export, counted per entry: a blob referenced
    /// by twenty entries counts twenty times, as it is written twenty times.
    pub max_bytes: u64,
    /// Tree entries per export: files, symlinks, directories and submodules.
    pub max_files: u64,
}

impl Default for ExportLimits {
    fn default() -> Self {
        ExportLimits {
            max_bytes: 256 * 1024 * 1024,
            max_files: 20_000,
        }
    }
}

/// `n` bytes for people: `1.2 GiB`, `256 MiB`, `512 B`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if v.fract() == 0.0 {
        format!("{v:.0} {}", UNITS[unit])
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(256 * 1024 * 1024), "256 MiB");
        assert_eq!(human_bytes(1_200_000_000), "1.1 GiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        let d = ExportLimits::default();
        assert_eq!((d.max_bytes, d.max_files), (268_435_456, 20_000));
    }
}
