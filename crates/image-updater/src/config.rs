//! ConfigMap `argocd-image-updater-config`: `registries.conf` and the Git commit settings.

use serde_json::Value;

use fjord_registry::RegistryConf;

/// Keys of the ConfigMap the updater reads.
pub(crate) const KNOWN_KEYS: &[&str] = &[
    "registries.conf",
    "git.user",
    "git.email",
    "git.commit-message-template",
    "git.commit-sign-off",
];

/// Image Updater's commit-signing keys: refused (fjord does not sign commits).
pub(crate) const SIGNING_KEYS: &[&str] = &["git.commit-signing-key", "git.commit-signing-method"];

/// Default commit author name (Image Updater's `--git-commit-user`).
pub(crate) const DEFAULT_USER: &str = "argocd-image-updater";
/// Default commit author e-mail (Image Updater's `--git-commit-email`).
pub(crate) const DEFAULT_EMAIL: &str = "noreply@argoproj.io";

/// The updater's settings from the ConfigMap (defaults when it is missing).
pub(crate) struct UpdaterConfig {
    /// `registries.conf` (no entries when absent: built-in defaults apply).
    pub(crate) registries: RegistryConf,
    /// Commit author name.
    pub(crate) user: String,
    /// Commit author e-mail.
    pub(crate) email: String,
    /// `git.commit-message-template`.
    pub(crate) template: Option<String>,
    /// `git.commit-sign-off: "true"`.
    pub(crate) sign_off: bool,
    /// Keys present in the ConfigMap that fjord does not read, sorted.
    pub(crate) unknown_keys: Vec<String>,
}

impl UpdaterConfig {
    /// Reads the ConfigMap's `data` (the ConfigMap `namespace/name` is named in errors):
    /// `registries.conf` can be malformed, and commit signing is refused.
    pub(crate) fn from_config_map(
        cm: Option<&Value>,
        namespace: &str,
        name: &str,
    ) -> Result<UpdaterConfig, Box<crate::UpdaterError>> {
        let data = cm.and_then(|c| c.get("data")).and_then(Value::as_object);
        let key = |k: &str| {
            data.and_then(|d| d.get(k))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        if let Some(k) = SIGNING_KEYS
            .iter()
            .find(|k| key(k).is_some_and(|v| !v.trim().is_empty()))
        {
            return Err(Box::new(crate::UpdaterError::SigningUnsupported {
                namespace: namespace.into(),
                name: name.into(),
                key: k.to_string(),
            }));
        }
        let registries = match key("registries.conf") {
            Some(text) if !text.trim().is_empty() => {
                RegistryConf::parse(&text).map_err(|source| {
                    crate::UpdaterError::RegistriesConf {
                        namespace: namespace.into(),
                        name: name.into(),
                        source,
                    }
                })?
            }
            _ => RegistryConf {
                registries: Vec::new(),
            },
        };
        let mut unknown_keys: Vec<String> = data
            .into_iter()
            .flat_map(|d| d.keys())
            .filter(|k| !KNOWN_KEYS.contains(&k.as_str()) && !SIGNING_KEYS.contains(&k.as_str()))
            .cloned()
            .collect();
        unknown_keys.sort();
        Ok(UpdaterConfig {
            registries,
            user: key("git.user")
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_USER.into()),
            email: key("git.email")
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_EMAIL.into()),
            template: key("git.commit-message-template").filter(|s| !s.trim().is_empty()),
            sign_off: key("git.commit-sign-off").is_some_and(|v| v.trim() == "true"),
            unknown_keys,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_without_a_config_map_and_unknown_keys_listed() {
        let c = UpdaterConfig::from_config_map(None, "argocd", "cm").unwrap();
        assert_eq!(
            (c.user.as_str(), c.email.as_str()),
            (DEFAULT_USER, DEFAULT_EMAIL)
        );
        assert!(!c.sign_off && c.template.is_none() && c.unknown_keys.is_empty());
        let cm = json!({"data": {"git.user": "bot", "git.email": "bot@x", "log.level": "debug",
            "git.commit-sign-off": "true", "kube.events": "false"}});
        let c = UpdaterConfig::from_config_map(Some(&cm), "argocd", "cm").unwrap();
        assert_eq!(
            (c.user.as_str(), c.email.as_str(), c.sign_off),
            ("bot", "bot@x", true)
        );
        assert_eq!(c.unknown_keys, ["kube.events", "log.level"]);
        let cm = json!({"data": {"git.commit-signing-key": "/keys/sign.asc"}});
        let err = UpdaterConfig::from_config_map(Some(&cm), "argocd", "cm")
            .err()
            .unwrap();
        assert!(err.to_string().contains("git.commit-signing-key"), "{err}");
    }
}
