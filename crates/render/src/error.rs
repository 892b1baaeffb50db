//! The renderer's error: every variant names the file and the field, entry or object at fault.

use crate::fields::FieldError;
use crate::kustomization::{Kustomization, KustomizationError};
use crate::limits::LimitExceeded;
use crate::loader::LoadError;

/// Why a render failed.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The kustomization file itself is unusable.
    #[error(transparent)]
    Kustomization(#[from] KustomizationError),
    /// A file could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A plain directory could not be read.
    #[error(transparent)]
    Directory(#[from] crate::directory::DirectoryError),
    /// A file is not valid YAML.
    #[error("{file}")]
    Parse {
        /// The file.
        file: String,
        /// The parse error.
        #[source]
        source: fjord_yaml::ParseError,
    },
    /// A document is not a Kubernetes object.
    #[error("{file}: document {index}: {problem}")]
    NotAnObject {
        /// The file.
        file: String,
        /// 1-based document index.
        index: usize,
        /// What is missing.
        problem: String,
    },
    /// An entry of a list field (resources, components, …) failed.
    #[error("{file}: {field} entry '{entry}'")]
    Entry {
        /// The kustomization file.
        file: String,
        /// The field.
        field: String,
        /// The entry.
        entry: String,
        /// What went wrong with it.
        #[source]
        source: Box<RenderError>,
    },
    /// A field of a kustomization is invalid.
    #[error("{file}: field '{field}': {problem}")]
    Field {
        /// The kustomization file.
        file: String,
        /// The field.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// A kustomization includes itself, directly or not.
    #[error("cycle detected: '{dir}' is already being built (a kustomization includes itself)")]
    Cycle {
        /// The directory built twice.
        dir: String,
    },
    /// Two objects with the same id.
    #[error("{file}: may not add resource with an already registered id: {id} (from '{origin}')")]
    DuplicateId {
        /// The kustomization that added the second one.
        file: String,
        /// The id.
        id: String,
        /// Where the second one came from.
        origin: String,
    },
    /// A feature fjord deliberately does not provide.
    #[error("{what}")]
    Unsupported {
        /// What was asked for.
        what: String,
    },
    /// A transformer failed.
    #[error("{file}")]
    Transform {
        /// The kustomization file.
        file: String,
        /// The transformer's error.
        #[source]
        source: Box<crate::transform::TransformError>,
    },
    /// A generator failed.
    #[error("{file}")]
    Generate {
        /// The kustomization file.
        file: String,
        /// The generator's error.
        #[source]
        source: Box<crate::generate::GenerateError>,
    },
    /// A patch failed.
    #[error("{file}")]
    Patch {
        /// The kustomization file.
        file: String,
        /// The patch error.
        #[source]
        source: Box<crate::patch::PatchError>,
    },
    /// A replacement failed.
    #[error("{file}")]
    Replacement {
        /// The kustomization file.
        file: String,
        /// The replacement error.
        #[source]
        source: Box<crate::replacements::ReplacementError>,
    },
    /// A render limit was crossed; `message` says where.
    #[error("{message}")]
    Limit {
        /// The limit crossed.
        limit: crate::limits::LimitExceeded,
        /// The whole message, with the file or entry that crossed it.
        message: String,
    },
    /// Vars failed.
    #[error("{file}")]
    Vars {
        /// The kustomization file.
        file: String,
        /// The vars error.
        #[source]
        source: Box<crate::vars::VarError>,
    },
}

impl From<FieldError> for RenderError {
    /// A malformed kustomization field, reported as the step that uses it always has.
    fn from(e: FieldError) -> Self {
        match e {
            FieldError::Shape {
                file,
                field,
                problem,
            } => RenderError::Field {
                file,
                field,
                problem,
            },
            FieldError::Transform { file, source } => RenderError::Transform {
                file,
                source: source.into(),
            },
            FieldError::Generate { file, source } => RenderError::Generate {
                file,
                source: source.into(),
            },
            FieldError::Patch { file, source } => RenderError::Patch {
                file,
                source: Box::new(source.into()),
            },
            FieldError::Replacement { file, source } => RenderError::Replacement {
                file,
                source: source.into(),
            },
            FieldError::Vars { file, source } => RenderError::Vars {
                file,
                source: source.into(),
            },
        }
    }
}

impl From<LimitExceeded> for RenderError {
    fn from(limit: LimitExceeded) -> Self {
        RenderError::Limit {
            message: limit.to_string(),
            limit,
        }
    }
}

impl RenderError {
    /// The render limit crossed, when that is why the render failed.
    pub fn exceeded_limit(&self) -> Option<&LimitExceeded> {
        match self {
            RenderError::Limit { limit, .. } => Some(limit),
            _ => None,
        }
    }
}

/// A field error of this kustomization.
pub(crate) fn bad_field(kust: &Kustomization, field: &str, problem: &str) -> RenderError {
    RenderError::Field {
        file: kust.shown(),
        field: field.into(),
        problem: problem.into(),
    }
}

/// A non-builtin or unknown plugin kind.
pub(crate) fn unsupported_plugin(kust: &Kustomization, field: &str, kind: &str) -> RenderError {
    bad_field(
        kust,
        field,
        &format!("built-in plugin kind '{kind}' is not supported here"),
    )
}
