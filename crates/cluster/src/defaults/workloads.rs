//! kube-apiserver v1.34's defaults for the built-in kinds fjord's users deploy (checked against a
//! real v1.34.2 server: `kubectl create` of each kind, then `kubectl get -o json`). Applied on
//! every write, as the real server defaults every decoded object; allocation (Service IPs and
//! node ports, a Job's selector) happens once, at create.

use serde_json::{json, Map, Value};

use super::pod::{self, objects_mut, set_default};

/// A string field of a map ("" when absent or not a string; never panics like `map[key]`).
fn str_of<'a>(m: &'a Map<String, Value>, key: &str) -> &'a str {
    m.get(key).and_then(Value::as_str).unwrap_or("")
}

fn spec_mut(obj: &mut Value) -> Option<&mut Map<String, Value>> {
    obj.get_mut("spec").and_then(Value::as_object_mut)
}

/// The update strategy under `field`: `RollingUpdate` unless set, and then its `rollingUpdate`
/// defaults.
fn rolling_update<const N: usize>(
    s: &mut Map<String, Value>,
    field: &str,
    defaults: [(&str, Value); N],
) {
    let strategy = s.entry(field).or_insert_with(|| json!({}));
    let Some(st) = strategy.as_object_mut() else {
        return;
    };
    set_default(st, "type", json!("RollingUpdate"));
    if str_of(st, "type") != "RollingUpdate" {
        return;
    }
    let ru = st.entry("rollingUpdate").or_insert_with(|| json!({}));
    if let Some(ru) = ru.as_object_mut() {
        for (key, value) in defaults {
            set_default(ru, key, value);
        }
    }
}

fn deployment(s: &mut Map<String, Value>) {
    set_default(s, "replicas", json!(1));
    set_default(s, "revisionHistoryLimit", json!(10));
    set_default(s, "progressDeadlineSeconds", json!(600));
    rolling_update(
        s,
        "strategy",
        [("maxUnavailable", json!("25%")), ("maxSurge", json!("25%"))],
    );
}

fn statefulset(s: &mut Map<String, Value>) {
    set_default(s, "replicas", json!(1));
    set_default(s, "podManagementPolicy", json!("OrderedReady"));
    set_default(s, "revisionHistoryLimit", json!(10));
    rolling_update(s, "updateStrategy", [("partition", json!(0))]);
    let retention = s
        .entry("persistentVolumeClaimRetentionPolicy")
        .or_insert_with(|| json!({}));
    if let Some(r) = retention.as_object_mut() {
        set_default(r, "whenDeleted", json!("Retain"));
        set_default(r, "whenScaled", json!("Retain"));
    }
    for t in objects_mut(s, "volumeClaimTemplates") {
        set_default(t, "apiVersion", json!("v1"));
        set_default(t, "kind", json!("PersistentVolumeClaim"));
        if let Some(Value::Object(ps)) = t.get_mut("spec") {
            set_default(ps, "volumeMode", json!("Filesystem"));
        }
        set_default(t, "status", json!({"phase": "Pending"}));
    }
}

fn daemonset(s: &mut Map<String, Value>) {
    set_default(s, "revisionHistoryLimit", json!(10));
    rolling_update(
        s,
        "updateStrategy",
        [("maxUnavailable", json!(1)), ("maxSurge", json!(0))],
    );
}

fn job(s: &mut Map<String, Value>) {
    let has = |s: &Map<String, Value>, k: &str| s.get(k).is_some_and(|v| !v.is_null());
    if !has(s, "completions") && !has(s, "parallelism") {
        s.insert("completions".into(), json!(1));
    }
    set_default(s, "parallelism", json!(1));
    set_default(s, "backoffLimit", json!(6));
    set_default(s, "completionMode", json!("NonIndexed"));
    set_default(s, "suspend", json!(false));
    if !has(s, "podFailurePolicy") {
        set_default(s, "podReplacementPolicy", json!("TerminatingOrFailed"));
    }
    set_default(s, "manualSelector", json!(false));
}

fn cronjob(s: &mut Map<String, Value>) {
    set_default(s, "concurrencyPolicy", json!("Allow"));
    set_default(s, "suspend", json!(false));
    set_default(s, "successfulJobsHistoryLimit", json!(3));
    set_default(s, "failedJobsHistoryLimit", json!(1));
    if let Some(Value::Object(jt)) = s.get_mut("jobTemplate") {
        set_default(jt, "metadata", json!({}));
        if let Some(Value::Object(js)) = jt.get_mut("spec") {
            pod::template(js.get_mut("template"));
        }
    }
}

fn service(s: &mut Map<String, Value>) {
    set_default(s, "type", json!("ClusterIP"));
    set_default(s, "sessionAffinity", json!("None"));
    let ty = str_of(s, "type").to_string();
    if ty == "ExternalName" {
        return;
    }
    set_default(s, "internalTrafficPolicy", json!("Cluster"));
    if ty == "NodePort" || ty == "LoadBalancer" {
        set_default(s, "externalTrafficPolicy", json!("Cluster"));
    }
    if ty == "LoadBalancer" {
        set_default(s, "allocateLoadBalancerNodePorts", json!(true));
    }
    for p in objects_mut(s, "ports") {
        set_default(p, "protocol", json!("TCP"));
        if let Some(port) = p.get("port").cloned() {
            set_default(p, "targetPort", port);
        }
    }
}

fn network_policy(s: &mut Map<String, Value>) {
    for dir in ["ingress", "egress"] {
        for rule in objects_mut(s, dir) {
            for p in objects_mut(rule, "ports") {
                set_default(p, "protocol", json!("TCP"));
            }
        }
    }
    if s.get("policyTypes").is_none_or(Value::is_null) {
        let mut types = vec![json!("Ingress")];
        if s.get("egress").is_some_and(|e| !e.is_null()) {
            types.push(json!("Egress"));
        }
        s.insert("policyTypes".into(), Value::Array(types));
    }
}

fn hpa_v2(s: &mut Map<String, Value>) {
    set_default(s, "minReplicas", json!(1));
    if s.get("metrics")
        .is_none_or(|m| m.as_array().is_none_or(Vec::is_empty))
    {
        s.insert(
            "metrics".into(),
            json!([{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80}}}]),
        );
    }
}

/// The defaults every write of a built-in object gets (`group`, `kind`).
pub fn on_write(group: &str, kind: &str, obj: &mut Value) {
    match (group, kind) {
        ("", "Pod") => pod::pod(obj),
        ("", "PodTemplate") => pod::template(obj.get_mut("template")),
        ("", "ReplicationController") => {
            if let Some(s) = spec_mut(obj) {
                set_default(s, "replicas", json!(1));
                pod::template(s.get_mut("template"));
            }
            labels_from_template(obj);
        }
        ("", "Secret") => {
            if let Some(m) = obj.as_object_mut() {
                if m.get("type")
                    .is_none_or(|t| t.as_str().is_none_or(str::is_empty))
                {
                    m.insert("type".into(), json!("Opaque"));
                }
            }
        }
        ("", "Service") => {
            // The Go struct always has a spec; its defaults apply to an absent one too.
            if let Some(m) = obj.as_object_mut() {
                let spec = m.entry("spec").or_insert_with(|| json!({}));
                if let Some(s) = spec.as_object_mut() {
                    service(s);
                }
            }
        }
        ("", "PersistentVolumeClaim") => {
            if let Some(s) = spec_mut(obj) {
                set_default(s, "volumeMode", json!("Filesystem"));
            }
        }
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet") | ("batch", "Job") => {
            let Some(s) = spec_mut(obj) else { return };
            match kind {
                "Deployment" => deployment(s),
                "ReplicaSet" => set_default(s, "replicas", json!(1)),
                "StatefulSet" => statefulset(s),
                "DaemonSet" => daemonset(s),
                _ => job(s),
            }
            pod::template(s.get_mut("template"));
            if kind == "Job" {
                labels_from_template(obj);
            }
        }
        ("batch", "CronJob") => spec_mut(obj).into_iter().for_each(cronjob),
        ("networking.k8s.io", "NetworkPolicy") => {
            spec_mut(obj).into_iter().for_each(network_policy)
        }
        ("scheduling.k8s.io", "PriorityClass") => {
            if let Some(m) = obj.as_object_mut() {
                m.entry("preemptionPolicy")
                    .or_insert_with(|| json!("PreemptLowerPriority"));
            }
        }
        ("networking.k8s.io", "IngressClass") => {
            let params = spec_mut(obj).and_then(|s| s.get_mut("parameters"));
            if let Some(p) = params.and_then(Value::as_object_mut) {
                p.entry("scope").or_insert_with(|| json!("Cluster"));
            }
        }
        ("autoscaling", "HorizontalPodAutoscaler") => {
            let v2 = obj["apiVersion"].as_str() == Some("autoscaling/v2");
            if let Some(s) = spec_mut(obj) {
                if v2 {
                    hpa_v2(s);
                } else {
                    set_default(s, "minReplicas", json!(1));
                }
            }
        }
        _ => {}
    }
}

/// FNV-1a (32 bit) of `text`.
pub fn fnv32a(text: &[u8]) -> u32 {
    text.iter().fold(0x811c9dc5u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

fn service_allocation(obj: &mut Value) {
    let id = format!(
        "{}/{}",
        obj.pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or(""),
        obj.pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
    );
    let h = fnv32a(id.as_bytes());
    let Some(s) = spec_mut(obj) else { return };
    let ty = match str_of(s, "type") {
        "" => "ClusterIP".to_string(),
        t => t.to_string(),
    };
    if ty == "ExternalName" {
        return;
    }
    let headless = str_of(s, "clusterIP") == "None";
    if s.get("clusterIP")
        .is_none_or(|c| c.as_str().is_none_or(str::is_empty))
    {
        let ip = format!("10.96.{}.{}", (h >> 8) % 255, h % 254 + 1);
        s.insert("clusterIP".into(), json!(ip));
    }
    if s.get("clusterIPs").is_none_or(Value::is_null) {
        let ip = s.get("clusterIP").cloned().unwrap_or(Value::Null);
        s.insert("clusterIPs".into(), json!([ip]));
    }
    // A headless Service without a selector is dual-stack "required", as the real allocator says.
    let selectorless = s
        .get("selector")
        .is_none_or(|v| v.as_object().is_none_or(Map::is_empty));
    if headless && selectorless {
        set_default(s, "ipFamilyPolicy", json!("RequireDualStack"));
        set_default(s, "ipFamilies", json!(["IPv4", "IPv6"]));
    } else {
        set_default(s, "ipFamilyPolicy", json!("SingleStack"));
        set_default(s, "ipFamilies", json!(["IPv4"]));
    }
    if ty == "NodePort"
        || (ty == "LoadBalancer" && s.get("allocateLoadBalancerNodePorts") != Some(&json!(false)))
    {
        for (i, p) in objects_mut(s, "ports").enumerate() {
            let port = 30000 + (h.wrapping_add(i as u32 * 7919)) % 2768;
            set_default(p, "nodePort", json!(port));
        }
    }
}

/// A Job's or ReplicationController's labels default to its pod template's (when it has none).
fn labels_from_template(obj: &mut Value) {
    let Some(labels) = obj
        .pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object)
        .filter(|l| !l.is_empty())
        .cloned()
    else {
        return;
    };
    let Some(md) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    if md
        .get("labels")
        .is_none_or(|l| l.as_object().is_none_or(Map::is_empty))
    {
        md.insert("labels".into(), Value::Object(labels));
    }
}

fn job_selector(obj: &mut Value) {
    let uid = obj
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let Some(s) = spec_mut(obj) else { return };
    if s.get("manualSelector") == Some(&json!(true)) {
        return;
    }
    s.insert(
        "selector".into(),
        json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}),
    );
    let Some(Value::Object(t)) = s.get_mut("template") else {
        return;
    };
    let md = t.entry("metadata").or_insert_with(|| json!({}));
    if let Some(md) = md.as_object_mut() {
        let labels = md.entry("labels").or_insert_with(|| json!({}));
        if let Some(l) = labels.as_object_mut() {
            l.insert("batch.kubernetes.io/controller-uid".into(), json!(uid));
            l.insert("batch.kubernetes.io/job-name".into(), json!(name));
            l.insert("controller-uid".into(), json!(uid));
            l.insert("job-name".into(), json!(name));
        }
    }
}

/// What the real server allocates or generates once, after recording the creator's fields: a
/// Service's cluster IP(s), IP families and node ports; a Job's selector and pod labels (from
/// the uid the caller put in `metadata.uid`), and its own labels from those when it has none
/// or took them from the template;
/// a Pod's admission (service account, tolerations, token volume).
pub fn on_create(group: &str, kind: &str, obj: &mut Value) {
    match (group, kind) {
        ("", "Service") => service_allocation(obj),
        ("batch", "Job") => {
            // Labels defaulted from the template are the template's very map on the real
            // server: the generated pod labels show up in them too.
            let shared = obj
                .pointer("/metadata/labels")
                .is_some_and(|l| Some(l) == obj.pointer("/spec/template/metadata/labels"));
            job_selector(obj);
            if shared {
                if let Some(l) = obj.pointer("/spec/template/metadata/labels").cloned() {
                    obj["metadata"]["labels"] = l;
                }
            }
            labels_from_template(obj);
        }
        ("", "Pod") => {
            let uid = obj
                .pointer("/metadata/uid")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let suffix = crate::sim::names::suffix(fnv32a(uid.as_bytes()));
            pod::pod_admission(obj, &suffix);
        }
        _ => {}
    }
}
