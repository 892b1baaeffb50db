//! `managedFieldsManagers`: fields that a trusted manager owns in the live object (per its
//! `metadata.managedFields` FieldsV1 sets) and whose values differ between live and desired are
//! removed from both, so they never diff (Argo CD's `util/argo/managedfields.Normalize`).
//!
//! FieldsV1 keys: `f:<name>` a map field, `k:<json>` the list item whose key fields equal the
//! JSON object, `v:<json>` the set item equal to the JSON value, `i:<n>` the n-th item, and `.`
//! the node itself.

use serde_json::{Map, Value};

use crate::json_eq;

/// Applies the FieldsV1 sets of every `managedFields` entry of `live` whose manager is in
/// `managers`. Malformed entries are skipped.
pub(crate) fn normalize(live: &mut Value, desired: &mut Value, managers: &[&str]) {
    if managers.is_empty() {
        return;
    }
    let sets: Vec<Value> = live
        .get("metadata")
        .and_then(|m| m.get("managedFields"))
        .and_then(Value::as_array)
        .map(|entries| {
            entries
                .iter()
                .filter(|e| {
                    e.get("manager")
                        .and_then(Value::as_str)
                        .is_some_and(|m| managers.contains(&m))
                })
                .filter_map(|e| e.get("fieldsV1").cloned())
                .collect()
        })
        .unwrap_or_default();
    for set in sets {
        if let Some(tree) = set.as_object() {
            walk(tree, live, desired);
        }
    }
}

/// Where a FieldsV1 key leads inside a container.
enum Step {
    Field(String),
    Item(usize),
}

/// Resolves a FieldsV1 key against `container`.
fn resolve(key: &str, container: &Value) -> Option<Step> {
    if let Some(name) = key.strip_prefix("f:") {
        return container
            .as_object()
            .filter(|m| m.contains_key(name))
            .map(|_| Step::Field(name.to_string()));
    }
    let items = container.as_array()?;
    if let Some(json) = key.strip_prefix("k:") {
        let keys: Map<String, Value> = serde_json::from_str(json).ok()?;
        return items
            .iter()
            .position(|item| {
                item.as_object().is_some_and(|o| {
                    keys.iter()
                        .all(|(k, v)| o.get(k).is_some_and(|w| json_eq(v, w)))
                })
            })
            .map(Step::Item);
    }
    if let Some(json) = key.strip_prefix("v:") {
        let want: Value = serde_json::from_str(json).ok()?;
        return items
            .iter()
            .position(|item| json_eq(item, &want))
            .map(Step::Item);
    }
    if let Some(n) = key.strip_prefix("i:") {
        let i: usize = n.parse().ok()?;
        return (i < items.len()).then_some(Step::Item(i));
    }
    None
}

fn child_mut<'a>(container: &'a mut Value, step: &Step) -> Option<&'a mut Value> {
    match step {
        Step::Field(name) => container.as_object_mut()?.get_mut(name),
        Step::Item(i) => container.as_array_mut()?.get_mut(*i),
    }
}

fn remove(container: &mut Value, step: &Step) {
    match step {
        Step::Field(name) => {
            if let Some(m) = container.as_object_mut() {
                m.shift_remove(name);
            }
        }
        Step::Item(i) => {
            if let Some(a) = container.as_array_mut() {
                if *i < a.len() {
                    a.remove(*i);
                }
            }
        }
    }
}

/// Walks one level of a FieldsV1 tree over the same node of `live` and `desired`.
fn walk(tree: &Map<String, Value>, live: &mut Value, desired: &mut Value) {
    // Leaves that differ, removed after the walk (list indices must stay valid during it).
    let mut drop: Vec<(Step, Step)> = Vec::new();
    for (key, sub) in tree {
        if key == "." {
            continue;
        }
        let (Some(ls), Some(ds)) = (resolve(key, live), resolve(key, desired)) else {
            continue;
        };
        let children = sub
            .as_object()
            .map(|m| m.keys().any(|k| k != "."))
            .unwrap_or(false);
        let (Some(lv), Some(dv)) = (child_mut(live, &ls), child_mut(desired, &ds)) else {
            continue;
        };
        if children {
            if let Some(subtree) = sub.as_object() {
                walk(subtree, lv, dv);
            }
        } else if !json_eq(lv, dv) {
            drop.push((ls, ds));
        }
    }
    let (live_steps, desired_steps): (Vec<Step>, Vec<Step>) = drop.into_iter().unzip();
    remove_all(live, live_steps);
    remove_all(desired, desired_steps);
}

/// Removes every step from `container`, list items from the highest index down so the earlier
/// indices stay valid.
fn remove_all(container: &mut Value, mut steps: Vec<Step>) {
    steps.sort_by_key(|s| match s {
        Step::Item(i) => std::cmp::Reverse(*i),
        Step::Field(_) => std::cmp::Reverse(0),
    });
    for s in &steps {
        remove(container, s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn live_with(fields: Value, manager: &str, body: Value) -> Value {
        let mut v = body;
        v["metadata"]["managedFields"] = json!([
            {"manager": manager, "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": fields}
        ]);
        v
    }

    #[test]
    fn owned_differing_leaf_removed_from_both() {
        let mut live = live_with(
            json!({"f:spec": {"f:replicas": {}}}),
            "hpa",
            json!({"metadata": {}, "spec": {"replicas": 5, "paused": false}}),
        );
        let mut desired = json!({"metadata": {}, "spec": {"replicas": 1, "paused": true}});
        normalize(&mut live, &mut desired, &["hpa"]);
        assert_eq!(desired["spec"], json!({"paused": true}));
        assert_eq!(live["spec"], json!({"paused": false}));
    }

    #[test]
    fn other_managers_and_equal_values_untouched() {
        let body = json!({"metadata": {}, "spec": {"replicas": 5}});
        let mut live = live_with(json!({"f:spec": {"f:replicas": {}}}), "kubectl", body);
        let mut desired = json!({"metadata": {}, "spec": {"replicas": 1}});
        normalize(&mut live, &mut desired, &["hpa"]);
        assert_eq!(desired["spec"]["replicas"], 1);
        let mut live = live_with(
            json!({"f:spec": {"f:replicas": {}}}),
            "hpa",
            json!({"metadata": {}, "spec": {"replicas": 1}}),
        );
        normalize(&mut live, &mut desired, &["hpa"]);
        assert_eq!(desired["spec"]["replicas"], 1);
        assert_eq!(live["spec"]["replicas"], 1);
    }

    #[test]
    fn keyed_list_items_set_values_and_indices() {
        let fields = json!({"f:spec": {"f:containers": {
            "k:{\"name\":\"sidecar\"}": {".": {}, "f:image": {}},
            "k:{\"name\":\"app\"}": {"f:resources": {}}
        }, "f:finalizers": {"v:\"x.io/a\"": {}}, "f:ports": {"i:1": {}}}});
        let mut live = live_with(
            fields,
            "injector",
            json!({"metadata": {}, "spec": {
                "containers": [
                    {"name": "app", "image": "app:1", "resources": {"cpu": "2"}},
                    {"name": "sidecar", "image": "proxy:2"}
                ],
                "finalizers": ["x.io/a"],
                "ports": [80, 443]
            }}),
        );
        let mut desired = json!({"metadata": {}, "spec": {
            "containers": [
                {"name": "sidecar", "image": "proxy:1"},
                {"name": "app", "image": "app:2", "resources": {"cpu": "1"}}
            ],
            "finalizers": ["x.io/a"],
            "ports": [80, 8443]
        }});
        normalize(&mut live, &mut desired, &["injector"]);
        assert_eq!(
            desired["spec"],
            json!({
                "containers": [{"name": "sidecar"}, {"name": "app", "image": "app:2"}],
                "finalizers": ["x.io/a"],
                "ports": [80]
            })
        );
        assert_eq!(
            live["spec"]["containers"],
            json!([{"name": "app", "image": "app:1"}, {"name": "sidecar"}])
        );
        assert_eq!(live["spec"]["ports"], json!([80]));
    }
}
