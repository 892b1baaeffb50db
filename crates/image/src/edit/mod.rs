//! Image edits that keep every byte they do not change.
//!
//! Three files get edited when an image moves:
//! - plain manifests ([`set_image_in_manifest`]): the `image:` values of workload containers;
//! - a kustomization's `images:` list ([`set_kustomization_image`]), the way Argo CD Image
//!   Updater edits it (in place, no re-sorting), which is not what `kustomize edit set image`
//!   does (see [`crate::setimage`]);
//! - Argo CD's `.argocd-source-<app>.yaml` parameter-override file
//!   ([`argocd_source_with_images`]).
//!
//! Each editor parses the text with fjord-yaml first (invalid YAML is refused with its error),
//! finds the scalars to change with a line-oriented locator for block-style YAML, replaces only
//! their text (comments, blank lines, key order, quoting, indentation, `---` separators and
//! `\r\n` line endings stay), and then parses the result again: if that tree is not the
//! original with exactly the intended changes, the edit is refused instead of returned. All
//! editors return `Ok(None)` when the text would not change.

mod argocd_source;
mod block;
mod kustomization;
mod manifest;
mod text;

pub use argocd_source::{argocd_source_image, argocd_source_with_images, override_name};
pub use kustomization::{kustomization_image, set_kustomization_image, KustomizeImage};
pub use manifest::{set_image_in_manifest, set_images_in_manifest, Change, ImageOverride};

/// Why an edit was refused.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The input is not valid YAML.
    #[error("cannot edit {file}: invalid YAML")]
    Parse {
        /// What was being edited (`manifest`, `kustomization`, `.argocd-source file`).
        file: &'static str,
        /// The parser's error (it carries line and column).
        #[source]
        source: fjord_yaml::ParseError,
    },
    /// A value has a shape the editor does not handle.
    #[error("cannot edit {file}: {path} is {found}, expected {expected}")]
    Shape {
        /// What was being edited.
        file: &'static str,
        /// The field, e.g. `images` or `kustomize.images[2]`.
        path: String,
        /// What it is.
        found: &'static str,
        /// What it should be.
        expected: &'static str,
    },
    /// The value to change is written in a style the text editor does not handle (flow
    /// collections, block or multi-line scalars, aliases, merge keys).
    #[error("cannot edit {file}: line {line}: {path} is written in a style that cannot be edited in place ({reason}); rewrite it in block style")]
    Unsupported {
        /// What was being edited.
        file: &'static str,
        /// 1-based line number of the value (or of the construct holding it).
        line: usize,
        /// The field, e.g. `spec.template.spec.containers[0].image` in document 2.
        path: String,
        /// What is in the way.
        reason: &'static str,
    },
    /// The edited text did not parse back to the intended tree (a bug guard: nothing is
    /// returned rather than a wrong file).
    #[error("cannot edit {file}: the edited text does not read back as intended ({detail})")]
    Verify {
        /// What was being edited.
        file: &'static str,
        /// What differed.
        detail: String,
        /// The parse error of the edited text, if that was the problem.
        #[source]
        source: Option<fjord_yaml::ParseError>,
    },
}
