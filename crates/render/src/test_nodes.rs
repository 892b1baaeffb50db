//! Test helpers: YAML nodes written as Rust, and the probe objects the replacement and vars
//! tests share.

use fjord_yaml::Node;

/// A mapping with these entries, in order.
pub(crate) fn m(pairs: Vec<(&str, Node)>) -> Node {
    let mut n = Node::map();
    for (k, v) in pairs {
        n.as_map_mut().unwrap().insert(k.into(), v);
    }
    n
}

/// A string scalar.
pub(crate) fn s(v: &str) -> Node {
    Node::string(v)
}

/// A sequence.
pub(crate) fn seq(v: Vec<Node>) -> Node {
    Node::Seq(v)
}

/// The probe source object: ConfigMap `src` in namespace `ns1` with this `data`.
pub(crate) fn source_configmap(data: Vec<(&str, Node)>) -> Node {
    m(vec![
        ("apiVersion", s("v1")),
        ("kind", s("ConfigMap")),
        (
            "metadata",
            m(vec![("name", s("src")), ("namespace", s("ns1"))]),
        ),
        ("data", m(data)),
    ])
}
