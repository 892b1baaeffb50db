//! The controllers an apiserver relies on, emulated: the ownerReference garbage collector
//! (background, foreground and orphan propagation), the namespace controller (deleting a
//! terminating namespace's contents, then the namespace) and CRD cleanup (deleting a CRD's custom
//! resources before the CRD itself).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::{json, Value};

use crate::defaults::CRD_CLEANUP;
use crate::engine::{Engine, State};
use crate::handlers::DeleteOptions;
use crate::meta;
use crate::store;
use fjord_model::{split_api_version, ResourceType};

const FOREGROUND: &str = "foregroundDeletion";
const ORPHAN: &str = "orphan";
const MANAGER: &str = "kube-controller-manager";

#[derive(Debug)]
enum Action {
    Delete(Arc<ResourceType>, String, String, Option<&'static str>),
    StripOwner(Arc<ResourceType>, String, String, String),
    RemoveFinalizer(Arc<ResourceType>, String, String, &'static str),
    FinalizeNamespace(String),
}

fn owner_uids(obj: &Value) -> Vec<String> {
    obj.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|r| r["uid"].as_str())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The field errors of an object's owner references, as the real server reports them (on the
/// field `metadata.ownerReferences.<member>`, without the reference's index).
pub(crate) fn owner_reference_causes(obj: &Value) -> Vec<crate::errors::Cause> {
    let mut out = Vec::new();
    let refs = obj
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array);
    for r in refs.into_iter().flatten() {
        let text = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let api_version = text("apiVersion");
        let version = split_api_version(&api_version).1.to_string();
        let (kind, name, uid) = (text("kind"), text("name"), text("uid"));
        let checks = [
            (
                "apiVersion",
                &api_version,
                &version,
                "version must not be empty",
            ),
            ("kind", &kind, &kind, "must not be empty"),
            ("name", &name, &name, "must not be empty"),
            ("uid", &uid, &uid, "must not be empty"),
        ];
        for (field, value, tested, why) in checks {
            if tested.is_empty() {
                out.push(crate::errors::Cause::new(
                    "FieldValueInvalid",
                    format!("Invalid value: {value:?}: {why}"),
                    format!("metadata.ownerReferences.{field}"),
                ));
            }
        }
    }
    out
}

/// An object's namespace and name.
fn id(o: &Value) -> (String, String) {
    (meta::namespace(o).to_string(), meta::name(o).to_string())
}

/// What the controllers would do now, for every stored object.
fn plan(st: &State) -> Vec<Action> {
    let types = st.registry.storage_types();
    let mut objs: Vec<(Arc<ResourceType>, Arc<Value>)> = Vec::new();
    for rt in &types {
        for (_, v) in st.store.scan(&crate::kinds::store_prefix(rt)) {
            objs.push((rt.clone(), v.clone()));
        }
    }
    let by_uid: HashMap<&str, &Value> = objs
        .iter()
        .map(|(_, o)| (meta::uid(o), o.as_ref()))
        .collect();
    let referenced: HashSet<String> = objs.iter().flat_map(|(_, o)| owner_uids(o)).collect();
    let mut actions = Vec::new();
    for (rt, o) in &objs {
        if !meta::deleting(o) {
            plan_dependent(rt, o, &by_uid, &mut actions);
            continue;
        }
        let fins = meta::finalizers(o);
        for f in [ORPHAN, FOREGROUND] {
            if fins.iter().any(|x| x == f) && !referenced.contains(meta::uid(o)) {
                let (ns, name) = id(o);
                actions.push(Action::RemoveFinalizer(rt.clone(), ns, name, f));
            }
        }
        if rt.group == "apiextensions.k8s.io"
            && rt.plural == "customresourcedefinitions"
            && fins.iter().any(|f| f == CRD_CLEANUP)
        {
            plan_crd_cleanup(st, &types, rt, o, &mut actions);
        }
        if rt.group.is_empty() && rt.plural == "namespaces" {
            plan_namespace_cleanup(st, &types, meta::name(o), &mut actions);
        }
    }
    actions
}

/// The garbage collector on a live dependent: delete it when no owner is left, strip an owner
/// that orphans its dependents, delete it for an owner deleted in the foreground.
fn plan_dependent(
    rt: &Arc<ResourceType>,
    o: &Value,
    by_uid: &HashMap<&str, &Value>,
    actions: &mut Vec<Action>,
) {
    let owners = owner_uids(o);
    if owners.is_empty() {
        return;
    }
    let (ns, name) = id(o);
    let live: Vec<&Value> = owners
        .iter()
        .filter_map(|u| by_uid.get(u.as_str()).copied())
        .collect();
    if live.is_empty() {
        actions.push(Action::Delete(rt.clone(), ns, name, Some("Background")));
        return;
    }
    for owner in live {
        let fins = meta::finalizers(owner);
        if meta::deleting(owner) && fins.iter().any(|f| f == ORPHAN) {
            actions.push(Action::StripOwner(
                rt.clone(),
                ns.clone(),
                name.clone(),
                meta::uid(owner).to_string(),
            ));
        } else if meta::deleting(owner) && fins.iter().any(|f| f == FOREGROUND) {
            actions.push(Action::Delete(
                rt.clone(),
                ns.clone(),
                name.clone(),
                Some("Foreground"),
            ));
        }
    }
}

/// CRD cleanup of a CRD being deleted: delete its custom resources, then drop the finalizer.
fn plan_crd_cleanup(
    st: &State,
    types: &[Arc<ResourceType>],
    rt: &Arc<ResourceType>,
    crd: &Value,
    actions: &mut Vec<Action>,
) {
    let group = crd
        .pointer("/spec/group")
        .and_then(Value::as_str)
        .unwrap_or("");
    let plural = crd
        .pointer("/spec/names/plural")
        .and_then(Value::as_str)
        .unwrap_or("");
    let cr_type = types
        .iter()
        .find(|t| t.group == group && t.plural == plural);
    let prefix = format!("{group}/{plural}/");
    let crs: Vec<&Arc<Value>> = st.store.scan(&prefix).map(|(_, v)| v).collect();
    if crs.is_empty() {
        let (ns, name) = id(crd);
        actions.push(Action::RemoveFinalizer(rt.clone(), ns, name, CRD_CLEANUP));
    } else if let Some(t) = cr_type {
        for cr in crs.into_iter().filter(|c| !meta::deleting(c)) {
            let (cns, cname) = id(cr);
            actions.push(Action::Delete(t.clone(), cns, cname, Some("Background")));
        }
    }
}

/// The namespace controller on a terminating namespace: delete what it holds, then finalize it.
fn plan_namespace_cleanup(
    st: &State,
    types: &[Arc<ResourceType>],
    name: &str,
    actions: &mut Vec<Action>,
) {
    let mut remaining = 0;
    for t in types.iter().filter(|t| t.namespaced) {
        for (_, c) in st
            .store
            .scan(&format!("{}{name}/", crate::kinds::store_prefix(t)))
        {
            remaining += 1;
            if !meta::deleting(c) {
                let (cns, cname) = id(c);
                actions.push(Action::Delete(t.clone(), cns, cname, Some("Background")));
            }
        }
    }
    if remaining == 0 {
        actions.push(Action::FinalizeNamespace(name.to_string()));
    }
}

impl Engine {
    fn current(&self, st: &State, rt: &ResourceType, ns: &str, name: &str) -> Option<Arc<Value>> {
        st.store
            .get(&store::key(&rt.group, &rt.plural, ns, name))
            .cloned()
    }

    fn run_action(&self, st: &mut State, action: Action) {
        match action {
            Action::Delete(rt, ns, name, prop) => {
                let opts = DeleteOptions {
                    propagation: prop.map(str::to_string),
                    ..Default::default()
                };
                let _ = self.delete_object(st, &rt, &ns, &name, &opts);
            }
            Action::StripOwner(rt, ns, name, uid) => {
                let Some(old) = self.current(st, &rt, &ns, &name) else {
                    return;
                };
                let mut new = old.as_ref().clone();
                if let Some(refs) = new
                    .pointer_mut("/metadata/ownerReferences")
                    .and_then(Value::as_array_mut)
                {
                    refs.retain(|r| r["uid"] != uid.as_str());
                    if refs.is_empty() {
                        meta::metadata_mut(&mut new).remove("ownerReferences");
                    }
                }
                let _ = self.finish_update(st, &rt, old, new, Some(MANAGER), "", false);
            }
            Action::RemoveFinalizer(rt, ns, name, fin) => {
                let Some(old) = self.current(st, &rt, &ns, &name) else {
                    return;
                };
                let mut new = old.as_ref().clone();
                let fins: Vec<String> = meta::finalizers(&old)
                    .into_iter()
                    .filter(|f| f != fin)
                    .collect();
                meta::set_finalizers(&mut new, &fins);
                let _ = self.finish_update(st, &rt, old, new, Some(MANAGER), "", false);
            }
            Action::FinalizeNamespace(name) => {
                let Some(rt) = st.registry.lookup("", "v1", "namespaces") else {
                    return;
                };
                let Some(old) = self.current(st, &rt, "", &name) else {
                    return;
                };
                if meta::finalizers(&old).is_empty() {
                    let _ = self.persist(st, &rt, "", &name, None, Some(old));
                } else if old
                    .pointer("/spec/finalizers")
                    .and_then(Value::as_array)
                    .is_some_and(|a| !a.is_empty())
                {
                    let mut new = old.as_ref().clone();
                    new["spec"]["finalizers"] = json!([]);
                    let _ = self.persist(st, &rt, "", &name, Some(new), Some(old));
                }
            }
        }
    }

    /// One pass of the GC / namespace / CRD-cleanup controllers; returns whether it changed anything.
    pub fn lifecycle_pass(&self) -> bool {
        if !self
            .lifecycle_dirty
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            return false;
        }
        let mut st = self.lock();
        let before = st.store.rv();
        let actions = plan(&st);
        for a in actions {
            self.run_action(&mut st, a);
        }
        st.store.rv() != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_references_need_version_kind_name_and_uid() {
        let obj = json!({"metadata": {"ownerReferences": [
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "x"},
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "y", "uid": "u"}]}});
        let causes = owner_reference_causes(&obj);
        assert_eq!(causes.len(), 1);
        assert_eq!(causes[0].field, "metadata.ownerReferences.uid");
        assert_eq!(causes[0].message, "Invalid value: \"\": must not be empty");
        let bad = json!({"metadata": {"ownerReferences": [{"apiVersion": "apps/", "kind": "", "name": "n", "uid": "u"}]}});
        let fields: Vec<String> = owner_reference_causes(&bad)
            .into_iter()
            .map(|c| c.field)
            .collect();
        assert_eq!(
            fields,
            [
                "metadata.ownerReferences.apiVersion",
                "metadata.ownerReferences.kind"
            ]
        );
    }
}
