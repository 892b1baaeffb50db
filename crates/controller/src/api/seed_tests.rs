//! The Application manifests from the seed articles (002 and 003) parse and round-trip.

use super::*;

fn parse(yaml: &str) -> (serde_json::Value, Application) {
    let node = fjord_yaml::parse_document(yaml.as_bytes()).expect("seed yaml parses");
    let json = fjord_yaml::to_json_value(&node).expect("seed yaml converts");
    let app: Application = serde_json::from_value(json.clone()).expect("seed is an Application");
    (json, app)
}

fn check(yaml: &str, repo: &str, path: &str, namespace: &str) {
    let (json, app) = parse(yaml);
    assert_eq!(
        serde_json::to_value(&app).unwrap(),
        json,
        "round trip is lossless"
    );
    assert_eq!(app.name(), "nordic-payment-gateway");
    assert_eq!(app.namespace(), "argocd");
    let spec = app.spec();
    assert_eq!(spec.project_name(), "default");
    let src = spec.effective_sources()[0].clone();
    assert_eq!(src.repo_url.as_deref(), Some(repo));
    assert_eq!(src.path.as_deref(), Some(path));
    assert_eq!(src.target_revision(), "HEAD");
    let dest = spec.destination.clone().unwrap();
    assert_eq!(
        dest.server.as_deref(),
        Some("https://kubernetes.default.svc")
    );
    assert_eq!(dest.namespace.as_deref(), Some(namespace));
    assert!(spec.auto_sync_enabled());
    let auto = spec.automated().unwrap();
    assert_eq!((auto.prune, auto.self_heal), (Some(true), Some(true)));
    assert!(spec.has_sync_option("CreateNamespace=true"));
    assert_eq!(spec.history_limit(), 10);
    let proj: AppProject = serde_json::from_value(default_project("argocd")).unwrap();
    assert!(validate(&spec, Some(&proj)).is_empty());
}

#[test]
fn seed_002() {
    check(
        include_str!("../../testdata/seed_002_application.yaml"),
        "git@gitlab.coolvds-internal.no:fintech/payments-config.git",
        "overlays/prod",
        "payments-prod",
    );
}

#[test]
fn seed_003() {
    check(
        include_str!("../../testdata/seed_003_application.yaml"),
        "git@github.com:coolvds-ops/payment-gateway.git",
        "k8s/overlays/production-oslo",
        "payments",
    );
}

#[test]
fn unknown_fields_survive() {
    let v = serde_json::json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": "a", "creationTimestamp": "2024-01-01T00:00:00Z"},
        "spec": {"source": {"repoURL": "r", "path": "p", "futureField": {"x": [1, 2]}},
            "sources": [], "syncPolicy": {"automated": {"enabled": false}}, "newTopLevel": true},
        "status": {"sync": {"status": "Synced"}, "whatever": 1}
    });
    let app: Application = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(serde_json::to_value(&app).unwrap(), v);
    assert!(!app.spec().auto_sync_enabled());
    assert_eq!(
        app.spec().effective_sources().len(),
        1,
        "empty sources falls back to source"
    );
}

#[test]
fn full_application_round_trips() {
    let v: serde_json::Value =
        serde_json::from_str(include_str!("../../testdata/full_application.json")).unwrap();
    let app: Application = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(serde_json::to_value(&app).unwrap(), v);
    let spec = app.spec();
    assert_eq!(spec.history_limit(), 3);
    let k = spec
        .source
        .as_ref()
        .and_then(|s| s.kustomize.as_ref())
        .unwrap();
    assert_eq!(k.replicas.as_ref().map(Vec::len), Some(2));
    let status = app.status.as_ref().unwrap();
    let result = status
        .operation_state
        .as_ref()
        .and_then(|s| s.sync_result.as_ref())
        .unwrap();
    assert_eq!(
        result.resources.as_ref().unwrap()[0].sync_phase.as_deref(),
        Some("Sync")
    );
    assert_eq!(status.resources.as_ref().unwrap()[0].sync_wave, Some(-1));
    assert!(extra_is_empty(&app), "every field above is modelled");
}

/// Whether the typed model captured everything (no field fell into an `extra` map at the
/// top levels checked here).
fn extra_is_empty(app: &Application) -> bool {
    let spec = app.spec.as_ref().map_or(0, |s| s.extra.len());
    let status = app.status.as_ref().map_or(0, |s| s.extra.len());
    let src = app.spec().source.map_or(0, |s| {
        s.extra.len() + s.kustomize.map_or(0, |k| k.extra.len())
    });
    app.extra.is_empty() && spec == 0 && status == 0 && src == 0
}
