//! The `status` a create starts with: the real server's create strategies reset it to the Go
//! zero value of the kind's status type (serialized with its fields that have no `omitempty`),
//! and a Pod's to phase `Pending` with its QoS class.

use serde_json::{json, Map, Value};

/// The serialized zero status of a kind, if its create strategy sets one.
fn zero_status(group: &str, kind: &str, api_version: &str) -> Option<Value> {
    Some(match (group, kind) {
        ("apps", "Deployment") | ("batch", "Job" | "CronJob") => json!({}),
        ("apps", "StatefulSet") => json!({"replicas": 0, "availableReplicas": 0}),
        ("apps", "DaemonSet") => json!({"currentNumberScheduled": 0, "numberMisscheduled": 0,
                                        "desiredNumberScheduled": 0, "numberReady": 0}),
        ("apps", "ReplicaSet") | ("", "ReplicationController") => json!({"replicas": 0}),
        ("", "Service") | ("networking.k8s.io", "Ingress") => json!({"loadBalancer": {}}),
        ("", "PersistentVolumeClaim") => json!({"phase": "Pending"}),
        ("policy", "PodDisruptionBudget") => json!({"disruptionsAllowed": 0, "currentHealthy": 0,
                                                    "desiredHealthy": 0, "expectedPods": 0}),
        ("autoscaling", "HorizontalPodAutoscaler") if api_version == "autoscaling/v2" => {
            json!({"currentMetrics": null, "desiredReplicas": 0})
        }
        _ => return None,
    })
}

/// The quantities of `cpu` and `memory` (the resources QoS looks at) in a resource map.
fn qos_resources(r: Option<&Value>) -> Map<String, Value> {
    r.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter(|(k, _)| *k == "cpu" || *k == "memory")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// A Pod's QoS class: `BestEffort` without any cpu/memory requests or limits, `Guaranteed` when
/// every container limits both and requests what it limits, else `Burstable`.
pub fn qos_class(spec: &Value) -> &'static str {
    let mut any = false;
    let mut guaranteed = true;
    for key in ["containers", "initContainers"] {
        for c in spec
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let requests = qos_resources(c.pointer("/resources/requests"));
            let limits = qos_resources(c.pointer("/resources/limits"));
            any |= !requests.is_empty() || !limits.is_empty();
            let full = limits.len() == 2;
            let equal = requests
                .iter()
                .all(|(k, v)| limits.get(k).is_some_and(|l| same_quantity(l, v)));
            guaranteed &= full && equal;
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

/// Whether two quantities are equal (`1` and `1000m`, `1Gi` and `1024Mi`).
fn same_quantity(a: &Value, b: &Value) -> bool {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let (a, b) = (text(a), text(b));
    a == b || matches!((quantity(&a), quantity(&b)), (Some(x), Some(y)) if (x - y).abs() < 1e-9)
}

/// A quantity's value as a number (None when it does not parse).
fn quantity(s: &str) -> Option<f64> {
    const SUFFIXES: &[(&str, f64)] = &[
        ("Ki", 1024.0),
        ("Mi", 1048576.0),
        ("Gi", 1073741824.0),
        ("Ti", 1099511627776.0),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
    ];
    for (suf, mult) in SUFFIXES {
        if let Some(n) = s.strip_suffix(suf) {
            return n.parse::<f64>().ok().map(|n| n * mult);
        }
    }
    s.parse::<f64>().ok()
}

/// Sets the status a created object of `group`/`kind` starts with.
pub fn on_create(group: &str, kind: &str, obj: &mut Value) {
    let api_version = obj["apiVersion"].as_str().unwrap_or("").to_string();
    if group.is_empty() && kind == "Pod" {
        let qos = qos_class(obj.get("spec").unwrap_or(&Value::Null));
        if let Some(m) = obj.as_object_mut() {
            m.insert(
                "status".into(),
                json!({"phase": "Pending", "qosClass": qos}),
            );
        }
        return;
    }
    let Some(status) = zero_status(group, kind, &api_version) else {
        return;
    };
    if let Some(m) = obj.as_object_mut() {
        if m.get("status").is_none_or(Value::is_null) {
            m.insert("status".into(), status);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qos_classes() {
        let pod = |res: Value| json!({"containers": [{"name": "c", "resources": res}]});
        assert_eq!(qos_class(&pod(json!({}))), "BestEffort");
        assert_eq!(
            qos_class(&pod(json!({"limits": {"cpu": "1", "memory": "1Gi"},
                                  "requests": {"cpu": "1000m", "memory": "1024Mi"}}))),
            "Guaranteed"
        );
        assert_eq!(
            qos_class(&pod(json!({"requests": {"cpu": "100m"}}))),
            "Burstable"
        );
        assert_eq!(
            qos_class(&pod(
                json!({"limits": {"cpu": "1"}, "requests": {"cpu": "1"}})
            )),
            "Burstable"
        );
    }

    #[test]
    fn created_objects_start_with_the_zero_status() {
        let mut d = json!({"apiVersion": "apps/v1", "spec": {}});
        on_create("apps", "Deployment", &mut d);
        assert_eq!(d["status"], json!({}));
        let mut s = json!({"apiVersion": "v1", "spec": {}});
        on_create("", "Service", &mut s);
        assert_eq!(s["status"], json!({"loadBalancer": {}}));
        let mut p = json!({"apiVersion": "v1", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c"}]}});
        on_create("", "Pod", &mut p);
        assert_eq!(
            p["status"],
            json!({"phase": "Pending", "qosClass": "BestEffort"})
        );
        let mut c = json!({"apiVersion": "v1", "data": {}});
        on_create("", "ConfigMap", &mut c);
        assert!(c.get("status").is_none());
    }
}
