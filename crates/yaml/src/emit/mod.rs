//! [`Node`] trees to the bytes `kubectl kustomize` prints.
//!
//! The tree is first decoded as kustomize's JSON round trip sees it ([`crate::decode`]), then
//! written by a block-style emitter that reproduces go-yaml v2's (libyaml's) default output:
//! keys in v2's natural order, sequences not indented inside mappings, scalars quoted only when
//! needed and folded at 80 columns, empty collections as `{}` / `[]`.

pub(crate) mod error;
mod order;
mod scalar;
mod style;
mod writer;

use crate::decode::{decode, Target};
use crate::node::Node;

pub use error::EmitError;

/// Writes one object exactly as `kubectl kustomize` prints it (ending in a newline).
pub fn emit(doc: &Node) -> Result<String, EmitError> {
    let mut out = String::with_capacity(1024);
    emit_into(doc, &mut out)?;
    Ok(out)
}

/// Writes objects as a stream: `---\n` between them, none before the first.
pub fn emit_documents(docs: &[Node]) -> Result<String, EmitError> {
    let mut out = String::with_capacity(docs.len() * 1024);
    for (i, doc) in docs.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        emit_into(doc, &mut out)?;
    }
    Ok(out)
}

fn emit_into(doc: &Node, out: &mut String) -> Result<(), EmitError> {
    let value = decode(doc, Target::Yaml)?;
    writer::Emitter::new(out).document(value);
    Ok(())
}

#[cfg(test)]
mod tests;
