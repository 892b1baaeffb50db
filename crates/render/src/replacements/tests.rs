//! Replacement tests; expectations captured from `kubectl kustomize` (kustomize v5.5.0).

use super::*;

use crate::test_nodes::{m, s, seq, source_configmap};

/// The probe fixture: a ConfigMap `src` (ns1) and a Deployment `dep`.
fn fixture() -> ResMap {
    let cm = source_configmap(vec![
        ("port", s("8080")),
        ("num", Node::int(42)),
        ("list", s("a,b,c")),
        ("obj", m(vec![("k", s("v"))])),
    ]);
    let c1 = m(vec![
        ("name", s("c1")),
        ("image", s("nginx:1")),
        (
            "env",
            seq(vec![
                m(vec![("name", s("PORT")), ("value", s("x"))]),
                m(vec![("name", s("HOST")), ("value", s("y"))]),
            ]),
        ),
        ("args", seq(vec![s("--a"), s("--b")])),
    ]);
    let c2 = m(vec![
        ("name", s("c2")),
        ("image", s("busybox")),
        (
            "env",
            seq(vec![m(vec![("name", s("PORT")), ("value", s("z"))])]),
        ),
    ]);
    let dep = m(vec![
        ("apiVersion", s("apps/v1")),
        ("kind", s("Deployment")),
        (
            "metadata",
            m(vec![
                ("name", s("dep")),
                ("labels", m(vec![("app", s("a"))])),
            ]),
        ),
        (
            "spec",
            m(vec![
                ("replicas", Node::int(1)),
                (
                    "template",
                    m(vec![("spec", m(vec![("containers", seq(vec![c1, c2]))]))]),
                ),
            ]),
        ),
    ]);
    let mut res = vec![Resource::new(cm, "r.yaml"), Resource::new(dep, "r.yaml")];
    // As after `namePrefix: pre-`.
    res[0].set_name("pre-src");
    res[1].set_name("pre-dep");
    res
}

/// Parses a replacement written as nodes.
fn repl(source: Node, targets: Vec<Node>) -> Replacement {
    let n = m(vec![("source", source), ("targets", seq(targets))]);
    match ReplacementEntry::parse(&n).unwrap() {
        ReplacementEntry::Inline(r) => r,
        ReplacementEntry::Path(_) => panic!("inline expected"),
    }
}

fn paths(v: &[&str]) -> Node {
    seq(v.iter().map(|p| s(p)).collect())
}

fn containers(res: &ResMap) -> &Vec<Node> {
    res[1]
        .obj
        .get_path(&["spec", "template", "spec", "containers"])
        .unwrap()
        .as_seq()
        .unwrap()
}

#[test]
fn values_keep_target_types_like_kubectl() {
    let mut res = fixture();
    let r1 = repl(
        m(vec![
            ("kind", s("ConfigMap")),
            ("name", s("src")),
            ("fieldPath", s("data.num")),
        ]),
        vec![m(vec![
            ("select", m(vec![("kind", s("Deployment"))])),
            (
                "fieldPaths",
                paths(&["spec.template.spec.containers.*.env.[name=PORT].value"]),
            ),
        ])],
    );
    let r2 = repl(
        m(vec![
            ("kind", s("ConfigMap")),
            ("name", s("src")),
            ("fieldPath", s("data.port")),
        ]),
        vec![m(vec![
            (
                "select",
                m(vec![("kind", s("Deployment")), ("name", s("dep"))]),
            ),
            (
                "fieldPaths",
                paths(&["spec.replicas", "spec.template.spec.containers.0.args.1"]),
            ),
        ])],
    );
    apply_replacements(&mut res, &[r1, r2]).unwrap();
    let c = containers(&res);
    // int 42 into a string field stays a string; "8080" into an int field stays an int.
    assert_eq!(
        c[0].get("env").unwrap().as_seq().unwrap()[0].get("value"),
        Some(&Node::string("42"))
    );
    assert_eq!(
        c[1].get("env").unwrap().as_seq().unwrap()[0].get("value"),
        Some(&Node::string("42"))
    );
    assert_eq!(
        res[1].obj.get_path(&["spec", "replicas"]),
        Some(&Node::scalar("8080", Tag::Int))
    );
    assert_eq!(
        c[0].get("args").unwrap().as_seq().unwrap()[1],
        Node::string("8080")
    );
}

#[test]
fn delimiters_create_and_default_paths() {
    let mut res = fixture();
    let opts = |d: &str, i: i64| m(vec![("delimiter", s(d)), ("index", Node::int(i))]);
    let r1 = repl(
        m(vec![
            ("kind", s("ConfigMap")),
            ("fieldPath", s("data.list")),
            ("options", opts(",", 1)),
        ]),
        vec![m(vec![
            ("select", m(vec![("kind", s("Deployment"))])),
            (
                "fieldPaths",
                paths(&["spec.template.spec.containers.1.image"]),
            ),
            ("options", opts(":", 1)),
        ])],
    );
    let create = m(vec![("create", Node::bool(true))]);
    let r2 = repl(
        m(vec![("kind", s("ConfigMap")), ("fieldPath", s("data.obj"))]),
        vec![m(vec![
            ("select", m(vec![("kind", s("Deployment"))])),
            (
                "fieldPaths",
                paths(&["spec.new.path", "metadata.labels.app"]),
            ),
            ("options", create.clone()),
        ])],
    );
    let r3 = repl(
        m(vec![("kind", s("ConfigMap"))]),
        vec![m(vec![
            ("select", m(vec![("kind", s("Deployment"))])),
            ("fieldPaths", paths(&["metadata.annotations.src"])),
            ("options", create),
        ])],
    );
    apply_replacements(&mut res, &[r1, r2, r3]).unwrap();
    assert_eq!(containers(&res)[1].str_at(&["image"]), Some("busybox:b"));
    assert_eq!(res[1].obj.str_at(&["spec", "new", "path", "k"]), Some("v"));
    // A map value into an existing scalar empties it (kubectl prints `app: ""`).
    assert_eq!(
        res[1].obj.get_path(&["metadata", "labels", "app"]),
        Some(&Node::string(""))
    );
    assert_eq!(
        res[1].obj.str_at(&["metadata", "annotations", "src"]),
        Some("pre-src")
    );
}

#[test]
fn created_scalars_resolve_as_plain_yaml() {
    let mut res = fixture();
    let r = repl(
        m(vec![
            ("kind", s("ConfigMap")),
            ("fieldPath", s("data.port")),
        ]),
        vec![m(vec![
            ("select", m(vec![("kind", s("Deployment"))])),
            ("fieldPaths", paths(&["spec.new.0.x"])),
            ("options", m(vec![("create", Node::bool(true))])),
        ])],
    );
    apply_replacements(&mut res, &[r]).unwrap();
    let x = res[1]
        .obj
        .get_path(&["spec", "new"])
        .unwrap()
        .as_seq()
        .unwrap()[0]
        .get("x")
        .unwrap();
    assert_eq!(x, &Node::scalar("8080", Tag::Int));
}

#[test]
fn error_messages_match_kubectl() {
    let target = || {
        m(vec![
            ("select", m(vec![("kind", s("Deployment"))])),
            ("fieldPaths", paths(&["spec.replicas"])),
        ])
    };
    let run = |r: Replacement| {
        apply_replacements(&mut fixture(), &[r])
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        run(repl(m(vec![("kind", s("Secret"))]), vec![target()])),
        "nothing selected by Secret.[noVer].[noGrp]/[noName].[noNs]"
    );
    assert_eq!(
        run(repl(Node::map(), vec![target()])),
        "multiple matches for selector [noKind].[noVer].[noGrp]/[noName].[noNs]"
    );
    assert_eq!(
        run(repl(m(vec![("kind", s("ConfigMap")), ("fieldPath", s("data.missing"))]), vec![target()])),
        "fieldPath `data.missing` is missing for replacement source ConfigMap.[noVer].[noGrp]/[noName].[noNs]"
    );
    let missing = m(vec![
        ("select", m(vec![("kind", s("Deployment"))])),
        ("fieldPaths", paths(&["spec.missing.x"])),
    ]);
    assert_eq!(
        run(repl(m(vec![("kind", s("ConfigMap"))]), vec![missing])),
        "unable to find field \"spec.missing.x\" in replacement target Deployment.v1.apps/pre-dep.[noNs]"
    );
    let no_select = m(vec![("fieldPaths", paths(&["spec.replicas"]))]);
    assert_eq!(
        run(repl(m(vec![("kind", s("ConfigMap"))]), vec![no_select])),
        "target must specify resources to select"
    );
    let bounds = m(vec![("delimiter", s(",")), ("index", Node::int(5))]);
    assert_eq!(
        run(repl(
            m(vec![
                ("kind", s("ConfigMap")),
                ("fieldPath", s("data.list")),
                ("options", bounds)
            ]),
            vec![target()]
        )),
        "options.index 5 is out of bounds for value a,b,c"
    );
    let only_source = Replacement {
        source: Some(SourceSelector::default()),
        targets: None,
    };
    assert_eq!(
        run(only_source),
        "replacements must specify a source and at least one target"
    );
}

#[test]
fn reject_and_namespace_selection() {
    let mut res = fixture();
    let r = repl(
        m(vec![("kind", s("ConfigMap")), ("namespace", s("ns1"))]),
        vec![m(vec![
            ("select", m(vec![("name", s("dep"))])),
            ("reject", seq(vec![m(vec![("kind", s("Deployment"))])])),
            ("fieldPaths", paths(&["spec.replicas"])),
        ])],
    );
    apply_replacements(&mut res, &[r]).unwrap();
    assert_eq!(
        res[1].obj.get_path(&["spec", "replicas"]),
        Some(&Node::int(1))
    );
}

#[test]
fn path_entries_and_documents() {
    let both = m(vec![
        ("path", s("r.yaml")),
        ("source", m(vec![("kind", s("X"))])),
    ]);
    assert_eq!(
        ReplacementEntry::parse(&both).unwrap_err().to_string(),
        "cannot specify both path and inline replacement"
    );
    assert!(
        matches!(ReplacementEntry::parse(&m(vec![("path", s("r.yaml"))])).unwrap(), ReplacementEntry::Path(p) if p == "r.yaml")
    );
    let one = m(vec![
        ("source", m(vec![("kind", s("X"))])),
        ("targets", seq(vec![])),
    ]);
    assert_eq!(Replacement::parse_document(&one).unwrap().len(), 1);
    assert_eq!(
        Replacement::parse_document(&seq(vec![one.clone(), one]))
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn parse_list_loads_path_files() {
    let dir = std::env::temp_dir().join(format!("fjord-repl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("r.yaml"),
        "- source: {kind: ConfigMap}\n  targets:\n  - select: {kind: Deployment}\n    fieldPaths: [metadata.annotations.x]\n    options: {create: true}\n",
    )
    .unwrap();
    let loader = crate::loader::Loader::new(&dir, crate::loader::LoadRestrictor::RootOnly).unwrap();
    let list = seq(vec![m(vec![("path", s("r.yaml"))])]);
    let reps = parse_list(&list, &loader).unwrap();
    assert_eq!(reps.len(), 1);
    let mut res = fixture();
    apply(&mut res, &reps).unwrap();
    assert_eq!(
        res[1].obj.str_at(&["metadata", "annotations", "x"]),
        Some("pre-src")
    );
}
