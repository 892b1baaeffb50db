//! fjord's merge engines over [`fjord_yaml::Node`] trees.
//!
//! - [`schema`]: the type graph of built-in Kubernetes kinds with their strategic-merge and
//!   server-side-apply facts, extendable from OpenAPI documents and CRDs;
//! - [`smp`]: strategic merge patch, in kustomize's or the API server's flavor;
//! - [`json_patch`]: JSON patch (RFC 6902);
//! - [`merge_patch`]: JSON merge patch (RFC 7386).
//!
//! Everything here is pure: no I/O, no global state beyond the lazily parsed built-in table.

pub mod json_patch;
pub mod merge_patch;
pub mod schema;
pub mod smp;

#[cfg(test)]
pub(crate) mod testjson;

pub use schema::{FieldInfo, ListType, PatchStrategy, Schema, SmpStrategy, TypeId};
