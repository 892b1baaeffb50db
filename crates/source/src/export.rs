//! Writing a commit's tree to a directory: files with their executable bit, in-repository
//! symlinks (links leaving the repository are refused), submodules as empty directories.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use git2::{ObjectType, Oid, Repository};

use crate::repo::{clean_rel, RepoError};

/// Exports one tree of `repo` below `root`.
pub(crate) struct Exporter<'a> {
    pub(crate) repo: &'a Repository,
    pub(crate) root: &'a Path,
    pub(crate) url: &'a str,
    pub(crate) oid: Oid,
}

impl Exporter<'_> {
    fn io(&self, p: &Path) -> impl Fn(io::Error) -> RepoError {
        let path = self.root.join(p);
        move |source| RepoError::CacheDir {
            path: path.clone(),
            source,
        }
    }

    pub(crate) fn export(&mut self, tree: &git2::Tree<'_>, rel: &Path) -> Result<(), RepoError> {
        for entry in tree.iter() {
            let Some(name) = entry.name() else { continue };
            let p = rel.join(name);
            let dest = self.root.join(&p);
            let git_err = |e: git2::Error| RepoError::Git {
                url: self.url.to_string(),
                step: "export tree",
                message: e.message().to_string(),
            };
            match entry.kind() {
                Some(ObjectType::Tree) => {
                    fs::create_dir_all(&dest).map_err(self.io(&p))?;
                    let sub = entry.to_object(self.repo).map_err(git_err)?;
                    let sub = sub.peel_to_tree().map_err(git_err)?;
                    self.export(&sub, &p)?;
                }
                Some(ObjectType::Blob) => {
                    let blob = self.repo.find_blob(entry.id()).map_err(git_err)?;
                    if entry.filemode() == 0o120000 {
                        self.symlink(&p, blob.content())?;
                    } else {
                        fs::write(&dest, blob.content()).map_err(self.io(&p))?;
                        if entry.filemode() == 0o100755 {
                            set_executable(&dest).map_err(self.io(&p))?;
                        }
                    }
                }
                // Submodules (commits) are left as empty directories.
                _ => fs::create_dir_all(&dest).map_err(self.io(&p))?,
            }
        }
        Ok(())
    }

    fn symlink(&self, p: &Path, target: &[u8]) -> Result<(), RepoError> {
        let target = String::from_utf8_lossy(target).to_string();
        let parent = p.parent().unwrap_or(Path::new(""));
        let joined = parent.join(&target);
        if target.starts_with('/') || clean_rel(&joined.to_string_lossy()).is_err() {
            return Err(RepoError::SymlinkEscapes {
                url: self.url.to_string(),
                revision: self.oid,
                path: p.to_string_lossy().to_string(),
            });
        }
        make_symlink(&target, &self.root.join(p)).map_err(self.io(p))
    }
}

#[cfg(unix)]
fn set_executable(p: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(p, fs::Permissions::from_mode(0o755))
}

#[cfg(not(unix))]
fn set_executable(_p: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn make_symlink(target: &str, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn make_symlink(target: &str, link: &Path) -> io::Result<()> {
    fs::write(link, target)
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
pub(crate) fn scope_for(repo: &Repository, root: &git2::Tree<'_>, rel: &Path) -> PathBuf {
    let mut scope = rel.to_path_buf();
    loop {
        let Some(sub) = subtree(repo, root, &scope) else {
            return PathBuf::new();
        };
        let mut reached = Vec::new();
        collect_reaches(repo, &sub, &scope, &mut reached);
        let mut widened = scope.clone();
        for target in reached {
            widened = common_ancestor(&widened, &target);
        }
        if widened == scope {
            return scope;
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

/// Paths (repository-relative) that kustomization files and symlinks under `tree` (at `dir`)
/// point to with `..`.
fn collect_reaches(repo: &Repository, tree: &git2::Tree<'_>, dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in tree.iter() {
        let Some(name) = entry.name() else { continue };
        match entry.kind() {
            Some(ObjectType::Tree) => {
                if let Some(sub) = entry
                    .to_object(repo)
                    .ok()
                    .and_then(|o| o.peel_to_tree().ok())
                {
                    collect_reaches(repo, &sub, &dir.join(name), out);
                }
            }
            Some(ObjectType::Blob) => {
                let symlink = entry.filemode() == 0o120000;
                if !symlink && !KUSTOMIZATION_FILES.contains(&name) {
                    continue;
                }
                let Ok(blob) = repo.find_blob(entry.id()) else {
                    continue;
                };
                let text = String::from_utf8_lossy(blob.content());
                let tokens: Vec<&str> = if symlink {
                    vec![text.as_ref()]
                } else {
                    text.split(|c: char| {
                        c.is_whitespace() || matches!(c, '"' | '\'' | ',' | '[' | ']')
                    })
                    .collect()
                };
                for t in tokens.into_iter().filter(|t| t.contains("..")) {
                    // Escaping the repository is refused later, by the export or the renderer.
                    if let Ok(p) = clean_rel(&dir.join(t).to_string_lossy()) {
                        out.push(p);
                    }
                }
            }
            _ => {}
        }
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
        let scope = |p: &str| scope_for(&repo, &t, Path::new(p));
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
