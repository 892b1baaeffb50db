//! fjord's pure vocabulary, with no I/O: the identity of a Kubernetes object ([`Gvk`], [`ResId`])
//! and the schema facts shared by the renderer's strategic merge and the local API's server-side
//! apply ([`schema`]).

mod id;
pub mod schema;

pub use id::{Gvk, ResId};
