//! `replacements:` — copy a field of one object into fields of others.
//!
//! Semantics of kustomize v5.5 (checked against `kubectl kustomize`):
//! - the source is the one object whose current or any earlier id the `source` selector
//!   selects (exact group/version/kind/name, namespace compared as "effective" namespaces);
//!   none or several is an error; `fieldPath` defaults to `metadata.name`; a missing, null,
//!   empty-map or empty-list value is an error; `options.delimiter`/`index` pick a part;
//! - a target object is selected when one of its ids is selected by `select` and not by a
//!   `reject` entry (and its labels/annotations match the label/annotation selectors);
//! - field paths are split on `.` (`\.` escapes a dot, `[...]` groups), segments are field
//!   names, list indexes, `*` (every element of a list) or `[key=regex]` (every element whose
//!   `key` matches the regular expression, unanchored — `[name=c1]` also matches `c10`);
//! - a path that matches nothing is an error (`unable to find field "..." in replacement
//!   target`); with `options.create` missing fields, list entries `[k=v]` and the element at
//!   index `len` are created;
//! - a scalar target keeps its type and takes only the value text (an int source into a
//!   string field stays a quoted string); any other target is replaced by the value;
//!   `options.delimiter` on a target splices the value into the delimited parts.

use crate::generate::decode::{DecodeError, Field};
use crate::loader::Loader;
use crate::patch::select::Selector;
use crate::resource::{ResMap, Resource};
use fjord_model::{Gvk, ResId};
use fjord_yaml::{Map, Node, Tag};
use regex::Regex;

mod path;

pub use path::{lookup, split_field_path};
use path::{visit_matches, PathError};

/// Why a replacement failed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ReplacementError {
    /// A field of a replacement has the wrong type.
    #[error(transparent)]
    Decode(DecodeError),
    /// A `path:` replacements file could not be read or parsed.
    #[error("{path}: {message}")]
    Load {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// An entry has both `path:` and an inline replacement.
    #[error("cannot specify both path and inline replacement")]
    PathAndInline,
    /// A replacement lacks `source` or `targets`.
    #[error("replacements must specify a source and at least one target")]
    MissingSourceOrTargets,
    /// A target lacks `select`.
    #[error("target must specify resources to select")]
    MissingSelect,
    /// A label/annotation selector could not be read.
    #[error("invalid selector in replacement: {0}")]
    Selector(String),
    /// No object is selected by the source selector.
    #[error("nothing selected by {0}")]
    NoSource(String),
    /// Several objects are selected by the source selector.
    #[error("multiple matches for selector {0}")]
    MultipleSources(String),
    /// The source field is missing or empty.
    #[error("fieldPath `{path}` is missing for replacement source {source_id}")]
    SourceFieldMissing {
        /// The field path.
        path: String,
        /// The source selector.
        source_id: String,
    },
    /// `options.delimiter` on a non-scalar.
    #[error("delimiter option can only be used with scalar nodes")]
    DelimiterOnNonScalar,
    /// `options.index` outside the delimited parts of the source value.
    #[error("options.index {index} is out of bounds for value {value}")]
    IndexOutOfBounds {
        /// The index.
        index: i64,
        /// The source value.
        value: String,
    },
    /// A target field path matched nothing (or could not be created).
    #[error("unable to find {create}field {path:?} in replacement target {target}{detail}")]
    TargetField {
        /// The target object, in kustomize's id spelling.
        target: String,
        /// `"or create "` when `create` was set.
        create: &'static str,
        /// The field path.
        path: String,
        /// `: <cause>` when a path step failed, else empty.
        detail: String,
    },
}

/// Selects objects by identity: empty parts match anything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IdSelector {
    /// API group.
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Name (exact).
    pub name: String,
    /// Namespace (`default` and unset are the same).
    pub namespace: String,
}

impl IdSelector {
    fn parse(n: &Node, f: &Field) -> Result<IdSelector, DecodeError> {
        Ok(IdSelector {
            group: f.string(n, "group")?,
            version: f.string(n, "version")?,
            kind: f.string(n, "kind")?,
            name: f.string(n, "name")?,
            namespace: f.string(n, "namespace")?,
        })
    }

    fn is_empty(&self) -> bool {
        *self == IdSelector::default()
    }

    /// kustomize's `ResId.IsSelectedBy`.
    pub fn selects(&self, id: &ResId) -> bool {
        let eff = |s: &str| {
            if s.is_empty() {
                "default".to_string()
            } else {
                s.to_string()
            }
        };
        (self.name.is_empty() || self.name == id.name)
            && (self.namespace.is_empty() || eff(&self.namespace) == eff(&id.namespace))
            && (self.group.is_empty() || self.group == id.gvk.group)
            && (self.version.is_empty() || self.version == id.gvk.version)
            && (self.kind.is_empty() || self.kind == id.gvk.kind)
    }
}

impl std::fmt::Display for IdSelector {
    /// kustomize's `ResId.String()`: `Kind.version.group/name.namespace` with placeholders.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let id = ResId {
            gvk: Gvk::new(&self.group, &self.version, &self.kind),
            name: self.name.clone(),
            namespace: self.namespace.clone(),
        };
        f.write_str(&id.dotted())
    }
}

/// `options:` of a source or target.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldOptions {
    /// Split the value on this string.
    pub delimiter: String,
    /// Which part (source) or where to put the value (target; <0 prefix, >=len suffix).
    pub index: i64,
    /// Create missing target fields.
    pub create: bool,
}

impl FieldOptions {
    fn parse(n: &Node, at: &str) -> Result<FieldOptions, DecodeError> {
        let f = Field::new("FieldOptions", at);
        Ok(FieldOptions {
            delimiter: f.string(n, "delimiter")?,
            index: f.int(n, "index", "int")?,
            create: f.bool(n, "create")?,
        })
    }
}

/// `source:` of a replacement.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceSelector {
    /// Which object.
    pub id: IdSelector,
    /// The field to read; empty means `metadata.name`.
    pub field_path: String,
    /// Delimiter options.
    pub options: Option<FieldOptions>,
}

/// A `select:` or `reject:` entry of a target.
#[derive(Clone, Debug, Default)]
pub struct TargetSelect {
    /// The identity part.
    pub id: IdSelector,
    /// The label/annotation part, when either selector is set.
    pub meta: Option<Selector>,
}

/// One entry of `targets:`.
#[derive(Clone, Debug, Default)]
pub struct TargetSelector {
    /// `select:`; required.
    pub select: Option<TargetSelect>,
    /// `reject:` entries.
    pub reject: Vec<TargetSelect>,
    /// `fieldPaths:`; empty means `metadata.name`.
    pub field_paths: Vec<String>,
    /// Options.
    pub options: Option<FieldOptions>,
}

/// One replacement.
#[derive(Clone, Debug, Default)]
pub struct Replacement {
    /// `source:`.
    pub source: Option<SourceSelector>,
    /// `targets:`; `None` when the key is absent.
    pub targets: Option<Vec<TargetSelector>>,
}

/// One `replacements:` entry: inline, or a `path:` to a file holding one replacement or a
/// list of them (read it and pass each document to [`Replacement::parse_document`]).
#[derive(Clone, Debug)]
pub enum ReplacementEntry {
    /// An inline replacement.
    Inline(Replacement),
    /// A file to load.
    Path(String),
}

impl ReplacementEntry {
    /// Parses one `replacements:` entry.
    pub fn parse(node: &Node) -> Result<ReplacementEntry, ReplacementError> {
        let f = Field::new("ReplacementField", "replacements");
        let path = f.string(node, "path").map_err(ReplacementError::Decode)?;
        let inline = Replacement::parse_at(node, "replacements")?;
        if path.is_empty() {
            return Ok(ReplacementEntry::Inline(inline));
        }
        if inline.source.is_some() || inline.targets.as_ref().is_some_and(|t| !t.is_empty()) {
            return Err(ReplacementError::PathAndInline);
        }
        Ok(ReplacementEntry::Path(path))
    }

    /// The replacements of the entry: itself, or those of its `path:` file.
    pub fn load(&self, loader: &Loader) -> Result<Vec<Replacement>, ReplacementError> {
        let p = match self {
            ReplacementEntry::Inline(r) => return Ok(vec![r.clone()]),
            ReplacementEntry::Path(p) => p,
        };
        let load = |message: String| ReplacementError::Load {
            path: p.clone(),
            message,
        };
        let bytes = loader.read(p).map_err(|e| load(fjord_model::chain(&e)))?;
        let doc = fjord_yaml::parse_document(&bytes).map_err(|e| load(fjord_model::chain(&e)))?;
        Replacement::parse_document(&doc)
    }
}

impl Replacement {
    /// Parses the content of a `path:` replacements file: a list of replacements or one.
    pub fn parse_document(doc: &Node) -> Result<Vec<Replacement>, ReplacementError> {
        match doc {
            Node::Seq(items) => items.iter().map(|i| Replacement::parse_at(i, "")).collect(),
            other => Ok(vec![Replacement::parse_at(other, "")?]),
        }
    }

    fn parse_at(node: &Node, at: &str) -> Result<Replacement, ReplacementError> {
        let dec = ReplacementError::Decode;
        let f = Field::new("Replacement", at);
        let sub = |k: &str| {
            if at.is_empty() {
                k.to_string()
            } else {
                format!("{at}.{k}")
            }
        };
        let source = match f
            .object(node, "source", "types.SourceSelector")
            .map_err(dec)?
        {
            None => None,
            Some(s) => {
                let sp = sub("source");
                let sf = Field::new("SourceSelector", &sp);
                let options = match sf.object(s, "options", "types.FieldOptions").map_err(dec)? {
                    Some(o) => Some(FieldOptions::parse(o, &format!("{sp}.options")).map_err(dec)?),
                    None => None,
                };
                Some(SourceSelector {
                    id: IdSelector::parse(s, &sf).map_err(dec)?,
                    field_path: sf.string(s, "fieldPath").map_err(dec)?,
                    options,
                })
            }
        };
        let targets = match node.get("targets") {
            None => None,
            Some(n) if n.is_null() => None,
            Some(_) => {
                let tp = sub("targets");
                let items = f
                    .objects(node, "targets", "types.TargetSelector")
                    .map_err(dec)?;
                Some(
                    items
                        .into_iter()
                        .map(|t| parse_target(t, &tp))
                        .collect::<Result<_, _>>()?,
                )
            }
        };
        Ok(Replacement { source, targets })
    }
}

fn parse_select(n: &Node, at: &str) -> Result<TargetSelect, ReplacementError> {
    let f = Field::new("Selector", at);
    let id = IdSelector::parse(n, &f).map_err(ReplacementError::Decode)?;
    let mut meta_node = Map::new();
    for key in ["labelSelector", "annotationSelector"] {
        let v = f.string(n, key).map_err(ReplacementError::Decode)?;
        if !v.is_empty() {
            meta_node.insert(key.to_string(), Node::string(v));
        }
    }
    let meta = if meta_node.is_empty() {
        None
    } else {
        let sel = Selector::parse(&Node::Map(meta_node))
            .map_err(|e| ReplacementError::Selector(fjord_model::chain(&e)))?;
        Some(sel)
    };
    Ok(TargetSelect { id, meta })
}

fn parse_target(t: &Node, at: &str) -> Result<TargetSelector, ReplacementError> {
    let dec = ReplacementError::Decode;
    let f = Field::new("TargetSelector", at);
    let select = match f.object(t, "select", "types.Selector").map_err(dec)? {
        Some(s) => Some(parse_select(s, &format!("{at}.select"))?),
        None => None,
    };
    let rp = format!("{at}.reject");
    let reject = f
        .objects(t, "reject", "types.Selector")
        .map_err(dec)?
        .into_iter()
        .map(|r| parse_select(r, &rp))
        .collect::<Result<_, _>>()?;
    let options = match f.object(t, "options", "types.FieldOptions").map_err(dec)? {
        Some(o) => Some(FieldOptions::parse(o, &format!("{at}.options")).map_err(dec)?),
        None => None,
    };
    Ok(TargetSelector {
        select,
        reject,
        field_paths: f.strings(t, "fieldPaths").map_err(dec)?,
        options,
    })
}

/// Every id of a resource: current first, then earlier ones.
fn all_ids(r: &Resource) -> Vec<ResId> {
    std::iter::once(r.id())
        .chain(r.prev_ids.iter().rev().cloned())
        .collect()
}

/// Reads a kustomization's `replacements:` list: inline entries as they are, `path:` entries
/// loaded through `loader` (a file holds one replacement or a list of them).
pub fn parse_list(list: &Node, loader: &Loader) -> Result<Vec<Replacement>, ReplacementError> {
    let mut out = Vec::new();
    for item in entry_nodes(list)? {
        out.extend(ReplacementEntry::parse(item)?.load(loader)?);
    }
    Ok(out)
}

/// The entries of a `replacements:` list (each a mapping or null).
pub fn entry_nodes(list: &Node) -> Result<Vec<&Node>, ReplacementError> {
    Field::new("Kustomization", "")
        .objects_of(list, "replacements", "types.ReplacementField")
        .map_err(ReplacementError::Decode)
}

/// Same as [`apply_replacements`].
pub fn apply(res: &mut ResMap, replacements: &[Replacement]) -> Result<(), ReplacementError> {
    apply_replacements(res, replacements)
}

/// Applies `replacements` in order to `res`.
pub fn apply_replacements(
    res: &mut ResMap,
    replacements: &[Replacement],
) -> Result<(), ReplacementError> {
    for r in replacements {
        let (Some(source), Some(targets)) = (&r.source, &r.targets) else {
            return Err(ReplacementError::MissingSourceOrTargets);
        };
        let value = source_value(res, source)?;
        for t in targets {
            apply_target(res, &value, t)?;
        }
    }
    Ok(())
}

/// Reads (and refines) the source value.
fn source_value(res: &ResMap, source: &SourceSelector) -> Result<Node, ReplacementError> {
    let mut found: Option<&Resource> = None;
    for r in res {
        if all_ids(r).iter().any(|id| source.id.selects(id)) {
            if found.is_some() {
                return Err(ReplacementError::MultipleSources(source.id.to_string()));
            }
            found = Some(r);
        }
    }
    let src = found.ok_or_else(|| ReplacementError::NoSource(source.id.to_string()))?;
    let fp = if source.field_path.is_empty() {
        "metadata.name"
    } else {
        &source.field_path
    };
    let missing = || ReplacementError::SourceFieldMissing {
        path: fp.to_string(),
        source_id: source.id.to_string(),
    };
    let node = lookup(&src.obj, &split_field_path(fp)).ok_or_else(missing)?;
    let empty = match node {
        Node::Scalar(s) => s.tag == Tag::Null,
        Node::Map(m) => m.is_empty(),
        Node::Seq(s) => s.is_empty(),
    };
    if empty {
        return Err(missing());
    }
    let Some(opts) = source.options.as_ref().filter(|o| !o.delimiter.is_empty()) else {
        return Ok(node.clone());
    };
    let Node::Scalar(s) = node else {
        return Err(ReplacementError::DelimiterOnNonScalar);
    };
    let parts: Vec<&str> = s.value.split(opts.delimiter.as_str()).collect();
    let part = usize::try_from(opts.index)
        .ok()
        .and_then(|i| parts.get(i))
        .ok_or_else(|| ReplacementError::IndexOutOfBounds {
            index: opts.index,
            value: s.value.clone(),
        })?;
    Ok(Node::scalar(*part, s.tag))
}

/// Whether `r` is selected by target `t` (select minus reject).
fn target_selected(r: &Resource, t: &TargetSelector, select: &TargetSelect) -> bool {
    if select.meta.as_ref().is_some_and(|m| !m.matches(r)) {
        return false;
    }
    if t.reject
        .iter()
        .any(|rj| rj.meta.as_ref().is_some_and(|m| m.matches(r)))
    {
        return false;
    }
    all_ids(r).iter().any(|id| {
        select.id.selects(id)
            && !t
                .reject
                .iter()
                .any(|rj| !rj.id.is_empty() && rj.id.selects(id))
    })
}

fn apply_target(
    res: &mut ResMap,
    value: &Node,
    t: &TargetSelector,
) -> Result<(), ReplacementError> {
    let select = t.select.as_ref().ok_or(ReplacementError::MissingSelect)?;
    let default_paths = ["metadata.name".to_string()];
    let paths: &[String] = if t.field_paths.is_empty() {
        &default_paths
    } else {
        &t.field_paths
    };
    let create = t.options.as_ref().is_some_and(|o| o.create);
    for r in res.iter_mut() {
        if !target_selected(r, t, select) {
            continue;
        }
        let target_id = r.id().dotted();
        for fp in paths {
            let err = |detail: String| ReplacementError::TargetField {
                target: target_id.clone(),
                create: if create { "or create " } else { "" },
                path: fp.clone(),
                detail,
            };
            let segs = split_field_path(fp);
            let mut set_err = None;
            let n = visit_matches(&mut r.obj, &segs, create.then_some(value), &mut |target| {
                if let Err(e) = set_target(target, value, t.options.as_ref()) {
                    set_err.get_or_insert(e);
                }
            })
            .map_err(|e: PathError| err(format!(": {e}")))?;
            if let Some(e) = set_err {
                return Err(e);
            }
            if n == 0 {
                return Err(err(String::new()));
            }
        }
    }
    Ok(())
}

/// Writes `value` into one matched target field.
fn set_target(
    target: &mut Node,
    value: &Node,
    options: Option<&FieldOptions>,
) -> Result<(), ReplacementError> {
    let mut value = value.clone();
    if let Some(o) = options.filter(|o| !o.delimiter.is_empty()) {
        let Node::Scalar(t) = &*target else {
            return Err(ReplacementError::DelimiterOnNonScalar);
        };
        let mut parts: Vec<String> = t
            .value
            .split(o.delimiter.as_str())
            .map(String::from)
            .collect();
        let v = value
            .as_scalar()
            .map(|s| s.value.clone())
            .unwrap_or_default();
        match usize::try_from(o.index) {
            Err(_) => parts.insert(0, v),
            Ok(i) if i >= parts.len() => parts.push(v),
            Ok(i) => parts[i] = v,
        }
        let joined = parts.join(&o.delimiter);
        value = match value {
            Node::Scalar(s) => Node::scalar(joined, s.tag),
            _ => Node::string(joined),
        };
    }
    match target {
        Node::Scalar(t) => {
            let text = match &value {
                Node::Scalar(s) => s.value.clone(),
                _ => String::new(),
            };
            if t.tag == Tag::Null {
                t.tag = plain_tag(&text);
            }
            t.value = text;
        }
        other => *other = value,
    }
    Ok(())
}

/// The tag a plain (untagged) scalar with this text resolves to, as go-yaml v3 resolves it.
fn plain_tag(text: &str) -> Tag {
    static INT: std::sync::OnceLock<Option<Regex>> = std::sync::OnceLock::new();
    static FLOAT: std::sync::OnceLock<Option<Regex>> = std::sync::OnceLock::new();
    let int = INT.get_or_init(|| {
        Regex::new(r"^[-+]?([0-9][0-9_]*|0x[0-9a-fA-F_]+|0o[0-7_]+|0b[01_]+)$").ok()
    });
    let float = FLOAT.get_or_init(|| {
        Regex::new(r"^([-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN))$").ok()
    });
    match text {
        "" | "~" | "null" | "Null" | "NULL" => Tag::Null,
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" => Tag::Bool,
        t if int.as_ref().is_some_and(|r| r.is_match(t)) => Tag::Int,
        t if float.as_ref().is_some_and(|r| r.is_match(t)) => Tag::Float,
        _ => Tag::Str,
    }
}

#[cfg(test)]
mod tests;
