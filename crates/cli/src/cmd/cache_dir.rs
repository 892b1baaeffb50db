//! Where `fjord controller` keeps its repository cache when `--cache-dir` is not given, and the
//! `--cache-max-size` value.

use std::ffi::OsString;
use std::path::PathBuf;

/// The default size bound of the repository cache.
pub const DEFAULT_MAX_SIZE: &str = "10Gi";

/// The default repository cache directory: `$XDG_CACHE_HOME/fjord/repos`, else
/// `$HOME/.cache/fjord/repos`, else `<temp dir>/fjord/repos`. Empty or relative variables are
/// ignored (the XDG base directory rules).
pub fn default_cache_dir() -> PathBuf {
    resolve(
        std::env::var_os("XDG_CACHE_HOME"),
        std::env::var_os("HOME"),
        std::env::temp_dir(),
    )
}

/// [`default_cache_dir`] from the given variables.
fn resolve(xdg: Option<OsString>, home: Option<OsString>, temp: PathBuf) -> PathBuf {
    let absolute = |v: Option<OsString>| {
        v.map(PathBuf::from)
            .filter(|p| !p.as_os_str().is_empty() && p.is_absolute())
    };
    if let Some(x) = absolute(xdg) {
        return x.join("fjord").join("repos");
    }
    if let Some(h) = absolute(home) {
        return h.join(".cache").join("fjord").join("repos");
    }
    temp.join("fjord").join("repos")
}

/// Parses `--cache-max-size` (bytes, or a number with `Ki`, `Mi`, `Gi`, `Ti`); clap names the
/// flag in the error.
pub fn parse_max_size(s: &str) -> Result<u64, String> {
    fjord_source::parse_size(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> Option<OsString> {
        Some(OsString::from(s))
    }

    #[test]
    fn xdg_cache_home_comes_first() {
        let got = resolve(os("/x/cache"), os("/home/u"), "/tmp".into());
        assert_eq!(got, PathBuf::from("/x/cache/fjord/repos"));
    }

    #[test]
    fn home_cache_when_xdg_is_unset_empty_or_relative() {
        for xdg in [None, os(""), os("rel/cache")] {
            let got = resolve(xdg, os("/home/u"), "/tmp".into());
            assert_eq!(got, PathBuf::from("/home/u/.cache/fjord/repos"));
        }
    }

    #[test]
    fn temp_dir_when_neither_is_usable() {
        let got = resolve(None, os(""), "/var/tmp".into());
        assert_eq!(got, PathBuf::from("/var/tmp/fjord/repos"));
        let got = resolve(None, None, "/tmp".into());
        assert_eq!(got, PathBuf::from("/tmp/fjord/repos"));
    }

    #[test]
    fn max_size_accepts_units_and_refuses_zero_and_garbage() {
        assert_eq!(parse_max_size(DEFAULT_MAX_SIZE), Ok(10 << 30));
        assert_eq!(parse_max_size("1Mi"), Ok(1 << 20));
        assert!(parse_max_size("0").is_err());
        assert!(parse_max_size("lots").is_err());
    }
}
