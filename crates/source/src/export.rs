//! Writing a commit's tree to a directory: files with their executable bit, in-repository
//! symlinks (links leaving the repository are refused), submodules as empty directories.

use std::fs;
use std::io;
use std::path::Path;

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
