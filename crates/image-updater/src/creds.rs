//! Registry credentials from Image Updater's references: `pullsecret:<ns>/<name>`,
//! `secret:<ns>/<name>#<field>`, `env:<VAR>`, `ext:<script>`. Values are never logged; the
//! errors name the reference only.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use fjord_image::updater::CredentialRef;
use fjord_registry::{Credentials, Endpoint};
use serde_json::Value;

use crate::api::Api;

/// A reference's text without any secret (for messages).
pub(crate) fn describe(r: &CredentialRef) -> String {
    match r {
        CredentialRef::PullSecret { namespace, name } => format!("pullsecret:{namespace}/{name}"),
        CredentialRef::Secret {
            namespace,
            name,
            field,
        } => format!("secret:{namespace}/{name}#{field}"),
        CredentialRef::Env(v) => format!("env:{v}"),
        CredentialRef::Ext(p) => format!("ext:{}", p.display()),
        CredentialRef::GitSecret { namespace, name } => format!("git:secret:{namespace}/{name}"),
    }
}

/// `user:pass` split at the first `:`.
fn user_pass(text: &str, what: &str) -> Result<Credentials, String> {
    let text = text.trim_end_matches(['\n', '\r']);
    match text.split_once(':') {
        Some((u, p)) if !u.is_empty() => Ok(credentials(u, p)),
        _ => Err(format!("{what} does not hold user:password")),
    }
}

/// The one place [`Credentials`] are built.
pub(crate) fn credentials(user: &str, password: &str) -> Credentials {
    Credentials::new(user, password)
}

/// Resolves references, caching Secret-based ones for one cycle (`ext:` runs every time, as
/// Image Updater does).
pub(crate) struct CredResolver<'a> {
    api: &'a Api,
    ext_timeout: Duration,
    cache: HashMap<String, Result<Option<Credentials>, String>>,
}

impl<'a> CredResolver<'a> {
    /// A resolver for one cycle.
    pub(crate) fn new(api: &'a Api, ext_timeout: Duration) -> CredResolver<'a> {
        CredResolver {
            api,
            ext_timeout,
            cache: HashMap::new(),
        }
    }

    /// The credentials for `ep`: the image's own reference, else the registry's; `None` when
    /// neither is set.
    pub(crate) async fn for_image(
        &mut self,
        image_ref: Option<&CredentialRef>,
        ep: &Endpoint,
    ) -> Result<Option<Credentials>, String> {
        let r = match (image_ref, ep.credentials.as_deref()) {
            (Some(r), _) => r.clone(),
            (None, Some(text)) if !text.trim().is_empty() => {
                fjord_image::updater::parse_pull_secret(text.trim()).map_err(|e| {
                    format!("registries.conf credentials: {}", fjord_model::chain(&e))
                })?
            }
            _ => return Ok(None),
        };
        let key = format!("{}|{}", describe(&r), ep.api_url);
        if !matches!(r, CredentialRef::Ext(_)) {
            if let Some(hit) = self.cache.get(&key) {
                return hit.clone();
            }
        }
        let got = self.resolve(&r, &ep.api_url).await;
        self.cache.insert(key, got.clone());
        got
    }

    async fn secret_data(&self, ns: &str, name: &str, field: &str) -> Result<Vec<u8>, String> {
        let what = format!("Secret {ns}/{name}");
        let secret = self
            .api
            .secret(ns, name)
            .await
            .map_err(|e| format!("reading {what}: {}", fjord_model::chain(&e)))?
            .ok_or_else(|| format!("{what} not found"))?;
        let raw = secret
            .pointer("/data")
            .and_then(|d| d.get(field))
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{what} has no key {field:?}"))?;
        base64::engine::general_purpose::STANDARD
            .decode(raw)
            .map_err(|_| format!("{what} key {field:?} is not base64"))
    }

    async fn resolve(
        &self,
        r: &CredentialRef,
        api_url: &str,
    ) -> Result<Option<Credentials>, String> {
        match r {
            CredentialRef::PullSecret { namespace, name } => {
                let json = self
                    .secret_data(namespace, name, ".dockerconfigjson")
                    .await?;
                fjord_registry::credentials_from_docker_config(&json, api_url)
                    .map_err(|e| format!("Secret {namespace}/{name}: {}", fjord_model::chain(&e)))
            }
            CredentialRef::Secret {
                namespace,
                name,
                field,
            } => {
                let bytes = self.secret_data(namespace, name, field).await?;
                let text = String::from_utf8(bytes)
                    .map_err(|_| format!("Secret {namespace}/{name} key {field:?} is not UTF-8"))?;
                user_pass(&text, &format!("Secret {namespace}/{name} key {field:?}")).map(Some)
            }
            CredentialRef::Env(var) => {
                let text = std::env::var(var)
                    .map_err(|_| format!("environment variable {var} is not set"))?;
                user_pass(&text, &format!("environment variable {var}")).map(Some)
            }
            CredentialRef::Ext(path) => run_ext(path, self.ext_timeout).await.map(Some),
            CredentialRef::GitSecret { .. } => Err(format!(
                "{} is a Git credential, not a registry credential",
                describe(r)
            )),
        }
    }
}

/// Runs an `ext:` script and reads `user:pass` from the first line of its output.
async fn run_ext(path: &Path, timeout: Duration) -> Result<Credentials, String> {
    let what = format!("credential script {}", path.display());
    let mut cmd = tokio::process::Command::new(path);
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(timeout, cmd.output())
        .await
        .map_err(|_| format!("{what} did not finish within {timeout:?}"))?
        .map_err(|e| format!("running {what}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{what} failed ({})", out.status));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    user_pass(
        text.lines().next().unwrap_or(""),
        &format!("the output of {what}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_pass_needs_a_colon_and_never_echoes_the_value() {
        let c = user_pass("bot:s3cr:et\n", "x").unwrap();
        assert_eq!(c.username, "bot");
        let e = user_pass("s3cret", "env FOO").expect_err("refused");
        assert!(!e.contains("s3cret"), "{e}");
    }

    #[tokio::test]
    async fn ext_scripts_are_run_with_a_timeout() {
        let dir = fjord_testkit::tempdir::tempdir("ext");
        let script = dir.path().join("creds.sh");
        std::fs::write(&script, "#!/bin/sh\necho bot:pw\n").unwrap();
        let slow = dir.path().join("slow.sh");
        std::fs::write(&slow, "#!/bin/sh\nsleep 5\necho bot:pw\n").unwrap();
        for p in [&script, &slow] {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let c = run_ext(&script, Duration::from_secs(5)).await.unwrap();
        assert_eq!(c.username, "bot");
        let e = run_ext(&slow, Duration::from_millis(200))
            .await
            .expect_err("timed out");
        assert!(e.contains("did not finish"), "{e}");
    }
}
