//! [`EmitError`]: why a tree could not be written as kustomize would.

use thiserror::Error;

/// Why a tree could not be written as kustomize would.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EmitError {
    /// A float JSON cannot represent (`.inf`, `.nan`); kustomize fails the same way.
    #[error("{}json: unsupported value: {value}", at(path))]
    UnsupportedValue {
        /// Dotted path of the field, e.g. `spec.replicas`.
        path: String,
        /// Go's spelling of the value: `+Inf`, `-Inf` or `NaN`.
        value: String,
    },
    /// A scalar whose tag does not fit its text (`!!int abc`) or bad `!!binary` data.
    #[error("{}{message}", at(path))]
    Decode {
        /// Dotted path of the field.
        path: String,
        /// What go-yaml would say.
        message: String,
    },
    /// A string holding characters go-yaml refuses once kustomize's JSON round trip leaves
    /// them raw (DEL, C1 controls, U+FFFE/U+FFFF).
    #[error("{}yaml: control characters are not allowed", at(path))]
    ControlCharacters {
        /// Dotted path of the field.
        path: String,
    },
    /// A string where a NEL (U+0085) is followed by `---` or `...`: kustomize's JSON round
    /// trip reads a document marker there and fails.
    #[error("{}yaml: found unexpected document indicator", at(path))]
    DocumentIndicator {
        /// Dotted path of the field.
        path: String,
    },
    /// A mapping key containing NEL (U+0085): kustomize's JSON round trip reads it as a line
    /// break inside a flow mapping key and fails.
    #[error(
        "{}yaml: did not find expected ',' or '}}' (mapping key contains U+0085)",
        at(path)
    )]
    KeyLineBreak {
        /// Dotted path of the key.
        path: String,
    },
}

fn at(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("field {path}: ")
    }
}

impl EmitError {
    /// The dotted path of the field the error concerns (empty for the document itself).
    pub fn path(&self) -> &str {
        match self {
            EmitError::UnsupportedValue { path, .. }
            | EmitError::Decode { path, .. }
            | EmitError::ControlCharacters { path }
            | EmitError::KeyLineBreak { path }
            | EmitError::DocumentIndicator { path } => path,
        }
    }

    /// Prefixes the path with an enclosing field name or `[index]`.
    pub(crate) fn within(mut self, segment: &str) -> EmitError {
        let path = match &mut self {
            EmitError::UnsupportedValue { path, .. }
            | EmitError::Decode { path, .. }
            | EmitError::ControlCharacters { path }
            | EmitError::KeyLineBreak { path }
            | EmitError::DocumentIndicator { path } => path,
        };
        if path.is_empty() {
            *path = segment.to_string();
        } else if path.starts_with('[') {
            *path = format!("{segment}{path}");
        } else {
            *path = format!("{segment}.{path}");
        }
        self
    }
}
