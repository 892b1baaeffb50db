//! RFC 6901 JSON pointers removed as a JSON Patch `remove` operation does, jq paths deleted as
//! jq's `delpaths` does, and Argo CD's pruning of empty objects after ignore rules were applied.

use std::cmp::Ordering;

use serde_json::Value;

/// Why a pointer could not be removed (Argo CD skips such rules quietly).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PointerError {
    /// The pointer is neither empty nor starts with `/`, or it names the whole document.
    #[error("is not a removable JSON pointer")]
    Invalid,
    /// Some step of the pointer does not exist in the object.
    #[error("names a path the object does not have")]
    Missing,
    /// A jq path step does not fit the value it is applied to (a key into a list, ...).
    #[error("does not fit the object's shape")]
    Shape,
}

/// Decodes one reference token (`~1` is `/`, `~0` is `~`).
fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

fn array_index(token: &str, len: usize) -> Option<usize> {
    if token.is_empty() || (token.len() > 1 && token.starts_with('0')) {
        return None;
    }
    if !token.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    token.parse::<usize>().ok().filter(|i| *i < len)
}

/// Removes the value `pointer` names from `doc`.
pub(crate) fn remove(doc: &mut Value, pointer: &str) -> Result<(), PointerError> {
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(PointerError::Invalid);
    };
    let tokens: Vec<String> = rest.split('/').map(unescape).collect();
    let Some((last, parents)) = tokens.split_last() else {
        return Err(PointerError::Invalid);
    };
    let mut cur = doc;
    for t in parents {
        cur = match cur {
            Value::Object(m) => m.get_mut(t.as_str()).ok_or(PointerError::Missing)?,
            Value::Array(a) => {
                let i = array_index(t, a.len()).ok_or(PointerError::Missing)?;
                &mut a[i]
            }
            _ => return Err(PointerError::Missing),
        };
    }
    match cur {
        Value::Object(m) => m
            .shift_remove(last.as_str())
            .map(|_| ())
            .ok_or(PointerError::Missing),
        Value::Array(a) => {
            let i = array_index(last, a.len()).ok_or(PointerError::Missing)?;
            a.remove(i);
            Ok(())
        }
        _ => Err(PointerError::Missing),
    }
}

/// jq's order of path components: numbers before strings before objects (slices).
fn component_order(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Number(_) => 2,
            Value::String(_) => 3,
            Value::Array(_) => 4,
            Value::Object(_) => 5,
        }
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

fn path_order(a: &Value, b: &Value) -> Ordering {
    let (Some(a), Some(b)) = (a.as_array(), b.as_array()) else {
        return Ordering::Equal;
    };
    for (x, y) in a.iter().zip(b) {
        let o = component_order(x, y);
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

/// An index relative to `len` (negative counts from the end), clamped as jq clamps slices.
fn resolve_index(i: &Value, len: usize) -> Option<i64> {
    let i = i.as_f64()?.floor() as i64;
    Some(if i < 0 { i + len as i64 } else { i })
}

/// jq's `delpaths(paths)`: paths are deleted last-first so list indices stay valid; a path
/// through something absent or `null` deletes nothing; a path that does not fit the value's
/// shape is an error.
pub(crate) fn delete_paths(doc: &mut Value, mut paths: Vec<Value>) -> Result<(), PointerError> {
    paths.sort_by(path_order);
    paths.dedup();
    for path in paths.iter().rev() {
        let Some(steps) = path.as_array() else {
            return Err(PointerError::Shape);
        };
        if steps.is_empty() {
            // `del(.)` makes the whole document null.
            *doc = Value::Null;
            continue;
        }
        delete_path(doc, steps)?;
    }
    Ok(())
}

fn delete_path(cur: &mut Value, steps: &[Value]) -> Result<(), PointerError> {
    let (step, rest) = match steps.split_first() {
        Some(s) => s,
        None => return Ok(()),
    };
    match (cur, step) {
        (Value::Null, _) => Ok(()),
        (Value::Object(m), Value::String(k)) => {
            if rest.is_empty() {
                m.shift_remove(k.as_str());
                Ok(())
            } else {
                m.get_mut(k.as_str())
                    .map_or(Ok(()), |next| delete_path(next, rest))
            }
        }
        (Value::Array(a), Value::Number(_)) => {
            let Some(i) = resolve_index(step, a.len()) else {
                return Err(PointerError::Shape);
            };
            if i < 0 || i as usize >= a.len() {
                return Ok(());
            }
            let i = i as usize;
            if rest.is_empty() {
                a.remove(i);
                Ok(())
            } else {
                delete_path(&mut a[i], rest)
            }
        }
        (Value::Array(a), Value::Object(slice)) => {
            let len = a.len() as i64;
            let bound = |key: &str, default: i64| match slice.get(key) {
                None | Some(Value::Null) => Some(default),
                Some(v) => resolve_index(v, a.len()).map(|i| i.clamp(0, len)),
            };
            let (Some(start), Some(end)) = (bound("start", 0), bound("end", len)) else {
                return Err(PointerError::Shape);
            };
            if !rest.is_empty() {
                // A path into a slice: jq deletes within the sliced items.
                let end = end.max(start);
                for item in &mut a[start as usize..end as usize] {
                    delete_path(item, rest)?;
                }
                return Ok(());
            }
            if start < end {
                a.drain(start as usize..end as usize);
            }
            Ok(())
        }
        _ => Err(PointerError::Shape),
    }
}

/// Argo CD's `removeEmptyObjects`: drops empty maps and lists, recursively; inside lists, maps
/// that end up empty are dropped (other list items stay as they are).
pub(crate) fn remove_empty_objects(obj: &mut serde_json::Map<String, Value>) {
    obj.retain(|_, v| match v {
        Value::Object(m) => {
            remove_empty_objects(m);
            !m.is_empty()
        }
        Value::Array(items) => {
            items.retain_mut(|item| match item {
                Value::Object(m) => {
                    remove_empty_objects(m);
                    !m.is_empty()
                }
                _ => true,
            });
            !items.is_empty()
        }
        _ => true,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn removes_keys_indices_and_escaped_tokens() {
        let mut v = json!({
            "metadata": {"annotations": {"a/b": "1", "c~d": "2", "e": "3"}},
            "list": [10, 20, 30]
        });
        remove(&mut v, "/metadata/annotations/a~1b").unwrap();
        remove(&mut v, "/metadata/annotations/c~0d").unwrap();
        remove(&mut v, "/list/1").unwrap();
        assert_eq!(
            v,
            json!({"metadata": {"annotations": {"e": "3"}}, "list": [10, 30]})
        );
    }

    #[test]
    fn missing_and_invalid_pointers_fail_without_change() {
        let mut v = json!({"a": {"b": [1]}});
        let before = v.clone();
        assert_eq!(remove(&mut v, "/a/c"), Err(PointerError::Missing));
        assert_eq!(remove(&mut v, "/a/b/1"), Err(PointerError::Missing));
        assert_eq!(remove(&mut v, "/a/b/-"), Err(PointerError::Missing));
        assert_eq!(remove(&mut v, "/a/b/01"), Err(PointerError::Missing));
        assert_eq!(remove(&mut v, "a/b"), Err(PointerError::Invalid));
        assert_eq!(remove(&mut v, ""), Err(PointerError::Invalid));
        assert_eq!(v, before);
    }

    #[test]
    fn prunes_empty_maps_and_lists_recursively() {
        let mut v = json!({
            "a": {"b": {"c": {}}},
            "l": [{}, {"x": {}}, 1, [], {"y": 2}],
            "e": [],
            "s": "",
            "n": null
        });
        remove_empty_objects(v.as_object_mut().unwrap());
        assert_eq!(v, json!({"l": [1, [], {"y": 2}], "s": "", "n": null}));
    }

    #[test]
    fn jq_paths_deleted_like_delpaths() {
        let mut v = json!({"a": {"b": 1, "c": 2}, "l": [0, 1, 2, 3, 4], "n": null});
        let paths = vec![
            json!(["l", 1]),
            json!(["l", 3]),
            json!(["a", "b"]),
            json!(["n", "x", "y"]),
            json!(["nope", "deeper"]),
            json!(["l", -1]),
        ];
        delete_paths(&mut v, paths).unwrap();
        assert_eq!(v, json!({"a": {"c": 2}, "l": [0, 2], "n": null}));
        let mut v = json!({"l": [0, 1, 2, 3]});
        delete_paths(&mut v, vec![json!(["l", {"start": 1, "end": 3}])]).unwrap();
        assert_eq!(v, json!({"l": [0, 3]}));
        let mut v = json!({"l": [1]});
        assert_eq!(
            delete_paths(&mut v, vec![json!(["l", "k"])]),
            Err(PointerError::Shape)
        );
    }
}
