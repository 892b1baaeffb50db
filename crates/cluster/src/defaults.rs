//! Server-side defaulting: what kube-apiserver v1.34 fills in on every write of a built-in kind
//! ([`on_write`]) and what it allocates once, at create ([`on_create`]).

mod pod;
mod status;
mod workloads;

use serde_json::{json, Value};

use fjord_model::ResourceType;

pub use workloads::fnv32a;

/// The finalizer a CRD carries until its custom resources are gone.
pub const CRD_CLEANUP: &str = "customresourcecleanup.apiextensions.k8s.io";

/// Normalisation and defaults every write of a built-in kind gets: the kind's defaults, and a
/// Secret's write-only `stringData` folded into `data` (base64), as the API server does; it is
/// never stored.
pub fn on_write(rt: &ResourceType, obj: &mut Value) {
    if rt.custom {
        return;
    }
    workloads::on_write(&rt.group, &rt.kind, obj);
    crate::quantity::canonicalize(rt, obj);
    if rt.group.is_empty() && rt.kind == "Namespace" {
        namespace_name_label(obj);
    }
    if rt.kind == "CustomResourceDefinition" {
        // The real server's defaulting: no conversion means `strategy: None`.
        if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
            spec.entry("conversion")
                .or_insert_with(|| json!({"strategy": "None"}));
        }
    }
    if !rt.group.is_empty() || rt.kind != "Secret" {
        return;
    }
    use base64::Engine as _;
    let Some(m) = obj.as_object_mut() else {
        return;
    };
    let Some(Value::Object(strings)) = m.remove("stringData") else {
        return;
    };
    let data = m
        .entry("data")
        .or_insert_with(|| Value::Object(Default::default()));
    if !data.is_object() {
        *data = Value::Object(Default::default());
    }
    if let Some(d) = data.as_object_mut() {
        for (k, v) in strings {
            let text = v.as_str().unwrap_or_default();
            d.insert(
                k,
                Value::String(base64::engine::general_purpose::STANDARD.encode(text)),
            );
        }
    }
}

/// The label every Namespace carries (the real server's defaulting sets it on each write).
const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// Sets a Namespace's `kubernetes.io/metadata.name` label to its name.
fn namespace_name_label(obj: &mut Value) {
    let Some(name) = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
    else {
        return;
    };
    let Some(md) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let labels = md
        .entry("labels")
        .or_insert_with(|| Value::Object(Default::default()));
    if !labels.is_object() {
        *labels = Value::Object(Default::default());
    }
    if let Some(l) = labels.as_object_mut() {
        l.insert(NAMESPACE_NAME_LABEL.into(), Value::String(name));
    }
}

/// What the real server sets on a create after field ownership is recorded (so no manager
/// owns it): mutating admission (a Pod's service account, tolerations, priority, token
/// volume), the create strategy (zero-valued `status`, a Pod's phase and QoS class, a Job's
/// selector and pod labels, a Namespace's `kubernetes` finalizer), the
/// registry's allocations (a Service's cluster IPs and IP families, node ports), and the
/// defaults applied again when the stored object is read back (a Job's labels from its pod
/// template). Finally the metadata keys are put in the real server's order.
pub fn after_tracking_create(rt: &ResourceType, obj: &mut Value) {
    if !obj.is_object() {
        return;
    }
    if !rt.custom {
        workloads::on_create(&rt.group, &rt.kind, obj);
        status::on_create(&rt.group, &rt.kind, obj);
        if rt.group.is_empty() && rt.kind == "Namespace" {
            namespace_finalizer(obj);
        }
    }
    crate::metadata_json::canonical_order(obj);
}

/// What the real server's update strategy sets after field ownership is recorded: a
/// DaemonSet keeps its template generation annotation, one higher when the template changed.
pub fn after_tracking_update(rt: &ResourceType, old: &Value, new: &mut Value) {
    if rt.custom || rt.group != "apps" || rt.kind != "DaemonSet" {
        return;
    }
    let ann = |o: &Value| {
        o.pointer("/metadata/annotations")
            .and_then(|a| a.get(DAEMONSET_TEMPLATE_GENERATION))
            .and_then(Value::as_str)
            .and_then(|g| g.parse::<i64>().ok())
    };
    let Some(generation) = ann(old) else {
        return;
    };
    let next = if old.pointer("/spec/template") != new.pointer("/spec/template") {
        generation + 1
    } else {
        generation
    };
    let Some(md) = new.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let annotations = md
        .entry("annotations")
        .or_insert_with(|| Value::Object(Default::default()));
    if let Some(a) = annotations.as_object_mut() {
        a.insert(
            DAEMONSET_TEMPLATE_GENERATION.into(),
            json!(next.to_string()),
        );
    }
}

/// A Namespace's `spec.finalizers` gain `kubernetes`.
fn namespace_finalizer(obj: &mut Value) {
    let mut fins = obj
        .pointer("/spec/finalizers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if !fins.iter().any(|f| f == "kubernetes") {
        fins.push(json!("kubernetes"));
    }
    if !obj.get("spec").is_some_and(Value::is_object) {
        obj["spec"] = json!({});
    }
    obj["spec"]["finalizers"] = Value::Array(fins);
}

/// The annotation a DaemonSet's template generation is served in.
const DAEMONSET_TEMPLATE_GENERATION: &str = "deprecated.daemonset.template.generation";

/// Applies create-time settings recorded as the creator's fields (call before [`on_write`]);
/// see [`after_tracking_create`] for the rest.
pub fn on_create(rt: &ResourceType, obj: &mut Value) {
    if rt.custom {
        return;
    }
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Namespace") => {
            obj["status"] = json!({"phase": "Active"});
        }
        ("", "Service" | "Pod") | ("batch", "Job") => {
            // The uid is chosen here, so that what is derived from it (a Job's selector, a Pod's
            // token volume name) matches the uid the object is stored with.
            if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                m.entry("uid")
                    .or_insert_with(|| json!(crate::meta::new_uid()));
            }
        }
        ("apps", "DaemonSet") => {
            if let Some(md) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                let ann = md
                    .entry("annotations")
                    .or_insert_with(|| Value::Object(Default::default()));
                if let Some(a) = ann.as_object_mut() {
                    a.insert(DAEMONSET_TEMPLATE_GENERATION.into(), json!("1"));
                }
            }
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            let fins = obj["metadata"]["finalizers"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if !fins.iter().any(|f| f == CRD_CLEANUP) {
                let mut fins = fins;
                fins.push(json!(CRD_CLEANUP));
                obj["metadata"]["finalizers"] = Value::Array(fins);
            }
            establish_crd(obj);
        }
        _ => {}
    }
}

/// Sets a CRD's status to NamesAccepted + Established (synchronously, as the embedded server does).
pub fn establish_crd(obj: &mut Value) {
    let now = crate::meta::now();
    let names = obj.pointer("/spec/names").cloned().unwrap_or(json!({}));
    let mut accepted = names.clone();
    if accepted.get("singular").is_none() {
        if let Some(k) = names["kind"].as_str() {
            accepted["singular"] = json!(k.to_ascii_lowercase());
        }
    }
    if accepted.get("listKind").is_none() {
        if let Some(k) = names["kind"].as_str() {
            accepted["listKind"] = json!(format!("{k}List"));
        }
    }
    let stored: Vec<Value> = obj
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|vs| {
            vs.iter()
                .filter(|v| v["storage"] == json!(true))
                .map(|v| v["name"].clone())
                .collect()
        })
        .unwrap_or_default();
    obj["status"] = json!({
        "acceptedNames": accepted,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "lastTransitionTime": now, "reason": "NoConflicts", "message": "no conflicts found"},
            {"type": "Established", "status": "True", "lastTransitionTime": now, "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"}
        ],
        "storedVersions": stored,
    });
}

#[cfg(test)]
mod write_tests {
    use super::*;

    fn secret_type() -> ResourceType {
        crate::kinds::builtins()
            .into_iter()
            .find(|t| t.group.is_empty() && t.kind == "Secret")
            .map(|t| t.as_ref().clone())
            .expect("Secret is built in")
    }

    fn builtin(group: &str, kind: &str) -> ResourceType {
        crate::kinds::builtins()
            .into_iter()
            .find(|t| t.group == group && t.kind == kind)
            .map(|t| t.as_ref().clone())
            .expect("built in")
    }

    fn create(group: &str, kind: &str, mut obj: Value) -> Value {
        let rt = builtin(group, kind);
        on_create(&rt, &mut obj);
        on_write(&rt, &mut obj);
        after_tracking_create(&rt, &mut obj);
        obj
    }

    #[test]
    fn deployment_defaults_match_kube_apiserver_1_34() {
        // `kubectl create deployment web --image=nginx:1.25` on a real v1.34.2 server.
        let d = create(
            "apps",
            "Deployment",
            json!({"metadata": {"name": "web"}, "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}}}}),
        );
        let s = &d["spec"];
        assert_eq!(s["replicas"], 1);
        assert_eq!(s["revisionHistoryLimit"], 10);
        assert_eq!(s["progressDeadlineSeconds"], 600);
        assert_eq!(
            s["strategy"],
            json!({"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}, "type": "RollingUpdate"})
        );
        assert_eq!(
            s["template"]["spec"]["containers"][0],
            json!({"image": "nginx:1.25", "imagePullPolicy": "IfNotPresent", "name": "nginx",
                   "resources": {}, "terminationMessagePath": "/dev/termination-log",
                   "terminationMessagePolicy": "File"})
        );
        let r = create(
            "apps",
            "Deployment",
            json!({"spec": {"strategy": {"type": "Recreate"}}}),
        );
        assert_eq!(r["spec"]["strategy"], json!({"type": "Recreate"}));
    }

    #[test]
    fn statefulset_daemonset_job_cronjob_defaults() {
        let tmpl = json!({"spec": {"containers": [{"name": "c", "image": "busybox"}]}});
        let sts = create(
            "apps",
            "StatefulSet",
            json!({"spec": {"template": tmpl,
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {}}]}}),
        );
        assert_eq!(sts["spec"]["podManagementPolicy"], "OrderedReady");
        assert_eq!(
            sts["spec"]["updateStrategy"],
            json!({"rollingUpdate": {"partition": 0}, "type": "RollingUpdate"})
        );
        assert_eq!(
            sts["spec"]["persistentVolumeClaimRetentionPolicy"],
            json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
        );
        assert_eq!(
            sts["spec"]["volumeClaimTemplates"][0]["kind"],
            "PersistentVolumeClaim"
        );
        assert_eq!(
            sts["spec"]["volumeClaimTemplates"][0]["status"],
            json!({"phase": "Pending"})
        );
        let ds = create("apps", "DaemonSet", json!({"spec": {"template": tmpl}}));
        assert_eq!(
            ds["spec"]["updateStrategy"],
            json!({"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}, "type": "RollingUpdate"})
        );
        let job = create(
            "batch",
            "Job",
            json!({"metadata": {"name": "j"}, "spec": {"template": tmpl}}),
        );
        let uid = job["metadata"]["uid"]
            .as_str()
            .expect("uid chosen at create")
            .to_string();
        let s = &job["spec"];
        assert_eq!(
            (s["completions"].clone(), s["parallelism"].clone()),
            (json!(1), json!(1))
        );
        assert_eq!(s["backoffLimit"], 6);
        assert_eq!(s["completionMode"], "NonIndexed");
        assert_eq!(s["podReplacementPolicy"], "TerminatingOrFailed");
        assert_eq!(s["suspend"], false);
        assert_eq!(
            s["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
            json!(uid)
        );
        assert_eq!(s["template"]["metadata"]["labels"]["job-name"], "j");
        let cj = create(
            "batch",
            "CronJob",
            json!({"spec": {"schedule": "* * * * *",
            "jobTemplate": {"spec": {"template": tmpl}}}}),
        );
        assert_eq!(cj["spec"]["concurrencyPolicy"], "Allow");
        assert_eq!(cj["spec"]["successfulJobsHistoryLimit"], 3);
        assert_eq!(cj["spec"]["jobTemplate"]["metadata"], json!({}));
        assert!(cj["spec"]["jobTemplate"]["spec"]
            .get("backoffLimit")
            .is_none());
        assert_eq!(
            cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["dnsPolicy"],
            "ClusterFirst"
        );
    }

    #[test]
    fn service_defaults_and_allocation() {
        // What made the server's worker panic: a Service without `type` or `clusterIP`.
        let s = create(
            "",
            "Service",
            json!({"metadata": {"name": "svc", "namespace": "default"},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "a", "port": 80},
                     {"name": "b", "port": 81, "targetPort": "http"}]}}),
        );
        let sp = &s["spec"];
        assert_eq!(sp["type"], "ClusterIP");
        assert_eq!(sp["sessionAffinity"], "None");
        assert_eq!(sp["internalTrafficPolicy"], "Cluster");
        assert_eq!(sp["ipFamilies"], json!(["IPv4"]));
        assert_eq!(sp["ipFamilyPolicy"], "SingleStack");
        assert!(sp["clusterIP"]
            .as_str()
            .is_some_and(|ip| ip.starts_with("10.96.")));
        assert_eq!(sp["clusterIPs"], json!([sp["clusterIP"].clone()]));
        assert_eq!(
            sp["ports"][0],
            json!({"name": "a", "port": 80, "protocol": "TCP", "targetPort": 80})
        );
        assert_eq!(sp["ports"][1]["targetPort"], "http");
        let h = create(
            "",
            "Service",
            json!({"spec": {"clusterIP": "None", "ports": [{"port": 80}]}}),
        );
        assert_eq!(h["spec"]["ipFamilyPolicy"], "RequireDualStack");
        assert_eq!(h["spec"]["clusterIPs"], json!(["None"]));
        let lb = create(
            "",
            "Service",
            json!({"spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}}),
        );
        assert_eq!(lb["spec"]["allocateLoadBalancerNodePorts"], true);
        assert_eq!(lb["spec"]["externalTrafficPolicy"], "Cluster");
        let np = lb["spec"]["ports"][0]["nodePort"]
            .as_i64()
            .expect("node port");
        assert!((30000..=32767).contains(&np));
        let ext = create(
            "",
            "Service",
            json!({"spec": {"type": "ExternalName", "externalName": "x.io"}}),
        );
        assert_eq!(
            ext["spec"],
            json!({"type": "ExternalName", "externalName": "x.io", "sessionAffinity": "None"})
        );
        let bare = create("", "Service", json!({"metadata": {"name": "x"}}));
        assert_eq!(bare["spec"]["type"], "ClusterIP");
    }

    #[test]
    fn secret_type_networkpolicy_hpa_pvc() {
        assert_eq!(create("", "Secret", json!({"data": {}}))["type"], "Opaque");
        let np = create(
            "networking.k8s.io",
            "NetworkPolicy",
            json!({"spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]}}),
        );
        assert_eq!(np["spec"]["policyTypes"], json!(["Ingress"]));
        assert_eq!(np["spec"]["ingress"][0]["ports"][0]["protocol"], "TCP");
        let hpa = create(
            "autoscaling",
            "HorizontalPodAutoscaler",
            json!({"apiVersion": "autoscaling/v2",
            "spec": {"maxReplicas": 3}}),
        );
        assert_eq!(hpa["spec"]["minReplicas"], 1);
        assert_eq!(
            hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            80
        );
        let pvc = create("", "PersistentVolumeClaim", json!({"spec": {}}));
        assert_eq!(pvc["spec"]["volumeMode"], "Filesystem");
    }

    #[test]
    fn priority_and_ingress_classes() {
        let pc = create("scheduling.k8s.io", "PriorityClass", json!({"value": 5}));
        assert_eq!(pc["preemptionPolicy"], "PreemptLowerPriority");
        let never = json!({"value": 5, "preemptionPolicy": "Never"});
        let pc = create("scheduling.k8s.io", "PriorityClass", never);
        assert_eq!(pc["preemptionPolicy"], "Never");
        let params = json!({"spec": {"parameters": {"kind": "P", "name": "p"}}});
        let ic = create("networking.k8s.io", "IngressClass", params);
        assert_eq!(ic["spec"]["parameters"]["scope"], "Cluster");
        let bare = create("networking.k8s.io", "IngressClass", json!({"spec": {}}));
        assert_eq!(bare["spec"], json!({}));
    }

    #[test]
    fn string_data_is_folded_into_data() {
        let mut s = json!({"metadata": {"name": "s"}, "data": {"a": "eA=="},
            "stringData": {"b": "hello", "a": "over"}});
        on_write(&secret_type(), &mut s);
        assert_eq!(s.get("stringData"), None);
        assert_eq!(s["data"], json!({"a": "b3Zlcg==", "b": "aGVsbG8="}));
    }

    #[test]
    fn daemonsets_count_template_generations() {
        let rt = builtin("apps", "DaemonSet");
        let tmpl = json!({"spec": {"containers": [{"name": "c", "image": "busybox"}]}});
        let old = create(
            "apps",
            "DaemonSet",
            json!({"metadata": {"name": "d"}, "spec": {"template": tmpl}}),
        );
        let key = DAEMONSET_TEMPLATE_GENERATION;
        assert_eq!(old["metadata"]["annotations"][key], "1");
        let mut relabelled = old.clone();
        relabelled["metadata"]
            .as_object_mut()
            .map(|m| m.remove("annotations"));
        after_tracking_update(&rt, &old, &mut relabelled);
        assert_eq!(relabelled["metadata"]["annotations"][key], "1");
        let mut changed = old.clone();
        changed["spec"]["template"]["spec"]["containers"][0]["image"] = json!("busybox:2");
        after_tracking_update(&rt, &old, &mut changed);
        assert_eq!(changed["metadata"]["annotations"][key], "2");
    }

    #[test]
    fn namespaces_get_their_name_label_and_the_kubernetes_finalizer() {
        let rt = builtin("", "Namespace");
        let mut ns =
            json!({"metadata": {"name": "team", "labels": {"kubernetes.io/metadata.name": "x"}}});
        on_create(&rt, &mut ns);
        on_write(&rt, &mut ns);
        assert_eq!(
            ns["metadata"]["labels"]["kubernetes.io/metadata.name"],
            "team"
        );
        // Set after field ownership is recorded, kept when the client sent its own.
        assert_eq!(ns.pointer("/spec/finalizers"), None);
        after_tracking_create(&rt, &mut ns);
        assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
        let mut own = json!({"metadata": {"name": "o"}, "spec": {"finalizers": ["a/b"]}});
        after_tracking_create(&rt, &mut own);
        assert_eq!(own["spec"]["finalizers"], json!(["a/b", "kubernetes"]));
        let crd = create(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            json!({"metadata": {"name": "a.b"}, "spec": {"group": "b", "names": {"plural": "a"}}}),
        );
        assert_eq!(crd["spec"]["conversion"], json!({"strategy": "None"}));
    }
}
