//! The context one level of a kustomize build shares with the steps that run on it
//! (build.rs, plan.rs, plugins.rs): the [`Accumulator`] a level fills, the [`Level`] it sits at,
//! the [`Builder`]'s options and merge schema, and the [`TransformerRun`] that records which
//! transformer touched each object. The recursive part of the build (`Builder::build_top`,
//! `accumulate`, and [`ConfigObjects`], through which the steps reach it) is in build.rs.

use crate::error::RenderError;
use crate::kustomization::Kustomization;
use crate::loader::Loader;
use crate::metadata::BuildMetadata;
use crate::patch::{self, PatchSpec};
use crate::resource::ResMap;
use crate::transform::config::TransformerConfig;
use fjord_yaml::Node;
use std::path::PathBuf;

/// What a level of the build hands to the level above.
#[derive(Debug, Default)]
pub(crate) struct Accumulator {
    /// The objects so far.
    pub res: ResMap,
    /// The field-spec configuration so far (built-ins plus `configurations:` and `crds:`).
    pub config: TransformerConfig,
    /// The `vars:` collected so far.
    pub vars: Vec<crate::vars::Var>,
}

/// One build: options plus the stack of directories being built (for cycle detection).
pub(crate) struct Builder {
    /// The top kustomization's `buildMetadata`, which applies to every level.
    pub meta: BuildMetadata,
    /// The built-in schema extended by an `openapi:` file, once a level declares one.
    schema: Option<fjord_merge::Schema>,
    /// The directories being built, outermost first (a repeat is a cycle).
    pub stack: Vec<PathBuf>,
}

/// The build's recursion, as the steps of a level see it: a `generators:`/`transformers:`
/// entry that is a path names a file of configuration objects, or a kustomization directory
/// that builds them (implemented by build.rs, so that the steps need not know the build).
pub(crate) trait ConfigObjects {
    /// The objects the `field` entry `entry` of `kust` names.
    fn config_objects(
        &mut self,
        loader: &Loader,
        kust: &Kustomization,
        field: &str,
        entry: &str,
        level: &Level,
    ) -> Result<Vec<Node>, RenderError>;
}

/// Where a level sits: its directory relative to the top (for origins and messages).
#[derive(Clone, Debug, Default)]
pub(crate) struct Level {
    /// The level's directory relative to the top kustomization's directory ("" at the top).
    pub prefix: String,
}

impl Level {
    /// A path relative to this level, expressed relative to the top.
    pub fn rel(&self, path: &str) -> String {
        join_clean(&self.prefix, path)
    }
}

impl Builder {
    /// A build with default options and the built-in merge schema.
    pub(crate) fn new() -> Builder {
        Builder {
            meta: BuildMetadata::default(),
            schema: None,
            stack: Vec::new(),
        }
    }

    /// The schema strategic-merge patches use: the built-in one, extended by `openapi:`.
    pub(crate) fn schema(&self) -> &fjord_merge::Schema {
        self.schema
            .as_ref()
            .unwrap_or_else(|| fjord_merge::Schema::builtin())
    }

    /// Applies a level's `openapi.path`: an OpenAPI (swagger 2.0) document whose definitions
    /// add merge keys for custom kinds. (`openapi.version` selects one of kustomize's embedded
    /// schemas; fjord has one.)
    pub(crate) fn load_openapi(
        &mut self,
        loader: &Loader,
        kust: &Kustomization,
        path: &str,
    ) -> Result<(), RenderError> {
        let field = |problem: String| RenderError::Field {
            file: kust.shown(),
            field: "openapi".into(),
            problem,
        };
        let bytes = loader
            .read(path)
            .map_err(|e| field(fjord_model::chain(&e)))?;
        let doc = fjord_yaml::parse_document(&bytes).map_err(|e| field(format!("{path}: {e}")))?;
        let mut schema = self.schema().clone();
        schema
            .extend_from_openapi(&doc)
            .map_err(|e| field(format!("{path}: {e}")))?;
        self.schema = Some(schema);
        Ok(())
    }
}

/// Joins `rel` onto `base` and folds `.` and `..` lexically, as Go's `path.Join` does.
pub(crate) fn join_clean(base: &str, rel: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in base.split('/').chain(rel.split('/')) {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

/// Runs transformers on the accumulator, recording them for `transformerAnnotations`.
pub(crate) struct TransformerRun<'b, 'a> {
    /// The build (its options and merge schema).
    pub b: &'b mut Builder,
    /// The objects being transformed.
    pub acc: &'a mut Accumulator,
    /// The kustomization file, for messages.
    pub file: &'a str,
    /// The level's kustomization file relative to the top, for `transformerAnnotations`.
    pub configured_in: &'a str,
}

impl TransformerRun<'_, '_> {
    /// Runs `f` as the built-in transformer `kind`.
    pub(crate) fn run(
        &mut self,
        kind: &'static str,
        f: impl FnOnce(&mut ResMap) -> Result<(), RenderError>,
    ) -> Result<(), RenderError> {
        f(&mut self.acc.res)?;
        if self.b.meta.transformers {
            for r in &mut self.acc.res {
                r.transformations
                    .push((self.configured_in.to_string(), kind));
            }
        }
        Ok(())
    }

    /// Applies a group of patches (one transformer each, as kustomize configures them).
    pub(crate) fn patches(
        &mut self,
        specs: &[PatchSpec],
        kind: &'static str,
    ) -> Result<(), RenderError> {
        if specs.is_empty() {
            return Ok(());
        }
        patch::apply_patches(&mut self.acc.res, specs, self.b.schema()).map_err(|e| {
            RenderError::Patch {
                file: self.file.to_string(),
                source: e.into(),
            }
        })?;
        self.run(kind, |_| Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_clean_folds_like_go_path_join() {
        assert_eq!(join_clean("", "dep.yaml"), "dep.yaml");
        assert_eq!(join_clean("../base", "dep.yaml"), "../base/dep.yaml");
        assert_eq!(join_clean("../base", "../other/x.yaml"), "../other/x.yaml");
        assert_eq!(join_clean("a", "../../b"), "../b");
        assert_eq!(join_clean("", "./x/./y.yaml"), "x/y.yaml");
    }
}
