use super::*;

fn body<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, String> {
    serde_json::from_value(v).map_err(|e| e.to_string())
}

fn app() -> Value {
    json!({
        "metadata": {"name": "guestbook", "namespace": "argocd", "finalizers": ["x/keep"]},
        "spec": {"source": {"repoURL": "https://git/r", "targetRevision": "main"}},
        "status": {"history": [
            {"id": 1, "revision": "aaa", "source": {"repoURL": "https://git/r", "path": "a"}},
            {"id": 2, "revision": "bbb", "source": {"repoURL": "https://git/r", "path": "a"}},
        ]},
    })
}

fn err_of(r: Result<Value, ApiError>) -> ApiError {
    r.expect_err("expected a refusal")
}

#[test]
fn unknown_fields_are_refused_at_every_level() {
    assert!(body::<SyncBody>(json!({"prnue": true}))
        .unwrap_err()
        .contains("prnue"));
    assert!(body::<SyncBody>(json!({"strategy": {"hook": {"forse": true}}})).is_err());
    assert!(body::<SyncBody>(json!({"retryStrategy": {"backoff": {"x": 1}}})).is_err());
    assert!(body::<SyncBody>(json!({"resources": [{"kind": "A", "nam": "b"}]})).is_err());
    assert!(body::<RollbackBody>(json!({"id": 1, "revision": "x"})).is_err());
    let ok: SyncBody =
        body(json!({"retryStrategy": {"limit": "3", "backoff": {"factor": 2}}})).unwrap();
    assert_eq!(
        ok.retry_strategy.unwrap().limit,
        Some(Int64::Text("3".into()))
    );
}

#[test]
fn sync_operation_carries_every_field() {
    let b: SyncBody = body(json!({
        "revision": "abc", "prune": true, "dryRun": true,
        "strategy": {"hook": {"force": false}},
        "resources": [{"group": "apps", "kind": "Deployment", "name": "web", "namespace": "n"},
                      {"kind": "ConfigMap", "name": "c"}],
        "syncOptions": {"items": ["CreateNamespace=true"]},
        "retryStrategy": {"limit": 2, "backoff": {"duration": "5s", "factor": "2",
                                                   "maxDuration": "1m"}},
        "infos": [{"name": "reason", "value": "test"}],
    }))
    .unwrap();
    let op = sync_operation(&b, &app(), "alice").unwrap();
    assert_eq!(
        op,
        json!({
            "sync": {"revision": "abc", "prune": true, "dryRun": true,
                     "syncStrategy": {"hook": {}},
                     "resources": [
                         {"group": "apps", "kind": "Deployment", "name": "web", "namespace": "n"},
                         {"group": "", "kind": "ConfigMap", "name": "c"}],
                     "syncOptions": ["CreateNamespace=true"]},
            "initiatedBy": {"username": "alice"},
            "info": [{"name": "reason", "value": "test"}],
            "retry": {"limit": 2, "backoff": {"duration": "5s", "maxDuration": "1m", "factor": 2}},
        })
    );
    // No body: the app's own retry policy, nothing else but the defaults.
    let mut a = app();
    a["spec"]["syncPolicy"] = json!({"retry": {"limit": 5}});
    let op = sync_operation(&SyncBody::default(), &a, "bob").unwrap();
    assert_eq!(op["sync"], json!({"prune": false, "dryRun": false}));
    assert_eq!(op["retry"], json!({"limit": 5}));
}

#[test]
fn sync_refuses_what_fjord_cannot_carry_out_by_name() {
    let refused = |v: Value, field: &str| {
        let b: SyncBody = body(v).unwrap();
        let e = err_of(sync_operation(&b, &app(), "u"));
        assert_eq!(e.status.as_u16(), 400);
        assert!(e.message.contains(field), "{field}: {}", e.message);
    };
    refused(json!({"manifests": ["kind: ConfigMap"]}), "manifests");
    refused(json!({"revisions": ["a"]}), "revisions");
    refused(json!({"sourcePositions": [1]}), "sourcePositions");
    refused(json!({"strategy": {"apply": {}}}), "strategy.apply");
    refused(
        json!({"strategy": {"hook": {"force": true}}}),
        "strategy.hook.force",
    );
    refused(json!({"strategy": {"apply": {}, "hook": {}}}), "strategy");
    refused(
        json!({"resources": [{"kind": "ConfigMap"}]}),
        "resources[0].name",
    );
    refused(
        json!({"syncOptions": {"items": ["Bogus=true"]}}),
        "syncOptions.items",
    );
    refused(
        json!({"retryStrategy": {"backoff": {"duration": "5 parsecs"}}}),
        "backoff.duration",
    );
    refused(
        json!({"retryStrategy": {"limit": "many"}}),
        "retryStrategy.limit",
    );
    refused(
        json!({"retryStrategy": {"backoff": {"factor": 0}}}),
        "backoff.factor",
    );
    refused(json!({"infos": [{"value": "v"}]}), "infos[0].name");
}

#[test]
fn sync_to_another_revision_is_refused_under_auto_sync() {
    let mut a = app();
    a["spec"]["syncPolicy"] = json!({"automated": {"prune": true}});
    let b: SyncBody = body(json!({"revision": "other"})).unwrap();
    let e = err_of(sync_operation(&b, &a, "u"));
    assert!(
        e.message.contains("auto-sync currently set to main"),
        "{}",
        e.message
    );
    let same: SyncBody = body(json!({"revision": "main"})).unwrap();
    assert!(sync_operation(&same, &a, "u").is_ok());
}

#[test]
fn operations_in_progress_are_detected() {
    assert!(!in_progress(&app()));
    assert!(in_progress(&json!({"operation": {"sync": {}}})));
    assert!(!in_progress(&json!({"operation": null})));
    for (phase, busy) in [
        ("Running", true),
        ("Terminating", true),
        ("Succeeded", false),
        ("Failed", false),
    ] {
        let a = json!({"status": {"operationState": {"phase": phase}}});
        assert_eq!(in_progress(&a), busy, "{phase}");
    }
}

#[test]
fn rollback_uses_the_history_entry_and_refuses_under_auto_sync() {
    let b: RollbackBody = body(json!({"id": "1", "prune": true})).unwrap();
    let op = rollback_operation(&b, &app(), "alice").unwrap();
    assert_eq!(
        op,
        json!({"sync": {"revision": "aaa", "prune": true, "dryRun": false,
                        "source": {"repoURL": "https://git/r", "path": "a"}},
               "initiatedBy": {"username": "alice"}})
    );
    let missing: RollbackBody = body(json!({"id": 7})).unwrap();
    let e = err_of(rollback_operation(&missing, &app(), "u"));
    assert_eq!(e.status.as_u16(), 400);
    assert!(e.message.contains("id 7"), "{}", e.message);
    let mut auto = app();
    auto["spec"]["syncPolicy"] = json!({"automated": {}});
    let e = err_of(rollback_operation(&b, &auto, "u"));
    assert!(
        e.message
            .contains("rollback cannot be initiated when auto-sync is enabled"),
        "{}",
        e.message
    );
}

#[test]
fn delete_finalizers_follow_cascade_and_policy() {
    assert_eq!(delete_finalizer("").unwrap(), FINALIZER);
    assert_eq!(
        delete_finalizer("background").unwrap(),
        format!("{FINALIZER}/background")
    );
    assert!(delete_finalizer("orphan")
        .unwrap_err()
        .message
        .contains("propagationPolicy"));
    let mut a = app();
    a["metadata"]["finalizers"] = json!(["x/keep", FINALIZER]);
    let fg = format!("{FINALIZER}/foreground");
    assert_eq!(
        finalizers_for_delete(&a, Some(&fg)),
        vec!["x/keep".to_string(), fg]
    );
    assert_eq!(finalizers_for_delete(&a, None), vec!["x/keep".to_string()]);
}

#[test]
fn a_body_name_must_match_the_path() {
    assert!(check_name(Some("a"), "a").is_ok());
    assert!(check_name(None, "a").is_ok());
    assert!(check_name(Some("b"), "a")
        .unwrap_err()
        .message
        .contains("name"));
}

#[test]
fn terminate_withdraws_a_pending_request_or_stops_a_running_operation() {
    let pending = json!({"operation": {"sync": {}},
                         "status": {"operationState": {"phase": "Succeeded"}}});
    assert_eq!(
        terminate_patch(&pending).unwrap(),
        (json!({"operation": null}), false)
    );
    let running = json!({"status": {"operationState": {"phase": "Running"}}});
    assert_eq!(
        terminate_patch(&running).unwrap(),
        (
            json!({"status": {"operationState": {"phase": "Terminating"}}}),
            true
        )
    );
    for idle in [
        json!({}),
        json!({"status": {"operationState": {"phase": "Terminating"}}}),
    ] {
        let e = terminate_patch(&idle).unwrap_err();
        assert_eq!(e.status.as_u16(), 409);
        assert!(
            e.message.contains("No operation is in progress"),
            "{}",
            e.message
        );
    }
}
