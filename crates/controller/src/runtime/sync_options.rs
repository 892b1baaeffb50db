//! An app's `syncOptions` as the sync engine takes them.

use fjord_sync::SyncOptions;

use super::ControllerError;

/// The app's (or the sync operation's) `syncOptions`, parsed once: Argo CD's default-behaviour
/// options are accepted and ignored by [`SyncOptions::parse_sync_policy`] itself.
pub fn sync_options(items: &[String]) -> Result<SyncOptions, ControllerError> {
    SyncOptions::parse_sync_policy(items).map_err(|source| ControllerError::SyncOptions { source })
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
        assert!(matches!(&err, ControllerError::SyncOptions { .. }));
        assert!(
            err.message().starts_with("syncOptions: "),
            "{}",
            err.message()
        );
        assert!(sync_options(&items(&["Prune=maybe"])).is_err());
        assert_eq!(sync_options(&[]).unwrap(), SyncOptions::default());
    }
}
