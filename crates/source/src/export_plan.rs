//! The checks an export passes before anything is written: every tree entry's name and mode,
//! the export limits (from object headers, without loading content), and where every symlink
//! resolves, through chains of symlinks, as the kernel would resolve it.
//!
//! The result is an [`ExportPlan`]: the entries to write, parents before children, with names
//! that are plain single path components unique (ignoring case) within their directory. The
//! writer ([`crate::export`]) then never needs to follow a path it did not create itself.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};

use git2::{ObjectType, Oid, Repository};

use crate::error::RepoError;
use crate::limits::{human_bytes, ExportLimits};
use crate::redact::redact_message;

/// Directory nesting beyond this is refused (paths that deep do not fit `PATH_MAX` anyway).
pub(crate) const MAX_DEPTH: usize = 128;
/// Longest tree entry name (a file name's limit on Linux).
const MAX_NAME: usize = 255;
/// Longest symlink target (`PATH_MAX` less its NUL).
const MAX_LINK_TARGET: u64 = 4095;
/// Symlinks followed while resolving one target, as the kernel's `MAXSYMLINKS`.
const MAX_LINK_HOPS: usize = 40;

/// Why an export is refused, before the repository and revision are added to it.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// A tree entry that cannot be exported safely.
    Unsafe {
        /// Repository-relative path.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A symlink resolving outside the repository.
    SymlinkEscapes {
        /// Repository-relative path of the symlink.
        path: String,
    },
    /// An export limit.
    Limit {
        /// The limit's name (`exported bytes per revision`).
        limit: &'static str,
        /// What the tree holds (`1.1 GiB`, `more than 20000`).
        actual: String,
        /// The limit (`256 MiB`).
        max: String,
    },
    /// Writing the export failed.
    Write {
        /// Repository-relative path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// libgit2 could not read an object.
    Git {
        /// What was being read.
        step: &'static str,
        /// libgit2's error.
        error: git2::Error,
    },
}

/// The name of the byte limit, as errors and settings print it.
pub const BYTES_LIMIT: &str = "exported bytes per revision";
/// The name of the entry-count limit.
pub const FILES_LIMIT: &str = "files per revision";

impl Refusal {
    pub(crate) fn files(limits: &ExportLimits) -> Refusal {
        Refusal::Limit {
            limit: FILES_LIMIT,
            actual: format!("more than {}", limits.max_files),
            max: limits.max_files.to_string(),
        }
    }

    pub(crate) fn bytes(actual: String, limits: &ExportLimits) -> Refusal {
        Refusal::Limit {
            limit: BYTES_LIMIT,
            actual,
            max: human_bytes(limits.max_bytes),
        }
    }

    pub(crate) fn unsafe_entry(path: &str, reason: impl Into<String>) -> Refusal {
        Refusal::Unsafe {
            path: path.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn git(step: &'static str) -> impl Fn(git2::Error) -> Refusal {
        move |error| Refusal::Git { step, error }
    }
}

impl Refusal {
    /// The refusal as the error naming the repository (`url`, redacted; `raw_url` to mask in
    /// libgit2's messages) and the revision.
    pub(crate) fn into_error(self, url: &str, raw_url: &str, revision: Oid) -> RepoError {
        let url = url.to_string();
        match self {
            Refusal::Unsafe { path, reason } => RepoError::UnsafeEntry {
                url,
                revision,
                path,
                reason,
            },
            Refusal::SymlinkEscapes { path } => RepoError::SymlinkEscapes {
                url,
                revision,
                path,
            },
            Refusal::Limit { limit, actual, max } => RepoError::ExportLimit {
                url,
                revision,
                limit,
                actual,
                max,
            },
            Refusal::Write { path, source } => RepoError::ExportWrite {
                url,
                revision,
                path,
                source,
            },
            Refusal::Git { step, error } => RepoError::Git {
                url,
                step,
                message: redact_message(error.message(), raw_url),
            },
        }
    }
}

/// One entry to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EntryKind {
    /// A directory.
    Dir,
    /// A regular file with the blob's content.
    File {
        /// The blob.
        oid: Oid,
        /// Mode 100755.
        executable: bool,
    },
    /// A symlink to `target` (checked to stay inside the repository).
    Symlink {
        /// The link's target.
        target: String,
    },
    /// A submodule, exported as an empty directory.
    Submodule,
}

/// An entry of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlanEntry {
    /// Repository-relative path, every component a checked name.
    pub(crate) path: PathBuf,
    /// What to write.
    pub(crate) kind: EntryKind,
}

/// What an export writes, checked.
#[derive(Debug, Default)]
pub(crate) struct ExportPlan {
    /// Parents before children.
    pub(crate) entries: Vec<PlanEntry>,
    /// Bytes of content, each entry counted.
    pub(crate) bytes: u64,
}

/// Why `name` cannot be a path component of an export, if it cannot: empty, `.`/`..`, `/`,
/// NUL, `\`, longer than 255 bytes, not UTF-8, or a `.git` name (any case, with Windows'
/// ignored trailing dots and spaces, or the 8.3 short name `git~1`).
pub(crate) fn check_name(name: &[u8]) -> Result<&str, &'static str> {
    if name.is_empty() {
        return Err("the name is empty");
    }
    if name == b"." || name == b".." {
        return Err("the name is a relative path component (. or ..)");
    }
    if name.contains(&b'/') {
        return Err("the name contains '/'");
    }
    if name.contains(&0) {
        return Err("the name contains a NUL byte");
    }
    if name.contains(&b'\\') {
        return Err("the name contains '\\'");
    }
    if name.len() > MAX_NAME {
        return Err("the name is longer than 255 bytes");
    }
    let Ok(name) = std::str::from_utf8(name) else {
        return Err("the name is not UTF-8");
    };
    let folded = name.trim_end_matches(['.', ' ']).to_lowercase();
    if folded == ".git" || folded == "git~1" {
        return Err("the name is reserved for Git's own directory (.git)");
    }
    Ok(name)
}

/// `dir/name` as a display string.
pub(crate) fn display_path(dir: &Path, name: &[u8]) -> String {
    let name = String::from_utf8_lossy(name);
    if dir.as_os_str().is_empty() {
        name.into_owned()
    } else {
        format!("{}/{name}", dir.to_string_lossy())
    }
}

/// Checks the tree `tree` found at repository path `scope` and lists what to write.
pub(crate) fn plan(
    repo: &Repository,
    tree: Oid,
    scope: &Path,
    limits: &ExportLimits,
) -> Result<ExportPlan, Refusal> {
    let odb = repo.odb().map_err(Refusal::git("open object database"))?;
    let mut out = ExportPlan::default();
    let mut stack = vec![(tree, scope.to_path_buf(), scope.components().count())];
    while let Some((oid, dir, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            return Err(Refusal::unsafe_entry(
                &dir.to_string_lossy(),
                format!("directories nest deeper than {MAX_DEPTH} levels"),
            ));
        }
        let tree = repo.find_tree(oid).map_err(Refusal::git("read tree"))?;
        let mut seen = HashSet::new();
        for entry in tree.iter() {
            let shown = display_path(&dir, entry.name_bytes());
            let name =
                check_name(entry.name_bytes()).map_err(|r| Refusal::unsafe_entry(&shown, r))?;
            if !seen.insert(name.to_lowercase()) {
                return Err(Refusal::unsafe_entry(
                    &shown,
                    "another entry of the directory has the same name when case is ignored",
                ));
            }
            if out.entries.len() as u64 >= limits.max_files {
                return Err(Refusal::files(limits));
            }
            let path = dir.join(name);
            let kind = match entry.filemode() {
                0o040000 => {
                    stack.push((entry.id(), path.clone(), depth + 1));
                    EntryKind::Dir
                }
                0o160000 => EntryKind::Submodule,
                0o120000 => {
                    let size = blob_size(&odb, entry.id(), &shown)?;
                    out.bytes = out.bytes.saturating_add(size);
                    EntryKind::Symlink {
                        target: link_target(repo, entry.id(), size, &shown)?,
                    }
                }
                mode @ (0o100644 | 0o100755 | 0o100664) => {
                    let size = blob_size(&odb, entry.id(), &shown)?;
                    out.bytes = out.bytes.saturating_add(size);
                    EntryKind::File {
                        oid: entry.id(),
                        executable: mode == 0o100755,
                    }
                }
                mode => {
                    return Err(Refusal::unsafe_entry(
                        &shown,
                        format!("unknown tree entry mode {mode:o}"),
                    ))
                }
            };
            out.entries.push(PlanEntry { path, kind });
        }
    }
    if out.bytes > limits.max_bytes {
        return Err(Refusal::bytes(
            format!("{} ({} bytes)", human_bytes(out.bytes), out.bytes),
            limits,
        ));
    }
    check_symlinks(&out.entries)?;
    Ok(out)
}

/// The size of blob `oid`, from its header (the content is not loaded).
fn blob_size(odb: &git2::Odb<'_>, oid: Oid, shown: &str) -> Result<u64, Refusal> {
    let (size, kind) = odb
        .read_header(oid)
        .map_err(Refusal::git("read object header"))?;
    if kind != ObjectType::Blob {
        return Err(Refusal::unsafe_entry(
            shown,
            format!("the entry's mode says file but its object is a {kind}"),
        ));
    }
    Ok(size as u64)
}

fn link_target(repo: &Repository, oid: Oid, size: u64, shown: &str) -> Result<String, Refusal> {
    if size == 0 || size > MAX_LINK_TARGET {
        return Err(Refusal::unsafe_entry(
            shown,
            "the symlink's target is empty or longer than 4095 bytes",
        ));
    }
    let blob = repo.find_blob(oid).map_err(Refusal::git("read symlink"))?;
    let target = std::str::from_utf8(blob.content())
        .ok()
        .filter(|t| !t.contains('\0'))
        .ok_or_else(|| {
            Refusal::unsafe_entry(
                shown,
                "the symlink's target is not UTF-8 or holds a NUL byte",
            )
        })?;
    Ok(target.to_string())
}

/// Every symlink of `entries` must resolve inside the repository, following the symlinks of
/// the export the way the kernel would (at most 40 of them).
fn check_symlinks(entries: &[PlanEntry]) -> Result<(), Refusal> {
    let links: HashMap<String, &str> = entries
        .iter()
        .filter_map(|e| match &e.kind {
            EntryKind::Symlink { target } => {
                Some((e.path.to_string_lossy().into_owned(), target.as_str()))
            }
            _ => None,
        })
        .collect();
    for (path, target) in &links {
        resolve(path, target, &links)?;
    }
    Ok(())
}

/// Resolves the symlink at `path` (repository-relative) with target `target` over `links`
/// (every symlink of the export by path). Paths that are not symlinks are taken as
/// directories: the walk is a superset of what the kernel could reach.
fn resolve(path: &str, target: &str, links: &HashMap<String, &str>) -> Result<(), Refusal> {
    let escapes = || Refusal::SymlinkEscapes {
        path: path.to_string(),
    };
    let mut cur: Vec<&str> = path.split('/').collect();
    cur.pop();
    let mut todo: VecDeque<&str> = VecDeque::new();
    if target.starts_with('/') {
        return Err(escapes());
    }
    todo.extend(target.split('/'));
    let mut hops = 0;
    while let Some(c) = todo.pop_front() {
        match c {
            "" | "." => {}
            ".." => {
                cur.pop().ok_or_else(escapes)?;
            }
            name => {
                cur.push(name);
                if let Some(next) = links.get(&cur.join("/")) {
                    hops += 1;
                    if hops > MAX_LINK_HOPS {
                        return Err(Refusal::unsafe_entry(
                            path,
                            "the symlink loops or chains through more than 40 symlinks",
                        ));
                    }
                    if next.starts_with('/') {
                        return Err(escapes());
                    }
                    cur.pop();
                    for part in next.split('/').rev() {
                        todo.push_front(part);
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_are_not_plain_components_are_refused() {
        for bad in [
            &b""[..],
            b".",
            b"..",
            b"a/b",
            b"/etc",
            b"a\0b",
            b"a\\b",
            b".git",
            b".GIT",
            b".Git. ",
            b"GIT~1",
            b"\xff\xfe",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?} accepted");
        }
        let long = vec![b'a'; 256];
        assert!(check_name(&long).is_err());
        for good in [
            &b"a"[..],
            b"...",
            b".gitignore",
            b".github",
            b"git",
            b"x.git",
        ] {
            assert!(check_name(good).is_ok(), "{good:?} refused");
        }
    }

    fn links(pairs: &[(&'static str, &'static str)]) -> HashMap<String, &'static str> {
        pairs.iter().map(|(p, t)| (p.to_string(), *t)).collect()
    }

    #[test]
    fn symlinks_resolve_through_chains() {
        let set = links(&[
            ("x/d", ".."),
            ("l", "x/d/.."),
            ("ok", "x/d/a"),
            ("a/b", "../c"),
            ("loop1", "loop2"),
            ("loop2", "loop1"),
            ("abs", "/etc/passwd"),
            ("via", "abs"),
        ]);
        assert!(resolve("x/d", "..", &set).is_ok());
        // Lexically `x/d/..` is `x`, but x/d is the root, so the link reaches the root's parent.
        assert!(matches!(
            resolve("l", "x/d/..", &set),
            Err(Refusal::SymlinkEscapes { .. })
        ));
        assert!(resolve("ok", "x/d/a", &set).is_ok());
        assert!(resolve("a/b", "../c", &set).is_ok());
        assert!(matches!(
            resolve("deep/e", "../../..", &set),
            Err(Refusal::SymlinkEscapes { .. })
        ));
        assert!(matches!(
            resolve("loop1", "loop2", &set),
            Err(Refusal::Unsafe { .. })
        ));
        assert!(matches!(
            resolve("via", "abs", &set),
            Err(Refusal::SymlinkEscapes { .. })
        ));
    }
}
