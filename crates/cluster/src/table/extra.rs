//! Table columns of endpoints, events, nodes, persistent volumes, autoscalers, CSI drivers,
//! API priority and fairness, quotas, certificate requests and API services.

use serde_json::{json, Value};

use super::text::{access_modes, lowered_kind, Col, Printers};
use super::{age_of, s};

fn n(c: &str) -> Col {
    (c.to_string(), "string".to_string(), 0)
}

fn w(c: &str) -> Col {
    (c.to_string(), "string".to_string(), 1)
}

fn b(c: &str) -> Col {
    (c.to_string(), "boolean".to_string(), 0)
}

/// The first `max` items comma-joined, with ` + N more...` for the rest; `empty` when none.
fn capped(items: &[String], max: usize, empty: &str) -> Value {
    if items.is_empty() {
        return json!(empty);
    }
    let mut text = items[..items.len().min(max)].join(",");
    if items.len() > max {
        text.push_str(&format!(" + {} more...", items.len() - max));
    }
    json!(text)
}

fn arr<'a>(obj: &'a Value, p: &str) -> impl Iterator<Item = &'a Value> {
    obj.pointer(p)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn endpoints(obj: &Value) -> Value {
    let mut items = Vec::new();
    for subset in arr(obj, "/subsets") {
        let ips: Vec<String> = arr(subset, "/addresses").map(|a| s(a, "/ip")).collect();
        let ports: Vec<&Value> = arr(subset, "/ports").collect();
        if ports.is_empty() {
            items.extend(ips);
            continue;
        }
        for port in ports {
            items.extend(ips.iter().map(|ip| format!("{ip}:{}", s(port, "/port"))));
        }
    }
    capped(&items, 3, "<none>")
}

fn endpoint_slice(obj: &Value) -> (Value, Value) {
    let ports: Vec<String> = arr(obj, "/ports")
        .map(|p| match p["port"].as_i64() {
            Some(port) => port.to_string(),
            None => "<unset>".to_string(),
        })
        .collect();
    let addrs: Vec<String> = arr(obj, "/endpoints")
        .flat_map(|e| {
            arr(e, "/addresses")
                .filter_map(Value::as_str)
                .map(str::to_string)
        })
        .collect();
    (capped(&ports, 3, "<unset>"), capped(&addrs, 3, "<unset>"))
}

/// The first non-empty string among `pointers`.
fn first(obj: &Value, pointers: &[&str]) -> String {
    pointers
        .iter()
        .map(|p| s(obj, p))
        .find(|v| !v.is_empty())
        .unwrap_or_default()
}

fn when(obj: &Value, pointers: &[&str]) -> Value {
    let ts = first(obj, pointers);
    if ts.is_empty() {
        json!("<unknown>")
    } else {
        json!(age_of(&json!(ts)))
    }
}

/// An Event of either group (core `v1` or `events.k8s.io/v1` field names).
fn event(obj: &Value, name: Value) -> (Vec<Col>, Vec<Value>) {
    let target = if obj["regarding"].is_object() {
        &obj["regarding"]
    } else {
        &obj["involvedObject"]
    };
    let component = first(
        obj,
        &[
            "/source/component",
            "/deprecatedSource/component",
            "/reportingController",
            "/reportingComponent",
        ],
    );
    let host = first(
        obj,
        &[
            "/source/host",
            "/deprecatedSource/host",
            "/reportingInstance",
        ],
    );
    let source = if host.is_empty() {
        component
    } else {
        format!("{component}, {host}")
    };
    let count = ["/series/count", "/count", "/deprecatedCount"]
        .iter()
        .find_map(|p| obj.pointer(p).and_then(Value::as_i64).filter(|c| *c != 0))
        .unwrap_or(1);
    let last = [
        "/series/lastObservedTime",
        "/lastTimestamp",
        "/deprecatedLastTimestamp",
        "/eventTime",
    ];
    let first_seen = ["/firstTimestamp", "/deprecatedFirstTimestamp", "/eventTime"];
    (
        vec![
            n("Last Seen"),
            n("Type"),
            n("Reason"),
            n("Object"),
            w("Subobject"),
            w("Source"),
            n("Message"),
            w("First Seen"),
            w("Count"),
            (String::from("Name"), "string".into(), 1),
        ],
        vec![
            when(obj, &last),
            json!(s(obj, "/type")),
            json!(s(obj, "/reason")),
            json!(format!(
                "{}/{}",
                lowered_kind(&s(target, "/kind")),
                s(target, "/name")
            )),
            json!(s(target, "/fieldPath")),
            json!(source),
            json!(first(obj, &["/message", "/note"])),
            when(obj, &first_seen),
            json!(count),
            name,
        ],
    )
}

fn node_status(obj: &Value) -> String {
    let ready = arr(obj, "/status/conditions").find(|c| c["type"] == "Ready");
    let mut status = match ready.map(|c| s(c, "/status")).as_deref() {
        Some("True") => "Ready".to_string(),
        Some("False") => "NotReady".to_string(),
        _ => "Unknown".to_string(),
    };
    if obj.pointer("/spec/unschedulable") == Some(&json!(true)) {
        status.push_str(",SchedulingDisabled");
    }
    status
}

fn node_roles(obj: &Value) -> String {
    let mut roles: Vec<String> = obj
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| match k.strip_prefix("node-role.kubernetes.io/") {
            Some(role) if !role.is_empty() => Some(role.to_string()),
            _ if k == "kubernetes.io/role" => v.as_str().map(str::to_string),
            _ => None,
        })
        .collect();
    roles.sort();
    roles.dedup();
    if roles.is_empty() {
        "<none>".into()
    } else {
        roles.join(",")
    }
}

fn node_address(obj: &Value, ty: &str) -> Value {
    json!(arr(obj, "/status/addresses")
        .find(|a| a["type"] == ty)
        .map_or_else(|| "<none>".to_string(), |a| s(a, "/address")))
}

fn or_unknown(obj: &Value, p: &str) -> Value {
    let v = s(obj, p);
    json!(if v.is_empty() { "<unknown>".into() } else { v })
}

fn node(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    (
        vec![
            n("Name"),
            n("Status"),
            n("Roles"),
            n("Age"),
            n("Version"),
            w("Internal-IP"),
            w("External-IP"),
            w("OS-Image"),
            w("Kernel-Version"),
            w("Container-Runtime"),
        ],
        vec![
            name,
            json!(node_status(obj)),
            json!(node_roles(obj)),
            age,
            json!(s(obj, "/status/nodeInfo/kubeletVersion")),
            node_address(obj, "InternalIP"),
            node_address(obj, "ExternalIP"),
            or_unknown(obj, "/status/nodeInfo/osImage"),
            or_unknown(obj, "/status/nodeInfo/kernelVersion"),
            or_unknown(obj, "/status/nodeInfo/containerRuntimeVersion"),
        ],
    )
}

fn unset_if_empty(v: String) -> Value {
    json!(if v.is_empty() { "<unset>".into() } else { v })
}

fn persistent_volume(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    let claim = match obj.pointer("/spec/claimRef") {
        Some(c) if c.is_object() => format!("{}/{}", s(c, "/namespace"), s(c, "/name")),
        _ => String::new(),
    };
    let phase = if obj.pointer("/metadata/deletionTimestamp").is_some() {
        "Terminating".to_string()
    } else {
        s(obj, "/status/phase")
    };
    let class = first(
        obj,
        &[
            "/spec/storageClassName",
            "/metadata/annotations/volume.beta.kubernetes.io~1storage-class",
        ],
    );
    (
        vec![
            n("Name"),
            n("Capacity"),
            n("Access Modes"),
            n("Reclaim Policy"),
            n("Status"),
            n("Claim"),
            n("StorageClass"),
            n("VolumeAttributesClass"),
            n("Reason"),
            n("Age"),
            w("VolumeMode"),
        ],
        vec![
            name,
            json!(s(obj, "/spec/capacity/storage")),
            access_modes(obj.pointer("/spec/accessModes")),
            json!(s(obj, "/spec/persistentVolumeReclaimPolicy")),
            json!(phase),
            json!(claim),
            json!(class),
            unset_if_empty(s(obj, "/spec/volumeAttributesClassName")),
            json!(s(obj, "/status/reason")),
            age,
            unset_if_empty(s(obj, "/spec/volumeMode")),
        ],
    )
}

fn csi_driver(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    let flag = |p: &str, dflt: bool| json!(obj.pointer(p).and_then(Value::as_bool).unwrap_or(dflt));
    let audiences: Vec<String> = arr(obj, "/spec/tokenRequests")
        .map(|t| s(t, "/audience"))
        .collect();
    let modes: Vec<String> = arr(obj, "/spec/volumeLifecycleModes")
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    (
        vec![
            n("Name"),
            b("AttachRequired"),
            b("PodInfoOnMount"),
            b("StorageCapacity"),
            n("TokenRequests"),
            b("RequiresRepublish"),
            n("Modes"),
            n("Age"),
        ],
        vec![
            name,
            flag("/spec/attachRequired", true),
            flag("/spec/podInfoOnMount", false),
            flag("/spec/storageCapacity", false),
            unset_if_empty(audiences.join(",")),
            flag("/spec/requiresRepublish", false),
            unset_if_empty(modes.join(",")),
            age,
        ],
    )
}

fn flow_schema(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    let method = s(obj, "/spec/distinguisherMethod/type");
    let dangling = arr(obj, "/status/conditions")
        .find(|c| c["type"] == "Dangling")
        .map_or_else(|| "?".to_string(), |c| s(c, "/status"));
    (
        vec![
            n("Name"),
            n("PriorityLevel"),
            n("MatchingPrecedence"),
            n("DistinguisherMethod"),
            n("Age"),
            n("MissingPL"),
        ],
        vec![
            name,
            json!(s(obj, "/spec/priorityLevelConfiguration/name")),
            json!(obj
                .pointer("/spec/matchingPrecedence")
                .and_then(Value::as_i64)
                .unwrap_or(0)),
            json!(if method.is_empty() {
                "<none>".into()
            } else {
                method
            }),
            age,
            json!(dangling),
        ],
    )
}

fn priority_level(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    let int_or_none = |p: &str| {
        obj.pointer(p)
            .and_then(Value::as_i64)
            .map_or(json!("<none>"), |v| json!(v))
    };
    let q = "/spec/limited/limitResponse/queuing";
    (
        vec![
            n("Name"),
            n("Type"),
            n("NominalConcurrencyShares"),
            n("Queues"),
            n("HandSize"),
            n("QueueLengthLimit"),
            n("Age"),
        ],
        vec![
            name,
            json!(s(obj, "/spec/type")),
            int_or_none("/spec/limited/nominalConcurrencyShares"),
            int_or_none(&format!("{q}/queues")),
            int_or_none(&format!("{q}/handSize")),
            int_or_none(&format!("{q}/queueLengthLimit")),
            age,
        ],
    )
}

fn resource_quota(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    let mut hard: Vec<(&String, &Value)> = obj
        .pointer("/status/hard")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .collect();
    hard.sort_by(|a, b| a.0.cmp(b.0));
    let (mut requests, mut limits) = (Vec::new(), Vec::new());
    for (res, h) in hard {
        let used = obj
            .pointer("/status/used")
            .and_then(|u| u.get(res))
            .map_or_else(|| "0".to_string(), |u| s(u, ""));
        let text = format!("{res}: {used}/{}", s(h, ""));
        if res.starts_with("limits") {
            limits.push(text);
        } else {
            requests.push(text);
        }
    }
    (
        vec![n("Name"), n("Request"), n("Limit"), n("Age")],
        vec![
            name,
            json!(requests.join(", ")),
            json!(limits.join(", ")),
            age,
        ],
    )
}

fn csr(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    let has = |ty: &str| arr(obj, "/status/conditions").any(|c| c["type"] == ty);
    let mut cond = if has("Denied") {
        "Denied".to_string()
    } else if has("Approved") {
        "Approved".to_string()
    } else {
        "Pending".to_string()
    };
    if has("Failed") {
        cond.push_str(",Failed");
    }
    if !s(obj, "/status/certificate").is_empty() {
        cond.push_str(",Issued");
    }
    let duration = obj
        .pointer("/spec/expirationSeconds")
        .and_then(Value::as_i64)
        .map_or_else(|| "<none>".to_string(), super::human_duration);
    (
        vec![
            n("Name"),
            n("Age"),
            n("SignerName"),
            n("Requestor"),
            n("RequestedDuration"),
            n("Condition"),
        ],
        vec![
            name,
            age,
            json!(s(obj, "/spec/signerName")),
            json!(s(obj, "/spec/username")),
            json!(duration),
            json!(cond),
        ],
    )
}

fn api_service(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    let service = match obj.pointer("/spec/service") {
        Some(svc) if svc.is_object() => format!("{}/{}", s(svc, "/namespace"), s(svc, "/name")),
        _ => "Local".to_string(),
    };
    let available = match arr(obj, "/status/conditions").find(|c| c["type"] == "Available") {
        None => "Unknown".to_string(),
        Some(c) if c["status"] == "True" => "True".to_string(),
        Some(c) => format!("{} ({})", s(c, "/status"), s(c, "/reason")),
    };
    (
        vec![n("Name"), n("Service"), n("Available"), n("Age")],
        vec![name, json!(service), json!(available), age],
    )
}

fn endpoints_row(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    (
        vec![n("Name"), n("Endpoints"), n("Age")],
        vec![name, endpoints(obj), age],
    )
}

fn endpoint_slice_row(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    let (ports, addrs) = endpoint_slice(obj);
    (
        vec![
            n("Name"),
            n("AddressType"),
            n("Ports"),
            n("Endpoints"),
            n("Age"),
        ],
        vec![name, json!(s(obj, "/addressType")), ports, addrs, age],
    )
}

const FLOW_CONTROL: &str = "flowcontrol.apiserver.k8s.io";

/// The kinds this module prints.
pub(super) const PRINTERS: Printers = &[
    ("", "Endpoints", endpoints_row),
    ("discovery.k8s.io", "EndpointSlice", endpoint_slice_row),
    ("", "Event", |obj, name, _| event(obj, name)),
    ("events.k8s.io", "Event", |obj, name, _| event(obj, name)),
    ("", "Node", node),
    ("", "PersistentVolume", persistent_volume),
    ("", "ResourceQuota", resource_quota),
    (
        "autoscaling",
        "HorizontalPodAutoscaler",
        super::hpa::columns_and_cells,
    ),
    ("storage.k8s.io", "CSIDriver", csi_driver),
    (FLOW_CONTROL, "FlowSchema", flow_schema),
    (FLOW_CONTROL, "PriorityLevelConfiguration", priority_level),
    ("certificates.k8s.io", "CertificateSigningRequest", csr),
    ("apiregistration.k8s.io", "APIService", api_service),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn row(group: &str, kind: &str, obj: &Value) -> (Vec<Col>, Vec<Value>) {
        let (_, _, print) = PRINTERS
            .iter()
            .find(|(g, k, _)| *g == group && *k == kind)
            .expect("printed");
        print(obj, json!("x"), json!("1s"))
    }

    #[test]
    fn endpoints_list_three_addresses_then_count_the_rest() {
        let ep = json!({"subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}],
            "ports": [{"port": 80}, {"port": 443}]}]});
        let (_, cells) = row("", "Endpoints", &ep);
        assert_eq!(cells[1], "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...");
        assert_eq!(row("", "Endpoints", &json!({})).1[1], "<none>");
    }

    #[test]
    fn endpoint_slices_print_ports_and_addresses() {
        let es = json!({"addressType": "IPv4", "ports": [{"port": 80}, {"port": 81}, {"port": 82}, {"port": 83}, {"name": "x"}],
            "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2", "10.0.0.3"]}, {"addresses": ["10.0.0.4"]}]});
        let (_, cells) = row("discovery.k8s.io", "EndpointSlice", &es);
        assert_eq!(cells[2], "80,81,82 + 2 more...");
        assert_eq!(cells[3], "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...");
        assert_eq!(
            row("discovery.k8s.io", "EndpointSlice", &json!({})).1[2],
            "<unset>"
        );
    }

    #[test]
    fn events_of_both_groups_share_columns() {
        let core = json!({"involvedObject": {"kind": "Pod", "name": "p1"}, "reason": "Started", "message": "hi",
            "type": "Normal", "count": 3, "source": {"component": "kubelet", "host": "n1"}});
        let (cols, cells) = row("", "Event", &core);
        assert_eq!(cols.len(), 10);
        assert_eq!(cols[9], ("Name".to_string(), "string".to_string(), 1));
        assert_eq!(cells[0], "<unknown>");
        assert_eq!(cells[3], "pod/p1");
        assert_eq!(cells[5], "kubelet, n1");
        assert_eq!(cells[8], 3);
        let new = json!({"regarding": {"kind": "Pod", "name": "p2"}, "note": "n", "reportingController": "c/x",
            "reportingInstance": "i1"});
        let (_, cells) = row("events.k8s.io", "Event", &new);
        assert_eq!(cells[5], "c/x, i1");
        assert_eq!(cells[6], "n");
        assert_eq!(cells[8], 1);
    }

    #[test]
    fn nodes_print_status_roles_and_addresses() {
        let node = json!({"metadata": {"labels": {"node-role.kubernetes.io/control-plane": ""}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                "addresses": [{"type": "InternalIP", "address": "10.1.1.1"}]}});
        let (_, cells) = row("", "Node", &node);
        assert_eq!(cells[1], "Ready,SchedulingDisabled");
        assert_eq!(cells[2], "control-plane");
        assert_eq!(cells[5], "10.1.1.1");
        assert_eq!(cells[6], "<none>");
        assert_eq!(cells[7], "<unknown>");
    }

    #[test]
    fn volumes_quotas_and_drivers() {
        let pv = json!({"spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce", "ReadOnlyMany"],
            "claimRef": {"namespace": "a", "name": "c"}}});
        let (_, cells) = row("", "PersistentVolume", &pv);
        assert_eq!(cells[2], "RWO,ROX");
        assert_eq!(cells[5], "a/c");
        assert_eq!(cells[10], "<unset>");
        let rq = json!({"status": {"hard": {"pods": "10", "limits.memory": "4Gi"}, "used": {"pods": "1"}}});
        let (_, cells) = row("", "ResourceQuota", &rq);
        assert_eq!(cells[1], "pods: 1/10");
        assert_eq!(cells[2], "limits.memory: 0/4Gi");
        let (cols, cells) = row("storage.k8s.io", "CSIDriver", &json!({}));
        assert_eq!(cols[1].1, "boolean");
        assert_eq!(cells[1], true);
        assert_eq!(cells[4], "<unset>");
    }

    #[test]
    fn flow_control_csr_and_api_services() {
        let plc = json!({"spec": {"type": "Exempt"}});
        assert_eq!(
            row(
                "flowcontrol.apiserver.k8s.io",
                "PriorityLevelConfiguration",
                &plc
            )
            .1[2],
            "<none>"
        );
        let fs = json!({"spec": {"matchingPrecedence": 500}});
        let cells = row("flowcontrol.apiserver.k8s.io", "FlowSchema", &fs).1;
        assert_eq!(cells[2], 500);
        assert_eq!(cells[3], "<none>");
        assert_eq!(cells[5], "?");
        let csr = json!({"spec": {"expirationSeconds": 3600}, "status": {"conditions": [{"type": "Approved"}], "certificate": "Zg=="}});
        let cells = row("certificates.k8s.io", "CertificateSigningRequest", &csr).1;
        assert_eq!(cells[4], "60m");
        assert_eq!(cells[5], "Approved,Issued");
        let api = json!({"status": {"conditions": [{"type": "Available", "status": "False", "reason": "ServiceNotFound"}]}});
        let cells = row("apiregistration.k8s.io", "APIService", &api).1;
        assert_eq!(cells[1], "Local");
        assert_eq!(cells[2], "False (ServiceNotFound)");
    }
}
