//! kustomize's built-in transformers configured as objects under `transformers:`
//! (`apiVersion: builtin`, e.g. `kind: PrefixSuffixTransformer` with its own `fieldSpecs`).

use crate::error::{bad_field, unsupported_plugin, RenderError};
use crate::fieldspec::FieldSpec;
use crate::kustomization::Kustomization;
use crate::level::TransformerRun;
use crate::loader::Loader;
use crate::patch::PatchSpec;
use crate::transform::config::parse_spec_list;
use crate::transform::namespace::{self, NamespaceOptions};
use crate::transform::{annotations, images, labels, prefix, replicas};
use fjord_yaml::Node;

/// One transformer configuration object, with what its handler needs.
struct Plugin<'c> {
    /// The object.
    cfg: &'c Node,
    /// Its `kind`.
    kind: String,
    /// The kustomization that lists it, for messages.
    kust: &'c Kustomization,
    /// For patch files.
    loader: &'c Loader,
    /// Its `fieldSpecs`.
    specs: Vec<FieldSpec>,
    /// The kustomization file, for messages.
    file: String,
}

impl Plugin<'_> {
    /// Wraps a transformer error with the kustomization file.
    fn terr(&self, e: crate::transform::TransformError) -> RenderError {
        RenderError::Transform {
            file: self.file.clone(),
            source: e.into(),
        }
    }

    /// A problem with the object, reported against `transformers`.
    fn field_err(&self, e: String) -> RenderError {
        bad_field(self.kust, "transformers", &format!("{}: {e}", self.kind))
    }

    /// Wraps a patch error with the kustomization file.
    fn perr(&self, e: crate::patch::PatchError) -> RenderError {
        RenderError::Patch {
            file: self.file.clone(),
            source: e.into(),
        }
    }

    /// Wraps a replacement error with the kustomization file.
    fn rerr(&self, e: crate::replacements::ReplacementError) -> RenderError {
        RenderError::Replacement {
            file: self.file.clone(),
            source: e.into(),
        }
    }

    /// A string key of the object ("" when absent).
    fn string(&self, key: &str) -> String {
        self.cfg.str_at(&[key]).unwrap_or_default().to_string()
    }

    /// A mapping key of the object as string pairs (empty when absent).
    fn string_map(&self, key: &str) -> Result<indexmap::IndexMap<String, String>, RenderError> {
        labels::string_map(self.cfg.get(key).unwrap_or(&Node::map()), key).map_err(|e| self.terr(e))
    }

    /// A patch entry made of the object's keys, renamed `(from, to)`.
    fn entry(&self, keys: &[(&str, &str)]) -> Node {
        let mut entry = Node::map();
        if let Some(m) = entry.as_map_mut() {
            for (from, to) in keys {
                if let Some(v) = self.cfg.get(from) {
                    m.insert((*to).into(), v.clone());
                }
            }
        }
        entry
    }
}

/// Runs one kind of built-in transformer.
type Handler = fn(&mut TransformerRun<'_, '_>, &Plugin<'_>) -> Result<(), RenderError>;

/// The built-in transformers fjord runs from `transformers:`, by kind.
const BUILTINS: [(&str, Handler); 13] = [
    ("AnnotationsTransformer", annotations_transformer),
    ("LabelTransformer", label_transformer),
    ("NamespaceTransformer", namespace_transformer),
    ("PrefixSuffixTransformer", prefix_suffix_transformer),
    ("PrefixTransformer", prefix_transformer),
    ("SuffixTransformer", suffix_transformer),
    ("ImageTagTransformer", image_tag_transformer),
    ("ReplicaCountTransformer", replica_count_transformer),
    ("PatchTransformer", patch_transformer),
    (
        "PatchStrategicMergeTransformer",
        strategic_merge_transformer,
    ),
    ("PatchJson6902Transformer", json6902_transformer),
    ("ReplacementTransformer", replacement_transformer),
    // Hash suffixes are applied at the end of every build anyway.
    ("HashTransformer", |_, _| Ok(())),
];

/// Runs one built-in transformer configuration object.
pub(crate) fn run_transformer(
    t: &mut TransformerRun<'_, '_>,
    cfg: &Node,
    kust: &Kustomization,
    loader: &Loader,
) -> Result<(), RenderError> {
    let kind = cfg.str_at(&["kind"]).unwrap_or_default().to_string();
    let file = t.file.to_string();
    let specs = match cfg.get("fieldSpecs") {
        Some(n) if !n.is_null() => {
            parse_spec_list(n, &format!("{kind}.fieldSpecs")).map_err(|e| {
                RenderError::Transform {
                    file: file.clone(),
                    source: e.into(),
                }
            })?
        }
        _ => Vec::<FieldSpec>::new(),
    };
    let Some((_, handler)) = BUILTINS.iter().find(|(k, _)| *k == kind) else {
        return Err(unsupported_plugin(kust, "transformers", &kind));
    };
    let plugin = Plugin {
        cfg,
        kind,
        kust,
        loader,
        specs,
        file,
    };
    handler(t, &plugin)
}

fn annotations_transformer(
    t: &mut TransformerRun<'_, '_>,
    p: &Plugin<'_>,
) -> Result<(), RenderError> {
    let pairs = p.string_map("annotations")?;
    t.run("AnnotationsTransformer", |res| {
        annotations::apply_annotations(res, &pairs, &p.specs).map_err(|e| p.terr(e))
    })
}

fn label_transformer(t: &mut TransformerRun<'_, '_>, p: &Plugin<'_>) -> Result<(), RenderError> {
    let pairs = p.string_map("labels")?;
    t.run("LabelTransformer", |res| {
        labels::set_entries(res, &pairs, &p.specs).map_err(|e| p.terr(e))
    })
}

fn namespace_transformer(
    t: &mut TransformerRun<'_, '_>,
    p: &Plugin<'_>,
) -> Result<(), RenderError> {
    let ns = p
        .cfg
        .str_at(&["metadata", "namespace"])
        .unwrap_or_default()
        .to_string();
    let opts = NamespaceOptions::parse(p.cfg).map_err(|e| p.terr(e))?;
    t.run("NamespaceTransformer", |res| {
        namespace::apply_namespace(res, &ns, &opts, &p.specs).map_err(|e| p.terr(e))
    })
}

fn prefix_suffix_transformer(
    t: &mut TransformerRun<'_, '_>,
    p: &Plugin<'_>,
) -> Result<(), RenderError> {
    let (pre, suf) = (p.string("prefix"), p.string("suffix"));
    t.run("PrefixSuffixTransformer", |res| {
        prefix::apply_prefix_suffix(res, &pre, &suf, &p.specs, &p.specs).map_err(|e| p.terr(e))
    })
}

fn prefix_transformer(t: &mut TransformerRun<'_, '_>, p: &Plugin<'_>) -> Result<(), RenderError> {
    let pre = p.string("prefix");
    t.run("PrefixTransformer", |res| {
        prefix::apply_prefix(res, &pre, &p.specs).map_err(|e| p.terr(e))
    })
}

fn suffix_transformer(t: &mut TransformerRun<'_, '_>, p: &Plugin<'_>) -> Result<(), RenderError> {
    let suf = p.string("suffix");
    t.run("SuffixTransformer", |res| {
        prefix::apply_suffix(res, &suf, &p.specs).map_err(|e| p.terr(e))
    })
}

fn image_tag_transformer(
    t: &mut TransformerRun<'_, '_>,
    p: &Plugin<'_>,
) -> Result<(), RenderError> {
    let image = p
        .cfg
        .get("imageTag")
        .ok_or_else(|| p.field_err("imageTag is required".into()))?;
    let spec = images::ImageSpec::parse(image).map_err(|e| p.field_err(fjord_model::chain(&e)))?;
    t.run("ImageTagTransformer", |res| {
        images::apply_images(res, std::slice::from_ref(&spec), &p.specs)
            .map_err(|e| p.field_err(fjord_model::chain(&e)))
    })
}

fn replica_count_transformer(
    t: &mut TransformerRun<'_, '_>,
    p: &Plugin<'_>,
) -> Result<(), RenderError> {
    let rep = p
        .cfg
        .get("replica")
        .ok_or_else(|| p.field_err("replica is required".into()))?;
    let spec =
        replicas::ReplicaSpec::parse(rep).map_err(|e| p.field_err(fjord_model::chain(&e)))?;
    t.run("ReplicaCountTransformer", |res| {
        replicas::apply_replicas(res, std::slice::from_ref(&spec), &p.specs)
            .map_err(|e| p.field_err(fjord_model::chain(&e)))
    })
}

fn patch_transformer(t: &mut TransformerRun<'_, '_>, p: &Plugin<'_>) -> Result<(), RenderError> {
    let entry = p.entry(&[
        ("path", "path"),
        ("patch", "patch"),
        ("target", "target"),
        ("options", "options"),
    ]);
    let spec = PatchSpec::parse(&entry, p.loader).map_err(|e| p.perr(e))?;
    t.patches(&[spec], "PatchTransformer")
}

fn strategic_merge_transformer(
    t: &mut TransformerRun<'_, '_>,
    p: &Plugin<'_>,
) -> Result<(), RenderError> {
    let mut specs = Vec::new();
    if let Some(Node::Seq(paths)) = p.cfg.get("paths") {
        for path in paths {
            specs.push(PatchSpec::parse_strategic_merge(path, p.loader).map_err(|e| p.perr(e))?);
        }
    }
    if let Some(inline) = p.cfg.get("patches").filter(|n| !n.is_null()) {
        specs.push(PatchSpec::parse_strategic_merge(inline, p.loader).map_err(|e| p.perr(e))?);
    }
    t.patches(&specs, "PatchStrategicMergeTransformer")
}

fn json6902_transformer(t: &mut TransformerRun<'_, '_>, p: &Plugin<'_>) -> Result<(), RenderError> {
    let entry = p.entry(&[("target", "target"), ("path", "path"), ("jsonOp", "patch")]);
    let spec = PatchSpec::parse_json6902(&entry, p.loader).map_err(|e| p.perr(e))?;
    t.patches(&[spec], "PatchJson6902Transformer")
}

fn replacement_transformer(
    t: &mut TransformerRun<'_, '_>,
    p: &Plugin<'_>,
) -> Result<(), RenderError> {
    let list = p
        .cfg
        .get("replacements")
        .cloned()
        .unwrap_or(Node::Seq(Vec::new()));
    let reps = crate::replacements::parse_list(&list, p.loader).map_err(|e| p.rerr(e))?;
    t.run("ReplacementTransformer", |res| {
        crate::replacements::apply(res, &reps).map_err(|e| p.rerr(e))
    })
}
