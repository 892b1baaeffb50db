//! `helm uninstall` against the backend `FJORD_TEST_BACKEND` picks: client-go sends its DELETE
//! bodies as protobuf `DeleteOptions`, which the API must read (the local API used to answer
//! 500). Also raw protobuf DELETE bodies: preconditions honoured, delete-collection, malformed
//! bodies refused.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::Cluster;
use fjord_testkit::require_tools;
use fjord_testkit::tools::{HELM, KUBECTL};

const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

/// A namespace of its own (the real control plane may be shared between runs).
fn namespace(c: &Cluster, what: &str) -> String {
    let ns = format!("{what}-{}", std::process::id());
    c.kubectl_ok(&["create", "namespace", &ns]);
    ns
}

/// A chart with one ConfigMap.
fn write_chart(dir: &Path) {
    std::fs::create_dir_all(dir.join("templates")).expect("chart dir");
    std::fs::write(
        dir.join("Chart.yaml"),
        "apiVersion: v2\nname: tiny\nversion: 0.1.0\n",
    )
    .expect("Chart.yaml");
    std::fs::write(
        dir.join("templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\n\
         data:\n  greeting: hello\n",
    )
    .expect("template");
}

/// Runs helm with the cluster's kubeconfig and its own config, cache and data homes.
fn helm(c: &Cluster, args: &[&str]) -> Output {
    let home = c.dir.path().join("helm-home");
    Command::new("helm")
        .args(args)
        .arg("--kubeconfig")
        .arg(&c.kubeconfig)
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_DATA_HOME", home.join("data"))
        .output()
        .expect("run helm")
}

fn helm_ok(c: &Cluster, args: &[&str]) -> String {
    let out = helm(c, args);
    assert!(
        out.status.success(),
        "helm {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Names of the objects of `kind` in `ns` matching `selector`.
fn names(c: &Cluster, kind: &str, ns: &str, selector: &str) -> Vec<String> {
    let v = c.get_json(&[kind, "-n", ns, "-l", selector]);
    v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|o| o["metadata"]["name"].as_str().expect("name").to_string())
        .collect()
}

#[test]
fn helm_uninstall_deletes_the_release_and_a_reinstall_succeeds() {
    require_tools!(KUBECTL, HELM);
    let c = Cluster::start();
    let ns = namespace(&c, "helm-del");
    let chart = c.dir.path().join("tiny");
    write_chart(&chart);
    let chart = chart.to_str().expect("utf-8 path");
    helm_ok(&c, &["install", "demo", chart, "-n", &ns]);
    assert!(c.exists("configmap", &ns, "demo-cm"));
    let secrets = names(&c, "secret", &ns, "owner=helm,name=demo");
    assert_eq!(secrets, ["sh.helm.release.v1.demo.v1"]);

    helm_ok(&c, &["uninstall", "demo", "-n", &ns]);
    assert!(!c.exists("configmap", &ns, "demo-cm"));
    assert!(names(&c, "secret", &ns, "owner=helm,name=demo").is_empty());

    helm_ok(&c, &["install", "demo", chart, "-n", &ns]);
    assert!(c.exists("configmap", &ns, "demo-cm"));
    let list = helm_ok(&c, &["list", "-n", &ns, "-q"]);
    assert_eq!(list.trim(), "demo");
    helm_ok(&c, &["uninstall", "demo", "-n", &ns]);
    c.kubectl_ok(&["delete", "namespace", &ns, "--wait=false"]);
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn ld(num: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    varint(u64::from(num) << 3 | 2, &mut out);
    varint(payload.len() as u64, &mut out);
    out.extend_from_slice(payload);
    out
}

/// A `k8s\0`-enveloped `DeleteOptions` (as text: every byte here is ASCII).
fn delete_options(raw: &[u8]) -> String {
    let type_meta = [ld(1, b"v1"), ld(2, b"DeleteOptions")].concat();
    let mut body = b"k8s\0".to_vec();
    body.extend([ld(1, &type_meta), ld(2, raw)].concat());
    String::from_utf8(body).expect("ASCII body")
}

#[test]
fn protobuf_delete_options_are_read_on_delete_and_delete_collection() {
    require_tools!(KUBECTL);
    let c = Cluster::start();
    let ns = namespace(&c, "pb-del");
    for name in ["a", "b", "c"] {
        c.kubectl_ok(&["create", "configmap", name, "-n", &ns]);
        c.kubectl_ok(&["label", "configmap", name, "-n", &ns, "set=pb"]);
    }
    let path = |name: &str| format!("/api/v1/namespaces/{ns}/configmaps/{name}");

    // A wrong uid precondition is a conflict: the body's fields are read.
    let wrong = delete_options(&ld(2, &ld(1, b"not-the-uid")));
    let (code, body) = c.http("DELETE", &path("a"), PROTOBUF, &wrong);
    assert_eq!(code, 409, "{body}");
    assert!(c.exists("configmap", &ns, "a"));

    let uid = c.get("configmap", &ns, "a").expect("a")["metadata"]["uid"]
        .as_str()
        .expect("uid")
        .to_string();
    let right = delete_options(&[ld(2, &ld(1, uid.as_bytes())), ld(4, b"Background")].concat());
    let (code, body) = c.http("DELETE", &path("a"), PROTOBUF, &right);
    assert_eq!(code, 200, "{body}");
    assert!(!c.exists("configmap", &ns, "a"));

    // dryRun: [All] leaves the object.
    let dry = delete_options(&ld(5, b"All"));
    let (code, body) = c.http("DELETE", &path("b"), PROTOBUF, &dry);
    assert_eq!(code, 200, "{body}");
    assert!(c.exists("configmap", &ns, "b"));

    // Both orphanDependents and propagationPolicy: invalid, as in JSON.
    let both = delete_options(&[vec![0x18, 0x01], ld(4, b"Background")].concat());
    let (code, body) = c.http("DELETE", &path("b"), PROTOBUF, &both);
    assert_eq!(code, 422, "{body}");
    assert!(body.contains("orphanDependents"), "{body}");

    // A truncated body: refused, nothing deleted. The real server answers a plain 500 (its
    // decoder's error); the local API a 400 naming the malformed field.
    let mut cut = delete_options(&ld(4, b"Background"));
    cut.truncate(cut.len() - 3);
    let (code, body) = c.http("DELETE", &path("b"), PROTOBUF, &cut);
    assert_eq!(code, if c.is_real() { 500 } else { 400 }, "{body}");
    if !c.is_real() {
        assert!(body.contains("DeleteOptions"), "{body}");
    }
    assert!(c.exists("configmap", &ns, "b"));

    let collection = format!("/api/v1/namespaces/{ns}/configmaps?labelSelector=set%3Dpb");
    let (code, body) = c.http(
        "DELETE",
        &collection,
        PROTOBUF,
        &delete_options(&ld(4, b"Background")),
    );
    assert_eq!(code, 200, "{body}");
    assert!(names(&c, "configmap", &ns, "set=pb").is_empty());
    c.kubectl_ok(&["delete", "namespace", &ns, "--wait=false"]);
}

#[test]
fn local_api_protobuf_bodies_of_kinds_without_a_decoder_are_unsupported_media() {
    // The real server decodes every built-in kind; the local API only those kubectl's
    // generator commands send.
    let c = Cluster::local_with(|_| {});
    let type_meta = [ld(1, b"v1"), ld(2, b"PersistentVolumeClaim")].concat();
    let mut body = b"k8s\0".to_vec();
    body.extend([ld(1, &type_meta), ld(2, &ld(1, &ld(1, b"claim")))].concat());
    let body = String::from_utf8(body).expect("ASCII");
    let (code, text) = c.http(
        "POST",
        "/api/v1/namespaces/default/persistentvolumeclaims",
        PROTOBUF,
        &body,
    );
    assert_eq!(code, 415, "{text}");
    assert!(text.contains(PROTOBUF), "{text}");
    assert!(text.contains("UnsupportedMediaType"), "{text}");
}
