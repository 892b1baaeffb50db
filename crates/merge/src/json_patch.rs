//! JSON patch (RFC 6902) over [`Node`] trees.
//!
//! [`Mode::Strict`] follows the RFC. [`Mode::Kustomize`] reproduces the JSON-patch library
//! `kubectl kustomize` uses: `replace` of a missing object member adds it, `copy` from a
//! missing path copies `null`, `test` of a missing path against `null` passes, array indices
//! may be negative (counted from the end) or have leading zeros, and a path without its
//! leading `/` loses its first token.

use fjord_yaml::{Node, Tag};

mod budget;
pub use budget::{MAX_DEPTH, MAX_NODES, MIN_NODES};

/// Which JSON-patch semantics to follow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// RFC 6902 exactly (the API server).
    #[default]
    Strict,
    /// As `kubectl kustomize` applies patches.
    Kustomize,
}

/// Why a JSON patch failed. Every operation error names the operation's index (from 0), its
/// `op` and the path concerned.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JsonPatchError {
    /// The patch is not a sequence.
    #[error("json patch is not a list of operations")]
    NotAList,
    /// An operation is not a mapping.
    #[error("json patch operation {index} is not a mapping")]
    OpNotMap {
        /// The operation's index.
        index: usize,
    },
    /// `op` is missing or unknown.
    #[error("json patch operation {index}: Unexpected kind: {op}")]
    UnknownOp {
        /// The operation's index.
        index: usize,
        /// The `op` value (`unknown` when missing).
        op: String,
    },
    /// A required member (`path`, `from`, `value`) is missing.
    #[error(
        "json patch operation {index}: {op} operation failed to decode {member}: missing value"
    )]
    MissingMember {
        /// The operation's index.
        index: usize,
        /// The operation.
        op: String,
        /// The missing member.
        member: &'static str,
    },
    /// A path is not a JSON pointer.
    #[error("json patch operation {index}: {op}: invalid JSON pointer {path:?}")]
    BadPointer {
        /// The operation's index.
        index: usize,
        /// The operation.
        op: String,
        /// The pointer.
        path: String,
    },
    /// The path (or its parent) does not exist.
    #[error("json patch operation {index}: {op} operation does not apply: doc is missing path: {path:?}")]
    MissingPath {
        /// The operation's index.
        index: usize,
        /// The operation.
        op: String,
        /// The pointer.
        path: String,
    },
    /// The parent exists but the member or index does not.
    #[error(
        "json patch operation {index}: {op} operation does not apply: doc is missing key: {path}"
    )]
    MissingKey {
        /// The operation's index.
        index: usize,
        /// The operation.
        op: String,
        /// The pointer.
        path: String,
    },
    /// An array index is not a number or is out of range.
    #[error("json patch operation {index}: {op}: bad array index in {path:?}")]
    BadIndex {
        /// The operation's index.
        index: usize,
        /// The operation.
        op: String,
        /// The pointer.
        path: String,
    },
    /// The patch would grow the document past ten times its and the patch's size (at least
    /// [`MIN_NODES`], at most [`MAX_NODES`]) or nest it past [`MAX_DEPTH`] (a `copy` bomb).
    #[error(
        "json patch operation {index}: {op} operation refused: the document would exceed {limit}"
    )]
    TooLarge {
        /// The operation's index.
        index: usize,
        /// The operation.
        op: String,
        /// The limit, in words.
        limit: String,
    },
    /// `move` into one of its own children.
    #[error("json patch operation {index}: cannot move {from:?} into its own child {path:?}")]
    MoveIntoChild {
        /// The operation's index.
        index: usize,
        /// The source pointer.
        from: String,
        /// The destination pointer.
        path: String,
    },
    /// A `test` operation found another value.
    #[error("json patch operation {index}: testing value {path} failed: test failed")]
    TestFailed {
        /// The operation's index.
        index: usize,
        /// The pointer.
        path: String,
    },
}

/// Applies a JSON patch (a sequence of operations) to `doc`.
pub fn apply(doc: &mut Node, patch: &Node, mode: Mode) -> Result<(), JsonPatchError> {
    let ops = patch.as_seq().ok_or(JsonPatchError::NotAList)?;
    let mut budget = budget::Budget::new(doc, patch);
    for (index, op) in ops.iter().enumerate() {
        let map = op.as_map().ok_or(JsonPatchError::OpNotMap { index })?;
        let name = map
            .get("op")
            .and_then(Node::as_str)
            .unwrap_or("unknown")
            .to_string();
        let ctx = OpCtx {
            index,
            op: name.clone(),
            mode,
        };
        let member = |m: &'static str| {
            map.get(m).ok_or_else(|| JsonPatchError::MissingMember {
                index,
                op: name.clone(),
                member: m,
            })
        };
        let pointer = |m: &'static str| -> Result<String, JsonPatchError> {
            let n = member(m)?;
            Ok(n.as_scalar().map(|s| s.value.clone()).unwrap_or_default())
        };
        match name.as_str() {
            "add" => {
                let (path, value) = (pointer("path")?, member("value")?);
                ctx.admit(&mut budget, &path, value, false)?;
                ctx.add(doc, &path, value.clone())?
            }
            "remove" => {
                ctx.remove(doc, &pointer("path")?)?;
            }
            "replace" => {
                let (path, value) = (pointer("path")?, member("value")?);
                ctx.admit(&mut budget, &path, value, false)?;
                ctx.replace(doc, &path, value.clone())?
            }
            "move" => {
                let (from, path) = (pointer("from")?, pointer("path")?);
                if path.starts_with(&format!("{from}/")) {
                    return Err(JsonPatchError::MoveIntoChild { index, from, path });
                }
                let v = ctx.remove(doc, &from)?;
                ctx.admit(&mut budget, &path, &v, true)?;
                ctx.add(doc, &path, v)?;
            }
            "copy" => {
                let (from, path) = (pointer("from")?, pointer("path")?);
                let tokens = ctx.tokens(&from)?;
                let v = match (get(doc, &tokens, mode), mode) {
                    (Some(v), _) => {
                        ctx.admit(&mut budget, &path, v, false)?;
                        v.clone()
                    }
                    (None, Mode::Kustomize) => Node::null(),
                    (None, Mode::Strict) => return Err(ctx.missing_path(&from)),
                };
                ctx.add(doc, &path, v)?;
            }
            "test" => {
                let path = pointer("path")?;
                let want = member("value")?;
                let tokens = ctx.tokens(&path)?;
                let ok = match get(doc, &tokens, mode) {
                    Some(v) => json_eq(v, want),
                    None => mode == Mode::Kustomize && want.is_null(),
                };
                if !ok {
                    return Err(JsonPatchError::TestFailed { index, path });
                }
            }
            _ => return Err(JsonPatchError::UnknownOp { index, op: name }),
        }
    }
    Ok(())
}

/// One operation's identity, for errors, and the mode.
struct OpCtx {
    index: usize,
    op: String,
    mode: Mode,
}

impl OpCtx {
    fn missing_path(&self, path: &str) -> JsonPatchError {
        JsonPatchError::MissingPath {
            index: self.index,
            op: self.op.clone(),
            path: path.into(),
        }
    }
    fn missing_key(&self, path: &str) -> JsonPatchError {
        JsonPatchError::MissingKey {
            index: self.index,
            op: self.op.clone(),
            path: path.into(),
        }
    }
    fn bad_index(&self, path: &str) -> JsonPatchError {
        JsonPatchError::BadIndex {
            index: self.index,
            op: self.op.clone(),
            path: path.into(),
        }
    }

    /// Checks a value about to be placed at `path` against the budget (`moved`: it is already
    /// part of the document).
    fn admit(
        &self,
        budget: &mut budget::Budget,
        path: &str,
        value: &Node,
        moved: bool,
    ) -> Result<(), JsonPatchError> {
        let tokens = self.tokens(path)?.len();
        let admitted = if moved {
            budget.moved(tokens, value)
        } else {
            budget.add(tokens, value)
        };
        admitted.map_err(|e| JsonPatchError::TooLarge {
            index: self.index,
            op: self.op.clone(),
            limit: e.describe(),
        })
    }

    /// Splits a pointer into unescaped tokens.
    fn tokens(&self, path: &str) -> Result<Vec<String>, JsonPatchError> {
        if path.is_empty() {
            return Ok(Vec::new());
        }
        let rest = match (path.strip_prefix('/'), self.mode) {
            (Some(r), _) => r,
            (None, Mode::Kustomize) => path.split_once('/').map(|(_, r)| r).unwrap_or(""),
            (None, Mode::Strict) => {
                return Err(JsonPatchError::BadPointer {
                    index: self.index,
                    op: self.op.clone(),
                    path: path.into(),
                });
            }
        };
        if path.strip_prefix('/').is_none() && rest.is_empty() {
            return Ok(Vec::new());
        }
        Ok(rest
            .split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect())
    }

    /// Parses an array index (`allow_end`: `-` or `len` is allowed, for add).
    fn array_index(
        &self,
        token: &str,
        len: usize,
        for_add: bool,
        path: &str,
    ) -> Result<usize, JsonPatchError> {
        if for_add && token == "-" {
            return Ok(len);
        }
        let strict_ok =
            token == "0" || (!token.starts_with('0') && token.bytes().all(|b| b.is_ascii_digit()));
        let n: i64 = match self.mode {
            Mode::Strict if !strict_ok || token.is_empty() => return Err(self.bad_index(path)),
            _ => token.parse().map_err(|_| self.bad_index(path))?,
        };
        let len_i = len as i64;
        let idx = if n < 0 && self.mode == Mode::Kustomize {
            if n < -len_i {
                return Err(self.bad_index(path));
            }
            if for_add {
                n + len_i + 1
            } else {
                n + len_i
            }
        } else {
            n
        };
        let limit = if for_add { len_i } else { len_i - 1 };
        if idx < 0 || idx > limit {
            return Err(if for_add {
                self.missing_path(path)
            } else {
                self.missing_key(path)
            });
        }
        Ok(idx as usize)
    }

    /// The parent of the pointer's target and the last token.
    fn parent<'a>(
        &self,
        doc: &'a mut Node,
        path: &str,
    ) -> Result<(&'a mut Node, String), JsonPatchError> {
        let mut tokens = self.tokens(path)?;
        let last = tokens.pop().ok_or_else(|| self.missing_path(path))?;
        let parent = get_mut(doc, &tokens, self.mode).ok_or_else(|| self.missing_path(path))?;
        Ok((parent, last))
    }

    fn add(&self, doc: &mut Node, path: &str, value: Node) -> Result<(), JsonPatchError> {
        if self.tokens(path)?.is_empty() {
            *doc = value;
            return Ok(());
        }
        let (parent, last) = self.parent(doc, path)?;
        match parent {
            Node::Map(m) => {
                m.insert(last, value);
            }
            Node::Seq(items) => {
                let i = self.array_index(&last, items.len(), true, path)?;
                items.insert(i, value);
            }
            Node::Scalar(_) => return Err(self.missing_path(path)),
        }
        Ok(())
    }

    fn remove(&self, doc: &mut Node, path: &str) -> Result<Node, JsonPatchError> {
        if self.tokens(path)?.is_empty() {
            return Err(self.missing_path(path));
        }
        let (parent, last) = self.parent(doc, path)?;
        match parent {
            Node::Map(m) => m.shift_remove(&last).ok_or_else(|| self.missing_key(path)),
            Node::Seq(items) => {
                let i = self.array_index(&last, items.len(), false, path)?;
                Ok(items.remove(i))
            }
            Node::Scalar(_) => Err(self.missing_path(path)),
        }
    }

    fn replace(&self, doc: &mut Node, path: &str, value: Node) -> Result<(), JsonPatchError> {
        if self.tokens(path)?.is_empty() {
            *doc = value;
            return Ok(());
        }
        let (parent, last) = self.parent(doc, path)?;
        match parent {
            Node::Map(m) => match m.get_mut(&last) {
                Some(slot) => *slot = value,
                None if self.mode == Mode::Kustomize => {
                    m.insert(last, value);
                }
                None => return Err(self.missing_key(path)),
            },
            Node::Seq(items) => {
                if last == "-" {
                    return Err(self.missing_key(path));
                }
                let i = self.array_index(&last, items.len(), false, path)?;
                items[i] = value;
            }
            Node::Scalar(_) => return Err(self.missing_path(path)),
        }
        Ok(())
    }
}

/// Parses an index for reading (no `-`; negative from the end in kustomize mode).
fn read_index(token: &str, len: usize, mode: Mode) -> Option<usize> {
    let n: i64 = token.parse().ok()?;
    let strict_ok = token == "0" || (!token.starts_with('0') && !token.starts_with('-'));
    let idx = match mode {
        Mode::Strict if !strict_ok => return None,
        Mode::Kustomize if n < 0 => n + len as i64,
        _ => n,
    };
    (0..len as i64).contains(&idx).then_some(idx as usize)
}

/// The node at `tokens`.
fn get<'a>(doc: &'a Node, tokens: &[String], mode: Mode) -> Option<&'a Node> {
    tokens.iter().try_fold(doc, |n, t| match n {
        Node::Map(m) => m.get(t),
        Node::Seq(items) => items.get(read_index(t, items.len(), mode)?),
        Node::Scalar(_) => None,
    })
}

/// The node at `tokens`, mutably.
fn get_mut<'a>(doc: &'a mut Node, tokens: &[String], mode: Mode) -> Option<&'a mut Node> {
    tokens.iter().try_fold(doc, |n, t| match n {
        Node::Map(m) => m.get_mut(t),
        Node::Seq(items) => {
            let i = read_index(t, items.len(), mode)?;
            items.get_mut(i)
        }
        Node::Scalar(_) => None,
    })
}

/// JSON equality: numbers compare by value, maps ignore key order.
pub fn json_eq(a: &Node, b: &Node) -> bool {
    match (a, b) {
        (Node::Map(x), Node::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        (Node::Seq(x), Node::Seq(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| json_eq(v, w))
        }
        (Node::Scalar(x), Node::Scalar(y)) => {
            let num = |s: &fjord_yaml::Scalar| match s.tag {
                Tag::Int | Tag::Float => s.value.replace('_', "").parse::<f64>().ok(),
                _ => None,
            };
            match (num(x), num(y)) {
                (Some(p), Some(q)) => p == q,
                _ => {
                    let class = |t: Tag| match t {
                        Tag::Null => 0,
                        Tag::Bool => 1,
                        Tag::Int | Tag::Float => 2,
                        _ => 3,
                    };
                    class(x.tag) == class(y.tag) && (x.tag == Tag::Null || x.value == y.value)
                }
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testjson::j;

    fn run(doc: &str, patch: &str, mode: Mode) -> Result<Node, JsonPatchError> {
        let mut d = j(doc);
        apply(&mut d, &j(patch), mode)?;
        Ok(d)
    }

    #[test]
    fn rfc_examples() {
        let out = run(
            r#"{"foo":["bar","baz"]}"#,
            r#"[{"op":"add","path":"/foo/1","value":"qux"}]"#,
            Mode::Strict,
        );
        assert_eq!(out.unwrap(), j(r#"{"foo":["bar","qux","baz"]}"#));
        let out = run(
            r#"{"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}}"#,
            r#"[{"op":"move","from":"/foo/waldo","path":"/qux/thud"}]"#,
            Mode::Strict,
        );
        assert_eq!(
            out.unwrap(),
            j(r#"{"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}}"#)
        );
        let out = run(
            r#"{"foo":["a"]}"#,
            r#"[{"op":"add","path":"/foo/-","value":["b"]}]"#,
            Mode::Strict,
        );
        assert_eq!(out.unwrap(), j(r#"{"foo":["a",["b"]]}"#));
        let out = run(
            r#"{"/":0,"m~n":8}"#,
            r#"[{"op":"test","path":"/~1","value":0},{"op":"remove","path":"/m~0n"},{"op":"copy","from":"/~1","path":"/c"}]"#,
            Mode::Strict,
        );
        assert_eq!(out.unwrap(), j(r#"{"/":0,"c":0}"#));
        let out = run(
            r#"{"a":1}"#,
            r#"[{"op":"replace","path":"","value":{"b":2}}]"#,
            Mode::Strict,
        );
        assert_eq!(out.unwrap(), j(r#"{"b":2}"#));
    }

    #[test]
    fn strict_errors_name_index_and_path() {
        let e = run(
            r#"{"a":{}}"#,
            r#"[{"op":"add","path":"/a/b","value":1},{"op":"remove","path":"/a/zz"}]"#,
            Mode::Strict,
        )
        .unwrap_err();
        assert_eq!(
            e,
            JsonPatchError::MissingKey {
                index: 1,
                op: "remove".into(),
                path: "/a/zz".into()
            }
        );
        let e = run(
            r#"{}"#,
            r#"[{"op":"add","path":"/x/y","value":1}]"#,
            Mode::Strict,
        )
        .unwrap_err();
        assert!(
            e.to_string().contains(
                "operation 0: add operation does not apply: doc is missing path: \"/x/y\""
            ),
            "{e}"
        );
        let e = run(
            r#"{"a":[1]}"#,
            r#"[{"op":"replace","path":"/a/zz","value":1}]"#,
            Mode::Strict,
        )
        .unwrap_err();
        assert!(matches!(e, JsonPatchError::BadIndex { .. }));
        let e = run(
            r#"{"a":[1]}"#,
            r#"[{"op":"add","path":"/a/2","value":1}]"#,
            Mode::Strict,
        )
        .unwrap_err();
        assert!(matches!(e, JsonPatchError::MissingPath { .. }));
        let e = run(
            r#"{"a":1}"#,
            r#"[{"op":"test","path":"/a","value":"1"}]"#,
            Mode::Strict,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "json patch operation 0: testing value /a failed: test failed"
        );
        let e = run(r#"{"a":1}"#, r#"[{"path":"/a"}]"#, Mode::Strict).unwrap_err();
        assert_eq!(
            e,
            JsonPatchError::UnknownOp {
                index: 0,
                op: "unknown".into()
            }
        );
        let e = run(r#"{"a":1}"#, r#"[{"op":"add","value":1}]"#, Mode::Strict).unwrap_err();
        assert_eq!(
            e.to_string(),
            "json patch operation 0: add operation failed to decode path: missing value"
        );
        let e = run(
            r#"{"a":{"b":1}}"#,
            r#"[{"op":"move","from":"/a","path":"/a/c"}]"#,
            Mode::Strict,
        )
        .unwrap_err();
        assert!(matches!(e, JsonPatchError::MoveIntoChild { .. }));
        let e = run(
            r#"{"a":1}"#,
            r#"[{"op":"add","path":"a","value":1}]"#,
            Mode::Strict,
        )
        .unwrap_err();
        assert!(matches!(e, JsonPatchError::BadPointer { .. }));
        assert_eq!(
            run("{}", "{}", Mode::Strict).unwrap_err(),
            JsonPatchError::NotAList
        );
    }

    #[test]
    fn kustomize_mode_quirks() {
        // replace of a missing member adds it
        let out = run(
            r#"{"m":{}}"#,
            r#"[{"op":"replace","path":"/m/zz","value":1}]"#,
            Mode::Kustomize,
        );
        assert_eq!(out.unwrap(), j(r#"{"m":{"zz":1}}"#));
        // but a missing parent is still an error
        assert!(run(
            r#"{}"#,
            r#"[{"op":"replace","path":"/s/a/b","value":1}]"#,
            Mode::Kustomize
        )
        .is_err());
        // negative indices: add -1 appends, remove -1 drops the last
        let out = run(
            r#"{"a":[1,2]}"#,
            r#"[{"op":"add","path":"/a/-1","value":9}]"#,
            Mode::Kustomize,
        );
        assert_eq!(out.unwrap(), j(r#"{"a":[1,2,9]}"#));
        let out = run(
            r#"{"a":[1,2]}"#,
            r#"[{"op":"remove","path":"/a/-1"}]"#,
            Mode::Kustomize,
        );
        assert_eq!(out.unwrap(), j(r#"{"a":[1]}"#));
        // copy from a missing path copies null; test of a missing path against null passes
        let out = run(
            r#"{"m":{}}"#,
            r#"[{"op":"copy","from":"/m/nope","path":"/m/x"},{"op":"test","path":"/m/none","value":null}]"#,
            Mode::Kustomize,
        );
        assert_eq!(out.unwrap(), j(r#"{"m":{"x":null}}"#));
        // a path without a leading slash loses its first token
        let out = run(
            r#"{"m":{}}"#,
            r#"[{"op":"add","path":"m/x","value":1}]"#,
            Mode::Kustomize,
        );
        assert_eq!(out.unwrap(), j(r#"{"m":{},"x":1}"#));
        // leading zeros are read as numbers
        let out = run(
            r#"{"a":[1]}"#,
            r#"[{"op":"add","path":"/a/01","value":2}]"#,
            Mode::Kustomize,
        );
        assert_eq!(out.unwrap(), j(r#"{"a":[1,2]}"#));
        // test compares numbers by value
        assert!(run(
            r#"{"a":[1]}"#,
            r#"[{"op":"test","path":"/a/0","value":1.0}]"#,
            Mode::Kustomize
        )
        .is_ok());
        // replace at `-` is an error
        assert!(run(
            r#"{"a":[1]}"#,
            r#"[{"op":"replace","path":"/a/-","value":1}]"#,
            Mode::Kustomize
        )
        .is_err());
    }
}
