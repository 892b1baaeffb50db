//! Which maps and lists an Update creates, so that its managedFields entry owns them as members
//! of their own (`"."` in FieldsV1).
//!
//! The real server compares the written object with the one before it; for a create, "before" is
//! the zero value of the Go type. A node that existed before is not created by the write: in a
//! typed built-in object the value structs (`spec`, a pod template, a Deployment's `strategy`,
//! a container's `resources`, …) and the lists Go serializes even when empty (`containers`)
//! exist in every object, so they are never recorded. Pointer structs (`rollingUpdate`,
//! `securityContext`, probes), maps and the other lists are recorded when they appear. A custom
//! resource has no Go type: every map it gains is recorded, `spec` too.

use std::collections::BTreeSet;

use fjord_merge::{ListType, TypeId};
use serde_json::Value;

use super::path::Path;
use super::walk::{Slot, Walker};

/// Fields of built-in types that hold a Go value struct or a list serialized without
/// `omitempty` (present in the zero object), as (table type name, field). Fields of type
/// `ObjectMeta` and an object's own `spec` and `status` are value structs too.
const ALWAYS_PRESENT: &[(&str, &str)] = &[
    ("PodTemplate", "template"),
    ("DeploymentSpec", "template"),
    ("StatefulSetSpec", "template"),
    ("DaemonSetSpec", "template"),
    ("ReplicaSetSpec", "template"),
    ("JobSpec", "template"),
    ("PodTemplateSpec", "spec"),
    ("JobTemplateSpec", "spec"),
    ("CronJobSpec", "jobTemplate"),
    ("PersistentVolumeClaimTemplate", "spec"),
    ("DeploymentSpec", "strategy"),
    ("StatefulSetSpec", "updateStrategy"),
    ("DaemonSetSpec", "updateStrategy"),
    ("Container", "resources"),
    ("EphemeralContainer", "resources"),
    ("PersistentVolumeClaimSpec", "resources"),
    ("ServiceStatus", "loadBalancer"),
    ("IngressStatus", "loadBalancer"),
    ("Event", "involvedObject"),
    ("Event", "source"),
    ("EventsEvent", "regarding"),
    ("EventsEvent", "deprecatedSource"),
    ("Endpoint", "conditions"),
    ("HTTPIngressPath", "backend"),
    ("IngressServiceBackend", "port"),
    ("WeightedPodAffinityTerm", "podAffinityTerm"),
    ("PreferredSchedulingTerm", "preference"),
    ("HorizontalPodAutoscalerSpecV2", "scaleTargetRef"),
    ("HorizontalPodAutoscalerSpecV1", "scaleTargetRef"),
    ("CustomResourceDefinitionSpec", "names"),
    ("CustomResourceDefinitionStatus", "acceptedNames"),
    ("MutatingWebhook", "clientConfig"),
    ("ValidatingWebhook", "clientConfig"),
    ("RoleBinding", "roleRef"),
    ("NetworkPolicySpec", "podSelector"),
    ("PodSpec", "containers"),
    ("Endpoint", "addresses"),
    ("PodFailurePolicyOnExitCodesRequirement", "values"),
];

/// What an Update creates, beyond the leaf values it sets.
#[derive(Default)]
pub struct Created {
    /// The maps, associative lists and list items the write creates (members of their own).
    pub nodes: BTreeSet<Path>,
    /// Empty value structs the write seems to add but that every typed object has: not changed.
    pub zero: BTreeSet<Path>,
}

impl<'a> Walker<'a> {
    fn type_name(&self, ty: Option<TypeId>) -> &str {
        ty.and_then(|t| self.schema.type_def(t))
            .map(|d| d.name.as_str())
            .unwrap_or("")
    }

    /// Whether field `name` of a value of type `parent` exists in the Go zero object.
    fn always_present(&self, parent: Option<TypeId>, name: &str, root: bool) -> bool {
        if root && (name == "spec" || name == "status") {
            return true;
        }
        let pname = self.type_name(parent);
        let fty = self.field_slot(parent, name).ty;
        self.type_name(fty) == "ObjectMeta"
            || ALWAYS_PRESENT
                .iter()
                .any(|(t, f)| *t == pname && *f == name)
    }

    /// Whether `old` counts as present: a struct exists even when empty; a map or list of a
    /// typed object only when it has members (Go drops empty ones).
    fn present(&self, old: Option<&Value>, slot: Slot<'a>, typed: bool) -> bool {
        match old {
            None | Some(Value::Null) => false,
            Some(Value::Object(m)) => {
                let free = slot
                    .ty
                    .and_then(|t| self.schema.type_def(t))
                    .is_none_or(|d| d.additional.is_some());
                !typed || !free || !m.is_empty()
            }
            Some(Value::Array(a)) => !typed || !a.is_empty(),
            Some(_) => true,
        }
    }

    /// The paths of the maps, associative lists and list items in `new` (a root object of type
    /// `root`) that `old` (None: a create) does not have, and of the empty value structs it
    /// only seems to add. `typed`: a built-in kind, whose value structs always exist.
    pub fn created(
        &self,
        new: &Value,
        old: Option<&Value>,
        root: Option<TypeId>,
        typed: bool,
    ) -> Created {
        let mut out = Created::default();
        let Some(m) = new.as_object() else {
            return out;
        };
        for (k, v) in m {
            let slot = self.field_slot(root, k);
            let o = old.and_then(|o| o.get(k));
            let implicit = typed && self.always_present(root, k, true);
            let mut path = vec![format!("f:{k}")];
            if k == "metadata" {
                // Always there: only what is under it can be created.
                if let Value::Object(md) = v {
                    for (mk, mv) in md {
                        path.push(format!("f:{mk}"));
                        let ms = self.field_slot(slot.ty, mk);
                        let mo = o.and_then(|x| x.get(mk));
                        self.added_in(mv, mo, false, ms, typed, &mut path, &mut out);
                        path.pop();
                    }
                }
                continue;
            }
            self.added_in(v, o, implicit, slot, typed, &mut path, &mut out);
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn added_in(
        &self,
        v: &Value,
        old: Option<&Value>,
        implicit: bool,
        slot: Slot<'a>,
        typed: bool,
        path: &mut Path,
        out: &mut Created,
    ) {
        let existed = implicit || self.present(old, slot, typed);
        match v {
            Value::Object(m) if m.is_empty() && implicit && old.is_none() => {
                out.zero.insert(path.clone());
            }
            Value::Object(m) if !m.is_empty() && !self.atomic_map(slot) => {
                if !existed {
                    out.nodes.insert(path.clone());
                }
                for (k, child) in m {
                    let cslot = self.field_slot(slot.ty, k);
                    let cold = if existed {
                        old.and_then(|o| o.get(k))
                    } else {
                        None
                    };
                    let cimplicit = existed && typed && self.always_present(slot.ty, k, false);
                    path.push(format!("f:{k}"));
                    self.added_in(child, cold, cimplicit, cslot, typed, path, out);
                    path.pop();
                }
            }
            Value::Array(items) if !items.is_empty() => {
                let lt = self.list_type(slot);
                let Some(keys) = self.item_keys(items, &lt) else {
                    return;
                };
                if !existed {
                    out.nodes.insert(path.clone());
                }
                let old_items: Vec<(String, &Value)> = match old {
                    Some(Value::Array(o)) if existed => {
                        let okeys = self.item_keys(o, &lt).unwrap_or_default();
                        okeys.into_iter().zip(o.iter()).collect()
                    }
                    _ => Vec::new(),
                };
                if matches!(lt, ListType::Set) {
                    return;
                }
                let islot = self.item_slot(slot);
                for (item, key) in items.iter().zip(keys) {
                    let oitem = old_items.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
                    path.push(key);
                    if oitem.is_none() {
                        out.nodes.insert(path.clone());
                    }
                    if let (Value::Object(m), false) = (item, self.atomic_map(islot)) {
                        for (k, child) in m {
                            let cslot = self.field_slot(islot.ty, k);
                            let cold = oitem.and_then(|o| o.get(k));
                            let cimplicit =
                                oitem.is_some() && typed && self.always_present(islot.ty, k, false);
                            path.push(format!("f:{k}"));
                            self.added_in(child, cold, cimplicit, cslot, typed, path, out);
                            path.pop();
                        }
                    }
                    path.pop();
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use fjord_merge::Schema;
    use fjord_model::Gvk;
    use serde_json::json;

    use super::*;

    fn p(s: &str) -> Path {
        s.split('/').map(str::to_string).collect()
    }

    #[test]
    fn a_create_records_pointer_structs_maps_and_new_items_but_not_value_structs() {
        let schema = Schema::builtin();
        let w = Walker { schema };
        let root = schema.root(&Gvk::new("apps", "v1", "Deployment"));
        let d = json!({"metadata": {"labels": {"a": "b"}}, "spec": {
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
            "template": {"metadata": {}, "spec": {"containers": [{"name": "c",
                "resources": {"limits": {"cpu": "1"}}}]}}}});
        let c = w.created(&d, None, root, true);
        let k = "k:{\"name\":\"c\"}";
        let want: BTreeSet<Path> = [
            p("f:metadata/f:labels"),
            p("f:spec/f:strategy/f:rollingUpdate"),
            p(&format!("f:spec/f:template/f:spec/f:containers/{k}")),
            p(&format!(
                "f:spec/f:template/f:spec/f:containers/{k}/f:resources"
            )),
            p(&format!(
                "f:spec/f:template/f:spec/f:containers/{k}/f:resources/f:limits"
            )),
        ]
        .into_iter()
        .collect();
        assert_eq!(c.nodes, want);
        assert_eq!(
            c.zero,
            [p("f:spec/f:template/f:metadata")].into_iter().collect()
        );
        // A custom resource has no value structs: its spec is created too.
        let cr = w.created(&json!({"spec": {"size": 3}}), None, None, false);
        assert_eq!(cr.nodes, [p("f:spec")].into_iter().collect());
    }

    #[test]
    fn an_update_records_only_what_did_not_exist() {
        let schema = Schema::builtin();
        let w = Walker { schema };
        let root = schema.root(&Gvk::new("", "v1", "Pod"));
        let old = json!({"spec": {"securityContext": {}, "containers": [{"name": "c", "resources": {}}]}});
        let new = json!({"spec": {"securityContext": {"runAsNonRoot": true},
            "containers": [{"name": "c", "resources": {"limits": {"cpu": "1"}}}]}});
        let c = w.created(&new, Some(&old), root, true);
        let want: BTreeSet<Path> = [p(
            "f:spec/f:containers/k:{\"name\":\"c\"}/f:resources/f:limits",
        )]
        .into_iter()
        .collect();
        assert_eq!(c.nodes, want);
    }
}
