//! Patches: strategic merge, JSON 6902, and target selection.
//!
//! The kustomization's `patches:`, `patchesStrategicMerge:` and `patchesJson6902:` entries are
//! read once into [`PatchEntry`]s when the kustomization is read, loaded into [`PatchSpec`]s
//! (file contents read through the [`Loader`]) when the level's transformers run, and applied
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
mod entry;
pub mod select;

pub use apply::apply_patches;
pub use entry::{EntryError, PatchEntry, PatchSource};

use crate::loader::{LoadError, Loader};
use fjord_merge::json_patch::JsonPatchError;
use fjord_merge::smp::SmpError;
use fjord_yaml::{Node, ParseError};
use select::Selector;

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
    /// The entry is malformed.
    #[error(transparent)]
    Entry(#[from] EntryError),
    /// The patch file could not be read.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The patch is not valid YAML.
    #[error("{patch}")]
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
    #[error("strategic merge patch {patch} on {resource}")]
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
    #[error("json patch {patch} on {resource}")]
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
        PatchEntry::parse(entry)?.load(loader)
    }

    /// Parses one `patchesStrategicMerge:` entry: a file path, or inline YAML (which may hold
    /// several documents).
    pub fn parse_strategic_merge(entry: &Node, loader: &Loader) -> Result<PatchSpec, PatchError> {
        PatchEntry::parse_strategic_merge(entry)?.load(loader)
    }

    /// Parses one `patchesJson6902:` entry (`target` plus `path` or `patch`; the content may
    /// be YAML or JSON).
    pub fn parse_json6902(entry: &Node, loader: &Loader) -> Result<PatchSpec, PatchError> {
        PatchEntry::parse_json6902(entry)?.load(loader)
    }
}

impl PatchEntry {
    /// Reads the entry's content and makes the patch.
    pub fn load(&self, loader: &Loader) -> Result<PatchSpec, PatchError> {
        let (shown, bytes) = match &self.source {
            PatchSource::Path(p) => (p.clone(), loader.read(p)?),
            PatchSource::Inline(text) => (text.clone(), text.as_bytes().to_vec()),
            // kustomize reads the entry as a file; if that fails, as inline YAML.
            PatchSource::FileOrInline(text) => match loader.read(text) {
                Ok(b) => (text.clone(), b),
                Err(load) => match fjord_yaml::parse_documents(text.as_bytes()) {
                    Ok(docs) if docs.iter().any(|d| matches!(d, Node::Map(_))) => {
                        (text.clone(), text.as_bytes().to_vec())
                    }
                    _ => return Err(load.into()),
                },
            },
        };
        let mut docs = read_docs(&bytes, &shown)?;
        let body = match self.field {
            PatchField::Patches => {
                let body = classify(docs, &shown)?;
                if matches!(body, PatchBody::Json6902(_)) && self.target.is_none() {
                    return Err(PatchError::JsonWithoutTarget { patch: shown });
                }
                body
            }
            PatchField::StrategicMerge => {
                if docs.is_empty() || !docs.iter().all(|d| matches!(d, Node::Map(_))) {
                    return Err(PatchError::Unparsable { patch: shown });
                }
                PatchBody::StrategicMerge(docs)
            }
            PatchField::Json6902 => match (docs.len(), docs.first()) {
                (1, Some(Node::Seq(_))) => PatchBody::Json6902(docs.remove(0)),
                _ => return Err(PatchError::Unparsable { patch: shown }),
            },
        };
        Ok(PatchSpec {
            body,
            target: self.target.clone(),
            allow_name_change: self.allow_name_change,
            allow_kind_change: self.allow_kind_change,
            field: self.field,
            shown,
        })
    }
}

#[cfg(test)]
mod tests;
