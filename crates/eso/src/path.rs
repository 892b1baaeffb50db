//! ESO's rules turning a `remoteRef.key` into a Vault/OpenBao request path (the part after
//! `/v1/`), including their quirks, plus the checks that keep a key inside its mount.
//!
//! Read paths (`read_path`):
//! 1. store `path` set: a leading `<path>/` is dropped from the key, then (KV v2 only) a leading
//!    `data/`; the result is `<path>[/data]/<rest>` (`data` inserted for v2, always — so a store
//!    path `secret/data` gives `secret/data/data/…`);
//! 2. store `path` unset, v2: a key without `/data/` gets `data` after its first segment
//!    (`secret/a/b` → `secret/data/a/b`); a key with `/data/` anywhere is used as is;
//! 3. v1: no `data` is inserted; with `path` set the mount is prepended unless already there.
//!
//! Metadata paths (`metadata_path`, `list_path`) use `/metadata/` instead; with no store path
//! the key's first `/data/` becomes `/metadata/`, and a key without one is refused.

use crate::spec::KvVersion;

/// A key (or store path) that cannot be turned into a request path. Names the field and the
/// key (keys are paths, never values).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The key is empty.
    #[error("remoteRef.key: must not be empty")]
    Empty,
    /// The key could escape its mount or change the URL.
    #[error("remoteRef.key {key:?}: {reason}")]
    Invalid {
        /// The key as written.
        key: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// Metadata wanted, no store path, and the key has no `/data/` to replace.
    #[error("remoteRef.key {key:?}: no \"/data/\" segment to turn into \"/metadata/\" (set the store's path or use the full KV v2 path)")]
    NoDataSegment {
        /// The key as written.
        key: String,
    },
    /// Metadata (or find by tags) wanted on a KV v1 store.
    #[error("remoteRef.key {key:?}: metadata needs a KV v2 store")]
    MetadataOnV1 {
        /// The key as written.
        key: String,
    },
    /// `remoteRef.version` is not a number.
    #[error("remoteRef.version {version:?}: must be a version number")]
    Version {
        /// The version as written.
        version: String,
    },
    /// `remoteRef.version` on a KV v1 store.
    #[error("remoteRef.version {version:?}: KV v1 secrets have no versions")]
    VersionOnV1 {
        /// The version as written.
        version: String,
    },
    /// The store's `path` (mount) itself is unusable.
    #[error("store path {mount:?}: {reason}")]
    Mount {
        /// The mount as written.
        mount: String,
        /// Why it is refused.
        reason: &'static str,
    },
}

/// Why `s` (a key or mount) is unsafe in a request path, if it is.
fn unsafe_reason(s: &str) -> Option<&'static str> {
    if s.chars().any(char::is_control) {
        return Some("must not contain control characters");
    }
    if s.starts_with('/') {
        return Some("must not start with \"/\" (it would escape the mount)");
    }
    if s.contains(['?', '#']) {
        return Some("must not contain \"?\" or \"#\"");
    }
    let lower = s.to_ascii_lowercase();
    if ["%2e", "%2f", "%5c", "%00"]
        .iter()
        .any(|p| lower.contains(p))
    {
        return Some(
            "must not contain percent-encoded dots, slashes or NUL (it could escape the mount)",
        );
    }
    if s.contains('\\') {
        return Some("must not contain \"\\\"");
    }
    for seg in s.split('/') {
        match seg {
            "" => return Some("must not contain empty segments (\"//\" or a trailing \"/\")"),
            "." | ".." => {
                return Some(
                    "must not contain \".\" or \"..\" segments (it would escape the mount)",
                )
            }
            _ => {}
        }
    }
    None
}

/// Checks a key.
fn check_key(key: &str) -> Result<(), PathError> {
    if key.is_empty() {
        return Err(PathError::Empty);
    }
    match unsafe_reason(key) {
        Some(reason) => Err(PathError::Invalid {
            key: key.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Checks a store mount and trims trailing slashes (`secret/` → `secret`).
fn check_mount(mount: Option<&str>) -> Result<Option<&str>, PathError> {
    let Some(m) = mount else { return Ok(None) };
    let trimmed = m.trim_end_matches('/');
    if trimmed.is_empty() {
        return Err(PathError::Mount {
            mount: m.to_string(),
            reason: "must not be empty",
        });
    }
    match unsafe_reason(trimmed) {
        Some(reason) => Err(PathError::Mount {
            mount: m.to_string(),
            reason,
        }),
        None => Ok(Some(trimmed)),
    }
}

/// The key with a leading `<mount>/` removed and then, for v2, a leading `<infix>/` (ESO's
/// buildPath: the second strip only happens after the first).
fn strip_mount<'a>(key: &'a str, mount: &str, kv: KvVersion, infixes: &[&str]) -> &'a str {
    let Some(rest) = key.strip_prefix(mount).and_then(|r| r.strip_prefix('/')) else {
        return key;
    };
    if kv == KvVersion::V2 {
        for infix in infixes {
            if let Some(r) = rest.strip_prefix(infix).and_then(|r| r.strip_prefix('/')) {
                return r;
            }
        }
    }
    rest
}

/// The request path after `/v1/` for reading `key` (`version` appended as `?version=N` for v2).
pub fn read_path(
    mount: Option<&str>,
    kv: KvVersion,
    key: &str,
    version: Option<&str>,
) -> Result<String, PathError> {
    check_key(key)?;
    let mount = check_mount(mount)?;
    let path = match (mount, kv) {
        (Some(m), KvVersion::V2) => format!("{m}/data/{}", strip_mount(key, m, kv, &["data"])),
        (Some(m), KvVersion::V1) => format!("{m}/{}", strip_mount(key, m, kv, &[])),
        (None, KvVersion::V2) if !key.contains("/data/") => match key.split_once('/') {
            Some((first, rest)) => format!("{first}/data/{rest}"),
            None => format!("{key}/data"),
        },
        (None, _) => key.to_string(),
    };
    match version {
        None => Ok(path),
        Some(v) if kv == KvVersion::V1 => Err(PathError::VersionOnV1 {
            version: v.to_string(),
        }),
        Some(v) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(format!("{path}?version={v}"))
        }
        Some(v) => Err(PathError::Version {
            version: v.to_string(),
        }),
    }
}

/// The metadata path (metadataPolicy Fetch / find) — `/metadata/` form; list uses it too.
pub fn metadata_path(mount: Option<&str>, kv: KvVersion, key: &str) -> Result<String, PathError> {
    check_key(key)?;
    let mount = check_mount(mount)?;
    if kv == KvVersion::V1 {
        return Err(PathError::MetadataOnV1 {
            key: key.to_string(),
        });
    }
    match mount {
        Some(m) => Ok(format!(
            "{m}/metadata/{}",
            strip_mount(key, m, kv, &["metadata", "data"])
        )),
        None => match key.split_once("/data/") {
            Some((mount, rest)) => Ok(format!("{mount}/metadata/{rest}")),
            None => Err(PathError::NoDataSegment {
                key: key.to_string(),
            }),
        },
    }
}

/// The path to LIST for `dataFrom.find` (`path` is `find.path`, possibly absent): KV v2
/// `<mount>/metadata/<path>`, KV v1 `<mount>/<path>`. Without a store path, `find.path` must
/// be a full path (as for [`metadata_path`]).
pub fn list_path(
    mount: Option<&str>,
    kv: KvVersion,
    path: Option<&str>,
) -> Result<String, PathError> {
    let path = path
        .map(|p| p.trim_end_matches('/'))
        .filter(|p| !p.is_empty());
    match (check_mount(mount)?, path) {
        (Some(m), None) => Ok(match kv {
            KvVersion::V2 => format!("{m}/metadata"),
            KvVersion::V1 => m.to_string(),
        }),
        (Some(m), Some(p)) => match kv {
            KvVersion::V2 => metadata_path(Some(m), kv, p),
            KvVersion::V1 => {
                check_key(p)?;
                Ok(format!("{m}/{}", strip_mount(p, m, kv, &[])))
            }
        },
        (None, Some(p)) => match kv {
            KvVersion::V2 => metadata_path(None, kv, p),
            KvVersion::V1 => check_key(p).map(|()| p.to_string()),
        },
        (None, None) => Err(PathError::Empty),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use KvVersion::{V1, V2};

    fn read(mount: Option<&str>, kv: KvVersion, key: &str) -> String {
        read_path(mount, kv, key, None).unwrap()
    }

    // The §8 table, one test per row.
    #[test]
    fn row_path_secret_v2_full_key() {
        assert_eq!(
            read(Some("secret"), V2, "secret/data/production/db"),
            "secret/data/production/db"
        );
    }

    #[test]
    fn row_path_unset_v2_full_key() {
        assert_eq!(
            read(None, V2, "secret/data/production/db"),
            "secret/data/production/db"
        );
    }

    #[test]
    fn row_path_secret_v2_short_keys() {
        assert_eq!(
            read(Some("secret"), V2, "production/db"),
            "secret/data/production/db"
        );
        assert_eq!(
            read(Some("secret"), V2, "secret/production/db"),
            "secret/data/production/db"
        );
    }

    #[test]
    fn row_path_secret_v1_data_is_literal() {
        assert_eq!(
            read(Some("secret"), V1, "secret/data/production/db"),
            "secret/data/production/db"
        );
    }

    #[test]
    fn row_path_secret_data_v2_doubles_data() {
        assert_eq!(
            read(Some("secret/data"), V2, "secret/data/production/db"),
            "secret/data/data/production/db"
        );
    }

    #[test]
    fn row_version_query() {
        assert_eq!(
            read_path(Some("secret"), V2, "production/db", Some("3")).unwrap(),
            "secret/data/production/db?version=3"
        );
        assert_eq!(
            read_path(None, V2, "secret/data/production/db", Some("3")).unwrap(),
            "secret/data/production/db?version=3"
        );
    }

    // Rules 2 and 3 beyond the table.
    #[test]
    fn path_unset_v2_inserts_data_after_first_segment() {
        assert_eq!(read(None, V2, "secret/a/b"), "secret/data/a/b");
        assert_eq!(
            read(None, V2, "secret/x/data/y"),
            "secret/x/data/y",
            "/data/ anywhere: as is"
        );
        assert_eq!(read(None, V2, "secret"), "secret/data");
    }

    #[test]
    fn path_unset_v1_is_as_is() {
        assert_eq!(read(None, V1, "kv/production/db"), "kv/production/db");
    }

    #[test]
    fn v1_prepends_mount_unless_present() {
        assert_eq!(read(Some("kv"), V1, "production/db"), "kv/production/db");
        assert_eq!(read(Some("kv"), V1, "kv/production/db"), "kv/production/db");
    }

    #[test]
    fn mount_prefix_must_be_a_whole_segment() {
        assert_eq!(
            read(Some("secret"), V2, "secretive/db"),
            "secret/data/secretive/db"
        );
        assert_eq!(
            read(Some("secret/"), V2, "production/db"),
            "secret/data/production/db"
        );
    }

    #[test]
    fn data_is_only_stripped_after_the_mount() {
        assert_eq!(
            read(Some("secret"), V2, "data/production/db"),
            "secret/data/data/production/db"
        );
    }

    #[test]
    fn metadata_paths() {
        assert_eq!(
            metadata_path(None, V2, "secret/data/production/db").unwrap(),
            "secret/metadata/production/db"
        );
        assert_eq!(
            metadata_path(Some("secret"), V2, "production/db").unwrap(),
            "secret/metadata/production/db"
        );
        assert_eq!(
            metadata_path(Some("secret"), V2, "secret/data/production/db").unwrap(),
            "secret/metadata/production/db"
        );
        assert_eq!(
            metadata_path(Some("secret"), V2, "secret/metadata/production/db").unwrap(),
            "secret/metadata/production/db"
        );
        assert_eq!(
            metadata_path(None, V2, "secret/production/db").unwrap_err(),
            PathError::NoDataSegment {
                key: "secret/production/db".into()
            }
        );
        assert!(matches!(
            metadata_path(Some("kv"), V1, "a"),
            Err(PathError::MetadataOnV1 { .. })
        ));
    }

    #[test]
    fn list_paths() {
        assert_eq!(
            list_path(Some("secret"), V2, Some("production")).unwrap(),
            "secret/metadata/production"
        );
        assert_eq!(
            list_path(Some("secret"), V2, None).unwrap(),
            "secret/metadata"
        );
        assert_eq!(list_path(Some("kv"), V1, Some("team/")).unwrap(), "kv/team");
        assert_eq!(
            list_path(None, V2, Some("secret/data/team")).unwrap(),
            "secret/metadata/team"
        );
        assert_eq!(list_path(None, V2, None).unwrap_err(), PathError::Empty);
        assert!(list_path(Some("secret"), V2, Some("../x")).is_err());
    }

    #[test]
    fn versions_checked() {
        assert_eq!(
            read_path(Some("secret"), V2, "a", Some("1&x=y"))
                .unwrap_err()
                .to_string(),
            "remoteRef.version \"1&x=y\": must be a version number"
        );
        assert!(matches!(
            read_path(Some("kv"), V1, "a", Some("2")),
            Err(PathError::VersionOnV1 { .. })
        ));
    }

    #[test]
    fn escaping_keys_are_refused() {
        let bad = [
            "../other/db",
            "secret/data/../../sys/raw",
            "a/./b",
            "/sys/raw",
            "secret//db",
            "secret/db/",
            "secret/%2e%2e/sys",
            "secret/%2E%2E/sys",
            "secret%2fsys",
            "secret/db\n",
            "secret/\u{0}db",
            "secret/db?list=true",
            "secret/db#x",
            "secret\\..\\sys",
        ];
        for key in bad {
            for mount in [None, Some("secret")] {
                let e = read_path(mount, V2, key, None).unwrap_err();
                assert!(matches!(e, PathError::Invalid { .. }), "{key:?}: {e}");
                assert!(e.to_string().starts_with("remoteRef.key "), "{e}");
                assert!(metadata_path(mount, V2, key).is_err(), "{key:?}");
            }
        }
        assert_eq!(
            read_path(None, V2, "", None).unwrap_err().to_string(),
            "remoteRef.key: must not be empty"
        );
        let e = read_path(None, V2, "../x", None).unwrap_err().to_string();
        assert!(e.contains("\"../x\"") && e.contains(".."), "{e}");
        let e = read_path(None, V2, "a\u{7}b", None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("control characters") && !e.contains('\u{7}'),
            "{e}"
        );
        // Dots inside a segment are fine.
        assert_eq!(
            read(Some("secret"), V2, "app..v2/.env"),
            "secret/data/app..v2/.env"
        );
    }

    #[test]
    fn bad_mounts_are_refused() {
        for m in ["/", "../x", "a//b", "/abs"] {
            assert!(
                matches!(
                    read_path(Some(m), V2, "k", None),
                    Err(PathError::Mount { .. })
                ),
                "{m}"
            );
        }
    }
}
