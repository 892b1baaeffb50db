//! Vars tests; expectations captured from `kubectl kustomize` (kustomize v5.5.0).

use super::*;

use crate::test_nodes::{m, s, source_configmap};

fn fixture() -> ResMap {
    let cm = source_configmap(vec![
        ("port", s("8080")),
        ("num", Node::int(42)),
        ("obj", m(vec![("k", s("v"))])),
    ]);
    let command = [
        "$(NAME)",
        "x$(PORT)y$(NAME)",
        "$(UNKNOWN)",
        "$$(NAME)",
        "$(OBJ)",
        "$(NUM)",
    ];
    let c1 = m(vec![
        ("name", s("c1")),
        ("image", s("nginx:$(NUM)")),
        ("command", Node::Seq(command.iter().map(|c| s(c)).collect())),
        (
            "env",
            Node::Seq(vec![m(vec![("name", s("PORT")), ("value", s("$(PORT)"))])]),
        ),
    ]);
    let dep = m(vec![
        ("apiVersion", s("apps/v1")),
        ("kind", s("Deployment")),
        ("metadata", m(vec![("name", s("dep"))])),
        (
            "spec",
            m(vec![(
                "template",
                m(vec![("spec", m(vec![("containers", Node::Seq(vec![c1]))]))]),
            )]),
        ),
    ]);
    vec![Resource::new(cm, "r.yaml"), Resource::new(dep, "r.yaml")]
}

fn var(name: &str, api: &str, kind: &str, obj: &str, path: &str) -> Var {
    let mut objref = vec![("kind", s(kind)), ("name", s(obj))];
    if !api.is_empty() {
        objref.push(("apiVersion", s(api)));
    }
    let mut n = vec![("name", s(name)), ("objref", m(objref))];
    if !path.is_empty() {
        n.push(("fieldref", m(vec![("fieldpath", s(path))])));
    }
    Var::parse(&m(n)).unwrap()
}

fn var_refs() -> Vec<FieldSpec> {
    vec![
        FieldSpec::new("Deployment", "spec/template/spec/containers/command", false),
        FieldSpec::new(
            "Deployment",
            "spec/template/spec/containers/env/value",
            false,
        ),
    ]
}

#[test]
fn substitutes_like_kubectl() {
    let mut res = fixture();
    let mut set = Vec::new();
    let vars = [
        var("NAME", "v1", "ConfigMap", "src", ""),
        var("PORT", "v1", "ConfigMap", "src", "data.port"),
        var("NUM", "v1", "ConfigMap", "src", "data.num"),
        var("OBJ", "v1", "ConfigMap", "src", "data.obj"),
    ];
    bind(&mut set, &vars, &res).unwrap();
    res[0].set_name("pre-src");
    let unused = resolve(&mut res, &set, &var_refs()).unwrap();
    assert_eq!(unused, ["OBJ"]);
    let c = &res[1]
        .obj
        .get_path(&["spec", "template", "spec", "containers"])
        .unwrap()
        .as_seq()
        .unwrap()[0];
    let cmd = c.get("command").unwrap().as_seq().unwrap();
    let want = [
        s("pre-src"),
        s("x8080ypre-src"),
        s("$(UNKNOWN)"),
        s("$(NAME)"),
        s("$(OBJ)"),
        Node::int(42),
    ];
    assert_eq!(cmd.as_slice(), &want);
    assert_eq!(c.str_at(&["image"]), Some("nginx:$(NUM)"));
    assert_eq!(
        c.get("env").unwrap().as_seq().unwrap()[0].get("value"),
        Some(&s("8080"))
    );
}

#[test]
fn errors_match_kubectl() {
    let res = fixture();
    let mut set = Vec::new();
    let dup = [
        var("NAME", "v1", "ConfigMap", "src", ""),
        var("NAME", "v1", "ConfigMap", "src", ""),
    ];
    assert_eq!(
        bind(&mut set, &dup, &res).unwrap_err().to_string(),
        "merging vars [{NAME ConfigMap.[noVer].[noGrp] {}} {NAME ConfigMap.[noVer].[noGrp] {}}]: var 'NAME' already encountered"
    );
    let run = |v: Var| {
        let mut res = fixture();
        let mut set = Vec::new();
        bind(&mut set, &[v], &res).unwrap();
        resolve(&mut res, &set, &var_refs())
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        run(var("NAME", "v1", "ConfigMap", "nope", "")),
        "var '{NAME ConfigMap.v1.[noGrp] {metadata.name}}' cannot be mapped to a field in the set of known resources"
    );
    assert_eq!(
        run(var("NAME", "v1", "ConfigMap", "src", "data.missing")),
        "field specified in var '{NAME ConfigMap.v1.[noGrp] {data.missing}}' not found in corresponding resource"
    );
    // Without apiVersion the version is empty and must match exactly: nothing is bound.
    assert_eq!(
        run(var("PORT", "", "Deployment", "dep", "spec.replicas")),
        "var '{PORT Deployment.[noVer].[noGrp] {spec.replicas}}' cannot be mapped to a field in the set of known resources"
    );
}

#[test]
fn bracket_indexes_and_base_merging() {
    let mut res = fixture();
    let mut base = Vec::new();
    let v = var(
        "NAME",
        "apps/v1",
        "Deployment",
        "dep",
        "spec.template.spec.containers[0].name",
    );
    bind(&mut base, &[v], &res).unwrap();
    let mut top = Vec::new();
    merge(&mut top, base.clone()).unwrap();
    assert_eq!(
        merge(&mut top, base).unwrap_err().to_string(),
        "var 'NAME' already encountered"
    );
    resolve(&mut res, &top, &var_refs()).unwrap();
    let c = &res[1]
        .obj
        .get_path(&["spec", "template", "spec", "containers"])
        .unwrap()
        .as_seq()
        .unwrap()[0];
    assert_eq!(c.get("command").unwrap().as_seq().unwrap()[0], s("c1"));
}

#[test]
fn expansion_rules() {
    let mut map = |n: &str| (n == "A").then(|| "1".to_string());
    assert_eq!(expand("$(A)-$(B)-$$-$x-$(", &mut map), "1-$(B)-$-$x-$(");
    assert_eq!(expand("end$", &mut map), "end$");
}

#[test]
fn vars_merged_without_binding_are_matched_at_resolve() {
    let mut res = fixture();
    let list = Node::Seq(vec![m(vec![
        ("name", s("NAME")),
        (
            "objref",
            m(vec![
                ("kind", s("ConfigMap")),
                ("name", s("src")),
                ("apiVersion", s("v1")),
            ]),
        ),
    ])]);
    let vars = parse_list(&list).unwrap();
    let mut all = Vec::new();
    merge(&mut all, vars).unwrap();
    res[0].set_name("late-src");
    resolve(&mut res, &all, &var_refs()).unwrap();
    let c = &res[1]
        .obj
        .get_path(&["spec", "template", "spec", "containers"])
        .unwrap()
        .as_seq()
        .unwrap()[0];
    assert_eq!(
        c.get("command").unwrap().as_seq().unwrap()[0],
        s("late-src")
    );
}
