//! Patches: strategic merge, JSON 6902, and target selection.
//!
//! The kustomization's `patches:`, `patchesStrategicMerge:` and `patchesJson6902:` entries are
//! parsed once into [`PatchSpec`]s (file contents read through the [`Loader`]) and applied
//! with [`apply_patches`], with kustomize v5.5 semantics:
//! - a `patches:` entry whose content is a list is a JSON 6902 patch (it needs a `target`), a
//!   mapping (one or more documents) is a strategic merge patch;
//! - a strategic merge patch without a target patches the one resource with the patch's own
//!   id (an error if there is none); with a target it patches every selected resource, and a
//!   target that selects nothing is not an error;
//! - a strategic merge patch cannot change a resource's name or kind unless the entry's
//!   `options` allow it (kustomize silently keeps the old value), nor its namespace;
//! - a top-level `$patch: delete` removes the resource.

mod apply;
pub mod select;

pub use apply::apply_patches;

use crate::loader::{LoadError, Loader};
use fjord_merge::json_patch::JsonPatchError;
use fjord_merge::smp::SmpError;
use fjord_yaml::{Node, ParseError};
use select::{SelectError, Selector};

/// Which kustomization field an entry came from (kustomize words some errors differently).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchField {
    /// `patches:`.
    Patches,
    /// `patchesStrategicMerge:`.
    StrategicMerge,
    /// `patchesJson6902:`.
    Json6902,
}

/// A patch's content.
#[derive(Clone, Debug)]
pub enum PatchBody {
    /// Strategic merge patch documents.
    StrategicMerge(Vec<Node>),
    /// A JSON 6902 operation list.
    Json6902(Node),
}

/// One parsed patch entry.
#[derive(Clone, Debug)]
pub struct PatchSpec {
    /// The content.
    pub body: PatchBody,
    /// `target:`, if any.
    pub target: Option<Selector>,
    /// `options.allowNameChange`.
    pub allow_name_change: bool,
    /// `options.allowKindChange`.
    pub allow_kind_change: bool,
    /// The field the entry came from.
    pub field: PatchField,
    /// The patch text as written (inline) or the file path, for messages.
    pub shown: String,
}

/// Why a patch could not be parsed or applied.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    /// A `patches:` entry is not a mapping.
    #[error("{field} entry must be a mapping, got {got}")]
    EntryNotMap {
        /// The kustomization field.
        field: &'static str,
        /// What was found.
        got: &'static str,
    },
    /// Neither `patch` nor `path` is set.
    #[error("must specify one of patch and path in {field} entry")]
    NoPatchOrPath {
        /// The kustomization field.
        field: &'static str,
    },
    /// Both `patch` and `path` are set.
    #[error("patch and path can't be set at the same time ({field} entry with path {path:?})")]
    PatchAndPath {
        /// The kustomization field.
        field: &'static str,
        /// The path.
        path: String,
    },
    /// An entry field has the wrong type or an unknown name.
    #[error("{field} entry: {message}")]
    BadEntry {
        /// The kustomization field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The patch file could not be read.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The patch is not valid YAML.
    #[error("{patch}: {source}")]
    Yaml {
        /// The file path or inline text.
        patch: String,
        /// The parse error.
        #[source]
        source: ParseError,
    },
    /// The content is neither a strategic merge patch nor a JSON patch.
    #[error("unable to parse SM or JSON patch from {patch}")]
    Unparsable {
        /// The file path or inline text.
        patch: String,
    },
    /// A JSON patch has no target.
    #[error("must specify a target for JSON patch {patch}")]
    JsonWithoutTarget {
        /// The file path or inline text.
        patch: String,
    },
    /// The `target:` is invalid.
    #[error("invalid patch target: {0}")]
    Target(#[from] SelectError),
    /// A strategic merge patch without a target matched no resource.
    #[error("{patch}: {}no matches for Id {id}; failed to find unique target for patch {id}", legacy_prefix(*.legacy, id))]
    NoMatch {
        /// Where the patch came from (its file, or "inline patch").
        patch: String,
        /// kustomize's spelling of the patch's id.
        id: String,
        /// From `patchesStrategicMerge:` (no "no resource matches…" prefix).
        legacy: bool,
    },
    /// A strategic merge patch without a target matched several resources.
    #[error("{patch}: {}multiple matches for Id {id}; failed to find unique target for patch {id}", legacy_prefix(*.legacy, id))]
    MultipleMatches {
        /// Where the patch came from (its file, or "inline patch").
        patch: String,
        /// kustomize's spelling of the patch's id.
        id: String,
        /// From `patchesStrategicMerge:`.
        legacy: bool,
    },
    /// Strategic merge failed on a resource.
    #[error("strategic merge patch {patch} on {resource}: {source}")]
    Smp {
        /// The patch's id or text.
        patch: String,
        /// The resource's id.
        resource: String,
        /// The merge error.
        #[source]
        source: SmpError,
    },
    /// A JSON patch failed on a resource.
    #[error("json patch {patch} on {resource}: {source}")]
    Json {
        /// Where the patch came from (its file, or "inline patch").
        patch: String,
        /// The resource's id.
        resource: String,
        /// The JSON-patch error.
        #[source]
        source: JsonPatchError,
    },
}

/// The "no resource matches strategic merge patch" prefix of `patches:` errors.
fn legacy_prefix(legacy: bool, id: &str) -> String {
    if legacy {
        String::new()
    } else {
        format!("no resource matches strategic merge patch \"{id}\": ")
    }
}

/// The kind of a node, for messages.
fn kind_of(n: &Node) -> &'static str {
    match n {
        Node::Scalar(_) => "a scalar",
        Node::Seq(_) => "a sequence",
        Node::Map(_) => "a mapping",
    }
}

/// Reads a patch file or inline text into documents (empty documents dropped).
fn read_docs(bytes: &[u8], shown: &str) -> Result<Vec<Node>, PatchError> {
    let docs = fjord_yaml::parse_documents(bytes).map_err(|source| PatchError::Yaml {
        patch: shown.to_string(),
        source,
    })?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// Decides SMP or JSON 6902 from parsed documents, as kustomize's PatchTransformer does.
fn classify(docs: Vec<Node>, shown: &str) -> Result<PatchBody, PatchError> {
    if docs.len() == 1 && matches!(docs[0], Node::Seq(_)) {
        return Ok(PatchBody::Json6902(
            docs.into_iter().next().unwrap_or_default(),
        ));
    }
    if !docs.is_empty() && docs.iter().all(|d| matches!(d, Node::Map(_))) {
        return Ok(PatchBody::StrategicMerge(docs));
    }
    Err(PatchError::Unparsable {
        patch: shown.to_string(),
    })
}

impl PatchSpec {
    /// The patch's origin for messages: its file path, or "inline patch".
    pub fn label(&self) -> String {
        if self.shown.contains('\n') || self.shown.len() > 120 {
            "inline patch".to_string()
        } else {
            self.shown.clone()
        }
    }

    /// Parses one `patches:` entry (`path` or `patch`, `target`, `options`).
    pub fn parse(entry: &Node, loader: &Loader) -> Result<PatchSpec, PatchError> {
        let field = "patches";
        let map = entry.as_map().ok_or(PatchError::EntryNotMap {
            field,
            got: kind_of(entry),
        })?;
        let mut spec = PatchSpec {
            body: PatchBody::StrategicMerge(Vec::new()),
            target: None,
            allow_name_change: false,
            allow_kind_change: false,
            field: PatchField::Patches,
            shown: String::new(),
        };
        let (mut path, mut inline) = (None, None);
        for (k, v) in map {
            match k.as_str() {
                "path" => path = v.as_str().filter(|s| !s.is_empty()).map(str::to_string),
                "patch" => {
                    inline = v
                        .as_str()
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                }
                "target" if !v.is_null() => spec.target = Some(Selector::parse(v)?),
                "target" => {}
                "options" => {
                    for (opt, val) in v.as_map().into_iter().flatten() {
                        let on = val.as_str() == Some("true");
                        match opt.as_str() {
                            "allowNameChange" => spec.allow_name_change = on,
                            "allowKindChange" => spec.allow_kind_change = on,
                            other => {
                                return Err(PatchError::BadEntry {
                                    field,
                                    message: format!("unknown option {other:?}"),
                                })
                            }
                        }
                    }
                }
                other => {
                    return Err(PatchError::BadEntry {
                        field,
                        message: format!("unknown field {other:?}"),
                    })
                }
            }
        }
        let (shown, bytes) = match (path, inline) {
            (None, None) => return Err(PatchError::NoPatchOrPath { field }),
            (Some(p), Some(_)) => return Err(PatchError::PatchAndPath { field, path: p }),
            (Some(p), None) => (p.clone(), loader.read(&p)?),
            (None, Some(text)) => (text.clone(), text.into_bytes()),
        };
        spec.body = classify(read_docs(&bytes, &shown)?, &shown)?;
        if matches!(spec.body, PatchBody::Json6902(_)) && spec.target.is_none() {
            return Err(PatchError::JsonWithoutTarget { patch: shown });
        }
        spec.shown = shown;
        Ok(spec)
    }

    /// Parses one `patchesStrategicMerge:` entry: a file path, or inline YAML (which may hold
    /// several documents).
    pub fn parse_strategic_merge(entry: &Node, loader: &Loader) -> Result<PatchSpec, PatchError> {
        let field = "patchesStrategicMerge";
        let text = entry.as_str().ok_or(PatchError::EntryNotMap {
            field,
            got: kind_of(entry),
        })?;
        // kustomize reads the entry as a file; if that fails, as inline YAML.
        let shown = text.to_string();
        let bytes = match loader.read(text) {
            Ok(b) => b,
            Err(load) => match fjord_yaml::parse_documents(text.as_bytes()) {
                Ok(docs) if docs.iter().any(|d| matches!(d, Node::Map(_))) => {
                    text.as_bytes().to_vec()
                }
                _ => return Err(load.into()),
            },
        };
        let docs = read_docs(&bytes, &shown)?;
        if docs.is_empty() || !docs.iter().all(|d| matches!(d, Node::Map(_))) {
            return Err(PatchError::Unparsable { patch: shown });
        }
        Ok(PatchSpec {
            body: PatchBody::StrategicMerge(docs),
            target: None,
            allow_name_change: false,
            allow_kind_change: false,
            field: PatchField::StrategicMerge,
            shown,
        })
    }

    /// Parses one `patchesJson6902:` entry (`target` plus `path` or `patch`; the content may
    /// be YAML or JSON).
    pub fn parse_json6902(entry: &Node, loader: &Loader) -> Result<PatchSpec, PatchError> {
        let field = "patchesJson6902";
        let map = entry.as_map().ok_or(PatchError::EntryNotMap {
            field,
            got: kind_of(entry),
        })?;
        let target = match map.get("target") {
            Some(t) if !t.is_null() => Selector::parse(t)?,
            _ => {
                return Err(PatchError::BadEntry {
                    field,
                    message: "must specify the target field".into(),
                })
            }
        };
        let path = map
            .get("path")
            .and_then(Node::as_str)
            .filter(|s| !s.is_empty());
        let inline = map
            .get("patch")
            .and_then(Node::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let (shown, bytes) = match (path, inline) {
            (None, None) => return Err(PatchError::NoPatchOrPath { field }),
            (Some(p), Some(_)) => {
                return Err(PatchError::PatchAndPath {
                    field,
                    path: p.into(),
                })
            }
            (Some(p), None) => (p.to_string(), loader.read(p)?),
            (None, Some(t)) => (t.to_string(), t.as_bytes().to_vec()),
        };
        let mut docs = read_docs(&bytes, &shown)?;
        let ops = match (docs.len(), docs.first()) {
            (1, Some(Node::Seq(_))) => docs.remove(0),
            _ => return Err(PatchError::Unparsable { patch: shown }),
        };
        Ok(PatchSpec {
            body: PatchBody::Json6902(ops),
            target: Some(target),
            allow_name_change: true,
            allow_kind_change: true,
            field: PatchField::Json6902,
            shown,
        })
    }

    /// Parses every entry of the three patch fields of a kustomization document, in the order
    /// `patchesStrategicMerge`, `patches`, `patchesJson6902`. (The build decides when each
    /// group runs; see [`PatchSpec::field`].)
    pub fn parse_all(kustomization: &Node, loader: &Loader) -> Result<Vec<PatchSpec>, PatchError> {
        let mut out = Vec::new();
        let list = |name: &str| {
            kustomization
                .get(name)
                .and_then(Node::as_seq)
                .cloned()
                .unwrap_or_default()
        };
        for e in list("patchesStrategicMerge") {
            out.push(PatchSpec::parse_strategic_merge(&e, loader)?);
        }
        for e in list("patches") {
            out.push(PatchSpec::parse(&e, loader)?);
        }
        for e in list("patchesJson6902") {
            out.push(PatchSpec::parse_json6902(&e, loader)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
