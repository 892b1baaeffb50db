//! Serde types for Argo CD's `argoproj.io/v1alpha1` Application and AppProject, with the
//! pure checks Argo performs on them (project permissions, retry backoff, validation).

mod macros;

pub mod application;
pub mod codes;
pub mod meta;
pub mod pathmatch;
pub mod project;
pub mod retry;
pub mod validate;

pub use application::*;
pub use codes::{HealthStatusCode, OperationPhase, ResultCode, SyncStatusCode};
pub use meta::ObjectMeta;
pub use project::{
    default_project, glob_match, normalize_git_url, AppProject, AppProjectSpec, GroupKindPattern,
};
pub use retry::{parse_duration, Backoff, DurationError, RetryStrategy};
pub use validate::{invalid_spec_conditions, validate, validate_resolved};

#[cfg(test)]
mod seed_tests;
