//! Server-side apply edge cases over raw HTTP: the Update-manager cap (`ancient-changes`),
//! `before-first-apply`, duplicate keys in associative lists, and `managedFields` on apply; on
//! the backend `FJORD_TEST_BACKEND` picks.

mod common;

use common::Cluster;
use serde_json::Value;

const CM: &str = "/api/v1/namespaces/default/configmaps";

fn managers(obj: &Value) -> Vec<(String, String)> {
    obj["metadata"]["managedFields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e["manager"].as_str().unwrap_or("").to_string(),
                        e["operation"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn apply(c: &Cluster, name: &str, manager: &str, force: bool, body: &str) -> (u16, Value) {
    let (code, text) = c.http(
        "PATCH",
        &format!("{CM}/{name}?fieldManager={manager}&force={force}"),
        "application/apply-patch+yaml",
        body,
    );
    (code, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[test]
fn update_managers_are_capped_at_ten_with_ancient_changes() {
    let c = Cluster::start();
    let (code, _) = c.http(
        "POST",
        &format!("{CM}?fieldManager=creator"),
        "application/json",
        // The creator must own a field: an object created with none has no managedFields,
        // and updates do not start tracking them (see the next test).
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"many"},"data":{"init":"x"}}"#,
    );
    assert_eq!(code, 201);
    let mut last = Value::Null;
    for i in 0..12 {
        let (code, text) = c.http(
            "PATCH",
            &format!("{CM}/many?fieldManager=writer-{i}"),
            "application/merge-patch+json",
            &format!(r#"{{"data":{{"k{i}":"v"}}}}"#),
        );
        assert_eq!(code, 200, "{text}");
        last = serde_json::from_str(&text).expect("json");
    }
    let ms = managers(&last);
    assert_eq!(ms.len(), 10, "{ms:?}");
    assert!(ms.iter().all(|(_, op)| op == "Update"));
    assert!(ms.iter().any(|(m, _)| m == "ancient-changes"), "{ms:?}");
    assert!(ms.iter().any(|(m, _)| m == "writer-11"));
    assert!(!ms.iter().any(|(m, _)| m == "writer-0"));
    let ancient = last["metadata"]["managedFields"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["manager"] == "ancient-changes"))
        .expect("ancient-changes entry");
    assert!(
        ancient["fieldsV1"]["f:data"].get("f:k0").is_some()
            && ancient["fieldsV1"]["f:data"].get("f:init").is_some(),
        "{ancient}"
    );
}

#[test]
fn updates_do_not_start_tracking_an_object_without_managed_fields() {
    let c = Cluster::start();
    let (code, text) = c.http(
        "POST",
        &format!("{CM}?fieldManager=creator"),
        "application/json",
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"bare"}}"#,
    );
    assert_eq!(code, 201, "{text}");
    let created: Value = serde_json::from_str(&text).expect("json");
    assert!(managers(&created).is_empty(), "{created}");
    for body in [r#"{"data":{"k":"v"}}"#, r#"{"data":{"k":"w","l":"x"}}"#] {
        let (code, text) = c.http(
            "PATCH",
            &format!("{CM}/bare?fieldManager=writer"),
            "application/merge-patch+json",
            body,
        );
        assert_eq!(code, 200, "{text}");
        let patched: Value = serde_json::from_str(&text).expect("json");
        assert!(managers(&patched).is_empty(), "{patched}");
    }
    // An apply does start tracking.
    let (code, obj) = apply(
        &c,
        "bare",
        "ssa",
        true,
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"bare"},"data":{"k":"y"}}"#,
    );
    assert_eq!(code, 200, "{obj}");
    assert!(
        managers(&obj).contains(&("ssa".into(), "Apply".into())),
        "{obj}"
    );
}

#[test]
fn first_apply_to_object_without_managed_fields_conflicts_with_before_first_apply() {
    let c = Cluster::start();
    let (code, _) = c.http(
        "POST",
        CM,
        "application/json",
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"old"},"data":{"a":"1","b":"2"}}"#,
    );
    assert_eq!(code, 201);
    let (code, text) = c.http(
        "PATCH",
        &format!("{CM}/old"),
        "application/merge-patch+json",
        r#"{"metadata":{"managedFields":[{}]}}"#,
    );
    assert_eq!(code, 200, "{text}");
    let cleared: Value = serde_json::from_str(&text).expect("json");
    assert!(
        cleared["metadata"].get("managedFields").is_none(),
        "{cleared}"
    );
    let cfg = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"old"},"data":{"a":"changed"}}"#;
    let (code, status) = apply(&c, "old", "ssa", false, cfg);
    assert_eq!(code, 409, "{status}");
    assert!(
        status["message"]
            .as_str()
            .is_some_and(|m| m.contains("before-first-apply")),
        "{status}"
    );
    let (code, obj) = apply(&c, "old", "ssa", true, cfg);
    assert_eq!(code, 200, "{obj}");
    let ms = managers(&obj);
    assert!(
        ms.contains(&("before-first-apply".into(), "Update".into())),
        "{ms:?}"
    );
    assert!(ms.contains(&("ssa".into(), "Apply".into())));
    let bfa = obj["metadata"]["managedFields"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["manager"] == "before-first-apply"))
        .expect("entry");
    assert!(bfa["fieldsV1"]["f:data"].get("f:b").is_some(), "{bfa}");
    assert!(bfa["fieldsV1"]["f:data"].get("f:a").is_none(), "{bfa}");
}

#[test]
fn apply_refuses_duplicate_list_keys_and_managed_fields() {
    let c = Cluster::start();
    let deploy = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"dup","namespace":"default"},
      "spec":{"selector":{"matchLabels":{"app":"d"}},"template":{"metadata":{"labels":{"app":"d"}},
      "spec":{"containers":[{"name":"c","image":"x","env":[{"name":"FOO","value":"1"},{"name":"FOO","value":"2"}]}]}}}}"#;
    let (code, text) = c.http(
        "PATCH",
        "/apis/apps/v1/namespaces/default/deployments/dup?fieldManager=m",
        "application/apply-patch+yaml",
        deploy,
    );
    assert_eq!(code, 500, "{text}");
    let status: Value = serde_json::from_str(&text).expect("status");
    assert_eq!(
        status["message"],
        "failed to create typed patch object (default/dup; apps/v1, Kind=Deployment): .spec.template.spec.containers[name=\"c\"].env: duplicate entries for key [name=\"FOO\"]"
    );
    let (code, _) = c.http(
        "GET",
        "/apis/apps/v1/namespaces/default/deployments/dup",
        "",
        "",
    );
    assert_eq!(code, 404, "nothing may be created");
    let (code, status) = apply(
        &c,
        "mf",
        "m",
        false,
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"mf","managedFields":[{"manager":"x"}]}}"#,
    );
    assert_eq!(code, 400);
    assert_eq!(status["message"], "metadata.managedFields must be nil");
}
