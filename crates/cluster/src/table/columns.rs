//! The columns and cells of each kind's Table rows, as the reference server's printers give them
//! (names, types, priorities; cells computed from the stored object).

use serde_json::{json, Value};

use super::{age, age_of, int, json_path_cell, s};
use fjord_model::ResourceType;

use super::text::{access_modes, label_selector, labels_text, Col, Printer, Printers};

fn n(c: &str) -> Col {
    (c.to_string(), "string".to_string(), 0)
}

fn w(c: &str) -> Col {
    (c.to_string(), "string".to_string(), 1)
}

fn typed(c: &str, ty: &str) -> Col {
    (c.to_string(), ty.to_string(), 0)
}

fn containers(obj: &Value, pod_spec: &str) -> (Value, Value) {
    let cs = obj
        .pointer(&format!("{pod_spec}/containers"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let names: Vec<String> = cs.iter().map(|c| s(c, "/name")).collect();
    let images: Vec<String> = cs.iter().map(|c| s(c, "/image")).collect();
    (json!(names.join(",")), json!(images.join(",")))
}

fn wide_workload(obj: &Value, pod_spec: &str, selector: Option<&Value>) -> (Vec<Col>, Vec<Value>) {
    let (cn, im) = containers(obj, pod_spec);
    (
        vec![w("Containers"), w("Images"), w("Selector")],
        vec![cn, im, json!(label_selector(selector))],
    )
}

fn with_wide(
    (mut cols, mut cells): (Vec<Col>, Vec<Value>),
    (wc, wv): (Vec<Col>, Vec<Value>),
) -> (Vec<Col>, Vec<Value>) {
    cols.extend(wc);
    cells.extend(wv);
    (cols, cells)
}

fn ready_of(obj: &Value) -> Value {
    let want = obj
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    json!(format!("{}/{want}", int(obj, "/status/readyReplicas")))
}

/// The wide columns of a workload with a pod template at `.spec.template`.
fn template_wide(obj: &Value) -> (Vec<Col>, Vec<Value>) {
    wide_workload(obj, "/spec/template/spec", obj.pointer("/spec/selector"))
}

fn deployment(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    with_wide(
        (
            vec![
                n("Name"),
                n("Ready"),
                n("Up-to-date"),
                n("Available"),
                n("Age"),
            ],
            vec![
                name,
                ready_of(obj),
                json!(int(obj, "/status/updatedReplicas")),
                json!(int(obj, "/status/availableReplicas")),
                age,
            ],
        ),
        template_wide(obj),
    )
}

fn statefulset(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    let wide = template_wide(obj);
    let (mut cols, mut cells) = (
        vec![n("Name"), n("Ready"), n("Age")],
        vec![name, ready_of(obj), age],
    );
    cols.extend(wide.0.into_iter().take(2));
    cells.extend(wide.1.into_iter().take(2));
    (cols, cells)
}

/// The columns a ReplicaSet and a ReplicationController share (before the wide ones).
fn replica_counts(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    (
        vec![
            n("Name"),
            typed("Desired", "integer"),
            typed("Current", "integer"),
            typed("Ready", "integer"),
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
    )
}

fn replicaset(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    with_wide(replica_counts(obj, name, age), template_wide(obj))
}

fn replication_controller(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    let sel = json!({"matchLabels": obj.pointer("/spec/selector")});
    let wide = wide_workload(obj, "/spec/template/spec", Some(&sel));
    with_wide(replica_counts(obj, name, age), wide)
}

fn daemonset(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    with_wide(
        (
            vec![
                n("Name"),
                typed("Desired", "integer"),
                typed("Current", "integer"),
                typed("Ready", "integer"),
                typed("Up-to-date", "integer"),
                typed("Available", "integer"),
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
                json!(labels_text(obj.pointer("/spec/template/spec/nodeSelector"))),
                age,
            ],
        ),
        template_wide(obj),
    )
}

fn condition(obj: &Value, ty: &str) -> bool {
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == ty && c["status"] == "True"))
}

fn job(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
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
    with_wide(
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
        ),
        template_wide(obj),
    )
}

fn cronjob(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    let last = obj
        .pointer("/status/lastScheduleTime")
        .filter(|v| v.is_string())
        .map(age_of)
        .unwrap_or_else(|| "<none>".into());
    let active = obj
        .pointer("/status/active")
        .and_then(Value::as_array)
        .map(Vec::len)
        .unwrap_or(0);
    with_wide(
        (
            vec![
                n("Name"),
                n("Schedule"),
                n("Timezone"),
                typed("Suspend", "boolean"),
                typed("Active", "integer"),
                n("Last Schedule"),
                n("Age"),
            ],
            vec![
                name,
                json!(s(obj, "/spec/schedule")),
                json!(obj
                    .pointer("/spec/timeZone")
                    .and_then(Value::as_str)
                    .unwrap_or("<none>")),
                json!(obj
                    .pointer("/spec/suspend")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)),
                json!(active),
                json!(last),
                age,
            ],
        ),
        wide_workload(
            obj,
            "/spec/jobTemplate/spec/template/spec",
            obj.pointer("/spec/jobTemplate/spec/selector"),
        ),
    )
}

fn str_or(obj: &Value, p: &str, dflt: &str) -> Value {
    json!(obj
        .pointer(p)
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .unwrap_or(dflt))
}

fn readiness_gates(obj: &Value) -> Value {
    let gates = obj
        .pointer("/spec/readinessGates")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if gates.is_empty() {
        return json!("<none>");
    }
    let met = gates
        .iter()
        .filter(|g| condition(obj, g["conditionType"].as_str().unwrap_or_default()))
        .count();
    json!(format!("{met}/{}", gates.len()))
}

fn pod(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
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
    (
        vec![
            n("Name"),
            n("Ready"),
            n("Status"),
            n("Restarts"),
            n("Age"),
            w("IP"),
            w("Node"),
            w("Nominated Node"),
            w("Readiness Gates"),
        ],
        vec![
            name,
            json!(format!("{ready}/{cs}")),
            str_or(obj, "/status/phase", "Pending"),
            json!("0"),
            age,
            str_or(obj, "/status/podIP", "<none>"),
            str_or(obj, "/spec/nodeName", "<none>"),
            str_or(obj, "/status/nominatedNodeName", "<none>"),
            readiness_gates(obj),
        ],
    )
}

fn service(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    let ext = super::lb_ingress(obj);
    let ty = s(obj, "/spec/type");
    let ext = match (ext.is_empty(), ty.as_str()) {
        (false, _) => ext,
        (true, "LoadBalancer") => "<pending>".to_string(),
        (true, _) => "<none>".to_string(),
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
            json!(super::ports(obj)),
            age,
            json!(labels_text(obj.pointer("/spec/selector"))),
        ],
    )
}

fn pvc(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    (
        vec![
            n("Name"),
            n("Status"),
            n("Volume"),
            n("Capacity"),
            n("Access Modes"),
            n("StorageClass"),
            n("VolumeAttributesClass"),
            n("Age"),
            w("VolumeMode"),
        ],
        vec![
            name,
            json!(s(obj, "/status/phase")),
            json!(s(obj, "/spec/volumeName")),
            json!(s(obj, "/status/capacity/storage")),
            access_modes(obj.pointer("/status/accessModes")),
            json!(s(obj, "/spec/storageClassName")),
            str_or(obj, "/spec/volumeAttributesClassName", "<unset>"),
            age,
            str_or(obj, "/spec/volumeMode", "<unset>"),
        ],
    )
}

fn ingress(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
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
            str_or(obj, "/spec/ingressClassName", "<none>"),
            json!(hosts),
            json!(super::lb_ingress(obj)),
            json!("80"),
            age,
        ],
    )
}

fn data_count(obj: &Value) -> usize {
    obj["data"].as_object().map(|m| m.len()).unwrap_or(0)
        + obj["binaryData"].as_object().map(|m| m.len()).unwrap_or(0)
}

fn config_map(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    (
        vec![n("Name"), n("Data"), n("Age")],
        vec![name, json!(data_count(obj)), age],
    )
}

fn secret(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    (
        vec![n("Name"), n("Type"), n("Data"), n("Age")],
        vec![
            name,
            json!(obj["type"].as_str().unwrap_or("Opaque")),
            json!(data_count(obj)),
            age,
        ],
    )
}

fn namespace(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    (
        vec![n("Name"), n("Status"), n("Age")],
        vec![name, json!(s(obj, "/status/phase")), age],
    )
}

fn service_account(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    (
        vec![n("Name"), typed("Secrets", "string"), n("Age")],
        vec![
            name,
            json!(obj["secrets"].as_array().map(Vec::len).unwrap_or(0)),
            age,
        ],
    )
}

fn lease(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    (
        vec![n("Name"), n("Holder"), n("Age")],
        vec![name, json!(s(obj, "/spec/holderIdentity")), age],
    )
}

/// The workload, core and networking kinds this module prints.
const PRINTERS: Printers = &[
    ("apps", "Deployment", deployment),
    ("apps", "StatefulSet", statefulset),
    ("apps", "ReplicaSet", replicaset),
    ("apps", "DaemonSet", daemonset),
    ("", "Pod", pod),
    ("", "Service", service),
    ("", "ConfigMap", config_map),
    ("", "Secret", secret),
    ("", "Namespace", namespace),
    ("", "ServiceAccount", service_account),
    ("", "PersistentVolumeClaim", pvc),
    ("", "ReplicationController", replication_controller),
    ("batch", "Job", job),
    ("batch", "CronJob", cronjob),
    ("networking.k8s.io", "Ingress", ingress),
    ("coordination.k8s.io", "Lease", lease),
];

fn custom(rt: &ResourceType, obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    if rt.printer_columns.is_empty() {
        return (vec![n("Name"), typed("Age", "date")], vec![name, age]);
    }
    let mut cols: Vec<Col> = vec![n("Name")];
    let mut cells = vec![name];
    for c in &rt.printer_columns {
        cols.push((c.name.clone(), c.type_.clone(), c.priority));
        let v = json_path_cell(obj, &c.json_path);
        cells.push(if c.type_ == "date" {
            v.as_str().map(|_| json!(age_of(&v))).unwrap_or(Value::Null)
        } else {
            v
        });
    }
    (cols, cells)
}

/// The printer of a built-in kind, if the reference server has one for it.
fn printer(group: &str, kind: &str) -> Option<Printer> {
    [PRINTERS, super::more::PRINTERS, super::extra::PRINTERS]
        .into_iter()
        .flatten()
        .find(|(g, k, _)| *g == group && *k == kind)
        .map(|(_, _, p)| *p)
}

/// The columns of `rt`'s Table and the cells of `obj`'s row.
pub(super) fn columns_and_cells(rt: &ResourceType, obj: &Value) -> (Vec<Col>, Vec<Value>) {
    let name = json!(s(obj, "/metadata/name"));
    let age = json!(age(obj));
    if rt.custom {
        return custom(rt, obj, name, age);
    }
    match printer(&rt.group, &rt.kind) {
        Some(print) => print(obj, name, age),
        None => (vec![n("Name"), n("Age")], vec![name, age]),
    }
}
