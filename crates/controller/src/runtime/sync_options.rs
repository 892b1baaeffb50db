//! An app's `syncOptions` as the sync engine takes them.

use fjord_sync::SyncOptions;

use super::ControllerError;

/// Argo CD sync options that fjord accepts and treats as its defaults.
const DEFAULT_BEHAVIOUR_OPTIONS: &[&str] =
    &["RespectIgnoreDifferences", "ClientSideApplyMigration"];

/// The app's sync options, parsed once.
pub fn sync_options(items: &[String]) -> Result<SyncOptions, ControllerError> {
    let kept = items.iter().map(String::as_str).filter(|item| {
        let key = item.split('=').next().unwrap_or_default().trim();
        !DEFAULT_BEHAVIOUR_OPTIONS.contains(&key)
    });
    SyncOptions::parse(kept).map_err(|e| ControllerError::Sync(format!("syncOptions: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn argo_defaults_are_accepted_and_ignored() {
        let parsed = sync_options(&items(&[
            "RespectIgnoreDifferences=true",
            " ClientSideApplyMigration=false",
            "RespectIgnoreDifferences",
            "CreateNamespace=true",
        ]))
        .unwrap();
        assert!(parsed.creates_namespace());
        assert_eq!(
            parsed,
            fjord_sync::SyncOptions::parse(["CreateNamespace=true"]).unwrap()
        );
    }

    #[test]
    fn other_options_are_checked() {
        let err = sync_options(&items(&["Bogus=true"])).unwrap_err();
        assert!(matches!(&err, ControllerError::Sync(m) if m.starts_with("syncOptions: ")));
        assert!(sync_options(&items(&["Prune=maybe"])).is_err());
        assert_eq!(sync_options(&[]).unwrap(), SyncOptions::default());
    }
}
