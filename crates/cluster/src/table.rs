//! `meta.k8s.io/v1` Table output for `kubectl get` (columns per common kind, CRD printer columns).

use serde_json::{json, Value};

use crate::kinds::ResourceType;
use crate::request::Reply;

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

fn containers(obj: &Value) -> (String, String) {
    let cs = obj
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let names: Vec<String> = cs.iter().map(|c| s(c, "/name")).collect();
    let images: Vec<String> = cs.iter().map(|c| s(c, "/image")).collect();
    (names.join(","), images.join(","))
}

fn selector(obj: &Value) -> String {
    obj.pointer("/spec/selector/matchLabels")
        .or_else(|| obj.pointer("/spec/selector"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| format!("{k}={v}")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "<none>".into())
}

fn condition(obj: &Value, ty: &str) -> bool {
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == ty && c["status"] == "True"))
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

type Col = (String, &'static str, u32);

fn columns_and_cells(rt: &ResourceType, obj: &Value) -> (Vec<Col>, Vec<Value>) {
    let name = json!(s(obj, "/metadata/name"));
    let age = json!(age(obj));
    let n = |c: &str| (c.to_string(), "string", 0u32);
    let w = |c: &str| (c.to_string(), "string", 1u32);
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("apps", "Deployment") => {
            let (cn, im) = containers(obj);
            let want = obj
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            (
                vec![
                    n("Name"),
                    n("Ready"),
                    ("Up-to-date".to_string(), "integer", 0),
                    ("Available".to_string(), "integer", 0),
                    n("Age"),
                    w("Containers"),
                    w("Images"),
                    w("Selector"),
                ],
                vec![
                    name,
                    json!(format!("{}/{want}", int(obj, "/status/readyReplicas"))),
                    json!(int(obj, "/status/updatedReplicas")),
                    json!(int(obj, "/status/availableReplicas")),
                    age,
                    json!(cn),
                    json!(im),
                    json!(selector(obj)),
                ],
            )
        }
        ("apps", "StatefulSet") => {
            let want = obj
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            (
                vec![n("Name"), n("Ready"), n("Age")],
                vec![
                    name,
                    json!(format!("{}/{want}", int(obj, "/status/readyReplicas"))),
                    age,
                ],
            )
        }
        ("apps", "ReplicaSet") => (
            vec![
                n("Name"),
                ("Desired".to_string(), "integer", 0),
                ("Current".to_string(), "integer", 0),
                ("Ready".to_string(), "integer", 0),
                n("Age"),
            ],
            vec![
                name,
                json!(obj
                    .pointer("/spec/replicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(1)),
                json!(int(obj, "/status/replicas")),
                json!(int(obj, "/status/readyReplicas")),
                age,
            ],
        ),
        ("apps", "DaemonSet") => (
            vec![
                n("Name"),
                ("Desired".to_string(), "integer", 0),
                ("Current".to_string(), "integer", 0),
                ("Ready".to_string(), "integer", 0),
                ("Up-to-date".to_string(), "integer", 0),
                ("Available".to_string(), "integer", 0),
                n("Node Selector"),
                n("Age"),
            ],
            vec![
                name,
                json!(int(obj, "/status/desiredNumberScheduled")),
                json!(int(obj, "/status/currentNumberScheduled")),
                json!(int(obj, "/status/numberReady")),
                json!(int(obj, "/status/updatedNumberScheduled")),
                json!(int(obj, "/status/numberAvailable")),
                json!("<none>"),
                age,
            ],
        ),
        ("batch", "Job") => {
            let status = if condition(obj, "Complete") {
                "Complete"
            } else if condition(obj, "Failed") {
                "Failed"
            } else {
                "Running"
            };
            let want = obj
                .pointer("/spec/completions")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            (
                vec![
                    n("Name"),
                    n("Status"),
                    n("Completions"),
                    n("Duration"),
                    n("Age"),
                ],
                vec![
                    name,
                    json!(status),
                    json!(format!("{}/{want}", int(obj, "/status/succeeded"))),
                    json!(""),
                    age,
                ],
            )
        }
        ("", "Pod") => {
            let cs = obj
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .map(Vec::len)
                .unwrap_or(0);
            let ready = obj
                .pointer("/status/containerStatuses")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter(|c| c["ready"] == json!(true)).count())
                .unwrap_or(0);
            let phase = obj
                .pointer("/status/phase")
                .and_then(Value::as_str)
                .unwrap_or("Pending")
                .to_string();
            (
                vec![
                    n("Name"),
                    n("Ready"),
                    n("Status"),
                    ("Restarts".to_string(), "string", 0),
                    n("Age"),
                    w("IP"),
                    w("Node"),
                ],
                vec![
                    name,
                    json!(format!("{ready}/{cs}")),
                    json!(phase),
                    json!("0"),
                    age,
                    json!(obj
                        .pointer("/status/podIP")
                        .and_then(Value::as_str)
                        .unwrap_or("<none>")),
                    json!(obj
                        .pointer("/spec/nodeName")
                        .and_then(Value::as_str)
                        .unwrap_or("<none>")),
                ],
            )
        }
        ("", "Service") => {
            let ext = lb_ingress(obj);
            let ty = s(obj, "/spec/type");
            let ext = if ext.is_empty() {
                if ty == "LoadBalancer" {
                    "<pending>".to_string()
                } else {
                    "<none>".to_string()
                }
            } else {
                ext
            };
            (
                vec![
                    n("Name"),
                    n("Type"),
                    n("Cluster-IP"),
                    n("External-IP"),
                    n("Port(s)"),
                    n("Age"),
                    w("Selector"),
                ],
                vec![
                    name,
                    json!(ty),
                    json!(s(obj, "/spec/clusterIP")),
                    json!(ext),
                    json!(ports(obj)),
                    age,
                    json!(selector(obj)),
                ],
            )
        }
        ("", "ConfigMap") => {
            let d = obj["data"].as_object().map(|m| m.len()).unwrap_or(0)
                + obj["binaryData"].as_object().map(|m| m.len()).unwrap_or(0);
            (
                vec![n("Name"), ("Data".to_string(), "integer", 0), n("Age")],
                vec![name, json!(d), age],
            )
        }
        ("", "Secret") => {
            let d = obj["data"].as_object().map(|m| m.len()).unwrap_or(0);
            (
                vec![
                    n("Name"),
                    n("Type"),
                    ("Data".to_string(), "integer", 0),
                    n("Age"),
                ],
                vec![
                    name,
                    json!(obj["type"].as_str().unwrap_or("Opaque")),
                    json!(d),
                    age,
                ],
            )
        }
        ("", "Namespace") => (
            vec![n("Name"), n("Status"), n("Age")],
            vec![name, json!(s(obj, "/status/phase")), age],
        ),
        ("", "PersistentVolumeClaim") => (
            vec![
                n("Name"),
                n("Status"),
                n("Volume"),
                n("Capacity"),
                n("Access Modes"),
                n("StorageClass"),
                n("Age"),
            ],
            vec![
                name,
                json!(s(obj, "/status/phase")),
                json!(s(obj, "/spec/volumeName")),
                json!(s(obj, "/status/capacity/storage")),
                json!(""),
                json!(s(obj, "/spec/storageClassName")),
                age,
            ],
        ),
        ("networking.k8s.io", "Ingress") => {
            let hosts: Vec<String> = obj
                .pointer("/spec/rules")
                .and_then(Value::as_array)
                .map(|r| {
                    r.iter()
                        .map(|x| s(x, "/host"))
                        .filter(|h| !h.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            let hosts = if hosts.is_empty() {
                "*".to_string()
            } else {
                hosts.join(",")
            };
            (
                vec![
                    n("Name"),
                    n("Class"),
                    n("Hosts"),
                    n("Address"),
                    n("Ports"),
                    n("Age"),
                ],
                vec![
                    name,
                    json!(obj
                        .pointer("/spec/ingressClassName")
                        .and_then(Value::as_str)
                        .unwrap_or("<none>")),
                    json!(hosts),
                    json!(lb_ingress(obj)),
                    json!("80"),
                    age,
                ],
            )
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => (
            vec![n("Name"), ("Created At".to_string(), "date", 0)],
            vec![name, json!(s(obj, "/metadata/creationTimestamp"))],
        ),
        _ if rt.custom && !rt.printer_columns.is_empty() => {
            let mut cols: Vec<Col> = vec![n("Name")];
            let mut cells = vec![name];
            for c in &rt.printer_columns {
                cols.push((c.name.clone(), "string", c.priority));
                let v = json_path_cell(obj, &c.json_path);
                cells.push(if c.type_ == "date" {
                    v.as_str().map(|_| json!(age_of(&v))).unwrap_or(Value::Null)
                } else {
                    v
                });
            }
            (cols, cells)
        }
        _ => (vec![n("Name"), n("Age")], vec![name, age]),
    }
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
}
