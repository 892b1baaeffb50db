//! The transformer configuration: which fields each built-in transformer touches
//! (kustomize's `TransformerConfig`), with its built-in tables, merging, and the two ways a
//! kustomization extends it: `configurations:` files and `crds:` OpenAPI files.
//!
//! # Merging, as kustomize does it
//!
//! Every table is merged entry by entry: an incoming spec is dropped when an entry already in
//! the table has the same path and is *selected by* the incoming spec's group/version/kind
//! (empty parts match anything); if the two differ in `create`, the merge fails
//! ("conflicting fieldspecs"). After a merge each table is sorted by kustomize's GVK order
//! (the kind's rank in kustomize's fixed kind order, then `group_version_kind`).
//! Because sorting puts specific kinds before the catch-all entry, a `configurations:` file
//! that adds `{kind: ConfigMap, path: metadata/name}` to `namePrefix` ends up *replacing* the
//! catch-all `metadata/name` entry once the configuration is merged into an accumulator —
//! `kubectl kustomize` then prefixes only ConfigMaps.
//!
//! # How a build uses it (kustomize's `KustTarget`)
//!
//! Each kustomization level starts from an **empty** configuration ([`TransformerConfig::default`]),
//! merges in the accumulated configuration of each `resources:` sub-kustomization (and the
//! components' effects), then its own `builtin()`-plus-`configurations:` configuration
//! ([`TransformerConfig::for_kustomization`]), then its `crds:` configuration
//! ([`TransformerConfig::from_crds`]); its transformers run with the result, and the result is
//! what the level hands upward. So a base's `configurations:` also steer the overlays' built-in
//! transformers, and the top level's result drives name-reference fixing.

use crate::fieldspec::FieldSpec;
use crate::transform::error::TransformError;
use fjord_model::order::kustomize_gvk_order;
use fjord_model::Gvk;
use fjord_yaml::Node;
use std::sync::OnceLock;

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

/// The built-in tables, in fjord's own line format (see the file's header).
const BUILTIN_TABLES: &str = include_str!("builtin_fieldspecs.txt");

/// The names of the plain field-spec tables, as written in `configurations:` files, paired
/// with kustomize's name for them in merge errors.
const TABLES: &[(&str, &str)] = &[
    ("namePrefix", "NamePrefix"),
    ("nameSuffix", "NameSuffix"),
    ("namespace", "NameSpace"),
    ("commonLabels", "CommonLabels"),
    ("templateLabels", "TemplateLabels"),
    ("commonAnnotations", "CommonAnnotations"),
    ("varReference", "VarReference"),
    ("images", "Images"),
    ("replicas", "Replicas"),
];

impl TransformerConfig {
    /// kustomize v5.5's built-in configuration (merged and sorted as kustomize holds it).
    pub fn builtin() -> TransformerConfig {
        static BUILTIN: OnceLock<TransformerConfig> = OnceLock::new();
        BUILTIN
            .get_or_init(|| {
                let table = parse_builtin_tables(BUILTIN_TABLES);
                let mut cfg = TransformerConfig::default();
                // The embedded table has no conflicts (a unit test checks it).
                cfg.merge(&table).unwrap_or_default();
                cfg
            })
            .clone()
    }

    /// A kustomization's own configuration: the built-ins merged with its `configurations:`
    /// files (already parsed with [`TransformerConfig::parse`]), in order.
    pub fn for_kustomization(
        configurations: &[TransformerConfig],
    ) -> Result<TransformerConfig, TransformError> {
        let mut cfg = TransformerConfig::builtin();
        for c in configurations {
            cfg.merge(c)?;
        }
        Ok(cfg)
    }

    /// Merges `other` into `self` as kustomize does (see the module docs): duplicates dropped,
    /// a conflicting `create` is an error, every table re-sorted.
    pub fn merge(&mut self, other: &TransformerConfig) -> Result<(), TransformError> {
        // Every level carries the built-in tables: merging a copy of itself adds nothing
        // (each spec finds itself), only the order is normalized.
        if self == other {
            for (key, _) in TABLES {
                let table = self.table_mut(key);
                // A stable sort leaves a sorted table as it is; checking is cheaper.
                if !table.is_sorted_by(|a, b| {
                    kustomize_gvk_order(&spec_gvk(a), &spec_gvk(b)) != std::cmp::Ordering::Greater
                }) {
                    table.sort_by(|a, b| kustomize_gvk_order(&spec_gvk(a), &spec_gvk(b)));
                }
            }
            self.name_reference
                .sort_by(|a, b| kustomize_gvk_order(&a.gvk, &b.gvk));
            return Ok(());
        }
        for (key, label) in TABLES {
            let mine = self.table_mut(key);
            merge_specs(mine, other.table(key), label)?;
            mine.sort_by(|a, b| kustomize_gvk_order(&spec_gvk(a), &spec_gvk(b)));
        }
        for incoming in &other.name_reference {
            match self
                .name_reference
                .iter_mut()
                .find(|n| n.gvk == incoming.gvk)
            {
                Some(existing) => merge_specs(
                    &mut existing.referrers,
                    &incoming.referrers,
                    "NameReference",
                )?,
                None => self.name_reference.push(incoming.clone()),
            }
        }
        self.name_reference
            .sort_by(|a, b| kustomize_gvk_order(&a.gvk, &b.gvk));
        Ok(())
    }

    /// Reads a `configurations:` file (already parsed into a node). Unknown keys are ignored,
    /// as kustomize ignores them.
    pub fn parse(n: &Node) -> Result<TransformerConfig, TransformError> {
        let mut out = TransformerConfig::default();
        if n.is_null() {
            return Ok(out);
        }
        if n.as_map().is_none() {
            return Err(TransformError::InvalidConfig {
                field: "(document)".into(),
                problem: "a transformer configuration must be a mapping".into(),
            });
        }
        for (key, _) in TABLES {
            let Some(list) = n.get(key) else { continue };
            *out.table_mut(key) = parse_spec_list(list, key)?;
        }
        if let Some(list) = n.get("nameReference").filter(|l| !l.is_null()) {
            let items = list.as_seq().ok_or_else(|| TransformError::InvalidConfig {
                field: "nameReference".into(),
                problem: "must be a list".into(),
            })?;
            for (i, item) in items.iter().enumerate() {
                let field = format!("nameReference[{i}]");
                if item.as_map().is_none() {
                    return Err(TransformError::InvalidConfig {
                        field,
                        problem: "must be a mapping".into(),
                    });
                }
                let gvk = Gvk::new(
                    &scalar_field(item, "group", &field)?,
                    &scalar_field(item, "version", &field)?,
                    &scalar_field(item, "kind", &field)?,
                );
                let referrers = match item.get("fieldSpecs") {
                    Some(l) => parse_spec_list(l, &format!("{field}.fieldSpecs"))?,
                    None => Vec::new(),
                };
                out.name_reference.push(NameBackRef { gvk, referrers });
            }
        }
        out.sort();
        Ok(out)
    }

    /// Reads a `crds:` file: a map of OpenAPI definitions (`name: {Schema: {...}}`). For every
    /// definition that looks like a Kubernetes type (its properties include `kind`,
    /// `apiVersion` and `metadata`), each property carrying `x-kubernetes-object-ref-api-version`
    /// and `x-kubernetes-object-ref-kind` adds a name reference (to that kind and version, from
    /// `<path>/<x-kubernetes-object-ref-name-key or "name">` in objects of the definition's kind);
    /// `x-kubernetes-annotation` adds a `commonAnnotations` spec, `x-kubernetes-label-selector`
    /// a `commonLabels` spec and `x-kubernetes-identity` a `namePrefix` spec. `$ref`s to other
    /// definitions in the file are followed. The kind is the part of the definition's name after
    /// its last dot.
    pub fn from_crds(n: &Node) -> Result<TransformerConfig, TransformError> {
        let mut out = TransformerConfig::default();
        if n.is_null() {
            return Ok(out);
        }
        let defs = n.as_map().ok_or_else(|| TransformError::InvalidCrd {
            definition: String::new(),
            problem: "a crds file must be a mapping of OpenAPI definitions".into(),
        })?;
        for (name, def) in defs {
            let Some(props) = def
                .get_path(&["Schema", "properties"])
                .and_then(Node::as_map)
            else {
                continue;
            };
            if !["kind", "apiVersion", "metadata"]
                .iter()
                .all(|k| props.contains_key(*k))
            {
                continue;
            }
            if name.split('.').count() < 3 {
                return Err(TransformError::InvalidCrd {
                    definition: name.clone(),
                    problem: "`api` should be specified in dot notation: group.version.kind".into(),
                });
            }
            let kind = name.rsplit('.').next().unwrap_or_default();
            let mut one = TransformerConfig::default();
            let mut seen = Vec::new();
            crd_properties(&mut one, kind, defs, name, &[], &mut seen)?;
            out.merge(&one)?;
        }
        Ok(out)
    }

    /// Sorts every table into kustomize's order.
    fn sort(&mut self) {
        for (key, _) in TABLES {
            self.table_mut(key)
                .sort_by(|a, b| kustomize_gvk_order(&spec_gvk(a), &spec_gvk(b)));
        }
        self.name_reference
            .sort_by(|a, b| kustomize_gvk_order(&a.gvk, &b.gvk));
    }

    /// The plain table named `key` (a `configurations:` key; see `TABLES`).
    fn table(&self, key: &str) -> &Vec<FieldSpec> {
        match key {
            "namePrefix" => &self.name_prefix,
            "nameSuffix" => &self.name_suffix,
            "namespace" => &self.namespace,
            "commonLabels" => &self.common_labels,
            "templateLabels" => &self.template_labels,
            "commonAnnotations" => &self.common_annotations,
            "varReference" => &self.var_reference,
            "images" => &self.images,
            _ => &self.replicas,
        }
    }

    /// The plain table named `key`, mutably.
    fn table_mut(&mut self, key: &str) -> &mut Vec<FieldSpec> {
        match key {
            "namePrefix" => &mut self.name_prefix,
            "nameSuffix" => &mut self.name_suffix,
            "namespace" => &mut self.namespace,
            "commonLabels" => &mut self.common_labels,
            "templateLabels" => &mut self.template_labels,
            "commonAnnotations" => &mut self.common_annotations,
            "varReference" => &mut self.var_reference,
            "images" => &mut self.images,
            _ => &mut self.replicas,
        }
    }
}

/// Walks the properties of OpenAPI definition `def_name`, adding specs for the extensions.
fn crd_properties(
    cfg: &mut TransformerConfig,
    kind: &str,
    defs: &fjord_yaml::Map,
    def_name: &str,
    path: &[String],
    seen: &mut Vec<String>,
) -> Result<(), TransformError> {
    let Some(props) = defs
        .get(def_name)
        .and_then(|d| d.get_path(&["Schema", "properties"]))
        .and_then(Node::as_map)
    else {
        return Ok(());
    };
    if seen.iter().any(|s| s == def_name) {
        return Ok(());
    }
    seen.push(def_name.to_string());
    for (prop, schema) in props {
        let mut here = path.to_vec();
        here.push(prop.clone());
        let ext = |key: &str| -> Option<String> {
            schema
                .as_map()?
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .and_then(|(_, v)| match v {
                    Node::Scalar(s) if s.tag == fjord_yaml::Tag::Str => Some(s.value.clone()),
                    _ => None,
                })
        };
        let spec = |p: &[String]| FieldSpec {
            kind: kind.to_string(),
            path: p.join("/"),
            ..Default::default()
        };
        let one = |table: fn(&mut TransformerConfig) -> &mut Vec<FieldSpec>, s: FieldSpec| {
            let mut c = TransformerConfig::default();
            table(&mut c).push(s);
            c
        };
        if ext("x-kubernetes-annotation").is_some() {
            cfg.merge(&one(|c| &mut c.common_annotations, spec(&here)))?;
        }
        if ext("x-kubernetes-label-selector").is_some() {
            cfg.merge(&one(|c| &mut c.common_labels, spec(&here)))?;
        }
        if ext("x-kubernetes-identity").is_some() {
            cfg.merge(&one(|c| &mut c.name_prefix, spec(&here)))?;
        }
        if let (Some(version), Some(ref_kind)) = (
            ext("x-kubernetes-object-ref-api-version"),
            ext("x-kubernetes-object-ref-kind"),
        ) {
            let key = ext("x-kubernetes-object-ref-name-key").unwrap_or_else(|| "name".into());
            let mut p = here.clone();
            p.push(key);
            let nbr = NameBackRef {
                gvk: Gvk::new("", &version, &ref_kind),
                referrers: vec![spec(&p)],
            };
            cfg.merge(&TransformerConfig {
                name_reference: vec![nbr],
                ..Default::default()
            })?;
        }
        if let Some(target) = schema.get("$ref").and_then(Node::as_str) {
            crd_properties(cfg, kind, defs, target, &here, seen)?;
        }
    }
    seen.pop();
    Ok(())
}

/// Merges `incoming` into `existing` (kustomize `FsSlice.MergeAll`): an incoming spec is dropped
/// when one already present has its path and is selected by its GVK; differing `create` is an
/// error. `table` names the list in that error.
pub(crate) fn merge_specs(
    existing: &mut Vec<FieldSpec>,
    incoming: &[FieldSpec],
    table: &str,
) -> Result<(), TransformError> {
    for x in incoming {
        let selector = spec_gvk(x);
        match existing
            .iter()
            .find(|e| e.path == x.path && selected_by(&spec_gvk(e), &selector))
        {
            Some(e) if e.create != x.create => {
                return Err(TransformError::ConflictingFieldSpecs {
                    table: table.to_string(),
                    existing: spec_string(e),
                    incoming: spec_string(x),
                })
            }
            Some(_) => {}
            None => existing.push(x.clone()),
        }
    }
    Ok(())
}

/// kustomize's `Gvk.IsSelected`: empty selector parts match anything.
pub fn selected_by(gvk: &Gvk, selector: &Gvk) -> bool {
    (selector.group.is_empty() || selector.group == gvk.group)
        && (selector.version.is_empty() || selector.version == gvk.version)
        && (selector.kind.is_empty() || selector.kind == gvk.kind)
}

/// The GVK part of a field spec.
pub fn spec_gvk(s: &FieldSpec) -> Gvk {
    Gvk::new(&s.group, &s.version, &s.kind)
}

/// kustomize's spelling of a field spec in messages: `Kind.version.group:create:path`.
fn spec_string(s: &FieldSpec) -> String {
    format!("{}:{}:{}", spec_gvk(s).dotted(), s.create, s.path)
}

/// A string-valued key of a configuration entry ("" when absent).
fn scalar_field(n: &Node, key: &str, field: &str) -> Result<String, TransformError> {
    match n.get(key) {
        None => Ok(String::new()),
        Some(v) if v.is_null() => Ok(String::new()),
        Some(Node::Scalar(s)) => Ok(s.value.clone()),
        Some(_) => Err(TransformError::InvalidConfig {
            field: format!("{field}.{key}"),
            problem: "must be a string".into(),
        }),
    }
}

/// Reads a list of field specs (`group`, `version`, `kind`, `path`, `create`).
pub fn parse_spec_list(list: &Node, field: &str) -> Result<Vec<FieldSpec>, TransformError> {
    if list.is_null() {
        return Ok(Vec::new());
    }
    let items = list.as_seq().ok_or_else(|| TransformError::InvalidConfig {
        field: field.to_string(),
        problem: "must be a list of field specs".into(),
    })?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let field = format!("{field}[{i}]");
            if item.as_map().is_none() {
                return Err(TransformError::InvalidConfig {
                    field,
                    problem: "a field spec must be a mapping".into(),
                });
            }
            let create = match item.get("create") {
                None => false,
                Some(v) if v.is_null() => false,
                Some(Node::Scalar(s)) if s.tag == fjord_yaml::Tag::Bool => s.value == "true",
                Some(_) => {
                    return Err(TransformError::InvalidConfig {
                        field: format!("{field}.create"),
                        problem: "must be true or false".into(),
                    })
                }
            };
            Ok(FieldSpec {
                group: scalar_field(item, "group", &field)?,
                version: scalar_field(item, "version", &field)?,
                kind: scalar_field(item, "kind", &field)?,
                path: scalar_field(item, "path", &field)?,
                create,
            })
        })
        .collect()
}

/// Parses the embedded table text (see `builtin_fieldspecs.txt`).
fn parse_builtin_tables(text: &str) -> TransformerConfig {
    let mut cfg = TransformerConfig::default();
    let mut section = String::new();
    let dash = |s: &str| {
        if s == "-" {
            String::new()
        } else {
            s.to_string()
        }
    };
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let parts: Vec<&str> = header.split_whitespace().collect();
            section = parts.first().copied().unwrap_or_default().to_string();
            if section == "nameReference" && parts.len() == 4 {
                cfg.name_reference.push(NameBackRef {
                    gvk: Gvk::new(&dash(parts[3]), &dash(parts[2]), &dash(parts[1])),
                    referrers: Vec::new(),
                });
            }
            continue;
        }
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() < 4 {
            continue;
        }
        let spec = FieldSpec {
            kind: dash(cols[0]),
            version: dash(cols[1]),
            group: dash(cols[2]),
            path: cols[3].to_string(),
            create: cols.get(4) == Some(&"create"),
        };
        let table = match section.as_str() {
            "nameReference" => match cfg.name_reference.last_mut() {
                Some(nbr) => &mut nbr.referrers,
                None => continue,
            },
            s if TABLES.iter().any(|(k, _)| *k == s) => cfg.table_mut(s),
            _ => continue,
        };
        table.push(spec);
    }
    cfg
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
