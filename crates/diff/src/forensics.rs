//! Drift forensics: which field manager last set each field where the live object differs from
//! the desired one, read from the live object's `metadata.managedFields` (FieldsV1 sets).
//!
//! Only paths, manager names, operations and times come out: never a value, so the result of a
//! Secret's comparison is as safe to print as its masked diff.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::json_eq;

/// At most this many drifted fields are listed per object.
pub const MAX_FIELDS: usize = 100;

/// One drifted field and who last set it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    /// Dotted path of the field, e.g. `spec.template.spec.containers[name=web].image`.
    pub path: String,
    /// The field manager whose field set owns the deepest entry on the path (empty: nobody).
    pub manager: String,
    /// `Apply` or `Update` (empty when no manager owns the path).
    pub operation: String,
    /// When that manager last wrote (RFC 3339, as the API server recorded it; may be empty).
    pub time: String,
    /// The subresource written through (`scale`, `status`), empty for the main resource.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subresource: String,
}

impl std::fmt::Display for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.manager.is_empty() {
            return write!(f, "{} (no field manager recorded)", self.path);
        }
        write!(f, "{} set by {}", self.path, self.manager)?;
        if !self.subresource.is_empty() {
            write!(f, " via /{}", self.subresource)?;
        }
        write!(f, " ({})", self.operation)?;
        if !self.time.is_empty() {
            write!(f, " at {}", self.time)?;
        }
        Ok(())
    }
}

/// One step of a path.
#[derive(Debug, Clone)]
enum Step {
    /// An object key.
    Field(String),
    /// A list item: its index and the item itself (matched against `k:` keys).
    Item(usize, Value),
}

/// The drifted fields of `desired` versus `live` (both normalised, as [`crate::ObjectDiff`]
/// holds them), each with the manager found in `managed_fields` (the raw live object's
/// `metadata.managedFields`). At most [`MAX_FIELDS`], in document order.
pub fn drift(desired: &Value, live: &Value, managed_fields: Option<&Value>) -> Vec<Drift> {
    let mut leaves = Vec::new();
    walk(desired, live, &mut Vec::new(), &mut leaves);
    let entries: Vec<&Value> = managed_fields
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    leaves
        .into_iter()
        .take(MAX_FIELDS)
        .map(|steps| owner(&steps, &entries))
        .collect()
}

/// Collects the paths where `d` and `l` differ: a key on one side only, a scalar or a list of
/// scalars that differs, or a list of objects whose items cannot be paired.
fn walk(d: &Value, l: &Value, path: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    if json_eq(d, l) || out.len() >= MAX_FIELDS {
        return;
    }
    match (d, l) {
        (Value::Object(dm), Value::Object(lm)) => {
            let mut keys: Vec<&String> = dm.keys().collect();
            keys.extend(lm.keys().filter(|k| !dm.contains_key(*k)));
            for k in keys {
                path.push(Step::Field(k.clone()));
                match (dm.get(k), lm.get(k)) {
                    (Some(a), Some(b)) => walk(a, b, path, out),
                    _ => out.push(path.clone()),
                }
                path.pop();
            }
        }
        (Value::Array(da), Value::Array(la)) if is_keyed(da) && is_keyed(la) => {
            for (i, item) in la.iter().enumerate() {
                let name = &item["name"];
                path.push(Step::Item(i, item.clone()));
                match da.iter().find(|x| &x["name"] == name) {
                    Some(want) => walk(want, item, path, out),
                    None => out.push(path.clone()),
                }
                path.pop();
            }
            for (i, item) in da.iter().enumerate() {
                if !la.iter().any(|x| x["name"] == item["name"]) {
                    path.push(Step::Item(i, item.clone()));
                    out.push(path.clone());
                    path.pop();
                }
            }
        }
        (Value::Array(da), Value::Array(la))
            if da.len() == la.len() && la.iter().all(Value::is_object) =>
        {
            for (i, (a, b)) in da.iter().zip(la).enumerate() {
                path.push(Step::Item(i, b.clone()));
                walk(a, b, path, out);
                path.pop();
            }
        }
        _ => out.push(path.clone()),
    }
}

/// A list whose items are all objects with a string `name`.
fn is_keyed(items: &[Value]) -> bool {
    !items.is_empty() && items.iter().all(|i| i["name"].is_string())
}

/// The manager entry that owns the deepest prefix of `steps` (ties: the latest write).
fn owner(steps: &[Step], entries: &[&Value]) -> Drift {
    let mut best: Option<(usize, &Value)> = None;
    for e in entries {
        let Some(set) = e.pointer("/fieldsV1") else {
            continue;
        };
        let depth = matched_depth(set, steps);
        if depth == 0 {
            continue;
        }
        let later = |b: &Value| time_of(e) >= time_of(b);
        match best {
            Some((d, b)) if d > depth || (d == depth && !later(b)) => {}
            _ => best = Some((depth, e)),
        }
    }
    let text = |e: &Value, k: &str| e[k].as_str().unwrap_or_default().to_string();
    let path = render(steps);
    match best {
        Some((_, e)) => Drift {
            path,
            manager: text(e, "manager"),
            operation: text(e, "operation"),
            time: time_of(e).to_string(),
            subresource: text(e, "subresource"),
        },
        None => Drift {
            path,
            manager: String::new(),
            operation: String::new(),
            time: String::new(),
            subresource: String::new(),
        },
    }
}

fn time_of(e: &Value) -> &str {
    e["time"].as_str().unwrap_or_default()
}

/// How many steps of `steps` the field set `set` contains, from the top.
fn matched_depth(set: &Value, steps: &[Step]) -> usize {
    let mut node = set;
    let mut depth = 0;
    for step in steps {
        let Some(map) = node.as_object() else {
            break;
        };
        let next = match step {
            Step::Field(k) => map.get(&format!("f:{k}")),
            Step::Item(i, item) => item_entry(map, *i, item),
        };
        match next {
            Some(n) => {
                node = n;
                depth += 1;
            }
            None => break,
        }
    }
    depth
}

/// The entry of list item `item` (index `i`) in a field set: `k:{…}` whose fields all equal the
/// item's, `v:` of the item's value, or `i:<index>`.
fn item_entry<'a>(map: &'a Map<String, Value>, i: usize, item: &Value) -> Option<&'a Value> {
    map.iter().find_map(|(key, child)| {
        let hit = if let Some(k) = key.strip_prefix("k:") {
            serde_json::from_str::<Map<String, Value>>(k)
                .ok()
                .is_some_and(|fields| fields.iter().all(|(f, v)| json_eq(&item[f], v)))
        } else if let Some(v) = key.strip_prefix("v:") {
            serde_json::from_str::<Value>(v).is_ok_and(|v| json_eq(&v, item))
        } else if let Some(n) = key.strip_prefix("i:") {
            n.parse::<usize>() == Ok(i)
        } else {
            false
        };
        hit.then_some(child)
    })
}

/// `spec.template.spec.containers[name=web].image`; keys with dots or brackets are quoted
/// (`metadata.labels["app.kubernetes.io/name"]`).
fn render(steps: &[Step]) -> String {
    let mut out = String::new();
    for step in steps {
        match step {
            Step::Field(k) if k.contains(['.', '[', ']', '"']) => {
                out += &format!("[{}]", Value::String(k.clone()));
            }
            Step::Field(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out += k;
            }
            Step::Item(i, item) => match item["name"].as_str() {
                Some(n) => out += &format!("[name={n}]"),
                None => out += &format!("[{i}]"),
            },
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(replicas: i64, image: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [
                {"name": "web", "image": image}, {"name": "side", "image": "s:1"}]}}}})
    }

    fn managed() -> Value {
        json!([
            {"manager": "fjord", "operation": "Apply", "time": "2026-12-07T14:00:00Z",
             "fieldsV1": {"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
                "k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}},
                "k:{\"name\":\"side\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}}},
            {"manager": "kubectl-scale", "operation": "Update", "subresource": "scale",
             "time": "2026-12-07T14:02:11Z", "fieldsV1": {"f:spec": {"f:replicas": {}}}},
            {"manager": "kubectl-edit", "operation": "Update", "time": "2026-12-07T14:05:00Z",
             "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {
                "k:{\"name\":\"web\"}": {"f:image": {}}}}}}}}
        ])
    }

    #[test]
    fn names_the_deepest_latest_manager_of_each_field() {
        let d = drift(
            &deployment(2, "web:1"),
            &deployment(5, "web:2"),
            Some(&managed()),
        );
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].path, "spec.replicas");
        assert_eq!(d[0].manager, "kubectl-scale");
        assert_eq!(d[0].operation, "Update");
        assert_eq!(d[0].subresource, "scale");
        assert_eq!(d[0].time, "2026-12-07T14:02:11Z");
        assert_eq!(d[1].path, "spec.template.spec.containers[name=web].image");
        assert_eq!(d[1].manager, "kubectl-edit");
        assert_eq!(
            d[0].to_string(),
            "spec.replicas set by kubectl-scale via /scale (Update) at 2026-12-07T14:02:11Z"
        );
        assert_eq!(
            d[1].to_string(),
            "spec.template.spec.containers[name=web].image set by kubectl-edit (Update) at \
             2026-12-07T14:05:00Z"
        );
    }

    #[test]
    fn equal_objects_have_no_drift() {
        assert!(drift(&deployment(2, "a"), &deployment(2, "a"), Some(&managed())).is_empty());
    }

    #[test]
    fn missing_fields_items_and_unknown_managers() {
        let d = json!({"metadata": {"labels": {"app.kubernetes.io/name": "x"}},
            "spec": {"ports": [{"port": 80}], "args": ["a"]}});
        let l = json!({"metadata": {"labels": {}}, "spec": {"ports": [{"port": 81}],
            "args": ["b"], "extra": 1}});
        let mf = json!([{"manager": "m", "operation": "Update", "time": "t",
            "fieldsV1": {"f:spec": {"f:ports": {"k:{\"port\":81}": {"f:port": {}}},
                "f:extra": {}}}}]);
        let out = drift(&d, &l, Some(&mf));
        let paths: Vec<&str> = out.iter().map(|x| x.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "metadata.labels[\"app.kubernetes.io/name\"]",
                "spec.ports[0].port",
                "spec.args",
                "spec.extra"
            ]
        );
        assert_eq!(out[0].manager, "");
        assert!(out[0].to_string().contains("no field manager"));
        assert_eq!(out[1].manager, "m");
        assert_eq!(out[3].manager, "m");
    }

    #[test]
    fn never_carries_values() {
        let d = json!({"kind": "Secret", "data": {"password": "c2VjcmV0MQ=="}});
        let l = json!({"kind": "Secret", "data": {"password": "c2VjcmV0Mg=="}});
        let out = drift(&d, &l, None);
        let text = serde_json::to_string(&out).unwrap();
        assert!(text.contains("data.password"));
        assert!(!text.contains("c2VjcmV0"));
    }

    #[test]
    fn items_added_or_removed_and_v_sets() {
        let d = json!({"spec": {"containers": [{"name": "a"}], "finalizers": ["x"]}});
        let l = json!({"spec": {"containers": [{"name": "b"}], "finalizers": ["y"]}});
        let mf = json!([{"manager": "op", "operation": "Apply", "time": "t",
            "fieldsV1": {"f:spec": {"f:containers": {"k:{\"name\":\"b\"}": {}}}}}]);
        let out = drift(&d, &l, Some(&mf));
        assert_eq!(out[0].path, "spec.containers[name=b]");
        assert_eq!(out[0].manager, "op");
        assert_eq!(out[1].path, "spec.containers[name=a]");
        assert_eq!(out[2].path, "spec.finalizers");
        let set = json!({"f:f": {"v:\"y\"": {}}});
        let steps = [Step::Field("f".into()), Step::Item(0, json!("y"))];
        assert_eq!(matched_depth(&set, &steps), 2);
    }
}
