//! Patch glue tests; expected results come from `kubectl kustomize` v5.5.0 runs.

use super::*;
use crate::loader::LoadRestrictor;
use crate::resource::{ResMap, Resource};
use fjord_merge::Schema;
use std::path::PathBuf;

fn yaml(text: &str) -> Node {
    fjord_yaml::parse_document(text.as_bytes()).expect("test yaml")
}

fn resources(text: &str) -> ResMap {
    fjord_yaml::parse_documents(text.as_bytes())
        .expect("test yaml")
        .into_iter()
        .map(|d| Resource::new(d, "r.yaml"))
        .collect()
}

/// A scratch directory with the given files, and a loader on it.
fn dir(test: &str, files: &[(&str, &str)]) -> Loader {
    let d: PathBuf =
        std::env::temp_dir().join(format!("fjord-patch-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&d).expect("mkdir");
    for (name, body) in files {
        std::fs::write(d.join(name), body).expect("write");
    }
    Loader::new(&d, LoadRestrictor::RootOnly).expect("loader")
}

/// Every patch of a kustomization text, in the order `patchesStrategicMerge`, `patches`,
/// `patchesJson6902`.
fn parse_all(kust: &Node, loader: &Loader) -> Result<Vec<PatchSpec>, PatchError> {
    type Parse = fn(&Node) -> Result<PatchEntry, EntryError>;
    let fields: [(&str, Parse); 3] = [
        ("patchesStrategicMerge", PatchEntry::parse_strategic_merge),
        ("patches", PatchEntry::parse),
        ("patchesJson6902", PatchEntry::parse_json6902),
    ];
    let mut out = Vec::new();
    for (field, parse) in fields {
        for e in kust.get(field).and_then(Node::as_seq).into_iter().flatten() {
            out.push(parse(e)?.load(loader)?);
        }
    }
    Ok(out)
}

fn run(res: &mut ResMap, kust: &str, loader: &Loader) -> Result<(), PatchError> {
    let specs = parse_all(&yaml(kust), loader)?;
    apply_patches(res, &specs, Schema::builtin())
}

const RES: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, tier: fe}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web2
  namespace: ns1
  labels: {app: web2}
---
apiVersion: v1
kind: Service
metadata:
  name: websvc
";

#[test]
fn smp_without_target_merges_with_kustomize_order() {
    let l = dir("order", &[(
        "p.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: c\n        image: c2\n",
    )]);
    let mut res = resources(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - {name: a, image: a}\n      - {name: b, image: b}\n      - {name: c, image: c}\n",
    );
    run(&mut res, "patches:\n- path: p.yaml\n", &l).unwrap();
    let expected = yaml(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - {name: c, image: c2}\n      - {name: a, image: a}\n      - {name: b, image: b}\n",
    );
    assert_eq!(res[0].obj, expected);
}

#[test]
fn smp_name_and_kind_changes_need_options() {
    let l = dir("names", &[]);
    let patch = "  patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata: {name: whatever, namespace: zz, annotations: {x: \"1\"}}\n";
    // Without options the name, kind and namespace stay (kustomize keeps them silently).
    let mut res = resources(RES);
    run(
        &mut res,
        &format!("patches:\n- target: {{name: \"web.*\"}}\n{patch}"),
        &l,
    )
    .unwrap();
    let names: Vec<&str> = res.iter().map(|r| r.name()).collect();
    assert_eq!(names, ["web", "web2", "websvc"]);
    assert_eq!(res[2].kind(), "Service");
    assert_eq!(res[1].namespace(), "ns1");
    assert!(res
        .iter()
        .all(|r| r.obj.str_at(&["metadata", "annotations", "x"]) == Some("1")));
    assert!(res.iter().all(|r| r.prev_ids.is_empty()));
    // allowNameChange renames every match and records the old id.
    let mut res = resources(RES);
    let kust = format!(
        "patches:\n- target: {{name: \"web.*\"}}\n  options: {{allowNameChange: true}}\n{patch}"
    );
    run(&mut res, &kust, &l).unwrap();
    assert!(res.iter().all(|r| r.name() == "whatever"));
    assert_eq!(res[0].prev_ids[0].name, "web");
    // allowKindChange turns the Service into a Deployment but keeps its name.
    let mut res = resources(RES);
    let kust = format!(
        "patches:\n- target: {{kind: Service}}\n  options: {{allowKindChange: true}}\n{patch}"
    );
    run(&mut res, &kust, &l).unwrap();
    assert_eq!((res[2].kind(), res[2].name()), ("Deployment", "websvc"));
    assert_eq!(res[2].obj.str_at(&["apiVersion"]), Some("v1"));
}

#[test]
fn smp_target_matching_nothing_is_fine_but_untargeted_miss_is_an_error() {
    let l = dir("miss", &[]);
    let mut res = resources(RES);
    let kust = "patches:\n- target: {kind: Deployment, name: we}\n  patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata: {name: x, annotations: {x: \"1\"}}\n";
    run(&mut res, kust, &l).unwrap();
    assert!(res
        .iter()
        .all(|r| r.obj.get_path(&["metadata", "annotations"]).is_none()));
    let kust = "patches:\n- patch: |-\n    apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: nomatch\n";
    let e = run(&mut res, kust, &l).unwrap_err();
    assert_eq!(
        e.to_string(),
        "inline patch: no resource matches strategic merge patch \"ConfigMap.v1.[noGrp]/nomatch.[noNs]\": no matches for Id ConfigMap.v1.[noGrp]/nomatch.[noNs]; failed to find unique target for patch ConfigMap.v1.[noGrp]/nomatch.[noNs]"
    );
    let kust = "patchesStrategicMerge:\n- |-\n  apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: nomatch}\n";
    let e = run(&mut res, kust, &l).unwrap_err();
    assert_eq!(
        e.to_string(),
        "inline patch: no matches for Id Deployment.v1.apps/nomatch.[noNs]; failed to find unique target for patch Deployment.v1.apps/nomatch.[noNs]"
    );
}

#[test]
fn multi_document_patch_file_and_top_level_delete() {
    let l = dir("delete", &[(
        "p.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: websvc\n  labels: {x: y}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n$patch: delete\n",
    )]);
    let mut res = resources(RES);
    run(&mut res, "patchesStrategicMerge:\n- p.yaml\n", &l).unwrap();
    let names: Vec<&str> = res.iter().map(|r| r.name()).collect();
    assert_eq!(names, ["web2", "websvc"]);
    assert_eq!(res[1].obj.str_at(&["metadata", "labels", "x"]), Some("y"));
}

#[test]
fn json_patch_with_label_selector_renames() {
    // probe: labelSelector "app in (web,web2),tier!=fe" selects web2 only; JSON patches may
    // rename without options.
    let l = dir("json", &[]);
    let mut res = resources(RES);
    let kust = "patches:\n- target: {labelSelector: \"app in (web,web2),tier!=fe\"}\n  patch: |-\n    - op: add\n      path: /metadata/annotations\n      value: {x: \"2\"}\n    - op: replace\n      path: /metadata/name\n      value: renamed\n";
    run(&mut res, kust, &l).unwrap();
    assert_eq!(res[1].name(), "renamed");
    assert_eq!(res[1].prev_ids[0].name, "web2");
    assert_eq!(
        res[1].obj.str_at(&["metadata", "annotations", "x"]),
        Some("2")
    );
    assert_eq!(res[0].name(), "web");
}

#[test]
fn json_patch_quirks_match_kustomize() {
    // probe: add under a missing annotations map works (kustomize keeps internal annotations
    // there); integers are re-read from JSON; a missing parent is an error naming the path.
    let l = dir(
        "jsonq",
        &[(
            "ops.json",
            r#"[{"op": "add", "path": "/metadata/annotations/zz", "value": "v"}, {"op": "add", "path": "/metadata/arr", "value": [1, 0x1F]}]"#,
        )],
    );
    let mut res = resources(RES);
    run(
        &mut res,
        "patchesJson6902:\n- target: {kind: Service, name: websvc}\n  path: ops.json\n",
        &l,
    )
    .unwrap();
    assert_eq!(
        res[2].obj.str_at(&["metadata", "annotations", "zz"]),
        Some("v")
    );
    let arr = res[2]
        .obj
        .get_path(&["metadata", "arr"])
        .unwrap()
        .as_seq()
        .unwrap();
    assert_eq!(arr[1].as_str(), Some("31"));
    // a JSON patch that leaves no annotations does not add an empty map
    let mut res = resources(RES);
    let kust = "patches:\n- target: {kind: Service}\n  patch: |-\n    - op: add\n      path: /spec\n      value: {a: 1}\n";
    run(&mut res, kust, &l).unwrap();
    assert!(res[2].obj.get_path(&["metadata", "annotations"]).is_none());
    let kust = "patches:\n- target: {kind: Service}\n  patch: |-\n    - op: add\n      path: /spec/x/y\n      value: 1\n";
    let e = run(&mut resources(RES), kust, &l).unwrap_err();
    let text = fjord_model::chain(&e);
    assert!(
        text.contains("add operation does not apply: doc is missing path: \"/spec/x/y\""),
        "{text}"
    );
}

#[test]
fn entry_errors() {
    let l = dir("errors", &[]);
    let e = run(
        &mut resources(RES),
        "patches:\n- patch: |-\n    - op: add\n      path: /a\n      value: 1\n",
        &l,
    )
    .unwrap_err();
    assert!(matches!(e, PatchError::JsonWithoutTarget { .. }), "{e}");
    let e = run(
        &mut resources(RES),
        "patches:\n- target: {kind: Service}\n",
        &l,
    )
    .unwrap_err();
    assert!(matches!(
        e,
        PatchError::Entry(EntryError::NoPatchOrPath { .. })
    ));
    let e = run(
        &mut resources(RES),
        "patches:\n- path: x.yaml\n  patch: \"a: b\"\n",
        &l,
    )
    .unwrap_err();
    assert!(matches!(
        e,
        PatchError::Entry(EntryError::PatchAndPath { .. })
    ));
    let e = run(
        &mut resources(RES),
        "patches:\n- target: {kind: Service}\n  patch: hello\n",
        &l,
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "unable to parse SM or JSON patch from hello");
    let e = run(&mut resources(RES), "patches:\n- path: missing.yaml\n", &l).unwrap_err();
    assert!(matches!(e, PatchError::Load(_)));
    let e = run(
        &mut resources(RES),
        "patches:\n- target: {labelSelector: \"app in web\"}\n  patch: \"a: b\"\n",
        &l,
    )
    .unwrap_err();
    let text = fjord_model::chain(&e);
    assert!(text.contains("found 'web' expected: '('"), "{text}");
}
