//! fjord's renderer: turns a directory of manifests into the list of objects to apply.
//!
//! A directory with a `kustomization.yaml` (or `.yml`, or `Kustomization`) is built natively
//! with kustomize v5.5 semantics; any other directory is read as Argo CD reads a plain
//! directory source. The pipeline is: [`loader`] (confined file access) → [`kustomization`]
//! (the typed file, its fields in [`fields`]) → `build` (accumulate resources level by level; each level runs `plan`:
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
pub mod fields;
pub mod fieldspec;
pub mod generate;
pub mod kustomization;
mod level;
pub mod limits;
pub mod loader;
mod metadata;
pub mod order;
pub mod patch;
mod plan;
mod plugins;
pub mod replacements;
pub mod resource;
#[cfg(test)]
mod test_nodes;
pub mod transform;
pub mod vars;

pub use directory::DirectoryOptions;
pub use error::RenderError;
pub use limits::{parse_quantity, Limit, LimitExceeded, RenderLimits};
pub use loader::LoadRestrictor;

use fjord_yaml::Node;
use std::path::{Path, PathBuf};

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
    /// A directory nothing read may leave — file, base or component, whatever the restrictor —
    /// and under which absolute paths are refused (the controller fences each app at its
    /// repository root). `None`: kustomize's own rules only.
    pub fence: Option<PathBuf>,
    /// The bounds of the render.
    pub limits: RenderLimits,
    /// A kustomization document applied as one more level above the directory's own
    /// kustomization (Argo CD's `source.kustomize` options). Only the transformer fields in
    /// [`OVERRIDE_FIELDS`] are accepted: it reads no file.
    pub overrides: Option<Node>,
    /// Bytes read in place of the directory's own kustomization file: Argo CD applies
    /// `source.kustomize.images` with `kustomize edit set image` on that file before the build,
    /// and the caller passes the edited text here (the shared tree is never written).
    pub root_kustomization: Option<Vec<u8>>,
}

/// The fields [`RenderOptions::overrides`] may set.
pub const OVERRIDE_FIELDS: [&str; 8] = [
    "apiVersion",
    "kind",
    "namePrefix",
    "nameSuffix",
    "namespace",
    "commonLabels",
    "commonAnnotations",
    "images",
];

/// What the overrides level is called in messages.
const OVERRIDES_SHOWN: &str = "spec.source.kustomize";

/// Renders `dir`: a kustomization if it has one, else a plain manifest directory.
pub fn render(dir: &Path, opts: &RenderOptions) -> Result<Vec<Node>, RenderError> {
    let is_kustomization = kustomization::find(dir)?.is_some();
    if !is_kustomization && !dir.is_dir() {
        return Err(RenderError::Unsupported {
            what: format!("'{}' is not a directory", dir.display()),
        });
    }
    let loader = loader::Loader::confined(
        dir,
        opts.load_restrictor,
        opts.fence.as_deref(),
        opts.limits,
    )?;
    let result = if is_kustomization {
        render_kustomization(&loader, opts)
    } else if opts.overrides.is_some() {
        Err(RenderError::Field {
            file: OVERRIDES_SHOWN.into(),
            field: "kustomize".into(),
            problem: "kustomize options need a kustomization file in the source path".into(),
        })
    } else {
        directory::read_in(&loader, &opts.directory)
            .map(|objects| objects.into_iter().map(|(o, _)| o).collect())
            .map_err(RenderError::from)
    };
    let checked = result.and_then(|objects| {
        let budget = loader.budget();
        budget.check_objects(objects.len() as u64, "the render")?;
        budget.check_rendered(objects.iter().map(limits::approx_size).sum())?;
        Ok(objects)
    });
    checked.map_err(|e| match loader.budget().tripped() {
        Some(limit) if !matches!(e, RenderError::Limit { .. }) => RenderError::Limit {
            message: fjord_model::chain(&e),
            limit,
        },
        _ => e,
    })
}

/// Builds the kustomization in the loader's root, with the overrides level if any.
fn render_kustomization(
    loader: &loader::Loader,
    opts: &RenderOptions,
) -> Result<Vec<Node>, RenderError> {
    let overrides = opts
        .overrides
        .as_ref()
        .map(|doc| {
            if let Some(field) = doc
                .as_map()
                .and_then(|m| m.keys().find(|k| !OVERRIDE_FIELDS.contains(&k.as_str())))
            {
                return Err(RenderError::Field {
                    file: OVERRIDES_SHOWN.into(),
                    field: field.clone(),
                    problem: "not one of the kustomize options an application may set".into(),
                });
            }
            kustomization::Kustomization::from_doc(PathBuf::from(OVERRIDES_SHOWN), doc)
                .map_err(RenderError::from)
        })
        .transpose()?;
    let (mut res, sort) = level::Builder::new().build_top(
        loader,
        overrides.as_ref(),
        opts.root_kustomization.as_deref(),
    )?;
    let order = match (sort, opts.reorder) {
        (Some(s), _) => s,
        (None, Some(Reorder::None)) => order::SortOrder::Fifo,
        (None, _) => order::SortOrder::legacy(),
    };
    order.sort(&mut res);
    Ok(res.into_iter().map(|r| r.obj).collect())
}
