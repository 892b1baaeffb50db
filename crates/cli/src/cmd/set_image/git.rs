//! `fjord set-image --commit/--push`: the commit of the changed files on the current branch of
//! the working tree, and the push to its upstream with retries on a moved branch (never forced).

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use fjord_source::known_hosts::HostKeyVerdict;
use fjord_source::url::RemoteUrl;
use fjord_source::{redact_url, KnownHosts};
use git2::{
    CertificateCheckStatus, Cred, CredentialType, ErrorCode, FetchOptions, Oid, PushOptions,
    RemoteCallbacks, Repository, ResetType, Status, StatusOptions,
};

use super::{FileEdit, SetImageArgs};

/// Pushes retried after the first one was refused because the branch moved.
const MAX_RETRIES: u32 = 5;

/// How often one connection may ask the credential helper.
const MAX_HELPER_CALLS: u32 = 3;

/// Where the branch is pushed.
struct Upstream {
    /// The remote's name.
    remote: String,
    /// The remote's URL (for host keys and credential helpers).
    url: String,
    /// The branch on the remote (`refs/heads/main`).
    remote_ref: String,
}

/// The repository containing DIR, its current branch, the author and the message.
pub(crate) struct Session {
    repo: Repository,
    workdir: PathBuf,
    branch: String,
    author: (String, String),
    message: String,
    upstream: Option<Upstream>,
}

impl Session {
    /// Opens the repository containing `args.dir` and checks, before any file is written, that
    /// a commit (and a push) can be made: a branch is checked out, an author is known, the
    /// changed files are inside the work tree, and for `--push` the work tree has no
    /// uncommitted changes.
    pub(crate) fn open(args: &SetImageArgs, edits: &[FileEdit]) -> Result<Session> {
        let repo = Repository::discover(&args.dir).with_context(|| {
            format!("find the git repository containing {}", args.dir.display())
        })?;
        let workdir = repo
            .workdir()
            .ok_or_else(|| {
                anyhow!(
                    "{}: a bare repository has no work tree to commit",
                    repo.path().display()
                )
            })?
            .canonicalize()
            .context("resolve the work tree")?;
        let head = repo.find_reference("HEAD").context("read HEAD")?;
        let branch = match head.symbolic_target() {
            Ok(Some(b)) if b.starts_with("refs/heads/") => b.to_string(),
            _ => bail!("HEAD is detached: check out a branch to commit on"),
        };
        drop(head);
        let author = author(&repo, args)?;
        let message = match &args.message {
            Some(m) => m.clone(),
            None => format!("fjord set-image: {}", args.images.join(" ")),
        };
        let mut session = Session {
            repo,
            workdir,
            branch,
            author,
            message,
            upstream: None,
        };
        let files: Vec<PathBuf> = edits.iter().map(|e| e.real.clone()).collect();
        session.relative(&files)?;
        if args.push {
            session.upstream = Some(session.upstream(args.remote.as_deref())?);
            session.require_clean()?;
        }
        Ok(session)
    }

    /// The branch committed on (`main`).
    pub(crate) fn branch(&self) -> &str {
        self.branch.trim_start_matches("refs/heads/")
    }

    /// Work-tree-relative paths of `files`; an error for a file outside the work tree.
    fn relative(&self, files: &[PathBuf]) -> Result<Vec<PathBuf>> {
        files
            .iter()
            .map(|f| {
                f.strip_prefix(&self.workdir)
                    .map(Path::to_path_buf)
                    .map_err(|_| {
                        anyhow!(
                            "{} is outside the work tree {}",
                            f.display(),
                            self.workdir.display()
                        )
                    })
            })
            .collect()
    }

    /// The remote and branch to push to: `--remote` or the branch's upstream remote (else
    /// `origin`), and the upstream's branch when it is on that remote (else the same name).
    fn upstream(&self, remote: Option<&str>) -> Result<Upstream> {
        let config = self.repo.config().context("read git config")?;
        let short = self.branch();
        let configured = config.get_string(&format!("branch.{short}.remote")).ok();
        let name = remote
            .map(str::to_string)
            .or_else(|| configured.clone())
            .unwrap_or_else(|| "origin".to_string());
        let merge = config.get_string(&format!("branch.{short}.merge")).ok();
        let remote_ref = match (configured.as_deref() == Some(name.as_str()), merge) {
            (true, Some(m)) if m.starts_with("refs/heads/") => m,
            _ => self.branch.clone(),
        };
        let found = self
            .repo
            .find_remote(&name)
            .with_context(|| format!("find remote {name:?} (set one with --remote)"))?;
        let url = match found.pushurl() {
            Ok(Some(u)) => u.to_string(),
            _ => found
                .url()
                .with_context(|| format!("read the URL of remote {name:?}"))?
                .to_string(),
        };
        Ok(Upstream {
            remote: name,
            url,
            remote_ref,
        })
    }

    /// Refuses a work tree or index with changes: a retried push resets the branch.
    fn require_clean(&self) -> Result<()> {
        let mut opts = StatusOptions::new();
        opts.include_untracked(true)
            .recurse_untracked_dirs(true)
            .include_ignored(false);
        let statuses = self
            .repo
            .statuses(Some(&mut opts))
            .context("read the work tree status")?;
        let dirty: Vec<String> = statuses
            .iter()
            .filter(|s| s.status() != Status::CURRENT && !s.status().contains(Status::IGNORED))
            .map(|s| String::from_utf8_lossy(s.path_bytes()).into_owned())
            .collect();
        if !dirty.is_empty() {
            let shown: Vec<&str> = dirty.iter().take(5).map(String::as_str).collect();
            bail!(
                "--push needs a work tree without uncommitted changes (a refused push is retried on the new upstream tip); commit or stash: {}{}",
                shown.join(", "),
                if dirty.len() > 5 { ", ..." } else { "" }
            );
        }
        Ok(())
    }

    /// Commits `files` (absolute, already written) on the current branch: the commit holds
    /// HEAD's tree with just these files changed (other staged changes stay staged); the index
    /// is updated for them. `None` when the files equal HEAD's.
    pub(crate) fn commit(&self, files: &[PathBuf]) -> Result<Option<Oid>> {
        let rel = self.relative(files)?;
        let repo = &self.repo;
        let head = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let mut index = repo.index().context("read the index")?;
        let mut only = git2::Index::new().context("make an index")?;
        if let Some(c) = &head {
            only.read_tree(&c.tree().context("read HEAD's tree")?)
                .context("read HEAD's tree")?;
        }
        for p in &rel {
            index
                .add_path(p)
                .with_context(|| format!("add {} to the index", p.display()))?;
            let entry = index
                .get_path(p, 0)
                .ok_or_else(|| anyhow!("{} is not in the index", p.display()))?;
            only.add(&entry)
                .with_context(|| format!("add {} to the commit", p.display()))?;
        }
        index.write().context("write the index")?;
        let tree_id = only.write_tree_to(repo).context("write the tree")?;
        if head.as_ref().map(|c| c.tree_id()) == Some(tree_id) {
            return Ok(None);
        }
        let tree = repo.find_tree(tree_id).context("read the tree")?;
        let sig = git2::Signature::now(&self.author.0, &self.author.1)
            .context("make the author signature")?;
        let parents: Vec<&git2::Commit> = head.iter().collect();
        let message = format!("{}\n", self.message.trim_end());
        let oid = repo
            .commit(Some("HEAD"), &sig, &sig, &message, &tree, &parents)
            .context("commit")?;
        Ok(Some(oid))
    }

    /// Pushes the branch. When the remote refuses because its branch moved: fetch it, reset
    /// the branch and work tree to it, run `redo` (the edit again, returning the files it
    /// wrote), commit and push again — up to [`MAX_RETRIES`] times; never forced. Returns
    /// whether the pushed branch carries a change of ours (`false`: the upstream already had
    /// the same content).
    pub(crate) fn push(&self, redo: &mut dyn FnMut() -> Result<Vec<PathBuf>>) -> Result<bool> {
        let up = self
            .upstream
            .as_ref()
            .ok_or_else(|| anyhow!("no upstream to push to"))?;
        let mut last = String::new();
        for attempt in 0..=MAX_RETRIES {
            if attempt > 0 {
                eprintln!(
                    "push to {} refused ({last}); re-applying on the new {} tip",
                    up.remote,
                    up.remote_ref.trim_start_matches("refs/heads/")
                );
                let tip = self.fetch(up)?;
                let obj = self
                    .repo
                    .find_object(tip, None)
                    .context("read the fetched tip")?;
                self.repo
                    .reset(&obj, ResetType::Hard, None)
                    .context("reset the branch to the fetched tip")?;
                let files = redo()?;
                if files.is_empty() || self.commit(&files)?.is_none() {
                    eprintln!("the upstream branch already has these images; nothing to push");
                    return Ok(false);
                }
            }
            match self.push_once(up)? {
                None => {
                    eprintln!(
                        "pushed {} to {} ({})",
                        self.branch(),
                        up.remote,
                        redact_url(&up.url)
                    );
                    return Ok(true);
                }
                Some(reason) => last = reason,
            }
        }
        bail!(
            "push to {} refused {} times because the branch keeps moving (last: {last}); nothing was forced",
            up.remote,
            MAX_RETRIES + 1
        )
    }

    /// One push of the branch; `Some(reason)` when refused because the remote branch moved.
    fn push_once(&self, up: &Upstream) -> Result<Option<String>> {
        let config = self.repo.config().context("read git config")?;
        let state = CallbackState::default();
        let rejected: RefCell<Option<String>> = RefCell::new(None);
        let mut cb = callbacks(&config, &up.url, &state);
        cb.push_update_reference(|_, status| {
            if let Some(s) = status {
                *rejected.borrow_mut() = Some(s.to_string());
            }
            Ok(())
        });
        let mut opts = PushOptions::new();
        opts.remote_callbacks(cb);
        let mut remote = self
            .repo
            .find_remote(&up.remote)
            .with_context(|| format!("find remote {:?}", up.remote))?;
        let spec = format!("{}:{}", self.branch, up.remote_ref);
        if let Err(e) = remote.push(&[spec.as_str()], Some(&mut opts)) {
            if e.code() == ErrorCode::NotFastForward || fjord_source::push::moved_on(e.message()) {
                return Ok(Some(e.message().to_string()));
            }
            return Err(state.error(e, "push", up));
        }
        drop(opts);
        let rejection = rejected.borrow_mut().take();
        match rejection {
            None => Ok(None),
            Some(r) if fjord_source::push::moved_on(&r) => Ok(Some(r)),
            Some(r) => bail!("push to {} refused: {r}", up.remote),
        }
    }

    /// Fetches the remote branch into its remote-tracking ref; returns its tip.
    fn fetch(&self, up: &Upstream) -> Result<Oid> {
        let config = self.repo.config().context("read git config")?;
        let state = CallbackState::default();
        let mut opts = FetchOptions::new();
        opts.remote_callbacks(callbacks(&config, &up.url, &state));
        let short = up.remote_ref.trim_start_matches("refs/heads/");
        let tracking = format!("refs/remotes/{}/{short}", up.remote);
        let spec = format!("+{}:{tracking}", up.remote_ref);
        let mut remote = self
            .repo
            .find_remote(&up.remote)
            .with_context(|| format!("find remote {:?}", up.remote))?;
        if let Err(e) = remote.fetch(&[spec.as_str()], Some(&mut opts), None) {
            return Err(state.error(e, "fetch", up));
        }
        self.repo
            .refname_to_id(&tracking)
            .with_context(|| format!("read {tracking} after the fetch"))
    }
}

/// The author: the flags, else git config `user.name` / `user.email`.
fn author(repo: &Repository, args: &SetImageArgs) -> Result<(String, String)> {
    let config = repo.config().context("read git config")?;
    let get = |flag: &Option<String>, key: &str, option: &str| -> Result<String> {
        if let Some(v) = flag.as_ref().filter(|v| !v.trim().is_empty()) {
            return Ok(v.clone());
        }
        config
            .get_string(key)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| anyhow!("no commit author: set git config {key} or pass {option}"))
    };
    Ok((
        get(&args.author_name, "user.name", "--author-name")?,
        get(&args.author_email, "user.email", "--author-email")?,
    ))
}

/// What the callbacks of one connection learnt.
#[derive(Default)]
struct CallbackState {
    ssh_tried: Cell<usize>,
    helper_calls: Cell<u32>,
    host_problem: RefCell<Option<String>>,
    no_credentials: RefCell<Option<String>>,
}

impl CallbackState {
    /// The error of a failed push or fetch, naming the remote (URL without credentials).
    fn error(&self, e: git2::Error, step: &str, up: &Upstream) -> anyhow::Error {
        let url = redact_url(&up.url);
        if let Some(host) = self.host_problem.borrow_mut().take() {
            return anyhow!("{step} {} ({url}): {host}", up.remote);
        }
        if let Some(why) = self.no_credentials.borrow_mut().take() {
            return anyhow!("{step} {} ({url}): authentication failed: {why}", up.remote);
        }
        let msg = fjord_source::redact_text(e.message());
        anyhow!("{step} {} ({url}): {msg}", up.remote)
    }
}

/// SSH keys tried in order: the agent, then the default key files.
fn ssh_candidates() -> Vec<Option<PathBuf>> {
    let mut out = Vec::new();
    if std::env::var_os("SSH_AUTH_SOCK").is_some() {
        out.push(None);
    }
    if let Some(home) = std::env::var_os("HOME") {
        for name in ["id_ed25519", "id_rsa"] {
            let p = Path::new(&home).join(".ssh").join(name);
            if p.is_file() {
                out.push(Some(p));
            }
        }
    }
    out
}

/// The known hosts of the user and the system (missing files are empty).
fn known_hosts() -> Result<KnownHosts> {
    let mut text = String::new();
    let mut files = vec![PathBuf::from("/etc/ssh/ssh_known_hosts")];
    if let Some(home) = std::env::var_os("HOME") {
        files.insert(0, Path::new(&home).join(".ssh/known_hosts"));
    }
    for f in files {
        if let Ok(t) = std::fs::read_to_string(&f) {
            text.push_str(&t);
            text.push('\n');
        }
    }
    KnownHosts::parse(&text, "~/.ssh/known_hosts").context("read ~/.ssh/known_hosts")
}

/// Credentials (helpers, SSH agent, default keys) and the SSH host-key check.
fn callbacks<'a>(
    config: &'a git2::Config,
    url: &'a str,
    state: &'a CallbackState,
) -> RemoteCallbacks<'a> {
    let keys = ssh_candidates();
    let mut cb = RemoteCallbacks::new();
    cb.credentials(move |cred_url, user_from_url, allowed| {
        let user = user_from_url.unwrap_or("git");
        if allowed.contains(CredentialType::SSH_KEY) {
            let i = state.ssh_tried.get();
            state.ssh_tried.set(i + 1);
            return match keys.get(i) {
                Some(None) => Cred::ssh_key_from_agent(user),
                Some(Some(key)) => {
                    let public = key.with_extension("pub");
                    Cred::ssh_key(
                        user,
                        public.is_file().then_some(public.as_path()),
                        key,
                        None,
                    )
                }
                None => {
                    *state.no_credentials.borrow_mut() = Some(
                        "no SSH key accepted (tried the agent and ~/.ssh/id_ed25519, ~/.ssh/id_rsa)"
                            .into(),
                    );
                    Err(git2::Error::from_str("no SSH key accepted"))
                }
            };
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
            // libgit2 asks again when the server refused what it was given.
            let calls = state.helper_calls.get() + 1;
            state.helper_calls.set(calls);
            if calls > MAX_HELPER_CALLS {
                *state.no_credentials.borrow_mut() =
                    Some("the credential helper's credentials were refused".into());
                return Err(git2::Error::from_str("credentials refused"));
            }
            return Cred::credential_helper(config, cred_url, user_from_url).map_err(|_| {
                *state.no_credentials.borrow_mut() =
                    Some("no credentials: configure a git credential helper".into());
                git2::Error::from_str("no credentials")
            });
        }
        if allowed.contains(CredentialType::USERNAME) {
            return Cred::username(user);
        }
        *state.no_credentials.borrow_mut() = Some("no supported credential type".into());
        Err(git2::Error::from_str("no credentials"))
    });
    cb.certificate_check(move |cert, host| {
        let Some(hostkey) = cert.as_hostkey() else {
            return Ok(CertificateCheckStatus::CertificatePassthrough);
        };
        let port = RemoteUrl::parse(url).ok().and_then(|u| u.port);
        let name = match port {
            None | Some(22) => host.to_string(),
            Some(p) => format!("[{host}]:{p}"),
        };
        let verdict = match (known_hosts(), hostkey.hostkey()) {
            (Ok(known), Some(key)) => known.check(host, port, key),
            _ => HostKeyVerdict::Unknown,
        };
        let problem = match verdict {
            HostKeyVerdict::Trusted => return Ok(CertificateCheckStatus::CertificateOk),
            HostKeyVerdict::Mismatch => format!("host key for {name} does not match ~/.ssh/known_hosts (possible man-in-the-middle)"),
            HostKeyVerdict::Revoked => format!("host key for {name} is revoked"),
            HostKeyVerdict::Unknown => format!("host {name} is not in ~/.ssh/known_hosts (add it, e.g. with ssh-keyscan)"),
        };
        *state.host_problem.borrow_mut() = Some(problem);
        Err(git2::Error::from_str("host key verification failed"))
    });
    cb
}
