//! The argument grammar of `kustomize edit set image`.
//!
//! An argument is `[name=]reference`. Without `=` the reference's repository part is the name;
//! with it, the reference's repository part is the new name. The reference is cut into
//! repository, tag and digest the way kustomize's image splitter does: the search for `:`
//! and `@` starts at the first `/` (so a registry port stays in the repository), an `@`
//! before any `:` means a digest only, `:` then `@` a tag and a digest, `:` alone a tag.
//! A component that is exactly `*` means "keep what the file has".

use super::SetImageError;

/// The component value meaning "keep the value the kustomization already has".
pub const KEEP: &str = "*";

/// One argument of `kustomize edit set image` / `fjord set-image`, parsed.
///
/// Empty components are `None`. A component given as `*` is kept as `Some("*")`: it means
/// "keep the file's value" (see [`KEEP`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetImageArg {
    /// The image name to match in resources (the `images:` entry's `name`).
    pub name: String,
    /// The replacement repository (`newName`), or `*`.
    pub new_name: Option<String>,
    /// The replacement tag (`newTag`), or `*`.
    pub new_tag: Option<String>,
    /// The replacement digest (`digest`, e.g. `sha256:…`), or `*`.
    pub digest: Option<String>,
}

impl SetImageArg {
    /// Parses one argument as kustomize v5.5.0 does. The only rejected form is one where the
    /// parsed repository equals the whole argument (no `=`, `:` or `@` that splits it, e.g.
    /// `nginx`); tags and digests are not validated, as kustomize does not validate them.
    pub fn parse(arg: &str) -> Result<SetImageArg, SetImageError> {
        let (key, value) = match arg.split_once('=') {
            Some((k, v)) => (Some(k), v),
            None => (None, arg),
        };
        let (repo, tag, digest) = split_reference(value);
        if repo == arg {
            return Err(SetImageError::InvalidArg {
                arg: arg.to_string(),
            });
        }
        let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
        // An empty key (`=img:tag`) counts as no key, as in kustomize.
        let (name, new_name) = match key {
            Some(k) if !k.is_empty() => (k.to_string(), some(repo)),
            _ => (repo.to_string(), None),
        };
        Ok(SetImageArg {
            name,
            new_name,
            new_tag: some(tag),
            digest: some(digest),
        })
    }
}

/// Splits `[host[:port]/]path[:tag][@digest]` into (repository, tag, digest) as kustomize's
/// image splitter does. Missing parts are empty strings.
pub fn split_reference(reference: &str) -> (&str, &str, &str) {
    // The search starts at the first `/` unless that is the very first character.
    let offset = match reference.find('/') {
        Some(i) if i > 0 => i,
        _ => 0,
    };
    let search = &reference[offset..];
    let at = search.find('@').map(|i| i + offset);
    let colon = search.find(':').map(|i| i + offset);
    match (colon, at) {
        (None, None) => (reference, "", ""),
        (c, Some(a)) if c.is_none_or(|c| a < c) => (&reference[..a], "", &reference[a + 1..]),
        (Some(c), Some(a)) => (&reference[..c], &reference[c + 1..a], &reference[a + 1..]),
        (Some(c), None) => (&reference[..c], &reference[c + 1..], ""),
        // Unreachable: `(None, Some(_))` is taken by the digest-only arm.
        (None, Some(a)) => (&reference[..a], "", &reference[a + 1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(arg: &str) -> (String, Option<String>, Option<String>, Option<String>) {
        let a = SetImageArg::parse(arg).unwrap();
        (a.name, a.new_name, a.new_tag, a.digest)
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    const D: &str = "sha256:24a0c4b4a4c0eb97a1aabb8e29f18e917d05abfe1b7a7c07857230879ce7d3d3";

    #[test]
    fn tag_digest_and_both() {
        assert_eq!(p("nginx:1.2"), ("nginx".into(), None, s("1.2"), None));
        assert_eq!(p(&format!("nginx@{D}")), ("nginx".into(), None, None, s(D)));
        assert_eq!(
            p(&format!("nginx:1.2@{D}")),
            ("nginx".into(), None, s("1.2"), s(D))
        );
        // `@` before `:` is a digest only; the `:` belongs to the digest.
        assert_eq!(p("a@sha256:x"), ("a".into(), None, None, s("sha256:x")));
    }

    #[test]
    fn new_names() {
        assert_eq!(p("a=b"), ("a".into(), s("b"), None, None));
        assert_eq!(p("a=b:t"), ("a".into(), s("b"), s("t"), None));
        assert_eq!(p(&format!("a=b@{D}")), ("a".into(), s("b"), None, s(D)));
        assert_eq!(p(&format!("a=b:t@{D}")), ("a".into(), s("b"), s("t"), s(D)));
        assert_eq!(
            p("nginx=localhost:5000/my/nginx:dev-01"),
            (
                "nginx".into(),
                s("localhost:5000/my/nginx"),
                s("dev-01"),
                None
            )
        );
        // Only the first `=` splits.
        assert_eq!(p("a=b=c:1"), ("a".into(), s("b=c"), s("1"), None));
    }

    #[test]
    fn keep_markers_stay_literal() {
        assert_eq!(p("a=*:t"), ("a".into(), s("*"), s("t"), None));
        assert_eq!(p("a=b:*"), ("a".into(), s("b"), s("*"), None));
        assert_eq!(p(&format!("a=*@{D}")), ("a".into(), s("*"), None, s(D)));
        assert_eq!(p("a=b@*"), ("a".into(), s("b"), None, s("*")));
        assert_eq!(p(&format!("a:*@{D}")), ("a".into(), None, s("*"), s(D)));
    }

    #[test]
    fn ports_and_slashes() {
        assert_eq!(
            p("localhost:5000/x:1"),
            ("localhost:5000/x".into(), None, s("1"), None)
        );
        // No `/`: the port reads as a tag.
        assert_eq!(
            p("localhost:5000"),
            ("localhost".into(), None, s("5000"), None)
        );
        assert_eq!(split_reference("/a:1"), ("/a", "1", ""));
        assert_eq!(split_reference("r:1/a"), ("r:1/a", "", ""));
    }

    #[test]
    fn odd_but_accepted_forms() {
        assert_eq!(p("a="), ("a".into(), None, None, None));
        assert_eq!(p("=b:1"), ("b".into(), None, s("1"), None));
        assert_eq!(p("="), ("".into(), None, None, None));
        assert_eq!(p("a:"), ("a".into(), None, None, None));
        // Tags are not validated.
        assert_eq!(p("a:b!c"), ("a".into(), None, s("b!c"), None));
    }

    #[test]
    fn invalid_forms() {
        // `a:b/c`: the search for `:` starts at the `/`, so nothing splits.
        for bad in ["nginx", "", "a/b", "registry:5000/x", "a:b/c"] {
            let err = SetImageArg::parse(bad).unwrap_err();
            assert!(matches!(err, SetImageError::InvalidArg { .. }), "{bad}");
            assert!(err.to_string().starts_with("invalid format of image"));
        }
    }
}
