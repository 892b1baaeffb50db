//! Transformer configuration tests; expectations come from probing `kubectl kustomize`
//! (v5.5.0).

use super::*;
use crate::transform::fixtures::{emit, load};
use crate::transform::nameref::fix_name_references;
use crate::transform::prefix::apply_prefix;

fn parse(yaml: &str) -> TransformerConfig {
    TransformerConfig::parse(&fjord_yaml::parse_document(yaml.as_bytes()).unwrap()).unwrap()
}

fn referrers<'a>(cfg: &'a TransformerConfig, kind: &str) -> &'a [FieldSpec] {
    &cfg.name_reference
        .iter()
        .find(|n| n.gvk.kind == kind)
        .unwrap()
        .referrers
}

#[test]
fn builtin_tables_hold_kustomize_v5_5_entries() {
    let cfg = TransformerConfig::builtin();
    assert_eq!(
        cfg.name_prefix,
        vec![FieldSpec::new("", "metadata/name", false)]
    );
    assert_eq!(
        cfg.common_labels
            .first()
            .map(|s| (s.kind.as_str(), s.path.as_str())),
        Some(("Service", "spec/selector"))
    );
    assert_eq!(
        cfg.common_labels.last(),
        Some(&FieldSpec::new("", "metadata/labels", true))
    );
    assert!(cfg.common_labels.iter().any(
        |s| s.kind == "NetworkPolicy" && s.path == "spec/ingress/from/podSelector/matchLabels"
    ));
    assert!(cfg.template_labels.iter().any(
        |s| s.kind == "StatefulSet" && s.path == "spec/volumeClaimTemplates[]/metadata/labels"
    ));
    assert!(referrers(&cfg, "Deployment")
        .iter()
        .any(|s| s.kind == "HorizontalPodAutoscaler"));
    assert!(referrers(&cfg, "Secret")
        .iter()
        .any(|s| s.path == "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-secret"));
    assert!(referrers(&cfg, "ValidatingAdmissionPolicy")
        .iter()
        .any(|s| s.path == "spec/policyName"));
    // kustomize's table lists `spec/tls/secretName` of Ingress twice, and a name reference
    // merged in whole keeps its list as it is (kustomize's `nbrSlice.mergeOne`).
    assert_eq!(
        referrers(&cfg, "Secret")
            .iter()
            .filter(|s| s.kind == "Ingress" && s.path == "spec/tls/secretName")
            .count(),
        2
    );
    // Sorted by kustomize's kind order: StorageClass before ServiceAccount before ConfigMap.
    let kinds: Vec<&str> = cfg
        .name_reference
        .iter()
        .take(5)
        .map(|n| n.gvk.kind.as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "StorageClass",
            "ServiceAccount",
            "Role",
            "ClusterRole",
            "ConfigMap"
        ]
    );
    assert_eq!(cfg.images.len(), 4);
    assert_eq!(cfg.replicas.len(), 4);
}

/// A base with `configurations: [{namePrefix: [{kind: ConfigMap, path: metadata/name}]}]` and
/// an overlay with `namePrefix: o-` and a Secret: kubectl kustomize prefixes only the ConfigMap,
/// because the kind-specific spec swallows the catch-all one when merged into an accumulator.
#[test]
fn kind_specific_spec_replaces_catch_all_through_accumulators() {
    let user = parse("namePrefix:\n- path: metadata/name\n  kind: ConfigMap\n");
    let mut base = TransformerConfig::default();
    base.merge(&TransformerConfig::for_kustomization(&[user]).unwrap())
        .unwrap();
    assert_eq!(
        base.name_prefix,
        vec![FieldSpec::new("ConfigMap", "metadata/name", false)]
    );
    let mut overlay = TransformerConfig::default();
    overlay.merge(&base).unwrap();
    overlay
        .merge(&TransformerConfig::for_kustomization(&[]).unwrap())
        .unwrap();
    assert_eq!(
        overlay.name_prefix,
        vec![FieldSpec::new("ConfigMap", "metadata/name", false)]
    );
    let mut res = load("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n");
    apply_prefix(&mut res, "o-", &overlay.name_prefix).unwrap();
    assert_eq!(res[0].name(), "o-cm");
    assert_eq!(res[1].name(), "s");
}

/// The same spec with `create: true` makes kubectl kustomize fail with "failed to merge
/// NamePrefix fieldSpec: conflicting fieldspecs".
#[test]
fn conflicting_create_is_an_error() {
    let user = parse("namePrefix:\n- path: metadata/name\n  kind: ConfigMap\n  create: true\n");
    let own = TransformerConfig::for_kustomization(&[user]).unwrap();
    let err = TransformerConfig::default().merge(&own).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("failed to merge NamePrefix fieldSpec: conflicting fieldspecs"),
        "{err}"
    );
}

#[test]
fn configurations_file_extends_name_references() {
    let user = parse(
        "nameReference:\n- kind: ConfigMap\n  version: v1\n  fieldSpecs:\n  - kind: Bee\n    path: spec/cm\n\
         - kind: Bee\n  group: example.com\n  fieldSpecs:\n  - kind: Hive\n    path: spec/bee\nvarReference:\n- kind: Bee\n  path: spec/x\n",
    );
    let cfg = TransformerConfig::for_kustomization(&[user]).unwrap();
    assert!(referrers(&cfg, "ConfigMap")
        .iter()
        .any(|s| s.kind == "Bee" && s.path == "spec/cm"));
    assert_eq!(
        referrers(&cfg, "Bee"),
        [FieldSpec::new("Hive", "spec/bee", false)]
    );
    assert!(cfg
        .var_reference
        .iter()
        .any(|s| s.kind == "Bee" && s.path == "spec/x"));
}

#[test]
fn malformed_configurations_are_refused() {
    let bad = fjord_yaml::parse_document(b"namePrefix:\n- path: metadata/name\n  create: maybe\n")
        .unwrap();
    let err = TransformerConfig::parse(&bad).unwrap_err();
    assert!(err.to_string().contains("namePrefix[0].create"), "{err}");
    let bad = fjord_yaml::parse_document(b"nameReference: {}\n").unwrap();
    assert!(TransformerConfig::parse(&bad).is_err());
}

const CRDS: &str = r#"{
  "github.com/example/pkg/apis/jingfang/v1beta1.Bee": {
    "Schema": {
      "description": "Bee",
      "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"$ref": "k8s.io/apimachinery/pkg/apis/meta/v1.ObjectMeta"},
        "spec": {"$ref": "github.com/example/pkg/apis/jingfang/v1beta1.BeeSpec"}
      }
    },
    "Dependencies": []
  },
  "github.com/example/pkg/apis/jingfang/v1beta1.BeeSpec": {
    "Schema": {
      "properties": {
        "configRef": {
          "x-kubernetes-object-ref-api-version": "v1",
          "x-kubernetes-object-ref-kind": "ConfigMap",
          "type": "object"
        },
        "secretRef": {
          "x-kubernetes-object-ref-api-version": "v1",
          "x-kubernetes-object-ref-kind": "Secret",
          "x-kubernetes-object-ref-name-key": "secretName",
          "type": "object"
        }
      }
    },
    "Dependencies": []
  }
}
"#;
const CRD_INPUT: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
---
apiVersion: v1
kind: Secret
metadata:
  name: s
---
apiVersion: jingfang.example.com/v1beta1
kind: Bee
metadata:
  name: bee
spec:
  configRef:
    name: cm
  secretRef:
    secretName: s
"#;

/// `crds: [crd.json]` and `namePrefix: p-`.
const CRD_OUT: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: p-cm
---
apiVersion: v1
kind: Secret
metadata:
  name: p-s
---
apiVersion: jingfang.example.com/v1beta1
kind: Bee
metadata:
  name: p-bee
spec:
  configRef:
    name: p-cm
  secretRef:
    secretName: p-s
"#;

#[test]
fn crd_object_refs_become_name_references() {
    let crds = TransformerConfig::from_crds(&fjord_yaml::parse_document(CRDS.as_bytes()).unwrap())
        .unwrap();
    assert_eq!(
        referrers(&crds, "ConfigMap"),
        [FieldSpec::new("Bee", "spec/configRef/name", false)]
    );
    assert_eq!(
        referrers(&crds, "Secret"),
        [FieldSpec::new("Bee", "spec/secretRef/secretName", false)]
    );
    let mut cfg = TransformerConfig::default();
    cfg.merge(&TransformerConfig::builtin()).unwrap();
    cfg.merge(&crds).unwrap();
    let mut res = load(CRD_INPUT);
    apply_prefix(&mut res, "p-", &cfg.name_prefix).unwrap();
    fix_name_references(&mut res, &cfg).unwrap();
    assert_eq!(emit(&res), CRD_OUT);
}
