//! End-to-end tests of [`compare`] on YAML/JSON fixtures.

use super::*;
use base64::Engine;
use serde_json::json;

fn y(text: &str) -> Value {
    let node = fjord_yaml::parse_document(text.as_bytes()).expect("fixture parses");
    fjord_yaml::to_json_value(&node).expect("fixture converts")
}

fn cmp(desired: &Value, live: &Value) -> ObjectDiff {
    compare(Some(desired), Some(live), &CompareOptions::default()).expect("compares")
}

fn with_rules(rules: Value) -> CompareOptions {
    let mut o = CompareOptions::default();
    o.add_app_ignore_differences(&rules).expect("rules parse");
    o
}

const DEPLOY: &str = "
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  replicas: 2
  template:
    spec:
      containers:
      - name: app
        image: app:1
";

#[test]
fn identical_objects_are_in_sync_and_printable() {
    let d = y(DEPLOY);
    let r = cmp(&d, &d);
    assert_eq!(r.status, DiffStatus::InSync);
    assert_eq!(r.id.kubectl_name(), "apps.v1.Deployment.shop.web");
    assert_eq!(unified(&r, "", false), "");
}

#[test]
fn server_metadata_and_status_never_diff() {
    let desired = y(DEPLOY);
    let mut live = desired.clone();
    live["metadata"]["uid"] = json!("1234");
    live["metadata"]["resourceVersion"] = json!("99");
    live["metadata"]["generation"] = json!(7);
    live["metadata"]["creationTimestamp"] = json!("2024-01-01T00:00:00Z");
    live["metadata"]["managedFields"] = json!([{"manager": "kubectl"}]);
    live["metadata"]["annotations"] = json!({normalize::LAST_APPLIED: "{}"});
    live["status"] = json!({"replicas": 2, "readyReplicas": 1});
    let r = cmp(&desired, &live);
    assert_eq!(r.status, DiffStatus::InSync, "{r:?}");
    assert!(r.live.as_ref().unwrap().get("status").is_none());
}

#[test]
fn status_compared_when_setting_is_none() {
    let desired = y(DEPLOY);
    let mut live = desired.clone();
    live["status"] = json!({"replicas": 2});
    let opts = CompareOptions {
        status: StatusIgnore::None,
        ..CompareOptions::default()
    };
    let r = compare(Some(&desired), Some(&live), &opts).unwrap();
    assert_eq!(r.status, DiffStatus::Modified);
}

#[test]
fn spec_change_is_modified_with_a_readable_diff() {
    let desired = y(DEPLOY);
    let mut live = desired.clone();
    live["spec"]["replicas"] = json!(3);
    let r = cmp(&desired, &live);
    assert_eq!(r.status, DiffStatus::Modified);
    let text = unified(&r, "", false);
    assert!(text.contains("-  replicas: 3\n+  replicas: 2\n"), "{text}");
    assert!(
        text.contains("--- live/apps.v1.Deployment.shop.web\n"),
        "{text}"
    );
}

#[test]
fn missing_and_extra() {
    let d = y(DEPLOY);
    let r = compare(Some(&d), None, &CompareOptions::default()).unwrap();
    assert_eq!(r.status, DiffStatus::Missing);
    assert!(r.live.is_none());
    let r = compare(None, Some(&d), &CompareOptions::default()).unwrap();
    assert_eq!(r.status, DiffStatus::Extra);
    assert_eq!(r.id.name, "web");
    assert!(r.status.differs());
}

#[test]
fn input_errors() {
    let e = compare(None, None, &CompareOptions::default()).unwrap_err();
    assert!(matches!(e, DiffError::NothingToCompare));
    let e = compare(Some(&json!("x")), None, &CompareOptions::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the desired object is not a JSON object (found a string)"
    );
}

#[test]
fn numbers_compare_by_value_and_key_order_is_irrelevant() {
    let a = json!({"apiVersion": "v1", "kind": "X", "spec": {"a": 1, "b": 2.0}});
    let b = json!({"kind": "X", "apiVersion": "v1", "spec": {"b": 2, "a": 1.0}});
    assert_eq!(cmp(&a, &b).status, DiffStatus::InSync);
    assert!(!json_eq(&json!({"a": 1}), &json!({"a": "1"})));
    assert!(!json_eq(&json!([1, 2]), &json!([2, 1])));
}

#[test]
fn empty_labels_and_annotations_equal_missing() {
    let a =
        y("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, labels: {}, annotations: {}}\n");
    let b = y("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n");
    assert_eq!(cmp(&a, &b).status, DiffStatus::InSync);
}

#[test]
fn secret_string_data_equals_data() {
    let desired = y("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {user: admin}\ndata: {empty: null}\n");
    let live = y(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {user: YWRtaW4=, empty: \"\"}\n",
    );
    let r = cmp(&desired, &live);
    assert_eq!(r.status, DiffStatus::InSync, "{r:?}");
}

#[test]
fn role_empty_rules_equal_missing() {
    let a = y(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r}\nrules: []\n",
    );
    let b = y("apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r}\n");
    assert_eq!(cmp(&a, &b).status, DiffStatus::InSync);
}

#[test]
fn aggregated_cluster_role_rules_ignored_when_asked() {
    let a = y("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r}\naggregationRule: {clusterRoleSelectors: [{matchLabels: {a: b}}]}\n");
    let mut b = a.clone();
    b["rules"] = json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]);
    assert_eq!(cmp(&a, &b).status, DiffStatus::Modified);
    let opts = CompareOptions {
        ignore_aggregated_roles: true,
        ..CompareOptions::default()
    };
    let r = compare(Some(&a), Some(&b), &opts).unwrap();
    assert_eq!(r.status, DiffStatus::InSync);
}

#[test]
fn endpoints_port_protocol_default() {
    let a = y("apiVersion: v1\nkind: Endpoints\nmetadata: {name: e}\nsubsets:\n- addresses: [{ip: 10.0.0.1}]\n  ports: [{port: 80}]\n");
    let b = y("apiVersion: v1\nkind: Endpoints\nmetadata: {name: e}\nsubsets:\n- addresses: [{ip: 10.0.0.1}]\n  ports: [{port: 80, protocol: TCP}]\n");
    assert_eq!(cmp(&a, &b).status, DiffStatus::InSync);
}

#[test]
fn json_pointer_rule_ignores_field_on_both_sides() {
    let desired = y(DEPLOY);
    let mut live = desired.clone();
    live["spec"]["replicas"] = json!(9);
    let opts = with_rules(
        json!([{"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}]),
    );
    let r = compare(Some(&desired), Some(&live), &opts).unwrap();
    assert_eq!(r.status, DiffStatus::InSync);
    assert!(r.desired.unwrap()["spec"].get("replicas").is_none());
    // Name and namespace restrict the rule.
    let opts = with_rules(
        json!([{"group": "apps", "kind": "Deployment", "name": "other",
                                  "jsonPointers": ["/spec/replicas"]}]),
    );
    let r = compare(Some(&desired), Some(&live), &opts).unwrap();
    assert_eq!(r.status, DiffStatus::Modified);
}

#[test]
fn jq_rule_ignores_selected_items() {
    let desired = y(DEPLOY);
    let mut live = desired.clone();
    live["spec"]["template"]["spec"]["containers"][0]["image"] = json!("app:2");
    let opts = with_rules(
        json!([{"group": "apps", "kind": "Deployment", "jqPathExpressions":
        [".spec.template.spec.containers[] | select(.name == \"app\").image"]}]),
    );
    let r = compare(Some(&desired), Some(&live), &opts).unwrap();
    assert_eq!(r.status, DiffStatus::InSync, "{:?}", r.notes);
    assert!(r.notes.is_empty());
}

#[test]
fn failing_jq_rule_is_skipped_with_a_note_that_quotes_no_value() {
    let desired =
        y("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: c2VjcmV0LXZhbHVl}\n");
    let opts = with_rules(json!([{"kind": "Secret", "jqPathExpressions": [".data.k.deeper"]}]));
    let r = compare(Some(&desired), Some(&desired), &opts).unwrap();
    assert_eq!(r.status, DiffStatus::InSync);
    assert_eq!(r.notes.len(), 1, "{:?}", r.notes);
    assert!(r.notes[0].contains("`.data.k.deeper`"), "{:?}", r.notes);
    assert!(r.notes[0].contains("returned an error"), "{:?}", r.notes);
    assert!(!r.notes[0].contains("c2VjcmV0"), "{:?}", r.notes);
}

#[test]
fn ignore_rule_prunes_empty_objects_like_argo() {
    // Any matching rule (here the default `/status` one) prunes empty maps and lists.
    let a = y("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {}\n");
    let b = y("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n");
    assert_eq!(cmp(&a, &b).status, DiffStatus::InSync);
    let opts = CompareOptions {
        status: StatusIgnore::None,
        ..CompareOptions::default()
    };
    let r = compare(Some(&a), Some(&b), &opts).unwrap();
    assert_eq!(r.status, DiffStatus::Modified);
}

#[test]
fn argocd_cm_all_key_applies_to_every_kind() {
    let cm = json!({"data": {"resource.customizations.ignoreDifferences.all":
        "jsonPointers:\n- /metadata/labels/team\n"}});
    let opts = CompareOptions::from_argocd_cm(&cm).unwrap();
    let a = y("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, labels: {team: a}}\n");
    let b = y("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, labels: {team: b}}\n");
    assert_eq!(
        compare(Some(&a), Some(&b), &opts).unwrap().status,
        DiffStatus::InSync
    );
}

#[test]
fn managed_fields_manager_owned_fields_never_diff() {
    let desired = y(DEPLOY);
    let mut live = desired.clone();
    live["spec"]["replicas"] = json!(5);
    live["metadata"]["managedFields"] = json!([
        {"manager": "fjord", "operation": "Apply", "fieldsType": "FieldsV1",
         "fieldsV1": {"f:spec": {"f:template": {}}}},
        {"manager": "kube-controller-manager", "operation": "Update", "fieldsType": "FieldsV1",
         "fieldsV1": {"f:spec": {"f:replicas": {}}}}
    ]);
    assert_eq!(cmp(&desired, &live).status, DiffStatus::Modified);
    let opts = with_rules(json!([{"group": "apps", "kind": "Deployment",
        "managedFieldsManagers": ["kube-controller-manager"]}]));
    let r = compare(Some(&desired), Some(&live), &opts).unwrap();
    assert_eq!(r.status, DiffStatus::InSync, "{r:?}");
    assert!(r.live.unwrap()["metadata"].get("managedFields").is_none());
}

/// Every rendering of a Secret diff must be free of the plaintext and of its base64.
#[test]
fn secret_values_never_reach_any_output() {
    let plain = [
        "hunter2-top-secret",
        "another-Secret-Value",
        "last-applied-old-pw",
    ];
    let b64: Vec<String> = plain
        .iter()
        .map(|p| base64::engine::general_purpose::STANDARD.encode(p))
        .collect();
    let la = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
                    "data": {"password": b64[2]}, "stringData": {"token": plain[1]}})
    .to_string();
    let desired = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db", "namespace": "prod", "annotations": {"api-key": plain[0]}},
        "stringData": {"password": plain[0], "token": plain[1]},
        "data": {"bin": b64[1]}});
    let live = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db", "namespace": "prod",
                     "annotations": {normalize::LAST_APPLIED: la, "api-key": plain[1]}},
        "data": {"password": b64[2], "token": b64[1], "bin": b64[0]}});
    let rules = json!([{"kind": "Secret", "jqPathExpressions": [".data.password.x"],
                        "jsonPointers": ["/data/nope"]}]);
    for keep_last_applied in [false, true] {
        let mut opts = with_rules(rules.clone());
        opts.keep_last_applied = keep_last_applied;
        opts.hide_annotations = vec!["api-key".to_string()];
        for (d, l) in [
            (Some(&desired), Some(&live)),
            (Some(&desired), None),
            (None, Some(&live)),
        ] {
            let r = compare(d, l, &opts).unwrap();
            let mut outputs = vec![
                format!("{r:?}"),
                format!("{:#?}", r),
                unified(&r, "", false),
                unified(&r, "", true),
                serde_json::to_string(&DiffReport::new(&r)).unwrap(),
                r.notes.join("\n"),
            ];
            outputs.extend(r.desired.iter().map(|v| v.to_string()));
            outputs.extend(r.live.iter().map(|v| v.to_string()));
            for out in &outputs {
                for secret in plain.iter().copied().chain(b64.iter().map(String::as_str)) {
                    assert!(!out.contains(secret), "`{secret}` leaked into:\n{out}");
                }
            }
            if let (Some(_), Some(_)) = (d, l) {
                assert_eq!(r.status, DiffStatus::Modified);
                let text = unified(&r, "", false);
                assert!(text.contains("+++ desired/v1.Secret.prod.db"), "{text}");
                assert!(text.contains("++++++++"), "{text}");
            }
        }
    }
    // Errors quote no value either.
    let e = compare(Some(&json!(plain[0])), None, &CompareOptions::default()).unwrap_err();
    assert!(!format!("{e} {e:?}").contains(plain[0]));
}

#[test]
fn masks_keep_equal_and_changed_values_apart() {
    let desired = y(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {same: YQ==, changed: Yg==}\n",
    );
    let live = y(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {same: YQ==, changed: Yw==}\n",
    );
    let r = cmp(&desired, &live);
    assert_eq!(r.status, DiffStatus::Modified);
    let d = r.desired.unwrap();
    let l = r.live.unwrap();
    assert_eq!(d["data"]["same"], l["data"]["same"]);
    assert_ne!(d["data"]["changed"], l["data"]["changed"]);
}
