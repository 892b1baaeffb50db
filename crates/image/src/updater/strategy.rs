//! Tag filters and the four update strategies.
//!
//! Unlike Image Updater, the pick is deterministic: semver-equal tags (`1.20` and `1.20.0`) are
//! ordered by a fixed tie-break (the current tag first, then the longest text, then the greatest
//! bytes), and an update needs a tag that is strictly newer than the current one, so the updater
//! never alternates between equal tags.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};

use super::glob::Glob;
use super::semver::{Constraint, SemverError, Version};
use super::types::{ImageSpec, Strategy, TagInfo};

/// Why no pick can be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    /// The image's current tag is not a semantic version (strategy `semver`).
    #[error("current tag {tag:?} is not a semantic version, which the semver strategy needs")]
    CurrentNotSemver {
        /// The current tag.
        tag: String,
        /// Why.
        #[source]
        source: SemverError,
    },
    /// The reverted tag is not a semantic version (strategy `semver`).
    #[error("reverted tag {tag:?} is not a semantic version, which the semver strategy needs")]
    RevertedNotSemver {
        /// The reverted tag.
        tag: String,
        /// Why.
        #[source]
        source: SemverError,
    },
    /// The constraint is not a semver range.
    #[error("constraint {constraint:?} is not a semantic version range")]
    Constraint {
        /// The constraint.
        constraint: String,
        /// Why.
        #[source]
        source: SemverError,
    },
    /// Strategy `digest` without a tag to follow.
    #[error("the digest strategy needs a tag (image:tag in image-list)")]
    DigestWithoutConstraint,
    /// The followed tag has no digest in the candidates.
    #[error("tag {tag:?} has no digest")]
    MissingDigest {
        /// The tag.
        tag: String,
    },
}

/// The allow/ignore filters, compiled once.
struct Filters<'s> {
    spec: &'s ImageSpec,
    ignore: Vec<Glob>,
    constraint: Option<Constraint>,
}

impl<'s> Filters<'s> {
    fn new(spec: &'s ImageSpec) -> Filters<'s> {
        let constraint = match spec.strategy {
            Strategy::Semver => spec
                .constraint
                .as_deref()
                .and_then(|c| Constraint::parse(c).ok()),
            _ => None,
        };
        Filters {
            spec,
            ignore: spec
                .ignore_tags
                .iter()
                .filter_map(|p| Glob::new(p).ok())
                .collect(),
            constraint,
        }
    }

    fn pass(&self, tag: &str) -> bool {
        let spec = self.spec;
        if spec.allow_tags.as_ref().is_some_and(|re| !re.is_match(tag))
            || self.ignore.iter().any(|g| g.matches(tag))
        {
            return false;
        }
        match spec.strategy {
            Strategy::Semver => match Version::parse(tag) {
                Err(_) => false,
                Ok(v) => match (&self.constraint, &spec.constraint) {
                    (Some(c), _) => c.matches(&v),
                    (None, Some(_)) => false,
                    (None, None) => true,
                },
            },
            Strategy::Digest => spec.constraint.as_deref() == Some(tag),
            Strategy::NewestBuild | Strategy::Alphabetical => true,
        }
    }
}

/// The tags worth looking at, in their order: those `allow-tags` allows, no `ignore-tags`
/// pattern matches and the constraint admits (`semver`: a version inside the range; `digest`:
/// the constraint tag itself; other strategies ignore the constraint). Run before any metadata
/// is fetched.
pub fn filter_tags<'a>(spec: &ImageSpec, tags: &'a [String]) -> Vec<&'a str> {
    let f = Filters::new(spec);
    tags.iter()
        .map(String::as_str)
        .filter(|t| f.pass(t))
        .collect()
}

/// Semver order, then the tie-break for semver-equal tags: the current tag, then the longer
/// text, then the greater bytes.
fn semver_rank(a: (&Version, &str), b: (&Version, &str), current: Option<&str>) -> Ordering {
    a.0.cmp_precedence(b.0).then_with(|| {
        let is_cur = |t: &str| current == Some(t);
        is_cur(a.1)
            .cmp(&is_cur(b.1))
            .then(a.1.len().cmp(&b.1.len()))
            .then(a.1.cmp(b.1))
    })
}

fn build_key(t: &TagInfo) -> (DateTime<Utc>, &str) {
    (
        t.created.unwrap_or(DateTime::<Utc>::MIN_UTC),
        t.tag.as_str(),
    )
}

/// The new tag (for `digest`: the new digest) for an image whose current tag (digest) is
/// `current`, from registry `candidates`: the best candidate by the spec's strategy, when it
/// differs from `current` and is newer than it and, if a human reverted `reverted`, newer than
/// that too. `None` when there is nothing to do. For `digest`, `current`, `reverted` and the
/// result are digests (`sha256:...`) of the constraint tag.
///
/// `newest-build` compares build times: a current tag missing from `candidates` counts as older
/// than any candidate (as in Image Updater); a reverted tag missing from them blocks updates
/// (its time is unknown). Candidates without a time count as the oldest.
pub fn select(
    spec: &ImageSpec,
    current: Option<&str>,
    candidates: &[TagInfo],
    reverted: Option<&str>,
) -> Result<Option<String>, SelectError> {
    let f = Filters::new(spec);
    let passing: Vec<&TagInfo> = candidates.iter().filter(|c| f.pass(&c.tag)).collect();
    match spec.strategy {
        Strategy::Semver => select_semver(spec, current, &passing, reverted),
        Strategy::Alphabetical => {
            let Some(best) = passing.iter().map(|c| c.tag.as_str()).max() else {
                return Ok(None);
            };
            let newer = current.is_none_or(|c| best > c) && reverted.is_none_or(|r| best > r);
            Ok(newer.then(|| best.to_string()))
        }
        Strategy::NewestBuild => {
            let Some(best) = passing
                .iter()
                .copied()
                .max_by(|a, b| build_key(a).cmp(&build_key(b)))
            else {
                return Ok(None);
            };
            let find = |t: &str| candidates.iter().find(|c| c.tag == t);
            let beats = |other: Option<&str>, missing_ok: bool| match other {
                None => true,
                Some(o) if o == best.tag => false,
                Some(o) => find(o).map_or(missing_ok, |info| build_key(best) > build_key(info)),
            };
            Ok((beats(current, true) && beats(reverted, false)).then(|| best.tag.clone()))
        }
        Strategy::Digest => {
            let tag = spec
                .constraint
                .as_deref()
                .ok_or(SelectError::DigestWithoutConstraint)?;
            let Some(info) = passing.first() else {
                return Ok(None);
            };
            let digest = info
                .digest
                .clone()
                .ok_or_else(|| SelectError::MissingDigest {
                    tag: tag.to_string(),
                })?;
            let changed = current != Some(digest.as_str()) && reverted != Some(digest.as_str());
            Ok(changed.then_some(digest))
        }
    }
}

fn select_semver(
    spec: &ImageSpec,
    current: Option<&str>,
    passing: &[&TagInfo],
    reverted: Option<&str>,
) -> Result<Option<String>, SelectError> {
    if let Some(c) = spec.constraint.as_deref() {
        Constraint::parse(c).map_err(|source| SelectError::Constraint {
            constraint: c.to_string(),
            source,
        })?;
    }
    let cur = current
        .map(|t| {
            Version::parse(t).map_err(|source| SelectError::CurrentNotSemver {
                tag: t.to_string(),
                source,
            })
        })
        .transpose()?;
    let rev = reverted
        .map(|t| {
            Version::parse(t).map_err(|source| SelectError::RevertedNotSemver {
                tag: t.to_string(),
                source,
            })
        })
        .transpose()?;
    let best = passing
        .iter()
        .filter_map(|c| Version::parse(&c.tag).ok().map(|v| (v, c.tag.as_str())))
        .max_by(|a, b| semver_rank((&a.0, a.1), (&b.0, b.1), current));
    let Some((v, tag)) = best else {
        return Ok(None);
    };
    let newer = |o: &Option<Version>| {
        o.as_ref()
            .is_none_or(|o| v.cmp_precedence(o) == Ordering::Greater)
    };
    Ok((newer(&cur) && newer(&rev)).then(|| tag.to_string()))
}

/// Whether tag `a` is newer than tag `b` in the order `select` uses: `semver` by version (both
/// must parse), `alphabetical` by bytes, `digest` when the digests differ. `newest-build`
/// orders by build time, which names alone do not carry: always `false` here (see
/// [`is_newer_info`]).
pub fn is_newer(spec: &ImageSpec, a: &str, b: &str) -> bool {
    match spec.strategy {
        Strategy::Semver => match (Version::parse(a), Version::parse(b)) {
            (Ok(x), Ok(y)) => x.cmp_precedence(&y) == Ordering::Greater,
            _ => false,
        },
        Strategy::Alphabetical => a > b,
        Strategy::Digest => a != b,
        Strategy::NewestBuild => false,
    }
}

/// [`is_newer`] with registry metadata: `newest-build` compares build times (ties by tag name),
/// `digest` compares digests; the others compare tags.
pub fn is_newer_info(spec: &ImageSpec, a: &TagInfo, b: &TagInfo) -> bool {
    match spec.strategy {
        Strategy::NewestBuild => build_key(a) > build_key(b),
        Strategy::Digest => a.digest != b.digest,
        Strategy::Semver | Strategy::Alphabetical => is_newer(spec, &a.tag, &b.tag),
    }
}
