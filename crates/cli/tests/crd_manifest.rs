//! `manifests/crds.yaml`: every CustomResourceDefinition fjord serves (Application, AppProject,
//! SealedSecret and the four external-secrets.io kinds), generated from the YAML the
//! controllers embed, so the shipped file never drifts from what they install.
//!
//! `FJORD_UPDATE_MANIFESTS=1 cargo test -p fjord --test crd_manifest` rewrites the file; without
//! it a difference fails. The file is applied with the real `kubectl` to the test backend, and
//! every CRD in it must become Established.

mod common;

use common::manifests::generated_crds;
use common::Cluster;
use fjord_testkit::require_tools;
use fjord_testkit::tools::KUBECTL;
use serde_json::Value;

const HEADER: &str = "\
# Every CustomResourceDefinition fjord serves. Generated from the controllers' embedded CRDs by
# crates/cli/tests/crd_manifest.rs (FJORD_UPDATE_MANIFESTS=1 rewrites it); do not edit.
# kubectl apply --server-side -f manifests/crds.yaml
";

fn path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds.yaml")
}

#[test]
fn the_checked_in_crd_manifest_is_what_the_code_generates() {
    let want = generated_crds(HEADER);
    if std::env::var("FJORD_UPDATE_MANIFESTS").as_deref() == Ok("1") {
        std::fs::write(path(), &want).unwrap();
    }
    let have = std::fs::read_to_string(path()).unwrap_or_default();
    assert!(
        have == want,
        "manifests/crds.yaml differs from the controllers' embedded CRDs; run \
         FJORD_UPDATE_MANIFESTS=1 cargo test -p fjord --test crd_manifest"
    );
    let names: Vec<&str> = want
        .lines()
        .filter_map(|l| l.strip_prefix("  name: "))
        .filter(|n| n.contains('.'))
        .collect();
    for crd in [
        "applications.argoproj.io",
        "appprojects.argoproj.io",
        "sealedsecrets.bitnami.com",
        "externalsecrets.external-secrets.io",
        "clusterexternalsecrets.external-secrets.io",
        "secretstores.external-secrets.io",
        "clustersecretstores.external-secrets.io",
    ] {
        assert!(names.contains(&crd), "{crd} missing from {names:?}");
    }
}

#[test]
fn kubectl_installs_every_crd_of_the_manifest() {
    require_tools!(KUBECTL);
    let cluster = Cluster::start();
    let file = path();
    cluster.kubectl_ok(&["apply", "--server-side", "-f", file.to_str().unwrap()]);
    let crds: Value =
        serde_json::from_str(&cluster.kubectl_ok(&["get", "crd", "-o", "json"])).unwrap();
    let established = |name: &str| {
        crds["items"].as_array().unwrap().iter().any(|c| {
            c["metadata"]["name"] == name
                && c["status"]["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|k| k["type"] == "Established" && k["status"] == "True")
        })
    };
    for name in [
        "applications.argoproj.io",
        "sealedsecrets.bitnami.com",
        "externalsecrets.external-secrets.io",
        "clustersecretstores.external-secrets.io",
    ] {
        let out = cluster.kubectl(&[
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            &format!("crd/{name}"),
        ]);
        assert!(
            out.status.success() || established(name),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Both external-secrets.io versions are served: a v1beta1 ExternalSecret is accepted.
    cluster.kubectl_ok(&["create", "namespace", "eso-manifest"]);
    let es = "apiVersion: external-secrets.io/v1beta1\nkind: ExternalSecret\nmetadata:\n  name: x\n  namespace: eso-manifest\nspec:\n  secretStoreRef:\n    name: s\n    kind: ClusterSecretStore\n  data:\n  - secretKey: k\n    remoteRef:\n      key: secret/data/a\n";
    cluster.kubectl_ok_in(&["apply", "-f", "-"], es);
    let back = cluster.kubectl_ok(&[
        "get",
        "externalsecrets.v1.external-secrets.io",
        "x",
        "-n",
        "eso-manifest",
        "-o",
        "jsonpath={.apiVersion}",
    ]);
    assert_eq!(back.trim(), "external-secrets.io/v1");
}
