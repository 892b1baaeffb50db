//! kube-apiserver v1.34's defaults for pod specs (`SetDefaults_PodSpec`, `SetDefaults_Container`,
//! probes, volumes, env) and the admission a Pod gets at create time (service account, default
//! tolerations, priority, the projected API-access volume).

use serde_json::{json, Map, Value};

/// Inserts `value` under `key` unless the map already has a non-null value there.
pub(super) fn set_default(m: &mut Map<String, Value>, key: &str, value: Value) {
    if m.get(key).is_none_or(Value::is_null) {
        m.insert(key.to_string(), value);
    }
}

/// The objects in the array under `key` (other items, or a missing or non-array field, skipped).
pub(super) fn objects_mut<'a>(
    m: &'a mut Map<String, Value>,
    key: &str,
) -> impl Iterator<Item = &'a mut Map<String, Value>> {
    m.get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

/// `Always` for an image without a tag or tagged `latest`, else `IfNotPresent` (digests too).
pub fn image_pull_policy(image: &str) -> &'static str {
    if image.contains('@') {
        return "IfNotPresent";
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        Some((_, "latest")) | None => "Always",
        Some(_) => "IfNotPresent",
    }
}

fn field_ref(m: &mut Map<String, Value>) {
    if let Some(Value::Object(f)) = m.get_mut("fieldRef") {
        set_default(f, "apiVersion", json!("v1"));
    }
}

fn handler(h: &mut Map<String, Value>) {
    if let Some(Value::Object(g)) = h.get_mut("httpGet") {
        set_default(g, "scheme", json!("HTTP"));
    }
    if let Some(Value::Object(g)) = h.get_mut("grpc") {
        set_default(g, "service", json!(""));
    }
}

fn probe(p: &mut Map<String, Value>) {
    handler(p);
    set_default(p, "timeoutSeconds", json!(1));
    set_default(p, "periodSeconds", json!(10));
    set_default(p, "successThreshold", json!(1));
    set_default(p, "failureThreshold", json!(3));
}

fn container(c: &mut Map<String, Value>) {
    let policy = image_pull_policy(c.get("image").and_then(Value::as_str).unwrap_or(""));
    set_default(c, "imagePullPolicy", json!(policy));
    set_default(c, "terminationMessagePath", json!("/dev/termination-log"));
    set_default(c, "terminationMessagePolicy", json!("File"));
    set_default(c, "resources", json!({}));
    for p in objects_mut(c, "ports") {
        set_default(p, "protocol", json!("TCP"));
    }
    for key in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(Value::Object(p)) = c.get_mut(key) {
            probe(p);
        }
    }
    if let Some(Value::Object(l)) = c.get_mut("lifecycle") {
        for key in ["postStart", "preStop"] {
            if let Some(Value::Object(h)) = l.get_mut(key) {
                handler(h);
            }
        }
    }
    for e in objects_mut(c, "env") {
        if let Some(Value::Object(from)) = e.get_mut("valueFrom") {
            field_ref(from);
        }
    }
}

fn downward_items(d: &mut Map<String, Value>) {
    for i in objects_mut(d, "items") {
        field_ref(i);
    }
}

fn volume(v: &mut Map<String, Value>) {
    for key in ["configMap", "secret", "downwardAPI", "projected"] {
        if let Some(Value::Object(src)) = v.get_mut(key) {
            set_default(src, "defaultMode", json!(420));
            if key == "downwardAPI" {
                downward_items(src);
            }
            if key == "projected" {
                for s in objects_mut(src, "sources") {
                    if let Some(Value::Object(d)) = s.get_mut("downwardAPI") {
                        downward_items(d);
                    }
                }
            }
        }
    }
    if let Some(Value::Object(h)) = v.get_mut("hostPath") {
        set_default(h, "type", json!(""));
    }
}

/// `SetDefaults_PodSpec` and everything under it (containers, init containers, volumes).
pub fn pod_spec(spec: &mut Value) {
    let Some(s) = spec.as_object_mut() else {
        return;
    };
    set_default(s, "restartPolicy", json!("Always"));
    set_default(s, "terminationGracePeriodSeconds", json!(30));
    set_default(s, "dnsPolicy", json!("ClusterFirst"));
    set_default(s, "schedulerName", json!("default-scheduler"));
    set_default(s, "securityContext", json!({}));
    for key in ["containers", "initContainers"] {
        for c in objects_mut(s, key) {
            container(c);
        }
    }
    for v in objects_mut(s, "volumes") {
        volume(v);
    }
}

/// A pod template: `metadata: {}` when absent, and the pod spec's defaults.
pub fn template(t: Option<&mut Value>) {
    let Some(Value::Object(t)) = t else {
        return;
    };
    set_default(t, "metadata", json!({}));
    // `creationTimestamp: null` (kubectl sends it) is the Go zero time: not stored.
    if let Some(Value::Object(md)) = t.get_mut("metadata") {
        if md.get("creationTimestamp").is_some_and(Value::is_null) {
            md.remove("creationTimestamp");
        }
    }
    if let Some(spec) = t.get_mut("spec") {
        pod_spec(spec);
    }
}

/// `SetDefaults_Pod`: the spec's defaults, `enableServiceLinks`, and requests copied from limits.
pub fn pod(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec") else {
        return;
    };
    pod_spec(spec);
    let Some(s) = spec.as_object_mut() else {
        return;
    };
    set_default(s, "enableServiceLinks", json!(true));
    // The deprecated `serviceAccount` mirrors `serviceAccountName` (the real server's
    // conversion fills either from the other).
    let account = [s.get("serviceAccountName"), s.get("serviceAccount")]
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find(|n| !n.is_empty())
        .map(str::to_string);
    if let Some(a) = account {
        set_default(s, "serviceAccountName", json!(a));
        set_default(s, "serviceAccount", json!(a));
    }
    for key in ["containers", "initContainers"] {
        for c in objects_mut(s, key) {
            let Some(Value::Object(r)) = c.get_mut("resources") else {
                continue;
            };
            if let Some(Value::Object(limits)) = r.get("limits").cloned() {
                let req = r.entry("requests").or_insert_with(|| json!({}));
                if let Some(req) = req.as_object_mut() {
                    for (k, v) in limits {
                        req.entry(k).or_insert(v);
                    }
                }
            }
        }
    }
}

/// The mutating admission a new Pod gets: service account, default tolerations, priority and
/// preemption policy, and the projected `kube-api-access-xxxxx` volume mounted in each container.
pub fn pod_admission(obj: &mut Value, suffix: &str) {
    let Some(Value::Object(s)) = obj.get_mut("spec") else {
        return;
    };
    let sa = s
        .get("serviceAccountName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .or_else(|| s.get("serviceAccount").and_then(Value::as_str))
        .filter(|n| !n.is_empty())
        .unwrap_or("default")
        .to_string();
    s.insert("serviceAccountName".into(), json!(sa));
    s.insert("serviceAccount".into(), json!(sa));
    set_default(s, "priority", json!(0));
    set_default(s, "preemptionPolicy", json!("PreemptLowerPriority"));
    let tolerations = s.entry("tolerations").or_insert_with(|| json!([]));
    if let Some(t) = tolerations.as_array_mut() {
        for key in [
            "node.kubernetes.io/not-ready",
            "node.kubernetes.io/unreachable",
        ] {
            if !t.iter().any(|x| x["key"] == key) {
                t.push(
                    json!({"effect": "NoExecute", "key": key, "operator": "Exists",
                              "tolerationSeconds": 300}),
                );
            }
        }
    }
    if s.get("automountServiceAccountToken") == Some(&json!(false)) {
        return;
    }
    let name = format!("kube-api-access-{suffix}");
    let mount = json!({"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                       "name": name, "readOnly": true});
    for key in ["containers", "initContainers"] {
        for c in objects_mut(s, key) {
            let mounts = c.entry("volumeMounts").or_insert_with(|| json!([]));
            if let Some(m) = mounts.as_array_mut() {
                if !m.iter().any(|x| x["mountPath"] == mount["mountPath"]) {
                    m.push(mount.clone());
                }
            }
        }
    }
    let vols = s.entry("volumes").or_insert_with(|| json!([]));
    if let Some(v) = vols.as_array_mut() {
        v.push(json!({"name": name, "projected": {"defaultMode": 420, "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}], "name": "kube-root-ca.crt"}},
            {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                                        "path": "namespace"}]}}]}}));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policy_follows_the_tag() {
        assert_eq!(image_pull_policy("nginx"), "Always");
        assert_eq!(image_pull_policy("nginx:latest"), "Always");
        assert_eq!(image_pull_policy("reg:5000/busybox"), "Always");
        assert_eq!(image_pull_policy("reg:5000/busybox:1.2"), "IfNotPresent");
        assert_eq!(image_pull_policy("nginx:1.25"), "IfNotPresent");
        assert_eq!(image_pull_policy("busybox@sha256:abc"), "IfNotPresent");
    }

    #[test]
    fn template_gets_the_real_servers_defaults() {
        // kube-apiserver v1.34, StatefulSet template from kinds.yaml (see defaults.rs tests).
        let mut t = json!({"spec": {"containers": [{"name": "c", "image": "busybox",
            "ports": [{"containerPort": 80}],
            "livenessProbe": {"httpGet": {"path": "/", "port": 80}},
            "env": [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}],
            "volumes": [{"name": "v", "configMap": {"name": "x"}}, {"name": "h", "hostPath": {"path": "/tmp"}}]}});
        template(Some(&mut t));
        assert_eq!(t["metadata"], json!({}));
        let s = &t["spec"];
        assert_eq!(s["dnsPolicy"], "ClusterFirst");
        assert_eq!(s["terminationGracePeriodSeconds"], 30);
        assert_eq!(s["securityContext"], json!({}));
        assert!(s.get("enableServiceLinks").is_none());
        let c = &s["containers"][0];
        assert_eq!(c["imagePullPolicy"], "Always");
        assert_eq!(c["ports"][0]["protocol"], "TCP");
        assert_eq!(
            c["livenessProbe"],
            json!({"failureThreshold": 3, "httpGet": {"path": "/", "port": 80, "scheme": "HTTP"},
                   "periodSeconds": 10, "successThreshold": 1, "timeoutSeconds": 1})
        );
        assert_eq!(c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
        assert_eq!(s["volumes"][0]["configMap"]["defaultMode"], 420);
        assert_eq!(s["volumes"][1]["hostPath"]["type"], "");
    }

    #[test]
    fn pod_admission_adds_account_tolerations_and_token_volume() {
        let mut p = json!({"spec": {"containers": [{"name": "c", "image": "busybox",
            "resources": {"limits": {"cpu": "1"}}}]}});
        pod(&mut p);
        pod_admission(&mut p, "abcde");
        let s = &p["spec"];
        assert_eq!(s["enableServiceLinks"], true);
        assert_eq!(s["serviceAccountName"], "default");
        assert_eq!(s["tolerations"].as_array().map(Vec::len), Some(2));
        assert_eq!(s["volumes"][0]["name"], "kube-api-access-abcde");
        assert_eq!(
            s["containers"][0]["volumeMounts"][0]["name"],
            "kube-api-access-abcde"
        );
        assert_eq!(
            s["containers"][0]["resources"]["requests"],
            json!({"cpu": "1"})
        );
    }
}
