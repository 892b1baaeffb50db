//! Label transformer tests: inputs and the output `kubectl kustomize` (v5.5.0) printed for
//! them with `sortOptions: {order: fifo}`.

use super::*;
use crate::transform::fixtures::{emit, load};

const INPUT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: d
spec:
  selector:
    matchLabels:
      old: x
  template:
    metadata:
      labels:
        old: x
    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - labelSelector:
              matchLabels:
                old: x
            topologyKey: k
---
apiVersion: v1
kind: Service
metadata:
  name: s
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: st
spec:
  volumeClaimTemplates:
  - metadata:
      name: data
  - metadata:
      name: logs
      labels:
        keep: "yes"
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: cj
spec:
  jobTemplate:
    spec: {}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: pdb
spec: {}
---
apiVersion: example.com/v1
kind: Foo
metadata:
  name: f
spec:
  template:
    metadata: {}
"#;

fn pairs(kv: &[(&str, &str)]) -> IndexMap<String, String> {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `commonLabels: {app: web, num: "1"}`.
const COMMON_LABELS_OUT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  labels:
    app: web
    num: "1"
  name: d
spec:
  selector:
    matchLabels:
      app: web
      num: "1"
      old: x
  template:
    metadata:
      labels:
        app: web
        num: "1"
        old: x
    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - labelSelector:
              matchLabels:
                app: web
                num: "1"
                old: x
            topologyKey: k
---
apiVersion: v1
kind: Service
metadata:
  labels:
    app: web
    num: "1"
  name: s
spec:
  selector:
    app: web
    num: "1"
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  labels:
    app: web
    num: "1"
  name: st
spec:
  selector:
    matchLabels:
      app: web
      num: "1"
  template:
    metadata:
      labels:
        app: web
        num: "1"
  volumeClaimTemplates:
  - metadata:
      labels:
        app: web
        num: "1"
      name: data
  - metadata:
      labels:
        app: web
        keep: "yes"
        num: "1"
      name: logs
---
apiVersion: batch/v1
kind: CronJob
metadata:
  labels:
    app: web
    num: "1"
  name: cj
spec:
  jobTemplate:
    metadata:
      labels:
        app: web
        num: "1"
    spec:
      template:
        metadata:
          labels:
            app: web
            num: "1"
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  labels:
    app: web
    num: "1"
  name: pdb
spec: {}
---
apiVersion: example.com/v1
kind: Foo
metadata:
  labels:
    app: web
    num: "1"
  name: f
spec:
  template:
    metadata: {}
"#;

#[test]
fn common_labels_reach_selectors_templates_and_claim_templates() {
    let mut res = load(INPUT);
    let spec = LabelSpec::common(pairs(&[("app", "web"), ("num", "1")]));
    apply_labels(&mut res, &spec, &TransformerConfig::builtin()).unwrap();
    assert_eq!(emit(&res), COMMON_LABELS_OUT);
}

/// Three `labels:` entries: plain `{a: b}`; `{t: x}` with `includeTemplates`; `{f: "y"}`
/// with `fields: [{kind: Foo, path: spec/sel, create: true}]`.
const LABEL_ENTRIES_OUT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  labels:
    a: b
    f: "y"
    t: x
  name: d
spec:
  selector:
    matchLabels:
      old: x
  template:
    metadata:
      labels:
        old: x
        t: x
    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - labelSelector:
              matchLabels:
                old: x
            topologyKey: k
---
apiVersion: v1
kind: Service
metadata:
  labels:
    a: b
    f: "y"
    t: x
  name: s
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  labels:
    a: b
    f: "y"
    t: x
  name: st
spec:
  template:
    metadata:
      labels:
        t: x
  volumeClaimTemplates:
  - metadata:
      labels:
        t: x
      name: data
  - metadata:
      labels:
        keep: "yes"
        t: x
      name: logs
---
apiVersion: batch/v1
kind: CronJob
metadata:
  labels:
    a: b
    f: "y"
    t: x
  name: cj
spec:
  jobTemplate:
    metadata:
      labels:
        t: x
    spec:
      template:
        metadata:
          labels:
            t: x
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  labels:
    a: b
    f: "y"
    t: x
  name: pdb
spec: {}
---
apiVersion: example.com/v1
kind: Foo
metadata:
  labels:
    a: b
    f: "y"
    t: x
  name: f
spec:
  sel:
    f: "y"
  template:
    metadata: {}
"#;

#[test]
fn label_entries_honour_templates_and_custom_fields() {
    let mut res = load(INPUT);
    let cfg = TransformerConfig::builtin();
    let entries = fjord_yaml::parse_document(
        br#"- pairs:
    a: b
- pairs:
    t: x
  includeTemplates: true
- pairs:
    f: "y"
  fields:
  - kind: Foo
    path: spec/sel
    create: true
"#,
    )
    .unwrap();
    for (i, e) in entries.as_seq().unwrap().iter().enumerate() {
        let spec = LabelSpec::parse(e, &format!("labels[{i}]")).unwrap();
        apply_labels(&mut res, &spec, &cfg).unwrap();
    }
    assert_eq!(emit(&res), LABEL_ENTRIES_OUT);
}

#[test]
fn parse_rejects_non_string_values_and_unknown_keys() {
    let bad = fjord_yaml::parse_document(b"pairs:\n  x: 1\n").unwrap();
    let err = LabelSpec::parse(&bad, "labels[0]").unwrap_err();
    assert!(err.to_string().contains("labels[0].pairs.x"), "{err}");
    let null = fjord_yaml::parse_document(b"pairs:\n  x: null\n").unwrap();
    assert_eq!(LabelSpec::parse(&null, "labels[0]").unwrap().pairs["x"], "");
    let unknown = fjord_yaml::parse_document(b"pair:\n  x: y\n").unwrap();
    assert!(LabelSpec::parse(&unknown, "labels[0]").is_err());
}

#[test]
fn a_sequence_where_labels_belong_is_an_error() {
    let mut res = load("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels: [1]\n");
    let err = apply_labels(
        &mut res,
        &LabelSpec::common(pairs(&[("a", "b")])),
        &TransformerConfig::builtin(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "considering field 'metadata/labels' of object ConfigMap.v1.[noGrp]/a.[noNs]: wrong node kind: expected MappingNode but got SequenceNode"
    );
}
