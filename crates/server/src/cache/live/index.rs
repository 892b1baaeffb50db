//! The live-object index behind [`super::LiveCache`]: every object of the watched types by uid,
//! by identity (group, kind, namespace, name) and by owner uid, so a tree is assembled from
//! lookups only. Pure (no I/O); the watches feed it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::Value;

use fjord_model::{ObjectKey, ObjectRef, ResourceType};

/// A watched type's identity regardless of version: (group, kind).
pub type TypeKey = (String, String);

/// One indexed object.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its reference (the version is the watched one).
    pub r: ObjectRef,
    /// The object, slimmed (no `managedFields`, Secret values masked).
    pub obj: Arc<Value>,
}

/// One owner reference of an object: the owner's group, kind, name and uid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// API group of the owner (`""` for core).
    pub group: String,
    /// Kind of the owner.
    pub kind: String,
    /// Name of the owner.
    pub name: String,
    /// Uid of the owner.
    pub uid: String,
}

/// The owner references of `obj` (those with a uid).
pub fn owners(obj: &Value) -> Vec<Owner> {
    let Some(refs) = obj
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    refs.iter()
        .filter_map(|r| {
            let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default();
            let uid = s("uid");
            if uid.is_empty() {
                return None;
            }
            let (group, _) = fjord_model::split_api_version(s("apiVersion"));
            Some(Owner {
                group: group.to_string(),
                kind: s("kind").to_string(),
                name: s("name").to_string(),
                uid: uid.to_string(),
            })
        })
        .collect()
}

/// The uid of `obj` (`""` when it has none).
pub fn uid(obj: &Value) -> &str {
    obj.pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Every object of the watched types.
#[derive(Debug, Default)]
pub struct Index {
    by_uid: HashMap<Arc<str>, Entry>,
    by_key: HashMap<ObjectKey, Arc<str>>,
    children: HashMap<Arc<str>, Vec<Arc<str>>>,
    by_type: HashMap<TypeKey, HashSet<Arc<str>>>,
}

impl Index {
    /// The number of objects held.
    pub fn len(&self) -> usize {
        self.by_uid.len()
    }

    /// Whether no object is held.
    pub fn is_empty(&self) -> bool {
        self.by_uid.is_empty()
    }

    /// The object with this uid.
    pub fn by_uid(&self, uid: &str) -> Option<&Entry> {
        self.by_uid.get(uid)
    }

    /// The object with this identity (any version).
    pub fn by_key(&self, key: &ObjectKey) -> Option<&Entry> {
        self.by_key.get(key).and_then(|u| self.by_uid.get(u))
    }

    /// The uids of the objects that name `uid` as an owner.
    pub fn children(&self, uid: &str) -> &[Arc<str>] {
        self.children
            .get(uid)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Replaces every object of type `t` with `items` (a watch's list).
    pub fn replace_type(&mut self, t: &ResourceType, items: Vec<Value>) {
        self.forget_type(t);
        for obj in items {
            self.upsert(t, obj);
        }
    }

    /// Drops every object of type `t`.
    pub fn forget_type(&mut self, t: &ResourceType) {
        let key = (t.group.clone(), t.kind.clone());
        let uids: Vec<Arc<str>> = self
            .by_type
            .remove(&key)
            .map(|s| s.into_iter().collect())
            .unwrap_or_default();
        for u in uids {
            self.remove_uid(&u);
        }
    }

    /// Adds or replaces `obj`, an object of type `t` (one without a uid is ignored).
    pub fn upsert(&mut self, t: &ResourceType, obj: Value) {
        let id = uid(&obj);
        if id.is_empty() {
            return;
        }
        let r = ObjectRef::of_typed(t, &obj);
        // Same identity, other uid: the old object was deleted and a new one made.
        if let Some(old) = self.by_key.get(&r.key()).cloned() {
            if &*old != id {
                self.remove_uid(&old);
            }
        }
        let id: Arc<str> = Arc::from(id);
        self.remove_uid(&id);
        for o in owners(&obj) {
            self.children
                .entry(Arc::from(o.uid.as_str()))
                .or_default()
                .push(id.clone());
        }
        self.by_key.insert(r.key(), id.clone());
        self.by_type
            .entry((t.group.clone(), t.kind.clone()))
            .or_default()
            .insert(id.clone());
        self.by_uid.insert(
            id,
            Entry {
                r,
                obj: Arc::new(obj),
            },
        );
    }

    /// Removes the object `obj` (a watch's delete).
    pub fn delete(&mut self, obj: &Value) {
        let id = uid(obj);
        if !id.is_empty() {
            self.remove_uid(id);
        }
    }

    fn remove_uid(&mut self, id: &str) {
        let Some(entry) = self.by_uid.remove(id) else {
            return;
        };
        let key = entry.r.key();
        if self.by_key.get(&key).is_some_and(|u| &**u == id) {
            self.by_key.remove(&key);
        }
        if let Some(set) = self
            .by_type
            .get_mut(&(entry.r.group.clone(), entry.r.kind.clone()))
        {
            set.remove(id);
        }
        for o in owners(&entry.obj) {
            if let Some(kids) = self.children.get_mut(o.uid.as_str()) {
                kids.retain(|k| &**k != id);
                if kids.is_empty() {
                    self.children.remove(o.uid.as_str());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rs_type() -> ResourceType {
        ResourceType::new("apps", "v1", "ReplicaSet", "replicasets", true)
    }

    fn rs(name: &str, uid: &str, owner: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": "ns", "uid": uid,
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                    "name": "web", "uid": owner, "controller": true}]}})
    }

    #[test]
    fn indexes_by_uid_key_and_owner_and_forgets_on_relist_and_delete() {
        let t = rs_type();
        let mut ix = Index::default();
        ix.replace_type(&t, vec![rs("a", "u1", "d1"), rs("b", "u2", "d1")]);
        assert_eq!(ix.len(), 2);
        assert_eq!(ix.children("d1").len(), 2);
        let key = ObjectKey::new("apps", "ReplicaSet", "ns", "a");
        assert_eq!(ix.by_key(&key).unwrap().r.name, "a");
        // Re-owned: the old owner loses it.
        ix.upsert(&t, rs("a", "u1", "d2"));
        assert_eq!(ix.children("d1").len(), 1);
        assert_eq!(ix.children("d2").len(), 1);
        // Recreated under a new uid: the old uid is gone.
        ix.upsert(&t, rs("a", "u3", "d2"));
        assert!(ix.by_uid("u1").is_none());
        assert_eq!(&*ix.children("d2")[0], "u3");
        ix.delete(&rs("b", "u2", "d1"));
        assert!(ix.children("d1").is_empty());
        // A re-list replaces everything of the type.
        ix.replace_type(&t, vec![rs("c", "u4", "d9")]);
        assert_eq!(ix.len(), 1);
        assert!(ix.by_key(&key).is_none());
        assert!(ix.children("d2").is_empty());
    }
}
