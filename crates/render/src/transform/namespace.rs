//! The namespace transformer (`namespace:` and `NamespaceTransformer` entries).
//!
//! For every object, as kustomize v5.5 does it:
//! - `metadata.namespace` is set (created if missing) on objects kustomize considers namespaced
//!   ([`fjord_model::scope`]; custom kinds always count as namespaced), never on cluster-scoped
//!   ones, whatever the field specs say;
//! - RoleBinding/ClusterRoleBinding `subjects` get the namespace according to
//!   `setRoleBindingSubjects`: `defaultOnly` (the default) sets it on subjects *named*
//!   `default` (any kind), `allServiceAccounts` on subjects of kind ServiceAccount, `none` on
//!   none;
//! - then the field specs (the `namespace` table: a `v1` Namespace's own `metadata/name` —
//!   so `namespace: x` renames a `v1` Namespace object to `x`, other versions are left alone —,
//!   APIService `spec/service/namespace` (created), the CRD conversion webhook's
//!   `clientConfig/service/namespace`); webhook configurations are not touched;
//! - with `unsetOnly`, only empty or missing fields are set.
//!
//! Values are written as strings. Every object visited gets its id before the transformer
//! recorded in its history, even when nothing changed (kustomize does so, and it matters to
//! name-reference fixing, which only matches objects through their recorded ids); an object
//! that ends up with the id of another one is an error.

use crate::fieldspec::{split_path, walk, CreateKind, FieldSpec};
use crate::resource::{ResMap, Resource};
use crate::transform::error::{node_kind, TransformError};
use fjord_model::{scope, Gvk, ResId};
use fjord_yaml::{Node, Tag};
use std::collections::HashMap;

/// Which RoleBinding/ClusterRoleBinding subjects get the namespace (`setRoleBindingSubjects`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RoleBindingSubjects {
    /// Subjects named `default` (`defaultOnly`, the default).
    #[default]
    DefaultOnly,
    /// Subjects of kind ServiceAccount (`allServiceAccounts`).
    AllServiceAccounts,
    /// No subjects (`none`).
    None,
}

/// Options of the namespace transformer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NamespaceOptions {
    /// Only set namespace fields that are empty or missing (`unsetOnly`).
    pub unset_only: bool,
    /// `setRoleBindingSubjects`.
    pub role_binding_subjects: RoleBindingSubjects,
}

impl NamespaceOptions {
    /// Reads `unsetOnly` and `setRoleBindingSubjects` from a `NamespaceTransformer` config
    /// (other keys are left to the caller).
    pub fn parse(n: &Node) -> Result<NamespaceOptions, TransformError> {
        let mut out = NamespaceOptions::default();
        match n.get("unsetOnly") {
            None => {}
            Some(Node::Scalar(s)) if s.tag == Tag::Null => {}
            Some(Node::Scalar(s)) if s.tag == Tag::Bool => {
                out.unset_only = s.value.eq_ignore_ascii_case("true")
            }
            Some(_) => {
                return Err(TransformError::InvalidOption {
                    field: "unsetOnly".into(),
                    problem: "must be true or false".into(),
                })
            }
        }
        if let Some(v) = n.get("setRoleBindingSubjects").filter(|v| !v.is_null()) {
            out.role_binding_subjects = match v.as_str() {
                Some("defaultOnly") | Some("") => RoleBindingSubjects::DefaultOnly,
                Some("allServiceAccounts") => RoleBindingSubjects::AllServiceAccounts,
                Some("none") => RoleBindingSubjects::None,
                other => {
                    return Err(TransformError::InvalidOption {
                        field: "setRoleBindingSubjects".into(),
                        problem: format!(
                            "invalid value {:?}: must be one of \"defaultOnly\", \"none\" or \"allServiceAccounts\"",
                            other.unwrap_or_default()
                        ),
                    })
                }
            };
        }
        Ok(out)
    }
}

/// Sets namespace `ns` on every object (see the module docs). `specs` are the field specs
/// beyond `metadata.namespace` (normally the `namespace` table). An empty `ns` does nothing.
pub fn apply_namespace(
    res: &mut ResMap,
    ns: &str,
    opts: &NamespaceOptions,
    specs: &[FieldSpec],
) -> Result<(), TransformError> {
    if ns.is_empty() {
        return Ok(());
    }
    let mut counts: HashMap<(Gvk, String, String), usize> = HashMap::new();
    for r in res.iter() {
        *counts.entry(id_key(&r.id())).or_default() += 1;
    }
    for i in 0..res.len() {
        if res[i].obj.as_map().is_none_or(|m| m.is_empty()) {
            continue;
        }
        let before = res[i].id();
        transform_one(&mut res[i], ns, opts, specs)?;
        let after = res[i].id();
        // kustomize records the previous id of every object it visits, changed or not; name
        // references can then match objects whose name never changed.
        res[i].prev_ids.push(before.clone());
        if after != before {
            if let Some(c) = counts.get_mut(&id_key(&before)) {
                *c -= 1;
            }
            *counts.entry(id_key(&after)).or_default() += 1;
        }
        if counts.get(&id_key(&after)).copied().unwrap_or_default() > 1 {
            let other = res
                .iter()
                .enumerate()
                .find(|(j, o)| *j != i && id_key(&o.id()) == id_key(&after))
                .map(|(_, o)| o.id().dotted())
                .unwrap_or_default();
            return Err(TransformError::NamespaceIdConflict {
                first: after.dotted(),
                second: other,
            });
        }
    }
    Ok(())
}

/// The parts of an id kustomize compares (`ResId.Equals`): the namespace is compared
/// effectively (empty and `default` are the same; cluster-scoped objects have none).
fn id_key(id: &ResId) -> (Gvk, String, String) {
    let ns = if scope::is_cluster_scoped(&id.gvk) {
        String::new()
    } else if id.namespace.is_empty() {
        "default".to_string()
    } else {
        id.namespace.clone()
    };
    (id.gvk.clone(), id.name.clone(), ns)
}

/// Applies the transformer to one object.
fn transform_one(
    r: &mut Resource,
    ns: &str,
    opts: &NamespaceOptions,
    specs: &[FieldSpec],
) -> Result<(), TransformError> {
    let gvk = Gvk::of(&r.obj);
    let object = r.id().dotted();
    let set = |n: &mut Node| -> Result<(), &'static str> {
        match n {
            Node::Scalar(s) => {
                if !opts.unset_only || s.tag == Tag::Null || s.value.is_empty() {
                    *n = Node::string(ns);
                }
                Ok(())
            }
            other => Err(node_kind(other)),
        }
    };
    let wrong = |path: &str, found: &'static str| TransformError::WrongNodeKind {
        path: path.to_string(),
        object: object.clone(),
        expected: "ScalarNode",
        found,
    };
    if scope::is_namespaced(&gvk) {
        let path = split_path("metadata/namespace");
        walk(&mut r.obj, &path, Some(CreateKind::Scalar), &mut { set })
            .map_err(|f| wrong("metadata/namespace", f))?;
    }
    let binding = gvk.kind == "RoleBinding" || gvk.kind == "ClusterRoleBinding";
    if binding {
        set_subjects(&mut r.obj, opts, &set).map_err(|f| wrong("subjects", f))?;
    }
    let api_version = r
        .obj
        .str_at(&["apiVersion"])
        .unwrap_or_default()
        .to_string();
    for spec in specs.iter().filter(|s| s.selects(&gvk)) {
        if spec.path == "metadata/namespace"
            || (spec.path == "metadata/name" && api_version != "v1")
            || (binding
                && spec.path == "subjects/namespace"
                && (spec.kind == "RoleBinding" || spec.kind == "ClusterRoleBinding"))
        {
            continue;
        }
        let create = spec.create.then_some(CreateKind::Scalar);
        walk(&mut r.obj, &split_path(&spec.path), create, &mut { set })
            .map_err(|f| wrong(&spec.path, f))?;
    }
    Ok(())
}

/// The `setRoleBindingSubjects` rule over a binding's subjects.
fn set_subjects(
    obj: &mut Node,
    opts: &NamespaceOptions,
    set: &dyn Fn(&mut Node) -> Result<(), &'static str>,
) -> Result<(), &'static str> {
    let Some(Node::Seq(subjects)) = obj.get_mut("subjects") else {
        return Ok(());
    };
    for subject in subjects.iter_mut() {
        let Some(m) = subject.as_map_mut() else {
            continue;
        };
        let chosen = match opts.role_binding_subjects {
            RoleBindingSubjects::None => false,
            RoleBindingSubjects::DefaultOnly => {
                m.get("name").and_then(Node::as_str) == Some("default")
            }
            RoleBindingSubjects::AllServiceAccounts => {
                m.get("kind").and_then(Node::as_str) == Some("ServiceAccount")
            }
        };
        if chosen {
            set(m
                .entry("namespace".to_string())
                .or_insert_with(|| Node::scalar("", Tag::Null)))?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "namespace_tests.rs"]
mod tests;
