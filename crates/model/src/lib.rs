//! fjord's pure vocabulary, with no I/O: the identity of a Kubernetes object ([`Gvk`], [`ResId`])
//! the scope of built-in kinds ([`scope`]) and the fields of object metadata ([`meta`]).

mod id;
pub mod meta;
pub mod scope;

pub use id::{Gvk, ResId};
