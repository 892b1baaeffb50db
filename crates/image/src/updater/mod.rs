//! Argo CD Image Updater's Application annotations, update strategies and commit messages, as
//! pure functions (no network, no clock).
//!
//! - [`parse_annotations`]: the `argocd-image-updater.argoproj.io/` annotations of an
//!   Application (Image Updater v0.18.0), refusing what Image Updater silently ignores;
//! - [`filter_tags`], [`select`], [`is_newer`]: tag filters and the `semver`, `newest-build`,
//!   `alphabetical` and `digest` strategies, with a deterministic order of semver-equal tags;
//! - [`commit_message`], [`branch_name`]: Image Updater's commit message and branch templates
//!   (a subset of Go `text/template`).

mod annotations;
mod credentials;
mod glob;
mod message;
mod refname;
pub mod semver;
mod strategy;
mod template;
mod types;
mod writeback;

pub use annotations::{format_alias_tags, parse_alias_tags, parse_annotations, AnnotationError};
pub use credentials::{parse_pull_secret, CredentialError};
pub use glob::{Glob, GlobError};
pub use message::{
    branch_hash_input, branch_name, check_commit_template, commit_message, DEFAULT_COMMIT_TEMPLATE,
};
pub use refname::branch_name_problem;
pub use strategy::{filter_tags, is_newer, is_newer_info, select, SelectError};
pub use template::MessageError;
pub use types::{
    AppUpdateSpec, BranchChange, BranchSpec, Change, CredentialRef, HelmParams, ImageSpec,
    Strategy, TagInfo, WriteBack, WriteTarget, ANNOTATION_PREFIX, REVERTED_ANNOTATION,
    WRITTEN_ANNOTATION,
};
pub use writeback::WriteBackError;
