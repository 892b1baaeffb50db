//! Workloads as the real kube-apiserver v1.34 (with kube-controller-manager and kwok nodes) shows
//! them, driven through the real kubectl against the backend `FJORD_TEST_BACKEND` selects: the
//! same assertions hold for fjord's local API (defaults, simulated ReplicaSets and Pods, owner
//! reference garbage collection, decoding errors, strategic-merge list order) and for the real
//! control plane. Random parts (hashes, suffixes, uids) are checked by shape, not by value.

mod common;

use std::time::{Duration, Instant};

use common::Cluster;
use fjord_testkit::require_tools;
use fjord_testkit::tools::KUBECTL;
use serde_json::{json, Value};

/// Polls `f` until it returns `Some`, failing with `what` after 60 s.
fn poll<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn items(v: &Value) -> Vec<Value> {
    v["items"].as_array().cloned().unwrap_or_default()
}

fn annotation<'a>(o: &'a Value, k: &str) -> &'a str {
    o["metadata"]["annotations"][k].as_str().unwrap_or("")
}

fn hash_of(rs: &Value) -> String {
    rs["metadata"]["labels"]["pod-template-hash"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// The ReplicaSets and Pods of `app` in `ns` once there are `pods` Running and Ready Pods, all of
/// them from the ReplicaSet that has `pods` replicas, and no others.
fn settled(c: &Cluster, ns: &str, app: &str, pods: usize) -> (Vec<Value>, Vec<Value>) {
    poll(&format!("{pods} ready pods of {app}"), || {
        let sel = format!("app={app}");
        let sets = items(&c.get_json(&["rs", "-n", ns, "-l", &sel]));
        let ps = items(&c.get_json(&["pods", "-n", ns, "-l", &sel]));
        let ready = |p: &Value| {
            p["status"]["phase"] == "Running"
                && p["metadata"]["deletionTimestamp"].is_null()
                && p["status"]["conditions"].as_array().is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True")
                })
        };
        let current = sets.iter().find(|s| {
            s["spec"]["replicas"] == json!(pods) && s["status"]["readyReplicas"] == json!(pods)
        });
        let all_current = current.is_some_and(|cur| ps.iter().all(|p| hash_of(p) == hash_of(cur)));
        (ps.len() == pods && ps.iter().all(ready) && all_current)
            .then(|| (sets.clone(), ps.clone()))
    })
}

fn check_replicaset(rs: &Value, deploy: &Value, replicas: i64, revision: &str) {
    let name = rs["metadata"]["name"].as_str().expect("name");
    let hash = hash_of(rs);
    assert_eq!(name, format!("web-{hash}"));
    assert!(
        (9..=10).contains(&hash.len()) && hash.bytes().all(|b| b"456789bcdf".contains(&b)),
        "pod-template-hash {hash:?} is not shaped like the real controller's"
    );
    assert_eq!(
        rs["metadata"]["ownerReferences"],
        json!([{"apiVersion": "apps/v1", "blockOwnerDeletion": true, "controller": true,
                "kind": "Deployment", "name": "web", "uid": deploy["metadata"]["uid"]}])
    );
    assert_eq!(
        rs["metadata"]["labels"],
        json!({"app": "web", "pod-template-hash": hash})
    );
    assert_eq!(
        rs["spec"]["selector"],
        json!({"matchLabels": {"app": "web", "pod-template-hash": hash}})
    );
    assert_eq!(
        annotation(rs, "deployment.kubernetes.io/revision"),
        revision
    );
    assert_eq!(
        annotation(rs, "deployment.kubernetes.io/desired-replicas"),
        replicas.to_string()
    );
    let max = replicas + (replicas * 25 + 99) / 100;
    assert_eq!(
        annotation(rs, "deployment.kubernetes.io/max-replicas"),
        max.to_string()
    );
}

fn check_pod(p: &Value, rs: &Value) {
    let rs_name = rs["metadata"]["name"].as_str().expect("rs name");
    let name = p["metadata"]["name"].as_str().expect("pod name");
    let suffix = name
        .strip_prefix(&format!("{rs_name}-"))
        .expect("pod named after its ReplicaSet");
    assert_eq!(suffix.len(), 5, "{name}");
    assert_eq!(p["metadata"]["generateName"], format!("{rs_name}-"));
    assert_eq!(
        p["metadata"]["ownerReferences"],
        json!([{"apiVersion": "apps/v1", "blockOwnerDeletion": true, "controller": true,
                "kind": "ReplicaSet", "name": rs_name, "uid": rs["metadata"]["uid"]}])
    );
    let spec = &p["spec"];
    assert!(spec["nodeName"].as_str().is_some_and(|n| !n.is_empty()));
    assert_eq!(spec["serviceAccountName"], "default");
    assert_eq!(spec["enableServiceLinks"], true);
    assert_eq!(spec["tolerations"].as_array().map(Vec::len), Some(2));
    assert!(spec["volumes"][0]["name"]
        .as_str()
        .is_some_and(|v| v.starts_with("kube-api-access-")));
    let st = &p["status"];
    assert!(st["podIP"]
        .as_str()
        .is_some_and(|ip| ip.starts_with("10.244.")));
    assert_eq!(st["qosClass"], "BestEffort");
    assert_eq!(st["containerStatuses"][0]["ready"], true);
    assert!(st["containerStatuses"][0]["state"]["running"].is_object());
}

fn deployment_defaults(d: &Value) {
    let s = &d["spec"];
    assert_eq!(s["revisionHistoryLimit"], 10);
    assert_eq!(s["progressDeadlineSeconds"], 600);
    assert_eq!(
        s["strategy"],
        json!({"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}, "type": "RollingUpdate"})
    );
    let ps = &s["template"]["spec"];
    assert_eq!(
        (
            ps["restartPolicy"].clone(),
            ps["dnsPolicy"].clone(),
            ps["schedulerName"].clone()
        ),
        (
            json!("Always"),
            json!("ClusterFirst"),
            json!("default-scheduler")
        )
    );
    assert_eq!(ps["terminationGracePeriodSeconds"], 30);
    assert_eq!(ps["securityContext"], json!({}));
    let c = &ps["containers"][0];
    assert_eq!(c["imagePullPolicy"], "IfNotPresent");
    assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
    assert_eq!(c["terminationMessagePolicy"], "File");
    assert_eq!(c["resources"], json!({}));
}

fn deployment_status(d: &Value, rs_name: &str, replicas: i64) {
    let st = &d["status"];
    assert_eq!(st["observedGeneration"], d["metadata"]["generation"]);
    for k in [
        "replicas",
        "updatedReplicas",
        "readyReplicas",
        "availableReplicas",
    ] {
        assert_eq!(st[k], replicas, "status.{k}");
    }
    let cond = |t: &str| {
        st["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == t).cloned())
            .unwrap_or(Value::Null)
    };
    assert_eq!(cond("Available")["reason"], "MinimumReplicasAvailable");
    assert_eq!(cond("Progressing")["reason"], "NewReplicaSetAvailable");
    assert_eq!(
        cond("Progressing")["message"],
        format!("ReplicaSet \"{rs_name}\" has successfully progressed.")
    );
}

/// Waits until the Deployment's status describes `replicas` ready replicas of its current
/// template (the controller writes it a little after the Pods turn Ready).
fn settled_deployment(c: &Cluster, ns: &str, replicas: i64) -> Value {
    poll("the deployment's status", || {
        let d = c.get_json(&["deploy", "web", "-n", ns]);
        let st = &d["status"];
        (st["observedGeneration"] == d["metadata"]["generation"]
            && st["updatedReplicas"] == replicas
            && st["availableReplicas"] == replicas
            && st["replicas"] == replicas)
            .then_some(d)
    })
}

#[test]
fn deployment_rollout_scale_undo_and_delete_look_like_kube_apiserver() {
    require_tools!(KUBECTL);
    let c = Cluster::start();
    let ns = "h1-workloads";
    c.kubectl_ok(&["create", "namespace", ns]);
    c.kubectl_ok(&[
        "create",
        "deployment",
        "web",
        "--image=nginx:1.25",
        "--replicas=3",
        "-n",
        ns,
    ]);
    let (sets, pods) = settled(&c, ns, "web", 3);
    let d = settled_deployment(&c, ns, 3);
    deployment_defaults(&d);
    assert_eq!(annotation(&d, "deployment.kubernetes.io/revision"), "1");
    assert_eq!(sets.len(), 1);
    let rs1 = &sets[0];
    check_replicaset(rs1, &d, 3, "1");
    for p in &pods {
        check_pod(p, rs1);
    }
    let rs1_name = rs1["metadata"]["name"].as_str().expect("rs").to_string();
    deployment_status(&d, &rs1_name, 3);

    // The issue's first symptom: this failed on the local API (no default to replace).
    c.kubectl_ok(&[
        "patch",
        "deploy",
        "web",
        "-n",
        ns,
        "--type",
        "json",
        "-p",
        r#"[{"op":"replace","path":"/spec/revisionHistoryLimit","value":3}]"#,
    ]);
    assert_eq!(
        c.get_json(&["deploy", "web", "-n", ns])["spec"]["revisionHistoryLimit"],
        3
    );

    let all = c.kubectl_ok(&["get", "all", "-n", ns]);
    assert!(all.contains("deployment.apps/web"), "{all}");
    assert!(
        all.contains(&format!("replicaset.apps/{rs1_name}")),
        "{all}"
    );
    assert_eq!(all.matches(&format!("pod/{rs1_name}-")).count(), 3, "{all}");

    // A new template: a second ReplicaSet (revision 2) takes the replicas, the first goes to 0.
    c.kubectl_ok(&["set", "image", "deploy/web", "nginx=nginx:1.26", "-n", ns]);
    let (sets, pods) = settled(&c, ns, "web", 3);
    let d = settled_deployment(&c, ns, 3);
    assert_eq!(sets.len(), 2);
    let rs2 = sets
        .iter()
        .find(|s| s["metadata"]["name"] != rs1_name.as_str())
        .expect("new rs");
    check_replicaset(rs2, &d, 3, "2");
    let old = sets
        .iter()
        .find(|s| s["metadata"]["name"] == rs1_name.as_str())
        .expect("old rs");
    assert_eq!(old["spec"]["replicas"], 0);
    assert_eq!(
        old["status"],
        json!({"observedGeneration": old["metadata"]["generation"], "replicas": 0})
    );
    assert_eq!(annotation(&d, "deployment.kubernetes.io/revision"), "2");
    assert_eq!(pods[0]["spec"]["containers"][0]["image"], "nginx:1.26");
    c.kubectl_ok(&["rollout", "status", "deploy/web", "-n", ns, "--timeout=60s"]);
    let history = c.kubectl_ok(&["rollout", "history", "deploy/web", "-n", ns]);
    assert!(
        history.contains("\n1 ") && history.contains("\n2 "),
        "{history}"
    );

    // Scaling changes the Pods of the current ReplicaSet and its annotations.
    c.kubectl_ok(&["scale", "deploy/web", "--replicas=1", "-n", ns]);
    let (sets, pods) = settled(&c, ns, "web", 1);
    let rs2 = sets
        .iter()
        .find(|s| s["spec"]["replicas"] == 1)
        .expect("scaled rs");
    let d = settled_deployment(&c, ns, 1);
    check_replicaset(rs2, &d, 1, "2");
    check_pod(&pods[0], rs2);

    // Undo: the first template's ReplicaSet comes back as revision 3.
    c.kubectl_ok(&["rollout", "undo", "deploy/web", "-n", ns]);
    let (sets, _) = settled(&c, ns, "web", 1);
    let back = sets
        .iter()
        .find(|s| s["spec"]["replicas"] == 1)
        .expect("current rs");
    assert_eq!(back["metadata"]["name"], rs1_name.as_str());
    assert_eq!(annotation(back, "deployment.kubernetes.io/revision"), "3");

    // Deleting the Deployment (background propagation) takes its ReplicaSets and Pods along.
    c.kubectl_ok(&["delete", "deploy", "web", "-n", ns]);
    poll("the ReplicaSets and Pods to go", || {
        let sets = items(&c.get_json(&["rs", "-n", ns]));
        let pods = items(&c.get_json(&["pods", "-n", ns]));
        (sets.is_empty() && pods.is_empty()).then_some(())
    });
}

#[test]
fn orphan_and_foreground_deletion_and_gc_of_any_kind() {
    require_tools!(KUBECTL);
    let c = Cluster::start();
    let ns = "h1-gc";
    c.kubectl_ok(&["create", "namespace", ns]);
    c.kubectl_ok(&[
        "create",
        "deployment",
        "web",
        "--image=nginx:1.25",
        "--replicas=2",
        "-n",
        ns,
    ]);
    settled(&c, ns, "web", 2);
    c.kubectl_ok(&[
        "delete",
        "deploy",
        "web",
        "--cascade=orphan",
        "-n",
        ns,
        "--timeout=60s",
    ]);
    let sets = poll("orphaned ReplicaSet", || {
        let sets = items(&c.get_json(&["rs", "-n", ns]));
        (sets.len() == 1 && sets[0]["metadata"]["ownerReferences"].is_null()).then_some(sets)
    });
    assert_eq!(items(&c.get_json(&["pods", "-n", ns])).len(), 2);
    let rs = sets[0]["metadata"]["name"]
        .as_str()
        .expect("rs")
        .to_string();
    c.kubectl_ok(&[
        "delete",
        "rs",
        &rs,
        "--cascade=foreground",
        "-n",
        ns,
        "--timeout=60s",
    ]);
    assert!(items(&c.get_json(&["pods", "-n", ns])).is_empty());

    c.kubectl_ok(&["create", "configmap", "owner", "-n", ns]);
    let uid = c.get_json(&["cm", "owner", "-n", ns])["metadata"]["uid"].clone();
    let owned = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "owned", "namespace": ns,
                     "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid}]}});
    c.kubectl_ok_in(&["create", "-f", "-"], &owned.to_string());
    c.kubectl_ok(&["delete", "cm", "owner", "-n", ns]);
    poll("the owned ConfigMap to be collected", || {
        let out = c.kubectl(&["get", "cm", "owned", "-n", ns]);
        (!out.status.success()).then_some(())
    });
}

#[test]
fn config_map_and_secret_values_must_be_strings() {
    require_tools!(KUBECTL);
    let c = Cluster::start();
    let path = "/api/v1/namespaces/default/configmaps";
    let body =
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"h1-bool"},"data":{"x":true}}"#;
    let (code, text) = c.http("POST", path, "application/json", body);
    let status: Value = serde_json::from_str(&text).expect("status json");
    assert_eq!(code, 400, "{text}");
    assert_eq!(status["reason"], "BadRequest");
    assert_eq!(
        status["message"],
        "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: json: cannot unmarshal bool into Go struct field ConfigMap.data of type string"
    );
    let secrets = "/api/v1/namespaces/default/secrets";
    let (code, text) = c.http("POST", secrets, "application/json",
        r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"h1-b64"},"data":{"x":"not base64!"}}"#);
    assert_eq!(code, 400, "{text}");
    assert!(text.contains("Secret in version \\\"v1\\\" cannot be handled as a Secret: illegal base64 data at input byte 3"), "{text}");
    // Nothing was stored.
    assert_eq!(c.http("GET", &format!("{path}/h1-bool"), "", "").0, 404);
    // A merge patch that puts a boolean in: 422 on field `patch`.
    c.kubectl_ok(&["create", "configmap", "h1-cm", "--from-literal=x=1"]);
    let (code, text) = c.http(
        "PATCH",
        &format!("{path}/h1-cm"),
        "application/merge-patch+json",
        r#"{"data":{"y":true}}"#,
    );
    let status: Value = serde_json::from_str(&text).expect("status json");
    assert_eq!(code, 422, "{text}");
    assert_eq!(status["details"]["causes"][0]["field"], "patch");
    assert!(status["message"].as_str().is_some_and(|m| m.ends_with(
        "json: cannot unmarshal bool into Go struct field ConfigMap.data of type string"
    )));
    assert_eq!(c.get_json(&["cm", "h1-cm"])["data"], json!({"x": "1"}));
    c.kubectl_ok(&["delete", "cm", "h1-cm"]);
}

#[test]
fn strategic_merge_patch_puts_new_list_entries_where_the_server_does() {
    require_tools!(KUBECTL);
    let c = Cluster::start();
    let ns = "h1-smp";
    c.kubectl_ok(&["create", "namespace", ns]);
    c.kubectl_ok(&[
        "create",
        "deployment",
        "smp",
        "--image=nginx:1.25",
        "-n",
        ns,
    ]);
    c.kubectl_ok(&["set", "env", "deploy/smp", "A=1", "B=2", "-n", ns]);
    let env = |patch: &str| -> Vec<String> {
        let out = c.kubectl_ok(&[
            "patch",
            "deploy",
            "smp",
            "-n",
            ns,
            "--type",
            "strategic",
            "--dry-run=server",
            "-o",
            "json",
            "-p",
            patch,
        ]);
        let d: Value = serde_json::from_str(&out).expect("json");
        d["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .expect("env")
            .iter()
            .map(|e| e["name"].as_str().unwrap_or("").to_string())
            .collect()
    };
    let c_entry = r#"{"spec":{"template":{"spec":{"containers":[{"name":"nginx","env":[{"name":"C","value":"3"}]}]}}}}"#;
    assert_eq!(env(c_entry), ["C", "A", "B"]);
    let ordered = r#"{"spec":{"template":{"spec":{"containers":[{"name":"nginx","$setElementOrder/env":[{"name":"B"},{"name":"C"},{"name":"A"}],"env":[{"name":"C","value":"3"}]}]}}}}"#;
    assert_eq!(env(ordered), ["B", "C", "A"]);
    let delete = r#"{"spec":{"template":{"spec":{"containers":[{"name":"nginx","env":[{"name":"A","$patch":"delete"},{"name":"C","value":"3"}]}]}}}}"#;
    assert_eq!(env(delete), ["C", "B"]);
}
