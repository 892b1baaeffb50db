//! An app's resource tree (Argo CD's `ApplicationTree`) from the live index: the managed
//! objects its `status.resources` lists (shown even before they exist), then, breadth first,
//! every object that names one of the tree's objects as its owner. Lookups only: no request.

use std::collections::{HashSet, VecDeque};

use serde::Serialize;
use serde_json::Value;

use fjord_health::{Health, HealthOverrides, HealthStatus};
use fjord_model::ObjectKey;

use super::index::{owners, Entry, Index};
use super::info::{node_facts, InfoItem};

/// The most nodes a tree holds (a workload with 100,000 children must not take the server down;
/// the managed objects always come first).
pub const MAX_NODES: usize = 20_000;

/// An owner edge of a node (Argo CD's `ResourceRef`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceRef {
    /// API group of the owner.
    pub group: String,
    /// Kind of the owner.
    pub kind: String,
    /// Namespace of the owner (`""` when cluster-scoped).
    pub namespace: String,
    /// Name of the owner.
    pub name: String,
    /// Uid of the owner.
    pub uid: String,
}

/// One node of the tree (Argo CD's `ResourceNode`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceNode {
    /// API group (`""` for core).
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Namespace (`""` when cluster-scoped).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Uid (absent for a managed object that does not exist yet).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uid: String,
    /// Owners in the tree; none for the managed (top-level) objects.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parent_refs: Vec<ResourceRef>,
    /// Facts shown on the node's card.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub info: Vec<InfoItem>,
    /// Networking edges (a Service's selector and load-balancer ingress).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub networking_info: Option<Value>,
    /// The live object's resourceVersion.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub resource_version: String,
    /// Container images (Pods and workloads).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
    /// Health (absent for kinds without a health check).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
    /// Creation time (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}

/// An app's tree (Argo CD's `ApplicationTree`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationTree {
    /// The managed objects and their descendants.
    pub nodes: Vec<ResourceNode>,
    /// Orphaned objects (not computed: always empty).
    pub orphaned_nodes: Vec<ResourceNode>,
    /// Nodes of the cluster that run the app's Pods (not computed: always empty).
    pub hosts: Vec<Value>,
}

/// The resource-tree filters (`namespace, name, version, group, kind`); an empty one matches
/// everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Namespace.
    pub namespace: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// Version.
    pub version: Option<String>,
    /// Group.
    pub group: Option<String>,
    /// Kind.
    pub kind: Option<String>,
}

impl Filter {
    fn matches(&self, n: &ResourceNode) -> bool {
        let ok = |want: &Option<String>, have: &str| {
            want.as_deref().is_none_or(|w| w.is_empty() || w == have)
        };
        ok(&self.namespace, &n.namespace)
            && ok(&self.name, &n.name)
            && ok(&self.version, &n.version)
            && ok(&self.group, &n.group)
            && ok(&self.kind, &n.kind)
    }
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or_default()
}

fn meta<'a>(obj: &'a Value, k: &str) -> &'a str {
    obj.get("metadata")
        .and_then(|m| m.get(k))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The node of a live object, without parents; `health` overrides the object's own check.
fn live_node(e: &Entry, version: &str, health: Option<Health>) -> ResourceNode {
    let (info, images, networking_info) = node_facts(&e.r.group, &e.r.kind, &e.obj);
    let created = meta(&e.obj, "creationTimestamp");
    ResourceNode {
        group: e.r.group.clone(),
        version: if version.is_empty() {
            e.r.version.clone()
        } else {
            version.to_string()
        },
        kind: e.r.kind.clone(),
        namespace: e.r.namespace.clone(),
        name: e.r.name.clone(),
        uid: meta(&e.obj, "uid").to_string(),
        parent_refs: Vec::new(),
        info,
        networking_info,
        resource_version: meta(&e.obj, "resourceVersion").to_string(),
        images,
        health: health.or_else(|| fjord_health::assess(&e.obj, &HealthOverrides::new())),
        created_at: (!created.is_empty()).then(|| created.to_string()),
    }
}

/// The health the controller recorded in a `status.resources` entry.
fn recorded_health(r: &Value) -> Option<Health> {
    let h = r.get("health")?;
    let status = HealthStatus::parse(s(h, "status"))?;
    Some(Health::new(status, s(h, "message")))
}

/// The identity of a `status.resources` entry.
pub fn entry_key(r: &Value) -> ObjectKey {
    ObjectKey::new(s(r, "group"), s(r, "kind"), s(r, "namespace"), s(r, "name"))
}

/// The keys of the app's managed objects, with their `status.resources` entries.
fn managed(app: &Value) -> Vec<(ObjectKey, &Value)> {
    let mut seen = HashSet::new();
    app.pointer("/status/resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|r| !s(r, "kind").is_empty() && !s(r, "name").is_empty())
        .map(|r| (entry_key(r), r))
        .filter(|(k, _)| seen.insert(k.clone()))
        .collect()
}

/// Calls `visit` on every live object of the app's tree, managed ones first, then descendants
/// breadth first (at most [`MAX_NODES`] in all); `visit` gets the entry and whether it is
/// managed. Returns the managed entries without a live object.
fn walk<'a>(
    index: &'a Index,
    app: &'a Value,
    mut visit: impl FnMut(&'a Entry, Option<&'a Value>),
) -> Vec<&'a Value> {
    let managed = managed(app);
    let keys: HashSet<&ObjectKey> = managed.iter().map(|(k, _)| k).collect();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut queue: VecDeque<&str> = VecDeque::new();
    let mut missing = Vec::new();
    let mut count = 0;
    for (key, r) in &managed {
        match index.by_key(key) {
            Some(e) if seen.insert(meta(&e.obj, "uid")) => {
                queue.push_back(meta(&e.obj, "uid"));
                count += 1;
                visit(e, Some(r));
            }
            Some(_) => {}
            None => missing.push(*r),
        }
    }
    while let Some(uid) = queue.pop_front() {
        for child in index.children(uid) {
            if count >= MAX_NODES {
                return missing;
            }
            let Some(e) = index.by_uid(child) else {
                continue;
            };
            if keys.contains(&e.r.key()) || !seen.insert(meta(&e.obj, "uid")) {
                continue;
            }
            queue.push_back(meta(&e.obj, "uid"));
            count += 1;
            visit(e, None);
        }
    }
    missing
}

/// The tree of `app` from `index`, its nodes sorted by group, kind, namespace, name and uid,
/// then filtered by `filter`.
pub fn build(index: &Index, app: &Value, filter: &Filter) -> ApplicationTree {
    let mut nodes = Vec::new();
    let missing = walk(index, app, |e, managed| match managed {
        Some(r) => nodes.push(live_node(e, s(r, "version"), recorded_health(r))),
        None => {
            let mut n = live_node(e, "", None);
            n.parent_refs = owners(&e.obj)
                .into_iter()
                .filter_map(|o| {
                    let owner = index.by_uid(&o.uid)?;
                    Some(ResourceRef {
                        group: o.group,
                        kind: o.kind,
                        namespace: owner.r.namespace.clone(),
                        name: o.name,
                        uid: o.uid,
                    })
                })
                .collect();
            nodes.push(n);
        }
    });
    for r in missing {
        nodes.push(ResourceNode {
            group: s(r, "group").to_string(),
            version: s(r, "version").to_string(),
            kind: s(r, "kind").to_string(),
            namespace: s(r, "namespace").to_string(),
            name: s(r, "name").to_string(),
            uid: String::new(),
            parent_refs: Vec::new(),
            info: Vec::new(),
            networking_info: None,
            resource_version: String::new(),
            images: Vec::new(),
            health: recorded_health(r),
            created_at: None,
        });
    }
    nodes.retain(|n| filter.matches(n));
    nodes.sort_by(|a, b| {
        (&a.group, &a.kind, &a.namespace, &a.name, &a.uid).cmp(&(
            &b.group,
            &b.kind,
            &b.namespace,
            &b.name,
            &b.uid,
        ))
    });
    ApplicationTree {
        nodes,
        orphaned_nodes: Vec::new(),
        hosts: Vec::new(),
    }
}

/// The live object `key` when it belongs to the app's tree (a managed object or a descendant
/// of one); `Err(true)` when it belongs but is not cached, `Err(false)` when it does not
/// belong (or is neither managed nor cached).
pub fn member<'a>(index: &'a Index, app: &Value, key: &ObjectKey) -> Result<&'a Entry, bool> {
    let managed_keys: HashSet<ObjectKey> = managed(app).into_iter().map(|(k, _)| k).collect();
    let Some(entry) = index.by_key(key) else {
        return Err(managed_keys.contains(key));
    };
    // Up the owner chain until a managed object (bounded: owner cycles exist in broken clusters).
    let mut frontier = vec![entry];
    for _ in 0..16 {
        let mut next = Vec::new();
        for e in frontier {
            if managed_keys.contains(&e.r.key()) {
                return Ok(entry);
            }
            next.extend(owners(&e.obj).iter().filter_map(|o| index.by_uid(&o.uid)));
        }
        if next.is_empty() {
            break;
        }
        frontier = next;
    }
    Err(false)
}

/// Whether the tree of `app` has a node in `namespace` named `name` (with uid `uid` when
/// given); used to scope a resource's events to the app.
pub fn has_node(index: &Index, app: &Value, namespace: &str, name: &str, uid: &str) -> bool {
    let mut found = false;
    let missing = walk(index, app, |e, _| {
        found |= e.r.namespace == namespace
            && e.r.name == name
            && (uid.is_empty() || meta(&e.obj, "uid") == uid);
    });
    found
        || (uid.is_empty()
            && missing
                .iter()
                .any(|r| s(r, "namespace") == namespace && s(r, "name") == name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use fjord_model::ResourceType;
    use serde_json::json;

    fn obj(
        api: &str,
        kind: &str,
        name: &str,
        uid: &str,
        owner: Option<(&str, &str, &str)>,
    ) -> Value {
        let mut o = json!({"apiVersion": api, "kind": kind,
            "metadata": {"name": name, "namespace": "shop", "uid": uid,
                "resourceVersion": "7", "creationTimestamp": "2026-01-01T00:00:00Z"}});
        if let Some((k, n, u)) = owner {
            o["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": k, "name": n, "uid": u, "controller": true}]);
        }
        o
    }

    fn index() -> Index {
        let mut ix = Index::default();
        let dep = ResourceType::new("apps", "v1", "Deployment", "deployments", true);
        let rs = ResourceType::new("apps", "v1", "ReplicaSet", "replicasets", true);
        let pod = ResourceType::new("", "v1", "Pod", "pods", true);
        ix.upsert(&dep, obj("apps/v1", "Deployment", "web", "d1", None));
        ix.upsert(
            &rs,
            obj(
                "apps/v1",
                "ReplicaSet",
                "web-1",
                "r1",
                Some(("Deployment", "web", "d1")),
            ),
        );
        let mut p = obj(
            "v1",
            "Pod",
            "web-1-a",
            "p1",
            Some(("ReplicaSet", "web-1", "r1")),
        );
        p["spec"] = json!({"containers": [{"image": "nginx:1.27"}]});
        p["status"] = json!({"phase": "Running"});
        ix.upsert(&pod, p);
        // Someone else's pod.
        ix.upsert(
            &pod,
            obj("v1", "Pod", "other", "p9", Some(("ReplicaSet", "x", "r9"))),
        );
        ix
    }

    fn app() -> Value {
        json!({"status": {"resources": [
            {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "shop",
             "name": "web", "health": {"status": "Healthy"}},
            {"version": "v1", "kind": "ConfigMap", "namespace": "shop", "name": "later",
             "health": {"status": "Missing"}}]}})
    }

    #[test]
    fn tree_follows_owners_from_managed_objects() {
        let ix = index();
        let tree = build(&ix, &app(), &Filter::default());
        let names: Vec<&str> = tree.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["later", "web-1-a", "web", "web-1"]);
        let dep = &tree.nodes[2];
        assert!(dep.parent_refs.is_empty());
        assert_eq!(dep.health.as_ref().unwrap().status, HealthStatus::Healthy);
        assert_eq!(dep.uid, "d1");
        let pod = &tree.nodes[1];
        assert_eq!(pod.parent_refs[0].uid, "r1");
        assert_eq!(pod.parent_refs[0].kind, "ReplicaSet");
        assert_eq!(pod.images, ["nginx:1.27"]);
        assert_eq!(pod.created_at.as_deref(), Some("2026-01-01T00:00:00Z"));
        let later = &tree.nodes[0];
        assert!(later.uid.is_empty());
        assert_eq!(later.health.as_ref().unwrap().status, HealthStatus::Missing);
        let json = serde_json::to_value(&tree).unwrap();
        assert_eq!(json["orphanedNodes"], json!([]));
        assert_eq!(json["nodes"][1]["parentRefs"][0]["name"], "web-1");
        let only_pods = Filter {
            kind: Some("Pod".into()),
            ..Filter::default()
        };
        assert_eq!(build(&ix, &app(), &only_pods).nodes.len(), 1);
    }

    #[test]
    fn membership_walks_up_to_a_managed_object() {
        let ix = index();
        let app = app();
        let pod = ObjectKey::new("", "Pod", "shop", "web-1-a");
        assert_eq!(member(&ix, &app, &pod).unwrap().r.name, "web-1-a");
        let other = ObjectKey::new("", "Pod", "shop", "other");
        assert_eq!(member(&ix, &app, &other).err(), Some(false));
        let later = ObjectKey::new("", "ConfigMap", "shop", "later");
        assert_eq!(member(&ix, &app, &later).err(), Some(true));
        assert!(has_node(&ix, &app, "shop", "web-1-a", "p1"));
        assert!(!has_node(&ix, &app, "shop", "web-1-a", "p2"));
        assert!(!has_node(&ix, &app, "shop", "other", ""));
    }

    #[test]
    fn two_thousand_object_app_builds_quickly() {
        let mut ix = Index::default();
        let dep = ResourceType::new("apps", "v1", "Deployment", "deployments", true);
        let rs = ResourceType::new("apps", "v1", "ReplicaSet", "replicasets", true);
        let pod = ResourceType::new("", "v1", "Pod", "pods", true);
        let mut resources = Vec::new();
        // 500 Deployments, each with a ReplicaSet and two Pods: 2,000 objects.
        for i in 0..500 {
            let (d, r) = (format!("d{i}"), format!("r{i}"));
            ix.upsert(
                &dep,
                obj("apps/v1", "Deployment", &format!("web{i}"), &d, None),
            );
            ix.upsert(
                &rs,
                obj(
                    "apps/v1",
                    "ReplicaSet",
                    &format!("web{i}-1"),
                    &r,
                    Some(("Deployment", "x", &d)),
                ),
            );
            for j in 0..2 {
                let mut p = obj(
                    "v1",
                    "Pod",
                    &format!("web{i}-1-{j}"),
                    &format!("p{i}-{j}"),
                    Some(("ReplicaSet", "x", &r)),
                );
                p["spec"] = json!({"nodeName": "n", "containers": [{"image": "nginx:1.27"}]});
                p["status"] = json!({"phase": "Running", "containerStatuses": [
                    {"ready": true, "restartCount": 0, "state": {"running": {}}}]});
                ix.upsert(&pod, p);
            }
            resources.push(
                json!({"group": "apps", "version": "v1", "kind": "Deployment",
                "namespace": "shop", "name": format!("web{i}"), "health": {"status": "Healthy"}}),
            );
        }
        let app = json!({"status": {"resources": resources}});
        let start = std::time::Instant::now();
        let tree = build(&ix, &app, &Filter::default());
        let text = serde_json::to_string(&tree).unwrap();
        let took = start.elapsed();
        eprintln!(
            "2,000-node tree: built and encoded in {took:?}, {} bytes",
            text.len()
        );
        assert_eq!(tree.nodes.len(), 2000);
        // Generous: debug build, two shared cores.
        assert!(took < std::time::Duration::from_secs(2), "{took:?}");
    }
}
