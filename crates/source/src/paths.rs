//! Argo CD's `argocd.argoproj.io/manifest-generate-paths` annotation: which changed files make an
//! application need a new manifest generation.

use std::path::{Component, Path, PathBuf};

use crate::error::RepoError;

/// The Application annotation naming the paths an app's manifests depend on.
pub const MANIFEST_GENERATE_PATHS: &str = "argocd.argoproj.io/manifest-generate-paths";

/// The refresh paths an annotation value names, repository-relative and without a leading `/`:
/// items are `;`-separated; empty items are skipped; an item starting with `/` is relative to the
/// repository root; any other item (`.`, `../base`, `sub`) is joined to each source path and
/// cleaned. With no annotation (or an empty one) the result is empty.
pub fn refresh_paths(annotation: Option<&str>, source_paths: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let Some(value) = annotation else {
        return out;
    };
    for item in value.split(';').map(str::trim).filter(|i| !i.is_empty()) {
        if let Some(abs) = item.strip_prefix('/') {
            out.push(abs.to_string());
        } else {
            for src in source_paths {
                out.push(clean(&format!("{src}/{item}")));
            }
        }
    }
    out
}

/// Argo CD's `AppFilesHaveChanged`: true when `changed` is empty (the event listed no files, so a
/// refresh must be assumed), when there are no refresh paths, or when a changed file equals a
/// refresh path, lies under one, or matches one as a glob (`*`, `?`, `[…]`, not crossing `/`).
pub fn files_have_changed<P: AsRef<Path>>(refresh: &[String], changed: &[P]) -> bool {
    if changed.is_empty() || refresh.is_empty() {
        return true;
    }
    changed.iter().any(|f| {
        let f = clean(&abs(&f.as_ref().to_string_lossy()));
        refresh.iter().any(|item| {
            let item = clean(&abs(item));
            f == item
                || item == "/"
                || f.strip_prefix(item.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
                || glob_match(item.as_bytes(), f.as_bytes())
        })
    })
}

/// Whether a change to `changed` affects an app whose source path is `app_path` and whose
/// manifest-generate-paths annotation is `annotation` (`None` when it has none): a refresh is
/// needed unless the annotation is set and no changed file falls under its paths.
pub fn affects<P: AsRef<Path>>(annotation: Option<&str>, app_path: &str, changed: &[P]) -> bool {
    files_have_changed(&refresh_paths(annotation, &[app_path]), changed)
}

fn abs(p: &str) -> String {
    if p.starts_with('/') {
        p.to_string()
    } else {
        format!("/{p}")
    }
}

/// Lexical cleaning like Go's `filepath.Clean`, for `/`-separated relative or absolute paths.
fn clean(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for c in Path::new(p).components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str().unwrap_or_default()),
            Component::ParentDir => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Go `path.Match`-style glob: `*` matches any run without `/`, `?` one non-`/` byte, `[…]` a
/// class (with `^`/`!` negation and ranges), `\` escapes.
fn glob_match(p: &[u8], s: &[u8]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some(b'*') => {
            glob_match(&p[1..], s)
                || (s.first().is_some_and(|c| *c != b'/') && glob_match(p, &s[1..]))
        }
        Some(b'?') => s.first().is_some_and(|c| *c != b'/') && glob_match(&p[1..], &s[1..]),
        Some(b'[') => {
            let Some(&c) = s.first() else { return false };
            match class_match(&p[1..], c) {
                Some((ok, rest)) => ok && c != b'/' && glob_match(rest, &s[1..]),
                None => false,
            }
        }
        Some(b'\\') if p.len() > 1 => s.first() == Some(&p[1]) && glob_match(&p[2..], &s[1..]),
        Some(&c) => s.first() == Some(&c) && glob_match(&p[1..], &s[1..]),
    }
}

/// Matches `c` against a class body (after `[`); returns (matched, pattern after `]`).
fn class_match(p: &[u8], c: u8) -> Option<(bool, &[u8])> {
    let (negate, mut p) = match p.first() {
        Some(b'^') | Some(b'!') => (true, &p[1..]),
        _ => (false, p),
    };
    let mut matched = false;
    let mut first = true;
    loop {
        let (&lo, rest) = p.split_first()?;
        if lo == b']' && !first {
            return Some((matched != negate, rest));
        }
        first = false;
        if rest.first() == Some(&b'-') && rest.get(1).is_some_and(|h| *h != b']') {
            let hi = rest[1];
            matched |= lo <= c && c <= hi;
            p = &rest[2..];
        } else {
            matched |= lo == c;
            p = rest;
        }
    }
}

/// Turns a list of changed file names (for example from a webhook) into paths.
pub fn to_paths<S: AsRef<str>>(files: &[S]) -> Vec<PathBuf> {
    files.iter().map(|f| PathBuf::from(f.as_ref())).collect()
}

/// `path` (an app's `source.path`) as a clean repository-relative path; `..` beyond the root
/// is refused.
pub(crate) fn clean_rel(path: &str) -> Result<PathBuf, RepoError> {
    let mut out = PathBuf::new();
    for c in Path::new(path.trim().trim_start_matches('/')).components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return Err(RepoError::PathEscapes {
                        path: path.to_string(),
                    });
                }
            }
            Component::Prefix(_) => {
                return Err(RepoError::PathEscapes {
                    path: path.to_string(),
                })
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_paths_stay_inside_the_repository() {
        assert_eq!(
            clean_rel("./apps//guestbook/").unwrap(),
            PathBuf::from("apps/guestbook")
        );
        assert_eq!(clean_rel("/apps/x/../y").unwrap(), PathBuf::from("apps/y"));
        assert_eq!(clean_rel(".").unwrap(), PathBuf::new());
        assert!(matches!(
            clean_rel("../x"),
            Err(RepoError::PathEscapes { .. })
        ));
        assert!(matches!(
            clean_rel("a/../../x"),
            Err(RepoError::PathEscapes { .. })
        ));
    }

    fn ch(files: &[&str]) -> Vec<PathBuf> {
        to_paths(files)
    }

    #[test]
    fn refresh_paths_like_argo() {
        assert_eq!(
            refresh_paths(Some(".;../common; /shared/x ;;"), &["apps/guestbook"]),
            vec!["apps/guestbook", "apps/common", "shared/x"]
        );
        assert_eq!(refresh_paths(Some("."), &["a", "b"]), vec!["a", "b"]);
        assert!(refresh_paths(None, &["a"]).is_empty());
        assert!(refresh_paths(Some(""), &["a"]).is_empty());
    }

    #[test]
    fn dot_means_the_app_directory() {
        assert!(affects(
            Some("."),
            "apps/guestbook",
            &ch(&["apps/guestbook/deploy.yaml"])
        ));
        assert!(!affects(
            Some("."),
            "apps/guestbook",
            &ch(&["apps/other/deploy.yaml"])
        ));
        // a sibling whose name merely starts with the app dir name is not under it
        assert!(!affects(
            Some("."),
            "apps/guestbook",
            &ch(&["apps/guestbook2/x.yaml"])
        ));
        // the directory itself
        assert!(affects(
            Some("."),
            "apps/guestbook",
            &ch(&["apps/guestbook"])
        ));
    }

    #[test]
    fn relative_absolute_and_multiple() {
        let ann = Some("../base;/config/shared.yaml");
        assert!(affects(
            ann,
            "envs/prod",
            &ch(&["envs/base/kustomization.yaml"])
        ));
        assert!(affects(ann, "envs/prod", &ch(&["config/shared.yaml"])));
        assert!(!affects(ann, "envs/prod", &ch(&["envs/prod/values.yaml"])));
        assert!(!affects(
            ann,
            "envs/prod",
            &ch(&["config/other.yaml", "README.md"])
        ));
        assert!(affects(
            ann,
            "envs/prod",
            &ch(&["README.md", "envs/base/a/b.yaml"])
        ));
        // "/" covers the whole repository
        assert!(affects(Some("/"), "x", &ch(&["anything/at/all"])));
    }

    #[test]
    fn globs_do_not_cross_directories() {
        let ann = Some("/charts/*.yaml");
        assert!(affects(ann, "x", &ch(&["charts/values.yaml"])));
        assert!(!affects(ann, "x", &ch(&["charts/sub/values.yaml"])));
        assert!(affects(Some("/env-[ab]/*"), "x", &ch(&["env-a/k.yaml"])));
        // as in Argo CD, a glob is matched against the whole file path, not its directories
        assert!(!affects(Some("/env-[ab]"), "x", &ch(&["env-a/k.yaml"])));
        assert!(affects(Some("/env-[ab]"), "x", &ch(&["env-b"])));
        assert!(!affects(Some("/env-[!ab]"), "x", &ch(&["env-a"])));
        assert!(affects(Some("/env-?"), "x", &ch(&["env-c"])));
    }

    #[test]
    fn no_annotation_or_no_file_list_always_refreshes() {
        assert!(affects(None, "apps/a", &ch(&["elsewhere.txt"])));
        let none: Vec<PathBuf> = Vec::new();
        assert!(affects(Some("."), "apps/a", &none));
    }

    #[test]
    fn clean_is_lexical() {
        assert_eq!(clean("a/./b/../c"), "a/c");
        assert_eq!(clean("./"), ".");
        assert_eq!(clean("../x"), "../x");
        assert_eq!(clean("/../x"), "/x");
        assert_eq!(clean("a/"), "a");
    }
}
