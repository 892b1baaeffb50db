//! The node tree every manifest is held in.

use indexmap::IndexMap;

use crate::resolve::Tag;

/// A mapping: keys in the order they were written (the emitter sorts them on output).
pub type Map = IndexMap<String, Node>;

/// A scalar: the text as written (after YAML unescaping and folding) and its resolved tag.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Scalar {
    /// The scalar's value text, e.g. `0x1F`, `true`, `hello`.
    pub value: String,
    /// What that text resolved to.
    pub tag: Tag,
}

/// One YAML node.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// A scalar.
    Scalar(Scalar),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping.
    Map(Map),
}

impl Default for Node {
    fn default() -> Self {
        Node::null()
    }
}

impl Node {
    /// A `!!str` scalar.
    pub fn string(s: impl Into<String>) -> Node {
        Node::Scalar(Scalar {
            value: s.into(),
            tag: Tag::Str,
        })
    }

    /// A `!!int` scalar.
    pub fn int(i: i64) -> Node {
        Node::Scalar(Scalar {
            value: i.to_string(),
            tag: Tag::Int,
        })
    }

    /// A `!!bool` scalar.
    pub fn bool(b: bool) -> Node {
        Node::Scalar(Scalar {
            value: b.to_string(),
            tag: Tag::Bool,
        })
    }

    /// A `!!null` scalar.
    pub fn null() -> Node {
        Node::Scalar(Scalar {
            value: "null".into(),
            tag: Tag::Null,
        })
    }

    /// An empty mapping.
    pub fn map() -> Node {
        Node::Map(Map::new())
    }

    /// A scalar with an explicit tag.
    pub fn scalar(value: impl Into<String>, tag: Tag) -> Node {
        Node::Scalar(Scalar {
            value: value.into(),
            tag,
        })
    }

    /// A scalar from `text` as a plain YAML scalar would resolve (`"80"` → int, `"x"` → str).
    pub fn plain(text: impl Into<String>) -> Node {
        let value = text.into();
        let tag = Tag::resolve_plain(&value);
        Node::Scalar(Scalar { value, tag })
    }

    /// True for a `!!null` scalar.
    pub fn is_null(&self) -> bool {
        matches!(self, Node::Scalar(Scalar { tag: Tag::Null, .. }))
    }

    /// The scalar, if this is one.
    pub fn as_scalar(&self) -> Option<&Scalar> {
        match self {
            Node::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The text of any scalar (whatever its tag); `None` for collections and nulls.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Scalar(s) if s.tag != Tag::Null => Some(&s.value),
            _ => None,
        }
    }

    /// The mapping, if this is one.
    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Node::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The mapping, mutably, if this is one.
    pub fn as_map_mut(&mut self) -> Option<&mut Map> {
        match self {
            Node::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The sequence, if this is one.
    pub fn as_seq(&self) -> Option<&Vec<Node>> {
        match self {
            Node::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The sequence, mutably, if this is one.
    pub fn as_seq_mut(&mut self) -> Option<&mut Vec<Node>> {
        match self {
            Node::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The value under `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?.get(key)
    }

    /// The value under `key` of a mapping, mutably.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        self.as_map_mut()?.get_mut(key)
    }

    /// Follows a path of mapping keys.
    pub fn get_path(&self, path: &[&str]) -> Option<&Node> {
        path.iter().try_fold(self, |n, k| n.get(k))
    }

    /// Follows a path of mapping keys, mutably.
    pub fn get_path_mut(&mut self, path: &[&str]) -> Option<&mut Node> {
        path.iter().try_fold(self, |n, k| n.get_mut(k))
    }

    /// The text of the scalar at `path`, if there is a non-null scalar there.
    pub fn str_at(&self, path: &[&str]) -> Option<&str> {
        self.get_path(path)?.as_str()
    }

    /// Follows a path of mapping keys, creating empty mappings (and replacing nulls) on the way;
    /// `None` if a non-mapping value is in the way.
    pub fn ensure_map_path(&mut self, path: &[&str]) -> Option<&mut Map> {
        let mut cur = self;
        for k in path {
            if cur.is_null() {
                *cur = Node::map();
            }
            let m = cur.as_map_mut()?;
            cur = m.entry((*k).to_string()).or_insert_with(Node::map);
        }
        if cur.is_null() {
            *cur = Node::map();
        }
        cur.as_map_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_create_and_read() {
        let mut n = Node::map();
        n.ensure_map_path(&["metadata", "labels"])
            .unwrap()
            .insert("app".into(), Node::string("web"));
        assert_eq!(n.str_at(&["metadata", "labels", "app"]), Some("web"));
        assert!(n.get_path(&["metadata", "name"]).is_none());
        let mut s = Node::string("x");
        assert!(s.ensure_map_path(&["a"]).is_none());
    }
}
