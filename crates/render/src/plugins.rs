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

/// Runs one built-in transformer configuration object.
pub(crate) fn run_transformer(
    t: &mut TransformerRun<'_, '_>,
    cfg: &Node,
    kust: &Kustomization,
    loader: &Loader,
) -> Result<(), RenderError> {
    let kind = cfg.str_at(&["kind"]).unwrap_or_default().to_string();
    let file = t.file().to_string();
    let terr = |e: crate::transform::TransformError| RenderError::Transform {
        file: file.clone(),
        source: e.into(),
    };
    let field_err = |e: String| bad_field(kust, "transformers", &format!("{kind}: {e}"));
    let specs = match cfg.get("fieldSpecs") {
        Some(n) if !n.is_null() => {
            parse_spec_list(n, &format!("{kind}.fieldSpecs")).map_err(&terr)?
        }
        _ => Vec::<FieldSpec>::new(),
    };
    let string = |key: &str| cfg.str_at(&[key]).unwrap_or_default().to_string();
    match kind.as_str() {
        "AnnotationsTransformer" => {
            let pairs = labels::string_map(
                cfg.get("annotations").unwrap_or(&Node::map()),
                "annotations",
            )
            .map_err(&terr)?;
            t.run_as("AnnotationsTransformer", |res| {
                annotations::apply_annotations(res, &pairs, &specs).map_err(&terr)
            })
        }
        "LabelTransformer" => {
            let pairs = labels::string_map(cfg.get("labels").unwrap_or(&Node::map()), "labels")
                .map_err(&terr)?;
            t.run_as("LabelTransformer", |res| {
                labels::set_entries(res, &pairs, &specs).map_err(&terr)
            })
        }
        "NamespaceTransformer" => {
            let ns = cfg
                .str_at(&["metadata", "namespace"])
                .unwrap_or_default()
                .to_string();
            let opts = NamespaceOptions::parse(cfg).map_err(&terr)?;
            t.run_as("NamespaceTransformer", |res| {
                namespace::apply_namespace(res, &ns, &opts, &specs).map_err(&terr)
            })
        }
        "PrefixSuffixTransformer" => {
            let (p, s) = (string("prefix"), string("suffix"));
            t.run_as("PrefixSuffixTransformer", |res| {
                prefix::apply_prefix_suffix(res, &p, &s, &specs, &specs).map_err(&terr)
            })
        }
        "PrefixTransformer" => {
            let p = string("prefix");
            t.run_as("PrefixTransformer", |res| {
                prefix::apply_prefix(res, &p, &specs).map_err(&terr)
            })
        }
        "SuffixTransformer" => {
            let s = string("suffix");
            t.run_as("SuffixTransformer", |res| {
                prefix::apply_suffix(res, &s, &specs).map_err(&terr)
            })
        }
        "ImageTagTransformer" => {
            let image = cfg
                .get("imageTag")
                .ok_or_else(|| field_err("imageTag is required".into()))?;
            let spec = images::ImageSpec::parse(image).map_err(|e| field_err(e.to_string()))?;
            t.run_as("ImageTagTransformer", |res| {
                images::apply_images(res, std::slice::from_ref(&spec), &specs)
                    .map_err(|e| field_err(e.to_string()))
            })
        }
        "ReplicaCountTransformer" => {
            let rep = cfg
                .get("replica")
                .ok_or_else(|| field_err("replica is required".into()))?;
            let spec = replicas::ReplicaSpec::parse(rep).map_err(|e| field_err(e.to_string()))?;
            t.run_as("ReplicaCountTransformer", |res| {
                replicas::apply_replicas(res, std::slice::from_ref(&spec), &specs)
                    .map_err(|e| field_err(e.to_string()))
            })
        }
        "PatchTransformer" => {
            let mut entry = Node::map();
            if let Some(m) = entry.as_map_mut() {
                for key in ["path", "patch", "target", "options"] {
                    if let Some(v) = cfg.get(key) {
                        m.insert(key.into(), v.clone());
                    }
                }
            }
            let spec = PatchSpec::parse(&entry, loader).map_err(|e| RenderError::Patch {
                file: file.clone(),
                source: e.into(),
            })?;
            t.run_patches(&[spec], "PatchTransformer")
        }
        "PatchStrategicMergeTransformer" => {
            let mut specs = Vec::new();
            if let Some(Node::Seq(paths)) = cfg.get("paths") {
                for p in paths {
                    specs.push(PatchSpec::parse_strategic_merge(p, loader).map_err(|e| {
                        RenderError::Patch {
                            file: file.clone(),
                            source: e.into(),
                        }
                    })?);
                }
            }
            if let Some(inline) = cfg.get("patches").filter(|n| !n.is_null()) {
                specs.push(
                    PatchSpec::parse_strategic_merge(inline, loader).map_err(|e| {
                        RenderError::Patch {
                            file: file.clone(),
                            source: e.into(),
                        }
                    })?,
                );
            }
            t.run_patches(&specs, "PatchStrategicMergeTransformer")
        }
        "PatchJson6902Transformer" => {
            let mut entry = Node::map();
            if let Some(m) = entry.as_map_mut() {
                for (from, to) in [("target", "target"), ("path", "path"), ("jsonOp", "patch")] {
                    if let Some(v) = cfg.get(from) {
                        m.insert(to.into(), v.clone());
                    }
                }
            }
            let spec =
                PatchSpec::parse_json6902(&entry, loader).map_err(|e| RenderError::Patch {
                    file: file.clone(),
                    source: e.into(),
                })?;
            t.run_patches(&[spec], "PatchJson6902Transformer")
        }
        "ReplacementTransformer" => {
            let list = cfg
                .get("replacements")
                .cloned()
                .unwrap_or(Node::Seq(Vec::new()));
            let reps = crate::replacements::parse_list(&list, loader).map_err(|e| {
                RenderError::Replacement {
                    file: file.clone(),
                    source: e.into(),
                }
            })?;
            t.run_as("ReplacementTransformer", |res| {
                crate::replacements::apply(res, &reps).map_err(|e| RenderError::Replacement {
                    file: file.clone(),
                    source: e.into(),
                })
            })
        }
        // Hash suffixes are applied at the end of every build anyway.
        "HashTransformer" => Ok(()),
        other => Err(unsupported_plugin(kust, "transformers", other)),
    }
}
