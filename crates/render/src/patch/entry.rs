//! A patch entry as the kustomization declares it, before its file is read: where the content
//! comes from, the target and the options. [`PatchEntry::load`] (in the parent module) reads the
//! content and makes the [`PatchSpec`](super::PatchSpec).

use super::select::{SelectError, Selector};
use super::{kind_of, PatchField};
use fjord_yaml::Node;

/// Why a patch entry is malformed (found without reading any file).
#[derive(Clone, Debug, thiserror::Error)]
pub enum EntryError {
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
    /// The `target:` is invalid.
    #[error("invalid patch target")]
    Target(#[from] SelectError),
}

/// Where a patch's content comes from.
#[derive(Clone, Debug)]
pub enum PatchSource {
    /// `path:`, a file.
    Path(String),
    /// `patch:`, inline text (trimmed).
    Inline(String),
    /// A `patchesStrategicMerge:` entry: a file, or inline YAML when no such file can be read.
    FileOrInline(String),
}

/// One patch entry of a kustomization.
#[derive(Clone, Debug)]
pub struct PatchEntry {
    /// The field it came from.
    pub field: PatchField,
    /// Its content.
    pub source: PatchSource,
    /// `target:`, if any.
    pub target: Option<Selector>,
    /// `options.allowNameChange` (always for JSON 6902 patches).
    pub allow_name_change: bool,
    /// `options.allowKindChange` (always for JSON 6902 patches).
    pub allow_kind_change: bool,
}

/// `path` or inline `patch`, exactly one of them.
fn path_or_inline(
    field: &'static str,
    path: Option<String>,
    inline: Option<String>,
) -> Result<PatchSource, EntryError> {
    match (path, inline) {
        (None, None) => Err(EntryError::NoPatchOrPath { field }),
        (Some(path), Some(_)) => Err(EntryError::PatchAndPath { field, path }),
        (Some(p), None) => Ok(PatchSource::Path(p)),
        (None, Some(text)) => Ok(PatchSource::Inline(text)),
    }
}

impl PatchEntry {
    /// Reads one `patches:` entry (`path` or `patch`, `target`, `options`).
    pub fn parse(entry: &Node) -> Result<PatchEntry, EntryError> {
        let field = "patches";
        let map = entry.as_map().ok_or(EntryError::EntryNotMap {
            field,
            got: kind_of(entry),
        })?;
        let (mut target, mut allow_name_change, mut allow_kind_change) = (None, false, false);
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
                "target" if !v.is_null() => target = Some(Selector::parse(v)?),
                "target" => {}
                "options" => {
                    for (opt, val) in v.as_map().into_iter().flatten() {
                        let on = val.as_str() == Some("true");
                        match opt.as_str() {
                            "allowNameChange" => allow_name_change = on,
                            "allowKindChange" => allow_kind_change = on,
                            other => {
                                return Err(EntryError::BadEntry {
                                    field,
                                    message: format!("unknown option {other:?}"),
                                })
                            }
                        }
                    }
                }
                other => {
                    return Err(EntryError::BadEntry {
                        field,
                        message: format!("unknown field {other:?}"),
                    })
                }
            }
        }
        Ok(PatchEntry {
            field: PatchField::Patches,
            source: path_or_inline(field, path, inline)?,
            target,
            allow_name_change,
            allow_kind_change,
        })
    }

    /// Reads one `patchesStrategicMerge:` entry: a file path, or inline YAML (which may hold
    /// several documents).
    pub fn parse_strategic_merge(entry: &Node) -> Result<PatchEntry, EntryError> {
        let text = entry.as_str().ok_or(EntryError::EntryNotMap {
            field: "patchesStrategicMerge",
            got: kind_of(entry),
        })?;
        Ok(PatchEntry {
            field: PatchField::StrategicMerge,
            source: PatchSource::FileOrInline(text.to_string()),
            target: None,
            allow_name_change: false,
            allow_kind_change: false,
        })
    }

    /// Reads one `patchesJson6902:` entry (`target` plus `path` or `patch`).
    pub fn parse_json6902(entry: &Node) -> Result<PatchEntry, EntryError> {
        let field = "patchesJson6902";
        let map = entry.as_map().ok_or(EntryError::EntryNotMap {
            field,
            got: kind_of(entry),
        })?;
        let target = match map.get("target") {
            Some(t) if !t.is_null() => Selector::parse(t)?,
            _ => {
                return Err(EntryError::BadEntry {
                    field,
                    message: "must specify the target field".into(),
                })
            }
        };
        let path = map
            .get("path")
            .and_then(Node::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let inline = map
            .get("patch")
            .and_then(Node::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        Ok(PatchEntry {
            field: PatchField::Json6902,
            source: path_or_inline(field, path, inline)?,
            target: Some(target),
            allow_name_change: true,
            allow_kind_change: true,
        })
    }
}
