//! Field paths and their FieldsV1 encoding.
//!
//! A path is a list of elements in FieldsV1 spelling: `f:<field>`, `k:<key json>` (list-map item,
//! key fields sorted by name), `v:<json>` (set item), `i:<n>` (index). A field set is a set of
//! member paths; FieldsV1 nests them as a trie where `"."` marks a node that is itself a member.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// One path from the object root.
pub type Path = Vec<String>;

/// A set of owned paths.
pub type FieldSet = BTreeSet<Path>;

/// Encodes a field set as FieldsV1 JSON.
pub fn encode(set: &FieldSet) -> Value {
    #[derive(Default)]
    struct Node {
        member: bool,
        children: std::collections::BTreeMap<String, Node>,
    }
    let mut root = Node::default();
    for p in set {
        let mut cur = &mut root;
        for e in p {
            cur = cur.children.entry(e.clone()).or_default();
        }
        cur.member = true;
    }
    fn render(n: &Node) -> Value {
        let mut m = Map::new();
        if n.member && !n.children.is_empty() {
            m.insert(".".into(), Value::Object(Map::new()));
        }
        for (k, c) in &n.children {
            m.insert(k.clone(), render(c));
        }
        Value::Object(m)
    }
    render(&root)
}

/// Decodes FieldsV1 JSON into a field set (malformed parts are skipped).
pub fn decode(v: &Value) -> FieldSet {
    fn go(v: &Value, path: &mut Path, out: &mut FieldSet) {
        let Some(m) = v.as_object() else { return };
        for (k, c) in m {
            if k == "." {
                out.insert(path.clone());
                continue;
            }
            path.push(k.clone());
            if c.as_object().is_some_and(Map::is_empty) {
                out.insert(path.clone());
            } else {
                go(c, path, out);
            }
            path.pop();
        }
    }
    let mut out = FieldSet::new();
    go(v, &mut Vec::new(), &mut out);
    out
}

/// Renders a path the way conflict messages do: `.spec.containers[name="nginx"].image`.
pub fn display(p: &Path) -> String {
    let mut s = String::new();
    for e in p {
        if let Some(f) = e.strip_prefix("f:") {
            s.push('.');
            s.push_str(f);
        } else if let Some(k) = e.strip_prefix("k:") {
            let inner = serde_json::from_str::<Value>(k)
                .ok()
                .and_then(|v| v.as_object().cloned())
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_else(|| k.to_string());
            s.push_str(&format!("[{inner}]"));
        } else if let Some(v) = e.strip_prefix("v:") {
            s.push_str(&format!("[={v}]"));
        } else if let Some(i) = e.strip_prefix("i:") {
            s.push_str(&format!("[{i}]"));
        }
    }
    s
}

/// Whether `p` equals `prefix` or lies under it.
pub fn under(p: &Path, prefix: &Path) -> bool {
    p.len() >= prefix.len() && p[..prefix.len()] == prefix[..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(s: &[&str]) -> Path {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn fieldsv1_round_trip_with_dot() {
        let mut set = FieldSet::new();
        set.insert(p(&["f:metadata", "f:labels", "f:app"]));
        set.insert(p(&["f:spec", "f:containers", "k:{\"name\":\"nginx\"}"]));
        set.insert(p(&[
            "f:spec",
            "f:containers",
            "k:{\"name\":\"nginx\"}",
            "f:image",
        ]));
        let v = encode(&set);
        assert_eq!(
            v,
            json!({"f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}}}}})
        );
        assert_eq!(decode(&v), set);
        assert_eq!(
            display(&p(&[
                "f:spec",
                "f:containers",
                "k:{\"name\":\"nginx\"}",
                "f:image"
            ])),
            ".spec.containers[name=\"nginx\"].image"
        );
    }
}
