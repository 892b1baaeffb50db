//! Bounds on what one JSON patch may build. `copy` can double a document with every pair of
//! operations (`copy /a → /b`, `copy "" → /a`) and nest it one level deeper each time, so a
//! patch of a few hundred bytes could otherwise ask for 2^40 nodes, or a nesting deep enough
//! to overflow the stack of whatever walks the result. The limits follow the YAML parser's
//! alias budget: a patch may grow a document to ten times the nodes of the document and the
//! patch together (at least [`MIN_NODES`], at most [`MAX_NODES`]), and nest it no deeper than
//! the parser accepts.

use fjord_yaml::Node;

/// Most nodes a document may ever reach while one JSON patch is applied.
pub const MAX_NODES: usize = 5_000_000;
/// Nodes a document may always reach, however small it and the patch are.
pub const MIN_NODES: usize = 100_000;
/// Growth allowed: this many nodes per node of the document and the patch.
const GROWTH: usize = 10;
/// Deepest nesting of collections a document may reach while one JSON patch is applied.
pub const MAX_DEPTH: usize = 1000;

/// Which limit an operation would break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Exceeded {
    /// The node limit (the number).
    Nodes(usize),
    /// [`MAX_DEPTH`].
    Depth,
}

impl Exceeded {
    /// The limit, for messages.
    pub(super) fn describe(self) -> String {
        match self {
            Exceeded::Nodes(limit) => format!("{limit} nodes"),
            Exceeded::Depth => format!("a nesting depth of {MAX_DEPTH}"),
        }
    }
}

/// An upper bound of the patched document's size and depth, raised as values are added (a
/// removal does not lower it: the bound stays cheap and conservative).
pub(super) struct Budget {
    nodes: usize,
    depth: usize,
    limit: usize,
}

impl Budget {
    /// The budget of `doc` as it is before `patch` is applied.
    pub(super) fn new(doc: &Node, patch: &Node) -> Budget {
        let (nodes, depth) = measure(doc);
        let (patch_nodes, _) = measure(patch);
        let limit = nodes
            .saturating_add(patch_nodes)
            .saturating_mul(GROWTH)
            .clamp(MIN_NODES, MAX_NODES);
        Budget {
            nodes,
            depth,
            limit,
        }
    }

    /// Admits a new copy of `value` placed `tokens` levels below the root.
    pub(super) fn add(&mut self, tokens: usize, value: &Node) -> Result<(), Exceeded> {
        let (nodes, depth) = measure(value);
        let nodes = self.nodes.saturating_add(nodes);
        if nodes > self.limit {
            return Err(Exceeded::Nodes(self.limit));
        }
        self.nodes = nodes;
        self.place(tokens, depth)
    }

    /// Admits moving `value` (already counted) to `tokens` levels below the root.
    pub(super) fn moved(&mut self, tokens: usize, value: &Node) -> Result<(), Exceeded> {
        let (_, depth) = measure(value);
        self.place(tokens, depth)
    }

    fn place(&mut self, tokens: usize, depth: usize) -> Result<(), Exceeded> {
        let depth = self.depth.max(tokens.saturating_add(depth));
        if depth > MAX_DEPTH {
            return Err(Exceeded::Depth);
        }
        self.depth = depth;
        Ok(())
    }
}

/// Nodes in `root` and its nesting depth (collections), without recursion.
fn measure(root: &Node) -> (usize, usize) {
    let (mut nodes, mut depth) = (0usize, 0usize);
    let mut stack = vec![(root, 0usize)];
    while let Some((node, level)) = stack.pop() {
        nodes += 1;
        match node {
            Node::Map(m) => {
                depth = depth.max(level + 1);
                stack.extend(m.values().map(|v| (v, level + 1)));
            }
            Node::Seq(items) => {
                depth = depth.max(level + 1);
                stack.extend(items.iter().map(|v| (v, level + 1)));
            }
            Node::Scalar(_) => {}
        }
    }
    (nodes, depth)
}

#[cfg(test)]
mod tests {
    use super::super::{apply, json_eq, JsonPatchError, Mode};
    use super::*;

    fn yaml(text: &str) -> Node {
        fjord_yaml::parse_document(text.as_bytes()).unwrap()
    }

    /// Found by `fuzz/` (target `merge`): 484 bytes of `copy` operations doubling the
    /// document 40 times ran out of memory; refused once the document passes ten times its and
    /// the patch's size. Kept as `fuzz/corpus/merge/regression-copy-bomb`.
    #[test]
    fn copy_doubling_bomb_is_refused() {
        let mut ops = String::from(
            "- &p {op: copy, from: /a, path: /b}\n- &q {op: copy, from: \"\", path: /a}\n",
        );
        ops.push_str(&"- *p\n- *q\n".repeat(40));
        for mode in [Mode::Kustomize, Mode::Strict] {
            let mut doc = yaml("{a: 1}");
            let err = apply(&mut doc, &yaml(&ops), mode).unwrap_err();
            assert!(
                matches!(&err, JsonPatchError::TooLarge { op, .. } if op == "copy"),
                "{err:?}"
            );
            assert!(err.to_string().contains("100000 nodes"), "{err}");
        }
    }

    /// Copying the root into itself nests the document one level per operation (and grows it
    /// quadratically): refused. Kept as `fuzz/corpus/merge/regression-copy-nesting`.
    #[test]
    fn copy_nesting_bomb_is_refused() {
        let mut ops = String::from("- &c {op: copy, from: \"\", path: /a}\n");
        ops.push_str(&"- *c\n".repeat(1500));
        let mut doc = yaml("{}");
        let err = apply(&mut doc, &yaml(&ops), Mode::Kustomize).unwrap_err();
        assert!(matches!(err, JsonPatchError::TooLarge { .. }), "{err}");
    }

    #[test]
    fn nesting_past_the_parser_limit_is_refused() {
        let ops: String = (1..=1000)
            .map(|i| format!("- {{op: add, path: \"{}\", value: {{}}}}\n", "/a".repeat(i)))
            .collect();
        let mut doc = yaml("{}");
        let err = apply(&mut doc, &yaml(&ops), Mode::Strict).unwrap_err();
        assert!(
            matches!(&err, JsonPatchError::TooLarge { index: 999, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("a nesting depth of 1000"), "{err}");
    }

    #[test]
    fn node_limit_scales_with_the_input() {
        let big = Node::Seq(vec![Node::null(); 1_000_000]);
        assert_eq!(Budget::new(&big, &Node::null()).limit, MAX_NODES);
        let mid = Node::Seq(vec![Node::null(); 19_999]);
        let mut b = Budget::new(&mid, &Node::null());
        assert_eq!(b.limit, 200_010);
        assert_eq!(b.add(1, &mid), Ok(()));
        assert_eq!(b.add(1, &big), Err(Exceeded::Nodes(200_010)));
    }

    #[test]
    fn ordinary_patches_fit() {
        let mut doc = yaml("{a: [1, 2, 3], b: {c: d}}");
        let ops = "- {op: copy, from: /a, path: /e}\n- {op: move, from: /b, path: /e/0}\n\
                   - {op: add, path: /f, value: {g: [h]}}\n- {op: replace, path: /f/g/0, value: i}";
        apply(&mut doc, &yaml(ops), Mode::Strict).unwrap();
        let want = yaml("{a: [1, 2, 3], e: [{c: d}, 1, 2, 3], f: {g: [i]}}");
        assert!(json_eq(&doc, &want), "{doc:?}");
        let mut b = Budget::new(&yaml("{a: {b: 1}}"), &Node::null());
        assert_eq!(b.limit, MIN_NODES);
        assert_eq!(b.add(999, &Node::null()), Ok(()));
        assert_eq!(b.add(1000, &yaml("[1]")), Err(Exceeded::Depth));
        assert_eq!(b.moved(1, &yaml("[[1]]")), Ok(()));
    }
}
