//! The transformer configuration: which fields each built-in transformer touches.
//! (Owned by the transformers work: builtin() tables, merge, parsing of `configurations:`.)

use crate::fieldspec::FieldSpec;
use fjord_model::Gvk;

/// "Objects of kind `gvk` are referred to by name from these fields" (kustomize `nameReference`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NameBackRef {
    /// The referred-to kind, e.g. ConfigMap.
    pub gvk: Gvk,
    /// The fields that hold its name.
    pub referrers: Vec<FieldSpec>,
}

/// Field specs for every built-in transformer (kustomize's `TransformerConfig`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TransformerConfig {
    /// `namePrefix` targets.
    pub name_prefix: Vec<FieldSpec>,
    /// `nameSuffix` targets.
    pub name_suffix: Vec<FieldSpec>,
    /// `namespace` targets.
    pub namespace: Vec<FieldSpec>,
    /// `commonLabels` targets (including selectors).
    pub common_labels: Vec<FieldSpec>,
    /// `labels[].includeTemplates` targets.
    pub template_labels: Vec<FieldSpec>,
    /// `commonAnnotations` targets.
    pub common_annotations: Vec<FieldSpec>,
    /// Name references.
    pub name_reference: Vec<NameBackRef>,
    /// `$(VAR)` reference fields.
    pub var_reference: Vec<FieldSpec>,
    /// `images` targets.
    pub images: Vec<FieldSpec>,
    /// `replicas` targets.
    pub replicas: Vec<FieldSpec>,
}
