//! `fjord set-image DIR ARG...`: set container images in a kustomization (exactly as
//! `kustomize edit set image` does) or in the plain manifests of a directory (only the `image:`
//! values change), then optionally commit and push the change (`git.rs`).

mod git;

use std::collections::BTreeSet;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Args;
use fjord_image::edit::set_image_in_manifest;
use fjord_image::setimage::{self, SetImageArg};

/// The largest file `fjord set-image` reads.
pub const MAX_FILE_BYTES: u64 = 8 << 20;

/// Arguments of `fjord set-image`.
#[derive(Args, Debug)]
#[command(after_long_help = AFTER_HELP)]
pub struct SetImageArgs {
    /// The directory: a kustomization (kustomization.yaml, .yml or Kustomization), or a
    /// directory of plain manifests (its *.yaml and *.yml files, not its sub-directories).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Images to set, as `kustomize edit set image` takes them: `name:tag`, `name@digest`,
    /// `name=newName[:tag][@digest]`, with `*` for "keep the current value".
    #[arg(value_name = "ARG")]
    pub images: Vec<String>,
    /// Commit the changed files on the current branch of the repository containing DIR.
    #[arg(long)]
    pub commit: bool,
    /// The commit message (default: `fjord set-image: ARG...`).
    #[arg(short = 'm', long, value_name = "MSG")]
    pub message: Option<String>,
    /// Commit, then push the current branch to its upstream (or to --remote). A push refused
    /// because the branch moved is retried on the new upstream tip (up to 5 times); nothing is
    /// ever forced. Refused when the work tree has uncommitted changes.
    #[arg(long)]
    pub push: bool,
    /// The remote to push to (default: the branch's upstream remote, else `origin`).
    #[arg(long, value_name = "NAME")]
    pub remote: Option<String>,
    /// The commit author's name (default: git config user.name).
    #[arg(long, value_name = "NAME")]
    pub author_name: Option<String>,
    /// The commit author's e-mail (default: git config user.email).
    #[arg(long, value_name = "EMAIL")]
    pub author_email: Option<String>,
    /// Exit 2 when nothing changed (default: 0).
    #[arg(long)]
    pub exit_code: bool,
}

const AFTER_HELP: &str = "\
A kustomization is rewritten as `kustomize edit set image` (v5.5.0) writes it; fjord writes the
file only when its bytes change. Without a kustomization, every *.yaml and *.yml file directly in
DIR (not in sub-directories, like Argo CD's directory source by default; .json files are not
edited) has the `image:` values of its workloads' containers changed and every other byte kept.
All files are edited in memory first and written only when every edit succeeded. Symlinks leading
out of DIR and files over 8 MiB are refused.

Exit status: 0 when files changed (or nothing changed, without --exit-code), 2 when nothing
changed with --exit-code, 1 on any error. One line per changed file is printed.

Credentials for --push: git credential helpers (credential.helper), the SSH agent
(SSH_AUTH_SOCK), then ~/.ssh/id_ed25519 and ~/.ssh/id_rsa; SSH host keys must be in
~/.ssh/known_hosts or /etc/ssh/ssh_known_hosts. GIT_SSH_COMMAND is not used.";

/// One file's new content, edited in memory.
#[derive(Debug, Clone)]
pub(crate) struct FileEdit {
    /// The file written (symlinks resolved, absolute).
    pub real: PathBuf,
    /// The path as shown to the user (DIR joined with the name).
    pub shown: PathBuf,
    /// The new content.
    pub text: String,
}

/// Runs `fjord set-image`.
pub fn run(args: SetImageArgs) -> Result<ExitCode> {
    if args.images.is_empty() {
        bail!("no image specified");
    }
    let parsed = parse_args(&args.images)?;
    let edits = plan(&args.dir, &parsed)?;
    let committing = args.commit || args.push;
    let session = match committing && !edits.is_empty() {
        true => Some(git::Session::open(&args, &edits)?),
        false => None,
    };
    write_all(&edits)?;
    for e in &edits {
        println!("updated {}", e.shown.display());
    }
    let mut changed = !edits.is_empty();
    if let Some(session) = session {
        let files: Vec<PathBuf> = edits.iter().map(|e| e.real.clone()).collect();
        let commit = session.commit(&files)?;
        if let Some(oid) = commit {
            eprintln!("committed {oid} on {}", session.branch());
        }
        if args.push {
            let mut redo = || -> Result<Vec<PathBuf>> {
                let edits = plan(&args.dir, &parsed)?;
                write_all(&edits)?;
                Ok(edits.into_iter().map(|e| e.real).collect())
            };
            changed = session.push(&mut redo)?;
        }
    }
    Ok(match (changed, args.exit_code) {
        (false, true) => ExitCode::from(2),
        _ => ExitCode::SUCCESS,
    })
}

/// Every argument parsed before any file is read; an error names the argument.
fn parse_args(images: &[String]) -> Result<Vec<SetImageArg>> {
    images
        .iter()
        .map(|a| SetImageArg::parse(a).with_context(|| format!("image argument {a:?}")))
        .collect()
}

/// The new contents of every file the arguments change in `dir` (nothing is written).
pub(crate) fn plan(dir: &Path, args: &[SetImageArg]) -> Result<Vec<FileEdit>> {
    let meta = fs::metadata(dir).with_context(|| format!("read directory {}", dir.display()))?;
    if !meta.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    let root = dir
        .canonicalize()
        .with_context(|| format!("resolve directory {}", dir.display()))?;
    let has_kustomization = setimage::KUSTOMIZATION_FILE_NAMES
        .iter()
        .any(|n| fs::symlink_metadata(dir.join(n)).is_ok());
    if has_kustomization {
        let path = setimage::find_kustomization(dir)
            .with_context(|| format!("find the kustomization in {}", dir.display()))?;
        let (real, text) = read_text(&root, &path)?;
        let new = setimage::set_image(&text, args)
            .with_context(|| format!("set images in {}", path.display()))?;
        return Ok(match new == text {
            true => Vec::new(),
            false => vec![FileEdit {
                real,
                shown: path,
                text: new,
            }],
        });
    }
    let names = manifest_names(dir)?;
    if names.is_empty() {
        bail!(
            "{}: no kustomization (kustomization.yaml, kustomization.yml or Kustomization) and no *.yaml or *.yml manifests",
            dir.display()
        );
    }
    let mut seen = BTreeSet::new();
    let mut edits = Vec::new();
    for name in names {
        let path = dir.join(&name);
        let (real, text) = read_text(&root, &path)?;
        if !seen.insert(real.clone()) {
            continue; // two symlinks to one file: edit it once
        }
        let new = set_image_in_manifest(&text, args)
            .with_context(|| format!("set images in {}", path.display()))?;
        if let Some(new) = new.filter(|n| *n != text) {
            edits.push(FileEdit {
                real,
                shown: path,
                text: new,
            });
        }
    }
    Ok(edits)
}

/// The *.yaml / *.yml entries directly in `dir` that are files (or symlinks), sorted.
fn manifest_names(dir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let entries = fs::read_dir(dir).with_context(|| format!("list {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("list {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let yaml = name.ends_with(".yaml") || name.ends_with(".yml");
        let kind = entry
            .file_type()
            .with_context(|| format!("read {}", entry.path().display()))?;
        if yaml && !name.starts_with('.') && !kind.is_dir() {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// The real path (inside `root`) and UTF-8 text of `path`, at most [`MAX_FILE_BYTES`].
fn read_text(root: &Path, path: &Path) -> Result<(PathBuf, String)> {
    let real = path
        .canonicalize()
        .with_context(|| format!("resolve {}", path.display()))?;
    if !real.starts_with(root) {
        bail!(
            "{}: symlink leads outside {} (to {})",
            path.display(),
            root.display(),
            real.display()
        );
    }
    let meta = fs::metadata(&real).with_context(|| format!("read {}", path.display()))?;
    if !meta.is_file() {
        bail!("{} is not a regular file", path.display());
    }
    if meta.len() > MAX_FILE_BYTES {
        bail!(
            "{} is {} bytes, over the limit of {MAX_FILE_BYTES} bytes (8 MiB)",
            path.display(),
            meta.len()
        );
    }
    let mut bytes = Vec::new();
    fs::File::open(&real)
        .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
        .with_context(|| format!("read {}", path.display()))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        bail!("{} grew over the limit of 8 MiB while read", path.display());
    }
    let text =
        String::from_utf8(bytes).with_context(|| format!("{} is not UTF-8", path.display()))?;
    Ok((real, text))
}

/// Writes every edit: all temporary files first (removed again on any error), then the renames.
pub(crate) fn write_all(edits: &[FileEdit]) -> Result<()> {
    let mut temps: Vec<(PathBuf, &FileEdit)> = Vec::new();
    for e in edits {
        match write_temp(e) {
            Ok(tmp) => temps.push((tmp, e)),
            Err(err) => {
                for (tmp, _) in &temps {
                    let _ = fs::remove_file(tmp);
                }
                return Err(err);
            }
        }
    }
    for (i, (tmp, e)) in temps.iter().enumerate() {
        if let Err(err) = fs::rename(tmp, &e.real) {
            for (t, _) in &temps[i..] {
                let _ = fs::remove_file(t);
            }
            return Err(err).with_context(|| format!("replace {}", e.shown.display()));
        }
    }
    Ok(())
}

/// The new content in a temporary file next to the target, with the target's permissions.
fn write_temp(e: &FileEdit) -> Result<PathBuf> {
    let name = e
        .real
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = e
        .real
        .with_file_name(format!(".{name}.fjord-set-image.{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(e.text.as_bytes())?;
        let perms = fs::metadata(&e.real)?.permissions();
        f.set_permissions(perms)?;
        f.sync_all()
    })();
    if let Err(err) = result {
        let _ = fs::remove_file(&tmp);
        return Err(err).with_context(|| format!("write {}", e.shown.display()));
    }
    Ok(tmp)
}
