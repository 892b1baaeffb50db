//! The name prefix and suffix transformers (`namePrefix`, `nameSuffix`, and
//! `PrefixTransformer`/`SuffixTransformer` entries).
//!
//! As kustomize v5.5 does it:
//! - objects whose *original* id is a CustomResourceDefinition, an `apiregistration.k8s.io`
//!   APIService or a Namespace (any version) are never renamed;
//! - for every other object, each field spec selecting its original group/version/kind
//!   prepends the prefix (appends the suffix) to the scalar at its path; a spec for
//!   `metadata/name` also records the prefix/suffix on the resource (name-reference fixing
//!   compares them) and its previous id;
//! - the scalar keeps its YAML type: kustomize only rewrites the text, so a ConfigMap named `1`
//!   with `nameSuffix: "0"` is named `10`, an integer, in the output.
//!
//! Note that the default tables hold one catch-all `metadata/name` spec; a `configurations:`
//! file that names a kind for `metadata/name` replaces it (see `config`), so only that kind is
//! renamed then.

use crate::fieldspec::{split_path, walk, CreateKind, FieldSpec};
use crate::resource::{ResMap, Resource};
use crate::transform::config::{selected_by, spec_gvk};
use crate::transform::error::{node_kind, TransformError};
use fjord_model::Gvk;
use fjord_yaml::{Node, Tag};

/// Which end of the name is changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Prefix,
    Suffix,
}

/// Adds `prefix` to the names (and other `specs` fields) of every object (see the module docs).
/// An empty prefix does nothing, as kustomize skips the transformer then.
pub fn apply_prefix(
    res: &mut ResMap,
    prefix: &str,
    specs: &[FieldSpec],
) -> Result<(), TransformError> {
    apply(res, prefix, specs, End::Prefix)
}

/// Adds `suffix` to the names (and other `specs` fields) of every object.
pub fn apply_suffix(
    res: &mut ResMap,
    suffix: &str,
    specs: &[FieldSpec],
) -> Result<(), TransformError> {
    apply(res, suffix, specs, End::Suffix)
}

/// `namePrefix` then `nameSuffix`, each with its own table, as a kustomization runs them.
pub fn apply_prefix_suffix(
    res: &mut ResMap,
    prefix: &str,
    suffix: &str,
    prefix_specs: &[FieldSpec],
    suffix_specs: &[FieldSpec],
) -> Result<(), TransformError> {
    apply_prefix(res, prefix, prefix_specs)?;
    apply_suffix(res, suffix, suffix_specs)
}

/// Kinds whose names prefixes and suffixes never touch.
fn skipped(gvk: &Gvk) -> bool {
    gvk.kind == "CustomResourceDefinition"
        || gvk.kind == "Namespace"
        || (gvk.kind == "APIService" && gvk.group == "apiregistration.k8s.io")
}

fn apply(
    res: &mut ResMap,
    affix: &str,
    specs: &[FieldSpec],
    end: End,
) -> Result<(), TransformError> {
    if affix.is_empty() {
        return Ok(());
    }
    for r in res.iter_mut() {
        let orig = r.orig_id().gvk;
        if skipped(&orig) {
            continue;
        }
        for spec in specs.iter().filter(|s| selected_by(&orig, &spec_gvk(s))) {
            let before = r.id();
            if spec.path == "metadata/name" {
                match end {
                    End::Prefix => r.name_prefixes.push(affix.to_string()),
                    End::Suffix => r.name_suffixes.push(affix.to_string()),
                }
            }
            rewrite(r, spec, affix, end)?;
            if spec.path == "metadata/name" {
                r.prev_ids.push(before);
            }
        }
    }
    Ok(())
}

/// Rewrites the scalars at one spec's path (matched against the current GVK, as kustomize's
/// field filter does).
fn rewrite(
    r: &mut Resource,
    spec: &FieldSpec,
    affix: &str,
    end: End,
) -> Result<(), TransformError> {
    if !spec.selects(&Gvk::of(&r.obj)) {
        return Ok(());
    }
    let create = spec.create.then_some(CreateKind::Scalar);
    let mut visit = |n: &mut Node| -> Result<(), &'static str> {
        match n {
            Node::Scalar(s) => {
                let old = if s.tag == Tag::Null {
                    ""
                } else {
                    s.value.as_str()
                };
                let value = match end {
                    End::Prefix => format!("{affix}{old}"),
                    End::Suffix => format!("{old}{affix}"),
                };
                if s.tag == Tag::Null {
                    s.tag = Tag::Str;
                }
                s.value = value;
                Ok(())
            }
            other => Err(node_kind(other)),
        }
    };
    let object = r.id().dotted();
    walk(&mut r.obj, &split_path(&spec.path), create, &mut visit).map_err(|found| {
        TransformError::WrongNodeKind {
            path: spec.path.clone(),
            object,
            expected: "ScalarNode",
            found,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::config::TransformerConfig;

    fn object(api: &str, kind: &str, name: Node) -> Resource {
        let mut o = Node::map();
        let m = o.as_map_mut().unwrap();
        m.insert("apiVersion".into(), Node::string(api));
        m.insert("kind".into(), Node::string(kind));
        o.ensure_map_path(&["metadata"])
            .unwrap()
            .insert("name".into(), name);
        Resource::new(o, "r.yaml")
    }

    fn names(res: &ResMap) -> Vec<&str> {
        res.iter().map(|r| r.name()).collect()
    }

    /// kubectl kustomize with `namePrefix: p-` and `nameSuffix: -s` over these objects renames
    /// only the StorageClass, the ConfigMap and the custom kind.
    #[test]
    fn skips_namespaces_crds_and_api_services() {
        let mut res = vec![
            object("v1", "Namespace", Node::string("ns1")),
            object("v2", "Namespace", Node::string("ns2")),
            object(
                "apiextensions.k8s.io/v1",
                "CustomResourceDefinition",
                Node::string("foos.example.com"),
            ),
            object(
                "apiregistration.k8s.io/v1beta1",
                "APIService",
                Node::string("v1b.foo"),
            ),
            object("storage.k8s.io/v1", "StorageClass", Node::string("sc")),
            object("v1", "ConfigMap", Node::string("cm")),
            object("example.com/v1", "Foo", Node::string("f")),
        ];
        let cfg = TransformerConfig::builtin();
        apply_prefix_suffix(&mut res, "p-", "-s", &cfg.name_prefix, &cfg.name_suffix).unwrap();
        assert_eq!(
            names(&res),
            [
                "ns1",
                "ns2",
                "foos.example.com",
                "v1b.foo",
                "p-sc-s",
                "p-cm-s",
                "p-f-s"
            ]
        );
        assert_eq!(res[5].name_prefixes, ["p-"]);
        assert_eq!(res[5].name_suffixes, ["-s"]);
        let prev: Vec<&str> = res[5].prev_ids.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(prev, ["cm", "p-cm"]);
        assert!(res[0].prev_ids.is_empty());
    }

    /// kubectl kustomize: a ConfigMap named `1` (an integer) with `nameSuffix: "0"` comes out as
    /// `name: 10`, still an integer; a quoted `"2"` comes out as `"20"`.
    #[test]
    fn keeps_the_scalar_type() {
        let mut res = vec![
            object("v1", "ConfigMap", Node::scalar("1", Tag::Int)),
            object("v1", "Secret", Node::string("2")),
        ];
        apply_suffix(&mut res, "0", &TransformerConfig::builtin().name_suffix).unwrap();
        assert_eq!(
            res[0].obj.get_path(&["metadata", "name"]),
            Some(&Node::scalar("10", Tag::Int))
        );
        assert_eq!(
            res[1].obj.get_path(&["metadata", "name"]),
            Some(&Node::string("20"))
        );
    }

    #[test]
    fn empty_affix_records_nothing() {
        let mut res = vec![object("v1", "ConfigMap", Node::string("cm"))];
        apply_prefix(&mut res, "", &TransformerConfig::builtin().name_prefix).unwrap();
        assert!(res[0].name_prefixes.is_empty());
        assert!(res[0].prev_ids.is_empty());
    }

    #[test]
    fn a_mapping_at_the_name_is_an_error() {
        let mut res = vec![object("v1", "ConfigMap", Node::map())];
        let err =
            apply_prefix(&mut res, "p-", &TransformerConfig::builtin().name_prefix).unwrap_err();
        assert!(
            matches!(
                err,
                TransformError::WrongNodeKind {
                    expected: "ScalarNode",
                    found: "MappingNode",
                    ..
                }
            ),
            "{err}"
        );
    }
}
