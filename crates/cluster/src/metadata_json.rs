//! The serialized `metadata` of stored objects, kept for metadata-only lists
//! (`PartialObjectMetadataList`). A client scanning a whole cluster for an annotation (fjord's
//! search for the objects an application tracks, a metadata informer) mostly asks again about
//! objects that have not changed since; their `metadata` is then copied, not serialized again.
//!
//! Entries are checked against the object's resourceVersion (every write changes it), so a stale
//! entry is never served; a deleted object's entry is dropped with it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use fjord_model::meta::OBJECT_META_FIELDS as META_ORDER;
use serde_json::Value;

/// Store key → (the resourceVersion the entry was taken at, the serialized `metadata`).
type Entries = HashMap<String, (String, Arc<[u8]>)>;

/// Serialized `metadata` per store key, with the resourceVersion it was taken at.
#[derive(Default)]
pub(crate) struct MetadataJson {
    entries: Mutex<Entries>,
}

fn rv_of(obj: &Value) -> &str {
    obj.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Puts an object's `metadata` keys in the real server's order (keys it does not know last,
/// in their order), so serialized objects read as the real server's do.
pub(crate) fn canonical_order(obj: &mut Value) {
    let Some(Value::Object(md)) = obj.get_mut("metadata") else {
        return;
    };
    let in_order = md
        .keys()
        .filter_map(|k| META_ORDER.iter().position(|o| o == k))
        .collect::<Vec<_>>()
        .windows(2)
        .all(|w| w[0] < w[1]);
    if in_order {
        return;
    }
    let mut old = std::mem::take(md);
    for k in META_ORDER {
        if let Some(v) = old.remove(*k) {
            md.insert((*k).to_string(), v);
        }
    }
    md.extend(old);
}

impl MetadataJson {
    fn lock(&self) -> MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The serialized `metadata` of each `(store key, object)`, in order: cached when the
    /// object's resourceVersion matches, else serialized now (and kept).
    pub(crate) fn of(&self, items: &[(String, Arc<Value>)]) -> Vec<Arc<[u8]>> {
        let mut out: Vec<Option<Arc<[u8]>>> = Vec::with_capacity(items.len());
        {
            let entries = self.lock();
            for (key, obj) in items {
                out.push(
                    entries
                        .get(key)
                        .filter(|(rv, _)| rv == rv_of(obj))
                        .map(|(_, json)| json.clone()),
                );
            }
        }
        // Serialize the misses without holding the lock.
        let mut fresh = Vec::new();
        for (slot, (key, obj)) in out.iter_mut().zip(items) {
            if slot.is_none() {
                let json: Arc<[u8]> = serde_json::to_vec(&obj["metadata"])
                    .unwrap_or_default()
                    .into();
                *slot = Some(json.clone());
                fresh.push((key.clone(), rv_of(obj).to_string(), json));
            }
        }
        if !fresh.is_empty() {
            let mut entries = self.lock();
            for (key, rv, json) in fresh {
                entries.insert(key, (rv, json));
            }
        }
        out.into_iter().flatten().collect()
    }

    /// Drops the entry of a deleted object.
    pub(crate) fn forget(&self, key: &str) {
        self.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(name: &str, rv: &str) -> (String, Arc<Value>) {
        (
            format!("/configmaps/ns/{name}"),
            Arc::new(
                json!({"metadata": {"name": name, "resourceVersion": rv}, "data": {"k": "v"}}),
            ),
        )
    }

    #[test]
    fn serves_metadata_and_never_a_stale_version() {
        let cache = MetadataJson::default();
        let first = cache.of(&[item("a", "1"), item("b", "2")]);
        assert_eq!(&*first[0], br#"{"name":"a","resourceVersion":"1"}"#);
        assert_eq!(&*first[1], br#"{"name":"b","resourceVersion":"2"}"#);
        // Unchanged: the same bytes come back.
        let again = cache.of(&[item("a", "1")]);
        assert!(Arc::ptr_eq(&first[0], &again[0]));
        // Written since (new resourceVersion): serialized again.
        let changed = cache.of(&[item("a", "7")]);
        assert_eq!(&*changed[0], br#"{"name":"a","resourceVersion":"7"}"#);
        cache.forget("/configmaps/ns/a");
        assert!(cache.lock().get("/configmaps/ns/a").is_none());
        assert!(cache.lock().get("/configmaps/ns/b").is_some());
    }

    #[test]
    fn metadata_keys_follow_the_real_servers_order() {
        let mut o = json!({"metadata": {"name": "d", "ownerReferences": [], "x": 1,
            "uid": "u", "managedFields": [], "namespace": "n"}});
        canonical_order(&mut o);
        let keys: Vec<&String> = o["metadata"]
            .as_object()
            .into_iter()
            .flat_map(|m| m.keys())
            .collect();
        assert_eq!(
            keys,
            [
                "name",
                "namespace",
                "uid",
                "ownerReferences",
                "managedFields",
                "x"
            ]
        );
    }
}
