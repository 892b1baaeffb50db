//! Watch semantics over raw HTTP against the backend `FJORD_TEST_BACKEND` picks, and the local
//! API's own watch history and fault injection (`local_api_*`).
//!
//! Every object these tests make carries the label `suite=watch`, and every watch selects it:
//! a real cluster has objects of its own in each namespace (the controller-manager's
//! `kube-root-ca.crt` ConfigMap).

mod common;

use common::Cluster;
use serde_json::Value;

const CMS: &str = "/api/v1/namespaces/default/configmaps";
const MINE: &str = "labelSelector=suite%3Dwatch";

fn events(body: &str) -> Vec<Value> {
    body.lines()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn types(body: &str) -> Vec<String> {
    events(body)
        .iter()
        .filter_map(|e| e["type"].as_str().map(str::to_string))
        .collect()
}

fn create_cm(c: &Cluster, name: &str) -> u64 {
    let (code, body) = c.http(
        "POST",
        CMS,
        "application/json",
        &format!(
            r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}","labels":{{"suite":"watch"}}}}}}"#
        ),
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
    let c = Cluster::start();
    create_cm(&c, "a");
    let rv_b = create_cm(&c, "b");
    let (code, body) = c.http("GET",
        &format!("{CMS}?{MINE}&watch=true&timeoutSeconds=1&allowWatchBookmarks=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&resourceVersion=0"),
        "", "");
    assert_eq!(code, 200);
    // The real server may close the stream with a progress bookmark of its own when the
    // timeout nears; such bookmarks carry no annotation and come after the initial events.
    let evs = events(&body);
    let kinds = types(&body);
    assert_eq!(
        kinds[..kinds.len().min(3)],
        ["ADDED", "ADDED", "BOOKMARK"],
        "{body}"
    );
    for progress in &evs[3..] {
        assert_eq!(progress["type"], "BOOKMARK", "{body}");
        assert!(
            progress["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"].is_null(),
            "{body}"
        );
    }
    let mut names: Vec<&str> = evs[..2]
        .iter()
        .filter_map(|e| e["object"]["metadata"]["name"].as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["a", "b"]);
    let bm = &evs[2]["object"];
    assert_eq!(bm["kind"], "ConfigMap");
    assert_eq!(
        bm["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    let bm_rv: u64 = bm["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("bookmark rv");
    assert!(bm_rv >= rv_b, "{bm}");
}

#[test]
fn watch_resumes_after_the_given_resource_version() {
    let c = Cluster::start();
    let rv_a = create_cm(&c, "a");
    create_cm(&c, "b");
    let (code, body) = c.http(
        "GET",
        &format!("{CMS}?{MINE}&watch=true&timeoutSeconds=1&resourceVersion={rv_a}"),
        "",
        "",
    );
    assert_eq!(code, 200);
    let evs = events(&body);
    assert_eq!(evs.len(), 1, "{body}");
    assert_eq!(evs[0]["type"], "ADDED");
    assert_eq!(evs[0]["object"]["metadata"]["name"], "b");
}

#[test]
fn too_large_resource_version_waits_then_times_out() {
    let c = Cluster::start();
    create_cm(&c, "a");
    // A watch from a future RV waits for it: an empty stream until timeoutSeconds.
    let (code, body) = c.http(
        "GET",
        &format!("{CMS}?{MINE}&watch=true&timeoutSeconds=1&resourceVersion=999999"),
        "",
        "",
    );
    assert_eq!(code, 200, "{body}");
    assert!(events(&body).is_empty(), "{body}");
    // A list at a future RV waits a few seconds, then answers 504 Timeout.
    let (code, body) = c.http("GET", &format!("{CMS}?resourceVersion=999999"), "", "");
    assert_eq!(code, 504, "{body}");
    let status: Value = serde_json::from_str(&body).expect("status");
    assert_eq!(status["reason"], "Timeout", "{status}");
    assert_eq!(
        status["details"]["causes"][0]["reason"], "ResourceVersionTooLarge",
        "{status}"
    );
    assert!(
        status["message"].as_str().is_some_and(
            |m| m.starts_with("Timeout: Too large resource version: 999999, current: ")
        ),
        "{status}"
    );
}

/// Local only: a 410 needs the history to be gone. The real server serves every RV etcd still
/// holds (it compacts every 5 minutes), so a test cannot provoke 410 Gone there quickly; the
/// local API's `watch_history` option makes it happen at once.
#[test]
fn local_api_watch_from_expired_rv_is_410_gone() {
    let c = Cluster::local_with(|o| {
        o.sim.enabled = false;
        o.watch_history = 3;
    });
    let rv_a = create_cm(&c, "a");
    for n in ["b", "c", "d", "e", "f"] {
        create_cm(&c, n);
    }
    let (code, body) = c.http(
        "GET",
        &format!("{CMS}?watch=true&timeoutSeconds=1&resourceVersion={rv_a}"),
        "",
        "",
    );
    assert_eq!(code, 200);
    let evs = events(&body);
    assert_eq!(evs[0]["type"], "ERROR", "{body}");
    assert_eq!(evs[0]["object"]["code"], 410);
    assert_eq!(evs[0]["object"]["reason"], "Expired");
}

#[test]
fn label_selector_transitions_become_added_and_deleted() {
    let c = Cluster::start();
    let rv = create_cm(&c, "x");
    let patch = |v: &str| {
        c.http(
            "PATCH",
            &format!("{CMS}/x"),
            "application/merge-patch+json",
            &format!(r#"{{"metadata":{{"labels":{{"app":"{v}"}}}}}}"#),
        )
    };
    assert_eq!(patch("web").0, 200);
    assert_eq!(patch("db").0, 200);
    let (_, body) = c.http(
        "GET",
        &format!("{CMS}?watch=true&timeoutSeconds=1&labelSelector=app%3Dweb&resourceVersion={rv}"),
        "",
        "",
    );
    assert_eq!(types(&body), ["ADDED", "DELETED"], "{body}");
}

/// Local only: fault injection is a feature of fjord's local API.
#[test]
fn local_api_injected_errors_hit_resources_but_not_discovery() {
    let c = Cluster::local_with(|o| {
        o.faults.error_rate = 1.0;
        o.faults.error_codes = vec![429];
    });
    let (code, body) = c.http("GET", CMS, "", "");
    assert_eq!(code, 429, "{body}");
    assert_eq!(c.http("GET", "/api", "", "").0, 200);
    assert_eq!(c.http("GET", "/version", "", "").0, 200);
}

/// Local only: the in-memory mode and the data dir are the local API's.
#[test]
fn local_api_in_memory_cluster_writes_no_store() {
    let c = Cluster::local_with(|o| o.in_memory = true);
    create_cm(&c, "m");
    assert!(!c.dir.path().join("store.redb").exists());
    assert!(c.dir.path().join("kubeconfig").exists());
}
