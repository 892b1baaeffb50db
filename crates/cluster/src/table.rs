//! `meta.k8s.io/v1` Table output for `kubectl get` (columns per common kind, CRD printer columns).

use serde_json::{json, Value};

mod columns;
mod extra;
mod hpa;
mod more;
mod text;

use columns::columns_and_cells;

use crate::request::Reply;
use fjord_model::ResourceType;

/// The Table response media type.
pub const TABLE_CONTENT_TYPE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";

/// Formats an age the way kubectl's `HumanDuration` does.
pub fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    }
    let s = secs.max(0);
    let (m, h) = (s / 60, s / 3600);
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        if s % 60 == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{}s", s % 60)
        }
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        if m % 60 == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{}m", m % 60)
        }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        if h % 24 == 0 {
            format!("{}d", h / 24)
        } else {
            format!("{}d{}h", h / 24, h % 24)
        }
    } else if h < 24 * 365 * 2 {
        format!("{}d", h / 24)
    } else if h < 24 * 365 * 8 {
        let d = h / 24;
        if d % 365 == 0 {
            format!("{}y", d / 365)
        } else {
            format!("{}y{}d", d / 365, d % 365)
        }
    } else {
        format!("{}y", h / 24 / 365)
    }
}

fn age(obj: &Value) -> String {
    let Some(ts) = obj
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str)
    else {
        return "<unknown>".into();
    };
    match chrono::DateTime::parse_from_rfc3339(ts) {
        Ok(t) => human_duration((chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds()),
        Err(_) => "<unknown>".into(),
    }
}

fn int(obj: &Value, p: &str) -> i64 {
    obj.pointer(p).and_then(Value::as_i64).unwrap_or(0)
}

fn s(obj: &Value, p: &str) -> String {
    match obj.pointer(p) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(v) => v.to_string(),
    }
}

/// Evaluates a simple JSONPath (`.a.b`, `.a[0].b`) to a printable cell.
fn json_path_cell(obj: &Value, path: &str) -> Value {
    let mut cur = obj;
    for seg in path
        .trim_start_matches('.')
        .split('.')
        .filter(|p| !p.is_empty())
    {
        let (name, idx) = match seg.split_once('[') {
            Some((n, rest)) => (n, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (seg, None),
        };
        cur = match cur.get(name) {
            Some(v) => v,
            None => return Value::Null,
        };
        if let Some(i) = idx {
            cur = match cur.get(i) {
                Some(v) => v,
                None => return Value::Null,
            };
        }
    }
    cur.clone()
}

fn ports(obj: &Value) -> String {
    let ps = obj
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if ps.is_empty() {
        return "<none>".into();
    }
    ps.iter()
        .map(|p| {
            let node = p
                .get("nodePort")
                .and_then(Value::as_i64)
                .map(|n| format!(":{n}"))
                .unwrap_or_default();
            format!(
                "{}{node}/{}",
                s(p, "/port"),
                p["protocol"].as_str().unwrap_or("TCP")
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn lb_ingress(obj: &Value) -> String {
    let ing = obj
        .pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    ing.iter()
        .map(|i| {
            if i["ip"].is_string() {
                s(i, "/ip")
            } else {
                s(i, "/hostname")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn age_of(ts: &Value) -> String {
    age(&json!({"metadata": {"creationTimestamp": ts}}))
}

/// An object reduced to `PartialObjectMetadata` (Table rows, metadata-only reads).
pub(crate) fn partial(obj: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]})
}

/// Builds a Table reply for `items` (one row each).
pub fn table_reply(rt: &ResourceType, items: &[Value], rv: &Value, cont: Option<String>) -> Reply {
    let sample = items.first().cloned().unwrap_or(json!({}));
    let (cols, _) = columns_and_cells(rt, &sample);
    let defs: Vec<Value> = cols
        .iter()
        .map(|(name, ty, prio)| json!({"name": name, "type": ty, "format": if name == "Name" { "name" } else { "" }, "description": "", "priority": prio}))
        .collect();
    let rows: Vec<Value> = items
        .iter()
        .map(|o| json!({"cells": columns_and_cells(rt, o).1, "object": partial(o)}))
        .collect();
    let mut metadata = json!({"resourceVersion": rv});
    if let Some(c) = cont {
        metadata["continue"] = json!(c);
    }
    Reply {
        status: 200,
        body: json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata, "columnDefinitions": defs, "rows": rows}),
        content_type: TABLE_CONTENT_TYPE.into(),
        headers: Vec::new(),
        raw: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::builtins;

    #[test]
    fn durations_like_kubectl() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(119), "119s");
        assert_eq!(human_duration(150), "2m30s");
        assert_eq!(human_duration(3600 * 3 + 60), "3h1m");
        assert_eq!(human_duration(3600 * 30), "30h");
        assert_eq!(human_duration(86400 * 3 + 3600), "3d1h");
    }

    #[test]
    fn deployment_row() {
        let rt = builtins()
            .into_iter()
            .find(|r| r.kind == "Deployment")
            .expect("d");
        let d = json!({"metadata": {"name": "web"}, "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
            "template": {"spec": {"containers": [{"name": "n", "image": "nginx"}]}}}, "status": {"readyReplicas": 2, "updatedReplicas": 2, "availableReplicas": 2}});
        let t = table_reply(&rt, &[d], &json!("5"), None);
        assert_eq!(t.body["rows"][0]["cells"][1], "2/2");
        assert_eq!(t.body["rows"][0]["cells"][7], "app=web");
        assert_eq!(t.body["columnDefinitions"][5]["priority"], 1);
        assert_eq!(t.body["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    }

    fn columns(kind: &str) -> Vec<(String, String, u64)> {
        let rt = builtins()
            .into_iter()
            .find(|r| r.kind == kind)
            .expect("kind");
        let t = table_reply(&rt, &[], &json!("1"), None);
        t.body["columnDefinitions"]
            .as_array()
            .expect("defs")
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap_or_default().to_string(),
                    c["type"].as_str().unwrap_or_default().to_string(),
                    c["priority"].as_u64().unwrap_or(9),
                )
            })
            .collect()
    }

    #[test]
    fn columns_follow_the_reference_printers() {
        let pods = columns("Pod");
        assert_eq!(pods.len(), 9);
        assert_eq!(pods[7], ("Nominated Node".into(), "string".into(), 1));
        assert_eq!(pods[8].0, "Readiness Gates");
        assert_eq!(columns("ConfigMap")[1], ("Data".into(), "string".into(), 0));
        assert_eq!(columns("Deployment")[3].1, "string");
        assert_eq!(columns("ReplicaSet")[1].1, "integer");
        let cron: Vec<String> = columns("CronJob").into_iter().map(|c| c.0).collect();
        assert_eq!(cron[1..4], ["Schedule", "Timezone", "Suspend"]);
    }

    #[test]
    fn custom_resources_without_printer_columns_show_a_date_age() {
        let mut rt = (*builtins()[0]).clone();
        rt.custom = true;
        let t = table_reply(
            &rt,
            &[json!({"metadata": {"name": "w"}})],
            &json!("1"),
            None,
        );
        assert_eq!(t.body["columnDefinitions"][1]["type"], "date");
    }

    #[test]
    fn selectors_print_sorted_requirements() {
        let rt = builtins()
            .into_iter()
            .find(|r| r.kind == "ReplicaSet")
            .expect("rs");
        let rs = json!({"metadata": {"name": "r"}, "spec": {"selector": {"matchLabels": {"b": "2", "a": "1"},
            "matchExpressions": [{"key": "c", "operator": "In", "values": ["x", "y"]}]}}});
        let t = table_reply(&rt, &[rs], &json!("1"), None);
        assert_eq!(t.body["rows"][0]["cells"][7], "a=1,b=2,c in (x,y)");
    }
}
