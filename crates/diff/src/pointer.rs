//! RFC 6901 JSON pointers removed as a JSON Patch `remove` operation does, and Argo CD's pruning
//! of empty objects after ignore rules were applied.

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
}
