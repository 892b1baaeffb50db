//! The Deployment and ReplicaSet controllers, simulated: a Deployment owns one ReplicaSet per pod
//! template (`<name>-<pod-template-hash>`, revision annotations as the real controller writes
//! them; the current one scaled to `spec.replicas`, the others to 0, the oldest beyond
//! `revisionHistoryLimit` deleted), and a ReplicaSet owns `spec.replicas` Pods
//! (`<rs>-<5 chars>`, on a fake node). Children are made at once; their status follows after the
//! simulator's delay, as before. Work is per object: only the dirty ones are looked at, and a
//! child is found by its name prefix plus its controller reference.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::names;
use crate::engine::{Engine, State};
use crate::handlers::DeleteOptions;
use crate::meta;
use crate::store;
use fjord_model::ResourceType;

/// The manager the real controllers write as.
const MANAGER: &str = "kube-controller-manager";
/// Annotations the Deployment controller keeps on ReplicaSets (and the revision on itself).
const REVISION: &str = "deployment.kubernetes.io/revision";
const DESIRED: &str = "deployment.kubernetes.io/desired-replicas";
const MAX: &str = "deployment.kubernetes.io/max-replicas";
/// Deployment annotations never copied to a ReplicaSet.
const NOT_COPIED: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    "deployment.kubernetes.io/revision-history",
    DESIRED,
    MAX,
];
/// The label a ReplicaSet and its Pods carry.
pub const HASH_LABEL: &str = "pod-template-hash";
/// The fake nodes Pods are placed on (the real test control plane's kwok nodes).
const NODES: &[&str] = &["kwok-node-0", "kwok-node-1"];

fn int(v: Option<&Value>, default: i64) -> i64 {
    v.and_then(Value::as_i64).unwrap_or(default)
}

fn is_controlled_by(obj: &Value, uid: &str) -> bool {
    obj.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| {
            refs.iter()
                .any(|r| r["uid"] == uid && r["controller"] == true)
        })
}

fn controller_ref(kind: &str, api_version: &str, owner: &Value) -> Value {
    json!({"apiVersion": api_version, "kind": kind, "name": meta::name(owner),
           "uid": meta::uid(owner), "controller": true, "blockOwnerDeletion": true})
}

/// Objects of (group, plural) in `ns` named `<prefix>…` and controlled by `owner_uid`.
fn owned(
    st: &State,
    group: &str,
    plural: &str,
    ns: &str,
    prefix: &str,
    owner_uid: &str,
) -> Vec<Arc<Value>> {
    let key = format!("{}{prefix}", store::key(group, plural, ns, ""));
    st.store
        .scan(&key)
        .filter(|(_, o)| is_controlled_by(o, owner_uid))
        .map(|(_, o)| o.clone())
        .collect()
}

fn revision(obj: &Value) -> i64 {
    obj.pointer("/metadata/annotations")
        .and_then(|a| a.get(REVISION))
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// `maxSurge` resolved against `replicas` (percentages round up), 0 for `Recreate`.
fn max_surge(d: &Value, replicas: i64) -> i64 {
    if d.pointer("/spec/strategy/type").and_then(Value::as_str) == Some("Recreate") {
        return 0;
    }
    match d.pointer("/spec/strategy/rollingUpdate/maxSurge") {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => {
            let pct: i64 = s.trim_end_matches('%').parse().unwrap_or(25);
            (replicas * pct + 99) / 100
        }
        _ => (replicas * 25 + 99) / 100,
    }
}

/// Sets `spec.replicas` (false when the object has no `spec` map).
fn set_replicas(obj: &mut Value, n: i64) -> bool {
    match obj.get_mut("spec").and_then(Value::as_object_mut) {
        Some(s) => {
            s.insert("replicas".into(), json!(n));
            true
        }
        None => false,
    }
}

fn lookup(st: &State, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceType>> {
    st.registry.lookup(group, version, plural)
}

/// Writes `new` over `old` as the controller manager (errors are the next pass's problem: the
/// object was changed meanwhile, and that change makes it dirty again).
fn write(engine: &Engine, rt: &Arc<ResourceType>, old: &Arc<Value>, mut new: Value) {
    meta::metadata_mut(&mut new).remove("resourceVersion");
    let mut st = engine.lock();
    let key = store::key(&rt.group, &rt.plural, meta::namespace(old), meta::name(old));
    if !st.store.get(&key).is_some_and(|cur| Arc::ptr_eq(cur, old)) {
        return;
    }
    let _ = engine.finish_update(&mut st, rt, old.clone(), new, Some(MANAGER), "", false);
}

fn delete(engine: &Engine, rt: &Arc<ResourceType>, obj: &Value) {
    let mut st = engine.lock();
    let opts = DeleteOptions {
        propagation: Some("Background".into()),
        ..Default::default()
    };
    let _ = engine.delete_object(&mut st, rt, meta::namespace(obj), meta::name(obj), &opts);
}

fn annotations_mut(obj: &mut Value) -> &mut Map<String, Value> {
    let md = meta::metadata_mut(obj);
    let a = md.entry("annotations").or_insert_with(|| json!({}));
    if !a.is_object() {
        *a = json!({});
    }
    a.as_object_mut().expect("annotations ensured above")
}

/// The ReplicaSet a Deployment's current template asks for.
fn new_replicaset(d: &Value, hash: &str, replicas: i64, rev: i64) -> Value {
    let mut template = d.pointer("/spec/template").cloned().unwrap_or(json!({}));
    meta::metadata_mut(&mut template);
    let labels = template["metadata"]
        .as_object_mut()
        .map(|m| m.entry("labels").or_insert_with(|| json!({})));
    if let Some(Value::Object(l)) = labels {
        l.insert(HASH_LABEL.into(), json!(hash));
    }
    let mut selector = d.pointer("/spec/selector").cloned().unwrap_or(json!({}));
    if let Some(s) = selector.as_object_mut() {
        let ml = s.entry("matchLabels").or_insert_with(|| json!({}));
        if let Some(ml) = ml.as_object_mut() {
            ml.insert(HASH_LABEL.into(), json!(hash));
        }
    }
    let mut annotations: Map<String, Value> = d
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .map(|a| {
            a.iter()
                .filter(|(k, _)| !NOT_COPIED.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    annotations.insert(DESIRED.into(), json!(replicas.to_string()));
    let max = replicas + max_surge(d, replicas);
    annotations.insert(MAX.into(), json!(max.to_string()));
    annotations.insert(REVISION.into(), json!(rev.to_string()));
    let mut spec = json!({"replicas": replicas, "selector": selector, "template": template});
    if let Some(m) = d.pointer("/spec/minReadySeconds") {
        spec["minReadySeconds"] = m.clone();
    }
    json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {
            "name": format!("{}-{hash}", meta::name(d)), "namespace": meta::namespace(d),
            "labels": template["metadata"]["labels"].clone(), "annotations": annotations,
            "ownerReferences": [controller_ref("Deployment", "apps/v1", d)],
        },
        "spec": spec,
    })
}

/// Brings a Deployment's ReplicaSets in line with its spec (see the module docs).
pub fn reconcile_deployment(engine: &Engine, d: &Arc<Value>) {
    if meta::deleting(d) || d.pointer("/spec/paused") == Some(&json!(true)) {
        return;
    }
    let Some(template) = d.pointer("/spec/template") else {
        return;
    };
    let collisions = int(d.pointer("/status/collisionCount"), 0) as u32;
    let hash = names::template_hash(Some(template), collisions);
    let replicas = int(d.pointer("/spec/replicas"), 1);
    let (ns, name) = (meta::namespace(d), meta::name(d));
    let (rs_type, sets) = {
        let st = engine.lock();
        let Some(rt) = lookup(&st, "apps", "v1", "replicasets") else {
            return;
        };
        let sets = owned(
            &st,
            "apps",
            "replicasets",
            ns,
            &format!("{name}-"),
            meta::uid(d),
        );
        (rt, sets)
    };
    let max_rev = sets.iter().map(|s| revision(s)).max().unwrap_or(0);
    let current = sets.iter().find(|s| {
        s.pointer("/metadata/labels")
            .and_then(|l| l.get(HASH_LABEL))
            == Some(&json!(hash))
    });
    let rev = match current {
        None => {
            let rs = new_replicaset(d, &hash, replicas, max_rev + 1);
            let mut st = engine.lock();
            if engine
                .create_object(&mut st, &rs_type, rs, MANAGER, false)
                .is_err()
            {
                return;
            }
            max_rev + 1
        }
        Some(cur) => {
            let rev = if revision(cur) < max_rev {
                max_rev + 1
            } else {
                revision(cur)
            };
            let mut new = cur.as_ref().clone();
            set_replicas(&mut new, replicas);
            let a = annotations_mut(&mut new);
            a.insert(REVISION.into(), json!(rev.to_string()));
            a.insert(DESIRED.into(), json!(replicas.to_string()));
            let max = replicas + max_surge(d, replicas);
            a.insert(MAX.into(), json!(max.to_string()));
            if new != **cur {
                write(engine, &rs_type, cur, new);
            }
            rev
        }
    };
    retire_old(engine, &rs_type, d, &sets, &hash);
    if revision(d) != rev {
        let mut new = d.as_ref().clone();
        annotations_mut(&mut new).insert(REVISION.into(), json!(rev.to_string()));
        let st = engine.lock();
        let rt = lookup(&st, "apps", "v1", "deployments");
        drop(st);
        if let Some(rt) = rt {
            write(engine, &rt, d, new);
        }
    }
}

/// Scales the ReplicaSets of older templates to 0 and deletes the oldest beyond
/// `revisionHistoryLimit`.
fn retire_old(
    engine: &Engine,
    rs_type: &Arc<ResourceType>,
    d: &Value,
    sets: &[Arc<Value>],
    hash: &str,
) {
    let mut old: Vec<&Arc<Value>> = sets
        .iter()
        .filter(|s| {
            s.pointer("/metadata/labels")
                .and_then(|l| l.get(HASH_LABEL))
                .and_then(Value::as_str)
                != Some(hash)
        })
        .collect();
    for s in &old {
        if int(s.pointer("/spec/replicas"), 1) != 0 {
            let mut new = s.as_ref().clone();
            if set_replicas(&mut new, 0) {
                write(engine, rs_type, s, new);
            }
        }
    }
    let limit = int(d.pointer("/spec/revisionHistoryLimit"), 10).max(0) as usize;
    if old.len() > limit {
        old.sort_by_key(|s| revision(s));
        for s in &old[..old.len() - limit] {
            delete(engine, rs_type, s);
        }
    }
}

/// A Pod of ReplicaSet `rs`, on a fake node.
fn new_pod(rs: &Value) -> Value {
    let rs_name = meta::name(rs);
    let name = format!("{rs_name}-{}", names::random_suffix());
    let tm = rs
        .pointer("/spec/template/metadata")
        .cloned()
        .unwrap_or(json!({}));
    let mut metadata = json!({"name": name, "generateName": format!("{rs_name}-"),
        "namespace": meta::namespace(rs),
        "ownerReferences": [controller_ref("ReplicaSet", "apps/v1", rs)]});
    for k in ["labels", "annotations"] {
        if let Some(v) = tm.get(k).filter(|v| v.is_object()) {
            metadata[k] = v.clone();
        }
    }
    if let Some(mode) = rs
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(super::status::ANNOTATION))
    {
        // Local only: a Pod behaves as its ReplicaSet was told to (`fjord.dev/simulate`).
        if !metadata["annotations"].is_object() {
            metadata["annotations"] = json!({});
        }
        metadata["annotations"][super::status::ANNOTATION] = mode.clone();
    }
    let mut spec = rs
        .pointer("/spec/template/spec")
        .cloned()
        .unwrap_or(json!({}));
    let node = NODES[(defaults_hash(&name) % NODES.len() as u32) as usize];
    spec["nodeName"] = json!(node);
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec})
}

fn defaults_hash(s: &str) -> u32 {
    crate::defaults::fnv32a(s.as_bytes())
}

/// Creates or deletes a ReplicaSet's Pods until there are `spec.replicas` of them.
pub fn reconcile_replicaset(engine: &Engine, rs: &Arc<Value>) {
    if meta::deleting(rs) || rs.pointer("/spec/template").is_none() {
        return;
    }
    let want = int(rs.pointer("/spec/replicas"), 1).max(0) as usize;
    let (pod_type, mut pods) = {
        let st = engine.lock();
        let Some(rt) = lookup(&st, "", "v1", "pods") else {
            return;
        };
        let prefix = format!("{}-", meta::name(rs));
        let pods = owned(&st, "", "pods", meta::namespace(rs), &prefix, meta::uid(rs));
        (rt, pods)
    };
    pods.retain(|p| !meta::deleting(p));
    for _ in pods.len()..want {
        let pod = new_pod(rs);
        let mut st = engine.lock();
        let _ = engine.create_object(&mut st, &pod_type, pod, MANAGER, false);
    }
    if pods.len() > want {
        pods.sort_by(|a, b| {
            let t = |p: &Value| {
                p["metadata"]["creationTimestamp"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            };
            t(b).cmp(&t(a))
                .then_with(|| meta::name(b).cmp(meta::name(a)))
        });
        for p in &pods[..pods.len() - want] {
            delete(engine, &pod_type, p);
        }
    }
}

/// A ReplicaSet or Pod is gone: its controller (found by name) may have to replace it.
pub fn on_missing(engine: &Engine, key: &str) {
    let mut parts = key.splitn(4, '/');
    let (Some(group), Some(plural), Some(ns), Some(name)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    let (owner_group, owner_plural, owner_name) = match (group, plural) {
        ("", "pods") if name.len() > 6 => ("apps", "replicasets", &name[..name.len() - 6]),
        ("apps", "replicasets") => match name.rsplit_once('-') {
            Some((d, _)) => ("apps", "deployments", d),
            None => return,
        },
        _ => return,
    };
    let owner = engine
        .lock()
        .store
        .get(&store::key(owner_group, owner_plural, ns, owner_name))
        .cloned();
    match (owner_plural, owner) {
        ("replicasets", Some(rs)) => reconcile_replicaset(engine, &rs),
        ("deployments", Some(d)) => reconcile_deployment(engine, &d),
        _ => {}
    }
}
