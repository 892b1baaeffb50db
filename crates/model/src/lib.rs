//! fjord's pure vocabulary, with no I/O: the identity of a Kubernetes object ([`Gvk`], [`ResId`])
//! and the scope of built-in kinds ([`scope`]).

mod id;
pub mod scope;

pub use id::{Gvk, ResId};
