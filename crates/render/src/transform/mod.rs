//! Built-in transformers: namespace, name prefix/suffix, labels, annotations, images,
//! replicas, and name-reference fixing.

pub mod annotations;
pub mod config;
pub mod error;
pub mod images;
pub mod labels;
pub mod nameref;
pub mod namespace;
pub mod prefix;
pub mod replicas;

pub use error::TransformError;

#[cfg(test)]
mod fixtures;
