//! fjord's one vocabulary, with no I/O, spoken by every crate:
//! - the identity of a Kubernetes object: [`Gvk`], [`ResId`] and kustomize's spellings of them,
//!   [`ObjectRef`] and [`ObjectKey`] for objects in a cluster, `apiVersion` splitting and joining;
//! - [`ResourceType`], a served resource as discovery describes it;
//! - the scope of built-in kinds ([`scope`]);
//! - the kind orders of Argo CD and kustomize ([`order`]);
//! - the fields of object metadata ([`meta`]);
//! - Go's string spellings ([`go`]);
//! - [`SecretString`], a secret that never prints;
//! - an error with its causes on one line ([`chain()`]).
//!
//! ```
//! use fjord_model::{split_api_version, ObjectRef};
//!
//! assert_eq!(split_api_version("apps/v1"), ("apps", "v1"));
//! let r = ObjectRef::new("apps", "v1", "Deployment", "prod", "web");
//! assert_eq!(r.to_string(), "Deployment.apps prod/web");
//! ```

mod chain;
pub mod go;
mod id;
pub mod meta;
mod object;
pub mod order;
mod resource;
pub mod scope;
mod secret;

pub use chain::{chain, find_cause};
pub use id::{join_api_version, split_api_version, Gvk, ResId};
pub use object::{ObjectKey, ObjectRef};
pub use resource::{PrinterColumn, ResourceType};
pub use secret::SecretString;
