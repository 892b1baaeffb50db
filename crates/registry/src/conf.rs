//! Argo CD Image Updater's `registries.conf` ([`RegistryConf`]) and the [`Endpoint`] an image's
//! registry resolves to.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::error::RegistryError;

/// The built-in Docker Hub entry's prefix.
pub const DOCKER_HUB_PREFIX: &str = "docker.io";
/// The built-in Docker Hub entry's API URL.
pub const DOCKER_HUB_API: &str = "https://registry-1.docker.io";

/// How a registry's tag list is ordered (`tagsortmode`); with `LatestFirst`/`LatestLast` the
/// image updater takes the order as the age and fetches no metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TagSortMode {
    /// Unsorted (`none`, or not set).
    #[default]
    None,
    /// The newest tag comes first.
    LatestFirst,
    /// The newest tag comes last.
    LatestLast,
}

/// One registry as the client talks to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    /// The label (`name`).
    pub name: String,
    /// The image prefix it serves (`docker.io`, `ghcr.io`, `127.0.0.1:5000`).
    pub prefix: String,
    /// `http(s)://host[:port]`, no trailing `/`.
    pub api_url: String,
    /// Namespace added to one-segment repository names (`library` on Docker Hub).
    pub default_ns: Option<String>,
    /// The `credentials` reference text (`pullsecret:ns/name`, `secret:ns/name#field`,
    /// `env:VAR`, `ext:/path`), resolved by the caller.
    pub credentials: Option<String>,
    /// Skip TLS verification.
    pub insecure: bool,
    /// Requests per second to this registry; `None` is unlimited.
    pub limit: Option<f64>,
    /// How long resolved credentials may be reused; `None` is forever.
    pub creds_expire: Option<Duration>,
    /// Ping (`GET /v2/`) before the first request to learn the auth challenge.
    pub ping: bool,
    /// `tagsortmode`.
    pub tag_sort: TagSortMode,
}

impl Endpoint {
    /// An endpoint for `prefix` at `api_url` (trailing `/` trimmed) with no options set.
    pub fn new(prefix: &str, api_url: &str) -> Endpoint {
        Endpoint {
            name: prefix.to_string(),
            prefix: prefix.to_string(),
            api_url: api_url.trim_end_matches('/').to_string(),
            default_ns: None,
            credentials: None,
            insecure: false,
            limit: None,
            creds_expire: None,
            ping: true,
            tag_sort: TagSortMode::None,
        }
    }

    /// The built-in Docker Hub endpoint (`library` namespace, 10 requests/s).
    pub fn docker_hub() -> Endpoint {
        Endpoint {
            name: "Docker Hub".to_string(),
            default_ns: Some("library".to_string()),
            limit: Some(10.0),
            ..Endpoint::new(DOCKER_HUB_PREFIX, DOCKER_HUB_API)
        }
    }

    /// The repository path at this registry: `default_ns/` before a one-segment name.
    pub fn repository(&self, repo: &str) -> String {
        match &self.default_ns {
            Some(ns) if !ns.is_empty() && !repo.contains('/') => format!("{ns}/{repo}"),
            _ => repo.to_string(),
        }
    }
}

/// One `registries:` item.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryEntry {
    /// The endpoint it describes.
    pub endpoint: Endpoint,
    /// `default: true`: used for images written without a registry.
    pub default: bool,
}

/// Image Updater's `registries.conf`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RegistryConf {
    /// The entries in file order.
    pub registries: Vec<RegistryEntry>,
}

const FIELDS: &[&str] = &[
    "name",
    "prefix",
    "api_url",
    "credentials",
    "credsexpire",
    "defaultns",
    "default",
    "insecure",
    "limit",
    "tagsortmode",
    "ping",
];

fn conf_err(field: impl Into<String>, reason: impl Into<String>) -> RegistryError {
    RegistryError::Conf {
        field: field.into(),
        reason: reason.into(),
    }
}

impl RegistryConf {
    /// Parses the YAML text. Every item needs `name` and a unique `prefix`; `api_url` defaults to
    /// `https://<prefix>`; an unknown field is an error naming it.
    pub fn parse(yaml: &str) -> Result<RegistryConf, RegistryError> {
        let doc =
            fjord_yaml::parse_document(yaml.as_bytes()).map_err(|e| RegistryError::ConfYaml {
                source: std::sync::Arc::new(e),
            })?;
        let json = fjord_yaml::to_json_value(&doc).map_err(|e| RegistryError::ConfYaml {
            source: std::sync::Arc::new(e),
        })?;
        let top = match json {
            Value::Null => return Ok(RegistryConf::default()),
            Value::Object(m) => m,
            _ => {
                return Err(conf_err(
                    "(document)",
                    "must be a mapping with `registries`",
                ))
            }
        };
        if let Some(k) = top.keys().find(|k| *k != "registries") {
            return Err(conf_err(k.clone(), "unknown field"));
        }
        let items = match top.get("registries") {
            None | Some(Value::Null) => return Ok(RegistryConf::default()),
            Some(Value::Array(items)) => items,
            Some(_) => return Err(conf_err("registries", "must be a list")),
        };
        let mut registries: Vec<RegistryEntry> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let entry = parse_entry(i, item)?;
            let at = format!("registries[{i}]");
            if registries
                .iter()
                .any(|e| e.endpoint.prefix == entry.endpoint.prefix)
            {
                return Err(conf_err(
                    format!("{at}.prefix"),
                    format!("prefix {:?} is used twice", entry.endpoint.prefix),
                ));
            }
            if entry.default && registries.iter().any(|e| e.default) {
                return Err(conf_err(
                    format!("{at}.default"),
                    "only one registry can be the default",
                ));
            }
            registries.push(entry);
        }
        Ok(RegistryConf { registries })
    }

    /// The endpoint for `image`'s registry ([`RegistryConf::endpoint_for_host`] of the registry
    /// as written).
    pub fn endpoint_for(&self, image: &fjord_image::reference::ImageRef) -> Endpoint {
        self.endpoint_for_host(image.registry.as_deref())
    }

    /// The endpoint for an image's registry host (`None`: the image names no registry). A
    /// configured prefix wins; an image without a registry uses the `default: true` entry, else
    /// Docker Hub; `docker.io` (and its aliases) without an entry is the built-in Docker Hub; any
    /// other host is `https://<host>`.
    pub fn endpoint_for_host(&self, registry: Option<&str>) -> Endpoint {
        let host = match registry {
            None | Some("") => {
                if let Some(e) = self.registries.iter().find(|e| e.default) {
                    return e.endpoint.clone();
                }
                DOCKER_HUB_PREFIX
            }
            Some(h) => h,
        };
        let hub = is_docker_hub(host);
        if let Some(e) = self
            .registries
            .iter()
            .find(|e| e.endpoint.prefix == host || (hub && is_docker_hub(&e.endpoint.prefix)))
        {
            return e.endpoint.clone();
        }
        if hub {
            return Endpoint::docker_hub();
        }
        Endpoint::new(host, &format!("https://{host}"))
    }
}

/// Docker Hub's names for itself.
fn is_docker_hub(host: &str) -> bool {
    matches!(
        host,
        "docker.io" | "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com"
    )
}

fn parse_entry(i: usize, item: &Value) -> Result<RegistryEntry, RegistryError> {
    let at = format!("registries[{i}]");
    let Value::Object(m) = item else {
        return Err(conf_err(at, "must be a mapping"));
    };
    if let Some(k) = m.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(conf_err(format!("{at}.{k}"), "unknown field"));
    }
    let f = Fields { at: &at, m };
    let name = f.string("name")?.unwrap_or_default();
    if name.is_empty() {
        return Err(conf_err(format!("{at}.name"), "required"));
    }
    let prefix = f.string("prefix")?.unwrap_or_default();
    if prefix.is_empty() {
        return Err(conf_err(format!("{at}.prefix"), "required"));
    }
    let api_url = match f.string("api_url")? {
        Some(u) if !u.is_empty() => u.trim_end_matches('/').to_string(),
        _ => format!("https://{prefix}"),
    };
    if !(api_url.starts_with("http://") || api_url.starts_with("https://")) {
        return Err(conf_err(
            format!("{at}.api_url"),
            format!("{api_url:?} must start with http:// or https://"),
        ));
    }
    let limit = match m.get("limit") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_f64() {
            Some(0.0) => None,
            Some(l) if l > 0.0 && l.is_finite() => Some(l),
            _ => return Err(conf_err(format!("{at}.limit"), "must be a positive number")),
        },
        Some(_) => return Err(conf_err(format!("{at}.limit"), "must be a number")),
    };
    let creds_expire = match f.string("credsexpire")? {
        None => None,
        Some(text) => Some(
            parse_go_duration(&text)
                .map_err(|reason| conf_err(format!("{at}.credsexpire"), reason))?,
        )
        .filter(|d| !d.is_zero()),
    };
    let tag_sort = match f.string("tagsortmode")?.as_deref() {
        None | Some("") | Some("none") => TagSortMode::None,
        Some("latest-first") => TagSortMode::LatestFirst,
        Some("latest-last") => TagSortMode::LatestLast,
        Some(other) => {
            return Err(conf_err(
                format!("{at}.tagsortmode"),
                format!("{other:?} is not latest-first, latest-last or none"),
            ))
        }
    };
    let endpoint = Endpoint {
        name,
        api_url,
        default_ns: f.string("defaultns")?.filter(|s| !s.is_empty()),
        credentials: f.string("credentials")?.filter(|s| !s.is_empty()),
        insecure: f.bool("insecure")?.unwrap_or(false),
        limit,
        creds_expire,
        ping: f.bool("ping")?.unwrap_or(false),
        tag_sort,
        prefix,
    };
    Ok(RegistryEntry {
        endpoint,
        default: f.bool("default")?.unwrap_or(false),
    })
}

/// Typed reads of one item's fields, errors naming `registries[i].field`.
struct Fields<'a> {
    at: &'a str,
    m: &'a Map<String, Value>,
}

impl Fields<'_> {
    fn string(&self, key: &str) -> Result<Option<String>, RegistryError> {
        match self.m.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(conf_err(format!("{}.{key}", self.at), "must be a string")),
        }
    }

    /// YAML booleans, also the YAML 1.1 words Go's yaml.v2 took (`yes`, `no`, `on`, `off`).
    fn bool(&self, key: &str) -> Result<Option<bool>, RegistryError> {
        match self.m.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "y" => Ok(Some(true)),
                "false" | "no" | "off" | "n" => Ok(Some(false)),
                _ => Err(conf_err(format!("{}.{key}", self.at), "must be a boolean")),
            },
            Some(_) => Err(conf_err(format!("{}.{key}", self.at), "must be a boolean")),
        }
    }
}

/// A Go `time.Duration` string: `1h30m`, `90s`, `1.5h`, `300ms`, `0`.
pub fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() || s.starts_with('-') {
        return Err(format!("{text:?} is not a duration"));
    }
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("{text:?}: a number needs a unit (ns, us, ms, s, m, h)"))?;
        let n: f64 = rest[..num_end]
            .parse()
            .map_err(|_| format!("{text:?} is not a duration"))?;
        let unit_rest = &rest[num_end..];
        let unit_end = unit_rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(unit_rest.len());
        let secs = match &unit_rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            u => return Err(format!("{text:?}: unknown unit {u:?}")),
        };
        total += n * secs;
        rest = &unit_rest[unit_end..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| format!("{text:?} is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = r#"
registries:
- name: Docker Hub
  prefix: docker.io
  api_url: https://registry-1.docker.io/
  ping: yes
  credentials: secret:foo/bar#creds
  defaultns: library
  limit: 20
- name: Local
  prefix: 127.0.0.1:5000
  api_url: http://127.0.0.1:5000
  credentials: env:REG_CREDS
  credsexpire: 1h30m
  default: true
  insecure: true
  tagsortmode: latest-first
"#;

    #[test]
    fn parses_every_field() {
        let conf = RegistryConf::parse(CONF).unwrap();
        assert_eq!(conf.registries.len(), 2);
        let hub = &conf.registries[0].endpoint;
        assert_eq!(hub.api_url, "https://registry-1.docker.io");
        assert!(hub.ping);
        assert_eq!(hub.limit, Some(20.0));
        assert_eq!(hub.default_ns.as_deref(), Some("library"));
        assert_eq!(hub.credentials.as_deref(), Some("secret:foo/bar#creds"));
        let local = &conf.registries[1];
        assert!(local.default);
        assert!(local.endpoint.insecure);
        assert!(!local.endpoint.ping);
        assert_eq!(local.endpoint.limit, None, "unset: unlimited");
        assert_eq!(local.endpoint.creds_expire, Some(Duration::from_secs(5400)));
        assert_eq!(local.endpoint.tag_sort, TagSortMode::LatestFirst);
    }

    #[test]
    fn endpoints_for_hosts() {
        let conf = RegistryConf::parse(CONF).unwrap();
        assert_eq!(conf.endpoint_for_host(None).prefix, "127.0.0.1:5000");
        assert_eq!(
            conf.endpoint_for_host(Some("docker.io"))
                .credentials
                .as_deref(),
            Some("secret:foo/bar#creds")
        );
        assert_eq!(
            conf.endpoint_for_host(Some("index.docker.io")).prefix,
            "docker.io"
        );
        let ghcr = conf.endpoint_for_host(Some("ghcr.io"));
        assert_eq!(
            (ghcr.api_url.as_str(), ghcr.limit),
            ("https://ghcr.io", None)
        );
        let image = |s: &str| fjord_image::reference::ImageRef::parse(s).unwrap();
        assert_eq!(
            conf.endpoint_for(&image("nginx:1.25")).prefix,
            "127.0.0.1:5000"
        );
        assert_eq!(
            conf.endpoint_for(&image("127.0.0.1:5000/team/app:v1"))
                .api_url,
            "http://127.0.0.1:5000"
        );
        assert_eq!(
            conf.endpoint_for(&image("quay.io/org/app")).api_url,
            "https://quay.io"
        );
        let empty = RegistryConf::parse("").unwrap();
        assert_eq!(empty.endpoint_for(&image("nginx")), Endpoint::docker_hub());
        let hub = empty.endpoint_for_host(None);
        assert_eq!(hub, Endpoint::docker_hub());
        assert_eq!(hub.repository("nginx"), "library/nginx");
        assert_eq!(hub.repository("bitnami/nginx"), "bitnami/nginx");
        assert_eq!(hub.limit, Some(10.0));
    }

    #[test]
    fn errors_name_the_field() {
        let err = |y: &str| RegistryConf::parse(y).unwrap_err().to_string();
        assert_eq!(
            err("registries:\n- name: a\n  prefix: a.io\n  apiurl: https://a.io\n"),
            "registries.conf: registries[0].apiurl: unknown field"
        );
        assert!(err("registries:\n- prefix: a.io\n").contains("registries[0].name: required"));
        assert!(err("registries:\n- name: a\n").contains("registries[0].prefix: required"));
        assert!(
            err("registries:\n- {name: a, prefix: a.io}\n- {name: b, prefix: a.io}\n")
                .contains("registries[1].prefix: prefix \"a.io\" is used twice")
        );
        assert!(err(
            "registries:\n- {name: a, prefix: a.io, default: true}\n- {name: b, prefix: b.io, default: true}\n"
        )
        .contains("registries[1].default"));
        assert!(err("registries:\n- {name: a, prefix: a.io, limit: fast}\n")
            .contains("registries[0].limit"));
        assert!(
            err("registries:\n- {name: a, prefix: a.io, credsexpire: 5 minutes}\n")
                .contains("registries[0].credsexpire")
        );
        assert!(
            err("registries:\n- {name: a, prefix: a.io, api_url: a.io}\n")
                .contains("registries[0].api_url")
        );
        assert!(
            err("registries:\n- {name: a, prefix: a.io, tagsortmode: newest}\n")
                .contains("registries[0].tagsortmode")
        );
        assert!(err("registry: []\n").contains("registry: unknown field"));
        assert!(err("registries: [").starts_with("registries.conf: not valid YAML"));
        let ok = RegistryConf::parse("registries:\n- {name: a, prefix: a.io}\n").unwrap();
        assert_eq!(ok.registries[0].endpoint.api_url, "https://a.io");
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(
            parse_go_duration("1.5h").unwrap(),
            Duration::from_secs(5400)
        );
        assert_eq!(
            parse_go_duration("300ms").unwrap(),
            Duration::from_millis(300)
        );
        assert_eq!(parse_go_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_go_duration("10").is_err());
        assert!(parse_go_duration("-1s").is_err());
        assert!(parse_go_duration("1d").is_err());
    }
}
