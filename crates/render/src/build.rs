//! The kustomize build: accumulate resources level by level, run each level's generators and
//! transformers, then the top-level finishing steps (hash suffixes, name references, vars).
//!
//! The structure follows kustomize's `KustTarget`:
//! - a kustomization's `resources` are read (files) or built recursively (directories) into a
//!   fresh accumulator each, then appended;
//! - its `configurations`/`crds` extend the field-spec configuration and its generators add
//!   objects; then its `components` run on the same accumulator; then its transformers run in kustomize's fixed order, its `vars` are collected, and
//!   objects marked `config.kubernetes.io/local-config: "true"` are dropped;
//! - at the top only: content-hash suffixes, name-reference fixing, vars substitution, sorting.

use crate::error::RenderError;
use crate::kustomization::{KustKind, Kustomization};
use crate::level::{Accumulator, Builder, ConfigObjects, Level};
use crate::loader::Loader;
use crate::metadata;
use crate::resource::{ResMap, Resource};
use fjord_yaml::Node;

impl ConfigObjects for Builder {
    /// The objects named by a `generators:`/`transformers:` entry that is a path: a file of
    /// configuration objects, or a kustomization directory that builds them.
    fn config_objects(
        &mut self,
        loader: &Loader,
        kust: &Kustomization,
        field: &str,
        entry: &str,
        level: &Level,
    ) -> Result<Vec<Node>, RenderError> {
        let wrap = |e: RenderError| RenderError::Entry {
            file: kust.shown(),
            field: field.to_string(),
            entry: entry.to_string(),
            source: Box::new(e),
        };
        if loader.root().join(entry).is_dir() {
            let sub = loader.sub(entry).map_err(|e| wrap(e.into()))?;
            let child = Kustomization::load(&sub).map_err(|e| wrap(e.into()))?;
            let sub_acc = self.build_child(&sub, &child, level, entry).map_err(wrap)?;
            return Ok(sub_acc.res.into_iter().map(|r| r.obj).collect());
        }
        let bytes = loader.read(entry).map_err(|e| wrap(e.into()))?;
        let objects = parse_objects(&bytes, &level.rel(entry)).map_err(wrap)?;
        loader
            .budget()
            .produce(&level.rel(entry), objects.len() as u64)
            .map_err(|e| wrap(e.into()))?;
        Ok(objects)
    }
}

impl Builder {
    /// Builds the kustomization in `loader`'s root (or `root`, bytes read in its place), as the
    /// top of the build; `overrides` (an application's `source.kustomize` options) runs its
    /// transformers as one more level above it, before the top-level finishing steps.
    pub(crate) fn build_top(
        &mut self,
        loader: &Loader,
        overrides: Option<&Kustomization>,
        root: Option<&[u8]>,
    ) -> Result<(ResMap, Option<crate::order::SortOrder>), RenderError> {
        let kust = Kustomization::load_with(loader, root)?;
        let sort = kust.fields.sort_options.clone()?;
        if let Some(meta) = kust.fields.build_metadata.clone()? {
            self.meta = meta;
        }
        let mut acc = Accumulator::default();
        self.accumulate(loader, &kust, &mut acc, &Level::default())?;
        if let Some(over) = overrides {
            crate::plan::transform_level(self, loader, over, &mut acc, &Level::default())?;
            acc.res.retain(|r| !metadata::is_local_config(r));
        }
        crate::generate::apply_hash_suffixes(&mut acc.res).map_err(|e| RenderError::Generate {
            file: kust.shown(),
            source: e.into(),
        })?;
        crate::transform::nameref::fix_name_references(&mut acc.res, &acc.config).map_err(|e| {
            RenderError::Transform {
                file: kust.shown(),
                source: e.into(),
            }
        })?;
        crate::vars::resolve(&mut acc.res, &acc.vars, &acc.config.var_reference).map_err(|e| {
            RenderError::Vars {
                file: kust.shown(),
                source: e.into(),
            }
        })?;
        for r in &mut acc.res {
            metadata::finish(r, self.meta);
        }
        Ok((acc.res, sort))
    }

    /// Builds the kustomization `entry` of `level` (in `sub`) into a fresh accumulator.
    fn build_child(
        &mut self,
        sub: &Loader,
        child: &Kustomization,
        level: &Level,
        entry: &str,
    ) -> Result<Accumulator, RenderError> {
        let mut sub_acc = Accumulator::default();
        self.accumulate(
            sub,
            child,
            &mut sub_acc,
            &Level {
                prefix: level.rel(entry),
            },
        )?;
        Ok(sub_acc)
    }

    /// Runs one kustomization (or component) into `acc`.
    fn accumulate(
        &mut self,
        loader: &Loader,
        kust: &Kustomization,
        acc: &mut Accumulator,
        level: &Level,
    ) -> Result<(), RenderError> {
        let root = loader.root().to_path_buf();
        if self.stack.contains(&root) {
            return Err(RenderError::Cycle {
                dir: root.display().to_string(),
            });
        }
        self.stack.push(root);
        let result = self.accumulate_inner(loader, kust, acc, level);
        self.stack.pop();
        result
    }

    fn accumulate_inner(
        &mut self,
        loader: &Loader,
        kust: &Kustomization,
        acc: &mut Accumulator,
        level: &Level,
    ) -> Result<(), RenderError> {
        refuse_unsupported(kust)?;
        // The ids present, kept up to date while resources are added (rebuilding them for
        // every entry would be quadratic in the number of objects).
        let mut seen = SeenIds::of(&acc.res);
        for entry in &kust.resources {
            self.add_resource(loader, kust, entry, acc, level, &mut seen)?;
        }
        crate::plan::generate_level(self, loader, kust, acc, level)?;
        for entry in &kust.components {
            let sub = loader.sub(entry).map_err(|e| RenderError::Entry {
                file: kust.shown(),
                field: "components".into(),
                entry: entry.clone(),
                source: Box::new(e.into()),
            })?;
            let comp = Kustomization::load(&sub)?;
            if comp.kind != KustKind::Component {
                return Err(RenderError::Field {
                    file: comp.shown(),
                    field: "kind".into(),
                    problem: format!(
                        "'{entry}' is listed in components of {} but is not a Component",
                        kust.shown()
                    ),
                });
            }
            self.accumulate(
                &sub,
                &comp,
                acc,
                &Level {
                    prefix: level.rel(entry),
                },
            )?;
        }
        crate::plan::transform_level(self, loader, kust, acc, level)?;
        acc.res.retain(|r| !metadata::is_local_config(r));
        // Transformers can grow objects (replacements, patches): bounded at every level.
        loader.budget().check_rendered(
            acc.res
                .iter()
                .map(|r| crate::limits::approx_size(&r.obj))
                .sum(),
        )?;
        Ok(())
    }

    /// Adds one `resources:` entry: a file of objects, or a directory holding a kustomization.
    fn add_resource(
        &mut self,
        loader: &Loader,
        kust: &Kustomization,
        entry: &str,
        acc: &mut Accumulator,
        level: &Level,
        seen: &mut SeenIds,
    ) -> Result<(), RenderError> {
        let wrap = |e: RenderError| RenderError::Entry {
            file: kust.shown(),
            field: "resources".into(),
            entry: entry.to_string(),
            source: Box::new(e),
        };
        if is_remote(entry) {
            return Err(wrap(RenderError::Unsupported {
                what: "remote resources (git or http URLs) are not supported; vendor the base into the repository".into(),
            }));
        }
        if loader.root().join(entry).is_dir() {
            let sub = loader.sub(entry).map_err(|e| wrap(e.into()))?;
            let child = Kustomization::load(&sub).map_err(|e| wrap(e.into()))?;
            if child.kind == KustKind::Component {
                return Err(wrap(RenderError::Field {
                    file: child.shown(),
                    field: "kind".into(),
                    problem: "a Component can only be listed under components, not resources"
                        .into(),
                }));
            }
            let sub_acc = self.build_child(&sub, &child, level, entry)?;
            append_all(&mut acc.res, sub_acc.res, &kust.shown(), seen)?;
            acc.config
                .merge(&sub_acc.config)
                .map_err(|e| RenderError::Transform {
                    file: kust.shown(),
                    source: e.into(),
                })?;
            crate::vars::merge(&mut acc.vars, sub_acc.vars).map_err(|e| RenderError::Vars {
                file: kust.shown(),
                source: e.into(),
            })?;
            return Ok(());
        }
        let bytes = loader.read(entry).map_err(|e| wrap(e.into()))?;
        let origin = level.rel(entry);
        let objects = parse_objects(&bytes, &origin).map_err(wrap)?;
        loader
            .budget()
            .produce(&origin, objects.len() as u64)
            .map_err(|e| wrap(e.into()))?;
        let resources = objects
            .into_iter()
            .map(|mut o| {
                if self.meta.origin {
                    metadata::set_annotation(
                        &mut o,
                        metadata::ORIGIN_ANNOTATION,
                        format!("path: {origin}\n"),
                    );
                }
                Resource::new(o, origin.clone())
            })
            .collect();
        append_all(&mut acc.res, resources, &kust.shown(), seen)
    }
}

/// Parses a file of objects, flattening `List` kinds.
pub(crate) fn parse_objects(bytes: &[u8], file: &str) -> Result<Vec<Node>, RenderError> {
    let docs = fjord_yaml::parse_documents(bytes).map_err(|source| RenderError::Parse {
        file: file.to_string(),
        source,
    })?;
    let mut out = Vec::with_capacity(docs.len());
    for (i, doc) in docs.into_iter().enumerate() {
        flatten(doc, file, i + 1, &mut out)?;
    }
    Ok(out)
}

fn flatten(doc: Node, file: &str, index: usize, out: &mut Vec<Node>) -> Result<(), RenderError> {
    if doc.is_null() {
        return Ok(());
    }
    if !matches!(doc, Node::Map(_)) {
        return Err(RenderError::NotAnObject {
            file: file.to_string(),
            index,
            problem: "not a mapping".into(),
        });
    }
    let kind = doc.str_at(&["kind"]).unwrap_or_default();
    if kind.ends_with("List") {
        if let Some(Node::Seq(items)) = doc.get("items") {
            for item in items.clone() {
                flatten(item, file, index, out)?;
            }
            return Ok(());
        }
    }
    if kind.is_empty() {
        return Err(RenderError::NotAnObject {
            file: file.to_string(),
            index,
            problem: "missing kind".into(),
        });
    }
    if doc.str_at(&["metadata", "name"]).is_none()
        && doc.get_path(&["metadata", "generateName"]).is_none()
    {
        return Err(RenderError::NotAnObject {
            file: file.to_string(),
            index,
            problem: "missing metadata.name".into(),
        });
    }
    out.push(doc);
    Ok(())
}

/// Appends objects, refusing an id that is already present (kustomize treats an empty
/// namespace and `default` as the same).
pub(crate) fn append_all(
    res: &mut ResMap,
    new: ResMap,
    file: &str,
    seen: &mut SeenIds,
) -> Result<(), RenderError> {
    for r in &new {
        if !seen.0.insert(IdKey::of(&r.obj).owned()) {
            return Err(RenderError::DuplicateId {
                file: file.to_string(),
                id: r.id().to_string(),
                origin: r.origin.clone(),
            });
        }
    }
    res.extend(new);
    Ok(())
}

/// The ids of the objects in a [`ResMap`] (apiVersion, kind, namespace with "" read as
/// `default`, name), for duplicate checks while it grows.
pub(crate) struct SeenIds(std::collections::HashSet<[String; 4]>);

impl SeenIds {
    /// The ids of `res`.
    pub(crate) fn of(res: &ResMap) -> SeenIds {
        SeenIds(res.iter().map(|r| IdKey::of(&r.obj).owned()).collect())
    }
}

/// An object's id, borrowed, with kustomize's namespace equality ("" is "default").
#[derive(Hash, PartialEq, Eq)]
struct IdKey<'a> {
    api_version: &'a str,
    kind: &'a str,
    namespace: &'a str,
    name: &'a str,
}

impl<'a> IdKey<'a> {
    fn owned(&self) -> [String; 4] {
        [
            self.api_version.to_string(),
            self.kind.to_string(),
            self.namespace.to_string(),
            self.name.to_string(),
        ]
    }

    fn of(obj: &'a Node) -> IdKey<'a> {
        let s = |p: &[&str]| obj.str_at(p).unwrap_or_default();
        let ns = s(&["metadata", "namespace"]);
        IdKey {
            api_version: s(&["apiVersion"]),
            kind: s(&["kind"]),
            namespace: if ns.is_empty() { "default" } else { ns },
            name: s(&["metadata", "name"]),
        }
    }
}

/// Whether a resource entry names a remote base.
fn is_remote(entry: &str) -> bool {
    entry.contains("://")
        || entry.starts_with("git@")
        || entry.starts_with("github.com/")
        || entry.starts_with("gitlab.com/")
        || entry.starts_with("bitbucket.org/")
        || entry.contains("?ref=")
        || entry.contains(".git//")
}

/// Refuses the fields fjord deliberately does not run.
fn refuse_unsupported(kust: &Kustomization) -> Result<(), RenderError> {
    if let Some(field) = kust.fields.helm {
        return Err(RenderError::Field {
            file: kust.shown(),
            field: field.into(),
            problem: "helm charts are not supported by fjord (no --enable-helm); render the chart into the repository".into(),
        });
    }
    if kust.fields.validators {
        return Err(RenderError::Field {
            file: kust.shown(),
            field: "validators".into(),
            problem: "validator plugins are not supported by fjord".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_entries_are_recognised() {
        assert!(is_remote("github.com/org/repo//path?ref=v1"));
        assert!(is_remote("https://example.com/x.yaml"));
        assert!(!is_remote("../base"));
    }
}
