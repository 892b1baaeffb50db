//! Credential references: `pullsecret:<ns>/<name>`, `secret:<ns>/<name>#<field>`, `env:<VAR>`,
//! `ext:<abs-path>` (image pull credentials) and `<ns>/<name>` after `git:secret:` (Git).

use std::path::PathBuf;

use super::types::CredentialRef;

/// Why a credential reference is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("credential reference {value:?}: {problem}")]
pub struct CredentialError {
    /// The reference text.
    pub value: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

/// A Kubernetes object name or namespace: a DNS subdomain (lower-case alphanumerics, `-`, `.`).
pub(crate) fn is_k8s_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && s.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
}

/// `<ns>/<name>` with both parts valid object names.
fn ns_name(def: &str) -> Option<(String, String)> {
    let (ns, name) = def.split_once('/')?;
    (is_k8s_name(ns) && is_k8s_name(name)).then(|| (ns.to_string(), name.to_string()))
}

/// Parses an image pull credential reference.
pub fn parse_pull_secret(value: &str) -> Result<CredentialRef, CredentialError> {
    let bad = |problem| CredentialError {
        value: value.to_string(),
        problem,
    };
    let (kind, def) = value
        .split_once(':')
        .ok_or_else(|| bad("expected pullsecret:<ns>/<name>, secret:<ns>/<name>#<field>, env:<VAR> or ext:<abs-path>"))?;
    match kind.to_ascii_lowercase().as_str() {
        "pullsecret" => {
            let (namespace, name) =
                ns_name(def).ok_or_else(|| bad("expected pullsecret:<namespace>/<name>"))?;
            Ok(CredentialRef::PullSecret { namespace, name })
        }
        "secret" => {
            let (obj, field) = def
                .split_once('#')
                .ok_or_else(|| bad("expected secret:<namespace>/<name>#<field>"))?;
            let (namespace, name) =
                ns_name(obj).ok_or_else(|| bad("expected secret:<namespace>/<name>#<field>"))?;
            let field_ok = !field.is_empty()
                && field
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
            if !field_ok {
                return Err(bad("the Secret field must be a data key ([-._a-zA-Z0-9]+)"));
            }
            Ok(CredentialRef::Secret {
                namespace,
                name,
                field: field.to_string(),
            })
        }
        "env" => {
            let ok = def
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                && def.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !ok {
                return Err(bad("expected env:<VARIABLE_NAME>"));
            }
            Ok(CredentialRef::Env(def.to_string()))
        }
        "ext" => {
            if !def.starts_with('/') || def.chars().any(char::is_control) {
                return Err(bad("expected ext:<absolute path of a script>"));
            }
            Ok(CredentialRef::Ext(PathBuf::from(def)))
        }
        _ => Err(bad(
            "unknown credential source (known: pullsecret, secret, env, ext)",
        )),
    }
}

/// Parses the `<ns>/<name>` of `git:secret:<ns>/<name>`.
pub fn parse_git_secret(def: &str) -> Result<CredentialRef, CredentialError> {
    let (namespace, name) = ns_name(def).ok_or_else(|| CredentialError {
        value: def.to_string(),
        problem: "expected <namespace>/<name> of a Secret",
    })?;
    Ok(CredentialRef::GitSecret { namespace, name })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_form() {
        assert_eq!(
            parse_pull_secret("pullsecret:argocd/regcred").unwrap(),
            CredentialRef::PullSecret {
                namespace: "argocd".into(),
                name: "regcred".into()
            }
        );
        assert_eq!(
            parse_pull_secret("secret:ns/s#creds").unwrap(),
            CredentialRef::Secret {
                namespace: "ns".into(),
                name: "s".into(),
                field: "creds".into()
            }
        );
        assert_eq!(
            parse_pull_secret("env:REG_CREDS").unwrap(),
            CredentialRef::Env("REG_CREDS".into())
        );
        assert_eq!(
            parse_pull_secret("ext:/bin/creds.sh").unwrap(),
            CredentialRef::Ext("/bin/creds.sh".into())
        );
        assert_eq!(
            parse_git_secret("argocd/git-creds").unwrap(),
            CredentialRef::GitSecret {
                namespace: "argocd".into(),
                name: "git-creds".into()
            }
        );
    }

    #[test]
    fn refuses_malformed() {
        for v in [
            "",
            "regcred",
            "pullsecret:regcred",
            "pullsecret:a/b/c",
            "secret:ns/s",
            "secret:ns/s#",
            "env:",
            "env:1X",
            "ext:relative.sh",
            "vault:x/y",
            "pullsecret:NS/x",
        ] {
            assert!(parse_pull_secret(v).is_err(), "{v}");
        }
        assert!(parse_git_secret("nope").is_err());
    }
}
