//! Dotted field paths as replacements (and vars) use them: kyaml's path splitter, its
//! `Lookup` (one node, exact list-entry matches) and its `PathMatcher` (every match, regex
//! list-entry matches, `*`, optional creation).

use fjord_yaml::{Map, Node, Tag};
use regex::Regex;

/// A path step that could not be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The node has the wrong kind for the step.
    #[error("wrong node kind: expected {expected} but got {found}")]
    WrongKind {
        /// What the step needs.
        expected: &'static str,
        /// What was there.
        found: &'static str,
    },
    /// A list index past the end (and not creatable).
    #[error("index {index} specified but only {len} elements found")]
    Index {
        /// The index asked for.
        index: usize,
        /// The list length.
        len: usize,
    },
    /// A `[key=value]` value that is not a valid regular expression.
    #[error("{0}")]
    Regex(String),
}

fn kind_name(n: &Node) -> &'static str {
    match n {
        Node::Scalar(_) => "ScalarNode",
        Node::Seq(_) => "SequenceNode",
        Node::Map(_) => "MappingNode",
    }
}

/// Splits a field path on `.`: `\.` keeps a dot inside a segment, and a segment starting with
/// `[` runs to the segment ending with `]` (so `[name=a.b]` stays whole).
pub fn split_field_path(path: &str) -> Vec<String> {
    let mut escaped: Vec<String> = Vec::new();
    for part in path.split('.') {
        match escaped.last_mut() {
            Some(last) if last.ends_with('\\') => {
                last.pop();
                last.push('.');
                last.push_str(part);
            }
            _ => escaped.push(part.to_string()),
        }
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < escaped.len() {
        let elem = &escaped[i];
        if elem.starts_with('[') && !elem.ends_with(']') {
            let mut joined = elem.clone();
            while i + 1 < escaped.len() {
                i += 1;
                joined.push('.');
                joined.push_str(&escaped[i]);
                if escaped[i].ends_with(']') {
                    break;
                }
            }
            out.push(joined);
        } else {
            out.push(elem.clone());
        }
        i += 1;
    }
    out
}

/// `[key=value]` → (key, value).
fn list_match(seg: &str) -> Option<(&str, &str)> {
    seg.strip_prefix('[')?.strip_suffix(']')?.split_once('=')
}

fn index(seg: &str) -> Option<usize> {
    if seg.is_empty() || !seg.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    seg.parse().ok()
}

/// The text kyaml compares a list entry's field against.
fn scalar_text(n: &Node) -> Option<&str> {
    n.as_scalar().map(|s| s.value.trim())
}

/// kyaml's `Lookup`: follows `segs` to one node; list entries `[k=v]` match exactly, digits
/// index a list. `None` when anything is missing.
pub fn lookup<'a>(node: &'a Node, segs: &[String]) -> Option<&'a Node> {
    let Some((first, rest)) = segs.split_first() else {
        return Some(node);
    };
    let next = if let Some(i) = index(first).filter(|_| node.as_seq().is_some()) {
        node.as_seq()?.get(i)?
    } else if let Some((k, v)) = list_match(first) {
        node.as_seq()?.iter().find(|item| {
            if k.is_empty() {
                scalar_text(item) == Some(v)
            } else {
                item.get(k).and_then(scalar_text) == Some(v)
            }
        })?
    } else {
        node.get(first)?
    };
    lookup(next, rest)
}

/// What to create for a missing step, given the step after it.
fn new_node(next: Option<&String>, value: &Node) -> Node {
    match next {
        Some(n) if list_match(n).is_some() || index(n).is_some() => Node::Seq(Vec::new()),
        Some(_) => Node::map(),
        None => match value {
            Node::Map(_) => Node::map(),
            Node::Seq(_) => Node::Seq(Vec::new()),
            Node::Scalar(_) => Node::scalar("", Tag::Null),
        },
    }
}

/// kyaml's `PathMatcher`: calls `visit` on every node matched by `segs` and returns how many.
/// `[k=v]` treats `v` as an unanchored regular expression; `*` visits every list element.
/// With `create` (the value about to be written, which decides the leaf's kind), missing
/// fields are created, a `[k=v]` that matches nothing appends `{k: v}`, and an index equal
/// to the list length appends an element.
pub fn visit_matches(
    node: &mut Node,
    segs: &[String],
    create: Option<&Node>,
    visit: &mut dyn FnMut(&mut Node),
) -> Result<usize, PathError> {
    let Some((first, rest)) = segs.split_first() else {
        visit(node);
        return Ok(1);
    };
    let want_seq = |n: &Node| PathError::WrongKind {
        expected: "SequenceNode",
        found: kind_name(n),
    };
    if let Some(i) = index(first) {
        let Node::Seq(items) = node else {
            return Err(want_seq(node));
        };
        if let Some(v) = create.filter(|_| items.len() == i) {
            items.push(new_node(rest.first(), v));
        }
        let len = items.len();
        let item = items.get_mut(i).ok_or(PathError::Index { index: i, len })?;
        return visit_matches(item, rest, create, visit);
    }
    if let Some((k, v)) = list_match(first) {
        let re = Regex::new(v).map_err(|e| PathError::Regex(fjord_model::chain(&e)))?;
        let Node::Seq(_) = node else {
            return Err(want_seq(node));
        };
        for attempt in 0..2 {
            let Node::Seq(items) = &mut *node else {
                return Ok(0);
            };
            let mut count = 0;
            for item in items.iter_mut() {
                let text = if k.is_empty() {
                    scalar_text(item)
                } else {
                    item.get(k).and_then(scalar_text)
                };
                if text.is_some_and(|t| re.is_match(t)) {
                    count += visit_matches(item, rest, create, visit)?;
                }
            }
            if count > 0 || create.is_none() || attempt == 1 {
                return Ok(count);
            }
            let elem = if k.is_empty() {
                Node::string(v)
            } else {
                let mut m = Map::new();
                m.insert(k.to_string(), Node::string(v));
                Node::Map(m)
            };
            items.push(elem);
        }
        return Ok(0);
    }
    if first == "*" {
        let Node::Seq(items) = node else {
            return Err(want_seq(node));
        };
        let mut count = 0;
        for item in items.iter_mut() {
            count += visit_matches(item, rest, create, visit)?;
        }
        return Ok(count);
    }
    if node.is_null() && create.is_some() {
        *node = Node::map();
    }
    let found = kind_name(node);
    let Node::Map(m) = node else {
        return match create {
            Some(_) => Err(PathError::WrongKind {
                expected: "MappingNode",
                found,
            }),
            None => Ok(0),
        };
    };
    if !m.contains_key(first.as_str()) {
        let Some(v) = create else { return Ok(0) };
        m.insert(first.clone(), new_node(rest.first(), v));
    }
    match m.get_mut(first.as_str()) {
        Some(child) => visit_matches(child, rest, create, visit),
        None => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_kyaml() {
        assert_eq!(split_field_path("a.b.c"), ["a", "b", "c"]);
        assert_eq!(
            split_field_path("metadata.annotations.a\\.b/c"),
            ["metadata", "annotations", "a.b/c"]
        );
        assert_eq!(split_field_path("x.[name=a.b].y"), ["x", "[name=a.b]", "y"]);
    }

    fn list(names: &[&str]) -> Node {
        Node::Seq(
            names
                .iter()
                .map(|n| {
                    let mut m = Node::map();
                    m.as_map_mut()
                        .unwrap()
                        .insert("name".into(), Node::string(*n));
                    m
                })
                .collect(),
        )
    }

    #[test]
    fn list_entries_match_as_unanchored_regex() {
        let mut root = Node::map();
        root.as_map_mut()
            .unwrap()
            .insert("c".into(), list(&["c10", "c1", "xc1", "d"]));
        let segs = split_field_path("c.[name=c1].name");
        let mut seen = Vec::new();
        let n = visit_matches(&mut root, &segs, None, &mut |n| {
            seen.push(n.as_str().unwrap().to_string())
        })
        .unwrap();
        assert_eq!(n, 3);
        assert_eq!(seen, ["c10", "c1", "xc1"]);
        // Lookup (used for sources) matches exactly.
        assert_eq!(
            lookup(&root, &split_field_path("c.[name=c1].name")).and_then(Node::as_str),
            Some("c1")
        );
    }

    #[test]
    fn wildcard_on_a_map_is_an_error() {
        let mut root = Node::map();
        root.ensure_map_path(&["labels"])
            .unwrap()
            .insert("a".into(), Node::string("1"));
        let e =
            visit_matches(&mut root, &split_field_path("labels.*"), None, &mut |_| {}).unwrap_err();
        assert_eq!(
            e.to_string(),
            "wrong node kind: expected SequenceNode but got MappingNode"
        );
    }

    #[test]
    fn create_appends_entries_and_index_at_len() {
        let mut root = Node::map();
        root.as_map_mut().unwrap().insert("c".into(), list(&["c1"]));
        let v = Node::string("x");
        let n = visit_matches(
            &mut root,
            &split_field_path("c.[name=c3].image"),
            Some(&v),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(n, 1);
        assert_eq!(root.get("c").unwrap().as_seq().unwrap().len(), 2);
        let e = visit_matches(
            &mut root,
            &split_field_path("c.5.image"),
            Some(&v),
            &mut |_| {},
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "index 5 specified but only 2 elements found");
        let n = visit_matches(
            &mut root,
            &split_field_path("spec.new.0.x"),
            Some(&v),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(n, 1);
        assert_eq!(
            root.get_path(&["spec", "new"])
                .unwrap()
                .as_seq()
                .unwrap()
                .len(),
            1
        );
    }
}
