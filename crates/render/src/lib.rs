//! fjord's renderer: turns a directory of manifests into the list of objects to apply.
//!
//! A directory with a `kustomization.yaml` (or `.yml`, or `Kustomization`) is built natively
//! with kustomize v5.5 semantics; any other directory is read as Argo CD reads a plain
//! directory source. The pipeline is: [`loader`] (confined file access) → [`kustomization`]
//! (the typed file) → `build` (accumulate resources level by level; each level runs `plan`:
//! its generators and transformers) → [`order`] → output through `fjord_yaml`'s emitter.
//!
//! ```no_run
//! let opts = fjord_render::RenderOptions::default();
//! let objects = fjord_render::render(std::path::Path::new("overlays/prod"), &opts).unwrap();
//! print!("{}", fjord_yaml::emit_documents(&objects).unwrap());
//! ```

mod build;
pub mod directory;
mod error;
pub mod fieldspec;
pub mod generate;
pub mod kustomization;
pub mod loader;
mod metadata;
pub mod order;
pub mod patch;
mod plan;
mod plugins;
pub mod replacements;
pub mod resource;
pub mod transform;
pub mod vars;

pub use directory::DirectoryOptions;
pub use error::RenderError;
pub use loader::LoadRestrictor;

use fjord_yaml::Node;
use std::path::Path;

/// `--reorder`: how to order the output when the kustomization has no `sortOptions`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reorder {
    /// kustomize's legacy order (the default).
    Legacy,
    /// As accumulated.
    None,
}

/// How to render.
#[derive(Clone, Debug, Default)]
pub struct RenderOptions {
    /// Output order; `None` means the default (legacy), and a kustomization's `sortOptions`
    /// always wins.
    pub reorder: Option<Reorder>,
    /// Which files a kustomization may read.
    pub load_restrictor: LoadRestrictor,
    /// Options for plain directories.
    pub directory: DirectoryOptions,
}

/// Renders `dir`: a kustomization if it has one, else a plain manifest directory.
pub fn render(dir: &Path, opts: &RenderOptions) -> Result<Vec<Node>, RenderError> {
    if kustomization::find(dir)?.is_none() {
        if !dir.is_dir() {
            return Err(RenderError::Unsupported {
                what: format!("'{}' is not a directory", dir.display()),
            });
        }
        let objects = directory::read_directory(dir, &opts.directory)?;
        return Ok(objects.into_iter().map(|(o, _)| o).collect());
    }
    let loader = loader::Loader::new(dir, opts.load_restrictor)?;
    let (mut res, sort) = build::Builder::new().build_top(&loader)?;
    let order = match (sort, opts.reorder) {
        (Some(s), _) => s,
        (None, Some(Reorder::None)) => order::SortOrder::Fifo,
        (None, _) => order::SortOrder::legacy(),
    };
    order.sort(&mut res);
    Ok(res.into_iter().map(|r| r.obj).collect())
}
