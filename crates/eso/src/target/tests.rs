use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use crate::spec::parse_external_secret;

fn es(policy: &str) -> Value {
    json!({
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": "db-creds", "namespace": "production", "uid": "u-1", "generation": 4,
                     "labels": {"app": "x"}, "annotations": {"b": "2", "a": "1"}},
        "spec": {
            "secretStoreRef": {"name": "vault-backend", "kind": "ClusterSecretStore"},
            "target": {"name": "db-creds-k8s", "creationPolicy": policy},
            "data": [{"secretKey": "username", "remoteRef": {"key": "secret/data/production/db", "property": "username"}}]
        }
    })
}

fn data() -> BTreeMap<String, Vec<u8>> {
    [
        ("password".to_string(), b"pass".to_vec()),
        ("username".to_string(), b"u".to_vec()),
    ]
    .into()
}

#[test]
fn hashes_match_eso() {
    assert_eq!(
        sha3_224_hex(b""),
        "6b4e03423667dbb73b6e15454f0eb1abd4597f9a1b078e3f5b5a6bc7"
    );
    assert_eq!(
        created_by("production", "db-creds"),
        "36fa91b132b611f053f4d9529bfa7544126a7803bdb005d7b3db1151"
    );
    assert_eq!(
        data_hash(&data()),
        "035a28cbb97ff8c4e6204d435b5684238ccc87ea2db9fe03b4f52535"
    );
    assert_eq!(
        data_hash(&BTreeMap::new()),
        "74a974446e359fb3e6baff9bd0058950e6edd0f040888d9989b0a11b"
    );
    assert_eq!(
        synced_resource_version(&es("Owner")),
        "4-7a9d14fc4c98c8b2363ada4bb72d815002f918edc3da4746679c79ee"
    );
    assert_eq!(
        synced_resource_version(&json!({"metadata": {"generation": 1}})),
        "1-f47fe3c0b255b6dd8047cdffa772587bb829efe7a1cb70febeda2eb2"
    );
    let mut changed = es("Owner");
    changed["metadata"]["annotations"][ANNOTATION_FORCE_SYNC] = json!("now");
    assert_ne!(
        synced_resource_version(&changed),
        synced_resource_version(&es("Owner"))
    );
}

#[test]
fn field_manager_63_char_rule() {
    assert_eq!(
        field_manager("db-creds"),
        "externalsecrets.external-secrets.io/db-creds"
    );
    let name27 = "a".repeat(27); // 36 + 27 = 63: kept
    assert_eq!(
        field_manager(&name27),
        format!("externalsecrets.external-secrets.io/{name27}")
    );
    let name40 = "a".repeat(40);
    assert_eq!(
        field_manager(&name40),
        "externalsecrets.external-secrets.io/sha3/6a401f856df4bd20348b18ab3ea9388a9ad151e1eabdbd7c60b76761"
    );
    assert!(field_manager(&"a".repeat(28)).contains("/sha3/"));
}

#[test]
fn desired_secret_owner() {
    let obj = es("Owner");
    let spec = parse_external_secret(&obj).unwrap();
    let labels: BTreeMap<String, String> = [
        ("team".to_string(), "db".to_string()),
        (LABEL_MANAGED.to_string(), "false".to_string()),
    ]
    .into();
    let ann: BTreeMap<String, String> = [("note".to_string(), "n".to_string())].into();
    let s = desired_secret(&obj, &spec, &data(), &labels, &ann);
    assert_eq!(s["apiVersion"], "v1");
    assert_eq!(s["kind"], "Secret");
    assert_eq!(s["type"], "Opaque");
    assert_eq!(s["metadata"]["name"], "db-creds-k8s");
    assert_eq!(s["metadata"]["namespace"], "production");
    assert_eq!(
        s["metadata"]["labels"][LABEL_MANAGED], "true",
        "ESO's label wins"
    );
    assert_eq!(s["metadata"]["labels"]["team"], "db");
    assert_eq!(
        s["metadata"]["labels"][LABEL_CREATED_BY],
        created_by("production", "db-creds")
    );
    assert_eq!(
        s["metadata"]["annotations"][ANNOTATION_DATA_HASH],
        data_hash(&data())
    );
    assert_eq!(s["metadata"]["annotations"]["note"], "n");
    assert_eq!(
        s["metadata"]["ownerReferences"],
        json!([{"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "name": "db-creds",
                "uid": "u-1", "controller": true, "blockOwnerDeletion": true}])
    );
    assert_eq!(
        s["data"],
        json!({"password": "cGFzcw==", "username": "dQ=="})
    );
    assert!(s.get("immutable").is_none());
    assert_eq!(
        controller_of(&s),
        Some(("ExternalSecret".into(), "db-creds".into(), "u-1".into()))
    );
}

#[test]
fn desired_secret_other_policies_and_template() {
    for policy in ["Orphan", "Merge"] {
        let obj = es(policy);
        let spec = parse_external_secret(&obj).unwrap();
        let s = desired_secret(&obj, &spec, &data(), &BTreeMap::new(), &BTreeMap::new());
        assert!(s["metadata"].get("ownerReferences").is_none(), "{policy}");
        assert!(
            s["metadata"]["labels"].get(LABEL_CREATED_BY).is_none(),
            "{policy}"
        );
        assert_eq!(s["metadata"]["labels"][LABEL_MANAGED], "true");
        assert_eq!(controller_of(&s), None);
    }
    let mut obj = es("Owner");
    obj["spec"]["target"]["immutable"] = json!(true);
    obj["spec"]["target"]["template"] = json!({"type": "kubernetes.io/basic-auth"});
    let spec = parse_external_secret(&obj).unwrap();
    let s = desired_secret(&obj, &spec, &data(), &BTreeMap::new(), &BTreeMap::new());
    assert_eq!(s["type"], "kubernetes.io/basic-auth");
    assert_eq!(s["immutable"], true);
}

#[test]
fn merge_keeps_foreign_things() {
    let live = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db-creds-k8s", "namespace": "production", "resourceVersion": "7",
                     "labels": {"mine": "y"}, "annotations": {"keep": "k"},
                     "ownerReferences": [{"kind": "Deployment", "name": "d", "uid": "x", "controller": true}]},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": "Y3J0", "username": "b2xk"}
    });
    let obj = es("Merge");
    let spec = parse_external_secret(&obj).unwrap();
    let desired = desired_secret(&obj, &spec, &data(), &BTreeMap::new(), &BTreeMap::new());
    let m = merge_into(&live, &desired);
    assert_eq!(m["metadata"]["resourceVersion"], "7");
    assert_eq!(m["metadata"]["labels"]["mine"], "y");
    assert_eq!(m["metadata"]["labels"][LABEL_MANAGED], "true");
    assert!(m["metadata"]["labels"].get(LABEL_CREATED_BY).is_none());
    assert_eq!(m["metadata"]["annotations"]["keep"], "k");
    assert_eq!(m["type"], "kubernetes.io/tls");
    assert_eq!(m["data"]["tls.crt"], "Y3J0");
    assert_eq!(m["data"]["username"], "dQ==", "desired keys win");
    assert_eq!(m["data"]["password"], "cGFzcw==");
    assert_eq!(
        controller_of(&m),
        Some(("Deployment".into(), "d".into(), "x".into()))
    );
    let mut merged = data();
    merged.insert("tls.crt".into(), b"crt".to_vec());
    assert_eq!(
        m["metadata"]["annotations"][ANNOTATION_DATA_HASH],
        data_hash(&merged)
    );
    assert_eq!(secret_data(&m), merged);

    // A bare live Secret (no metadata maps, no type) still merges.
    let bare = json!({"metadata": {"name": "x"}});
    let m = merge_into(&bare, &desired);
    assert_eq!(m["type"], "Opaque");
    assert_eq!(m["data"]["username"], "dQ==");
}

#[test]
fn conditions() {
    assert_eq!(
        ready_condition(true, REASON_SYNCED, "secret synced", "2026-01-01T00:00:00Z"),
        json!({"type": "Ready", "status": "True", "reason": "SecretSynced", "message": "secret synced",
               "lastTransitionTime": "2026-01-01T00:00:00Z"})
    );
    assert_eq!(
        ready_condition(false, REASON_SYNC_ERROR, "m", "t")["status"],
        "False"
    );
}
