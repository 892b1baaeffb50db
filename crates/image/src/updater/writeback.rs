//! `write-back-method`, `write-back-target`, `git-branch` and `git-repository`.

use super::credentials::{parse_git_secret, CredentialError};
use super::message::branch_name;
use super::refname::branch_name_problem;
use super::template::MessageError;
use super::types::{BranchChange, BranchSpec, CredentialRef, WriteTarget};

/// Why a write-back annotation value is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteBackError {
    /// Not `argocd`, `git`, `git:repocreds` or `git:secret:<ns>/<name>`.
    #[error("unknown write-back method (known: argocd, git, git:repocreds, git:secret:<namespace>/<name>)")]
    UnknownMethod,
    /// `git:secret:` with a bad Secret reference.
    #[error("bad Git credentials")]
    Credentials(#[source] CredentialError),
    /// Not `kustomization`, `kustomization:<dir>` or `kustomization:/<dir>`.
    #[error("unsupported write-back target (supported: kustomization, kustomization:<dir relative to the source path>, kustomization:/<dir from the repository root>; without the annotation: .argocd-source-<app>.yaml; helmvalues and other files are not supported)")]
    UnknownTarget,
    /// A path that leaves the repository or holds characters a path must not.
    #[error("path {path:?} {problem}")]
    Path {
        /// The path.
        path: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// More than one `:` in `git-branch`.
    #[error("expected <branch>, <base>:<target> or :<target>")]
    BranchFormat,
    /// A branch name git refuses.
    #[error("branch name {name:?} {problem}")]
    Branch {
        /// The branch name.
        name: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A target branch template that does not render.
    #[error("branch template {template:?} does not render")]
    Template {
        /// The template.
        template: String,
        /// Why.
        #[source]
        source: MessageError,
    },
    /// An empty or blank repository URL.
    #[error("repository URL is empty or contains white space or control characters")]
    Repository,
}

/// Parses `write-back-method`: `None` for `argocd`, `Some(creds)` for Git.
pub fn parse_method(value: &str) -> Result<Option<Option<CredentialRef>>, WriteBackError> {
    match value.trim() {
        "argocd" => Ok(None),
        "git" | "git:repocreds" => Ok(Some(None)),
        v => match v.strip_prefix("git:secret:") {
            Some(def) => Ok(Some(Some(
                parse_git_secret(def).map_err(WriteBackError::Credentials)?,
            ))),
            None => Err(WriteBackError::UnknownMethod),
        },
    }
}

/// Normalises a `/`-separated path without touching the file system: drops empty and `.`
/// components and resolves `..`. With `may_climb`, leading `..` components are kept (the path is
/// relative to a directory not known yet); otherwise a `..` above the start is an error. The
/// empty path is `.`.
pub(crate) fn normalize(path: &str, may_climb: bool) -> Result<String, WriteBackError> {
    let bad = |problem| WriteBackError::Path {
        path: path.to_string(),
        problem,
    };
    if path.chars().any(|c| c.is_control() || c == '\\') {
        return Err(bad("contains a control character or a backslash"));
    }
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&p) if p != ".." => {
                    parts.pop();
                }
                _ if may_climb => parts.push(".."),
                _ => return Err(bad("leaves the repository")),
            },
            c => parts.push(c),
        }
    }
    Ok(if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    })
}

/// Parses `write-back-target` (only Kustomize targets; the default has no annotation).
pub fn parse_target(value: &str) -> Result<WriteTarget, WriteBackError> {
    let value = value.trim();
    if value == "kustomization" {
        return Ok(WriteTarget::KustomizationInSource(".".into()));
    }
    let dir = value
        .strip_prefix("kustomization:")
        .ok_or(WriteBackError::UnknownTarget)?;
    match dir.strip_prefix('/') {
        Some(abs) => Ok(WriteTarget::Kustomization(normalize(abs, false)?)),
        None => Ok(WriteTarget::KustomizationInSource(normalize(dir, true)?)),
    }
}

impl WriteTarget {
    /// The repository-relative directory of the kustomization to edit, for an Application whose
    /// source path is `source_path`; `None` for [`WriteTarget::ArgocdSource`]. A directory outside
    /// the repository is an error.
    pub fn kustomization_dir(&self, source_path: &str) -> Result<Option<String>, WriteBackError> {
        match self {
            WriteTarget::ArgocdSource => Ok(None),
            WriteTarget::Kustomization(dir) => normalize(dir, false).map(Some),
            WriteTarget::KustomizationInSource(rel) => {
                let base = normalize(source_path, false)?;
                normalize(&format!("{base}/{rel}"), false).map(Some)
            }
        }
    }
}

/// Parses `git-branch`: `branch`, `base:target` or `:target`; the target may be a template.
/// An empty value means no annotation.
pub fn parse_branch(value: &str) -> Result<Option<BranchSpec>, WriteBackError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let (base, target) = match value.split_once(':') {
        Some((_, t)) if t.contains(':') => return Err(WriteBackError::BranchFormat),
        Some((b, t)) => (b, t),
        None => (value, ""),
    };
    let base = (!base.is_empty()).then(|| base.to_string());
    if let Some(b) = &base {
        if let Some(problem) = branch_name_problem(b) {
            return Err(WriteBackError::Branch {
                name: b.clone(),
                problem,
            });
        }
    }
    let target = (!target.is_empty()).then(|| target.to_string());
    if let Some(t) = &target {
        check_target(t)?;
    }
    Ok(Some(BranchSpec { base, target }))
}

/// A plain target must be a valid branch name; a template must render one for a sample change.
fn check_target(target: &str) -> Result<(), WriteBackError> {
    if !target.contains("{{") {
        return match branch_name_problem(target) {
            Some(problem) => Err(WriteBackError::Branch {
                name: target.to_string(),
                problem,
            }),
            None => Ok(()),
        };
    }
    let sample = BranchChange {
        name: "org/image".into(),
        alias: "image".into(),
        old_tag: "1.0.0".into(),
        new_tag: "1.0.1".into(),
    };
    branch_name(target, &[sample], &"0".repeat(64))
        .map(|_| ())
        .map_err(|source| WriteBackError::Template {
            template: target.to_string(),
            source,
        })
}

/// Checks `git-repository`.
pub fn parse_repository(value: &str) -> Result<String, WriteBackError> {
    let v = value.trim();
    if v.is_empty() || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(WriteBackError::Repository);
    }
    Ok(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods() {
        assert_eq!(parse_method("argocd"), Ok(None));
        assert_eq!(parse_method(" git "), Ok(Some(None)));
        assert_eq!(parse_method("git:repocreds"), Ok(Some(None)));
        assert_eq!(
            parse_method("git:secret:argocd/git-creds"),
            Ok(Some(Some(CredentialRef::GitSecret {
                namespace: "argocd".into(),
                name: "git-creds".into()
            })))
        );
        for bad in [
            "",
            "Git",
            "kustomize",
            "git:",
            "git:foo",
            "git:secret:",
            "git:secret:x",
        ] {
            assert!(parse_method(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn targets() {
        assert_eq!(
            parse_target("kustomization"),
            Ok(WriteTarget::KustomizationInSource(".".into()))
        );
        assert_eq!(
            parse_target("kustomization:../base"),
            Ok(WriteTarget::KustomizationInSource("../base".into()))
        );
        assert_eq!(
            parse_target("kustomization:./a//b/"),
            Ok(WriteTarget::KustomizationInSource("a/b".into()))
        );
        assert_eq!(
            parse_target("kustomization:/envs/prod"),
            Ok(WriteTarget::Kustomization("envs/prod".into()))
        );
        assert_eq!(
            parse_target("kustomization:/"),
            Ok(WriteTarget::Kustomization(".".into()))
        );
        for bad in [
            "kustomization:/../x",
            "kustomization:/a/../../x",
            "helmvalues",
            "helmvalues:v.yaml",
            "values.yaml",
            "kustomizationx",
            "kustomization:a\\b",
        ] {
            assert!(parse_target(bad).is_err(), "{bad}");
        }
        let t = parse_target("kustomization:../base").unwrap();
        assert_eq!(
            t.kustomization_dir("apps/guestbook"),
            Ok(Some("apps/base".into()))
        );
        assert!(t.kustomization_dir("apps").is_ok());
        assert!(t.kustomization_dir(".").is_err());
        assert!(parse_target("kustomization:../../..")
            .unwrap()
            .kustomization_dir("a/b")
            .is_err());
        assert_eq!(WriteTarget::ArgocdSource.kustomization_dir("x"), Ok(None));
        assert_eq!(
            parse_target("kustomization")
                .unwrap()
                .kustomization_dir("apps/x/"),
            Ok(Some("apps/x".into()))
        );
    }

    #[test]
    fn branches() {
        let spec = |b: Option<&str>, t: Option<&str>| {
            Ok(Some(BranchSpec {
                base: b.map(Into::into),
                target: t.map(Into::into),
            }))
        };
        assert_eq!(parse_branch("main"), spec(Some("main"), None));
        assert_eq!(
            parse_branch("main:image-updater"),
            spec(Some("main"), Some("image-updater"))
        );
        assert_eq!(
            parse_branch(":update/{{.SHA256}}"),
            spec(None, Some("update/{{.SHA256}}"))
        );
        assert_eq!(parse_branch("main:"), spec(Some("main"), None));
        assert_eq!(parse_branch(""), Ok(None));
        assert_eq!(parse_branch("a:b:c"), Err(WriteBackError::BranchFormat));
        for bad in [
            "a..b",
            "-main",
            "main:x..y",
            "ma\u{1}in",
            "x:{{if .SHA256}}a{{end}}",
            "x:a{{range .Images}}..{{end}}",
            "x:{{.Nope}}",
        ] {
            assert!(parse_branch(bad).is_err(), "{bad}");
        }
    }
}
