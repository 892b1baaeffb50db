//! Sync options (`Key=Value`), from the command line and from the per-object
//! `argocd.argoproj.io/sync-options` annotation, parsed once into [`SyncOptions`].

use fjord_client::Propagation;

/// The per-object annotation holding comma-separated sync options.
pub const ANNOTATION_SYNC_OPTIONS: &str = "argocd.argoproj.io/sync-options";

/// A malformed sync option.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    /// Not of the form `Key=Value`.
    #[error("sync option '{0}': expected Key=Value")]
    NotKeyValue(String),
    /// The key is not a known sync option.
    #[error("sync option '{0}': unknown option")]
    UnknownKey(String),
    /// The value is not allowed for this key.
    #[error("sync option '{key}': invalid value '{value}' (expected {expected})")]
    BadValue {
        /// The key.
        key: String,
        /// The value given.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
}

/// Typed sync options. `None` = not set (the default applies; per-object options fall back to
/// the application's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncOptions {
    /// `CreateNamespace=true`: create the destination namespace first.
    pub create_namespace: Option<bool>,
    /// `PruneLast=true`: prune after every Sync-phase wave.
    pub prune_last: Option<bool>,
    /// `Prune=false`: never prune.
    pub prune: Option<bool>,
    /// `Delete=false`: keep on application deletion.
    pub delete: Option<bool>,
    /// `Replace=true`: create/replace instead of apply.
    pub replace: Option<bool>,
    /// `ServerSideApply=true|false` (fjord always uses server-side apply unless `Replace`).
    pub server_side_apply: Option<bool>,
    /// `ApplyOutOfSyncOnly=true`: skip objects that are already in sync.
    pub apply_out_of_sync_only: Option<bool>,
    /// `Validate=false`: skip schema validation.
    pub validate: Option<bool>,
    /// `PrunePropagationPolicy=foreground|background|orphan`.
    pub prune_propagation_policy: Option<Propagation>,
    /// `FailOnSharedResource=true`: fail the sync when an object belongs to another application.
    pub fail_on_shared_resource: Option<bool>,
    /// `SkipDryRunOnMissingResource=true`: skip the dry run when the kind is not served yet.
    pub skip_dry_run_on_missing_resource: Option<bool>,
}

fn parse_bool(key: &str, value: &str) -> Result<bool, OptionsError> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(OptionsError::BadValue {
            key: key.into(),
            value: value.into(),
            expected: "true or false",
        }),
    }
}

fn parse_propagation(key: &str, value: &str) -> Result<Propagation, OptionsError> {
    match value.to_ascii_lowercase().as_str() {
        "foreground" => Ok(Propagation::Foreground),
        "background" => Ok(Propagation::Background),
        "orphan" => Ok(Propagation::Orphan),
        _ => Err(OptionsError::BadValue {
            key: key.into(),
            value: value.into(),
            expected: "foreground, background or orphan",
        }),
    }
}

/// Argo CD sync options whose Argo CD behaviour is fjord's only behaviour: an application's
/// `syncOptions` may name them (with any value, or none) and they change nothing.
pub const ARGOCD_DEFAULT_BEHAVIOUR: &[&str] =
    &["RespectIgnoreDifferences", "ClientSideApplyMigration"];

/// Whether `item` (`Key=Value` or a bare `Key`) names one of [`ARGOCD_DEFAULT_BEHAVIOUR`].
fn is_default_behaviour(item: &str) -> bool {
    let key = item.split('=').next().unwrap_or_default().trim();
    ARGOCD_DEFAULT_BEHAVIOUR.contains(&key)
}

impl SyncOptions {
    /// Parses `Key=Value` items (blank items are skipped).
    pub fn parse<'a>(
        items: impl IntoIterator<Item = &'a str>,
    ) -> Result<SyncOptions, OptionsError> {
        let mut o = SyncOptions::default();
        for item in items {
            o.set(item)?;
        }
        Ok(o)
    }

    /// Parses an Application's `syncPolicy.syncOptions` (or a sync operation's `syncOptions`)
    /// as Argo CD reads them: like [`SyncOptions::parse`], but the options of
    /// [`ARGOCD_DEFAULT_BEHAVIOUR`] are accepted and ignored.
    pub fn parse_sync_policy<S: AsRef<str>>(
        items: impl IntoIterator<Item = S>,
    ) -> Result<SyncOptions, OptionsError> {
        let mut o = SyncOptions::default();
        for item in items {
            let item = item.as_ref();
            if !is_default_behaviour(item) {
                o.set(item)?;
            }
        }
        Ok(o)
    }

    /// Sets the option of one `Key=Value` item (a blank item sets nothing).
    fn set(&mut self, item: &str) -> Result<(), OptionsError> {
        let item = item.trim();
        if item.is_empty() {
            return Ok(());
        }
        let (key, value) = item
            .split_once('=')
            .ok_or_else(|| OptionsError::NotKeyValue(item.into()))?;
        let (key, value) = (key.trim(), value.trim());
        let flag = match key {
            "CreateNamespace" => &mut self.create_namespace,
            "PruneLast" => &mut self.prune_last,
            "Prune" => &mut self.prune,
            "Delete" => &mut self.delete,
            "Replace" => &mut self.replace,
            "ServerSideApply" => &mut self.server_side_apply,
            "ApplyOutOfSyncOnly" => &mut self.apply_out_of_sync_only,
            "Validate" => &mut self.validate,
            "FailOnSharedResource" => &mut self.fail_on_shared_resource,
            "SkipDryRunOnMissingResource" => &mut self.skip_dry_run_on_missing_resource,
            "PrunePropagationPolicy" => {
                self.prune_propagation_policy = Some(parse_propagation(key, value)?);
                return Ok(());
            }
            _ => return Err(OptionsError::UnknownKey(item.into())),
        };
        *flag = Some(parse_bool(key, value)?);
        Ok(())
    }

    /// Parses the comma-separated annotation value.
    pub fn parse_annotation(value: &str) -> Result<SyncOptions, OptionsError> {
        SyncOptions::parse(value.split(','))
    }

    /// These options with unset ones taken from `app` (per-object options override the app's).
    pub fn merged_over(&self, app: &SyncOptions) -> SyncOptions {
        SyncOptions {
            create_namespace: self.create_namespace.or(app.create_namespace),
            prune_last: self.prune_last.or(app.prune_last),
            prune: self.prune.or(app.prune),
            delete: self.delete.or(app.delete),
            replace: self.replace.or(app.replace),
            server_side_apply: self.server_side_apply.or(app.server_side_apply),
            apply_out_of_sync_only: self.apply_out_of_sync_only.or(app.apply_out_of_sync_only),
            validate: self.validate.or(app.validate),
            prune_propagation_policy: self
                .prune_propagation_policy
                .or(app.prune_propagation_policy),
            fail_on_shared_resource: self.fail_on_shared_resource.or(app.fail_on_shared_resource),
            skip_dry_run_on_missing_resource: self
                .skip_dry_run_on_missing_resource
                .or(app.skip_dry_run_on_missing_resource),
        }
    }

    /// Whether `key` is set to true.
    fn on(v: Option<bool>) -> bool {
        v == Some(true)
    }

    /// `CreateNamespace=true`.
    pub fn creates_namespace(&self) -> bool {
        Self::on(self.create_namespace)
    }
    /// `PruneLast=true`.
    pub fn is_prune_last(&self) -> bool {
        Self::on(self.prune_last)
    }
    /// Pruning allowed (not `Prune=false`).
    pub fn allows_prune(&self) -> bool {
        self.prune != Some(false)
    }
    /// `Replace=true`.
    pub fn is_replace(&self) -> bool {
        Self::on(self.replace)
    }
    /// `ApplyOutOfSyncOnly=true`.
    pub fn out_of_sync_only(&self) -> bool {
        Self::on(self.apply_out_of_sync_only)
    }
    /// Validation on (not `Validate=false`).
    pub fn validates(&self) -> bool {
        self.validate != Some(false)
    }
    /// `FailOnSharedResource=true`.
    pub fn fails_on_shared(&self) -> bool {
        Self::on(self.fail_on_shared_resource)
    }
    /// `SkipDryRunOnMissingResource=true`.
    pub fn skips_dry_run_on_missing(&self) -> bool {
        Self::on(self.skip_dry_run_on_missing_resource)
    }
    /// Prune propagation (default foreground).
    pub fn propagation(&self) -> Propagation {
        self.prune_propagation_policy.unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_option() {
        let o = SyncOptions::parse([
            "CreateNamespace=true",
            "PruneLast=true",
            "Prune=false",
            "Delete=false",
            "Replace=true",
            "ServerSideApply=true",
            "ApplyOutOfSyncOnly=true",
            "Validate=false",
            "PrunePropagationPolicy=orphan",
            "FailOnSharedResource=true",
            "SkipDryRunOnMissingResource=true",
        ])
        .unwrap();
        assert!(o.creates_namespace() && o.is_prune_last() && !o.allows_prune() && o.is_replace());
        assert!(
            o.out_of_sync_only()
                && !o.validates()
                && o.fails_on_shared()
                && o.skips_dry_run_on_missing()
        );
        assert_eq!(o.delete, Some(false));
        assert_eq!(o.server_side_apply, Some(true));
        assert_eq!(o.propagation(), Propagation::Orphan);
    }

    #[test]
    fn defaults_and_errors() {
        let o = SyncOptions::default();
        assert!(o.allows_prune() && o.validates() && !o.creates_namespace());
        assert_eq!(o.propagation(), Propagation::Foreground);
        assert_eq!(
            SyncOptions::parse(["Prune"]),
            Err(OptionsError::NotKeyValue("Prune".into()))
        );
        assert!(matches!(
            SyncOptions::parse(["Nope=true"]),
            Err(OptionsError::UnknownKey(_))
        ));
        assert!(matches!(
            SyncOptions::parse(["Prune=maybe"]),
            Err(OptionsError::BadValue { .. })
        ));
        assert!(matches!(
            SyncOptions::parse(["PrunePropagationPolicy=sideways"]),
            Err(OptionsError::BadValue { .. })
        ));
    }

    #[test]
    fn sync_policies_accept_and_ignore_argo_defaults() {
        let items = [
            "RespectIgnoreDifferences=true",
            " ClientSideApplyMigration=false",
            "RespectIgnoreDifferences",
            "CreateNamespace=true",
        ];
        let parsed = SyncOptions::parse_sync_policy(items).unwrap();
        assert!(parsed.creates_namespace());
        assert_eq!(
            parsed,
            SyncOptions::parse(["CreateNamespace=true"]).unwrap()
        );
        let owned: Vec<String> = items.iter().map(|s| s.to_string()).collect();
        assert_eq!(SyncOptions::parse_sync_policy(&owned).unwrap(), parsed);
        // Elsewhere (the CLI, the per-object annotation) they are unknown, as before.
        assert!(matches!(
            SyncOptions::parse(["RespectIgnoreDifferences=true"]),
            Err(OptionsError::UnknownKey(_))
        ));
        assert_eq!(
            SyncOptions::parse_sync_policy(["Bogus=true"]),
            Err(OptionsError::UnknownKey("Bogus=true".into()))
        );
        assert!(SyncOptions::parse_sync_policy(["Prune=maybe"]).is_err());
        assert_eq!(
            SyncOptions::parse_sync_policy(Vec::<String>::new()).unwrap(),
            SyncOptions::default()
        );
    }

    #[test]
    fn annotation_overrides_app_options() {
        let app = SyncOptions::parse(["PruneLast=true", "Validate=false"]).unwrap();
        let obj = SyncOptions::parse_annotation("Prune=false, PruneLast=false").unwrap();
        let m = obj.merged_over(&app);
        assert!(!m.allows_prune());
        assert!(!m.is_prune_last());
        assert!(!m.validates());
    }
}
