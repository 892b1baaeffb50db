//! Namespace transformer tests: inputs and the output `kubectl kustomize` (v5.5.0) printed
//! for them with `sortOptions: {order: fifo}`.

use super::*;
use crate::transform::config::TransformerConfig;
use crate::transform::fixtures::{emit, load};

const INPUT: &str = r#"apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: rb
subjects:
- kind: ServiceAccount
  name: default
- kind: ServiceAccount
  name: sa1
- kind: ServiceAccount
  name: sa2
  namespace: other
- kind: User
  name: default
  namespace: zz
- kind: Group
  name: g
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: vw
webhooks:
- name: a
  clientConfig:
    service:
      name: svc
      namespace: old
- name: b
  clientConfig:
    url: https://x
- name: c
  clientConfig:
    service:
      name: svc
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: v1.foo
spec:
  service:
    name: svc
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: foos.example.com
spec:
  conversion:
    webhook:
      clientConfig:
        service:
          name: svc
          namespace: old
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
  namespace: keep
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm2
  namespace: ""
---
apiVersion: v1
kind: Namespace
metadata:
  name: old
---
apiVersion: v2
kind: Namespace
metadata:
  name: other-version
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: cr
---
apiVersion: example.com/v1
kind: Foo
metadata:
  name: f
"#;

/// `namespace: tns`.
const NAMESPACE_OUT: &str = r#"apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: rb
  namespace: tns
subjects:
- kind: ServiceAccount
  name: default
  namespace: tns
- kind: ServiceAccount
  name: sa1
- kind: ServiceAccount
  name: sa2
  namespace: other
- kind: User
  name: default
  namespace: tns
- kind: Group
  name: g
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: vw
webhooks:
- clientConfig:
    service:
      name: svc
      namespace: old
  name: a
- clientConfig:
    url: https://x
  name: b
- clientConfig:
    service:
      name: svc
  name: c
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: v1.foo
spec:
  service:
    name: svc
    namespace: tns
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: foos.example.com
spec:
  conversion:
    webhook:
      clientConfig:
        service:
          name: svc
          namespace: tns
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
  namespace: tns
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm2
  namespace: tns
---
apiVersion: v1
kind: Namespace
metadata:
  name: tns
---
apiVersion: v2
kind: Namespace
metadata:
  name: other-version
  namespace: tns
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: cr
---
apiVersion: example.com/v1
kind: Foo
metadata:
  name: f
  namespace: tns
"#;

#[test]
fn namespace_field_as_kubectl_kustomize() {
    let mut res = load(INPUT);
    apply_namespace(
        &mut res,
        "tns",
        &NamespaceOptions::default(),
        &TransformerConfig::builtin().namespace,
    )
    .unwrap();
    assert_eq!(emit(&res), NAMESPACE_OUT);
    // The renamed Namespace and the moved ConfigMap remember where they were.
    let ns = res
        .iter()
        .find(|r| r.kind() == "Namespace" && r.name() == "tns")
        .unwrap();
    assert_eq!(ns.orig_id().name, "old");
    let cm = res.iter().find(|r| r.name() == "cm").unwrap();
    assert_eq!(cm.orig_id().namespace, "keep");
    // Unchanged objects get their id recorded too, as kustomize does.
    let cr = res.iter().find(|r| r.kind() == "ClusterRole").unwrap();
    assert_eq!(cr.prev_ids, vec![cr.id()]);
}

/// A `NamespaceTransformer` with `setRoleBindingSubjects: allServiceAccounts`, `unsetOnly: true`
/// and no `fieldSpecs`.
const TRANSFORMER_OUT: &str = r#"apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: rb
  namespace: tns
subjects:
- kind: ServiceAccount
  name: default
  namespace: tns
- kind: ServiceAccount
  name: sa1
  namespace: tns
- kind: ServiceAccount
  name: sa2
  namespace: other
- kind: User
  name: default
  namespace: zz
- kind: Group
  name: g
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: vw
webhooks:
- clientConfig:
    service:
      name: svc
      namespace: old
  name: a
- clientConfig:
    url: https://x
  name: b
- clientConfig:
    service:
      name: svc
  name: c
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: v1.foo
spec:
  service:
    name: svc
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: foos.example.com
spec:
  conversion:
    webhook:
      clientConfig:
        service:
          name: svc
          namespace: old
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
  namespace: keep
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm2
  namespace: tns
---
apiVersion: v1
kind: Namespace
metadata:
  name: old
---
apiVersion: v2
kind: Namespace
metadata:
  name: other-version
  namespace: tns
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: cr
---
apiVersion: example.com/v1
kind: Foo
metadata:
  name: f
  namespace: tns
"#;

#[test]
fn transformer_with_unset_only_and_all_service_accounts() {
    let mut res = load(INPUT);
    let cfg = fjord_yaml::parse_document(
        b"setRoleBindingSubjects: allServiceAccounts\nunsetOnly: true\n",
    )
    .unwrap();
    let opts = NamespaceOptions::parse(&cfg).unwrap();
    assert_eq!(
        opts,
        NamespaceOptions {
            unset_only: true,
            role_binding_subjects: RoleBindingSubjects::AllServiceAccounts
        }
    );
    apply_namespace(&mut res, "tns", &opts, &[]).unwrap();
    assert_eq!(emit(&res), TRANSFORMER_OUT);
}

#[test]
fn subjects_mode_none_leaves_subjects_alone() {
    let mut res = load(INPUT);
    let opts = NamespaceOptions {
        unset_only: false,
        role_binding_subjects: RoleBindingSubjects::None,
    };
    apply_namespace(&mut res, "tns", &opts, &[]).unwrap();
    let subjects = res[0].obj.get("subjects").unwrap().as_seq().unwrap();
    assert!(subjects[0].get("namespace").is_none());
    assert_eq!(subjects[3].str_at(&["namespace"]), Some("zz"));
}

#[test]
fn bad_subject_mode_is_refused() {
    let cfg = fjord_yaml::parse_document(b"setRoleBindingSubjects: some\n").unwrap();
    let err = NamespaceOptions::parse(&cfg).unwrap_err();
    assert!(err.to_string().contains("setRoleBindingSubjects"), "{err}");
}

#[test]
fn two_objects_moved_onto_one_id_conflict() {
    let mut res = load(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: x\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: y\n",
    );
    let err = apply_namespace(&mut res, "z", &NamespaceOptions::default(), &[]).unwrap_err();
    assert!(
        matches!(err, TransformError::NamespaceIdConflict { .. }),
        "{err}"
    );
    assert!(err
        .to_string()
        .starts_with("namespace transformation produces ID conflict"));
}

#[test]
fn namespace_values_are_strings() {
    let mut res = load("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n");
    apply_namespace(&mut res, "123", &NamespaceOptions::default(), &[]).unwrap();
    assert_eq!(
        emit(&res),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: \"123\"\n"
    );
}
