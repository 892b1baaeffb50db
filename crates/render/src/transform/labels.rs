//! The label transformer: `labels:` entries and the deprecated `commonLabels`.
//!
//! Each entry writes its pairs into the mappings its field specs name, creating them where a
//! spec says `create`:
//! - `commonLabels`, and a `labels:` entry with `includeSelectors: true`: the entry's own
//!   `fields` merged with the whole `commonLabels` table (metadata, pod templates, and the
//!   selectors of Services, Deployments, StatefulSets, Jobs, PDBs, NetworkPolicies, ...);
//! - otherwise `fields` plus `metadata/labels`, plus the `templateLabels` table when
//!   `includeTemplates: true`.
//!
//! Label values are always written as strings (`!!str`), whatever they look like, as kustomize
//! writes them; values already in the object keep their type. (The separate rule that turns
//! every *annotation* value into a string is a property of the whole build, applied at its end:
//! see [`crate::transform::annotations`].)

use crate::fieldspec::{split_path, walk, CreateKind, FieldSpec};
use crate::resource::ResMap;
use crate::transform::config::{merge_specs, parse_spec_list, TransformerConfig};
use crate::transform::error::{node_kind, TransformError};
use fjord_model::Gvk;
use fjord_yaml::{Node, Tag};
use indexmap::IndexMap;

/// One `labels:` entry (or `commonLabels`, as an entry with `include_selectors`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSpec {
    /// The labels to add.
    pub pairs: IndexMap<String, String>,
    /// Also write selectors (`includeSelectors`).
    pub include_selectors: bool,
    /// Also write pod-template labels (`includeTemplates`; ignored with `include_selectors`).
    pub include_templates: bool,
    /// Extra field specs (`fields`).
    pub fields: Vec<FieldSpec>,
}

impl LabelSpec {
    /// The deprecated `commonLabels` map, which behaves as an entry with `includeSelectors`.
    pub fn common(pairs: IndexMap<String, String>) -> LabelSpec {
        LabelSpec {
            pairs,
            include_selectors: true,
            ..Default::default()
        }
    }

    /// Reads one `labels:` entry (`pairs`, `includeSelectors`, `includeTemplates`, `fields`).
    /// `field` names the entry in messages, e.g. `labels[0]`.
    pub fn parse(n: &Node, field: &str) -> Result<LabelSpec, TransformError> {
        let bad = |key: &str, problem: &str| TransformError::InvalidOption {
            field: format!("{field}.{key}"),
            problem: problem.to_string(),
        };
        let map = n.as_map().ok_or_else(|| TransformError::InvalidOption {
            field: field.to_string(),
            problem: "a labels entry must be a mapping".into(),
        })?;
        let mut out = LabelSpec::default();
        for (key, value) in map {
            match key.as_str() {
                "pairs" => out.pairs = string_map(value, &format!("{field}.pairs"))?,
                "includeSelectors" => {
                    out.include_selectors =
                        bool_value(value).ok_or_else(|| bad(key, "must be true or false"))?
                }
                "includeTemplates" => {
                    out.include_templates =
                        bool_value(value).ok_or_else(|| bad(key, "must be true or false"))?
                }
                "fields" => out.fields = parse_spec_list(value, &format!("{field}.fields"))?,
                other => return Err(bad(other, "unknown field")),
            }
        }
        Ok(out)
    }

    /// The field specs this entry writes, given the build's configuration (kustomize's merge
    /// of the entry's `fields` with the built-in tables).
    pub fn field_specs(&self, cfg: &TransformerConfig) -> Result<Vec<FieldSpec>, TransformError> {
        let mut specs = self.fields.clone();
        if self.include_selectors {
            merge_specs(&mut specs, &cfg.common_labels, "Labels")?;
        } else {
            merge_specs(
                &mut specs,
                &[FieldSpec::new("", "metadata/labels", true)],
                "Labels",
            )?;
            if self.include_templates {
                merge_specs(&mut specs, &cfg.template_labels, "Labels")?;
            }
        }
        Ok(specs)
    }
}

/// Adds one label entry to every object.
pub fn apply_labels(
    res: &mut ResMap,
    labels: &LabelSpec,
    cfg: &TransformerConfig,
) -> Result<(), TransformError> {
    if labels.pairs.is_empty() {
        return Ok(());
    }
    let specs = labels.field_specs(cfg)?;
    set_entries(res, &labels.pairs, &specs)
}

/// Writes `pairs` as string values into the mapping at each of `specs` (matched against each
/// object's current group/version/kind), creating mappings where a spec says `create`. The
/// label and annotation transformers (and a `LabelTransformer`/`AnnotationsTransformer` entry
/// under `transformers:` with its own `fieldSpecs`) all come down to this.
pub fn set_entries(
    res: &mut ResMap,
    pairs: &IndexMap<String, String>,
    specs: &[FieldSpec],
) -> Result<(), TransformError> {
    if pairs.is_empty() {
        return Ok(());
    }
    let mut keys: Vec<&String> = pairs.keys().collect();
    keys.sort();
    for r in res.iter_mut() {
        let gvk = Gvk::of(&r.obj);
        for spec in specs.iter().filter(|s| s.selects(&gvk)) {
            let create = spec.create.then_some(CreateKind::Map);
            let mut visit = |n: &mut Node| -> Result<(), &'static str> {
                if n.is_null() {
                    *n = Node::map();
                }
                match n.as_map_mut() {
                    Some(m) => {
                        for k in &keys {
                            m.insert((*k).clone(), Node::scalar(pairs[*k].clone(), Tag::Str));
                        }
                        Ok(())
                    }
                    None => Err(node_kind(n)),
                }
            };
            walk(&mut r.obj, &split_path(&spec.path), create, &mut visit).map_err(|found| {
                TransformError::WrongNodeKind {
                    path: spec.path.clone(),
                    object: r.id().dotted(),
                    expected: "MappingNode",
                    found,
                }
            })?;
        }
    }
    Ok(())
}

/// Reads a `map[string]string` option: string values only (null reads as ""), as kustomize's
/// strict decoding of the kustomization demands.
pub fn string_map(n: &Node, field: &str) -> Result<IndexMap<String, String>, TransformError> {
    if n.is_null() {
        return Ok(IndexMap::new());
    }
    let map = n.as_map().ok_or_else(|| TransformError::InvalidOption {
        field: field.to_string(),
        problem: "must be a mapping".into(),
    })?;
    map.iter()
        .map(|(k, v)| match v {
            Node::Scalar(s) if s.tag == Tag::Null => Ok((k.clone(), String::new())),
            Node::Scalar(s) if s.tag == Tag::Str => Ok((k.clone(), s.value.clone())),
            _ => Err(TransformError::InvalidOption {
                field: format!("{field}.{k}"),
                problem: "must be a string (quote it)".into(),
            }),
        })
        .collect()
}

fn bool_value(n: &Node) -> Option<bool> {
    match n {
        Node::Scalar(s) if s.tag == Tag::Bool => Some(s.value.eq_ignore_ascii_case("true")),
        Node::Scalar(s) if s.tag == Tag::Null => Some(false),
        _ => None,
    }
}

#[cfg(test)]
#[path = "labels_tests.rs"]
mod tests;
