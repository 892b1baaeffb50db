//! Argo CD's `fields` projection of a response: `fields=items.metadata.name,items.spec` keeps
//! only the listed dotted paths; a leading `-` (`fields=-items.status`) removes them instead.
//! A path through an array applies to each element.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// A set of dotted paths as a tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    /// The path ends here: the whole value is meant.
    leaf: bool,
    children: BTreeMap<String, Tree>,
}

impl Tree {
    /// The subtree under `key`, when any path goes there.
    pub fn child(&self, key: &str) -> Option<&Tree> {
        self.children.get(key)
    }
    /// Whether the whole value at this point is meant.
    pub fn is_leaf(&self) -> bool {
        self.leaf
    }
}

/// A parsed `fields` parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fields {
    /// Keep only these paths.
    Include(Tree),
    /// Remove these paths.
    Exclude(Tree),
}

impl Fields {
    /// Parses the `fields` parameter; `None` when it is absent or empty (everything is kept).
    pub fn parse(text: Option<&str>) -> Option<Fields> {
        let text = text?.trim();
        if text.is_empty() {
            return None;
        }
        let (exclude, list) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let mut root = Tree::default();
        for path in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let mut node = &mut root;
            for seg in path.split('.') {
                node = node.children.entry(seg.to_string()).or_default();
            }
            node.leaf = true;
        }
        Some(if exclude {
            Fields::Exclude(root)
        } else {
            Fields::Include(root)
        })
    }

    /// The projection of `value` (a response, or a part of one at `tree`'s level).
    pub fn apply(&self, value: &Value) -> Value {
        match self {
            Fields::Include(t) => include(value, t),
            Fields::Exclude(t) => {
                let mut v = value.clone();
                exclude(&mut v, t);
                v
            }
        }
    }

    /// The same projection one key down (`items` of a list: each element then goes through
    /// [`Fields::apply`] of the result); `None` when an inclusion keeps nothing there.
    pub fn under(&self, key: &str) -> Option<Fields> {
        match self {
            Fields::Include(t) => t.child(key).map(|c| Fields::Include(c.clone())),
            Fields::Exclude(t) => Some(Fields::Exclude(t.child(key).cloned().unwrap_or_default())),
        }
    }

    /// Whether the projection keeps `key` whole (an exclusion that does not name it, or an
    /// inclusion that lists it).
    pub fn keeps_whole(&self, key: &str) -> bool {
        match self {
            Fields::Include(t) => t.child(key).is_some_and(Tree::is_leaf),
            Fields::Exclude(t) => t.child(key).is_none(),
        }
    }
}

/// Only the paths of `t` in `v`.
fn include(v: &Value, t: &Tree) -> Value {
    if t.leaf {
        return v.clone();
    }
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, c) in &t.children {
                if let Some(x) = m.get(k) {
                    out.insert(k.clone(), include(x, c));
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| include(x, t)).collect()),
        other => other.clone(),
    }
}

/// Removes the paths of `t` from `v`.
fn exclude(v: &mut Value, t: &Tree) {
    match v {
        Value::Object(m) => {
            for (k, c) in &t.children {
                if c.leaf {
                    m.remove(k);
                } else if let Some(x) = m.get_mut(k) {
                    exclude(x, c);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| exclude(x, t)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn include_and_exclude_dotted_paths_through_arrays() {
        let v = json!({"metadata": {"resourceVersion": "5"}, "items": [
            {"metadata": {"name": "a", "labels": {"x": "1"}}, "spec": {"project": "p"}, "status": {}},
        ]});
        let f = Fields::parse(Some("items.metadata.name,metadata.resourceVersion")).unwrap();
        assert_eq!(
            f.apply(&v),
            json!({"metadata": {"resourceVersion": "5"}, "items": [{"metadata": {"name": "a"}}]})
        );
        let f = Fields::parse(Some("-items.status,items.metadata.labels")).unwrap();
        assert_eq!(
            f.apply(&v),
            json!({"metadata": {"resourceVersion": "5"}, "items": [
                {"metadata": {"name": "a"}, "spec": {"project": "p"}}]})
        );
        assert_eq!(Fields::parse(Some(" ")), None);
        let items = Fields::parse(Some("items.metadata.name")).unwrap();
        assert!(items.under("metadata").is_none());
        assert_eq!(
            items.under("items").unwrap().apply(&v["items"][0]),
            json!({"metadata": {"name": "a"}})
        );
        assert!(!items.keeps_whole("items"));
    }
}
