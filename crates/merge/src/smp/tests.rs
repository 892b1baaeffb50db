//! Strategic-merge tests. Expected outputs of the kustomize flavor come from
//! `kubectl kustomize` v5.5.0 runs on the same inputs.

use super::*;
use crate::testjson::j;

fn deploy(spec: &str) -> Node {
    j(&format!(
        r#"{{"apiVersion":"apps/v1","kind":"Deployment","metadata":{{"name":"web"}},"spec":{spec}}}"#
    ))
}

fn pod_spec(n: &Node) -> &Node {
    n.get_path(&["spec", "template", "spec"]).expect("pod spec")
}

fn names(list: &Node) -> Vec<String> {
    list.as_seq()
        .expect("list")
        .iter()
        .map(|e| {
            e.as_str()
                .or_else(|| e.str_at(&["name"]))
                .unwrap_or("?")
                .to_string()
        })
        .collect()
}

fn run(target: &mut Node, patch: &Node, flavor: Flavor) -> Outcome {
    apply(target, patch, Schema::builtin(), flavor).expect("patch applies")
}

#[test]
fn kustomize_puts_patch_elements_first() {
    // probe: containers [a,b,c,d] + patch [d,x,b] → d,x,b,a,c; finalizers likewise
    let mut t = deploy(
        r#"{"template":{"spec":{"containers":[{"name":"a","image":"a"},{"name":"b","image":"b"},{"name":"c","image":"c"},{"name":"d","image":"d"}]}}}"#,
    );
    t.get_mut("metadata")
        .unwrap()
        .as_map_mut()
        .unwrap()
        .insert("finalizers".into(), j(r#"["a","b","c","d"]"#));
    let p = deploy(
        r#"{"template":{"spec":{"containers":[{"name":"d","image":"d2"},{"name":"x","image":"x"},{"name":"b","image":"b2"}]}}}"#,
    );
    let mut p = p;
    p.get_mut("metadata")
        .unwrap()
        .as_map_mut()
        .unwrap()
        .insert("finalizers".into(), j(r#"["d","x","b"]"#));
    assert_eq!(run(&mut t, &p, Flavor::Kustomize), Outcome::Patched);
    let c = pod_spec(&t).get("containers").unwrap();
    assert_eq!(names(c), ["d", "x", "b", "a", "c"]);
    assert_eq!(c.as_seq().unwrap()[0].str_at(&["image"]), Some("d2"));
    assert_eq!(c.as_seq().unwrap()[3].str_at(&["image"]), Some("a"));
    assert_eq!(
        names(t.get_path(&["metadata", "finalizers"]).unwrap()),
        ["d", "x", "b", "a", "c"]
    );
}

#[test]
fn kustomize_single_changed_element_moves_first() {
    // probe: [a,b,c,d] + patch [c] → c,a,b,d
    let mut t = deploy(
        r#"{"template":{"spec":{"containers":[{"name":"a"},{"name":"b"},{"name":"c"},{"name":"d"}]}}}"#,
    );
    let p = deploy(r#"{"template":{"spec":{"containers":[{"name":"c","image":"c2"}]}}}"#);
    run(&mut t, &p, Flavor::Kustomize);
    assert_eq!(
        names(pod_spec(&t).get("containers").unwrap()),
        ["c", "a", "b", "d"]
    );
}

#[test]
fn kustomize_nested_env_and_ports() {
    // probe p1: env [X,Y] + [Z,X] → Z,X,Y ; ports [80,81] + [82] → 82,80,81 (no protocol)
    let mut t = deploy(
        r#"{"template":{"spec":{"containers":[{"name":"a","image":"a","env":[{"name":"X","value":"1"},{"name":"Y","value":"2"}],"ports":[{"containerPort":80},{"containerPort":81}]},{"name":"b"}],"tolerations":[{"key":"k1"},{"key":"k2"}],"volumes":[{"name":"v1","emptyDir":{}}]}}}"#,
    );
    let p = deploy(
        r#"{"template":{"spec":{"containers":[{"name":"c","image":"c"},{"name":"a","image":"a2","env":[{"name":"Z","value":"3"},{"name":"X","value":"9"}],"ports":[{"containerPort":82}]}],"tolerations":[{"key":"k3"}],"volumes":[{"name":"v0","emptyDir":{}}]}}}"#,
    );
    run(&mut t, &p, Flavor::Kustomize);
    let ps = pod_spec(&t);
    assert_eq!(names(ps.get("containers").unwrap()), ["c", "a", "b"]);
    let a = &ps.get("containers").unwrap().as_seq().unwrap()[1];
    assert_eq!(names(a.get("env").unwrap()), ["Z", "X", "Y"]);
    assert_eq!(
        a.get("env").unwrap().as_seq().unwrap()[1].str_at(&["value"]),
        Some("9")
    );
    let ports: Vec<&str> = a
        .get("ports")
        .unwrap()
        .as_seq()
        .unwrap()
        .iter()
        .filter_map(|p| p.str_at(&["containerPort"]))
        .collect();
    assert_eq!(ports, ["82", "80", "81"]);
    assert_eq!(ps.get("tolerations").unwrap(), &j(r#"[{"key":"k3"}]"#));
    assert_eq!(names(ps.get("volumes").unwrap()), ["v0", "v1"]);
}

#[test]
fn kustomize_multi_key_ports_keep_target_order() {
    // probe pA: [80/TCP,81/TCP,80/UDP] + [81/TCP name y, 90] → 90, 80/TCP, 81/TCP y, 80/UDP
    let mut t = j(
        r#"{"apiVersion":"v1","kind":"Pod","spec":{"containers":[{"name":"a","ports":[{"containerPort":80,"protocol":"TCP"},{"containerPort":81,"protocol":"TCP"},{"containerPort":80,"protocol":"UDP"}]}]}}"#,
    );
    let p = j(
        r#"{"apiVersion":"v1","kind":"Pod","spec":{"containers":[{"name":"a","ports":[{"containerPort":81,"protocol":"TCP","name":"y"},{"containerPort":90}]}]}}"#,
    );
    run(&mut t, &p, Flavor::Kustomize);
    let ports = t
        .get_path(&["spec", "containers"])
        .unwrap()
        .as_seq()
        .unwrap()[0]
        .get("ports")
        .unwrap()
        .clone();
    assert_eq!(
        ports,
        j(
            r#"[{"containerPort":90},{"containerPort":80,"protocol":"TCP"},{"containerPort":81,"protocol":"TCP","name":"y"},{"containerPort":80,"protocol":"UDP"}]"#
        )
    );
    // a patch port lacking `protocol` that matches a target port on containerPort is dropped
    let p = j(
        r#"{"apiVersion":"v1","kind":"Pod","spec":{"containers":[{"name":"a","ports":[{"containerPort":80,"name":"x"}]}]}}"#,
    );
    let before = t.clone();
    run(&mut t, &p, Flavor::Kustomize);
    assert_eq!(t, before);
}

#[test]
fn kustomize_service_ports_merge_in_place() {
    // probe pB
    let mut t = j(
        r#"{"apiVersion":"v1","kind":"Service","spec":{"ports":[{"port":80,"name":"a"},{"port":81,"name":"b","protocol":"UDP"},{"port":82,"name":"c"}]}}"#,
    );
    let p = j(
        r#"{"apiVersion":"v1","kind":"Service","spec":{"ports":[{"port":81,"protocol":"UDP","targetPort":9},{"port":80,"targetPort":8}]}}"#,
    );
    run(&mut t, &p, Flavor::Kustomize);
    assert_eq!(
        t.get_path(&["spec", "ports"]).unwrap(),
        &j(
            r#"[{"port":80,"name":"a","targetPort":8},{"port":81,"name":"b","protocol":"UDP","targetPort":9},{"port":82,"name":"c"}]"#
        )
    );
}

#[test]
fn kustomize_keeps_apimachinery_directives_as_keys() {
    // probe p3: $retainKeys/$setElementOrder/$deleteFromPrimitiveList are plain keys to kyaml
    let mut t = deploy(
        r#"{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1}},"template":{"spec":{"containers":[{"name":"a","env":[{"name":"A","value":"a"},{"name":"B","value":"b"},{"name":"C","value":"c"}]},{"name":"b"},{"name":"c"}]}}}"#,
    );
    let p = deploy(
        r#"{"strategy":{"$retainKeys":["type"],"type":"Recreate"},"template":{"spec":{"$setElementOrder/containers":[{"name":"c"},{"name":"a"}],"containers":[{"name":"a","env":[{"name":"B","$patch":"delete"},{"name":"C","value":null}]},{"name":"b","$patch":"delete"}]}}}"#,
    );
    run(&mut t, &p, Flavor::Kustomize);
    assert_eq!(
        t.str_at(&["spec", "strategy", "rollingUpdate", "maxSurge"]),
        Some("1")
    );
    assert!(t.get_path(&["spec", "strategy", "$retainKeys"]).is_some());
    let ps = pod_spec(&t);
    assert!(ps.get("$setElementOrder/containers").is_some());
    assert_eq!(names(ps.get("containers").unwrap()), ["a", "c"]);
    let env = ps.get("containers").unwrap().as_seq().unwrap()[0]
        .get("env")
        .unwrap();
    assert_eq!(env, &j(r#"[{"name":"C"},{"name":"A","value":"a"}]"#));
}

#[test]
fn directives_on_maps_and_lists() {
    // probe pA/pC: $patch replace on a map, delete on a map, replace on a list, null fields,
    // an empty patch list for a merged list keeps the target.
    let mut t = deploy(
        r#"{"template":{"spec":{"securityContext":{"runAsUser":1,"fsGroup":2},"affinity":{"nodeAffinity":{}},"dnsConfig":{"searches":["a"]},"containers":[{"name":"a"},{"name":"b"}],"initContainers":[{"name":"i"}],"volumes":[{"name":"v1"}],"tolerations":[{"key":"t"}]}}}"#,
    );
    let p = deploy(
        r#"{"template":{"spec":{"securityContext":{"$patch":"replace","runAsGroup":3},"affinity":null,"dnsConfig":{"$patch":"delete"},"containers":[{"$patch":"replace"},{"name":"z","image":"z"}],"initContainers":null,"volumes":[],"tolerations":[]}}}"#,
    );
    run(&mut t, &p, Flavor::Kustomize);
    let ps = pod_spec(&t);
    assert_eq!(
        ps.get("securityContext").unwrap(),
        &j(r#"{"runAsGroup":3}"#)
    );
    assert!(
        ps.get("affinity").is_none()
            && ps.get("dnsConfig").is_none()
            && ps.get("initContainers").is_none()
    );
    assert_eq!(
        ps.get("containers").unwrap(),
        &j(r#"[{"name":"z","image":"z"}]"#)
    );
    assert_eq!(ps.get("volumes").unwrap(), &j(r#"[{"name":"v1"}]"#));
    assert_eq!(ps.get("tolerations").unwrap(), &j("[]"));
}

#[test]
fn kustomize_treats_fields_newer_than_1_21_as_unknown() {
    // probe pC: schedulingGates [g1] + [g2] → [g2] under kustomize; merged by the server.
    let t0 = deploy(r#"{"template":{"spec":{"schedulingGates":[{"name":"g1"}]}}}"#);
    let p = deploy(r#"{"template":{"spec":{"schedulingGates":[{"name":"g2"}]}}}"#);
    let mut t = t0.clone();
    run(&mut t, &p, Flavor::Kustomize);
    assert_eq!(names(pod_spec(&t).get("schedulingGates").unwrap()), ["g2"]);
    let mut t = t0;
    run(&mut t, &p, Flavor::ApiMachinery);
    assert_eq!(
        names(pod_spec(&t).get("schedulingGates").unwrap()),
        ["g2", "g1"]
    );
}

#[test]
fn new_content_drops_nulls_and_unknown_kinds_replace_lists() {
    // probe pD / p2
    let mut t =
        j(r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"web"},"data":{"a":"1"}}"#);
    let p = j(
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"web","annotations":{"x":null,"y":"2"},"labels":{"l":null}},"data":{"b":null,"c":{"d":null,"e":1}},"list":[{"a":null,"b":2}]}"#,
    );
    run(&mut t, &p, Flavor::Kustomize);
    assert_eq!(
        t,
        j(
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"web","annotations":{"y":"2"},"labels":{}},"data":{"a":"1","c":{"e":1}},"list":[{"a":null,"b":2}]}"#
        )
    );
    let mut t = j(
        r#"{"apiVersion":"example.com/v1","kind":"Foo","spec":{"items":[{"name":"a","v":1},{"name":"b"}],"m":{"a":1,"b":2}}}"#,
    );
    let p = j(
        r#"{"apiVersion":"example.com/v1","kind":"Foo","spec":{"items":[{"name":"b","v":3}],"m":{"b":null,"c":3}}}"#,
    );
    run(&mut t, &p, Flavor::Kustomize);
    assert_eq!(
        t.get("spec").unwrap(),
        &j(r#"{"items":[{"name":"b","v":3}],"m":{"a":1,"c":3}}"#)
    );
}

#[test]
fn top_level_delete_and_errors() {
    let mut t = j(r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}"#);
    let p =
        j(r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"$patch":"delete"}"#);
    assert_eq!(run(&mut t, &p, Flavor::Kustomize), Outcome::Deleted);
    let e = apply(
        &mut t,
        &j(r#"{"$patch":"bogus"}"#),
        Schema::builtin(),
        Flavor::Kustomize,
    )
    .unwrap_err();
    assert_eq!(
        e,
        SmpError::UnknownDirective {
            path: ".".into(),
            value: "bogus".into()
        }
    );
    assert_eq!(
        apply(&mut t, &j("[]"), Schema::builtin(), Flavor::Kustomize),
        Err(SmpError::PatchNotMap)
    );
    let e = apply(
        &mut t,
        &j(r#"{"metadata":{"name":{"a":1}}}"#),
        Schema::builtin(),
        Flavor::Kustomize,
    )
    .unwrap_err();
    assert!(
        matches!(e, SmpError::KindMismatch { ref path, .. } if path == "metadata.name"),
        "{e}"
    );
    // the server replaces instead
    assert!(apply(
        &mut t,
        &j(r#"{"metadata":{"name":{"a":1}}}"#),
        Schema::builtin(),
        Flavor::ApiMachinery
    )
    .is_ok());
}

#[test]
fn server_interleaves_new_elements_as_apimachinery() {
    let mut t = deploy(
        r#"{"template":{"spec":{"containers":[{"name":"a"},{"name":"b"},{"name":"c"},{"name":"d"}]}}}"#,
    );
    let p =
        deploy(r#"{"template":{"spec":{"containers":[{"name":"c","image":"c2"},{"name":"x"}]}}}"#);
    run(&mut t, &p, Flavor::ApiMachinery);
    assert_eq!(
        names(pod_spec(&t).get("containers").unwrap()),
        // kube-apiserver v1.34: the new element goes before the server-only `d`.
        ["a", "b", "c", "x", "d"]
    );
}

#[test]
fn server_directives() {
    let mut t = deploy(
        r#"{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1}},"template":{"metadata":{"finalizers":["a","b","c"]},"spec":{"containers":[{"name":"a","args":["x","y"]},{"name":"b"},{"name":"c"}]}}}"#,
    );
    let p = deploy(
        r#"{"strategy":{"$retainKeys":["type"],"type":"Recreate"},"template":{"metadata":{"$deleteFromPrimitiveList/finalizers":["b"]},"spec":{"$setElementOrder/containers":[{"name":"c"},{"name":"a"},{"name":"b"}],"containers":[{"name":"a","image":"i"}]}}}"#,
    );
    run(&mut t, &p, Flavor::ApiMachinery);
    assert_eq!(
        t.get_path(&["spec", "strategy"]).unwrap(),
        &j(r#"{"type":"Recreate"}"#)
    );
    assert_eq!(
        names(
            t.get_path(&["spec", "template", "metadata", "finalizers"])
                .unwrap()
        ),
        ["a", "c"]
    );
    assert_eq!(
        names(pod_spec(&t).get("containers").unwrap()),
        ["c", "a", "b"]
    );
    assert!(pod_spec(&t).get("$setElementOrder/containers").is_none());
    let e = apply(
        &mut t,
        &deploy(r#"{"template":{"spec":{"containers":[{"image":"q"}]}}}"#),
        Schema::builtin(),
        Flavor::ApiMachinery,
    )
    .unwrap_err();
    assert!(
        matches!(e, SmpError::MissingMergeKey { ref key, .. } if key == "name"),
        "{e}"
    );
}

#[test]
fn server_primitive_union_puts_new_values_first() {
    let mut t = j(r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"finalizers":["a","b"]}}"#);
    let p = j(r#"{"metadata":{"finalizers":["c","a"]}}"#);
    run(&mut t, &p, Flavor::ApiMachinery);
    assert_eq!(
        names(t.get_path(&["metadata", "finalizers"]).unwrap()),
        // kube-apiserver v1.34: [a, b] + [c, a] gives [c, a, b].
        ["c", "a", "b"]
    );
}

#[test]
fn kustomize_multi_key_unifies_partial_tuples() {
    // kubectl kustomize v5.5 probes (Service ports, keys [port, protocol]):
    // c: [80 http] + [80/TCP x, 9090] → 9090, 80 http (patch 80/TCP is unified with 80 and lost)
    // i: [80/TCP a, 80/UDP b] + [80/UDP u, 90] → 90, 80/TCP a, 80/UDP u (target order)
    // m: [80 a, 81/TCP b] + [81/TCP bb, 80 aa] → 80 aa, 81/TCP bb
    let svc = |ports: &str| {
        j(&format!(
            r#"{{"apiVersion":"v1","kind":"Service","spec":{{"ports":{ports}}}}}"#
        ))
    };
    let cases = [
        (
            r#"[{"name":"http","port":80}]"#,
            r#"[{"port":80,"protocol":"TCP","name":"x"},{"port":9090,"name":"m"}]"#,
            r#"[{"port":9090,"name":"m"},{"name":"http","port":80}]"#,
        ),
        (
            r#"[{"name":"a","port":80,"protocol":"TCP"},{"name":"b","port":80,"protocol":"UDP"}]"#,
            r#"[{"port":80,"protocol":"UDP","name":"u"},{"port":90,"name":"c"}]"#,
            r#"[{"port":90,"name":"c"},{"name":"a","port":80,"protocol":"TCP"},{"name":"u","port":80,"protocol":"UDP"}]"#,
        ),
        (
            r#"[{"name":"a","port":80},{"name":"b","port":81,"protocol":"TCP"}]"#,
            r#"[{"port":81,"protocol":"TCP","name":"bb"},{"port":80,"name":"aa"}]"#,
            r#"[{"name":"aa","port":80},{"name":"bb","port":81,"protocol":"TCP"}]"#,
        ),
    ];
    for (target, patch, want) in cases {
        let mut t = svc(target);
        run(&mut t, &svc(patch), Flavor::Kustomize);
        assert_eq!(
            t.get_path(&["spec", "ports"]).unwrap(),
            &j(want),
            "{target} + {patch}"
        );
    }
}

#[test]
fn kustomize_element_replace_directive() {
    // kubectl kustomize v5.5 probes: `{name: x, $patch: replace, ...}` is an element directive,
    // not a list replace: an existing element stays as it was (but moves first, as merged
    // elements do), a new one is added without the directive. `{$patch: replace}` alone
    // replaces the list.
    let mut t = deploy(
        r#"{"template":{"spec":{"volumes":[{"name":"config","configMap":{"name":"c"}},{"name":"data","persistentVolumeClaim":{"claimName":"d"}}]}}}"#,
    );
    let p = deploy(
        r#"{"template":{"spec":{"volumes":[{"name":"data","$patch":"replace","emptyDir":{}},{"name":"new","$patch":"replace","emptyDir":{}}]}}}"#,
    );
    run(&mut t, &p, Flavor::Kustomize);
    assert_eq!(
        t.get_path(&["spec", "template", "spec", "volumes"])
            .unwrap(),
        &j(
            r#"[{"name":"data","persistentVolumeClaim":{"claimName":"d"}},{"name":"new","emptyDir":{}},{"name":"config","configMap":{"name":"c"}}]"#
        )
    );
    let p = deploy(
        r#"{"template":{"spec":{"volumes":[{"$patch":"replace"},{"name":"tls","secret":{"secretName":"x"}}]}}}"#,
    );
    run(&mut t, &p, Flavor::Kustomize);
    assert_eq!(
        t.get_path(&["spec", "template", "spec", "volumes"])
            .unwrap(),
        &j(r#"[{"name":"tls","secret":{"secretName":"x"}}]"#)
    );
}
