//! Secret masking, as Argo CD's `HideSecretData`: every value under a Secret's `data` (after
//! `stringData` was folded in) and under the configured annotations is replaced by a run of `+`.
//!
//! Per key, the objects are visited in the order desired, live, live's last-applied
//! configuration, desired's last-applied configuration; the first distinct value gets `++++++++`
//! (8) and each further distinct value four more `+`. Equal values therefore get equal masks
//! and different values different masks, so a diff still shows *that* a value changed.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value};

use crate::normalize::{normalize_secret, sorted, LAST_APPLIED};

/// The first (shortest) mask.
pub const FIRST_MASK: &str = "++++++++";

/// Masks the Secret values of `desired` and `live` (either may be absent), including inside
/// their `kubectl.kubernetes.io/last-applied-configuration` annotations, and the values of the
/// annotations named in `hide_annotations`.
pub fn hide_secret_data(
    desired: Option<&mut Value>,
    live: Option<&mut Value>,
    hide_annotations: &[String],
) {
    let mut desired = desired;
    let mut live = live;
    // The last-applied configurations, parsed; `Err(())` when the annotation is not JSON.
    let mut live_la = last_applied(live.as_deref());
    let mut desired_la = last_applied(desired.as_deref());

    {
        let mut objs: Vec<&mut Value> = Vec::with_capacity(4);
        objs.extend(desired.as_deref_mut());
        objs.extend(live.as_deref_mut());
        if let Some(Ok(v)) = live_la.as_mut() {
            objs.push(v);
        }
        if let Some(Ok(v)) = desired_la.as_mut() {
            objs.push(v);
        }
        for obj in objs.iter_mut() {
            normalize_secret(obj);
            mask_non_map(obj, "stringData");
            mask_non_map(obj, "data");
        }
        let data_keys = keys_under(&objs, &["data"]);
        hide(&mut objs, &data_keys, &["data"]);
        // Folded into `data` above when it is a map; kept as a safety net for odd shapes.
        let string_data_keys = keys_under(&objs, &["stringData"]);
        hide(&mut objs, &string_data_keys, &["stringData"]);
        let ann: Vec<String> = hide_annotations
            .iter()
            .filter(|a| a.as_str() != LAST_APPLIED)
            .cloned()
            .collect();
        hide(&mut objs, &ann, &["metadata", "annotations"]);
    }

    let hide_la = hide_annotations.iter().any(|a| a == LAST_APPLIED);
    for (obj, la) in [(live, live_la), (desired, desired_la)] {
        let (Some(obj), Some(la)) = (obj, la) else {
            continue;
        };
        let text = match la {
            Ok(v) if !hide_la => {
                serde_json::to_string(&sorted(&v)).unwrap_or_else(|_| FIRST_MASK.to_string())
            }
            // Not JSON (so values cannot be found in it) or asked to hide: hide it whole.
            _ => FIRST_MASK.to_string(),
        };
        if let Some(ann) = obj
            .get_mut("metadata")
            .and_then(|m| m.get_mut("annotations"))
            .and_then(Value::as_object_mut)
        {
            ann.insert(LAST_APPLIED.to_string(), Value::String(text));
        }
    }
}

/// The parsed last-applied configuration of `obj`, if it has the annotation.
fn last_applied(obj: Option<&Value>) -> Option<Result<Value, ()>> {
    let text = obj?
        .get("metadata")?
        .get("annotations")?
        .get(LAST_APPLIED)?;
    Some(match text.as_str().map(serde_json::from_str::<Value>) {
        Some(Ok(v @ Value::Object(_))) => Ok(v),
        _ => Err(()),
    })
}

/// A `data`/`stringData` that is neither a map nor null cannot be masked key by key: mask it
/// whole.
fn mask_non_map(obj: &mut Value, field: &str) {
    if let Some(v) = obj.get_mut(field) {
        if !matches!(v, Value::Object(_) | Value::Null) {
            *v = Value::String(FIRST_MASK.to_string());
        }
    }
}

/// Every key found under the map at `path` in any of `objs`, in a stable order.
fn keys_under(objs: &[&mut Value], path: &[&str]) -> Vec<String> {
    let mut keys = BTreeSet::new();
    for obj in objs {
        if let Some(m) = map_at(obj, path) {
            keys.extend(m.keys().cloned());
        }
    }
    keys.into_iter().collect()
}

fn map_at<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a Map<String, Value>> {
    let mut cur = obj;
    for p in path {
        cur = cur.get(*p)?;
    }
    cur.as_object()
}

fn map_at_mut<'a>(obj: &'a mut Value, path: &[&str]) -> Option<&'a mut Map<String, Value>> {
    let mut cur = obj;
    for p in path {
        cur = cur.get_mut(*p)?;
    }
    cur.as_object_mut()
}

/// Go's `fmt.Sprintf("%s", v)` closely enough to tell values apart.
fn value_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Argo CD's `hide`: per key, one mask per distinct value across the objects.
fn hide(objs: &mut [&mut Value], keys: &[String], path: &[&str]) {
    for key in keys {
        let mut next = FIRST_MASK.to_string();
        let mut masks: HashMap<String, String> = HashMap::new();
        for obj in objs.iter_mut() {
            let Some(m) = map_at_mut(obj, path) else {
                continue;
            };
            let Some(v) = m.get_mut(key) else {
                continue;
            };
            let text = value_text(v);
            let mask = masks
                .entry(text)
                .or_insert_with(|| {
                    let mask = next.clone();
                    next.push_str("++++");
                    mask
                })
                .clone();
            *v = Value::String(mask);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secret(data: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": data})
    }

    #[test]
    fn equal_values_equal_masks_different_values_longer_masks() {
        let mut d = secret(json!({"same": "YQ==", "changed": "Yg==", "new": "Yw=="}));
        let mut l = secret(json!({"same": "YQ==", "changed": "ZA==", "gone": "ZQ=="}));
        hide_secret_data(Some(&mut d), Some(&mut l), &[]);
        assert_eq!(d["data"]["same"], FIRST_MASK);
        assert_eq!(l["data"]["same"], FIRST_MASK);
        assert_eq!(d["data"]["changed"], "++++++++");
        assert_eq!(l["data"]["changed"], "++++++++++++");
        assert_eq!(d["data"]["new"], FIRST_MASK);
        assert_eq!(l["data"]["gone"], FIRST_MASK);
    }

    #[test]
    fn string_data_is_folded_then_masked() {
        let mut d = json!({"kind": "Secret", "stringData": {"p": "a"}});
        let mut l = secret(json!({"p": "YQ=="}));
        hide_secret_data(Some(&mut d), Some(&mut l), &[]);
        assert_eq!(d, json!({"kind": "Secret", "data": {"p": FIRST_MASK}}));
        assert_eq!(l["data"]["p"], FIRST_MASK);
    }

    #[test]
    fn last_applied_is_masked_consistently() {
        let la = json!({"apiVersion": "v1", "kind": "Secret", "data": {"p": "b2xk"}}).to_string();
        let mut l = secret(json!({"p": "bmV3"}));
        l["metadata"]["annotations"] = json!({LAST_APPLIED: la});
        let mut d = secret(json!({"p": "bmV3"}));
        hide_secret_data(Some(&mut d), Some(&mut l), &[]);
        let text = l["metadata"]["annotations"][LAST_APPLIED].as_str().unwrap();
        assert!(!text.contains("b2xk"), "{text}");
        let inner: Value = serde_json::from_str(text).unwrap();
        assert_eq!(inner["data"]["p"], "++++++++++++");
        assert_eq!(l["data"]["p"], FIRST_MASK);
    }

    #[test]
    fn unparsable_last_applied_and_odd_shapes_are_hidden_whole() {
        let mut l = json!({"kind": "Secret", "metadata": {"annotations": {LAST_APPLIED: "{not json"}},
            "data": "c2VjcmV0", "stringData": ["x"]});
        hide_secret_data(None, Some(&mut l), &[]);
        assert_eq!(l["metadata"]["annotations"][LAST_APPLIED], FIRST_MASK);
        assert_eq!(l["data"], FIRST_MASK);
        assert_eq!(l["stringData"], FIRST_MASK);
    }

    #[test]
    fn configured_annotations_are_masked() {
        let mut d =
            json!({"kind": "Secret", "metadata": {"annotations": {"token": "t1", "x": "y"}}});
        let mut l = json!({"kind": "Secret", "metadata": {"annotations": {"token": "t2"}}});
        hide_secret_data(Some(&mut d), Some(&mut l), &["token".to_string()]);
        assert_eq!(
            d["metadata"]["annotations"],
            json!({"token": FIRST_MASK, "x": "y"})
        );
        assert_eq!(l["metadata"]["annotations"]["token"], "++++++++++++");
    }
}
