//! Resource selection, as kustomize's `target:` / `select:` mappings do it.
//!
//! `group`, `version`, `kind`, `name` and `namespace` are regular expressions anchored at both
//! ends (`we` does not select `web`); an empty or absent field selects everything. A resource
//! is selected by name or namespace if either its original or its current value matches, and
//! an unset namespace counts as `default` for namespaced kinds. `labelSelector` and
//! `annotationSelector` use the Kubernetes selector syntax: `a=b`, `a==b`, `a!=b`,
//! `a in (x,y)`, `a notin (x)`, `a`, `!a`, joined by commas.

use crate::resource::Resource;
use fjord_model::{scope, Gvk};
use fjord_yaml::Node;
use regex::Regex;

/// Why a selector could not be read.
#[derive(Clone, Debug, thiserror::Error)]
pub enum SelectError {
    /// The selector is not a mapping.
    #[error("selector must be a mapping")]
    NotMap,
    /// A field of the selector has an unknown name or a non-string value.
    #[error("selector field {field:?}: {message}")]
    BadField {
        /// The field.
        field: String,
        /// What is wrong.
        message: &'static str,
    },
    /// A regex field does not compile.
    #[error("selector field {field:?}")]
    BadRegex {
        /// The field.
        field: &'static str,
        /// The regex error.
        #[source]
        source: regex::Error,
    },
    /// A label or annotation selector has bad syntax.
    #[error("unable to parse requirement: {message}")]
    BadRequirement {
        /// What is wrong, in the Kubernetes parser's words where possible.
        message: String,
    },
}

/// One requirement of a label/annotation selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// `key=value` / `key==value`.
    Equals(String, String),
    /// `key!=value` (also true when the key is absent).
    NotEquals(String, String),
    /// `key in (a,b)`.
    In(String, Vec<String>),
    /// `key notin (a,b)` (also true when the key is absent).
    NotIn(String, Vec<String>),
    /// `key`.
    Exists(String),
    /// `!key`.
    DoesNotExist(String),
}

impl Requirement {
    /// Whether a label/annotation map satisfies the requirement.
    pub fn matches(&self, get: &dyn Fn(&str) -> Option<String>) -> bool {
        match self {
            Requirement::Equals(k, v) => get(k).as_deref() == Some(v),
            Requirement::NotEquals(k, v) => get(k).as_deref() != Some(v),
            Requirement::In(k, vs) => get(k).is_some_and(|x| vs.contains(&x)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|x| !vs.contains(&x)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::DoesNotExist(k) => get(k).is_none(),
        }
    }
}

/// Parses a Kubernetes label selector string.
pub fn parse_label_selector(s: &str) -> Result<Vec<Requirement>, SelectError> {
    let mut out = Vec::new();
    for part in split_top_level(s) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        out.push(parse_requirement(part)?);
    }
    Ok(out)
}

/// Splits on commas that are not inside parentheses.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn parse_requirement(part: &str) -> Result<Requirement, SelectError> {
    let bad = |message: String| SelectError::BadRequirement { message };
    if let Some(key) = part.strip_prefix('!') {
        return Ok(Requirement::DoesNotExist(check_key(key.trim())?));
    }
    for (op, make) in [
        (
            "!=",
            Requirement::NotEquals as fn(String, String) -> Requirement,
        ),
        ("==", Requirement::Equals),
        ("=", Requirement::Equals),
    ] {
        if let Some((k, v)) = part.split_once(op) {
            return Ok(make(check_key(k.trim())?, v.trim().to_string()));
        }
    }
    let words: Vec<&str> = part.splitn(2, char::is_whitespace).collect();
    if words.len() == 1 {
        return Ok(Requirement::Exists(check_key(words[0])?));
    }
    let key = check_key(words[0])?;
    let rest = words[1].trim_start();
    let (op, values) = if let Some(v) = rest.strip_prefix("notin") {
        ("notin", v.trim())
    } else if let Some(v) = rest.strip_prefix("in") {
        ("in", v.trim())
    } else {
        let found = rest.split_whitespace().next().unwrap_or_default();
        return Err(bad(format!(
            "found '{found}', expected: in, notin, =, ==, !=, gt, lt"
        )));
    };
    let inner = values.strip_prefix('(').ok_or_else(|| {
        let found = values.split([' ', ',', ')']).next().unwrap_or_default();
        bad(format!("found '{found}' expected: '('"))
    })?;
    let inner = inner
        .strip_suffix(')')
        .ok_or_else(|| bad(format!("missing ')' in {part:?}")))?;
    let vals: Vec<String> = inner.split(',').map(|v| v.trim().to_string()).collect();
    Ok(if op == "in" {
        Requirement::In(key, vals)
    } else {
        Requirement::NotIn(key, vals)
    })
}

fn check_key(k: &str) -> Result<String, SelectError> {
    if k.is_empty() || k.contains(char::is_whitespace) {
        return Err(SelectError::BadRequirement {
            message: format!("invalid label key {k:?}"),
        });
    }
    Ok(k.to_string())
}

/// A kustomize selector. See the module docs.
#[derive(Clone, Debug, Default)]
pub struct Selector {
    /// `group` regex (anchored), if set.
    pub group: Option<Regex>,
    /// `version` regex, if set.
    pub version: Option<Regex>,
    /// `kind` regex, if set.
    pub kind: Option<Regex>,
    /// `name` regex, if set.
    pub name: Option<Regex>,
    /// `namespace` regex, if set.
    pub namespace: Option<Regex>,
    /// `labelSelector` requirements (all must hold).
    pub label_selector: Vec<Requirement>,
    /// `annotationSelector` requirements.
    pub annotation_selector: Vec<Requirement>,
}

/// The namespace kustomize compares for a resource: `default` when unset on a namespaced kind,
/// a value no regex of a real namespace matches for a cluster-scoped kind.
fn effective_namespace(gvk: &Gvk, ns: &str) -> String {
    if scope::is_cluster_scoped(gvk) {
        "_non_namespaceable_".into()
    } else if ns.is_empty() {
        "default".into()
    } else {
        ns.into()
    }
}

impl Selector {
    /// Reads a `target:`/`select:` mapping (`group`, `version`, `kind`, `name`, `namespace`,
    /// `labelSelector`, `annotationSelector`).
    pub fn parse(n: &Node) -> Result<Selector, SelectError> {
        let map = n.as_map().ok_or(SelectError::NotMap)?;
        let mut sel = Selector::default();
        for (k, v) in map {
            if v.is_null() {
                continue;
            }
            let text = v.as_str().ok_or(SelectError::BadField {
                field: k.clone(),
                message: "must be a string",
            })?;
            let field: &'static str = match k.as_str() {
                "group" => "group",
                "version" => "version",
                "kind" => "kind",
                "name" => "name",
                "namespace" => "namespace",
                "labelSelector" => {
                    sel.label_selector = parse_label_selector(text)?;
                    continue;
                }
                "annotationSelector" => {
                    sel.annotation_selector = parse_label_selector(text)?;
                    continue;
                }
                _ => {
                    return Err(SelectError::BadField {
                        field: k.clone(),
                        message: "unknown field",
                    })
                }
            };
            if text.is_empty() {
                continue;
            }
            let re = Regex::new(&format!("^(?:{text})$"))
                .map_err(|source| SelectError::BadRegex { field, source })?;
            let slot = match field {
                "group" => &mut sel.group,
                "version" => &mut sel.version,
                "kind" => &mut sel.kind,
                "name" => &mut sel.name,
                _ => &mut sel.namespace,
            };
            *slot = Some(re);
        }
        Ok(sel)
    }

    /// Whether the selector selects `res`.
    pub fn matches(&self, res: &Resource) -> bool {
        let (cur, org) = (res.id(), res.orig_id());
        let hit = |re: &Option<Regex>, a: &str, b: &str| {
            re.as_ref().is_none_or(|r| r.is_match(a) || r.is_match(b))
        };
        let ns_cur = effective_namespace(&cur.gvk, &cur.namespace);
        let ns_org = effective_namespace(&org.gvk, &org.namespace);
        if !hit(&self.namespace, &ns_org, &ns_cur) || !hit(&self.name, &org.name, &cur.name) {
            return false;
        }
        let gvk = &cur.gvk;
        if !hit(&self.group, &gvk.group, &gvk.group)
            || !hit(&self.version, &gvk.version, &gvk.version)
            || !hit(&self.kind, &gvk.kind, &gvk.kind)
        {
            return false;
        }
        let lookup = |field: &'static str| {
            move |k: &str| {
                res.obj
                    .get_path(&["metadata", field, k])
                    .and_then(|v| v.as_scalar().map(|s| s.value.clone()))
            }
        };
        let labels = lookup("labels");
        let annotations = lookup("annotations");
        self.label_selector.iter().all(|r| r.matches(&labels))
            && self
                .annotation_selector
                .iter()
                .all(|r| r.matches(&annotations))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fjord_yaml::Map;

    fn res(api: &str, kind: &str, name: &str, ns: &str, labels: &[(&str, &str)]) -> Resource {
        let mut obj = Node::map();
        let m = obj.as_map_mut().unwrap();
        m.insert("apiVersion".into(), Node::string(api));
        m.insert("kind".into(), Node::string(kind));
        let mut meta = Map::new();
        meta.insert("name".into(), Node::string(name));
        if !ns.is_empty() {
            meta.insert("namespace".into(), Node::string(ns));
        }
        let l: Map = labels
            .iter()
            .map(|(k, v)| (k.to_string(), Node::string(*v)))
            .collect();
        meta.insert("labels".into(), Node::Map(l));
        m.insert("metadata".into(), Node::Map(meta));
        Resource::new(obj, "r.yaml")
    }

    fn sel(pairs: &[(&str, &str)]) -> Selector {
        let m: Map = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Node::string(*v)))
            .collect();
        Selector::parse(&Node::Map(m)).unwrap()
    }

    #[test]
    fn regexes_are_anchored_and_empty_matches_all() {
        // probes: name "we" does not select "web"; "web.*" selects web and web2;
        // "web|websvc" selects both; group "" selects everything.
        let web = res("apps/v1", "Deployment", "web", "", &[]);
        assert!(!sel(&[("kind", "Deployment"), ("name", "we")]).matches(&web));
        assert!(sel(&[("kind", "Deploy.*"), ("name", "web.*")]).matches(&web));
        assert!(sel(&[("name", "web|websvc")]).matches(&res("v1", "Service", "websvc", "", &[])));
        assert!(sel(&[("group", "")]).matches(&web));
        assert!(sel(&[("group", "apps"), ("version", "v1")]).matches(&web));
        assert!(!sel(&[("group", "apps")]).matches(&res("v1", "Service", "s", "", &[])));
        assert!(
            !sel(&[("kind", "deployment")]).matches(&web),
            "kind is case-sensitive"
        );
    }

    #[test]
    fn namespaces_default_and_cluster_scope() {
        let web = res("apps/v1", "Deployment", "web", "", &[]);
        assert!(sel(&[("namespace", "default")]).matches(&web));
        assert!(sel(&[("namespace", "ns.")]).matches(&res(
            "apps/v1",
            "Deployment",
            "w",
            "ns1",
            &[]
        )));
        assert!(!sel(&[("namespace", "default")]).matches(&res("v1", "Namespace", "x", "", &[])));
    }

    #[test]
    fn original_and_current_names_both_match() {
        let mut r = res("v1", "ConfigMap", "cm", "", &[]);
        r.set_name("p-cm");
        assert!(sel(&[("name", "cm")]).matches(&r));
        assert!(sel(&[("name", "p-cm")]).matches(&r));
        assert!(!sel(&[("name", "other")]).matches(&r));
    }

    #[test]
    fn label_and_annotation_selectors() {
        let web = res(
            "apps/v1",
            "Deployment",
            "web",
            "",
            &[("app", "web"), ("tier", "fe")],
        );
        let web2 = res("apps/v1", "Deployment", "web2", "", &[("app", "web2")]);
        let s = |q: &str| sel(&[("labelSelector", q)]);
        assert!(s("tier").matches(&web) && !s("tier").matches(&web2));
        assert!(!s("!tier").matches(&web) && s("!tier").matches(&web2));
        assert!(s("app==web").matches(&web) && s("app=web,tier=fe").matches(&web));
        assert!(s("app notin (web)").matches(&web2) && !s("app notin (web)").matches(&web));
        assert!(s("app in (web, web2)").matches(&web2));
        assert!(s("app in (web,web2),tier!=fe").matches(&web2));
        assert!(!s("app in (web,web2),tier!=fe").matches(&web));
        let mut annotated = web2.clone();
        annotated
            .obj
            .ensure_map_path(&["metadata", "annotations"])
            .unwrap()
            .insert("team".into(), Node::string("a"));
        assert!(sel(&[("annotationSelector", "team=a")]).matches(&annotated));
        assert!(!sel(&[("annotationSelector", "team=a")]).matches(&web2));
    }

    #[test]
    fn selector_errors() {
        let m: Map = [("labelSelector".to_string(), Node::string("app in web"))]
            .into_iter()
            .collect();
        let e = Selector::parse(&Node::Map(m)).unwrap_err();
        // kubectl: unable to parse requirement: found 'web' expected: '('
        assert_eq!(
            e.to_string(),
            "unable to parse requirement: found 'web' expected: '('"
        );
        let m: Map = [("name".to_string(), Node::string("("))]
            .into_iter()
            .collect();
        assert!(matches!(
            Selector::parse(&Node::Map(m)),
            Err(SelectError::BadRegex { field: "name", .. })
        ));
        let m: Map = [("bogus".to_string(), Node::string("x"))]
            .into_iter()
            .collect();
        assert!(matches!(
            Selector::parse(&Node::Map(m)),
            Err(SelectError::BadField { .. })
        ));
    }
}
