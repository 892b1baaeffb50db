//! The repository cache: one bare mirror per normalised repository URL, shared by every app that
//! uses the repository; fetching, revision resolution, tree export and change listing.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use git2::{
    AutotagOption, CertificateCheckStatus, Cred, CredentialType, FetchOptions, FetchPrune,
    ObjectType, Oid, RemoteCallbacks, Repository,
};
use sha2::{Digest, Sha256};

use crate::credentials::{CredentialStore, RepoCredentials};
pub use crate::error::RepoError;
use crate::export_plan::Refusal;
use crate::known_hosts::{HostKeyVerdict, KnownHosts};
use crate::limits::ExportLimits;
use crate::paths::clean_rel;
use crate::redact::redact_message;
pub use crate::redact::redact_url;
use crate::url::{normalize_url, RemoteUrl, Transport};

/// A ref that changed during a fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefChange {
    /// Full ref name (`refs/heads/main`, `refs/tags/v1`).
    pub name: String,
    /// The commit before the fetch (`None`: the ref is new).
    pub old: Option<Oid>,
    /// The commit after the fetch (`None`: the ref was deleted).
    pub new: Option<Oid>,
}

/// What a fetch brought.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchSummary {
    /// The remote's default branch (`refs/heads/main`), when it advertises one.
    pub default_branch: Option<String>,
    /// Refs that were created, moved or deleted.
    pub changed: Vec<RefChange>,
}

/// Credentials and host keys shared by every mirror of a cache; replaceable at run time.
#[derive(Debug, Default)]
struct Settings {
    credentials: RwLock<CredentialStore>,
    known_hosts: RwLock<KnownHosts>,
    export_limits: RwLock<ExportLimits>,
}

/// A cache of repository mirrors under one directory, keyed by normalised URL.
#[derive(Debug)]
pub struct RepoCache {
    root: PathBuf,
    settings: Arc<Settings>,
    repos: Mutex<HashMap<String, Arc<Repo>>>,
    /// When each mirror (by directory name) was last handed out, for eviction.
    last_used: Mutex<HashMap<String, std::time::SystemTime>>,
}

impl RepoCache {
    /// A cache rooted at `root` (created if missing): mirrors live in `root/mirrors`, exported
    /// trees in `root/trees`.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, RepoError> {
        let root = root.into();
        for d in [root.join("mirrors"), root.join("trees")] {
            fs::create_dir_all(&d).map_err(|source| RepoError::CacheDir { path: d, source })?;
        }
        Ok(RepoCache {
            root,
            settings: Arc::default(),
            repos: Mutex::default(),
            last_used: Mutex::default(),
        })
    }

    /// Replaces the repository credentials used by later fetches.
    pub fn set_credentials(&self, store: CredentialStore) {
        *self
            .settings
            .credentials
            .write()
            .unwrap_or_else(|e| e.into_inner()) = store;
    }

    /// Replaces the SSH known hosts used by later fetches.
    pub fn set_known_hosts(&self, hosts: KnownHosts) {
        *self
            .settings
            .known_hosts
            .write()
            .unwrap_or_else(|e| e.into_inner()) = hosts;
    }

    /// Replaces the limits of later exports ([`Repo::checkout_tree`]); exports already made
    /// stay as they are.
    pub fn set_export_limits(&self, limits: ExportLimits) {
        *self
            .settings
            .export_limits
            .write()
            .unwrap_or_else(|e| e.into_inner()) = limits;
    }

    /// The limits exports are made with.
    pub fn export_limits(&self) -> ExportLimits {
        *self
            .settings
            .export_limits
            .read()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The mirror for `url`, opened or created on first use; URLs that normalise alike
    /// (`git@host:org/repo.git`, `ssh://git@host/org/repo`) share one mirror. Nothing is fetched.
    pub fn repo(&self, url: &str) -> Result<Arc<Repo>, RepoError> {
        RemoteUrl::parse(url)?;
        let key = normalize_url(url);
        let id = mirror_id(&key);
        let mut repos = self.open_repos();
        self.touch(&id);
        if let Some(r) = repos.get(&key) {
            return Ok(Arc::clone(r));
        }
        let dir = self.root.join("mirrors").join(&id);
        let trees = self.root.join("trees").join(&id);
        let display = redact_url(url);
        let git_err = |step| {
            let display = display.clone();
            move |e: git2::Error| RepoError::Git {
                url: display,
                step,
                message: redact_message(e.message(), url),
            }
        };
        let git = if dir.join("HEAD").exists() {
            Repository::open_bare(&dir).map_err(git_err("open mirror"))?
        } else {
            fs::create_dir_all(&dir).map_err(|source| RepoError::CacheDir {
                path: dir.clone(),
                source,
            })?;
            Repository::init_bare(&dir).map_err(git_err("create mirror"))?
        };
        let repo = Arc::new(Repo {
            url: url.trim().to_string(),
            display,
            key: key.clone(),
            dir,
            trees,
            settings: Arc::clone(&self.settings),
            git: Mutex::new(git),
            fetched: AtomicBool::new(false),
        });
        repos.insert(key, Arc::clone(&repo));
        Ok(repo)
    }

    /// The cache's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The map of open mirrors, locked.
    pub(crate) fn open_repos(&self) -> MutexGuard<'_, HashMap<String, Arc<Repo>>> {
        self.repos.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that mirror `id` is used now.
    fn touch(&self, id: &str) {
        self.last_used
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string(), std::time::SystemTime::now());
    }

    /// When mirror `id` was last handed out by this cache.
    pub(crate) fn last_use(&self, id: &str) -> Option<std::time::SystemTime> {
        let used = self.last_used.lock().unwrap_or_else(|e| e.into_inner());
        used.get(id).copied()
    }

    /// Forgets the last use of an evicted mirror.
    pub(crate) fn forget_use(&self, id: &str) {
        let mut used = self.last_used.lock().unwrap_or_else(|e| e.into_inner());
        used.remove(id);
    }
}

/// The directory name of the mirror of a normalised URL (`key`).
pub(crate) fn mirror_id(key: &str) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..12])
}

/// One repository mirror (a bare repository holding every branch and tag of the remote).
pub struct Repo {
    pub(crate) url: String,
    pub(crate) display: String,
    key: String,
    dir: PathBuf,
    trees: PathBuf,
    settings: Arc<Settings>,
    git: Mutex<Repository>,
    /// A fetch of every branch and tag succeeded on this mirror (a mirror recreated after an
    /// eviction starts empty and needs one before anything resolves).
    fetched: AtomicBool,
}

impl std::fmt::Debug for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repo")
            .field("url", &self.display)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

const REFSPECS: [&str; 2] = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"];

impl Repo {
    /// The URL the mirror fetches from, as first given.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The normalised URL (the cache key).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The bare mirror's directory.
    pub fn mirror_dir(&self) -> &Path {
        &self.dir
    }

    /// Whether a full fetch ([`Repo::fetch`]) succeeded on this mirror object. False for a
    /// mirror just opened or recreated after an eviction: fetch it before resolving.
    pub fn has_fetched(&self) -> bool {
        self.fetched.load(Ordering::SeqCst)
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Repository> {
        self.git.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn git_err(&self, step: &'static str) -> impl Fn(git2::Error) -> RepoError + '_ {
        move |e| RepoError::Git {
            url: self.display.clone(),
            step,
            message: redact_message(e.message(), &self.url),
        }
    }

    /// Fetches every branch and tag (pruning deleted ones) with the credentials and known hosts
    /// of the cache, and points the mirror's `HEAD` at the remote's default branch.
    pub fn fetch(&self) -> Result<FetchSummary, RepoError> {
        let repo = self.lock();
        self.fetch_locked(&repo)
    }

    /// [`Repo::fetch`] with the mirror already locked.
    pub(crate) fn fetch_locked(&self, repo: &Repository) -> Result<FetchSummary, RepoError> {
        let before = snapshot_refs(repo);
        let default_branch = self.fetch_specs(repo, &REFSPECS, FetchPrune::On)?;
        if let Some(branch) = &default_branch {
            repo.set_head(branch).map_err(self.git_err("set HEAD"))?;
        }
        let after = snapshot_refs(repo);
        self.fetched.store(true, Ordering::SeqCst);
        Ok(FetchSummary {
            default_branch,
            changed: diff_refs(&before, &after),
        })
    }

    /// Makes sure the commit with full SHA `sha` is in the mirror, fetching it by id when no
    /// branch or tag brought it (as Argo CD does for commits only reachable from other refs, such
    /// as pull-request heads; the server must allow fetching by SHA). The commit is kept under
    /// `refs/fjord/commits/<sha>`.
    pub fn fetch_commit(&self, sha: &str) -> Result<Oid, RepoError> {
        let sha = sha.trim();
        let not_found = || RepoError::RevisionNotFound {
            url: self.display.clone(),
            revision: sha.to_string(),
        };
        if sha.len() != 40 {
            return Err(not_found());
        }
        let oid = Oid::from_str(sha).map_err(|_| not_found())?;
        let repo = self.lock();
        if repo.find_commit(oid).is_err() {
            let spec = format!("+{sha}:refs/fjord/commits/{sha}");
            self.fetch_specs(&repo, &[spec.as_str()], FetchPrune::Off)?;
        }
        repo.find_commit(oid)
            .map(|c| c.id())
            .map_err(|_| not_found())
    }

    /// Runs one fetch of `refspecs`; returns the remote's default branch when advertised.
    fn fetch_specs(
        &self,
        repo: &Repository,
        refspecs: &[&str],
        prune: FetchPrune,
    ) -> Result<Option<String>, RepoError> {
        let (remote_url, creds, known) = self.transport_settings()?;
        let host_problem: RefCell<Option<(HostKeyVerdict, String)>> = RefCell::new(None);
        let auth_attempts = Cell::new(0u32);
        let auth_refused = Cell::new(false);
        let mut remote = repo
            .remote_anonymous(&self.url)
            .map_err(self.git_err("create remote"))?;
        let mut fo = FetchOptions::new();
        fo.remote_callbacks(callbacks(
            &creds,
            &known,
            &remote_url,
            &host_problem,
            (&auth_attempts, &auth_refused),
        ));
        fo.prune(prune);
        fo.download_tags(AutotagOption::None);
        if let Err(e) = remote.fetch(refspecs, Some(&mut fo), None) {
            return Err(self.fetch_error(e, &host_problem, auth_refused.get(), &remote_url));
        }
        Ok(remote
            .default_branch()
            .ok()
            .and_then(|b| b.as_str().ok().map(str::to_string)))
    }

    /// The parsed URL, the credentials and the known hosts a fetch or push of this mirror uses.
    pub(crate) fn transport_settings(
        &self,
    ) -> Result<(RemoteUrl, RepoCredentials, KnownHosts), RepoError> {
        let remote_url = RemoteUrl::parse(&self.url)?;
        let creds = self
            .settings
            .credentials
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .lookup(&self.url);
        let known = self
            .settings
            .known_hosts
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        Ok((remote_url, creds, known))
    }

    fn fetch_error(
        &self,
        e: git2::Error,
        host_problem: &RefCell<Option<(HostKeyVerdict, String)>>,
        auth_refused: bool,
        remote: &RemoteUrl,
    ) -> RepoError {
        let url = self.display.clone();
        if let Some((verdict, host)) = host_problem.borrow_mut().take() {
            return match verdict {
                HostKeyVerdict::Mismatch => RepoError::HostKeyMismatch { url, host },
                HostKeyVerdict::Revoked => RepoError::HostKeyRevoked { url, host },
                _ => RepoError::UnknownHostKey { url, host },
            };
        }
        let auth_code = matches!(e.code(), git2::ErrorCode::Auth)
            || (remote.transport == Transport::Http && e.message().contains("401"));
        if auth_code || auth_refused {
            return RepoError::AuthFailed { url };
        }
        RepoError::Fetch {
            url,
            message: redact_message(e.message(), &self.url),
        }
    }

    /// The remote's default branch as recorded by the last fetch (`refs/heads/main`).
    pub fn default_branch(&self) -> Option<String> {
        let repo = self.lock();
        let head = repo.find_reference("HEAD").ok()?;
        head.symbolic_target().ok().flatten().map(str::to_string)
    }

    /// Resolves an Argo CD `targetRevision` to a commit of the mirror: `""`/`HEAD` (the remote's
    /// default branch), a full ref (`refs/heads/x`, `refs/tags/v1`), a branch name, a tag name
    /// (annotated tags are peeled; a branch wins over a tag of the same name), or a full or short
    /// (4+ hex digits) commit SHA, or a semantic-version range (`1.2.*`, `>=1.0 <2.0`) picking the
    /// highest matching tag (see [`crate::semver_range`]). Call [`Repo::fetch`] first.
    pub fn resolve(&self, target_revision: &str) -> Result<Oid, RepoError> {
        let rev = target_revision.trim();
        let repo = self.lock();
        let not_found = || RepoError::RevisionNotFound {
            url: self.display.clone(),
            revision: rev.to_string(),
        };
        let peel = |name: &str| -> Option<Oid> {
            let r = repo.find_reference(name).ok()?;
            r.peel_to_commit().ok().map(|c| c.id())
        };
        if rev.is_empty() || rev == "HEAD" {
            return peel("HEAD").ok_or_else(not_found);
        }
        if rev.starts_with("refs/") {
            return peel(rev).ok_or_else(not_found);
        }
        for candidate in [format!("refs/heads/{rev}"), format!("refs/tags/{rev}")] {
            if let Some(id) = peel(&candidate) {
                return Ok(id);
            }
        }
        if rev.len() >= 4 && rev.len() <= 40 && rev.bytes().all(|b| b.is_ascii_hexdigit()) {
            let found = if rev.len() == 40 {
                let oid = Oid::from_str(rev).map_err(|_| not_found())?;
                repo.find_object(oid, None)
            } else {
                repo.revparse_single(rev)
            };
            return match found {
                Ok(obj) => obj
                    .peel_to_commit()
                    .map(|c| c.id())
                    .map_err(|_| not_found()),
                Err(e) if e.code() == git2::ErrorCode::Ambiguous => {
                    Err(RepoError::AmbiguousRevision {
                        url: self.display.clone(),
                        revision: rev.to_string(),
                    })
                }
                Err(_) => Err(not_found()),
            };
        }
        if crate::semver_range::is_range(rev) {
            let names = repo.tag_names(None).map_err(self.git_err("list tags"))?;
            if let Some(best) = crate::semver_range::best_tag(rev, names.iter().flatten().flatten())
            {
                return peel(&format!("refs/tags/{best}")).ok_or_else(not_found);
            }
        }
        Err(not_found())
    }

    /// Exports what `path` needs of commit `oid` — its directory, widened to include whatever its
    /// kustomizations and symlinks reach with `..` (the scoped export, bounded by
    /// [`crate::ExportLimits`]) — once per revision and scope, shared by every app with that
    /// scope, and returns the directory of `path` in it (`""` or `.` is the root). Relative
    /// references such as `../base` keep working. Fails when `path` leaves the repository or is
    /// not a directory at that revision, or when a symlink points outside the repository.
    pub fn checkout_tree(&self, oid: Oid, path: &str) -> Result<PathBuf, RepoError> {
        let rel = clean_rel(path)?;
        let limits = *self
            .settings
            .export_limits
            .read()
            .unwrap_or_else(|e| e.into_inner());
        let repo = self.lock();
        let commit = repo
            .find_commit(oid)
            .map_err(|_| RepoError::RevisionNotFound {
                url: self.display.clone(),
                revision: oid.to_string(),
            })?;
        let tree = commit.tree().map_err(self.git_err("read tree"))?;
        let path_missing = || RepoError::PathNotFound {
            url: self.display.clone(),
            revision: oid,
            path: path.to_string(),
        };
        if !rel.as_os_str().is_empty() {
            let entry = tree.get_path(&rel).map_err(|_| path_missing())?;
            if entry.kind() != Some(ObjectType::Tree) {
                return Err(path_missing());
            }
        }
        let scope = crate::export::scope_for(&repo, &tree, &rel, &limits)
            .map_err(|r| self.refused(oid, r))?;
        let scope_key = if scope.as_os_str().is_empty() {
            "all".to_string()
        } else {
            hex::encode(&Sha256::digest(scope.to_string_lossy().as_bytes())[..8])
        };
        let dir = self.trees.join(oid.to_string()).join(&scope_key);
        if !dir.is_dir() {
            let tmp = self
                .trees
                .join(format!(".tmp-{oid}-{scope_key}-{}", std::process::id()));
            let result = crate::export::export_scope(&repo, &tree, &scope, &limits, &tmp)
                .and_then(|()| {
                    let revision_dir = dir.parent().unwrap_or(&self.trees);
                    fs::create_dir_all(revision_dir)
                        .and_then(|()| fs::rename(&tmp, &dir))
                        .or_else(|source| match dir.is_dir() {
                            true => Ok(()),
                            false => Err(Refusal::Write {
                                path: String::new(),
                                source,
                            }),
                        })
                })
                .map_err(|r| self.refused(oid, r));
            if let Err(e) = result {
                let _ = fs::remove_dir_all(&tmp);
                return Err(e);
            }
        }
        Ok(dir.join(rel))
    }

    /// A refused export as the error naming the repository and the revision.
    fn refused(&self, revision: Oid, r: Refusal) -> RepoError {
        r.into_error(&self.display, &self.url, revision)
    }

    /// Removes exported trees of revisions not in `keep`.
    pub fn prune_trees(&self, keep: &[Oid]) -> Result<(), RepoError> {
        let _guard = self.lock();
        let Ok(entries) = fs::read_dir(&self.trees) else {
            return Ok(());
        };
        let keep: BTreeSet<String> = keep.iter().map(Oid::to_string).collect();
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if !keep.contains(&name) {
                fs::remove_dir_all(e.path()).map_err(|source| RepoError::CacheDir {
                    path: e.path(),
                    source,
                })?;
            }
        }
        Ok(())
    }

    /// Repository-relative paths of every file added, modified, deleted or renamed (both names)
    /// between commits `old` and `new`, sorted.
    pub fn changed_paths(&self, old: Oid, new: Oid) -> Result<Vec<PathBuf>, RepoError> {
        let repo = self.lock();
        let tree_of = |oid: Oid| {
            repo.find_commit(oid)
                .and_then(|c| c.tree())
                .map_err(|_| RepoError::RevisionNotFound {
                    url: self.display.clone(),
                    revision: oid.to_string(),
                })
        };
        let (a, b) = (tree_of(old)?, tree_of(new)?);
        let diff = repo
            .diff_tree_to_tree(Some(&a), Some(&b), None)
            .map_err(self.git_err("diff trees"))?;
        let mut out = BTreeSet::new();
        for d in diff.deltas() {
            for f in [d.old_file(), d.new_file()] {
                if let Some(p) = f.path() {
                    if f.id() != Oid::ZERO_SHA1 || d.status() == git2::Delta::Deleted {
                        out.insert(p.to_path_buf());
                    }
                }
            }
        }
        Ok(out.into_iter().collect())
    }
}

const MAX_AUTH_ATTEMPTS: u32 = 3;

pub(crate) fn callbacks<'a>(
    creds: &'a RepoCredentials,
    known: &'a KnownHosts,
    remote: &'a RemoteUrl,
    host_problem: &'a RefCell<Option<(HostKeyVerdict, String)>>,
    (attempts, refused): (&'a Cell<u32>, &'a Cell<bool>),
) -> RemoteCallbacks<'a> {
    let mut cb = RemoteCallbacks::new();
    cb.credentials(move |_url, user_from_url, allowed| {
        attempts.set(attempts.get() + 1);
        if attempts.get() > MAX_AUTH_ATTEMPTS {
            refused.set(true);
            return Err(git2::Error::from_str("authentication failed"));
        }
        let user = user_from_url
            .map(str::to_string)
            .or_else(|| creds.username.clone())
            .unwrap_or_else(|| "git".to_string());
        if allowed.contains(CredentialType::SSH_KEY) {
            if let Some(key) = &creds.ssh_private_key {
                return Cred::ssh_key_from_memory(&user, None, key.expose(), None);
            }
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
            if let (Some(u), Some(p)) = (&creds.username, &creds.password) {
                return Cred::userpass_plaintext(u, p.expose());
            }
            if let Some(p) = &creds.password {
                return Cred::userpass_plaintext(&user, p.expose());
            }
        }
        if allowed.contains(CredentialType::USERNAME) {
            return Cred::username(&user);
        }
        refused.set(true);
        Err(git2::Error::from_str("no credentials configured"))
    });
    cb.certificate_check(move |cert, host| {
        if creds.insecure {
            return Ok(CertificateCheckStatus::CertificateOk);
        }
        let Some(hostkey) = cert.as_hostkey() else {
            // TLS: let libgit2 verify against the system trust store.
            return Ok(CertificateCheckStatus::CertificatePassthrough);
        };
        let name = match remote.port {
            None | Some(22) => host.to_string(),
            Some(p) => format!("[{host}]:{p}"),
        };
        let verdict = match hostkey.hostkey() {
            Some(key) => known.check(host, remote.port, key),
            None => HostKeyVerdict::Unknown,
        };
        if verdict == HostKeyVerdict::Trusted {
            Ok(CertificateCheckStatus::CertificateOk)
        } else {
            *host_problem.borrow_mut() = Some((verdict, name));
            Err(git2::Error::from_str("host key verification failed"))
        }
    });
    cb
}

fn snapshot_refs(repo: &Repository) -> BTreeMap<String, Oid> {
    let mut out = BTreeMap::new();
    if let Ok(refs) = repo.references() {
        for r in refs.flatten() {
            if let (Ok(name), Some(oid)) = (r.name(), r.target()) {
                if name.starts_with("refs/heads/") || name.starts_with("refs/tags/") {
                    out.insert(name.to_string(), oid);
                }
            }
        }
    }
    out
}

fn diff_refs(before: &BTreeMap<String, Oid>, after: &BTreeMap<String, Oid>) -> Vec<RefChange> {
    let names: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    names
        .into_iter()
        .filter_map(|n| {
            let (old, new) = (before.get(n).copied(), after.get(n).copied());
            (old != new).then(|| RefChange {
                name: n.clone(),
                old,
                new,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ref_changes_cover_new_moved_and_deleted() {
        let a = Oid::from_str("1111111111111111111111111111111111111111").unwrap();
        let b = Oid::from_str("2222222222222222222222222222222222222222").unwrap();
        let before = BTreeMap::from([
            ("refs/heads/main".to_string(), a),
            ("refs/heads/gone".to_string(), a),
            ("refs/tags/same".to_string(), a),
        ]);
        let after = BTreeMap::from([
            ("refs/heads/main".to_string(), b),
            ("refs/heads/new".to_string(), b),
            ("refs/tags/same".to_string(), a),
        ]);
        let changes = diff_refs(&before, &after);
        assert_eq!(
            changes,
            vec![
                RefChange {
                    name: "refs/heads/gone".into(),
                    old: Some(a),
                    new: None
                },
                RefChange {
                    name: "refs/heads/main".into(),
                    old: Some(a),
                    new: Some(b)
                },
                RefChange {
                    name: "refs/heads/new".into(),
                    old: None,
                    new: Some(b)
                },
            ]
        );
    }
}
