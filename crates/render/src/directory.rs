//! Plain manifest directories, read the way Argo CD reads a `directory` source: every
//! `*.yaml`, `*.yml` and `*.json` file (in sub-directories too with `recurse`), filtered by
//! `include`/`exclude` globs on the path relative to the directory, in path order, with
//! `List` kinds flattened into their items. Hidden files and directories are skipped.
//!
//! Two objects with the same identity (API group, kind, namespace, name) are an error naming
//! both files: applying both would make one overwrite the other on every sync. The files'
//! sizes are checked against the render limits before any of them is read.

use crate::loader::{read_counted, LoadError, Loader};
use fjord_yaml::Node;
use globset::{Glob, GlobMatcher};
use std::path::{Path, PathBuf};

/// Options of a plain directory source.
#[derive(Clone, Debug, Default)]
pub struct DirectoryOptions {
    /// Read sub-directories too.
    pub recurse: bool,
    /// Only files matching this glob (relative path; `{a,b}` alternation allowed).
    pub include: Option<String>,
    /// Skip files matching this glob.
    pub exclude: Option<String>,
}

/// Why a directory could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// An include/exclude glob is malformed.
    #[error("invalid {which} glob '{glob}'")]
    Glob {
        /// `include` or `exclude`.
        which: &'static str,
        /// The glob.
        glob: String,
        /// The parse error.
        #[source]
        source: globset::Error,
    },
    /// Listing a directory failed.
    #[error("reading directory '{dir}'")]
    List {
        /// The directory.
        dir: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A symlink points outside the source directory.
    #[error("'{path}' is a symlink that leaves the directory '{root}'")]
    SymlinkEscape {
        /// The symlink.
        path: String,
        /// The directory.
        root: String,
    },
    /// A file could not be read.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Two documents define the same object.
    #[error("{kind} {object} is defined twice: in '{first}' and in '{second}' (an object may be defined only once)")]
    Duplicate {
        /// The kind.
        kind: String,
        /// `namespace/name`, or `name` without a namespace.
        object: String,
        /// The file of the first definition (document index appended when a file has both).
        first: String,
        /// The file of the second.
        second: String,
    },
    /// A file is not valid YAML/JSON.
    #[error("{file}")]
    Parse {
        /// The file.
        file: String,
        /// The parse error.
        #[source]
        source: fjord_yaml::ParseError,
    },
    /// A document is not a Kubernetes object.
    #[error("{file}: document {index} is not a Kubernetes object (it needs apiVersion, kind and metadata.name)")]
    NotAnObject {
        /// The file.
        file: String,
        /// 1-based document index.
        index: usize,
    },
}

/// Reads every manifest under `dir`, with the default limits. Each object comes with the file
/// it came from.
pub fn read_directory(
    dir: &Path,
    opts: &DirectoryOptions,
) -> Result<Vec<(Node, String)>, DirectoryError> {
    let loader = Loader::new(dir, crate::LoadRestrictor::RootOnly)?;
    read_in(&loader, opts)
}

/// Reads every manifest under the loader's root, counting against its budget.
pub(crate) fn read_in(
    loader: &Loader,
    opts: &DirectoryOptions,
) -> Result<Vec<(Node, String)>, DirectoryError> {
    let glob =
        |which: &'static str, g: &Option<String>| -> Result<Option<GlobMatcher>, DirectoryError> {
            g.as_deref()
                .filter(|g| !g.is_empty())
                .map(|g| {
                    Glob::new(g).map(|g| g.compile_matcher()).map_err(|source| {
                        DirectoryError::Glob {
                            which,
                            glob: g.to_string(),
                            source,
                        }
                    })
                })
                .transpose()
        };
    let include = glob("include", &opts.include)?;
    let exclude = glob("exclude", &opts.exclude)?;
    let root = loader.root();
    let mut files = Vec::new();
    collect(root, root, opts.recurse, &mut files)?;
    files.sort();
    files.retain(|(rel, _)| {
        let rel_s = rel.to_string_lossy();
        include.as_ref().is_none_or(|g| g.is_match(&*rel_s))
            && !exclude.as_ref().is_some_and(|g| g.is_match(&*rel_s))
    });
    let total: u64 = files
        .iter()
        .filter_map(|(_, path)| std::fs::metadata(path).ok())
        .map(|m| m.len())
        .sum();
    loader
        .budget()
        .preflight(
            files.len() as u64,
            total,
            "the manifest files of the directory",
        )
        .map_err(LoadError::from)?;
    let mut out = Vec::new();
    for (rel, path) in files {
        let bytes = read_counted(&path, loader.budget())?;
        let shown = rel.to_string_lossy().to_string();
        let docs = fjord_yaml::parse_documents(&bytes).map_err(|source| DirectoryError::Parse {
            file: shown.clone(),
            source,
        })?;
        let before = out.len();
        for (i, doc) in docs.into_iter().enumerate() {
            flatten(doc, &shown, i + 1, &mut out)?;
        }
        loader
            .budget()
            .produce(&shown, (out.len() - before) as u64)
            .map_err(LoadError::from)?;
    }
    refuse_duplicates(&out)?;
    Ok(out)
}

/// Refuses two objects with the same API group, kind, namespace and name (an object without
/// `metadata.name` — `generateName` — has no identity yet and is never a duplicate).
fn refuse_duplicates(objects: &[(Node, String)]) -> Result<(), DirectoryError> {
    let mut seen: std::collections::HashMap<[&str; 4], &str> = std::collections::HashMap::new();
    for (obj, file) in objects {
        let s = |p: &[&str]| obj.str_at(p).unwrap_or_default();
        let name = s(&["metadata", "name"]);
        if name.is_empty() {
            continue;
        }
        let (group, _) = fjord_model::split_api_version(s(&["apiVersion"]));
        let key = [group, s(&["kind"]), s(&["metadata", "namespace"]), name];
        if let Some(first) = seen.insert(key, file) {
            let object = match key[2] {
                "" => name.to_string(),
                ns => format!("{ns}/{name}"),
            };
            return Err(DirectoryError::Duplicate {
                kind: key[1].to_string(),
                object,
                first: first.to_string(),
                second: file.clone(),
            });
        }
    }
    Ok(())
}

/// Adds `doc` to `out`, expanding `List` kinds.
fn flatten(
    doc: Node,
    file: &str,
    index: usize,
    out: &mut Vec<(Node, String)>,
) -> Result<(), DirectoryError> {
    if doc.is_null() {
        return Ok(());
    }
    let is_list = doc.str_at(&["kind"]).is_some_and(|k| k.ends_with("List"))
        && matches!(doc.get("items"), Some(Node::Seq(_)));
    if is_list {
        if let Some(Node::Seq(items)) = doc.get("items") {
            for item in items.clone() {
                flatten(item, file, index, out)?;
            }
        }
        return Ok(());
    }
    let ok = doc.as_map().is_some()
        && doc.str_at(&["apiVersion"]).is_some()
        && doc.str_at(&["kind"]).is_some();
    if !ok {
        return Err(DirectoryError::NotAnObject {
            file: file.to_string(),
            index,
        });
    }
    out.push((doc, file.to_string()));
    Ok(())
}

/// Lists manifest files under `dir` as (relative path, canonical path).
fn collect(
    root: &Path,
    dir: &Path,
    recurse: bool,
    out: &mut Vec<(PathBuf, PathBuf)>,
) -> Result<(), DirectoryError> {
    let list_err = |source| DirectoryError::List {
        dir: dir.display().to_string(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(list_err)? {
        let entry = entry.map_err(list_err)?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let real = path.canonicalize().map_err(list_err)?;
        if !real.starts_with(root) {
            return Err(DirectoryError::SymlinkEscape {
                path: path.display().to_string(),
                root: root.display().to_string(),
            });
        }
        let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
        if real.is_dir() {
            if recurse {
                collect(root, &path, recurse, out)?;
            }
            continue;
        }
        let is_manifest = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml") | Some("yml") | Some("json")
        );
        if is_manifest {
            out.push((rel, real));
        }
    }
    Ok(())
}
