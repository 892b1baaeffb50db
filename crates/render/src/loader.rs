//! Reading files for a kustomization, confined to its root.
//!
//! Every file a kustomization names (resources, patches, generator inputs) is read through a
//! [`Loader`] bound to that kustomization's directory. With the default
//! [`LoadRestrictor::RootOnly`], paths that leave the root — by `..`, by an absolute path or
//! through a symlink — are refused, as `kubectl kustomize` does. Files above
//! [`MAX_FILE_BYTES`] are refused too.

use std::path::{Component, Path, PathBuf};

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
    /// The file does not exist or cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// The path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
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
}

/// Reads files relative to one kustomization directory.
#[derive(Clone, Debug)]
pub struct Loader {
    /// The kustomization directory, canonical.
    root: PathBuf,
    /// Paths outside this directory are refused (the root of the whole build for
    /// `LoadRestrictionsNone` is not used).
    restrictor: LoadRestrictor,
}

impl Loader {
    /// A loader for the directory `root` (which must exist).
    pub fn new(root: &Path, restrictor: LoadRestrictor) -> Result<Loader, LoadError> {
        let root = root.canonicalize().map_err(|source| LoadError::Read {
            path: root.display().to_string(),
            source,
        })?;
        Ok(Loader { root, restrictor })
    }

    /// The kustomization directory, canonical.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The restrictor in force.
    pub fn restrictor(&self) -> LoadRestrictor {
        self.restrictor
    }

    /// Resolves `rel` against the root and checks it against the restrictor; returns the
    /// canonical path (symlinks followed).
    pub fn resolve(&self, rel: &str) -> Result<PathBuf, LoadError> {
        let joined = self.root.join(rel);
        let canonical = joined.canonicalize().map_err(|source| LoadError::Read {
            path: lexical_normalize(&joined).display().to_string(),
            source,
        })?;
        if self.restrictor == LoadRestrictor::RootOnly && !canonical.starts_with(&self.root) {
            return Err(LoadError::OutsideRoot {
                path: canonical.display().to_string(),
                root: self.root.display().to_string(),
            });
        }
        Ok(canonical)
    }

    /// Reads the file at `rel` (relative to the root), within the size limit.
    pub fn read(&self, rel: &str) -> Result<Vec<u8>, LoadError> {
        let path = self.resolve(rel)?;
        read_limited(&path)
    }

    /// A loader for another kustomization directory (a base, an overlay's sibling, a
    /// component). As in kustomize, such a directory may lie outside this root — the load
    /// restrictor governs files, not bases — but it may not be this root or one of its
    /// ancestors (that would be a cycle).
    pub fn sub(&self, rel: &str) -> Result<Loader, LoadError> {
        let joined = self.root.join(rel);
        let path = joined.canonicalize().map_err(|source| LoadError::Read {
            path: lexical_normalize(&joined).display().to_string(),
            source,
        })?;
        if self.root.starts_with(&path) {
            return Err(LoadError::Cycle {
                dir: path.display().to_string(),
                root: self.root.display().to_string(),
            });
        }
        Ok(Loader {
            root: path,
            restrictor: self.restrictor,
        })
    }
}

/// Reads a file, refusing it above [`MAX_FILE_BYTES`].
pub fn read_limited(path: &Path) -> Result<Vec<u8>, LoadError> {
    let err = |source| LoadError::Read {
        path: path.display().to_string(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(err)?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(LoadError::TooLarge {
            path: path.display().to_string(),
            size: meta.len(),
        });
    }
    std::fs::read(path).map_err(err)
}

/// Removes `.` and folds `..` without touching the file system (for messages).
fn lexical_normalize(p: &Path) -> PathBuf {
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
