//! Repository credentials in Argo CD's format: `repository` Secrets (one repository each) and
//! `repo-creds` Secrets (credential templates matched by URL prefix, longest prefix wins).
//!
//! Secret values never appear in `Debug` output or in error messages.

use std::fmt;

use base64::Engine;
use serde_json::Value;
use thiserror::Error;

use crate::url::{normalize_url, same_url};

/// The label Argo CD puts on repository and credential-template Secrets.
pub const SECRET_TYPE_LABEL: &str = "argocd.argoproj.io/secret-type";

/// Errors raised while reading credential Secrets.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CredentialError {
    /// A `data` field is not valid base64 (the value itself is not shown).
    #[error("secret {secret:?}: data field {field:?} is not valid base64")]
    BadBase64 {
        /// `namespace/name` of the Secret.
        secret: String,
        /// The field.
        field: String,
    },
    /// A field is not valid UTF-8 after decoding.
    #[error("secret {secret:?}: field {field:?} is not valid UTF-8")]
    NotUtf8 {
        /// `namespace/name` of the Secret.
        secret: String,
        /// The field.
        field: String,
    },
    /// A repository or repo-creds Secret has no `url`.
    #[error("secret {secret:?}: missing field \"url\"")]
    MissingUrl {
        /// `namespace/name` of the Secret.
        secret: String,
    },
}

pub use fjord_model::SecretString;

/// Credentials for one repository, as resolved from the Secrets.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RepoCredentials {
    /// HTTP basic-auth user (or the SSH user when the URL names none).
    pub username: Option<String>,
    /// HTTP basic-auth password or token.
    pub password: Option<SecretString>,
    /// An SSH private key (PEM or OpenSSH format).
    pub ssh_private_key: Option<SecretString>,
    /// Skip TLS verification (https) and host-key verification (ssh).
    pub insecure: bool,
}

impl RepoCredentials {
    /// Whether any credential (user/password or key) is present.
    pub fn has_credentials(&self) -> bool {
        self.password.is_some() || self.ssh_private_key.is_some() || self.username.is_some()
    }
}

impl fmt::Debug for RepoCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RepoCredentials")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field(
                "ssh_private_key",
                &self.ssh_private_key.as_ref().map(|_| "<redacted>"),
            )
            .field("insecure", &self.insecure)
            .finish()
    }
}

/// One parsed `repository` or `repo-creds` Secret.
#[derive(Debug, Clone)]
struct CredEntry {
    url: String,
    creds: RepoCredentials,
    insecure_set: bool,
}

/// The repository Secrets and credential templates of an Argo CD installation.
#[derive(Debug, Clone, Default)]
pub struct CredentialStore {
    repositories: Vec<CredEntry>,
    templates: Vec<CredEntry>,
}

impl CredentialStore {
    /// Reads every Secret labelled `argocd.argoproj.io/secret-type: repository` or `repo-creds`;
    /// other Secrets, and those whose `type` is not `git` (for example `helm`), are ignored.
    pub fn from_secrets<'a>(
        secrets: impl IntoIterator<Item = &'a Value>,
    ) -> Result<Self, CredentialError> {
        let mut store = CredentialStore::default();
        for secret in secrets {
            let kind = secret
                .pointer("/metadata/labels")
                .and_then(|l| l.get(SECRET_TYPE_LABEL))
                .and_then(Value::as_str);
            let is_template = match kind {
                Some("repository") => false,
                Some("repo-creds") => true,
                _ => continue,
            };
            let name = secret_name(secret);
            let field = |f: &str| secret_field(secret, f, &name);
            if let Some(t) = field("type")? {
                if t != "git" {
                    continue;
                }
            }
            let url = field("url")?.ok_or_else(|| CredentialError::MissingUrl {
                secret: name.clone(),
            })?;
            let insecure = field("insecure")?;
            let entry = CredEntry {
                url,
                insecure_set: insecure.is_some(),
                creds: RepoCredentials {
                    username: field("username")?.filter(|s| !s.is_empty()),
                    password: field("password")?
                        .filter(|s| !s.is_empty())
                        .map(SecretString::new),
                    ssh_private_key: field("sshPrivateKey")?
                        .filter(|s| !s.is_empty())
                        .map(SecretString::new),
                    insecure: insecure.as_deref() == Some("true"),
                },
            };
            if is_template {
                store.templates.push(entry);
            } else {
                store.repositories.push(entry);
            }
        }
        Ok(store)
    }

    /// The credentials for `repo_url`: the `repository` Secret whose URL names the same repository
    /// (normalised comparison), filled from the best credential template when the repository Secret
    /// carries no credentials of its own; else the template with the longest URL prefix of
    /// `repo_url`; else none (anonymous access).
    pub fn lookup(&self, repo_url: &str) -> RepoCredentials {
        let repo = self
            .repositories
            .iter()
            .find(|e| same_url(&e.url, repo_url));
        let template = self.best_template(repo_url);
        match (repo, template) {
            (Some(r), Some(t)) if !r.creds.has_credentials() => {
                let mut creds = t.creds.clone();
                if r.insecure_set {
                    creds.insecure = r.creds.insecure;
                }
                creds
            }
            (Some(r), _) => r.creds.clone(),
            (None, Some(t)) => t.creds.clone(),
            (None, None) => RepoCredentials::default(),
        }
    }

    fn best_template(&self, repo_url: &str) -> Option<&CredEntry> {
        let target = normalize_url(repo_url);
        let mut best: Option<(&CredEntry, usize)> = None;
        for t in &self.templates {
            let prefix = normalize_url(&t.url);
            if target.starts_with(&prefix) && best.is_none_or(|(_, len)| prefix.len() > len) {
                best = Some((t, prefix.len()));
            }
        }
        best.map(|(t, _)| t)
    }
}

/// `namespace/name` of a Kubernetes object, for messages.
pub(crate) fn secret_name(obj: &Value) -> String {
    let ns = obj
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("<unnamed>");
    if ns.is_empty() {
        name.to_string()
    } else {
        format!("{ns}/{name}")
    }
}

/// A field of a Secret: `stringData` wins over base64 `data`, as the API server merges them.
pub(crate) fn secret_field(
    secret: &Value,
    field: &str,
    name: &str,
) -> Result<Option<String>, CredentialError> {
    if let Some(v) = secret
        .get("stringData")
        .and_then(|d| d.get(field))
        .and_then(Value::as_str)
    {
        return Ok(Some(v.to_string()));
    }
    let Some(raw) = secret
        .get("data")
        .and_then(|d| d.get(field))
        .and_then(Value::as_str)
    else {
        return Ok(None);
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(raw.trim())
        .map_err(|_| CredentialError::BadBase64 {
            secret: name.to_string(),
            field: field.to_string(),
        })?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| CredentialError::NotUtf8 {
            secret: name.to_string(),
            field: field.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn store() -> CredentialStore {
        let secrets = [
            json!({"metadata": {"name": "repo-a", "namespace": "argocd",
                "labels": {SECRET_TYPE_LABEL: "repository"}},
                "data": {"url": b64("https://git.example.com/org/a.git"), "type": b64("git"),
                         "username": b64("alice"), "password": b64("s3cret")}}),
            json!({"metadata": {"name": "repo-b", "labels": {SECRET_TYPE_LABEL: "repository"}},
                "stringData": {"url": "https://git.example.com/org/team/b", "insecure": "true"}}),
            json!({"metadata": {"name": "creds-org", "labels": {SECRET_TYPE_LABEL: "repo-creds"}},
                "stringData": {"url": "https://git.example.com/org", "username": "org-bot",
                               "password": "org-token"}}),
            json!({"metadata": {"name": "creds-team", "labels": {SECRET_TYPE_LABEL: "repo-creds"}},
                "stringData": {"url": "https://git.example.com/org/team", "username": "team-bot",
                               "password": "team-token"}}),
            json!({"metadata": {"name": "creds-ssh", "labels": {SECRET_TYPE_LABEL: "repo-creds"}},
                "stringData": {"url": "git@github.com:org", "sshPrivateKey": "KEY"}}),
            json!({"metadata": {"name": "helm", "labels": {SECRET_TYPE_LABEL: "repository"}},
                "stringData": {"url": "https://charts.example.com", "type": "helm",
                               "username": "h"}}),
            json!({"metadata": {"name": "unrelated"}, "stringData": {"url": "https://x"}}),
        ];
        CredentialStore::from_secrets(secrets.iter()).unwrap()
    }

    #[test]
    fn repository_secret_wins_by_same_url() {
        let c = store().lookup("https://GIT.example.com/org/a");
        assert_eq!(c.username.as_deref(), Some("alice"));
        assert_eq!(
            c.password.as_ref().map(SecretString::expose),
            Some("s3cret")
        );
        assert!(!c.insecure);
    }

    #[test]
    fn longest_template_prefix_wins() {
        let s = store();
        let c = s.lookup("https://git.example.com/org/team/c.git");
        assert_eq!(c.username.as_deref(), Some("team-bot"));
        let c = s.lookup("https://git.example.com/org/other");
        assert_eq!(c.username.as_deref(), Some("org-bot"));
        let c = s.lookup("git@github.com:org/repo.git");
        assert_eq!(
            c.ssh_private_key.as_ref().map(SecretString::expose),
            Some("KEY")
        );
        let c = s.lookup("https://elsewhere.example.com/x");
        assert!(!c.has_credentials());
        // helm-typed secrets are not git credentials
        assert!(!s.lookup("https://charts.example.com").has_credentials());
    }

    #[test]
    fn credentialless_repository_takes_template_but_keeps_insecure() {
        let c = store().lookup("https://git.example.com/org/team/b");
        assert_eq!(c.username.as_deref(), Some("team-bot"));
        assert!(c.insecure);
    }

    #[test]
    fn debug_never_shows_secrets() {
        let c = store().lookup("https://git.example.com/org/a");
        let dbg = format!("{c:?} {:?}", store());
        assert!(!dbg.contains("s3cret"), "{dbg}");
        assert!(!dbg.contains("org-token"), "{dbg}");
        assert!(dbg.contains("<redacted>"));
    }

    #[test]
    fn bad_base64_names_field_not_value() {
        let s = json!({"metadata": {"name": "r", "namespace": "argocd",
            "labels": {SECRET_TYPE_LABEL: "repository"}},
            "data": {"url": b64("https://x/y"), "password": "!!!not-base64-secretvalue"}});
        let err = CredentialStore::from_secrets([&s]).unwrap_err();
        assert_eq!(
            err,
            CredentialError::BadBase64 {
                secret: "argocd/r".into(),
                field: "password".into()
            }
        );
        assert!(!err.to_string().contains("secretvalue"));
        let s = json!({"metadata": {"name": "r", "labels": {SECRET_TYPE_LABEL: "repo-creds"}},
            "stringData": {"username": "u"}});
        assert_eq!(
            CredentialStore::from_secrets([&s]).unwrap_err(),
            CredentialError::MissingUrl { secret: "r".into() }
        );
    }
}
