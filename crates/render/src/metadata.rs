//! What kustomize does to metadata at the end of a build, whatever the kustomization says:
//! annotation values become strings (kustomize rewrites the annotation map when it strips its
//! internal bookkeeping annotations), and an emptied annotation map disappears; plus the
//! opt-in `buildMetadata` annotations and label.

use crate::resource::Resource;
use fjord_yaml::{Node, Tag};

/// The annotation holding where an object came from (`buildMetadata: [originAnnotations]`).
pub const ORIGIN_ANNOTATION: &str = "config.kubernetes.io/origin";
/// The annotation listing the transformers that ran (`buildMetadata: [transformerAnnotations]`).
pub const TRANSFORMATIONS_ANNOTATION: &str = "alpha.config.kubernetes.io/transformations";
/// The label `buildMetadata: [managedByLabel]` adds.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Its value: what the kustomize built into kubectl reports.
pub const MANAGED_BY_VALUE: &str = "kustomize-(devel)";
/// Objects carrying this annotation with value "true" are dropped from the output.
pub const LOCAL_CONFIG_ANNOTATION: &str = "config.kubernetes.io/local-config";

/// `buildMetadata` of the top kustomization (it applies to the whole build).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BuildMetadata {
    /// `originAnnotations`.
    pub origin: bool,
    /// `transformerAnnotations`.
    pub transformers: bool,
    /// `managedByLabel`.
    pub managed_by: bool,
}

impl BuildMetadata {
    /// Reads the `buildMetadata` list; `Err` names an unknown entry.
    pub fn parse(n: &Node) -> Result<BuildMetadata, String> {
        let mut out = BuildMetadata::default();
        let Node::Seq(items) = n else {
            return Err("must be a list".into());
        };
        for item in items {
            match item.as_str() {
                Some("originAnnotations") => out.origin = true,
                Some("transformerAnnotations") => out.transformers = true,
                Some("managedByLabel") => out.managed_by = true,
                Some(other) => {
                    return Err(format!(
                        "unknown entry '{other}' (expected originAnnotations, transformerAnnotations or managedByLabel)"
                    ))
                }
                None => return Err("entries must be strings".into()),
            }
        }
        Ok(out)
    }
}

/// Whether the object is marked local-only (dropped from the output).
pub fn is_local_config(r: &Resource) -> bool {
    r.obj
        .str_at(&["metadata", "annotations", LOCAL_CONFIG_ANNOTATION])
        == Some("true")
}

/// Sets an annotation (creating the map).
pub fn set_annotation(obj: &mut Node, key: &str, value: String) {
    if let Some(m) = obj.ensure_map_path(&["metadata", "annotations"]) {
        m.insert(key.to_string(), Node::string(value));
    }
}

/// The finishing pass over one object: build-metadata annotations and label, then every
/// annotation value turned into a string (a scalar keeps its text, a null becomes its text,
/// a collection becomes ""), and an empty annotation map removed.
pub fn finish(r: &mut Resource, meta: BuildMetadata) {
    if meta.transformers && !r.transformations.is_empty() {
        let mut text = String::new();
        for (file, kind) in &r.transformations {
            text.push_str(&format!(
                "- configuredIn: {file}\n  configuredBy:\n    apiVersion: builtin\n    kind: {kind}\n"
            ));
        }
        set_annotation(&mut r.obj, TRANSFORMATIONS_ANNOTATION, text);
    }
    if meta.managed_by {
        if let Some(m) = r.obj.ensure_map_path(&["metadata", "labels"]) {
            m.insert(MANAGED_BY_LABEL.into(), Node::string(MANAGED_BY_VALUE));
        }
    }
    let Some(Node::Map(meta_map)) = r.obj.get_mut("metadata") else {
        return;
    };
    let remove = match meta_map.get_mut("annotations") {
        Some(Node::Map(ann)) => {
            for v in ann.values_mut() {
                let text = match v {
                    Node::Scalar(s) if s.tag == Tag::Str => continue,
                    Node::Scalar(s) => std::mem::take(&mut s.value),
                    _ => String::new(),
                };
                *v = Node::string(text);
            }
            ann.is_empty()
        }
        Some(n) => n.is_null(),
        None => false,
    };
    if remove {
        meta_map.shift_remove("annotations");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotation_values_become_strings_and_empty_maps_go() {
        // Behaviour captured from `kubectl kustomize` v5.5.0.
        let mut obj = Node::map();
        let ann = obj.ensure_map_path(&["metadata", "annotations"]).unwrap();
        ann.insert("n".into(), Node::scalar("0x1F", Tag::Int));
        ann.insert("x".into(), Node::scalar("~", Tag::Null));
        ann.insert("w".into(), Node::Seq(vec![Node::int(1)]));
        let mut r = Resource::new(obj, "f.yaml");
        finish(&mut r, BuildMetadata::default());
        let ann = r.obj.get_path(&["metadata", "annotations"]).unwrap();
        assert_eq!(ann.get("n"), Some(&Node::string("0x1F")));
        assert_eq!(ann.get("x"), Some(&Node::string("~")));
        assert_eq!(ann.get("w"), Some(&Node::string("")));

        let mut empty = Node::map();
        empty.ensure_map_path(&["metadata", "annotations"]).unwrap();
        let mut r = Resource::new(empty, "f.yaml");
        finish(&mut r, BuildMetadata::default());
        assert!(r.obj.get_path(&["metadata", "annotations"]).is_none());
        assert!(r.obj.get("metadata").is_some());
    }
}
