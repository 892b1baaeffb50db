//! fjord's merge engines over [`fjord_yaml::Node`] trees.
//!
//! - [`schema`]: the type graph of built-in Kubernetes kinds with their strategic-merge and
//!   server-side-apply facts, extendable from OpenAPI documents and CRDs;
//! - [`smp`]: strategic merge patch, in kustomize's or the API server's flavor;
//! - [`json_patch`]: JSON patch (RFC 6902);
//! - [`merge_patch`]: JSON merge patch (RFC 7386).
//!
//! Everything here is pure: no I/O, no global state beyond the lazily parsed built-in table.
//!
//! ```
//! use fjord_merge::smp::{self, Flavor, Outcome};
//! use fjord_merge::Schema;
//! use fjord_yaml::{emit, parse_document};
//!
//! let mut deployment = parse_document(
//!     br"
//! apiVersion: apps/v1
//! kind: Deployment
//! metadata: {name: web}
//! spec:
//!   template:
//!     spec:
//!       containers:
//!       - {name: app, image: app:1}
//!       - {name: proxy, image: envoy:1}
//! ",
//! )
//! .unwrap();
//! // Containers merge by `name`, as the Deployment schema says: only `app` changes.
//! let patch = parse_document(
//!     br"
//! spec:
//!   template:
//!     spec:
//!       containers:
//!       - {name: app, image: app:2}
//! ",
//! )
//! .unwrap();
//! let outcome = smp::apply(&mut deployment, &patch, Schema::builtin(), Flavor::Kustomize);
//! assert_eq!(outcome, Ok(Outcome::Patched));
//! let images: Vec<_> = deployment
//!     .get_path(&["spec", "template", "spec", "containers"])
//!     .and_then(|c| c.as_seq())
//!     .unwrap()
//!     .iter()
//!     .filter_map(|c| c.str_at(&["image"]))
//!     .collect();
//! assert_eq!(images, ["app:2", "envoy:1"]);
//! assert!(emit(&deployment).unwrap().contains("image: app:2"));
//! ```

pub mod json_patch;
pub mod merge_patch;
pub mod schema;
pub mod smp;

#[cfg(test)]
pub(crate) mod testjson;

pub use schema::{FieldInfo, ListType, PatchStrategy, Schema, SmpStrategy, TypeId};
