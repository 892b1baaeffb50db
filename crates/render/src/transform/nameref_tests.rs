//! Name-reference tests: inputs and the output `kubectl kustomize` (v5.5.0) printed for them
//! with `sortOptions: {order: fifo}`. Each test replays the transformers kustomize ran
//! (namespace, then prefix, level by level) and then fixes references.

use super::*;
use crate::transform::fixtures::{emit, load};
use crate::transform::namespace::{apply_namespace, NamespaceOptions};
use crate::transform::prefix::apply_prefix;

const ONE_LEVEL: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: sa
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: cr
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: crb
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cr
subjects:
- kind: ServiceAccount
  name: sa
  namespace: default
- kind: ServiceAccount
  name: sa
- kind: ServiceAccount
  name: other
  namespace: elsewhere
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: d
spec:
  template:
    spec:
      serviceAccountName: sa
      volumes:
      - name: v
        configMap:
          name: cm
      - name: w
        configMap:
          name: nope
      containers:
      - name: c
        envFrom:
        - configMapRef:
            name: cm
---
apiVersion: v1
kind: Service
metadata:
  name: svc
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
      namespace: default
- name: b
  clientConfig:
    service:
      name: svc
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: hpa
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: d
---
apiVersion: v1
kind: Secret
metadata:
  name: tls
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ing
spec:
  tls:
  - secretName: tls
  rules:
  - http:
      paths:
      - backend:
          service:
            name: svc
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: cr
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: rb
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: cr
subjects:
- kind: ServiceAccount
  name: sa
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: fast
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: pvc
spec:
  storageClassName: fast
"#;

/// `namePrefix: p-` and `namespace: tns` over `ONE_LEVEL`.
const ONE_LEVEL_OUT: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: p-cm
  namespace: tns
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: p-sa
  namespace: tns
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: p-cr
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: p-crb
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: p-cr
subjects:
- kind: ServiceAccount
  name: p-sa
  namespace: tns
- kind: ServiceAccount
  name: p-sa
  namespace: tns
- kind: ServiceAccount
  name: other
  namespace: elsewhere
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: p-d
  namespace: tns
spec:
  template:
    spec:
      containers:
      - envFrom:
        - configMapRef:
            name: p-cm
        name: c
      serviceAccountName: p-sa
      volumes:
      - configMap:
          name: p-cm
        name: v
      - configMap:
          name: nope
        name: w
---
apiVersion: v1
kind: Service
metadata:
  name: p-svc
  namespace: tns
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: p-vw
webhooks:
- clientConfig:
    service:
      name: p-svc
      namespace: tns
  name: a
- clientConfig:
    service:
      name: p-svc
      namespace: tns
  name: b
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: p-hpa
  namespace: tns
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: p-d
---
apiVersion: v1
kind: Secret
metadata:
  name: p-tls
  namespace: tns
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: p-ing
  namespace: tns
spec:
  rules:
  - http:
      paths:
      - backend:
          service:
            name: p-svc
  tls:
  - secretName: p-tls
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: p-cr
  namespace: tns
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: p-rb
  namespace: tns
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: p-cr
subjects:
- kind: ServiceAccount
  name: p-sa
  namespace: tns
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: p-fast
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: p-pvc
  namespace: tns
spec:
  storageClassName: p-fast
"#;

#[test]
fn one_level_prefix_and_namespace() {
    let cfg = TransformerConfig::builtin();
    let mut res = load(ONE_LEVEL);
    apply_namespace(
        &mut res,
        "tns",
        &NamespaceOptions::default(),
        &cfg.namespace,
    )
    .unwrap();
    apply_prefix(&mut res, "p-", &cfg.name_prefix).unwrap();
    fix_name_references(&mut res, &cfg).unwrap();
    assert_eq!(emit(&res), ONE_LEVEL_OUT);
}

const BASE: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: d
spec:
  template:
    spec:
      volumes:
      - name: v
        configMap:
          name: cm
"#;
const OVERLAY: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
---
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  volumes:
  - name: v
    configMap:
      name: cm
"#;

/// `base` (with `namePrefix: b-` over `BASE`) and `OVERLAY` as resources of the top.
const TWO_LEVELS_OUT: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: b-cm
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: b-d
spec:
  template:
    spec:
      volumes:
      - configMap:
          name: b-cm
        name: v
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
---
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  volumes:
  - configMap:
      name: b-cm
    name: v
"#;

/// The same with `namespace: tns` at the top.
const TWO_LEVELS_NAMESPACE_OUT: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: b-cm
  namespace: tns
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: b-d
  namespace: tns
spec:
  template:
    spec:
      volumes:
      - configMap:
          name: b-cm
        name: v
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
  namespace: tns
---
apiVersion: v1
kind: Pod
metadata:
  name: p
  namespace: tns
spec:
  volumes:
  - configMap:
      name: cm
    name: v
"#;

fn two_levels(namespace: bool) -> ResMap {
    let cfg = TransformerConfig::builtin();
    let mut res = load(BASE);
    apply_prefix(&mut res, "b-", &cfg.name_prefix).unwrap();
    res.extend(load(OVERLAY));
    if namespace {
        apply_namespace(
            &mut res,
            "tns",
            &NamespaceOptions::default(),
            &cfg.namespace,
        )
        .unwrap();
    }
    fix_name_references(&mut res, &cfg).unwrap();
    res
}

/// Only recorded ids match: the overlay's Pod, meaning its own untouched `cm`, is pointed at
/// the base's renamed one — as kubectl kustomize does.
#[test]
fn unrenamed_objects_are_not_candidates() {
    assert_eq!(emit(&two_levels(false)), TWO_LEVELS_OUT);
}

/// With a namespace transformer every id is recorded; the prefixes then decide.
#[test]
fn prefixes_break_ties() {
    assert_eq!(emit(&two_levels(true)), TWO_LEVELS_NAMESPACE_OUT);
}

/// Two generated ConfigMaps `cm` in namespaces `a` and `b` (hash-suffixed names) and a
/// cluster-scoped ClusterRole naming `cm`: kubectl kustomize fails with "found multiple
/// possible referrals: ConfigMap.v1.[noGrp]/cm-hmg6f82fh6.a, ConfigMap.v1.[noGrp]/cm-d5gm26dhhd.b".
#[test]
fn ambiguous_reference_is_an_error() {
    let mut res = load(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: a\n---\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: b\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: cr\nrules:\n- resourceNames:\n  - cm\n",
    );
    res[0].set_name("cm-hmg6f82fh6");
    res[1].set_name("cm-d5gm26dhhd");
    let err = fix_name_references(&mut res, &TransformerConfig::builtin()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "updating name reference in 'rules/resourceNames' field of 'ClusterRole.v1.rbac.authorization.k8s.io/cr.[noNs]': \
         found multiple possible referrals: ConfigMap.v1.[noGrp]/cm-hmg6f82fh6.a, ConfigMap.v1.[noGrp]/cm-d5gm26dhhd.b"
    );
}

#[test]
fn mapping_reference_without_name_is_an_error() {
    let mut res = load(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: sa\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: rb\nsubjects:\n- kind: ServiceAccount\n",
    );
    res[0].set_name("p-sa");
    let err = fix_name_references(&mut res, &TransformerConfig::builtin()).unwrap_err();
    assert!(
        matches!(err, TransformError::BadReferenceField { .. }),
        "{err}"
    );
}

#[test]
fn same_ending_compares_list_tails() {
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert!(same_ending(&v(&[]), &v(&[])));
    assert!(!same_ending(&v(&[]), &v(&["a-"])));
    assert!(same_ending(&v(&["o-"]), &v(&["b-", "o-"])));
    assert!(!same_ending(&v(&["b-"]), &v(&["b-", "o-"])));
}
