//! Generator tests; expectations captured from `kubectl kustomize` (kustomize v5.5.0).

use super::*;
use crate::loader::LoadRestrictor;
use std::path::PathBuf;

/// A scratch directory with the given files.
fn dir_with(name: &str, files: &[(&str, &[u8])]) -> PathBuf {
    let d = std::env::temp_dir().join(format!("fjord-gen-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    for (p, content) in files {
        let path = d.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    d
}

fn args(kind: GeneratorKind, name: &str) -> GeneratorArgs {
    GeneratorArgs {
        kind,
        name: name.into(),
        namespace: String::new(),
        behavior: Behavior::Create,
        literals: vec![],
        files: vec![],
        envs: vec![],
        secret_type: String::new(),
        options: None,
    }
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn gen(a: &GeneratorArgs, g: Option<&GeneratorOptions>, d: &std::path::Path) -> Resource {
    let l = Loader::new(d, LoadRestrictor::RootOnly).unwrap();
    generate(a, g, &l).unwrap()
}

#[test]
fn configmap_from_every_source_matches_kubectl() {
    let d = dir_with(
        "cm",
        &[
            ("a.env", b"A=1\n"),
            ("b.env", b"B=2\n"),
            ("s.txt", b"x<>&\xe2\x80\xa8\x08\x0c\x01\"\\\n"),
            ("sub/b.bin", b"\xff"),
        ],
    );
    let mut a = args(GeneratorKind::ConfigMap, "c1");
    a.namespace = "ns1".into();
    a.envs = s(&["b.env", "a.env"]);
    a.literals = s(&["L=1"]);
    a.files = s(&["s.txt", "sub/b.bin"]);
    let mut local = GeneratorOptions {
        immutable: true,
        ..Default::default()
    };
    local.labels.insert("both".into(), "local".into());
    let mut global = GeneratorOptions::default();
    global.labels.insert("both".into(), "global".into());
    global.annotations.insert("ga".into(), "x".into());
    a.options = Some(local);
    let r = gen(&a, Some(&global), &d);
    assert_eq!(r.obj.str_at(&["binaryData", "b.bin"]), Some("/w=="));
    assert_eq!(r.obj.str_at(&["data", "A"]), Some("1"));
    assert_eq!(r.obj.str_at(&["metadata", "labels", "both"]), Some("local"));
    assert_eq!(r.obj.str_at(&["metadata", "annotations", "ga"]), Some("x"));
    assert_eq!(r.obj.str_at(&["immutable"]), Some("true"));
    let mut rm = vec![r];
    apply_hash_suffixes(&mut rm).unwrap();
    assert_eq!(rm[0].name(), "c1-9g7m9kfk4c");
    assert_eq!(rm[0].prev_ids[0].name, "c1");
}

#[test]
fn secret_from_files_matches_kubectl() {
    let d = dir_with(
        "sec",
        &[
            ("s.txt", b"x<>&\xe2\x80\xa8\x08\x0c\x01\"\\\n"),
            ("sub/b.bin", b"\xff"),
        ],
    );
    let mut a = args(GeneratorKind::Secret, "s1");
    a.files = s(&["s.txt", "sub/b.bin"]);
    a.options = Some(GeneratorOptions {
        immutable: true,
        ..Default::default()
    });
    let mut rm = vec![gen(&a, None, &d)];
    assert_eq!(
        rm[0].obj.str_at(&["data", "s.txt"]),
        Some("eDw+JuKAqAgMASJcCg==")
    );
    assert_eq!(rm[0].obj.str_at(&["type"]), Some("Opaque"));
    apply_hash_suffixes(&mut rm).unwrap();
    assert_eq!(rm[0].name(), "s1-k556bkdk69");
}

#[test]
fn empty_secret_has_empty_data_and_empty_configmap_none() {
    let d = dir_with("empty", &[]);
    let sec = gen(&args(GeneratorKind::Secret, "s0"), None, &d);
    assert_eq!(sec.obj.get("data"), Some(&Node::map()));
    let cm = gen(&args(GeneratorKind::ConfigMap, "c"), None, &d);
    assert!(cm.obj.get("data").is_none());
    let mut rm = vec![cm];
    apply_hash_suffixes(&mut rm).unwrap();
    assert_eq!(rm[0].name(), "c-6ct58987ht");
}

#[test]
fn disabled_hash_keeps_name() {
    let d = dir_with("nohash", &[]);
    let mut a = args(GeneratorKind::ConfigMap, "b");
    a.options = Some(GeneratorOptions {
        disable_name_suffix_hash: true,
        ..Default::default()
    });
    let mut rm = vec![gen(&a, None, &d)];
    apply_hash_suffixes(&mut rm).unwrap();
    assert_eq!(rm[0].name(), "b");
}

#[test]
fn generation_errors_match_kubectl() {
    let d = dir_with("errs", &[("f.txt", b"hello"), ("dir/x", b"")]);
    let l = Loader::new(&d, LoadRestrictor::RootOnly).unwrap();
    let mut a = args(GeneratorKind::Secret, "x");
    a.literals = s(&["a=1", "a=2"]);
    assert_eq!(
        generate(&a, None, &l).unwrap_err().to_string(),
        "configmap x illegally repeats the key `a`"
    );
    a.literals = s(&["=1"]);
    assert_eq!(
        generate(&a, None, &l).unwrap_err().to_string(),
        "loading KV pairs: literal sources [=1]: invalid literal source =1, expected key=value"
    );
    a.literals = vec![];
    a.files = s(&["dir"]);
    let e = generate(&a, None, &l).unwrap_err().to_string();
    assert!(
        e.starts_with("loading KV pairs: file sources: [dir]: '")
            && e.ends_with("/dir' must resolve to a file"),
        "{e}"
    );
    a.files = s(&["f.txt"]);
    a.literals = s(&["f.txt=2"]);
    assert_eq!(
        generate(&a, None, &l).unwrap_err().to_string(),
        "configmap x illegally repeats the key `f.txt`"
    );
    let a = args(GeneratorKind::Secret, "");
    assert_eq!(
        generate(&a, None, &l).unwrap_err().to_string(),
        "a configmap must have a name"
    );
}

fn cm(name: &str, data: &[(&str, &str)], hash: Option<bool>) -> Resource {
    let mut o = Node::map();
    let m = o.as_map_mut().unwrap();
    m.insert("apiVersion".into(), Node::string("v1"));
    m.insert("kind".into(), Node::string("ConfigMap"));
    let mut md = Node::map();
    md.as_map_mut()
        .unwrap()
        .insert("name".into(), Node::string(name));
    m.insert("metadata".into(), md);
    let mut dm = Node::map();
    for (k, v) in data {
        dm.as_map_mut()
            .unwrap()
            .insert((*k).into(), Node::string(*v));
    }
    m.insert("data".into(), dm);
    let mut r = Resource::new(o, "test");
    r.generated = hash.map(|h| Generated {
        behavior: Behavior::Create,
        hash_suffix: h,
    });
    r
}

fn with_behavior(mut r: Resource, b: Behavior) -> Resource {
    if let Some(g) = r.generated.as_mut() {
        g.behavior = b;
    }
    r
}

#[test]
fn merge_and_replace_follow_kubectl() {
    let mut rm = vec![
        cm("a", &[("x", "1")], Some(true)),
        cm("b", &[("x", "1")], Some(true)),
    ];
    rm[0]
        .obj
        .ensure_map_path(&["metadata", "labels"])
        .unwrap()
        .insert("l1".into(), Node::string("base"));
    add_generated(
        &mut rm,
        with_behavior(cm("a", &[("y", "2")], Some(true)), Behavior::Merge),
    )
    .unwrap();
    add_generated(
        &mut rm,
        with_behavior(cm("b", &[("y", "2")], Some(true)), Behavior::Replace),
    )
    .unwrap();
    assert_eq!(rm.len(), 2);
    assert_eq!(rm[0].obj.str_at(&["data", "x"]), Some("1"));
    assert_eq!(
        rm[0].obj.str_at(&["metadata", "labels", "l1"]),
        Some("base")
    );
    assert!(rm[1].obj.str_at(&["data", "x"]).is_none());
    apply_hash_suffixes(&mut rm).unwrap();
    assert_eq!(rm[0].name(), "a-gc87g97b68");
    assert_eq!(rm[1].name(), "b-786c7hbck9");
}

#[test]
fn merged_object_is_hashed_only_when_both_sides_want_it() {
    // old hashed + new disabled, old disabled + new hashed, plain resource + new hashed.
    let mut rm = vec![
        cm("a", &[("x", "1")], Some(true)),
        cm("b", &[("x", "1")], Some(false)),
        cm("c", &[("x", "1")], None),
    ];
    add_generated(
        &mut rm,
        with_behavior(cm("a", &[("y", "2")], Some(false)), Behavior::Merge),
    )
    .unwrap();
    add_generated(
        &mut rm,
        with_behavior(cm("b", &[("y", "2")], Some(true)), Behavior::Merge),
    )
    .unwrap();
    add_generated(
        &mut rm,
        with_behavior(cm("c", &[("y", "2")], Some(true)), Behavior::Merge),
    )
    .unwrap();
    apply_hash_suffixes(&mut rm).unwrap();
    let names: Vec<&str> = rm.iter().map(|r| r.name()).collect();
    assert_eq!(names, ["a", "b", "c"]);
}

#[test]
fn merge_matches_earlier_names_and_keeps_current_one() {
    let mut base = cm("a", &[("x", "1")], Some(true));
    base.set_name("pre-a");
    let mut rm = vec![base];
    add_generated(
        &mut rm,
        with_behavior(cm("a", &[("y", "2")], Some(true)), Behavior::Merge),
    )
    .unwrap();
    assert_eq!(rm[0].name(), "pre-a");
    assert_eq!(rm[0].prev_ids[0].name, "a");
}

#[test]
fn behavior_errors_match_kubectl() {
    let mut rm = vec![];
    let e = add_generated(
        &mut rm,
        with_behavior(cm("x", &[], Some(true)), Behavior::Merge),
    )
    .unwrap_err();
    assert!(e.to_string().ends_with(
        "id resid.ResId{Gvk:resid.Gvk{Group:\"\", Version:\"v1\", Kind:\"ConfigMap\", isClusterScoped:false}, Name:\"x\", Namespace:\"\"} does not exist; cannot merge or replace"
    ), "{e}");
    let mut existing = cm("x", &[], None);
    existing
        .obj
        .ensure_map_path(&["metadata"])
        .unwrap()
        .insert("namespace".into(), Node::string("default"));
    let mut rm = vec![existing];
    let e = add_generated(&mut rm, cm("x", &[], Some(true))).unwrap_err();
    assert!(
        e.to_string()
            .ends_with("exists; behavior must be merge or replace"),
        "{e}"
    );
}
