//! JSON merge patch (RFC 7386), JSON patch (RFC 6902) and the bridge to strategic merge patch.

use serde_json::{Map, Value};

use crate::errors::ApiError;
use crate::kinds::ResourceType;

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

fn split_pointer(path: &str) -> Result<Vec<String>, ApiError> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| ApiError::unprocessable_patch(format!("invalid JSON pointer {path:?}")))?;
    Ok(rest.split('/').map(unescape).collect())
}

fn parent_mut<'a>(
    doc: &'a mut Value,
    toks: &[String],
    path: &str,
) -> Result<&'a mut Value, ApiError> {
    let mut cur = doc;
    for t in toks {
        cur = match cur {
            Value::Object(m) => m.get_mut(t),
            Value::Array(a) => t.parse::<usize>().ok().and_then(move |i| a.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| ApiError::unprocessable_patch(format!("doc is missing path: \"{path}\"")))?;
    }
    Ok(cur)
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), ApiError> {
    let toks = split_pointer(path)?;
    let Some((last, parent)) = toks.split_last() else {
        *doc = value;
        return Ok(());
    };
    match parent_mut(doc, parent, path)? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(a) => {
            let idx = if last == "-" {
                a.len()
            } else {
                last.parse::<usize>().map_err(|_| {
                    ApiError::unprocessable_patch(format!("invalid index in {path}"))
                })?
            };
            if idx > a.len() {
                return Err(ApiError::unprocessable_patch(format!(
                    "add operation does not apply: index out of range in {path}"
                )));
            }
            a.insert(idx, value);
            Ok(())
        }
        _ => Err(ApiError::unprocessable_patch(format!(
            "doc is missing path: \"{path}\""
        ))),
    }
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, ApiError> {
    let toks = split_pointer(path)?;
    let Some((last, parent)) = toks.split_last() else {
        return Err(ApiError::unprocessable_patch("cannot remove the root"));
    };
    let missing = || {
        ApiError::unprocessable_patch(format!(
            "remove operation does not apply: doc is missing path: \"{path}\""
        ))
    };
    match parent_mut(doc, parent, path)? {
        Value::Object(m) => m.remove(last).ok_or_else(missing),
        Value::Array(a) => {
            let idx: usize = last.parse().map_err(|_| missing())?;
            if idx < a.len() {
                Ok(a.remove(idx))
            } else {
                Err(missing())
            }
        }
        _ => Err(missing()),
    }
}

fn get<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    if path.is_empty() {
        return Some(doc);
    }
    doc.pointer(path)
}

/// Applies an RFC 6902 JSON patch (`add`, `remove`, `replace`, `move`, `copy`, `test`).
pub fn json_patch(target: &Value, patch: &Value) -> Result<Value, ApiError> {
    let ops = patch
        .as_array()
        .ok_or_else(|| ApiError::bad_request("json patch must be an array of operations"))?;
    let mut doc = target.clone();
    for op in ops {
        let path = op["path"]
            .as_str()
            .ok_or_else(|| ApiError::bad_request("json patch operation without path"))?;
        match op["op"].as_str().unwrap_or("") {
            "add" => add(&mut doc, path, op["value"].clone())?,
            "remove" => {
                remove(&mut doc, path)?;
            }
            "replace" => {
                if get(&doc, path).is_none() {
                    return Err(ApiError::unprocessable_patch(format!(
                        "replace operation does not apply: doc is missing key: {path}"
                    )));
                }
                if path.is_empty() {
                    doc = op["value"].clone();
                } else if let Some(slot) = doc.pointer_mut(path) {
                    *slot = op["value"].clone();
                }
            }
            "move" => {
                let from = op["from"]
                    .as_str()
                    .ok_or_else(|| ApiError::bad_request("move without from"))?;
                let v = remove(&mut doc, from)?;
                add(&mut doc, path, v)?;
            }
            "copy" => {
                let from = op["from"]
                    .as_str()
                    .ok_or_else(|| ApiError::bad_request("copy without from"))?;
                let v = get(&doc, from).cloned().ok_or_else(|| {
                    ApiError::unprocessable_patch(format!("copy from missing path {from}"))
                })?;
                add(&mut doc, path, v)?;
            }
            "test" => {
                if get(&doc, path) != Some(&op["value"]) {
                    return Err(ApiError::unprocessable_patch(format!(
                        "testing value {path} failed: test failed"
                    )));
                }
            }
            other => return Err(ApiError::bad_request(format!("Unexpected kind: {other}"))),
        }
    }
    Ok(doc)
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
        assert_eq!(
            json_patch(&t, &json!([{"op": "test", "path": "/l", "value": []}]))
                .err()
                .map(|e| e.code),
            Some(422)
        );
        assert_eq!(
            json_patch(&t, &json!([{"op": "remove", "path": "/nope"}]))
                .err()
                .map(|e| e.code),
            Some(422)
        );
    }
}
