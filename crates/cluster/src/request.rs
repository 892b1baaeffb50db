//! A decoded API request: the route it targets, its query parameters and its body.

use std::collections::HashMap;

use percent_encoding::percent_decode_str;
use serde_json::Value;

/// Where a resource request points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePath {
    /// API group (`""` for core).
    pub group: String,
    /// Version.
    pub version: String,
    /// Namespace from the URL, if any.
    pub namespace: Option<String>,
    /// Plural resource.
    pub plural: String,
    /// Object name, if the path names one.
    pub name: Option<String>,
    /// Subresource (`status`, `scale`, `finalize`).
    pub sub: Option<String>,
}

/// The route of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `/version`.
    Version,
    /// `/healthz`, `/readyz`, `/livez`.
    Health,
    /// `/api`.
    Api,
    /// `/apis`.
    Apis,
    /// `/api/v1` or `/apis/<g>/<v>`.
    GroupVersion(String, String),
    /// `/apis/<g>`.
    Group(String),
    /// `/openapi/v3`.
    OpenApiRoot,
    /// `/openapi/v3/<path>`.
    OpenApiDoc(String),
    /// `/openapi/v2`.
    OpenApiV2,
    /// A resource URL.
    Resource(ResourcePath),
    /// Anything else.
    Unknown,
}

fn resource_path(group: &str, version: &str, rest: &[&str]) -> Target {
    let (namespace, rest) = match rest {
        ["namespaces", ns, tail @ ..]
            if !(tail.is_empty()
                || (tail.len() == 1 && matches!(tail[0], "status" | "finalize"))) =>
        {
            (Some(ns.to_string()), tail)
        }
        _ => (None, rest),
    };
    let (plural, name, sub) = match rest {
        [p] => (*p, None, None),
        [p, n] => (*p, Some(n.to_string()), None),
        [p, n, s] => (*p, Some(n.to_string()), Some(s.to_string())),
        _ => return Target::Unknown,
    };
    Target::Resource(ResourcePath {
        group: group.to_string(),
        version: version.to_string(),
        namespace,
        plural: plural.to_string(),
        name,
        sub,
    })
}

/// Parses a URL path into a [`Target`].
pub fn parse_path(path: &str) -> Target {
    let segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    match segs.as_slice() {
        ["version"] => Target::Version,
        ["healthz"] | ["readyz"] | ["livez"] => Target::Health,
        [h, _] if matches!(*h, "healthz" | "readyz" | "livez") => Target::Health,
        ["api"] => Target::Api,
        ["apis"] => Target::Apis,
        ["api", v] => Target::GroupVersion(String::new(), v.to_string()),
        ["apis", g] => Target::Group(g.to_string()),
        ["apis", g, v] => Target::GroupVersion(g.to_string(), v.to_string()),
        ["openapi", "v2"] => Target::OpenApiV2,
        ["openapi", "v3"] => Target::OpenApiRoot,
        ["openapi", "v3", rest @ ..] => Target::OpenApiDoc(rest.join("/")),
        ["api", v, rest @ ..] => resource_path("", v, rest),
        ["apis", g, v, rest @ ..] => resource_path(g, v, rest),
        _ => Target::Unknown,
    }
}

/// Query parameters (empty parameters, as kube-rs sends with `?&`, are skipped).
#[derive(Debug, Clone, Default)]
pub struct Query(HashMap<String, String>);

impl Query {
    /// Parses a raw query string.
    pub fn parse(raw: &str) -> Query {
        let mut m = HashMap::new();
        for part in raw.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let dec = |s: &str| {
                percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            m.insert(dec(k), dec(v));
        }
        Query(m)
    }

    /// A parameter's value.
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }

    /// A boolean parameter (`true`/`1`).
    pub fn flag(&self, k: &str) -> bool {
        matches!(self.get(k), Some("true") | Some("1"))
    }
}

/// A request as the engine sees it.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    /// HTTP method, upper case.
    pub method: String,
    /// The route.
    pub target: Target,
    /// Query parameters.
    pub query: Query,
    /// `Content-Type` header.
    pub content_type: String,
    /// `Accept` header.
    pub accept: String,
    /// `User-Agent` header.
    pub user_agent: String,
    /// The raw body.
    pub body: Vec<u8>,
}

/// A successful answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: Value,
    /// The response Content-Type.
    pub content_type: String,
    /// Extra headers (e.g. `Warning`).
    pub headers: Vec<(String, String)>,
    /// A pre-serialized body sent instead of `body` (large lists).
    pub raw: Option<Vec<u8>>,
}

impl Reply {
    /// A JSON reply.
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body,
            content_type: "application/json".into(),
            headers: Vec::new(),
            raw: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(t: Target) -> ResourcePath {
        match t {
            Target::Resource(r) => r,
            other => panic!("not a resource: {other:?}"),
        }
    }

    #[test]
    fn parses_resource_paths() {
        let r = res(parse_path(
            "/apis/apps/v1/namespaces/default/deployments/web/scale",
        ));
        assert_eq!(
            (r.group.as_str(), r.namespace.as_deref(), r.plural.as_str()),
            ("apps", Some("default"), "deployments")
        );
        assert_eq!(
            (r.name.as_deref(), r.sub.as_deref()),
            (Some("web"), Some("scale"))
        );
        let ns = res(parse_path("/api/v1/namespaces/foo"));
        assert_eq!(
            (ns.plural.as_str(), ns.name.as_deref(), ns.namespace),
            ("namespaces", Some("foo"), None)
        );
        let fin = res(parse_path("/api/v1/namespaces/foo/finalize"));
        assert_eq!(
            (fin.name.as_deref(), fin.sub.as_deref()),
            (Some("foo"), Some("finalize"))
        );
        let coll = res(parse_path("/api/v1/namespaces/foo/configmaps"));
        assert_eq!((coll.namespace.as_deref(), coll.name), (Some("foo"), None));
        assert_eq!(
            parse_path("/apis/apps/v1"),
            Target::GroupVersion("apps".into(), "v1".into())
        );
        assert_eq!(parse_path("/nope"), Target::Unknown);
    }

    #[test]
    fn query_skips_empty_parts_and_decodes() {
        let q = Query::parse("&labelSelector=app%3Dweb&watch=true&&x");
        assert_eq!(q.get("labelSelector"), Some("app=web"));
        assert!(q.flag("watch"));
        assert_eq!(q.get("x"), Some(""));
    }
}
