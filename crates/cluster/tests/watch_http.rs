//! Watch semantics and fault injection over raw HTTP.

mod common;

use common::{http, Cluster};
use serde_json::Value;

fn events(body: &str) -> Vec<Value> {
    body.lines()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn create_cm(c: &Cluster, name: &str) -> u64 {
    let (code, body) = http(
        c.addr(),
        "POST",
        "/api/v1/namespaces/default/configmaps",
        "application/json",
        &format!(r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}"}}}}"#),
    );
    assert_eq!(code, 201, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    v["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("rv")
}

#[test]
fn streaming_list_ends_initial_events_with_bookmark() {
    let c = Cluster::start_with(|o| o.sim.enabled = false);
    create_cm(&c, "a");
    create_cm(&c, "b");
    let (code, body) = http(c.addr(), "GET",
        "/api/v1/namespaces/default/configmaps?&watch=true&timeoutSeconds=1&allowWatchBookmarks=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&resourceVersion=0",
        "", "");
    assert_eq!(code, 200);
    let evs = events(&body);
    let types: Vec<&str> = evs.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(types, vec!["ADDED", "ADDED", "BOOKMARK"], "{body}");
    let bm = &evs[2]["object"];
    assert_eq!(bm["kind"], "ConfigMap");
    assert_eq!(
        bm["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
}

#[test]
fn watch_resumes_from_rv_and_expires_old_ones() {
    let c = Cluster::start_with(|o| {
        o.sim.enabled = false;
        o.watch_history = 3;
    });
    let rv_a = create_cm(&c, "a");
    create_cm(&c, "b");
    let (_, body) = http(c.addr(), "GET", &format!("/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1&resourceVersion={rv_a}"), "", "");
    let evs = events(&body);
    assert_eq!(evs.len(), 1, "{body}");
    assert_eq!(evs[0]["type"], "ADDED");
    assert_eq!(evs[0]["object"]["metadata"]["name"], "b");
    for n in ["c", "d", "e", "f"] {
        create_cm(&c, n);
    }
    let (code, body) = http(c.addr(), "GET", &format!("/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1&resourceVersion={rv_a}"), "", "");
    assert_eq!(code, 200);
    let evs = events(&body);
    assert_eq!(evs[0]["type"], "ERROR", "{body}");
    assert_eq!(evs[0]["object"]["code"], 410);
    assert_eq!(evs[0]["object"]["reason"], "Expired");
    let (code, body) = http(
        c.addr(),
        "GET",
        "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=999999",
        "",
        "",
    );
    assert_eq!(code, 504, "{body}");
}

#[test]
fn label_selector_transitions_become_added_and_deleted() {
    let c = Cluster::start_with(|o| o.sim.enabled = false);
    let rv = create_cm(&c, "x");
    let patch = |v: &str| {
        http(
            c.addr(),
            "PATCH",
            "/api/v1/namespaces/default/configmaps/x",
            "application/merge-patch+json",
            &format!(r#"{{"metadata":{{"labels":{{"app":"{v}"}}}}}}"#),
        )
    };
    assert_eq!(patch("web").0, 200);
    assert_eq!(patch("db").0, 200);
    let (_, body) = http(c.addr(), "GET", &format!("/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1&labelSelector=app%3Dweb&resourceVersion={rv}"), "", "");
    let types: Vec<String> = events(&body)
        .iter()
        .filter_map(|e| e["type"].as_str().map(str::to_string))
        .collect();
    assert_eq!(types, vec!["ADDED", "DELETED"], "{body}");
}

#[test]
fn injected_errors_hit_resources_but_not_discovery() {
    let c = Cluster::start_with(|o| {
        o.faults.error_rate = 1.0;
        o.faults.error_codes = vec![429];
    });
    let (code, body) = http(
        c.addr(),
        "GET",
        "/api/v1/namespaces/default/configmaps",
        "",
        "",
    );
    assert_eq!(code, 429, "{body}");
    assert_eq!(http(c.addr(), "GET", "/api", "", "").0, 200);
    assert_eq!(http(c.addr(), "GET", "/version", "", "").0, 200);
}

#[test]
fn in_memory_cluster_writes_no_store() {
    let c = Cluster::start_with(|o| o.in_memory = true);
    create_cm(&c, "m");
    assert!(!c.dir.path().join("store.redb").exists());
    assert!(c.dir.path().join("kubeconfig").exists());
}
