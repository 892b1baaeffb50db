//! Reading files for a kustomization, confined to its root and, optionally, to a fence.
//!
//! Every file a kustomization names (resources, patches, generator inputs) is read through a
//! [`Loader`] bound to that kustomization's directory. With the default
//! [`LoadRestrictor::RootOnly`], paths that leave the root — by `..`, by an absolute path or
//! through a symlink — are refused, as `kubectl kustomize` does. Files above
//! [`MAX_FILE_BYTES`] are refused too.
//!
//! A loader may also carry a *fence*: a directory (the controller uses the repository root as
//! exported) that nothing read during the build — file, base or component, whatever the
//! restrictor — may leave. Under a fence absolute paths are refused outright, and a path that
//! leaves the fence lexically is refused before the file system is touched, so a repository
//! cannot even learn which host paths exist. Every file read is counted against the build's
//! [`RenderLimits`] before its bytes are read.

use crate::limits::{Budget, LimitExceeded, RenderLimits};
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// The largest file fjord will read while rendering (a YAML bomb guard; kustomize has none).
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Which files a kustomization may read (`--load-restrictor`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LoadRestrictor {
    /// Only files under the kustomization's own directory (`LoadRestrictionsRootOnly`).
    #[default]
    RootOnly,
    /// Any file (`LoadRestrictionsNone`).
    None,
}

/// Why a file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The path leaves the kustomization root.
    #[error("security; file '{path}' is not in or below '{root}'")]
    OutsideRoot {
        /// The offending path, as resolved.
        path: String,
        /// The root it must stay under.
        root: String,
    },
    /// The path leaves the fence (the repository root).
    #[error("security; '{path}' is outside the repository root: file references must stay inside the repository")]
    OutsideFence {
        /// The path as written (never the resolved host path).
        path: String,
    },
    /// An absolute path under a fence.
    #[error("security; absolute path '{path}' is not allowed: file references must be relative paths inside the repository")]
    Absolute {
        /// The path as written.
        path: String,
    },
    /// The file does not exist or cannot be read.
    #[error("{path}")]
    Read {
        /// The path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The path is a directory, device, FIFO or socket, not a regular file.
    #[error("{path}: not a regular file")]
    NotAFile {
        /// The path.
        path: String,
    },
    /// A kustomization names its own directory or an ancestor of it.
    #[error("cycle detected: '{dir}' is '{root}' or one of its parent directories")]
    Cycle {
        /// The directory named.
        dir: String,
        /// The kustomization's directory.
        root: String,
    },
    /// The file is larger than [`MAX_FILE_BYTES`].
    #[error("{path}: file is {size} bytes, above the {MAX_FILE_BYTES}-byte limit")]
    TooLarge {
        /// The path.
        path: String,
        /// Its size.
        size: u64,
    },
    /// A render limit was crossed.
    #[error(transparent)]
    Limit(#[from] LimitExceeded),
}

/// Reads files relative to one kustomization directory.
#[derive(Clone, Debug)]
pub struct Loader {
    /// The kustomization directory, canonical.
    root: PathBuf,
    /// Paths outside this directory are refused (the root of the whole build for
    /// `LoadRestrictionsNone` is not used).
    restrictor: LoadRestrictor,
    /// Nothing outside this canonical directory is read, whatever the restrictor.
    fence: Option<Arc<PathBuf>>,
    /// What the build has read so far, against its limits.
    budget: Arc<Budget>,
}

impl Loader {
    /// A loader for the directory `root` (which must exist), with no fence and the default
    /// limits.
    pub fn new(root: &Path, restrictor: LoadRestrictor) -> Result<Loader, LoadError> {
        Loader::confined(root, restrictor, None, RenderLimits::default())
    }

    /// A loader for `root` that reads nothing outside `fence` (which must contain `root`) and
    /// counts what it reads against `limits`.
    pub fn confined(
        root: &Path,
        restrictor: LoadRestrictor,
        fence: Option<&Path>,
        limits: RenderLimits,
    ) -> Result<Loader, LoadError> {
        let canonical = |p: &Path| {
            p.canonicalize().map_err(|source| LoadError::Read {
                path: p.display().to_string(),
                source,
            })
        };
        let root = canonical(root)?;
        let fence = fence.map(canonical).transpose()?;
        if let Some(f) = &fence {
            if !root.starts_with(f) {
                return Err(LoadError::OutsideFence {
                    path: root.display().to_string(),
                });
            }
        }
        Ok(Loader {
            root,
            restrictor,
            fence: fence.map(Arc::new),
            budget: Arc::new(Budget::new(limits)),
        })
    }

    /// The kustomization directory, canonical.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The restrictor in force.
    pub fn restrictor(&self) -> LoadRestrictor {
        self.restrictor
    }

    /// The fence, canonical, if there is one.
    pub fn fence(&self) -> Option<&Path> {
        self.fence.as_deref().map(PathBuf::as_path)
    }

    /// The build's budget.
    pub(crate) fn budget(&self) -> &Budget {
        &self.budget
    }

    /// `root/rel`, canonical, checked against the fence (before and after symlinks).
    fn canonical(&self, rel: &str) -> Result<PathBuf, LoadError> {
        let joined = self.root.join(rel);
        if let Some(fence) = self.fence() {
            if Path::new(rel).is_absolute() {
                return Err(LoadError::Absolute {
                    path: rel.to_string(),
                });
            }
            if !lexical_normalize(&joined).starts_with(fence) {
                return Err(LoadError::OutsideFence {
                    path: rel.to_string(),
                });
            }
        }
        let canonical = joined.canonicalize().map_err(|source| LoadError::Read {
            path: lexical_normalize(&joined).display().to_string(),
            source,
        })?;
        if self.fence().is_some_and(|f| !canonical.starts_with(f)) {
            return Err(LoadError::OutsideFence {
                path: rel.to_string(),
            });
        }
        Ok(canonical)
    }

    /// Resolves `rel` against the root and checks it against the fence and the restrictor;
    /// returns the canonical path (symlinks followed).
    pub fn resolve(&self, rel: &str) -> Result<PathBuf, LoadError> {
        let canonical = self.canonical(rel)?;
        if self.restrictor == LoadRestrictor::RootOnly && !canonical.starts_with(&self.root) {
            return Err(LoadError::OutsideRoot {
                path: canonical.display().to_string(),
                root: self.root.display().to_string(),
            });
        }
        Ok(canonical)
    }

    /// Reads the file at `rel` (relative to the root), within the size limit and the build's
    /// budget.
    pub fn read(&self, rel: &str) -> Result<Vec<u8>, LoadError> {
        let path = self.resolve(rel)?;
        read_counted(&path, &self.budget)
    }

    /// A loader for another kustomization directory (a base, an overlay's sibling, a
    /// component). As in kustomize, such a directory may lie outside this root — the load
    /// restrictor governs files, not bases — but never outside the fence, and it may not be
    /// this root or one of its ancestors (that would be a cycle).
    pub fn sub(&self, rel: &str) -> Result<Loader, LoadError> {
        let path = self.canonical(rel)?;
        if self.root.starts_with(&path) {
            return Err(LoadError::Cycle {
                dir: path.display().to_string(),
                root: self.root.display().to_string(),
            });
        }
        Ok(Loader {
            root: path,
            restrictor: self.restrictor,
            fence: self.fence.clone(),
            budget: self.budget.clone(),
        })
    }
}

/// Reads a file, refusing it above [`MAX_FILE_BYTES`].
pub fn read_limited(path: &Path) -> Result<Vec<u8>, LoadError> {
    read_counted(path, &Budget::new(RenderLimits::default()))
}

/// Reads a regular file, counting it against `budget` before its bytes are read. The read
/// itself stops one byte past what is allowed, so a file whose size the file system misreports
/// (`/proc`) or that grows while read cannot take more.
pub(crate) fn read_counted(path: &Path, budget: &Budget) -> Result<Vec<u8>, LoadError> {
    let shown = path.display().to_string();
    let err = |source| LoadError::Read {
        path: shown.clone(),
        source,
    };
    // Checked before opening: opening a FIFO would block.
    if !std::fs::metadata(path).map_err(err)?.is_file() {
        return Err(LoadError::NotAFile { path: shown });
    }
    budget.open_file(&shown)?;
    let file = std::fs::File::open(path).map_err(err)?;
    let size = file.metadata().map_err(err)?.len();
    if size > MAX_FILE_BYTES {
        return Err(LoadError::TooLarge { path: shown, size });
    }
    let allowed = budget.bytes_left().min(MAX_FILE_BYTES);
    if size > allowed {
        budget.read_bytes(&shown, size)?;
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(allowed + 1)
        .read_to_end(&mut bytes)
        .map_err(err)?;
    let read = bytes.len() as u64;
    if read > MAX_FILE_BYTES {
        return Err(LoadError::TooLarge {
            path: shown,
            size: read,
        });
    }
    budget.read_bytes(&shown, read)?;
    Ok(bytes)
}

/// Removes `.` and folds `..` without touching the file system (for messages and fences).
pub(crate) fn lexical_normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
#[path = "loader_tests.rs"]
mod tests;
