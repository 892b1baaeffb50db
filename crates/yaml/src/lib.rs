//! YAML for fjord.
//!
//! fjord keeps every manifest as a [`Node`] tree, the same shape kustomize's kyaml keeps: a scalar
//! holds the text it was written with and the tag it resolved to, so a transformer can read the
//! original spelling (an annotation written `0x1F` stays `"0x1F"` when kustomize turns it into a
//! string) while the emitter can still print numbers and booleans as kustomize does.

mod node;

pub use node::{Map, Node, Scalar, Tag};
