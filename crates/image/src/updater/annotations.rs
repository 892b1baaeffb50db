//! Image Updater's Application annotations (v0.18.0, Kustomize and directory applications).
//!
//! Unlike Image Updater, which falls back silently (an unknown strategy becomes `semver`, a bad
//! `allow-tags` matches nothing, an unknown key is ignored), fjord refuses bad input: every
//! error names the annotation key and its value.

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;

use super::credentials::{parse_pull_secret, CredentialError};
use super::glob::{Glob, GlobError};
use super::semver::{Constraint, SemverError};
use super::types::{
    AppUpdateSpec, HelmParams, ImageSpec, Strategy, WriteBack, WriteTarget, ANNOTATION_PREFIX,
};
use super::writeback::{
    parse_branch, parse_method, parse_repository, parse_target, WriteBackError,
};
use crate::reference::{ImageRef, ReferenceError};

/// Application-wide keys (after the prefix).
const APP_KEYS: [&str; 10] = [
    "image-list",
    "update-strategy",
    "allow-tags",
    "ignore-tags",
    "force-update",
    "pull-secret",
    "write-back-method",
    "write-back-target",
    "git-branch",
    "git-repository",
];

/// Per-image keys (`<alias>.<option>` after the prefix).
const ALIAS_OPTIONS: [&str; 11] = [
    "update-strategy",
    "allow-tags",
    "tag-match",
    "ignore-tags",
    "force-update",
    "pull-secret",
    "platforms",
    "kustomize.image-name",
    "helm.image-name",
    "helm.image-tag",
    "helm.image-spec",
];

/// An annotation fjord refuses. Every variant names the full annotation key.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AnnotationError {
    /// An `image-list` entry that is not `[alias=]image[:constraint]`.
    #[error("annotation {key}: image-list entry {entry:?} {problem}")]
    ImageListEntry {
        /// The annotation key.
        key: String,
        /// The entry.
        entry: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// An `image-list` entry whose image is not a valid reference.
    #[error("annotation {key}: image-list entry {entry:?} is not a valid image reference")]
    ImageReference {
        /// The annotation key.
        key: String,
        /// The entry.
        entry: String,
        /// Why.
        #[source]
        source: ReferenceError,
    },
    /// A constraint that is not a semver range (strategy `semver`).
    #[error("annotation {key}: image-list entry {entry:?} has a constraint that is not a semantic version range")]
    Constraint {
        /// The annotation key.
        key: String,
        /// The entry.
        entry: String,
        /// Why.
        #[source]
        source: SemverError,
    },
    /// An unknown `update-strategy`.
    #[error("annotation {key}: unknown update strategy {value:?} (known: semver, newest-build, latest, alphabetical, name, digest)")]
    UnknownStrategy {
        /// The annotation key.
        key: String,
        /// The value.
        value: String,
    },
    /// `allow-tags` (or `tag-match`) that is not `regexp:<re>` or `any`.
    #[error("annotation {key}: {value:?} is not regexp:<expression> or any")]
    AllowTags {
        /// The annotation key.
        key: String,
        /// The value.
        value: String,
    },
    /// An `allow-tags` regexp that does not compile.
    #[error("annotation {key}: tag regexp {value:?} does not compile")]
    AllowTagsRegex {
        /// The annotation key.
        key: String,
        /// The value.
        value: String,
        /// Why.
        #[source]
        source: regex::Error,
    },
    /// A malformed `ignore-tags` pattern.
    #[error("annotation {key}: {value:?} has a malformed pattern")]
    IgnoreTags {
        /// The annotation key.
        key: String,
        /// The value.
        value: String,
        /// Why.
        #[source]
        source: GlobError,
    },
    /// A platform that is not `os/arch[/variant]`.
    #[error("annotation {key}: platform {value:?} is not os/arch[/variant]")]
    Platform {
        /// The annotation key.
        key: String,
        /// The offending platform.
        value: String,
    },
    /// A malformed credential reference.
    #[error("annotation {key}: {value:?} is not a credential reference")]
    PullSecret {
        /// The annotation key.
        key: String,
        /// The value.
        value: String,
        /// Why.
        #[source]
        source: CredentialError,
    },
    /// A boolean that is neither `true` nor `false`.
    #[error("annotation {key}: {value:?} is neither true nor false")]
    Bool {
        /// The annotation key.
        key: String,
        /// The value.
        value: String,
    },
    /// A `kustomize.image-name` that is not an image name.
    #[error("annotation {key}: {value:?} is not an image name")]
    ImageName {
        /// The annotation key.
        key: String,
        /// The value.
        value: String,
        /// Why.
        #[source]
        source: Option<ReferenceError>,
    },
    /// A Helm parameter name with characters a parameter path cannot have.
    #[error("annotation {key}: {value:?} is not a Helm parameter name")]
    HelmParam {
        /// The annotation key.
        key: String,
        /// The value.
        value: String,
    },
    /// A bad write-back annotation.
    #[error("annotation {key}: {value:?} is refused")]
    WriteBack {
        /// The annotation key.
        key: String,
        /// The value.
        value: String,
        /// Why.
        #[source]
        source: WriteBackError,
    },
    /// A Git write-back setting on an app whose write-back method is `argocd` (Image Updater
    /// ignores it; fjord refuses it rather than silently doing something else).
    #[error(
        "annotation {key} applies to write-back-method git only (this app writes back with argocd)"
    )]
    GitOnly {
        /// The annotation key.
        key: String,
    },
    /// A key under the prefix that Image Updater does not define.
    #[error("annotation {key} is not an Image Updater annotation (known: {known})")]
    UnknownAnnotation {
        /// The annotation key.
        key: String,
        /// The known keys.
        known: String,
    },
    /// A per-image key whose alias is not in `image-list`.
    #[error("annotation {key}: alias {alias:?} is not in image-list (aliases: {aliases})")]
    UnknownAlias {
        /// The annotation key.
        key: String,
        /// The alias as written in the key.
        alias: String,
        /// The aliases of `image-list`, as keys spell them.
        aliases: String,
    },
    /// A malformed `alias=tag` list in fjord's own annotations.
    #[error("annotation {key}: {value:?} is not a list of alias=tag")]
    AliasTags {
        /// The annotation key.
        key: String,
        /// The value.
        value: String,
    },
}

/// One parsed `image-list` entry.
struct Entry {
    text: String,
    alias: String,
    image: ImageRef,
    constraint: Option<String>,
}

fn key(suffix: &str) -> String {
    format!("{ANNOTATION_PREFIX}{suffix}")
}

/// The key an alias's option has (`/` in an alias is written `_`).
fn alias_key(alias: &str, option: &str) -> String {
    key(&format!("{}.{option}", alias.replace('/', "_")))
}

fn is_alias(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'))
}

/// Parses the Image Updater annotations of an Application. `Ok(None)` when there is no
/// `image-list`.
pub fn parse_annotations(
    annotations: &BTreeMap<String, String>,
) -> Result<Option<AppUpdateSpec>, AnnotationError> {
    let list_key = key("image-list");
    let Some(list) = annotations.get(&list_key) else {
        return Ok(None);
    };
    let entries = parse_image_list(&list_key, list)?;
    check_keys(annotations, &entries)?;
    let images = entries
        .into_iter()
        .map(|e| image_spec(annotations, &list_key, e))
        .collect::<Result<_, _>>()?;
    Ok(Some(AppUpdateSpec {
        images,
        write_back: write_back(annotations)?,
    }))
}

fn parse_image_list(list_key: &str, list: &str) -> Result<Vec<Entry>, AnnotationError> {
    let mut out: Vec<Entry> = Vec::new();
    for text in list.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let bad = |problem| AnnotationError::ImageListEntry {
            key: list_key.into(),
            entry: text.into(),
            problem,
        };
        let (alias, image_text) = match text.split_once('=') {
            Some((a, rest)) if is_alias(a) => (a, rest),
            Some(("", _)) => return Err(bad("has an empty alias")),
            _ => ("", text),
        };
        let (name_part, digest) = match image_text.split_once('@') {
            Some((n, d)) => (n, Some(d)),
            None => (image_text, None),
        };
        let after_slash = name_part.rfind('/').map_or(0, |i| i + 1);
        let (name, constraint) = match name_part[after_slash..].find(':') {
            Some(i) => (
                &name_part[..after_slash + i],
                Some(name_part[after_slash + i + 1..].trim()),
            ),
            None => (name_part, None),
        };
        if constraint == Some("") {
            return Err(bad("has an empty constraint after ':'"));
        }
        let reference = match digest {
            Some(d) => format!("{name}@{d}"),
            None => name.to_string(),
        };
        let image =
            ImageRef::parse(&reference).map_err(|source| AnnotationError::ImageReference {
                key: list_key.into(),
                entry: text.into(),
                source,
            })?;
        let norm = alias.replace('/', "_");
        if !alias.is_empty() && out.iter().any(|e| e.alias.replace('/', "_") == norm) {
            return Err(bad("repeats an alias"));
        }
        out.push(Entry {
            text: text.into(),
            alias: alias.into(),
            image,
            constraint: constraint.map(Into::into),
        });
    }
    if out.is_empty() {
        return Err(AnnotationError::ImageListEntry {
            key: list_key.into(),
            entry: list.into(),
            problem: "lists no image",
        });
    }
    Ok(out)
}

/// Refuses keys under the prefix that are neither app-wide keys nor options of a listed alias.
fn check_keys(
    annotations: &BTreeMap<String, String>,
    entries: &[Entry],
) -> Result<(), AnnotationError> {
    let aliases: BTreeSet<String> = entries.iter().map(|e| e.alias.replace('/', "_")).collect();
    for k in annotations.keys() {
        let Some(rest) = k.strip_prefix(ANNOTATION_PREFIX) else {
            continue;
        };
        if APP_KEYS.contains(&rest) {
            continue;
        }
        let alias = ALIAS_OPTIONS
            .iter()
            .find_map(|opt| rest.strip_suffix(opt).and_then(|a| a.strip_suffix('.')));
        match alias {
            Some(a) if aliases.contains(a) => {}
            Some(a) => {
                return Err(AnnotationError::UnknownAlias {
                    key: k.clone(),
                    alias: a.into(),
                    aliases: aliases
                        .iter()
                        .map(|a| format!("{a:?}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                })
            }
            None => {
                let known: Vec<String> = APP_KEYS
                    .iter()
                    .map(|s| (*s).to_string())
                    .chain(ALIAS_OPTIONS.iter().map(|o| format!("<alias>.{o}")))
                    .collect();
                return Err(AnnotationError::UnknownAnnotation {
                    key: k.clone(),
                    known: known.join(", "),
                });
            }
        }
    }
    Ok(())
}

/// The per-alias value of `option`, else (when `app_wide`) the app-wide one, with its key.
fn option<'a>(
    annotations: &'a BTreeMap<String, String>,
    alias: &str,
    option: &str,
    app_wide: bool,
) -> Option<(String, &'a str)> {
    let per_alias = alias_key(alias, option);
    if let Some(v) = annotations.get(&per_alias) {
        return Some((per_alias, v));
    }
    let global = key(option);
    annotations
        .get(&global)
        .filter(|_| app_wide)
        .map(|v| (global, v.as_str()))
}

fn image_spec(
    annotations: &BTreeMap<String, String>,
    list_key: &str,
    e: Entry,
) -> Result<ImageSpec, AnnotationError> {
    let alias = e.alias.as_str();
    let strategy = match option(annotations, alias, "update-strategy", true) {
        None => Strategy::Semver,
        Some((k, v)) => parse_strategy(&k, v)?,
    };
    check_constraint(list_key, &e, strategy)?;
    let allow_tags = allow_tags(annotations, alias)?;
    let ignore_tags = match option(annotations, alias, "ignore-tags", true) {
        None => Vec::new(),
        Some((k, v)) => ignore_tags(&k, v)?,
    };
    let platforms = match option(annotations, alias, "platforms", false) {
        None => Vec::new(),
        Some((k, v)) => platforms(&k, v)?,
    };
    let pull_secret = match option(annotations, alias, "pull-secret", true) {
        None => None,
        Some((k, v)) => {
            Some(
                parse_pull_secret(v.trim()).map_err(|source| AnnotationError::PullSecret {
                    key: k,
                    value: v.into(),
                    source,
                })?,
            )
        }
    };
    let force_update = match option(annotations, alias, "force-update", true) {
        None => false,
        Some((_, "true")) => true,
        Some((_, "false")) => false,
        Some((k, v)) => {
            return Err(AnnotationError::Bool {
                key: k,
                value: v.into(),
            })
        }
    };
    let kustomize_image_name = match option(annotations, alias, "kustomize.image-name", false) {
        None => None,
        Some((k, v)) => Some(image_name(&k, v)?),
    };
    let helm = HelmParams {
        image_name: helm_param(annotations, alias, "helm.image-name")?,
        image_tag: helm_param(annotations, alias, "helm.image-tag")?,
        image_spec: helm_param(annotations, alias, "helm.image-spec")?,
    };
    Ok(ImageSpec {
        alias: e.alias,
        image: e.image,
        constraint: e.constraint,
        strategy,
        allow_tags,
        ignore_tags,
        platforms,
        pull_secret,
        force_update,
        kustomize_image_name,
        helm,
    })
}

fn parse_strategy(key: &str, value: &str) -> Result<Strategy, AnnotationError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "semver" => Ok(Strategy::Semver),
        "newest-build" | "latest" => Ok(Strategy::NewestBuild),
        "alphabetical" | "name" => Ok(Strategy::Alphabetical),
        "digest" => Ok(Strategy::Digest),
        _ => Err(AnnotationError::UnknownStrategy {
            key: key.into(),
            value: value.into(),
        }),
    }
}

/// A tag as Docker allows it.
pub(crate) fn is_tag(s: &str) -> bool {
    let mut b = s.bytes();
    s.len() <= 128
        && b.next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

fn check_constraint(list_key: &str, e: &Entry, strategy: Strategy) -> Result<(), AnnotationError> {
    let bad = |problem| AnnotationError::ImageListEntry {
        key: list_key.into(),
        entry: e.text.clone(),
        problem,
    };
    match (strategy, e.constraint.as_deref()) {
        (Strategy::Semver, Some(c)) => {
            Constraint::parse(c)
                .map(|_| ())
                .map_err(|source| AnnotationError::Constraint {
                    key: list_key.into(),
                    entry: e.text.clone(),
                    source,
                })
        }
        (Strategy::Digest, None) => Err(bad("needs a tag after ':' for the digest strategy")),
        (Strategy::Digest, Some(c)) if !is_tag(c) => {
            Err(bad("has a constraint that is not a tag (digest strategy)"))
        }
        _ => Ok(()),
    }
}

/// `allow-tags` (per alias, then app-wide), then the legacy per-alias `tag-match`.
fn allow_tags(
    annotations: &BTreeMap<String, String>,
    alias: &str,
) -> Result<Option<Regex>, AnnotationError> {
    let found = option(annotations, alias, "allow-tags", true)
        .filter(|(_, v)| !v.trim().is_empty())
        .or_else(|| {
            option(annotations, alias, "tag-match", false).filter(|(_, v)| !v.trim().is_empty())
        });
    let Some((k, v)) = found else { return Ok(None) };
    if v.trim().eq_ignore_ascii_case("any") {
        return Ok(None);
    }
    match v.split_once(':') {
        Some((f, re)) if f.trim().eq_ignore_ascii_case("regexp") => Regex::new(re)
            .map(Some)
            .map_err(|source| AnnotationError::AllowTagsRegex {
                key: k,
                value: v.into(),
                source,
            }),
        _ => Err(AnnotationError::AllowTags {
            key: k,
            value: v.into(),
        }),
    }
}

fn ignore_tags(key: &str, value: &str) -> Result<Vec<String>, AnnotationError> {
    let mut out = Vec::new();
    for p in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        Glob::new(p).map_err(|source| AnnotationError::IgnoreTags {
            key: key.into(),
            value: value.into(),
            source,
        })?;
        out.push(p.to_string());
    }
    Ok(out)
}

fn platforms(key: &str, value: &str) -> Result<Vec<String>, AnnotationError> {
    let mut out = Vec::new();
    for p in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let parts: Vec<&str> = p.split('/').collect();
        let ok = (2..=3).contains(&parts.len())
            && parts.iter().all(|s| {
                !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
            });
        if !ok {
            return Err(AnnotationError::Platform {
                key: key.into(),
                value: p.into(),
            });
        }
        out.push(p.to_string());
    }
    Ok(out)
}

fn image_name(key: &str, value: &str) -> Result<String, AnnotationError> {
    let v = value.trim();
    let bad = |source| AnnotationError::ImageName {
        key: key.into(),
        value: value.into(),
        source,
    };
    let r = ImageRef::parse(v).map_err(|e| bad(Some(e)))?;
    if r.tag.is_some() || r.digest.is_some() {
        return Err(bad(None));
    }
    Ok(v.to_string())
}

fn helm_param(
    annotations: &BTreeMap<String, String>,
    alias: &str,
    opt: &str,
) -> Result<Option<String>, AnnotationError> {
    let Some((k, v)) = option(annotations, alias, opt, false) else {
        return Ok(None);
    };
    let t = v.trim();
    let ok = !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'[' | b']'));
    if !ok {
        return Err(AnnotationError::HelmParam {
            key: k,
            value: v.into(),
        });
    }
    Ok(Some(t.to_string()))
}

fn write_back(annotations: &BTreeMap<String, String>) -> Result<WriteBack, AnnotationError> {
    let wrap = |k: &str, v: &str| {
        let (k, v) = (k.to_string(), v.to_string());
        move |source| AnnotationError::WriteBack {
            key: k,
            value: v,
            source,
        }
    };
    let get = |suffix: &str| {
        let k = key(suffix);
        annotations.get(&k).map(|v| (k, v.as_str()))
    };
    let creds = match get("write-back-method") {
        None => None,
        Some((k, v)) => parse_method(v).map_err(wrap(&k, v))?,
    };
    let target = match get("write-back-target") {
        None => WriteTarget::ArgocdSource,
        Some((k, v)) => parse_target(v).map_err(wrap(&k, v))?,
    };
    let branch = match get("git-branch") {
        None => None,
        Some((k, v)) => parse_branch(v).map_err(wrap(&k, v))?,
    };
    let repository = match get("git-repository") {
        None => None,
        Some((k, v)) => Some(parse_repository(v).map_err(wrap(&k, v))?),
    };
    if creds.is_none() {
        for suffix in ["write-back-target", "git-branch", "git-repository"] {
            if let Some((k, _)) = get(suffix) {
                return Err(AnnotationError::GitOnly { key: k });
            }
        }
    }
    Ok(match creds {
        None => WriteBack::Argocd,
        Some(creds) => WriteBack::Git {
            creds,
            branch,
            target,
            repository,
        },
    })
}

/// Parses fjord's own `alias=tag[,alias=tag]` annotations ([`super::REVERTED_ANNOTATION`],
/// [`super::WRITTEN_ANNOTATION`]); `key` is the annotation's key, for errors.
pub fn parse_alias_tags(
    key: &str,
    value: &str,
) -> Result<BTreeMap<String, String>, AnnotationError> {
    let mut out = BTreeMap::new();
    for item in value.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        match item.split_once('=') {
            Some((a, t)) if !a.trim().is_empty() && !t.trim().is_empty() => {
                out.insert(a.trim().to_string(), t.trim().to_string());
            }
            _ => {
                return Err(AnnotationError::AliasTags {
                    key: key.into(),
                    value: value.into(),
                })
            }
        }
    }
    Ok(out)
}

/// Writes the value [`parse_alias_tags`] reads.
pub fn format_alias_tags(tags: &BTreeMap<String, String>) -> String {
    tags.iter()
        .map(|(a, t)| format!("{a}={t}"))
        .collect::<Vec<_>>()
        .join(",")
}
