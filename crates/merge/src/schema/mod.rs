//! The schema table: a type graph of Kubernetes kinds with the merge facts of each field.
//!
//! Every field records two sets of facts that differ on purpose:
//! - strategic merge patch ([`SmpStrategy`]): `x-kubernetes-patch-strategy` and
//!   `x-kubernetes-patch-merge-key` (container ports merge by `containerPort` alone);
//! - server-side apply ([`ListType`], [`FieldInfo::map_atomic`]): `x-kubernetes-list-type`,
//!   `x-kubernetes-list-map-keys` with key defaults, `x-kubernetes-map-type` (container ports are
//!   keyed by `containerPort` and `protocol`, `protocol` defaulting to `TCP`).
//!
//! The built-in table ([`Schema::builtin`]) is parsed once from `data/builtin-schema.txt`.
//! Custom kinds are added from a swagger 2.0 document ([`Schema::extend_from_openapi`]) or from
//! a CustomResourceDefinition ([`Schema::extend_from_crd`]). Kinds and fields that the table
//! does not know are "deduced": maps merge, lists are replaced (SMP) or atomic (SSA).

mod openapi;
mod text;

use fjord_model::Gvk;
use std::collections::HashMap;
use std::sync::OnceLock;

pub use openapi::OpenApiError;
pub use text::TextError;

/// The built-in table, in fjord's compact text format.
const BUILTIN_TEXT: &str = include_str!("../../data/builtin-schema.txt");

/// Names a type in one [`Schema`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TypeId(u32);

/// `x-kubernetes-patch-strategy` of a field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PatchStrategy {
    /// No strategy: a patch value replaces the field (the default for lists).
    #[default]
    Replace,
    /// `merge`: list elements merge by the merge key (primitive lists are unioned).
    Merge,
    /// `retainKeys`: a map patch clears the keys it does not name (a union type).
    RetainKeys,
    /// `merge,retainKeys`: both (`volumes`).
    MergeRetainKeys,
}

impl PatchStrategy {
    /// Parses the extension's value (`merge`, `retainKeys`, `merge,retainKeys`, `replace`).
    pub fn parse(s: &str) -> Option<PatchStrategy> {
        let mut merge = false;
        let mut retain = false;
        for part in s.split([',', '+']).map(str::trim) {
            match part {
                "merge" => merge = true,
                "retainKeys" => retain = true,
                "replace" | "" => {}
                _ => return None,
            }
        }
        Some(match (merge, retain) {
            (true, true) => PatchStrategy::MergeRetainKeys,
            (true, false) => PatchStrategy::Merge,
            (false, true) => PatchStrategy::RetainKeys,
            (false, false) => PatchStrategy::Replace,
        })
    }

    /// True for `merge` and `merge,retainKeys`.
    pub fn merges(self) -> bool {
        matches!(self, PatchStrategy::Merge | PatchStrategy::MergeRetainKeys)
    }

    /// True for `retainKeys` and `merge,retainKeys`.
    pub fn retains_keys(self) -> bool {
        matches!(
            self,
            PatchStrategy::RetainKeys | PatchStrategy::MergeRetainKeys
        )
    }
}

/// The strategic-merge facts of a field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SmpStrategy {
    /// `x-kubernetes-patch-strategy`.
    pub strategy: PatchStrategy,
    /// `x-kubernetes-patch-merge-key`: the element field lists of maps merge by.
    pub merge_key: Option<String>,
}

/// The server-side-apply list semantics of a field (`x-kubernetes-list-type`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ListType {
    /// The list is one value, replaced whole (the default).
    #[default]
    Atomic,
    /// A set of scalars.
    Set,
    /// A map keyed by the element fields `keys`.
    Map {
        /// `x-kubernetes-list-map-keys`.
        keys: Vec<String>,
        /// Values a key takes when an element omits it (`protocol` → `TCP`).
        defaults: Vec<(String, String)>,
    },
}

/// Everything the table says about one field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldInfo {
    /// The struct type of the value, or of each element for a list; `None` for scalars and
    /// free-form values.
    pub ty: Option<TypeId>,
    /// The field holds a list.
    pub is_list: bool,
    /// Strategic-merge facts.
    pub smp: SmpStrategy,
    /// Server-side-apply list facts (meaningful when `is_list`).
    pub list: ListType,
    /// `x-kubernetes-map-type: atomic`, on the field or on its type.
    pub map_atomic: bool,
    /// The Kubernetes minor release that added the field (0: always there). kustomize's
    /// strategic merge knows the v1.21 schema only; see [`crate::smp::Flavor`].
    pub since: u16,
}

/// One type: its fields, and optionally the type of free keys.
#[derive(Clone, Debug, Default)]
pub struct TypeDef {
    /// The type's name in the table.
    pub name: String,
    /// Named fields.
    pub fields: HashMap<String, FieldInfo>,
    /// Fields not named above (a map with free keys: `additionalProperties`).
    pub additional: Option<FieldInfo>,
    /// `x-kubernetes-map-type: atomic` on the type itself.
    pub atomic: bool,
}

/// A kind's root type and the release that added the kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Root {
    ty: TypeId,
    since: u16,
}

/// A type graph of kinds. See the module docs.
#[derive(Clone, Debug, Default)]
pub struct Schema {
    types: Vec<TypeDef>,
    by_name: HashMap<String, TypeId>,
    roots: HashMap<Gvk, Root>,
}

impl Schema {
    /// An empty schema: every kind is deduced.
    pub fn empty() -> Schema {
        Schema::default()
    }

    /// The built-in table of Kubernetes v1.32 kinds, parsed once.
    pub fn builtin() -> &'static Schema {
        static BUILTIN: OnceLock<Schema> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            // The data file is ours and tested; a parse failure is a build defect.
            Schema::from_text(BUILTIN_TEXT).unwrap_or_else(|e| panic!("builtin-schema.txt: {e}"))
        })
    }

    /// Parses a table in fjord's text format (see `data/builtin-schema.txt`).
    pub fn from_text(text: &str) -> Result<Schema, TextError> {
        let mut s = Schema::default();
        text::parse_into(&mut s, text)?;
        s.resolve_atomic();
        Ok(s)
    }

    /// The root type of a kind, if known.
    pub fn root(&self, gvk: &Gvk) -> Option<TypeId> {
        self.roots.get(gvk).map(|r| r.ty)
    }

    /// The root type of a kind as a schema of release `1.max_minor` would know it.
    pub fn root_at(&self, gvk: &Gvk, max_minor: Option<u16>) -> Option<TypeId> {
        let r = self.roots.get(gvk)?;
        match max_minor {
            Some(m) if r.since > m => None,
            _ => Some(r.ty),
        }
    }

    /// A field of a type (a named field, else the type's free-key field).
    pub fn field(&self, ty: TypeId, name: &str) -> Option<&FieldInfo> {
        let def = self.types.get(ty.0 as usize)?;
        def.fields.get(name).or(def.additional.as_ref())
    }

    /// A type's definition.
    pub fn type_def(&self, ty: TypeId) -> Option<&TypeDef> {
        self.types.get(ty.0 as usize)
    }

    /// A type by its table name (e.g. `PodSpec`, or a swagger definition name).
    pub fn type_named(&self, name: &str) -> Option<TypeId> {
        self.by_name.get(name).copied()
    }

    /// The kinds the schema knows.
    pub fn kinds(&self) -> impl Iterator<Item = &Gvk> {
        self.roots.keys()
    }

    /// Adds the definitions of a swagger 2.0 document (`definitions` with
    /// `x-kubernetes-group-version-kind`), as kustomize's `openapi: {path: …}` does. Kinds it
    /// defines replace the same kinds already known.
    pub fn extend_from_openapi(&mut self, doc: &fjord_yaml::Node) -> Result<(), OpenApiError> {
        openapi::extend_from_swagger(self, doc)?;
        self.resolve_atomic();
        Ok(())
    }

    /// Adds the kinds a CustomResourceDefinition serves, from each version's
    /// `schema.openAPIV3Schema` (list types, list-map keys, map types; CRDs carry no
    /// strategic-merge facts).
    pub fn extend_from_crd(&mut self, crd: &fjord_yaml::Node) -> Result<(), OpenApiError> {
        openapi::extend_from_crd(self, crd)?;
        self.resolve_atomic();
        Ok(())
    }

    /// The built-in table plus the kinds of one CRD.
    pub fn from_crd(crd: &fjord_yaml::Node) -> Result<Schema, OpenApiError> {
        let mut s = Schema::builtin().clone();
        s.extend_from_crd(crd)?;
        Ok(s)
    }

    /// The type called `name`, created empty if new.
    pub(crate) fn intern(&mut self, name: &str) -> TypeId {
        if let Some(id) = self.by_name.get(name) {
            return *id;
        }
        let id = TypeId(self.types.len() as u32);
        self.types.push(TypeDef {
            name: name.to_string(),
            ..TypeDef::default()
        });
        self.by_name.insert(name.to_string(), id);
        id
    }

    /// A fresh anonymous type (named `prefix#n`).
    pub(crate) fn anonymous(&mut self, prefix: &str) -> TypeId {
        let name = format!("{prefix}#{}", self.types.len());
        self.intern(&name)
    }

    /// Mutable access to a type's definition.
    pub(crate) fn def_mut(&mut self, ty: TypeId) -> &mut TypeDef {
        &mut self.types[ty.0 as usize]
    }

    /// Records a kind's root type.
    pub(crate) fn set_root(&mut self, gvk: Gvk, ty: TypeId, since: u16) {
        self.roots.insert(gvk, Root { ty, since });
    }

    /// Marks fields whose type is atomic as atomic maps.
    fn resolve_atomic(&mut self) {
        let atomic: Vec<bool> = self.types.iter().map(|t| t.atomic).collect();
        for def in &mut self.types {
            for f in def.fields.values_mut().chain(def.additional.as_mut()) {
                if !f.is_list && f.ty.is_some_and(|t| atomic[t.0 as usize]) {
                    f.map_atomic = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path<'a>(s: &'a Schema, gvk: &Gvk, fields: &[&str]) -> &'a FieldInfo {
        let mut ty = s.root(gvk).expect("root");
        let mut last = None;
        for f in fields {
            let info = s.field(ty, f).unwrap_or_else(|| panic!("field {f}"));
            if let Some(t) = info.ty {
                ty = t;
            }
            last = Some(info);
        }
        last.expect("at least one field")
    }

    #[test]
    fn builtin_parses_and_knows_deployment_containers() {
        let s = Schema::builtin();
        let d = Gvk::new("apps", "v1", "Deployment");
        let c = path(s, &d, &["spec", "template", "spec", "containers"]);
        assert!(c.is_list);
        assert_eq!(c.smp.merge_key.as_deref(), Some("name"));
        assert!(c.smp.strategy.merges());
        let ports = path(s, &d, &["spec", "template", "spec", "containers", "ports"]);
        assert_eq!(ports.smp.merge_key.as_deref(), Some("containerPort"));
        assert_eq!(
            ports.list,
            ListType::Map {
                keys: vec!["containerPort".into(), "protocol".into()],
                defaults: vec![("protocol".into(), "TCP".into())]
            }
        );
    }

    #[test]
    fn smp_and_ssa_keys_differ_for_service_ports() {
        let s = Schema::builtin();
        let ports = path(s, &Gvk::new("", "v1", "Service"), &["spec", "ports"]);
        assert_eq!(ports.smp.merge_key.as_deref(), Some("port"));
        assert!(matches!(&ports.list, ListType::Map { keys, .. } if keys.len() == 2));
    }

    #[test]
    fn atomic_types_mark_fields() {
        let s = Schema::builtin();
        let sel = path(
            s,
            &Gvk::new("apps", "v1", "Deployment"),
            &["spec", "selector"],
        );
        assert!(sel.map_atomic);
        let ns = path(s, &Gvk::new("", "v1", "Pod"), &["spec", "nodeSelector"]);
        assert!(ns.map_atomic);
        let labels = path(s, &Gvk::new("", "v1", "Pod"), &["metadata", "labels"]);
        assert!(!labels.map_atomic);
        // Free keys of a map resolve to the value type.
        let v = path(
            s,
            &Gvk::new("", "v1", "Pod"),
            &["metadata", "labels", "anything"],
        );
        assert!(!v.is_list && v.ty.is_none());
    }

    #[test]
    fn metadata_lists() {
        let s = Schema::builtin();
        let g = Gvk::new("", "v1", "ConfigMap");
        let f = path(s, &g, &["metadata", "finalizers"]);
        assert_eq!(f.list, ListType::Set);
        assert!(f.smp.strategy.merges() && f.smp.merge_key.is_none());
        let o = path(s, &g, &["metadata", "ownerReferences"]);
        assert_eq!(o.smp.merge_key.as_deref(), Some("uid"));
    }

    #[test]
    fn cronjob_job_template_reaches_containers() {
        let s = Schema::builtin();
        let g = Gvk::new("batch", "v1", "CronJob");
        let env = path(
            s,
            &g,
            &[
                "spec",
                "jobTemplate",
                "spec",
                "template",
                "spec",
                "initContainers",
                "env",
            ],
        );
        assert_eq!(env.smp.merge_key.as_deref(), Some("name"));
        let vct = path(
            s,
            &Gvk::new("apps", "v1", "StatefulSet"),
            &["spec", "volumeClaimTemplates"],
        );
        assert_eq!(vct.list, ListType::Atomic);
        assert!(vct.ty.is_some());
    }

    #[test]
    fn since_hides_newer_kinds_and_fields() {
        let s = Schema::builtin();
        let hpa = Gvk::new("autoscaling", "v2", "HorizontalPodAutoscaler");
        assert!(s.root(&hpa).is_some());
        assert!(s.root_at(&hpa, Some(21)).is_none());
        let gates = path(s, &Gvk::new("", "v1", "Pod"), &["spec", "schedulingGates"]);
        assert_eq!(gates.since, 26);
    }

    #[test]
    fn ephemeral_containers_copy_container_fields() {
        let s = Schema::builtin();
        let e = path(
            s,
            &Gvk::new("", "v1", "Pod"),
            &["spec", "ephemeralContainers", "volumeMounts"],
        );
        assert_eq!(e.smp.merge_key.as_deref(), Some("mountPath"));
    }

    #[test]
    fn retain_keys_strategies() {
        let s = Schema::builtin();
        let g = Gvk::new("apps", "v1", "Deployment");
        let st = path(s, &g, &["spec", "strategy"]);
        assert_eq!(st.smp.strategy, PatchStrategy::RetainKeys);
        let v = path(s, &g, &["spec", "template", "spec", "volumes"]);
        assert_eq!(v.smp.strategy, PatchStrategy::MergeRetainKeys);
        assert_eq!(
            PatchStrategy::parse("merge,retainKeys"),
            Some(PatchStrategy::MergeRetainKeys)
        );
        assert_eq!(PatchStrategy::parse("bogus"), None);
    }
}
