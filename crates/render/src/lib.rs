//! fjord's renderer: turns a directory of manifests into the list of objects to apply.
//!
//! A directory with a `kustomization.yaml` (or `.yml`, or `Kustomization`) is built natively
//! with kustomize v5.5 semantics; any other directory is read as Argo CD reads a plain
//! directory source. The pipeline is: [`loader`] (confined file access) → [`kustomization`]
//! (the typed file) → `build` (accumulate resources, run generators and transformers) →
//! [`order`] → output through `fjord_yaml`'s emitter.

pub mod fieldspec;
pub mod generate;
pub mod loader;
pub mod patch;
pub mod replacements;
pub mod resource;
pub mod transform;
pub mod vars;
