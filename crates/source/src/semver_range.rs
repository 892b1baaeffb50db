//! Semantic-version ranges as a `targetRevision` (`1.2.*`, `>=1.0.0 <2.0.0`, `~1.4`, `^2`,
//! `1.0 - 1.4 || 2.x`): resolved, as Argo CD does, to the highest tag whose name (with an optional
//! leading `v`) is a version inside the range. The syntax follows Masterminds/semver, the Go library
//! Argo CD uses: comparators are separated by spaces or commas (all must hold), `||` separates
//! alternatives, and a bare version means exactly that version.

use semver::{Version, VersionReq};

/// Whether `revision` looks like a version range rather than a ref name, SHA or plain version: it
/// contains a comparison operator, a wildcard, `||` or a hyphen range.
pub fn is_range(revision: &str) -> bool {
    let r = revision.trim();
    !r.is_empty()
        && r.chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || "<>=~^*vVxX".contains(c))
        && (r.contains(['<', '>', '=', '~', '^', '*'])
            || r.contains("||")
            || r.contains(" - ")
            || r.split(['.', ' ', ',']).any(|p| p == "x" || p == "X"))
        && parse_range(r).is_some()
}

/// Parses a range into its alternatives; `None` when it is not a valid range.
pub fn parse_range(range: &str) -> Option<Vec<VersionReq>> {
    range
        .split("||")
        .map(|alt| {
            let tokens: Vec<&str> = alt.split([' ', ',']).filter(|t| !t.is_empty()).collect();
            let mut comparators: Vec<String> = Vec::new();
            let mut i = 0;
            while i < tokens.len() {
                let t = tokens[i];
                if tokens.get(i + 1) == Some(&"-") && i + 2 < tokens.len() {
                    comparators.push(format!(">={}", strip_v(t)));
                    comparators.push(format!("<={}", strip_v(tokens[i + 2])));
                    i += 3;
                    continue;
                }
                if t.chars().all(|c| "<>=~^".contains(c)) {
                    let next = tokens.get(i + 1)?;
                    comparators.push(format!("{t}{}", strip_v(next)));
                    i += 2;
                    continue;
                }
                let op_len = t.find(|c: char| !"<>=~^".contains(c)).unwrap_or(t.len());
                let (op, ver) = t.split_at(op_len);
                let ver = strip_v(ver);
                let wildcard = ver.split('.').any(|p| matches!(p, "*" | "x" | "X"));
                let op = if op.is_empty() && !wildcard { "=" } else { op };
                comparators.push(format!("{op}{ver}"));
                i += 1;
            }
            if comparators.is_empty() {
                return None;
            }
            VersionReq::parse(&comparators.join(", ")).ok()
        })
        .collect()
}

fn strip_v(s: &str) -> &str {
    s.strip_prefix(['v', 'V']).unwrap_or(s)
}

/// A tag name as a version: an optional leading `v`, and missing minor/patch read as zero
/// (`v1.2` is 1.2.0).
pub fn tag_version(tag: &str) -> Option<Version> {
    let t = strip_v(tag.trim());
    if let Ok(v) = Version::parse(t) {
        return Some(v);
    }
    let (core, rest) = match t.find(['-', '+']) {
        Some(i) => t.split_at(i),
        None => (t, ""),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty() || parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    let mut padded = parts.join(".");
    for _ in parts.len()..3 {
        padded.push_str(".0");
    }
    Version::parse(&format!("{padded}{rest}")).ok()
}

/// The tag with the highest version inside `range`, if any.
pub fn best_tag<'a>(range: &str, tags: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let reqs = parse_range(range)?;
    tags.into_iter()
        .filter_map(|t| tag_version(t).map(|v| (v, t)))
        .filter(|(v, _)| reqs.iter().any(|r| r.matches(v)))
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, t)| t)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAGS: [&str; 8] = [
        "v1.0.0",
        "v1.2.0",
        "v1.2.7",
        "1.3.0",
        "v2.0.0-rc.1",
        "v2.0.0",
        "v2.1",
        "release-9",
    ];

    #[test]
    fn picks_highest_matching_tag() {
        assert_eq!(best_tag("1.2.*", TAGS), Some("v1.2.7"));
        assert_eq!(best_tag("1.2.x", TAGS), Some("v1.2.7"));
        assert_eq!(best_tag(">=1.0.0 <2.0.0", TAGS), Some("1.3.0"));
        assert_eq!(best_tag(">= 1.0.0, < 2.0.0", TAGS), Some("1.3.0"));
        assert_eq!(best_tag("~1.2", TAGS), Some("v1.2.7"));
        assert_eq!(best_tag("^2", TAGS), Some("v2.1"));
        assert_eq!(best_tag("*", TAGS), Some("v2.1"));
        assert_eq!(best_tag("1.0 - 1.2.5", TAGS), Some("v1.2.0"));
        assert_eq!(best_tag("1.0.0 || 1.2.x", TAGS), Some("v1.2.7"));
        assert_eq!(best_tag(">=3", TAGS), None);
        // prereleases only match ranges that name one
        assert_eq!(best_tag(">=2.0.0-rc.0 <2.0.0", TAGS), Some("v2.0.0-rc.1"));
    }

    #[test]
    fn tells_ranges_from_names() {
        for r in [
            "1.2.*",
            ">=1.0.0 <2.0.0",
            "~1.2",
            "^2",
            "*",
            "1.0 - 1.4",
            "1.x",
            "1.0.0 || 2.x",
        ] {
            assert!(is_range(r), "{r} is a range");
        }
        for r in [
            "main",
            "HEAD",
            "v1.2.0",
            "1.2.0",
            "abc1234",
            "feature/x",
            "",
            "release-1.*x",
        ] {
            assert!(!is_range(r), "{r} is not a range");
        }
    }

    #[test]
    fn tag_versions_are_lenient() {
        assert_eq!(tag_version("v1.2"), Some(Version::new(1, 2, 0)));
        assert_eq!(tag_version("3"), Some(Version::new(3, 0, 0)));
        assert_eq!(
            tag_version("v1.2.3-rc.1").map(|v| v.pre.to_string()),
            Some("rc.1".into())
        );
        assert_eq!(tag_version("release"), None);
        assert_eq!(tag_version("1..2"), None);
    }
}
