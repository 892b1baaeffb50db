//! The annotation transformer (`commonAnnotations`).
//!
//! It writes its pairs, as strings, into `metadata/annotations` of every object and into the
//! pod-template annotations of the workload kinds (the `commonAnnotations` table), creating the
//! mappings where missing.
//!
//! # When annotation values become strings
//!
//! Probing `kubectl kustomize` (v5.5.0) shows that the type of annotation values does not
//! depend on which transformers ran: in **every** build, every value of `metadata.annotations`
//! comes out as a string holding the text it was written with (`0x1F` → `"0x1F"`, `1.0` →
//! `"1.0"`, `yes` → `"yes"`, `null` → `"null"`, `~` → `"~"`, an empty value → `""`), and an
//! annotation map left empty disappears — even on a custom kind with no transformers at all, and
//! for values a patch added (a JSON 6902 `value: 0x10` yields `"16"`, the text after the patch).
//! kustomize rewrites the map, values as strings, when it strips its internal bookkeeping
//! annotations at the end of the build. Pod-template annotations (`spec.template.metadata.
//! annotations`) and labels are not touched by this rule: there `0x1F` becomes `31` like any
//! other number. The rule is applied once, at the end of the build, by `metadata::finish`;
//! label and annotation values that transformers *add* are strings from the start.

use crate::fieldspec::FieldSpec;
use crate::resource::ResMap;
use crate::transform::error::TransformError;
use crate::transform::labels::set_entries;
use indexmap::IndexMap;

/// Adds `pairs` to the annotations at `specs` (normally the `commonAnnotations` table) of
/// every object.
pub fn apply_annotations(
    res: &mut ResMap,
    pairs: &IndexMap<String, String>,
    specs: &[FieldSpec],
) -> Result<(), TransformError> {
    set_entries(res, pairs, specs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::Resource;
    use crate::transform::config::TransformerConfig;
    use fjord_yaml::{Node, Tag};

    fn scalar(v: &str, tag: Tag) -> Node {
        Node::scalar(v, tag)
    }

    fn object(kind: &str, api: &str) -> Node {
        let mut o = Node::map();
        let m = o.as_map_mut().unwrap();
        m.insert("apiVersion".into(), Node::string(api));
        m.insert("kind".into(), Node::string(kind));
        o.ensure_map_path(&["metadata"])
            .unwrap()
            .insert("name".into(), Node::string("x"));
        o
    }

    #[test]
    fn common_annotations_reach_templates_of_workloads_only() {
        let mut dep = object("Deployment", "apps/v1");
        dep.ensure_map_path(&["spec", "template", "metadata"])
            .unwrap();
        let mut foo = object("Foo", "example.com/v1");
        foo.ensure_map_path(&["spec", "template", "metadata"])
            .unwrap();
        let mut res = vec![Resource::new(dep, "r.yaml"), Resource::new(foo, "r.yaml")];
        let pairs: IndexMap<String, String> =
            [("x".to_string(), "1".to_string())].into_iter().collect();
        apply_annotations(
            &mut res,
            &pairs,
            &TransformerConfig::builtin().common_annotations,
        )
        .unwrap();
        // kubectl kustomize: Deployment gets x: "1" on metadata and the pod template; Foo only on metadata.
        let d = &res[0].obj;
        assert_eq!(
            d.get_path(&["metadata", "annotations", "x"]),
            Some(&scalar("1", Tag::Str))
        );
        assert_eq!(
            d.get_path(&["spec", "template", "metadata", "annotations", "x"]),
            Some(&scalar("1", Tag::Str))
        );
        let f = &res[1].obj;
        assert_eq!(
            f.get_path(&["metadata", "annotations", "x"]),
            Some(&scalar("1", Tag::Str))
        );
        assert!(f
            .get_path(&["spec", "template", "metadata", "annotations"])
            .is_none());
    }
}
