//! JSON merge patch (RFC 7386) over [`Node`] trees: mappings merge recursively, `null`
//! deletes, anything else (sequences included) replaces.

use fjord_yaml::{Map, Node};

/// Why a merge patch failed. The algorithm itself cannot fail; only its input can.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MergePatchError {
    /// The patch was expected to be a mapping (for object-only callers).
    #[error("merge patch is not a mapping")]
    PatchNotMap,
}

/// Applies `patch` to `target` as RFC 7386 describes.
pub fn apply(target: &mut Node, patch: &Node) -> Result<(), MergePatchError> {
    let Node::Map(pm) = patch else {
        *target = patch.clone();
        return Ok(());
    };
    if !matches!(target, Node::Map(_)) {
        *target = Node::map();
    }
    if let Node::Map(tm) = target {
        merge_into(tm, pm);
    }
    Ok(())
}

/// Applies a patch that must be a mapping (object PATCH requests).
pub fn apply_object(target: &mut Node, patch: &Node) -> Result<(), MergePatchError> {
    if patch.as_map().is_none() {
        return Err(MergePatchError::PatchNotMap);
    }
    apply(target, patch)
}

fn merge_into(tm: &mut Map, pm: &Map) {
    for (k, pv) in pm {
        if pv.is_null() {
            tm.shift_remove(k);
            continue;
        }
        match pv {
            Node::Map(_) => {
                let slot = tm.entry(k.clone()).or_insert_with(Node::map);
                // `apply` cannot fail on a mapping patch.
                let _ = apply(slot, pv);
            }
            _ => {
                tm.insert(k.clone(), pv.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testjson::j;

    fn run(target: &str, patch: &str) -> Node {
        let mut t = j(target);
        apply(&mut t, &j(patch)).unwrap();
        t
    }

    #[test]
    fn rfc7386_appendix_a() {
        let cases = [
            (r#"{"a":"b"}"#, r#"{"a":"c"}"#, r#"{"a":"c"}"#),
            (r#"{"a":"b"}"#, r#"{"b":"c"}"#, r#"{"a":"b","b":"c"}"#),
            (r#"{"a":"b"}"#, r#"{"a":null}"#, r#"{}"#),
            (r#"{"a":"b","b":"c"}"#, r#"{"a":null}"#, r#"{"b":"c"}"#),
            (r#"{"a":["b"]}"#, r#"{"a":"c"}"#, r#"{"a":"c"}"#),
            (r#"{"a":"c"}"#, r#"{"a":["b"]}"#, r#"{"a":["b"]}"#),
            (
                r#"{"a":{"b":"c"}}"#,
                r#"{"a":{"b":"d","c":null}}"#,
                r#"{"a":{"b":"d"}}"#,
            ),
            (r#"{"a":[{"b":"c"}]}"#, r#"{"a":[1]}"#, r#"{"a":[1]}"#),
            (r#"["a","b"]"#, r#"["c","d"]"#, r#"["c","d"]"#),
            (r#"{"a":"b"}"#, r#"["c"]"#, r#"["c"]"#),
            (r#"{"a":"foo"}"#, r#"null"#, r#"null"#),
            (r#"{"a":"foo"}"#, r#""bar""#, r#""bar""#),
            (r#"{"e":null}"#, r#"{"a":1}"#, r#"{"e":null,"a":1}"#),
            (r#"[1,2]"#, r#"{"a":"b","c":null}"#, r#"{"a":"b"}"#),
            (
                r#"{}"#,
                r#"{"a":{"bb":{"ccc":null}}}"#,
                r#"{"a":{"bb":{}}}"#,
            ),
        ];
        for (t, p, want) in cases {
            assert_eq!(run(t, p), j(want), "{t} + {p}");
        }
    }

    #[test]
    fn object_patches_must_be_maps() {
        let mut t = j(r#"{"a":1}"#);
        assert_eq!(
            apply_object(&mut t, &j("[1]")),
            Err(MergePatchError::PatchNotMap)
        );
        assert_eq!(t, j(r#"{"a":1}"#));
    }
}
