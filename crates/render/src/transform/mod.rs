//! Built-in transformers: namespace, name prefix/suffix, labels, annotations, images,
//! replicas, and name-reference fixing.

pub mod config;
