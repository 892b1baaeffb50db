//! Writing a checked [`ExportPlan`] to a directory: files with their executable bit,
//! in-repository symlinks, submodules as empty directories; and the scope of an export.
//!
//! Confinement: the plan's names are single path components, unique (ignoring case) within
//! their directory, and parents come before children. Every directory is made here with
//! `mkdir` (which fails on anything already there, a symlink included) and checked with
//! `lstat` before anything is written into it; files are opened with `O_CREAT | O_EXCL`
//! (`create_new`), which never follows a symlink; symlinks are made last in their place and
//! nothing is ever written through one. A later entry therefore cannot write through an
//! earlier symlink (`link -> .` plus `link/x`), and nothing lands outside the export root.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use git2::{ObjectType, Repository};

use crate::export_plan::{check_name, display_path, EntryKind, ExportPlan, Refusal, MAX_DEPTH};
use crate::limits::{human_bytes, ExportLimits};
use crate::paths::clean_rel;

/// Checks the `scope` (a repository path) of commit tree `tree` against `limits` and writes it
/// below `tmp`, made afresh.
pub(crate) fn export_scope(
    repo: &Repository,
    tree: &git2::Tree<'_>,
    scope: &Path,
    limits: &ExportLimits,
    tmp: &Path,
) -> Result<(), Refusal> {
    for c in scope.components() {
        let name = c.as_os_str().to_string_lossy();
        check_name(name.as_bytes())
            .map_err(|reason| Refusal::unsafe_entry(&scope.to_string_lossy(), reason))?;
    }
    let subtree = if scope.as_os_str().is_empty() {
        tree.id()
    } else {
        tree.get_path(scope)
            .map_err(Refusal::git("read tree"))?
            .id()
    };
    let plan = crate::export_plan::plan(repo, subtree, scope, limits)?;
    let io = |source| Refusal::Write {
        path: String::new(),
        source,
    };
    if tmp.exists() {
        fs::remove_dir_all(tmp).map_err(io)?;
    }
    fs::create_dir_all(tmp.join(scope)).map_err(io)?;
    write_plan(repo, &plan, tmp)
}

/// Writes `plan` below `root` (an empty directory made by the caller).
pub(crate) fn write_plan(repo: &Repository, plan: &ExportPlan, root: &Path) -> Result<(), Refusal> {
    for entry in &plan.entries {
        let shown = entry.path.to_string_lossy().into_owned();
        let io = |source| Refusal::Write {
            path: shown.clone(),
            source,
        };
        let dest = root.join(&entry.path);
        let parent = dest.parent().unwrap_or(root);
        let meta = fs::symlink_metadata(parent).map_err(io)?;
        if !meta.is_dir() || meta.file_type().is_symlink() {
            return Err(Refusal::unsafe_entry(
                &shown,
                "its parent is not a directory of the export",
            ));
        }
        match &entry.kind {
            EntryKind::Dir | EntryKind::Submodule => fs::create_dir(&dest).map_err(io)?,
            EntryKind::File { oid, executable } => {
                let blob = repo.find_blob(*oid).map_err(Refusal::git("read blob"))?;
                let mut f = create_new(&dest, *executable).map_err(io)?;
                f.write_all(blob.content()).map_err(io)?;
            }
            EntryKind::Symlink { target } => make_symlink(target, &dest).map_err(io)?,
        }
    }
    Ok(())
}

#[cfg(unix)]
fn create_new(p: &Path, executable: bool) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(if executable { 0o755 } else { 0o644 })
        .open(p)
}

#[cfg(not(unix))]
fn create_new(p: &Path, _executable: bool) -> io::Result<fs::File> {
    fs::OpenOptions::new().write(true).create_new(true).open(p)
}

#[cfg(unix)]
fn make_symlink(target: &str, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn make_symlink(target: &str, link: &Path) -> io::Result<()> {
    create_new(link, false)?.write_all(target.as_bytes())
}

/// The names a kustomization file may have.
const KUSTOMIZATION_FILES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The smallest directory of the repository that `rel` needs: `rel` itself, widened to the
/// common ancestor of every path that a kustomization file or a symlink below it reaches with
/// `..` (a base, a component, a patch file), repeated until nothing reaches further. A
/// monorepo's app then exports only its own directory instead of the whole repository.
///
/// The scan is deliberately generous (any `..`-path token in a kustomization counts): a scope
/// too wide only costs time, a scope too narrow would break the render.
pub(crate) fn scope_for(
    repo: &Repository,
    root: &git2::Tree<'_>,
    rel: &Path,
    limits: &ExportLimits,
) -> Result<PathBuf, Refusal> {
    let odb = repo.odb().map_err(Refusal::git("open object database"))?;
    let mut scope = rel.to_path_buf();
    loop {
        let Some(sub) = subtree(repo, root, &scope) else {
            return Ok(PathBuf::new());
        };
        let mut reached = Vec::new();
        let mut scan = Scan {
            repo,
            odb: &odb,
            limits,
            entries: 0,
            bytes: 0,
        };
        scan.collect_reaches(&sub, &scope, &mut reached)?;
        let mut widened = scope.clone();
        for target in reached {
            widened = common_ancestor(&widened, &target);
        }
        if widened == scope {
            return Ok(scope);
        }
        scope = widened;
    }
}

fn subtree<'r>(repo: &'r Repository, root: &git2::Tree<'r>, rel: &Path) -> Option<git2::Tree<'r>> {
    if rel.as_os_str().is_empty() {
        return Some(root.clone());
    }
    let entry = root.get_path(rel).ok()?;
    entry.to_object(repo).ok()?.peel_to_tree().ok()
}

/// One pass over a scope, bounded by the export limits: everything it reads lies inside the
/// scope, which is exported, so a scope over the limits is refused here already.
struct Scan<'a, 'r> {
    repo: &'r Repository,
    odb: &'a git2::Odb<'r>,
    limits: &'a ExportLimits,
    entries: u64,
    bytes: u64,
}

impl Scan<'_, '_> {
    /// Paths (repository-relative) that kustomization files and symlinks under `tree` (at
    /// `dir`) point to with `..`.
    fn collect_reaches(
        &mut self,
        tree: &git2::Tree<'_>,
        dir: &Path,
        out: &mut Vec<PathBuf>,
    ) -> Result<(), Refusal> {
        if dir.components().count() > MAX_DEPTH {
            return Err(Refusal::unsafe_entry(
                &dir.to_string_lossy(),
                format!("directories nest deeper than {MAX_DEPTH} levels"),
            ));
        }
        for entry in tree.iter() {
            let shown = display_path(dir, entry.name_bytes());
            let name =
                check_name(entry.name_bytes()).map_err(|r| Refusal::unsafe_entry(&shown, r))?;
            self.entries += 1;
            if self.entries > self.limits.max_files {
                return Err(Refusal::files(self.limits));
            }
            match entry.kind() {
                Some(ObjectType::Tree) => {
                    let sub = entry
                        .to_object(self.repo)
                        .and_then(|o| o.peel_to_tree())
                        .map_err(Refusal::git("read tree"))?;
                    self.collect_reaches(&sub, &dir.join(name), out)?;
                }
                Some(ObjectType::Blob) => self.scan_blob(&entry, name, dir, out)?,
                _ => {}
            }
        }
        Ok(())
    }

    fn scan_blob(
        &mut self,
        entry: &git2::TreeEntry<'_>,
        name: &str,
        dir: &Path,
        out: &mut Vec<PathBuf>,
    ) -> Result<(), Refusal> {
        let symlink = entry.filemode() == 0o120000;
        if !symlink && !KUSTOMIZATION_FILES.contains(&name) {
            return Ok(());
        }
        let Ok((size, _)) = self.odb.read_header(entry.id()) else {
            return Ok(());
        };
        self.bytes = self.bytes.saturating_add(size as u64);
        if self.bytes > self.limits.max_bytes {
            return Err(Refusal::bytes(
                format!("more than {}", human_bytes(self.limits.max_bytes)),
                self.limits,
            ));
        }
        let Ok(blob) = self.repo.find_blob(entry.id()) else {
            return Ok(());
        };
        let text = String::from_utf8_lossy(blob.content());
        let tokens: Vec<&str> = if symlink {
            vec![text.as_ref()]
        } else {
            text.split(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | '[' | ']'))
                .collect()
        };
        for t in tokens.into_iter().filter(|t| t.contains("..")) {
            // Escaping the repository is refused later, by the export or the renderer.
            if let Ok(p) = clean_rel(&dir.join(t).to_string_lossy()) {
                out.push(p);
            }
        }
        Ok(())
    }
}

fn common_ancestor(a: &Path, b: &Path) -> PathBuf {
    a.components()
        .zip(b.components())
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x.as_os_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A commit tree with `files` (path, content); paths ending in `@` are symlinks.
    fn tree<'r>(repo: &'r Repository, files: &[(&str, &str)]) -> git2::Tree<'r> {
        let mut index = git2::Index::new().unwrap();
        for (path, text) in files {
            let (path, mode) = match path.strip_suffix('@') {
                Some(p) => (p, 0o120000),
                None => (*path, 0o100644),
            };
            let id = repo.blob(text.as_bytes()).unwrap();
            let entry = git2::IndexEntry {
                ctime: git2::IndexTime::new(0, 0),
                mtime: git2::IndexTime::new(0, 0),
                dev: 0,
                ino: 0,
                mode,
                uid: 0,
                gid: 0,
                file_size: text.len() as u32,
                id,
                flags: path.len() as u16,
                flags_extended: 0,
                path: path.as_bytes().to_vec(),
            };
            index.add(&entry).unwrap();
        }
        let id = index.write_tree_to(repo).unwrap();
        repo.find_tree(id).unwrap()
    }

    #[test]
    fn scope_widens_to_what_kustomizations_and_links_reach() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(dir.path()).unwrap();
        let t = tree(
            &repo,
            &[
                ("apps/one/kustomization.yaml", "resources:\n- deploy.yaml\n"),
                ("apps/one/deploy.yaml", "kind: Deployment\n"),
                (
                    "envs/prod/kustomization.yaml",
                    "resources:\n- ../../base/web\ncomponents: [\"../../components/x\"]\n",
                ),
                ("base/web/kustomization.yaml", "resources:\n- ../shared\n"),
                ("base/shared/cm.yaml", "kind: ConfigMap\n"),
                ("linked/cm.yaml@", "../apps/one/deploy.yaml"),
                ("escape/kustomization.yaml", "resources:\n- ../../../etc\n"),
                ("README.md", "hi\n"),
            ],
        );
        let limits = ExportLimits::default();
        let scope = |p: &str| scope_for(&repo, &t, Path::new(p), &limits).unwrap();
        assert_eq!(scope("apps/one"), PathBuf::from("apps/one"));
        assert_eq!(scope("base/shared"), PathBuf::from("base/shared"));
        // base/web reaches base/shared: the scope is base.
        assert_eq!(scope("base/web"), PathBuf::from("base"));
        // envs/prod reaches base/ and components/: the common ancestor is the root.
        assert_eq!(scope("envs/prod"), PathBuf::new());
        assert_eq!(scope("linked"), PathBuf::new());
        // A reference out of the repository does not widen (it is refused later).
        assert_eq!(scope("escape"), PathBuf::from("escape"));
    }
}
