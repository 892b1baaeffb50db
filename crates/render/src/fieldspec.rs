//! Field specs: "in objects of this GVK, the field at this path" — kustomize's `FieldSpec`, the
//! unit every built-in transformer is configured with (`configurations:` files add more).

use fjord_model::Gvk;
use fjord_yaml::{Node, Tag};

/// A field spec. Empty GVK parts match anything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct FieldSpec {
    /// Group to match; empty matches any.
    pub group: String,
    /// Version to match; empty matches any.
    pub version: String,
    /// Kind to match; empty matches any.
    pub kind: String,
    /// Slash-separated path, e.g. `spec/template/spec/containers[]/image`. A segment ending in
    /// `[]` names a sequence whose elements are each visited; a sequence met on the way is
    /// also visited element by element.
    pub path: String,
    /// Create the field when it is missing (`create: true`).
    pub create: bool,
}

impl FieldSpec {
    /// Builds a spec from `kind` and `path` (any group/version).
    pub fn new(kind: &str, path: &str, create: bool) -> FieldSpec {
        FieldSpec {
            kind: kind.into(),
            path: path.into(),
            create,
            ..Default::default()
        }
    }

    /// Whether this spec applies to objects of `gvk`.
    pub fn selects(&self, gvk: &Gvk) -> bool {
        (self.group.is_empty() || self.group == gvk.group)
            && (self.version.is_empty() || self.version == gvk.version)
            && (self.kind.is_empty() || self.kind == gvk.kind)
    }

    /// The path split into segments; `\/` escapes a slash inside a segment.
    pub fn segments(&self) -> Vec<String> {
        split_path(&self.path)
    }

    /// Reads a field spec from a `configurations:`-style mapping
    /// (`group`, `version`, `kind`, `path`, `create`).
    pub fn from_node(n: &Node) -> Option<FieldSpec> {
        let s = |k: &str| n.str_at(&[k]).unwrap_or_default().to_string();
        Some(FieldSpec {
            group: s("group"),
            version: s("version"),
            kind: s("kind"),
            path: n.str_at(&["path"])?.to_string(),
            create: n.str_at(&["create"]) == Some("true"),
        })
    }
}

/// Splits a field path on `/`, honouring `\/` as an escaped slash.
pub fn split_path(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'/') => {
                cur.push('/');
                chars.next();
            }
            '/' => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.retain(|s| !s.is_empty());
    out
}

/// What kind of node to create for the last segment of a missing field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateKind {
    /// Create a mapping (labels, annotations, selectors).
    Map,
    /// Create a scalar (names, namespaces): the visitor sees a `!!null` scalar to fill in.
    Scalar,
}

/// Visits every node at `path` inside `obj` and calls `visit` on it.
///
/// Missing fields are skipped unless `create` is `Some`: then missing mappings on the way are
/// created, and a missing last field is created as the given kind. A segment ending in `[]`
/// is never created. A `!!null` value met on the way is treated as missing. Errors from
/// `visit` stop the walk and are returned.
pub fn walk<E>(
    obj: &mut Node,
    path: &[String],
    create: Option<CreateKind>,
    visit: &mut dyn FnMut(&mut Node) -> Result<(), E>,
) -> Result<(), E> {
    let Some((first, rest)) = path.split_first() else {
        return visit(obj);
    };
    match obj {
        Node::Seq(items) => {
            for item in items {
                walk(item, path, create, visit)?;
            }
            Ok(())
        }
        Node::Map(map) => {
            let (name, is_seq) = match first.strip_suffix("[]") {
                Some(n) => (n, true),
                None => (first.as_str(), false),
            };
            let present = map.get(name).is_some_and(|n| !n.is_null());
            if !present {
                let Some(kind) = create.filter(|_| !is_seq) else {
                    return Ok(());
                };
                let node = if rest.is_empty() && kind == CreateKind::Scalar {
                    Node::scalar("", Tag::Null)
                } else {
                    Node::map()
                };
                map.insert(name.to_string(), node);
            }
            let child = map.get_mut(name).expect("present or just created");
            walk(child, rest, create, visit)
        }
        Node::Scalar(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Node {
        let mut d = Node::map();
        let c1 = {
            let mut c = Node::map();
            c.as_map_mut()
                .unwrap()
                .insert("image".into(), Node::string("nginx"));
            c
        };
        d.ensure_map_path(&["spec", "template", "spec"])
            .unwrap()
            .insert("containers".into(), Node::Seq(vec![c1.clone(), c1]));
        d
    }

    #[test]
    fn visits_every_sequence_element() {
        let mut d = sample();
        let path = split_path("spec/template/spec/containers[]/image");
        let mut seen = 0;
        walk::<()>(&mut d, &path, None, &mut |n| {
            seen += 1;
            *n = Node::string("busybox");
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, 2);
        let c = d
            .get_path(&["spec", "template", "spec", "containers"])
            .unwrap();
        assert_eq!(c.as_seq().unwrap()[1].str_at(&["image"]), Some("busybox"));
    }

    #[test]
    fn creates_only_when_asked() {
        let mut d = sample();
        let path = split_path("spec/template/metadata/labels");
        walk::<()>(&mut d, &path, None, &mut |_| panic!("must not visit")).unwrap();
        walk::<()>(&mut d, &path, Some(CreateKind::Map), &mut |n| {
            n.as_map_mut()
                .unwrap()
                .insert("a".into(), Node::string("b"));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            d.str_at(&["spec", "template", "metadata", "labels", "a"]),
            Some("b")
        );
    }

    #[test]
    fn escaped_slash_stays_in_segment() {
        assert_eq!(
            split_path("metadata/annotations/a.io\\/b"),
            vec!["metadata", "annotations", "a.io/b"]
        );
    }
}
