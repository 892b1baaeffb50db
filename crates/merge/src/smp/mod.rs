//! Strategic merge patch over [`Node`] trees, guided by a [`Schema`].
//!
//! Two flavors share one walk ([`Flavor`]):
//! - [`Flavor::Kustomize`] reproduces `kubectl kustomize` (kyaml's merge2 walk over the v1.21
//!   schema): merged keyed lists put the patch's elements first, in patch order, then the
//!   target's other elements; lists keyed by several fields (container and Service ports) follow
//!   kyaml's tuple bookkeeping (see `multikey`); `$retainKeys`, `$setElementOrder/…` and
//!   `$deleteFromPrimitiveList/…` are ordinary keys; fields newer than v1.21 are unknown.
//! - [`Flavor::ApiMachinery`] follows the API server: merged elements stay where they were,
//!   new ones are appended, and the directives above are honoured.
//!
//! Rules common to both: maps merge recursively; a `null` patch value deletes the key (and is
//! dropped from new content); lists whose field has the `merge` strategy merge by the merge key
//! (primitive lists are unioned); other lists are replaced; `$patch: replace|delete|merge` work
//! on maps and list elements, and `$patch: delete` on the whole patch deletes the object
//! ([`Outcome::Deleted`]).

mod list;
mod multikey;

use crate::schema::{FieldInfo, Schema, TypeId};
use fjord_model::Gvk;
use fjord_yaml::{Map, Node};

/// Which implementation's behaviour to reproduce.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Flavor {
    /// `kubectl kustomize` v5 (kyaml merge2), for the renderer.
    #[default]
    Kustomize,
    /// The Kubernetes API server (apimachinery's strategicpatch), for the embedded server.
    ApiMachinery,
}

impl Flavor {
    /// The newest Kubernetes minor release whose schema the flavor knows.
    fn max_minor(self) -> Option<u16> {
        match self {
            // kustomize embeds the v1.21.2 OpenAPI document.
            Flavor::Kustomize => Some(21),
            Flavor::ApiMachinery => None,
        }
    }
}

/// What happened to the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The target was patched in place.
    Patched,
    /// The patch said `$patch: delete` at the top: the caller must delete the object.
    Deleted,
}

/// Why a strategic merge patch failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SmpError {
    /// The patch document is not a mapping.
    #[error("strategic merge patch is not a mapping")]
    PatchNotMap,
    /// The target document is not a mapping.
    #[error("strategic merge patch target is not a mapping")]
    TargetNotMap,
    /// The patch and the target disagree on a field's node kind (kustomize refuses this).
    #[error("wrong node kind at {path}: patch has a {patch} but the target has a {target}")]
    KindMismatch {
        /// Dotted path of the field.
        path: String,
        /// The patch value's kind.
        patch: &'static str,
        /// The target value's kind.
        target: &'static str,
    },
    /// `$patch` has a value other than `replace`, `delete` or `merge`.
    #[error("unknown $patch directive {value:?} at {path}")]
    UnknownDirective {
        /// Dotted path of the mapping.
        path: String,
        /// The value found.
        value: String,
    },
    /// A directive's value has the wrong shape (`$retainKeys` must be a list of strings…).
    #[error("invalid {directive} at {path}")]
    BadDirective {
        /// Dotted path of the mapping.
        path: String,
        /// The directive key.
        directive: String,
    },
    /// A list element lacks the list's merge key (the API server refuses this).
    #[error("{path}: element does not contain declared merge key {key:?}")]
    MissingMergeKey {
        /// Dotted path of the list.
        path: String,
        /// The merge key.
        key: String,
    },
}

/// Applies `patch` to `target` (an object whose `apiVersion`/`kind` select its root type).
pub fn apply(
    target: &mut Node,
    patch: &Node,
    schema: &Schema,
    flavor: Flavor,
) -> Result<Outcome, SmpError> {
    let root = schema.root_at(&Gvk::of(target), flavor.max_minor());
    apply_typed(target, patch, root, schema, flavor)
}

/// Applies `patch` to `target` whose type is `root` (`None`: deduce everything).
pub fn apply_typed(
    target: &mut Node,
    patch: &Node,
    root: Option<TypeId>,
    schema: &Schema,
    flavor: Flavor,
) -> Result<Outcome, SmpError> {
    let pmap = patch.as_map().ok_or(SmpError::PatchNotMap)?;
    if target.is_null() {
        *target = Node::map();
    }
    let tmap = target.as_map_mut().ok_or(SmpError::TargetNotMap)?;
    let walker = Walker { schema, flavor };
    let mut path = Vec::new();
    match walker.merge_map(tmap, pmap, root, &mut path)? {
        MapResult::Keep => Ok(Outcome::Patched),
        MapResult::Delete => Ok(Outcome::Deleted),
    }
}

/// What the caller must do with a merged mapping.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum MapResult {
    /// Keep it.
    Keep,
    /// Remove it (`$patch: delete`).
    Delete,
}

/// The `$patch` key.
pub(crate) const PATCH: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ORDER: &str = "$setElementOrder/";
const DELETE_PRIMITIVE: &str = "$deleteFromPrimitiveList/";

/// The state of one patch application.
pub(crate) struct Walker<'s> {
    pub(crate) schema: &'s Schema,
    pub(crate) flavor: Flavor,
}

/// A node's kind, for messages.
pub(crate) fn kind_name(n: &Node) -> &'static str {
    match n {
        Node::Scalar(_) => "scalar",
        Node::Seq(_) => "sequence",
        Node::Map(_) => "mapping",
    }
}

/// The dotted form of a path.
pub(crate) fn dotted(path: &[String]) -> String {
    if path.is_empty() {
        ".".to_string()
    } else {
        path.join(".")
    }
}

impl Walker<'_> {
    /// The field `name` of type `ty`, as this flavor's schema knows it.
    pub(crate) fn field(&self, ty: Option<TypeId>, name: &str) -> Option<&FieldInfo> {
        let info = self.schema.field(ty?, name)?;
        match self.flavor.max_minor() {
            Some(m) if info.since > m => None,
            _ => Some(info),
        }
    }

    /// The `$patch` directive of a patch mapping.
    pub(crate) fn directive(
        &self,
        pmap: &Map,
        path: &[String],
    ) -> Result<Option<Directive>, SmpError> {
        let Some(v) = pmap.get(PATCH) else {
            return Ok(None);
        };
        match v.as_str() {
            Some("replace") => Ok(Some(Directive::Replace)),
            Some("delete") => Ok(Some(Directive::Delete)),
            Some("merge") => Ok(Some(Directive::Merge)),
            other => Err(SmpError::UnknownDirective {
                path: dotted(path),
                value: other.unwrap_or("null").to_string(),
            }),
        }
    }

    /// Merges patch mapping `pmap` into `tmap` (of type `ty`).
    pub(crate) fn merge_map(
        &self,
        tmap: &mut Map,
        pmap: &Map,
        ty: Option<TypeId>,
        path: &mut Vec<String>,
    ) -> Result<MapResult, SmpError> {
        match self.directive(pmap, path)? {
            Some(Directive::Delete) => return Ok(MapResult::Delete),
            Some(Directive::Replace) => {
                tmap.clear();
                let without: Map = pmap
                    .iter()
                    .filter(|(k, _)| *k != PATCH)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                return self.merge_map(tmap, &without, ty, path);
            }
            Some(Directive::Merge) | None => {}
        }
        let api = self.flavor == Flavor::ApiMachinery;
        if api {
            self.retain_keys(tmap, pmap, path)?;
        }
        for (k, pv) in pmap {
            if k == PATCH {
                continue;
            }
            if api && (k == RETAIN_KEYS || k.starts_with(SET_ORDER)) {
                continue;
            }
            if api {
                if let Some(field) = k.strip_prefix(DELETE_PRIMITIVE) {
                    list::delete_from_primitive(tmap, field, pv, path)?;
                    continue;
                }
            }
            path.push(k.clone());
            self.merge_field(tmap, k, pv, ty, pmap, path)?;
            path.pop();
        }
        Ok(MapResult::Keep)
    }

    /// Merges one patch field into the target mapping.
    fn merge_field(
        &self,
        tmap: &mut Map,
        k: &str,
        pv: &Node,
        ty: Option<TypeId>,
        pmap: &Map,
        path: &mut Vec<String>,
    ) -> Result<(), SmpError> {
        let info = self.field(ty, k);
        let present = tmap.get(k).filter(|n| !n.is_null());
        match pv {
            Node::Scalar(s) if s.tag == fjord_yaml::Tag::Null => {
                tmap.shift_remove(k);
            }
            Node::Scalar(_) => {
                if let (Some(t @ (Node::Map(_) | Node::Seq(_))), Flavor::Kustomize) =
                    (present, self.flavor)
                {
                    return Err(self.mismatch(pv, t, path));
                }
                tmap.insert(k.to_string(), pv.clone());
            }
            Node::Map(pm) => {
                let child_ty = info.filter(|i| !i.is_list).and_then(|i| i.ty);
                let mut current = match present {
                    Some(Node::Map(m)) => m.clone(),
                    Some(other) if self.flavor == Flavor::Kustomize => {
                        return Err(self.mismatch(pv, other, path));
                    }
                    _ => Map::new(),
                };
                match self.merge_map(&mut current, pm, child_ty, path)? {
                    MapResult::Delete => {
                        tmap.shift_remove(k);
                    }
                    MapResult::Keep => {
                        tmap.insert(k.to_string(), Node::Map(current));
                    }
                }
            }
            Node::Seq(items) => {
                let merges = info.is_some_and(|i| i.is_list && i.smp.strategy.merges());
                if let (Some(t @ (Node::Map(_) | Node::Scalar(_))), Flavor::Kustomize) =
                    (present, self.flavor)
                {
                    return Err(self.mismatch(pv, t, path));
                }
                if !merges {
                    tmap.insert(k.to_string(), pv.clone());
                    return Ok(());
                }
                let info = info.cloned().unwrap_or_default();
                let dest: Vec<Node> = match present {
                    Some(Node::Seq(d)) => d.clone(),
                    _ => Vec::new(),
                };
                let order = pmap
                    .get(&format!("{SET_ORDER}{k}"))
                    .filter(|_| self.flavor == Flavor::ApiMachinery);
                let merged = self.merge_list(dest, items, &info, order, path)?;
                tmap.insert(k.to_string(), Node::Seq(merged));
            }
        }
        Ok(())
    }

    /// A kind-mismatch error at `path`.
    fn mismatch(&self, patch: &Node, target: &Node, path: &[String]) -> SmpError {
        SmpError::KindMismatch {
            path: dotted(path),
            patch: kind_name(patch),
            target: kind_name(target),
        }
    }

    /// `$retainKeys`: clears the target keys the list does not name.
    fn retain_keys(&self, tmap: &mut Map, pmap: &Map, path: &[String]) -> Result<(), SmpError> {
        let Some(v) = pmap.get(RETAIN_KEYS) else {
            return Ok(());
        };
        let bad = || SmpError::BadDirective {
            path: dotted(path),
            directive: RETAIN_KEYS.into(),
        };
        let keep: Vec<&str> = v
            .as_seq()
            .ok_or_else(bad)?
            .iter()
            .map(|n| n.as_str().ok_or_else(bad))
            .collect::<Result<_, _>>()?;
        tmap.retain(|k, _| keep.contains(&k.as_str()));
        Ok(())
    }
}

/// A `$patch` directive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Directive {
    /// Replace the mapping or list.
    Replace,
    /// Delete the mapping or element.
    Delete,
    /// The default.
    Merge,
}

#[cfg(test)]
mod tests;
