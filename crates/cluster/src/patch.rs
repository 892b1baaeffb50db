//! JSON merge patch (RFC 7386), JSON patch (RFC 6902) and the bridge to strategic merge patch.

use serde_json::{Map, Value};

use crate::errors::ApiError;
use fjord_model::ResourceType;

/// Applies an RFC 7386 merge patch.
pub fn merge_patch(target: &Value, patch: &Value) -> Value {
    let Value::Object(p) = patch else {
        return patch.clone();
    };
    let mut out = match target {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    for (k, v) in p {
        if v.is_null() {
            out.remove(k);
        } else {
            let merged = merge_patch(out.get(k).unwrap_or(&Value::Null), v);
            out.insert(k.clone(), merged);
        }
    }
    Value::Object(out)
}

fn unescape(tok: &str) -> String {
    tok.replace("~1", "/").replace("~0", "~")
}

/// Why a JSON patch operation does not apply. The real server answers every such failure with
/// the same generic 422 ([`ApiError::rejected`]); the reason is kept for tests and debugging.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonPatchError {
    /// The operation's `path` (or `from`) names nothing in the document.
    #[error("{op} operation does not apply: doc is missing path: {path:?}")]
    MissingPath {
        /// The operation.
        op: String,
        /// The path.
        path: String,
    },
    /// An array index is not a number or is out of range.
    #[error("{op} operation does not apply: bad index in {path:?}")]
    BadIndex {
        /// The operation.
        op: String,
        /// The path.
        path: String,
    },
    /// A `test` operation found another value.
    #[error("testing value {path} failed")]
    TestFailed {
        /// The path tested.
        path: String,
    },
    /// The operation is none of the six.
    #[error("unexpected operation {0:?}")]
    UnknownOp(String),
    /// An operation lacks a member it needs.
    #[error("{op} operation without {member}")]
    MissingMember {
        /// The operation.
        op: String,
        /// `path`, `from` or `value`.
        member: &'static str,
    },
}

impl From<JsonPatchError> for ApiError {
    fn from(_: JsonPatchError) -> ApiError {
        ApiError::rejected()
    }
}

/// The tokens of a JSON pointer as the server's JSON patch library splits them: the text before
/// the first `/` is dropped (so `data/a` means `/a`), `""` is the root.
fn split_pointer(path: &str) -> Vec<String> {
    if path.is_empty() {
        return Vec::new();
    }
    path.split('/').skip(1).map(unescape).collect()
}

fn missing(op: &str, path: &str) -> JsonPatchError {
    JsonPatchError::MissingPath {
        op: op.into(),
        path: path.into(),
    }
}

fn parent_mut<'a>(
    doc: &'a mut Value,
    toks: &[String],
    op: &str,
    path: &str,
) -> Result<&'a mut Value, JsonPatchError> {
    let mut cur = doc;
    for t in toks {
        cur = match cur {
            Value::Object(m) => m.get_mut(t),
            Value::Array(a) => t.parse::<usize>().ok().and_then(move |i| a.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| missing(op, path))?;
    }
    Ok(cur)
}

/// Puts `value` at `path`: `add` inserts into arrays, `replace` overwrites (a missing object
/// member is added, as the server's library does).
fn put(doc: &mut Value, op: &str, path: &str, value: Value) -> Result<(), JsonPatchError> {
    let toks = split_pointer(path);
    let Some((last, parent)) = toks.split_last() else {
        *doc = value;
        return Ok(());
    };
    let bad_index = || JsonPatchError::BadIndex {
        op: op.into(),
        path: path.into(),
    };
    match parent_mut(doc, parent, op, path)? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(a) if op == "add" => {
            let idx = if last == "-" {
                a.len()
            } else {
                last.parse::<usize>().map_err(|_| bad_index())?
            };
            if idx > a.len() {
                return Err(bad_index());
            }
            a.insert(idx, value);
            Ok(())
        }
        Value::Array(a) => {
            let slot = last
                .parse::<usize>()
                .ok()
                .and_then(|i| a.get_mut(i))
                .ok_or_else(bad_index)?;
            *slot = value;
            Ok(())
        }
        _ => Err(missing(op, path)),
    }
}

fn remove(doc: &mut Value, op: &str, path: &str) -> Result<Value, JsonPatchError> {
    let toks = split_pointer(path);
    let Some((last, parent)) = toks.split_last() else {
        return Err(missing(op, path));
    };
    match parent_mut(doc, parent, op, path)? {
        Value::Object(m) => m.remove(last).ok_or_else(|| missing(op, path)),
        Value::Array(a) => match last.parse::<usize>() {
            Ok(i) if i < a.len() => Ok(a.remove(i)),
            _ => Err(missing(op, path)),
        },
        _ => Err(missing(op, path)),
    }
}

fn get<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = doc;
    for t in split_pointer(path) {
        cur = match cur {
            Value::Object(m) => m.get(&t)?,
            Value::Array(a) => a.get(t.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn without(op: &str, member: &'static str) -> JsonPatchError {
    JsonPatchError::MissingMember {
        op: op.into(),
        member,
    }
}

/// Applies one RFC 6902 operation.
fn apply_op(doc: &mut Value, op: &Value) -> Result<(), JsonPatchError> {
    let kind = op["op"].as_str().unwrap_or("");
    let path = op["path"].as_str().ok_or_else(|| without(kind, "path"))?;
    let from = || op["from"].as_str().ok_or_else(|| without(kind, "from"));
    let value = || {
        op.get("value")
            .cloned()
            .ok_or_else(|| without(kind, "value"))
    };
    match kind {
        "add" => put(doc, kind, path, value()?),
        "replace" => {
            if !path.is_empty() && get(doc, path).is_none() {
                // A missing member of an existing object is added; anything else is missing.
                let toks = split_pointer(path);
                let parent_is_object = toks
                    .split_last()
                    .and_then(|(_, parent)| {
                        let p = parent.iter().fold(String::new(), |acc, t| {
                            format!("{acc}/{}", t.replace('~', "~0").replace('/', "~1"))
                        });
                        get(doc, &p)
                    })
                    .is_some_and(Value::is_object);
                if !parent_is_object {
                    return Err(missing(kind, path));
                }
            }
            put(doc, kind, path, value()?)
        }
        "remove" => remove(doc, kind, path).map(|_| ()),
        "move" => {
            let v = remove(doc, kind, from()?)?;
            put(doc, "add", path, v)
        }
        "copy" => {
            let f = from()?;
            let v = get(doc, f).cloned().ok_or_else(|| missing(kind, f))?;
            put(doc, "add", path, v)
        }
        "test" => {
            if get(doc, path) == Some(&value()?) {
                Ok(())
            } else {
                Err(JsonPatchError::TestFailed { path: path.into() })
            }
        }
        other => Err(JsonPatchError::UnknownOp(other.into())),
    }
}

/// Applies an RFC 6902 JSON patch (`add`, `remove`, `replace`, `move`, `copy`, `test`) that
/// [`decode`] accepted; `null` is the empty patch.
pub fn json_patch(target: &Value, patch: &Value) -> Result<Value, JsonPatchError> {
    let mut doc = target.clone();
    for op in patch.as_array().into_iter().flatten() {
        apply_op(&mut doc, op)?;
    }
    Ok(doc)
}

/// Decodes a patch body as the real server does (400s in Go's words): a JSON patch against its
/// list of `{op, path, from, value}`, a merge or strategic merge patch as a JSON object (`null`
/// is refused for a merge patch and is the empty patch for a strategic one).
pub fn decode(content_type: &str, body: &[u8]) -> Result<Value, ApiError> {
    let strategic = content_type == "application/strategic-merge-patch+json";
    // The strategic path reports the decoder's error bare; the others name the patch.
    let refuse = |why: String| {
        ApiError::bad_request(if strategic {
            why
        } else {
            format!("error decoding patch: {why}")
        })
    };
    if let Some(why) = crate::handlers::go_syntax_error(body) {
        return Err(refuse(why));
    }
    let patch: Value = serde_json::from_slice(body).map_err(|e| refuse(e.to_string()))?;
    if content_type != "application/json-patch+json" {
        return match patch {
            Value::Object(_) => Ok(patch),
            Value::Null if strategic => Ok(Value::Object(Map::new())),
            Value::Null => Err(ApiError::bad_request("Invalid JSON Patch")),
            other => Err(refuse(format!(
                "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                crate::handlers::go_type_name(&other)
            ))),
        };
    }
    let ty = crate::handlers::go_type_name;
    let ops = match &patch {
        Value::Null => return Ok(patch),
        Value::Array(ops) => ops,
        other => {
            return Err(refuse(format!(
                "json: cannot unmarshal {} into Go value of type []handlers.jsonPatchOp",
                ty(other)
            )))
        }
    };
    for op in ops {
        match op {
            Value::Null => {}
            Value::Object(m) => {
                for (k, v) in m {
                    if matches!(k.as_str(), "op" | "path" | "from")
                        && !v.is_string()
                        && !v.is_null()
                    {
                        return Err(refuse(format!(
                            "json: cannot unmarshal {} into Go struct field jsonPatchOp.{k} of type string",
                            ty(v)
                        )));
                    }
                }
            }
            other => {
                return Err(refuse(format!(
                    "json: cannot unmarshal {} into Go value of type handlers.jsonPatchOp",
                    ty(other)
                )))
            }
        }
    }
    Ok(patch)
}

/// Applies a strategic merge patch for a built-in kind, using fjord-merge's schema table.
pub fn strategic(rt: &ResourceType, target: &Value, patch: &Value) -> Result<Value, ApiError> {
    crate::smp::apply(rt, target, patch)
}

impl ApiError {
    /// 422 for a patch that cannot be applied.
    pub fn unprocessable_patch(message: impl Into<String>) -> ApiError {
        let mut e = ApiError::invalid("", "", "", Vec::new());
        e.message = message.into();
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_deletes_with_null() {
        let t = json!({"a": {"b": 1, "c": 2}, "l": [1, 2]});
        let p = json!({"a": {"b": null, "d": 3}, "l": [3]});
        assert_eq!(
            merge_patch(&t, &p),
            json!({"a": {"c": 2, "d": 3}, "l": [3]})
        );
    }

    #[test]
    fn json_patch_ops() {
        let t = json!({"metadata": {"labels": {"a": "1"}}, "l": [1, 2]});
        let p = json!([
            {"op": "add", "path": "/metadata/labels/b", "value": "2"},
            {"op": "replace", "path": "/metadata/labels/a", "value": "x"},
            {"op": "remove", "path": "/l/0"},
            {"op": "add", "path": "/l/-", "value": 9},
            {"op": "test", "path": "/l", "value": [2, 9]},
            {"op": "copy", "from": "/metadata/labels/a", "path": "/c"}
        ]);
        let out = json_patch(&t, &p).expect("patch");
        assert_eq!(
            out,
            json!({"metadata": {"labels": {"a": "x", "b": "2"}}, "l": [2, 9], "c": "x"})
        );
        assert!(matches!(
            json_patch(&t, &json!([{"op": "test", "path": "/l", "value": []}])),
            Err(JsonPatchError::TestFailed { .. })
        ));
        assert!(matches!(
            json_patch(&t, &json!([{"op": "remove", "path": "/nope"}])),
            Err(JsonPatchError::MissingPath { .. })
        ));
        assert!(matches!(
            json_patch(&t, &json!([{"op": "frobnicate", "path": "/l"}])),
            Err(JsonPatchError::UnknownOp(_))
        ));
        let e: ApiError = JsonPatchError::UnknownOp("x".into()).into();
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                422,
                "the server rejected our request due to an error in our request"
            )
        );
        // As the server's library: replacing a missing member adds it.
        let out = json_patch(
            &t,
            &json!([{"op": "replace", "path": "/metadata/labels/z", "value": "1"}]),
        )
        .expect("replace");
        assert_eq!(out["metadata"]["labels"]["z"], "1");
    }

    #[test]
    fn json_patch_bodies_are_decoded_as_go_does() {
        let ct = "application/json-patch+json";
        let msg = |body: &str| decode(ct, body.as_bytes()).expect_err(body).message;
        assert_eq!(
            msg("{\"op\":\"add\"}"),
            "error decoding patch: json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp"
        );
        assert_eq!(
            msg("[1]"),
            "error decoding patch: json: cannot unmarshal number into Go value of type handlers.jsonPatchOp"
        );
        assert_eq!(
            msg("[{\"op\":5}]"),
            "error decoding patch: json: cannot unmarshal number into Go struct field jsonPatchOp.op of type string"
        );
        assert_eq!(
            decode("application/merge-patch+json", b"{\"data\":")
                .expect_err("eof")
                .message,
            "error decoding patch: unexpected end of JSON input"
        );
        assert!(decode(ct, b"null").is_ok());
        let smp = "application/strategic-merge-patch+json";
        assert_eq!(
            decode(smp, b"[1]").expect_err("array").message,
            "json: cannot unmarshal array into Go value of type map[string]interface {}"
        );
        assert_eq!(decode(smp, b"null").ok(), Some(json!({})));
        assert_eq!(
            decode("application/merge-patch+json", b"null")
                .expect_err("null")
                .message,
            "Invalid JSON Patch"
        );
    }
}
