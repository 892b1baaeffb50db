//! Semantic versions and constraint ranges with the semantics of Masterminds/semver v3 (the Go
//! library Argo CD Image Updater uses): lenient versions (`v1.2` is 1.2.0, leading zeros allowed in
//! the numbers), comparators `= != > < >= => <= =< ~ ~> ^`, wildcards `x X *`, hyphen ranges
//! `1.0 - 2.0`, AND groups separated by spaces or commas, OR groups separated by `||`. A
//! pre-release version only satisfies a group that names a pre-release itself.

use std::cmp::Ordering;

/// Why a version or a constraint does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SemverError {
    /// The text is not a (lenient) semantic version.
    #[error("{text:?} is not a semantic version")]
    Version {
        /// The text that was parsed.
        text: String,
    },
    /// The text is not a constraint.
    #[error("{text:?} is not a semantic version constraint")]
    Constraint {
        /// The text that was parsed.
        text: String,
    },
}

/// A parsed version; comparisons ignore build metadata, as semver says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Major number.
    pub major: u64,
    /// Minor number (0 when the text had none).
    pub minor: u64,
    /// Patch number (0 when the text had none).
    pub patch: u64,
    /// Pre-release text after `-` (empty: a release).
    pub pre: String,
    /// Build metadata after `+` (ignored by comparisons).
    pub build: String,
}

impl Version {
    /// Parses a tag the way Masterminds' `NewVersion` does: an optional lower-case `v`, one to three
    /// dot-separated numbers, then an optional `-pre` and `+build`.
    pub fn parse(text: &str) -> Result<Version, SemverError> {
        let err = || SemverError::Version {
            text: text.to_string(),
        };
        let t = text.strip_prefix('v').unwrap_or(text);
        let (rest, build) = match t.split_once('+') {
            Some((r, b)) => (r, b),
            None => (t, ""),
        };
        let (core, pre) = match rest.split_once('-') {
            Some((c, p)) => (c, p),
            None => (rest, ""),
        };
        let nums: Vec<&str> = core.split('.').collect();
        if nums.len() > 3 || nums.iter().any(|n| !is_digits(n)) {
            return Err(err());
        }
        let num = |i: usize| -> Result<u64, SemverError> {
            nums.get(i)
                .map_or(Ok(0), |n| n.parse::<u64>().map_err(|_| err()))
        };
        let v = Version {
            major: num(0)?,
            minor: num(1)?,
            patch: num(2)?,
            pre: pre.into(),
            build: build.into(),
        };
        if rest.contains('-') && !valid_pre(pre) || t.contains('+') && !valid_build(build) {
            return Err(err());
        }
        Ok(v)
    }

    /// Precedence order: numbers, then a release above its pre-releases, then pre-release
    /// identifiers (numeric below alphanumeric, numbers by value, text by bytes).
    pub fn cmp_precedence(&self, other: &Version) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => cmp_pre(&self.pre, &other.pre),
            })
    }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn ident_ok(p: &str) -> bool {
    !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn valid_pre(pre: &str) -> bool {
    pre.split('.').all(|p| {
        if is_digits(p) {
            p.len() == 1 || !p.starts_with('0')
        } else {
            ident_ok(p)
        }
    })
}

fn valid_build(build: &str) -> bool {
    build.split('.').all(ident_ok)
}

fn cmp_pre(a: &str, b: &str) -> Ordering {
    let (pa, pb): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
    for i in 0..pa.len().max(pb.len()) {
        let (x, y) = (
            pa.get(i).copied().unwrap_or(""),
            pb.get(i).copied().unwrap_or(""),
        );
        let o = match (x, y) {
            _ if x == y => Ordering::Equal,
            ("", _) => Ordering::Less,
            (_, "") => Ordering::Greater,
            _ => match (x.parse::<u64>(), y.parse::<u64>()) {
                (Ok(n), Ok(m)) => n.cmp(&m),
                (Ok(_), Err(_)) => Ordering::Less,
                (Err(_), Ok(_)) => Ordering::Greater,
                (Err(_), Err(_)) => x.cmp(y),
            },
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    TildeOrEqual,
    NotEqual,
    Greater,
    Less,
    GreaterEq,
    LessEq,
    Tilde,
    Caret,
}

const OPS: [(&str, Op); 12] = [
    ("!=", Op::NotEqual),
    (">=", Op::GreaterEq),
    ("=>", Op::GreaterEq),
    ("<=", Op::LessEq),
    ("=<", Op::LessEq),
    ("~>", Op::Tilde),
    ("=", Op::TildeOrEqual),
    (">", Op::Greater),
    ("<", Op::Less),
    ("~", Op::Tilde),
    ("^", Op::Caret),
    ("", Op::TildeOrEqual),
];

#[derive(Debug, Clone)]
struct Comparator {
    op: Op,
    con: Version,
    dirty: bool,
    minor_dirty: bool,
    patch_dirty: bool,
}

/// A parsed constraint: alternatives (`||`) of AND groups.
#[derive(Debug, Clone)]
pub struct Constraint {
    groups: Vec<(Vec<Comparator>, bool)>,
}

impl Constraint {
    /// Parses a constraint such as `~1.2`, `^1`, `>=1.0 <2.0`, `1.x`, `1.0 - 1.4 || 2.x`.
    pub fn parse(text: &str) -> Result<Constraint, SemverError> {
        let err = || SemverError::Constraint {
            text: text.to_string(),
        };
        let mut groups = Vec::new();
        for alt in text.split("||") {
            let comps = parse_group(alt).ok_or_else(err)?;
            let has_pre = comps.iter().any(|c| !c.con.pre.is_empty());
            groups.push((comps, has_pre));
        }
        Ok(Constraint { groups })
    }

    /// Whether `v` satisfies any alternative.
    pub fn matches(&self, v: &Version) -> bool {
        self.groups
            .iter()
            .any(|(comps, pre)| (v.pre.is_empty() || *pre) && comps.iter().all(|c| c.check(v)))
    }
}

/// One AND group: `op ver` items separated by whitespace or a comma; `a - b` is a hyphen range.
fn parse_group(alt: &str) -> Option<Vec<Comparator>> {
    let mut rest = alt.trim_start();
    let mut out = Vec::new();
    loop {
        let (op_text, op) = OPS.iter().find(|(t, _)| rest.starts_with(t)).copied()?;
        rest = rest[op_text.len()..].trim_start();
        let end = rest
            .find(|c: char| c.is_whitespace() || c == ',')
            .unwrap_or(rest.len());
        let first = &rest[..end];
        rest = &rest[end..];
        let trimmed = rest.trim_start();
        if op_text.is_empty() && trimmed.starts_with("- ") && rest.len() > trimmed.len() {
            let after = trimmed[1..].trim_start();
            let e2 = after
                .find(|c: char| c.is_whitespace() || c == ',')
                .unwrap_or(after.len());
            out.push(comparator(Op::GreaterEq, first)?);
            out.push(comparator(Op::LessEq, &after[..e2])?);
            rest = &after[e2..];
        } else {
            out.push(comparator(op, first)?);
        }
        let trimmed = rest.trim_start();
        let had_space = trimmed.len() < rest.len();
        rest = trimmed;
        if rest.is_empty() {
            return Some(out);
        }
        if let Some(r) = rest.strip_prefix(',') {
            rest = r.trim_start();
        } else if !had_space {
            return None;
        }
    }
}

fn is_x(s: &str) -> bool {
    matches!(s, "x" | "X" | "*")
}

/// One comparator's version part: numbers or wildcards, an optional pre-release and build.
fn comparator(op: Op, text: &str) -> Option<Comparator> {
    let t = text.strip_prefix('v').unwrap_or(text);
    let (rest, build) = t.split_once('+').map_or((t, None), |(a, b)| (a, Some(b)));
    let (core, pre) = rest
        .split_once('-')
        .map_or((rest, None), |(a, b)| (a, Some(b)));
    if pre.is_some_and(|p| !p.split('.').all(ident_ok)) || build.is_some_and(|b| !valid_build(b)) {
        return None;
    }
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 3 || parts.iter().any(|p| !is_digits(p) && !is_x(p)) {
        return None;
    }
    let wild = |i: usize| parts.get(i).is_none_or(|p| is_x(p));
    let (dirty, minor_dirty, patch_dirty) = if wild(0) {
        (true, false, false)
    } else if wild(1) {
        (true, true, false)
    } else if wild(2) {
        (true, false, true)
    } else {
        (false, false, false)
    };
    let num = |i: usize| -> Option<u64> { parts.get(i).map_or(Some(0), |p| p.parse().ok()) };
    let (major, minor, patch) = if wild(0) {
        (0, 0, 0)
    } else if minor_dirty {
        (num(0)?, 0, 0)
    } else if patch_dirty {
        (num(0)?, num(1)?, 0)
    } else {
        (num(0)?, num(1)?, num(2)?)
    };
    let mut ver = format!("{major}.{minor}.{patch}");
    if let Some(p) = pre {
        ver.push('-');
        ver.push_str(p);
    }
    let con = Version::parse(&ver).ok()?;
    Some(Comparator {
        op,
        con,
        dirty,
        minor_dirty,
        patch_dirty,
    })
}

impl Comparator {
    fn check(&self, v: &Version) -> bool {
        let c = &self.con;
        let cmp = v.cmp_precedence(c);
        match self.op {
            Op::TildeOrEqual if self.dirty => self.tilde(v),
            Op::TildeOrEqual => cmp == Ordering::Equal,
            Op::NotEqual => self.not_equal(v),
            Op::Greater if !self.dirty => cmp == Ordering::Greater,
            Op::Greater => {
                v.major > c.major
                    || (v.major == c.major
                        && !self.minor_dirty
                        && if self.patch_dirty {
                            v.minor > c.minor
                        } else {
                            cmp == Ordering::Greater
                        })
            }
            Op::Less => cmp == Ordering::Less,
            Op::GreaterEq => cmp != Ordering::Less,
            Op::LessEq if !self.dirty => cmp != Ordering::Greater,
            Op::LessEq => {
                !(v.major > c.major
                    || (v.major == c.major && v.minor > c.minor && !self.minor_dirty))
            }
            Op::Tilde => self.tilde(v),
            Op::Caret => self.caret(v),
        }
    }

    fn not_equal(&self, v: &Version) -> bool {
        let c = &self.con;
        if self.dirty {
            if c.major != v.major {
                return true;
            }
            if self.minor_dirty {
                return false;
            }
            if c.minor != v.minor {
                return true;
            }
            if self.patch_dirty {
                return (!v.pre.is_empty() || !c.pre.is_empty())
                    && cmp_pre(&v.pre, &c.pre) != Ordering::Equal;
            }
        }
        v.cmp_precedence(c) != Ordering::Equal
    }

    fn tilde(&self, v: &Version) -> bool {
        let c = &self.con;
        if v.cmp_precedence(c) == Ordering::Less {
            return false;
        }
        if c.major == 0 && c.minor == 0 && c.patch == 0 && !self.minor_dirty && !self.patch_dirty {
            return true;
        }
        v.major == c.major && (self.minor_dirty || v.minor == c.minor)
    }

    fn caret(&self, v: &Version) -> bool {
        let c = &self.con;
        if v.cmp_precedence(c) == Ordering::Less {
            return false;
        }
        if c.major > 0 || self.minor_dirty {
            return v.major == c.major;
        }
        if v.major > 0 {
            return false;
        }
        if c.minor > 0 || self.patch_dirty {
            return v.minor == c.minor;
        }
        if v.minor > 0 {
            return false;
        }
        v.patch == c.patch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn ok(c: &str, ver: &str) -> bool {
        Constraint::parse(c).unwrap().matches(&v(ver))
    }

    #[test]
    fn versions_are_lenient() {
        assert_eq!(
            v("v1.2"),
            Version {
                major: 1,
                minor: 2,
                patch: 0,
                pre: "".into(),
                build: "".into()
            }
        );
        assert_eq!(v("3").major, 3);
        assert_eq!(v("01.002.3").minor, 2);
        assert_eq!(v("1.2.3-rc.1+b.5").pre, "rc.1");
        for bad in [
            "", "V1.2", "1.2.3.4", "latest", "1..2", "1.2-", "1.2-01", "1.2+", "1.2-a_b", "v",
            "1.x",
        ] {
            assert!(Version::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn precedence() {
        let order = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.10.0",
            "2",
        ];
        for w in order.windows(2) {
            assert_eq!(
                v(w[0]).cmp_precedence(&v(w[1])),
                Ordering::Less,
                "{} < {}",
                w[0],
                w[1]
            );
        }
        assert_eq!(v("1.20").cmp_precedence(&v("1.20.0")), Ordering::Equal);
        assert_eq!(v("v1.2.0+a").cmp_precedence(&v("1.2+b")), Ordering::Equal);
    }

    #[test]
    fn ranges() {
        assert!(ok("~1.2", "1.2.9") && !ok("~1.2", "1.3.0") && !ok("~1.2", "1.1.9"));
        assert!(ok("~1.2.3", "1.2.4") && !ok("~1.2.3", "1.2.2"));
        assert!(ok("^1", "1.9.9") && !ok("^1", "2.0.0") && !ok("^1", "0.9.0"));
        assert!(ok("^0.2.3", "0.2.9") && !ok("^0.2.3", "0.3.0"));
        assert!(ok("^0.0.3", "0.0.3") && !ok("^0.0.3", "0.0.4"));
        assert!(ok(">=1.0 <2.0", "1.5.0") && !ok(">=1.0 <2.0", "2.0.0"));
        assert!(ok(">= 1.0, < 2.0", "1.0.0") && !ok(">= 1.0, < 2.0", "0.9"));
        assert!(ok("1.x", "1.99.1") && !ok("1.x", "2.0.0"));
        assert!(ok("1.2.*", "1.2.7") && !ok("1.2.*", "1.3.0"));
        assert!(ok("*", "9.9.9") && !ok("*", "1.0.0-rc.1"));
        // `<=1.4` (the upper end) admits every 1.4.x, as in Masterminds.
        assert!(ok("1.0 - 1.4", "1.4.1") && !ok("1.0 - 1.4", "1.5.0") && !ok("1.0 - 1.4", "0.9.9"));
        assert!(ok("1.0 - 1.4.5", "1.4.5") && !ok("1.0 - 1.4.5", "1.4.6"));
        assert!(
            ok("1.0.0 || 2.x", "2.3.0")
                && ok("1.0.0 || 2.x", "1.0.0")
                && !ok("1.0.0 || 2.x", "1.1.0")
        );
        assert!(ok("1.2", "1.2.5") && ok("=1.2.3", "1.2.3") && !ok("1.2.3", "1.2.4"));
        assert!(ok("!=1.2.3", "1.2.4") && !ok("!=1.2.3", "1.2.3"));
        assert!(ok(">1.2", "1.3.0") && !ok(">1.2", "1.2.9"));
        assert!(ok("<=1.2", "1.2.9") && !ok("<=1.2", "1.3.0"));
        assert!(ok(">=2.0.0-rc.0 <2.0.0", "2.0.0-rc.1") && !ok(">=1.0", "2.0.0-rc.1"));
        assert!(ok("v1.x", "1.1.0") && ok("~>1.2", "1.2.3"));
    }

    #[test]
    fn bad_constraints() {
        for bad in [
            "",
            "latest",
            ">=1.0<2.0",
            "1.2.3.4",
            ">>1",
            "1.0 -",
            "~",
            "1.2.3 ||",
            "1,,2",
            "1x",
        ] {
            assert!(Constraint::parse(bad).is_err(), "{bad}");
        }
    }
}
