use super::*;

/// Appends `v` as a protobuf varint.
pub(super) fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A length-delimited field.
pub(super) fn ld(num: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    varint(u64::from(num) << 3 | 2, &mut out);
    varint(payload.len() as u64, &mut out);
    out.extend_from_slice(payload);
    out
}

/// A varint field.
pub(super) fn vi(num: u32, v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    varint(u64::from(num) << 3, &mut out);
    varint(v, &mut out);
    out
}

fn entry(num: u32, k: &str, v: &[u8]) -> Vec<u8> {
    ld(num, &[ld(1, k.as_bytes()), ld(2, v)].concat())
}

fn wrap(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    let type_meta = [ld(1, api_version.as_bytes()), ld(2, kind.as_bytes())].concat();
    let mut body = b"k8s\0".to_vec();
    body.extend([ld(1, &type_meta), ld(2, raw), ld(3, b""), ld(4, b"")].concat());
    body
}

/// ObjectMeta the way Go writes it: every non-pointer field, zero values included.
fn meta(name: &str, labels: &[(&str, &str)]) -> Vec<u8> {
    let mut m = [
        ld(1, name.as_bytes()),
        ld(2, b""),
        ld(3, b""),
        ld(4, b""),
        ld(5, b""),
        ld(6, b""),
        vi(7, 0),
        ld(8, b""),
    ]
    .concat();
    for (k, v) in labels {
        m.extend(entry(11, k, v.as_bytes()));
    }
    ld(1, &m)
}

#[test]
fn configmap_with_zero_fields_dropped() {
    let raw = [meta("c", &[]), entry(2, "a", b"b"), entry(2, "empty", b"")].concat();
    let v = decode(&wrap("v1", "ConfigMap", &raw)).expect("decode");
    assert_eq!(
        v,
        serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
            "data": {"a": "b", "empty": ""}})
    );
}

#[test]
fn secret_bytes_are_base64() {
    let raw = [meta("s", &[]), entry(2, "a", b"b"), ld(3, b"Opaque")].concat();
    let v = decode(&wrap("v1", "Secret", &raw)).expect("decode");
    assert_eq!(v["data"]["a"], "Yg==");
    assert_eq!(v["type"], "Opaque");
}

#[test]
fn deployment_keeps_pointer_zero_replicas_and_nested_template() {
    let container = [
        ld(1, b"nginx"),
        ld(2, b"nginx"),
        ld(6, &[ld(1, b""), vi(2, 0), vi(3, 80)].concat()),
        ld(13, b""),
        vi(16, 0),
    ]
    .concat();
    let pod_spec = [ld(2, &container), ld(3, b""), ld(14, b"")].concat();
    let template = [meta("", &[("app", "d")]), ld(2, &pod_spec)].concat();
    let spec = [
        vi(1, 0),
        ld(2, &entry(1, "app", b"d")),
        ld(3, &template),
        ld(4, &ld(1, b"")),
        vi(5, 0),
    ]
    .concat();
    let raw = [meta("d", &[("app", "d")]), ld(2, &spec), ld(3, &vi(1, 0))].concat();
    let v = decode(&wrap("apps/v1", "Deployment", &raw)).expect("decode");
    assert_eq!(v["spec"]["replicas"], 0);
    assert_eq!(
        v["spec"]["selector"],
        serde_json::json!({"matchLabels": {"app": "d"}})
    );
    assert!(v["spec"].get("strategy").is_none(), "{v}");
    assert!(v.get("status").is_none());
    let c = &v["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        c,
        &serde_json::json!({"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}]})
    );
    assert_eq!(
        v["spec"]["template"]["metadata"],
        serde_json::json!({"labels": {"app": "d"}})
    );
}

#[test]
fn int_or_string_and_inlined_ingress_rule_value() {
    let port = [
        ld(1, b"80-8080"),
        ld(2, b"TCP"),
        vi(3, 80),
        ld(4, &[vi(1, 0), vi(2, 8080)].concat()),
    ]
    .concat();
    let raw = [
        meta("svc", &[]),
        ld(2, &[ld(1, &port), ld(4, b"ClusterIP")].concat()),
    ]
    .concat();
    let v = decode(&wrap("v1", "Service", &raw)).expect("decode");
    assert_eq!(v["spec"]["ports"][0]["targetPort"], 8080);
    let named = [vi(1, 1), vi(2, 0), ld(3, b"http")].concat();
    let raw = [meta("p", &[]), ld(2, &[ld(1, &named)].concat())].concat();
    let v = decode(&wrap("policy/v1", "PodDisruptionBudget", &raw)).expect("decode");
    assert_eq!(v["spec"]["minAvailable"], "http");

    let backend = ld(4, &[ld(1, b"svc1"), ld(2, &vi(2, 8080))].concat());
    let path = [ld(1, b"/bar"), ld(2, &backend), ld(3, b"Exact")].concat();
    let rule = [ld(1, b"foo.com"), ld(2, &ld(1, &ld(1, &path)))].concat();
    let raw = [meta("ing", &[]), ld(2, &ld(3, &rule))].concat();
    let v = decode(&wrap("networking.k8s.io/v1", "Ingress", &raw)).expect("decode");
    assert_eq!(
        v["spec"]["rules"][0],
        serde_json::json!({"host": "foo.com", "http": {"paths": [{"path": "/bar", "pathType": "Exact",
            "backend": {"service": {"name": "svc1", "port": {"number": 8080}}}}]}})
    );
}

#[test]
fn bad_bodies_are_errors() {
    assert!(matches!(decode(b"{}"), Err(ProtobufError::Magic)));
    let unknown = wrap("v1", "Pod", &meta("p", &[]));
    let e = decode(&unknown).expect_err("pod");
    assert!(e.to_string().contains("Kind=Pod"), "{e}");
    let mut truncated = wrap("v1", "ConfigMap", &meta("c", &[]));
    truncated.truncate(truncated.len() - 6);
    assert!(matches!(
        decode(&truncated),
        Err(ProtobufError::Wire { .. })
    ));
}
