//! Container image references as Docker parses them: `[registry[:port]/]path[:tag][@algo:hex]`.
//!
//! [`ImageRef`] keeps the reference as written: an implied `docker.io` registry stays `None`
//! and an implied `library/` is not added. That is also Argo CD Image Updater's short form of
//! an image. The normalisation helpers ([`ImageRef::registry_host`],
//! [`ImageRef::full_repository`], [`ImageRef::canonical_name`], [`ImageRef::familiar_name`])
//! give the registry-facing and the shortest spellings.
//!
//! Grammar (the distribution project's reference grammar):
//! - the first `/`-separated component is the registry when the name has more than one
//!   component and the first contains `.` or `:`, is `localhost`, or has an upper-case letter;
//!   a registry is `host[:port]`, the host being DNS labels or a bracketed IPv6 address;
//! - path components are lower-case letters and digits, separated inside a component by one
//!   `.`, one `_`, `__` or any number of `-`;
//! - the whole name is at most 255 characters;
//! - a tag matches `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`;
//! - a digest is `algorithm:hex`; `sha256`, `sha384` and `sha512` need exactly 64, 96 or 128
//!   lower-case hex digits, other algorithms (`[a-z][a-z0-9]*` parts joined by `+._-`) need at
//!   least 32 hex digits.

use std::fmt;
use std::str::FromStr;

/// Docker Hub's registry host, the registry of a reference that names none.
pub const DOCKER_HUB: &str = "docker.io";

/// Host names that mean Docker Hub.
const DOCKER_HUB_ALIASES: [&str; 3] = [DOCKER_HUB, "index.docker.io", "registry-1.docker.io"];

/// Longest name (registry and path, without tag or digest) Docker accepts.
const MAX_NAME_LEN: usize = 255;

/// Longest tag.
const MAX_TAG_LEN: usize = 128;

/// Why a text is not an image reference. Every variant names the reference text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// The text is empty (or only white space).
    #[error("invalid image reference {reference:?}: it is empty")]
    Empty {
        /// The reference text.
        reference: String,
    },
    /// The registry part is not `host[:port]`.
    #[error("invalid image reference {reference:?}: registry {registry:?} is not host[:port]")]
    Registry {
        /// The reference text.
        reference: String,
        /// The registry part.
        registry: String,
    },
    /// A path component breaks the component grammar.
    #[error("invalid image reference {reference:?}: path component {component:?} {problem}")]
    Path {
        /// The reference text.
        reference: String,
        /// The offending component (empty for `a//b` or a trailing `/`).
        component: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The name is longer than 255 characters.
    #[error("invalid image reference {reference:?}: the name is {len} characters long, at most 255 are allowed")]
    NameTooLong {
        /// The reference text.
        reference: String,
        /// Length of the name.
        len: usize,
    },
    /// The tag breaks the tag grammar.
    #[error("invalid image reference {reference:?}: tag {tag:?} {problem}")]
    Tag {
        /// The reference text.
        reference: String,
        /// The tag text.
        tag: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The digest breaks the digest grammar.
    #[error("invalid image reference {reference:?}: digest {digest:?} {problem}")]
    Digest {
        /// The reference text.
        reference: String,
        /// The digest text.
        digest: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// A container image reference as Docker parses it, kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    /// The registry (`host[:port]`) when the reference names one; `None` means Docker Hub.
    pub registry: Option<String>,
    /// The path inside the registry as written (`nginx`, `library/nginx`, `org/app`).
    pub repository: String,
    /// The tag, without `:`.
    pub tag: Option<String>,
    /// The digest, `algorithm:hex`, without `@`.
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parses and validates `name[:tag][@digest]`.
    pub fn parse(s: &str) -> Result<ImageRef, ReferenceError> {
        if s.trim().is_empty() {
            return Err(ReferenceError::Empty {
                reference: s.to_string(),
            });
        }
        let (rest, digest) = match s.split_once('@') {
            Some((rest, digest)) => {
                validate_digest(s, digest)?;
                (rest, Some(digest.to_string()))
            }
            None => (s, None),
        };
        let last_slash = rest.rfind('/');
        let (name, tag) = match rest.rfind(':') {
            Some(c) if last_slash.is_none_or(|sl| c > sl) => {
                let tag = &rest[c + 1..];
                validate_tag(s, tag)?;
                (&rest[..c], Some(tag.to_string()))
            }
            _ => (rest, None),
        };
        let (registry, repository) = split_registry(name);
        if let Some(registry) = registry {
            if !is_valid_registry(registry) {
                return Err(ReferenceError::Registry {
                    reference: s.to_string(),
                    registry: registry.to_string(),
                });
            }
        }
        for component in repository.split('/') {
            if let Some(problem) = component_problem(component) {
                return Err(ReferenceError::Path {
                    reference: s.to_string(),
                    component: component.to_string(),
                    problem,
                });
            }
        }
        if name.len() > MAX_NAME_LEN {
            return Err(ReferenceError::NameTooLong {
                reference: s.to_string(),
                len: name.len(),
            });
        }
        Ok(ImageRef {
            registry: registry.map(str::to_string),
            repository: repository.to_string(),
            tag,
            digest,
        })
    }

    /// The registry host: the one written, or `docker.io` when none is (the Docker Hub
    /// aliases `index.docker.io` and `registry-1.docker.io` also give `docker.io`).
    pub fn registry_host(&self) -> &str {
        match self.registry.as_deref() {
            None => DOCKER_HUB,
            Some(r) if DOCKER_HUB_ALIASES.contains(&r) => DOCKER_HUB,
            Some(r) => r,
        }
    }

    /// Whether the image lives on Docker Hub.
    pub fn is_docker_hub(&self) -> bool {
        self.registry_host() == DOCKER_HUB
    }

    /// The repository as the registry knows it: `library/nginx` for a one-component name on
    /// Docker Hub, the path as written otherwise.
    pub fn full_repository(&self) -> String {
        if self.is_docker_hub() && !self.repository.contains('/') {
            format!("library/{}", self.repository)
        } else {
            self.repository.clone()
        }
    }

    /// Registry and repository as written, without tag or digest (`nginx`,
    /// `ghcr.io/org/app`).
    pub fn name(&self) -> String {
        match &self.registry {
            Some(r) => format!("{r}/{}", self.repository),
            None => self.repository.clone(),
        }
    }

    /// The fully qualified name: `docker.io/library/nginx` for `nginx`.
    pub fn canonical_name(&self) -> String {
        format!("{}/{}", self.registry_host(), self.full_repository())
    }

    /// The shortest name meaning the same image, as `docker` prints it: Docker Hub's
    /// registry and a `library/` in front of a single component are dropped
    /// (`docker.io/library/nginx` gives `nginx`, `docker.io/org/app` gives `org/app`).
    pub fn familiar_name(&self) -> String {
        if !self.is_docker_hub() {
            return self.name();
        }
        match self.repository.strip_prefix("library/") {
            Some(rest) if !rest.contains('/') => rest.to_string(),
            _ => self.repository.clone(),
        }
    }

    /// Whether `self` and `other` name the same repository once normalised
    /// (`nginx` and `docker.io/library/nginx` do); tags and digests are ignored.
    pub fn same_repository(&self, other: &ImageRef) -> bool {
        self.canonical_name() == other.canonical_name()
    }

    /// The same image with tag `tag` and no digest (a digest pinned the old tag's content).
    pub fn with_tag(&self, tag: &str) -> ImageRef {
        ImageRef {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        }
    }

    /// The same image and tag with digest `d` (`sha256:...`).
    pub fn with_digest(&self, d: &str) -> ImageRef {
        ImageRef {
            digest: Some(d.to_string()),
            ..self.clone()
        }
    }
}

impl fmt::Display for ImageRef {
    /// `[registry/]repository[:tag][@digest]`, as written.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(r) = &self.registry {
            write!(f, "{r}/")?;
        }
        f.write_str(&self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl FromStr for ImageRef {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<ImageRef, ReferenceError> {
        ImageRef::parse(s)
    }
}

/// Splits `name` into its registry (if the first component is one) and path.
fn split_registry(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (Some(first), rest)
        }
        _ => (None, name),
    }
}

/// `host[:port]` with a DNS-label host or a bracketed IPv6 address.
fn is_valid_registry(registry: &str) -> bool {
    let (host, port) = if let Some(inner) = registry.strip_prefix('[') {
        let Some((addr, after)) = inner.split_once(']') else {
            return false;
        };
        if addr.is_empty() || !addr.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
            return false;
        }
        match after {
            "" => return true,
            p => match p.strip_prefix(':') {
                Some(port) => ("", Some(port)),
                None => return false,
            },
        }
    } else {
        match registry.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (registry, None),
        }
    };
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    host.is_empty() && registry.starts_with('[') || is_valid_host(host)
}

/// Dot-separated labels of letters, digits and inner `-`.
fn is_valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// What is wrong with a path component, if anything.
fn component_problem(component: &str) -> Option<&'static str> {
    if component.is_empty() {
        return Some("is empty");
    }
    if component.bytes().any(|b| b.is_ascii_uppercase()) {
        return Some("must be lower-case");
    }
    if !component
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Some("may hold only a-z, 0-9, '.', '_' and '-'");
    }
    let bytes = component.as_bytes();
    let is_sep = |b: &u8| matches!(b, b'.' | b'_' | b'-');
    if bytes.first().is_some_and(is_sep) || bytes.last().is_some_and(is_sep) {
        return Some("must start and end with a letter or digit");
    }
    let mut runs = component.split(|c: char| c.is_ascii_alphanumeric());
    if runs.any(|run| {
        !(run.is_empty()
            || run == "."
            || run == "_"
            || run == "__"
            || run.bytes().all(|b| b == b'-'))
    }) {
        return Some("may separate letters and digits only by '.', '_', '__' or dashes");
    }
    None
}

fn validate_tag(reference: &str, tag: &str) -> Result<(), ReferenceError> {
    let err = |problem| {
        Err(ReferenceError::Tag {
            reference: reference.to_string(),
            tag: tag.to_string(),
            problem,
        })
    };
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    match tag.as_bytes().first() {
        None => return err("is empty"),
        Some(&b) if !word(b) => return err("must start with a letter, digit or '_'"),
        _ => {}
    }
    if tag.len() > MAX_TAG_LEN {
        return err("is longer than 128 characters");
    }
    if !tag.bytes().all(|b| word(b) || b == b'.' || b == b'-') {
        return err("may hold only letters, digits, '_', '.' and '-'");
    }
    Ok(())
}

fn validate_digest(reference: &str, digest: &str) -> Result<(), ReferenceError> {
    let err = |problem: String| {
        Err(ReferenceError::Digest {
            reference: reference.to_string(),
            digest: digest.to_string(),
            problem,
        })
    };
    let Some((algo, hex)) = digest.split_once(':') else {
        return err("must be algorithm:hex".to_string());
    };
    let algo_ok = !algo.is_empty()
        && algo.split(['+', '.', '_', '-']).all(|part| {
            part.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
                && part.bytes().all(|b| b.is_ascii_alphanumeric())
        });
    if !algo_ok {
        return err(format!("has an invalid algorithm {algo:?}"));
    }
    let known = match algo {
        "sha256" => Some(64),
        "sha384" => Some(96),
        "sha512" => Some(128),
        _ => None,
    };
    match known {
        Some(len) => {
            if hex.len() != len
                || !hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                return err(format!(
                    "must have exactly {len} lower-case hex digits after {algo}:"
                ));
            }
        }
        None => {
            if hex.len() < 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return err("must have at least 32 hex digits after the algorithm".to_string());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn parts(s: &str) -> (Option<String>, String, Option<String>, Option<String>) {
        let r = ImageRef::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        (r.registry, r.repository, r.tag, r.digest)
    }

    fn some(s: &str) -> Option<String> {
        Some(s.to_string())
    }

    #[test]
    fn splits_registry_path_tag_digest() {
        assert_eq!(parts("nginx"), (None, "nginx".into(), None, None));
        assert_eq!(
            parts("nginx:1.25"),
            (None, "nginx".into(), some("1.25"), None)
        );
        assert_eq!(
            parts("org/app:v1"),
            (None, "org/app".into(), some("v1"), None)
        );
        assert_eq!(
            parts("localhost:5000/a/b:t"),
            (some("localhost:5000"), "a/b".into(), some("t"), None)
        );
        assert_eq!(
            parts("localhost/x"),
            (some("localhost"), "x".into(), None, None)
        );
        assert_eq!(
            parts("ghcr.io/o/r"),
            (some("ghcr.io"), "o/r".into(), None, None)
        );
        assert_eq!(
            parts("Registry/x"),
            (some("Registry"), "x".into(), None, None)
        );
        assert_eq!(
            parts(&format!("quay.io/a:1@{SHA}")),
            (some("quay.io"), "a".into(), some("1"), some(SHA))
        );
        assert_eq!(
            parts(&format!("a@{SHA}")),
            (None, "a".into(), None, some(SHA))
        );
        assert_eq!(
            parts("[::1]:5000/img:2"),
            (some("[::1]:5000"), "img".into(), some("2"), None)
        );
        // With no `/`, a port-looking suffix is a tag, as Docker reads it.
        assert_eq!(
            parts("localhost:5000"),
            (None, "localhost".into(), some("5000"), None)
        );
        assert_eq!(
            parts("a__b/c-----d/e.f_g"),
            (None, "a__b/c-----d/e.f_g".into(), None, None)
        );
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "nginx",
            "nginx:1",
            "r.io:443/a/b:t",
            &format!("a/b:c@{SHA}"),
            "[::1]/x",
        ] {
            assert_eq!(ImageRef::parse(s).unwrap().to_string(), s);
        }
        assert_eq!("x:1".parse::<ImageRef>().unwrap().tag.as_deref(), Some("1"));
    }

    #[test]
    fn docker_hub_normalisation() {
        let n = ImageRef::parse("nginx:1").unwrap();
        assert_eq!(n.registry_host(), "docker.io");
        assert_eq!(n.full_repository(), "library/nginx");
        assert_eq!(n.canonical_name(), "docker.io/library/nginx");
        assert_eq!(n.name(), "nginx");
        assert_eq!(n.familiar_name(), "nginx");
        let explicit = ImageRef::parse("docker.io/library/nginx").unwrap();
        assert_eq!(explicit.name(), "docker.io/library/nginx");
        assert_eq!(explicit.familiar_name(), "nginx");
        assert!(explicit.same_repository(&n));
        let org = ImageRef::parse("index.docker.io/org/app").unwrap();
        assert_eq!(org.registry_host(), "docker.io");
        assert_eq!(org.full_repository(), "org/app");
        assert_eq!(org.familiar_name(), "org/app");
        let deep = ImageRef::parse("docker.io/library/a/b").unwrap();
        assert_eq!(deep.familiar_name(), "library/a/b");
        let other = ImageRef::parse("quay.io/nginx").unwrap();
        assert_eq!(other.full_repository(), "nginx");
        assert_eq!(other.canonical_name(), "quay.io/nginx");
        assert_eq!(other.familiar_name(), "quay.io/nginx");
        assert!(!other.same_repository(&n));
    }

    #[test]
    fn with_tag_and_digest() {
        let r = ImageRef::parse(&format!("a/b:1@{SHA}")).unwrap();
        assert_eq!(r.with_tag("2").to_string(), "a/b:2");
        let d = "sha256:".to_string() + &"f".repeat(64);
        assert_eq!(
            r.with_tag("2").with_digest(&d).to_string(),
            format!("a/b:2@{d}")
        );
    }

    fn err(s: &str) -> String {
        match ImageRef::parse(s) {
            Ok(r) => panic!("{s} parsed as {r:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn errors_name_the_reference_and_the_problem() {
        assert_eq!(err(""), "invalid image reference \"\": it is empty");
        let e = err("Nginx");
        assert!(
            e.contains("\"Nginx\"") && e.contains("must be lower-case"),
            "{e}"
        );
        let e = err("org/App:1");
        assert!(e.contains("\"App\"") && e.contains("lower-case"), "{e}");
        let e = err("a//b");
        assert!(e.contains("is empty"), "{e}");
        let e = err("a/b/");
        assert!(e.contains("is empty"), "{e}");
        let e = err("a-/b");
        assert!(e.contains("start and end"), "{e}");
        let e = err("a..b");
        assert!(e.contains("separate"), "{e}");
        let e = err("a___b");
        assert!(e.contains("separate"), "{e}");
        let e = err("a b");
        assert!(e.contains("may hold only"), "{e}");
        let e = err("nginx:");
        assert!(e.contains("tag \"\" is empty"), "{e}");
        let e = err("nginx:-x");
        assert!(e.contains("must start with"), "{e}");
        let e = err("nginx:a/b");
        assert!(e.contains("registry \"nginx:a\""), "{e}");
        let e = err(&format!("nginx:{}", "a".repeat(129)));
        assert!(e.contains("longer than 128"), "{e}");
        assert!(ImageRef::parse(&format!("nginx:{}", "a".repeat(128))).is_ok());
        let e = err("nginx@sha256:abc");
        assert!(e.contains("exactly 64 lower-case hex"), "{e}");
        let e = err(&format!(
            "nginx@{}",
            SHA.to_uppercase().replace("SHA256", "sha256")
        ));
        assert!(e.contains("lower-case hex"), "{e}");
        let e = err("nginx@abc");
        assert!(e.contains("algorithm:hex"), "{e}");
        let e = err("nginx@1x:0123456789abcdef0123456789abcdef");
        assert!(e.contains("invalid algorithm"), "{e}");
        let e = err("nginx@md5:0123");
        assert!(e.contains("at least 32"), "{e}");
        let e = err(&format!("x@{SHA}@{SHA}"));
        assert!(e.contains("digest"), "{e}");
        let e = err("bad_host.io:x/a");
        assert!(e.contains("registry \"bad_host.io:x\""), "{e}");
        let e = err("-a.io/b");
        assert!(e.contains("registry"), "{e}");
        let e = err(&format!("r.io/{}", "a".repeat(251)));
        assert!(e.contains("255"), "{e}");
        assert!(ImageRef::parse(&format!("r.io/{}", "a".repeat(250))).is_ok());
    }

    #[test]
    fn other_digest_algorithms_follow_the_grammar() {
        let hex32 = "0123456789abcdef0123456789ABCDEF";
        assert!(ImageRef::parse(&format!("a@multihash+base58:{hex32}")).is_ok());
        let sha512 = format!("a@sha512:{}", "0".repeat(128));
        assert!(ImageRef::parse(&sha512).is_ok());
        assert!(ImageRef::parse(&format!("a@sha384:{}", "0".repeat(64))).is_err());
    }
}
