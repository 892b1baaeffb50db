use serde_json::{json, Value};

use super::apply_keeps_live;

/// A Deployment as the real kube-apiserver stores it after fjord applied `target()`: defaults
/// filled in, the port's key carrying the defaulted protocol, another manager's status.
fn live() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {
            "name": "web", "namespace": "shop", "uid": "u1", "resourceVersion": "7",
            "generation": 1, "labels": {"app": "web"},
            "managedFields": [
                {"manager": "fjord", "operation": "Apply", "apiVersion": "apps/v1",
                 "fieldsType": "FieldsV1", "fieldsV1": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:replicas": {}, "f:selector": {}, "f:template": {
                        "f:metadata": {"f:labels": {"f:app": {}}},
                        "f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {
                            ".": {}, "f:image": {}, "f:name": {},
                            "f:ports": {"k:{\"containerPort\":8080,\"protocol\":\"TCP\"}": {
                                ".": {}, "f:containerPort": {}}}}}}}}}},
                {"manager": "kube-controller-manager", "operation": "Update",
                 "apiVersion": "apps/v1", "subresource": "status",
                 "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {"f:replicas": {}}}}
            ]
        },
        "spec": {
            "replicas": 2, "revisionHistoryLimit": 10,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"creationTimestamp": null, "labels": {"app": "web"}},
                "spec": {"containers": [{
                    "name": "app", "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent",
                    "ports": [{"containerPort": 8080, "protocol": "TCP"}]
                }], "restartPolicy": "Always"}
            }
        },
        "status": {"replicas": 2}
    })
}

fn target() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{
                    "name": "app", "image": "nginx:1.27",
                    "ports": [{"containerPort": 8080}]
                }]}
            }
        }
    })
}

fn keeps(live: &Value, target: &Value) -> bool {
    apply_keeps_live(live, target, "fjord")
}

#[test]
fn the_same_target_over_its_own_apply_keeps_the_object() {
    assert!(keeps(&live(), &target()));
}

#[test]
fn a_changed_or_added_value_is_left_to_the_server() {
    let mut t = target();
    t["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.28");
    assert!(!keeps(&live(), &t));
    let mut t = target();
    t["metadata"]["labels"]["tier"] = json!("front");
    assert!(!keeps(&live(), &t));
    let mut t = target();
    t["spec"]["template"]["spec"]["containers"][0]["ports"]
        .as_array_mut()
        .unwrap()
        .push(json!({"containerPort": 9090}));
    assert!(!keeps(&live(), &t));
}

#[test]
fn a_value_in_another_form_than_the_stored_one_is_left_to_the_server() {
    let mut t = target();
    t["spec"]["replicas"] = json!(2.0);
    assert!(!keeps(&live(), &t));
    let mut t = target();
    t["spec"]["template"]["metadata"]["creationTimestamp"] = Value::Null;
    assert!(
        !keeps(&live(), &t),
        "a null asks the server to remove a field"
    );
}

#[test]
fn a_field_fjord_owned_and_no_longer_sets_is_left_to_the_server() {
    let mut t = target();
    t["spec"].as_object_mut().unwrap().remove("replicas");
    assert!(
        !keeps(&live(), &t),
        "the apply would give up replicas (owned by fjord until now)"
    );
    let mut t = target();
    t["metadata"].as_object_mut().unwrap().remove("labels");
    assert!(!keeps(&live(), &t));
}

#[test]
fn drift_by_another_manager_is_left_to_the_server() {
    let mut l = live();
    l["spec"]["replicas"] = json!(5);
    assert!(!keeps(&l, &target()));
    let mut l = live();
    l["spec"]["template"]["spec"]["containers"][0]
        .as_object_mut()
        .unwrap()
        .remove("image");
    assert!(!keeps(&l, &target()));
}

#[test]
fn fields_only_another_manager_sets_do_not_matter() {
    let mut l = live();
    l["metadata"]["annotations"] = json!({"deployment.kubernetes.io/revision": "1"});
    l["spec"]["template"]["spec"]["containers"][0]["env"] = json!([{"name": "X", "value": "1"}]);
    assert!(keeps(&l, &target()));
}

#[test]
fn without_fjords_own_apply_entry_the_server_is_asked() {
    let mut l = live();
    l["metadata"]["managedFields"][0]["manager"] = json!("kubectl");
    assert!(!keeps(&l, &target()), "another manager's apply");
    let mut l = live();
    l["metadata"]["managedFields"][0]["operation"] = json!("Update");
    assert!(!keeps(&l, &target()), "an update, not an apply");
    let mut l = live();
    l["metadata"]["managedFields"][0]["apiVersion"] = json!("apps/v1beta2");
    assert!(!keeps(&l, &target()), "fields of another version");
    let mut l = live();
    l["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("managedFields");
    assert!(!keeps(&l, &target()));
    let mut t = target();
    t.as_object_mut().unwrap().remove("apiVersion");
    assert!(!keeps(&live(), &t));
}

#[test]
fn a_list_key_the_target_contradicts_is_left_to_the_server() {
    let mut t = target();
    t["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"] = json!("UDP");
    assert!(!keeps(&live(), &t));
    let mut l = live();
    // The owned item's key names an item the live list does not hold.
    l["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["f:template"]["f:spec"]
        ["f:containers"] = json!({"k:{\"name\":\"other\"}": {".": {}}});
    assert!(!keeps(&l, &target()));
}

#[test]
fn malformed_field_sets_are_left_to_the_server() {
    for bad in [
        json!({"k:not json": {}}),
        json!({"x:odd": {}}),
        json!({"i:nine": {}}),
    ] {
        let mut l = live();
        l["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["f:template"]["f:spec"]
            ["f:containers"] = bad.clone();
        assert!(!keeps(&l, &target()), "{bad}");
    }
}

#[test]
fn set_and_index_keys_resolve_in_the_target() {
    let live = json!({
        "apiVersion": "v1", "kind": "Thing",
        "metadata": {"name": "t", "managedFields": [{"manager": "fjord", "operation": "Apply",
            "apiVersion": "v1", "fieldsV1": {"f:finalizers": {"v:\"a\"": {}}, "f:args": {"i:1": {}}}}]},
        "finalizers": ["a"], "args": ["x", "y"]
    });
    let target = json!({"apiVersion": "v1", "kind": "Thing", "metadata": {"name": "t"},
                        "finalizers": ["a"], "args": ["x", "y"]});
    assert!(keeps(&live, &target));
    let mut other = target.clone();
    other["finalizers"] = json!(["b"]);
    assert!(!keeps(&live, &other));
}
