//! Manifests, indexes and image configs as the client reads them; [`Platform`] and [`TagMeta`].

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker manifest list (schema 2).
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image manifest (schema 2).
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// The `Accept` header of manifest requests.
pub(crate) const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.docker.distribution.manifest.v2+json";

/// An image platform: `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Platform {
    /// `linux`, `windows`, …
    pub os: String,
    /// `amd64`, `arm64`, …
    pub arch: String,
    /// `v7`, `v8`, …; `None` matches any variant.
    pub variant: Option<String>,
}

impl Platform {
    /// `os/arch[/variant]`; `None` for anything else.
    pub fn parse(text: &str) -> Option<Platform> {
        let parts: Vec<&str> = text.trim().split('/').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return None;
        }
        match parts.as_slice() {
            [os, arch] => Some(Platform {
                os: os.to_string(),
                arch: arch.to_string(),
                variant: None,
            }),
            [os, arch, variant] => Some(Platform {
                os: os.to_string(),
                arch: arch.to_string(),
                variant: Some(variant.to_string()),
            }),
            _ => None,
        }
    }

    /// Whether an image of `os`/`arch`/`variant` is one of this platform.
    pub fn matches(&self, os: &str, arch: &str, variant: Option<&str>) -> bool {
        self.os == os
            && self.arch == arch
            && self.variant.as_deref().is_none_or(|v| variant == Some(v))
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// What the updater needs of a tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagMeta {
    /// `sha256:…` over the manifest bytes the tag points at (the index's for multi-platform
    /// images).
    pub digest: String,
    /// The newest `created` among the images of the asked platforms; `None` when no image
    /// matches them or none has a `created`.
    pub created: Option<DateTime<Utc>>,
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// A descriptor (config, layer or index entry).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Descriptor {
    pub(crate) digest: String,
    #[serde(default)]
    pub(crate) platform: Option<RawPlatform>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RawPlatform {
    #[serde(default)]
    pub(crate) os: String,
    #[serde(default)]
    pub(crate) architecture: String,
    #[serde(default)]
    pub(crate) variant: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawManifest {
    #[serde(default, rename = "schemaVersion")]
    schema_version: Option<u64>,
    #[serde(default, rename = "mediaType")]
    media_type: Option<String>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
}

/// A parsed manifest: an index of per-platform manifests, or one image.
#[derive(Debug, Clone)]
pub(crate) enum Parsed {
    Index(Vec<Descriptor>),
    Image { config: Descriptor },
}

/// Parses manifest bytes; `content_type` is the response's (parameters ignored).
pub(crate) fn parse_manifest(content_type: Option<&str>, body: &[u8]) -> Result<Parsed, String> {
    let raw: RawManifest =
        serde_json::from_slice(body).map_err(|e| format!("manifest is not valid JSON: {e}"))?;
    if raw.schema_version == Some(1) {
        return Err("schema 1 manifests are not supported".into());
    }
    let header = content_type
        .map(|c| c.split(';').next().unwrap_or("").trim().to_string())
        .filter(|c| c.starts_with("application/vnd."));
    let kind = header.or(raw.media_type.clone());
    let is_index = match kind.as_deref() {
        Some(OCI_INDEX | DOCKER_LIST) => true,
        Some(OCI_MANIFEST | DOCKER_MANIFEST) => false,
        Some(other) => return Err(format!("unsupported manifest media type {other:?}")),
        None => raw.manifests.is_some(),
    };
    if is_index {
        return Ok(Parsed::Index(raw.manifests.unwrap_or_default()));
    }
    match raw.config {
        Some(config) => Ok(Parsed::Image { config }),
        None => Err("image manifest without a config".into()),
    }
}

/// The fields of an image config the updater reads.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ImageConfig {
    #[serde(default)]
    pub(crate) created: Option<String>,
    #[serde(default)]
    pub(crate) os: Option<String>,
    #[serde(default)]
    pub(crate) architecture: Option<String>,
    #[serde(default)]
    pub(crate) variant: Option<String>,
}

impl ImageConfig {
    pub(crate) fn created(&self) -> Option<DateTime<Utc>> {
        self.created
            .as_deref()
            .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
            .map(|d| d.with_timezone(&Utc))
    }

    /// Whether this image is of one of `platforms` (all when empty).
    pub(crate) fn of(&self, platforms: &[Platform]) -> bool {
        platforms.is_empty()
            || platforms.iter().any(|p| {
                p.matches(
                    self.os.as_deref().unwrap_or(""),
                    self.architecture.as_deref().unwrap_or(""),
                    self.variant.as_deref(),
                )
            })
    }
}

/// The index entries of `platforms` (all real ones when empty; `unknown/unknown` attestation
/// entries never match).
pub(crate) fn select<'a>(entries: &'a [Descriptor], platforms: &[Platform]) -> Vec<&'a Descriptor> {
    entries
        .iter()
        .filter(|d| {
            let Some(p) = &d.platform else {
                return platforms.is_empty();
            };
            if p.os == "unknown" || p.architecture == "unknown" {
                return false;
            }
            platforms.is_empty()
                || platforms
                    .iter()
                    .any(|want| want.matches(&p.os, &p.architecture, p.variant.as_deref()))
        })
        .collect()
}

/// Whether `d` looks like `sha256:<64 hex>` (or another algorithm's digest).
pub(crate) fn valid_digest(d: &str) -> bool {
    match d.split_once(':') {
        Some(("sha256", hex)) => hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        Some((alg, hex)) => {
            !alg.is_empty()
                && alg
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b))
                && hex.len() >= 32
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"=_-".contains(&b))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms() {
        let p = Platform::parse("linux/arm64/v8").unwrap();
        assert_eq!(p.to_string(), "linux/arm64/v8");
        assert!(p.matches("linux", "arm64", Some("v8")));
        assert!(!p.matches("linux", "arm64", None));
        let any = Platform::parse("linux/arm").unwrap();
        assert!(any.matches("linux", "arm", Some("v7")));
        assert!(Platform::parse("linux").is_none());
        assert!(Platform::parse("linux//v7").is_none());
    }

    #[test]
    fn manifests_by_media_type() {
        let index = br#"{"schemaVersion":2,"manifests":[
            {"digest":"sha256:a","platform":{"os":"linux","architecture":"amd64"}},
            {"digest":"sha256:b","platform":{"os":"linux","architecture":"arm","variant":"v7"}},
            {"digest":"sha256:c","platform":{"os":"unknown","architecture":"unknown"}}]}"#;
        let Parsed::Index(entries) = parse_manifest(Some(DOCKER_LIST), index).unwrap() else {
            panic!("an index")
        };
        let all: Vec<_> = select(&entries, &[])
            .iter()
            .map(|d| d.digest.clone())
            .collect();
        assert_eq!(all, ["sha256:a", "sha256:b"]);
        let arm = [Platform::parse("linux/arm/v7").unwrap()];
        assert_eq!(select(&entries, &arm)[0].digest, "sha256:b");
        assert!(select(&entries, &[Platform::parse("windows/amd64").unwrap()]).is_empty());
        let image =
            br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
            "config":{"digest":"sha256:c"}}"#;
        assert!(matches!(
            parse_manifest(Some("application/json"), image).unwrap(),
            Parsed::Image { .. }
        ));
        assert!(parse_manifest(None, br#"{"schemaVersion":1}"#).is_err());
        assert!(parse_manifest(Some("application/vnd.foo+json"), b"{}").is_err());
        assert!(parse_manifest(None, b"nope").is_err());
    }

    #[test]
    fn configs() {
        let c: ImageConfig = serde_json::from_str(
            r#"{"created":"2024-05-01T10:00:00.123456789Z","os":"linux","architecture":"amd64"}"#,
        )
        .unwrap();
        assert_eq!(
            c.created().unwrap().to_rfc3339(),
            "2024-05-01T10:00:00.123456789+00:00"
        );
        assert!(c.of(&[]));
        assert!(c.of(&[Platform::parse("linux/amd64").unwrap()]));
        assert!(!c.of(&[Platform::parse("linux/arm64").unwrap()]));
    }

    #[test]
    fn digests() {
        assert!(valid_digest(&sha256_digest(b"x")));
        assert!(!valid_digest("sha256:abc"));
        assert!(!valid_digest("latest"));
    }
}
