//! The durable object store.
//!
//! Objects live in an in-memory ordered map (the read path) backed by a redb database (the durable
//! path). Every write commits a redb transaction with immediate durability — the object and the new
//! global resourceVersion counter together — before the caller acknowledges it, so a crash never
//! loses an acknowledged write and resourceVersions stay monotonic across restarts. With
//! `in_memory` the map is the only copy.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, ReadableTable, TableDefinition};
use serde_json::Value;

const OBJECTS: TableDefinition<&str, &[u8]> = TableDefinition::new("objects");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const RV_KEY: &str = "resourceVersion";

/// Failures of the durable store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Opening or creating the database file failed.
    #[error("opening store {path}: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// The redb error.
        source: Box<redb::Error>,
    },
    /// Reading the stored objects at startup failed.
    #[error("loading store: {0}")]
    Load(Box<redb::Error>),
    /// A stored object was not valid JSON.
    #[error("stored object {key} is corrupt: {source}")]
    Corrupt {
        /// The object's key.
        key: String,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// Committing a write failed; the write was not acknowledged.
    #[error("committing {key}: {source}")]
    Commit {
        /// The object's key.
        key: String,
        /// The redb error.
        source: Box<redb::Error>,
    },
}

fn boxed<E: Into<redb::Error>>(e: E) -> Box<redb::Error> {
    Box::new(e.into())
}

/// The object store: `group/plural/namespace/name` → object JSON.
pub struct Store {
    db: Option<Database>,
    objects: BTreeMap<String, Arc<Value>>,
    rv: u64,
}

/// Builds the storage key of an object.
pub fn key(group: &str, plural: &str, namespace: &str, name: &str) -> String {
    format!("{group}/{plural}/{namespace}/{name}")
}

impl Store {
    /// An empty store that keeps nothing on disk.
    pub fn in_memory() -> Store {
        Store {
            db: None,
            objects: BTreeMap::new(),
            rv: 0,
        }
    }

    /// Opens (or creates) `dir/store.redb` and loads every object.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let path = dir.join("store.redb");
        let open_err = |e: Box<redb::Error>| StoreError::Open {
            path: path.clone(),
            source: e,
        };
        let db = Database::create(&path).map_err(|e| open_err(boxed(e)))?;
        let mut objects = BTreeMap::new();
        let mut rv = 0;
        {
            let tx = db.begin_write().map_err(|e| open_err(boxed(e)))?;
            tx.open_table(OBJECTS).map_err(|e| open_err(boxed(e)))?;
            tx.open_table(META).map_err(|e| open_err(boxed(e)))?;
            tx.commit().map_err(|e| open_err(boxed(e)))?;
        }
        let tx = db.begin_read().map_err(|e| StoreError::Load(boxed(e)))?;
        let table = tx
            .open_table(OBJECTS)
            .map_err(|e| StoreError::Load(boxed(e)))?;
        for item in table.iter().map_err(|e| StoreError::Load(boxed(e)))? {
            let (k, v) = item.map_err(|e| StoreError::Load(boxed(e)))?;
            let key = k.value().to_string();
            let obj: Value =
                serde_json::from_slice(v.value()).map_err(|source| StoreError::Corrupt {
                    key: key.clone(),
                    source,
                })?;
            objects.insert(key, Arc::new(obj));
        }
        let meta = tx
            .open_table(META)
            .map_err(|e| StoreError::Load(boxed(e)))?;
        if let Some(v) = meta.get(RV_KEY).map_err(|e| StoreError::Load(boxed(e)))? {
            rv = v.value();
        }
        drop(meta);
        drop(table);
        drop(tx);
        Ok(Store {
            db: Some(db),
            objects,
            rv,
        })
    }

    /// The current global resourceVersion.
    pub fn rv(&self) -> u64 {
        self.rv
    }

    /// Looks an object up.
    pub fn get(&self, key: &str) -> Option<&Arc<Value>> {
        self.objects.get(key)
    }

    /// Every object whose key starts with `prefix`, in key order.
    pub fn scan<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a Arc<Value>)> + 'a {
        self.objects
            .range(prefix.to_string()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
    }

    /// Every object in the store.
    pub fn all(&self) -> impl Iterator<Item = (&String, &Arc<Value>)> {
        self.objects.iter()
    }

    /// Stores `obj` (or deletes the key when `None`) at resourceVersion `rv`, durably.
    pub fn commit(
        &mut self,
        key: &str,
        obj: Option<Arc<Value>>,
        rv: u64,
    ) -> Result<(), StoreError> {
        if let Some(db) = &self.db {
            let err = |e: Box<redb::Error>| StoreError::Commit {
                key: key.to_string(),
                source: e,
            };
            let tx = db.begin_write().map_err(|e| err(boxed(e)))?;
            {
                let mut table = tx.open_table(OBJECTS).map_err(|e| err(boxed(e)))?;
                match &obj {
                    Some(o) => {
                        let bytes = serde_json::to_vec(o.as_ref()).unwrap_or_default();
                        table
                            .insert(key, bytes.as_slice())
                            .map_err(|e| err(boxed(e)))?;
                    }
                    None => {
                        table.remove(key).map_err(|e| err(boxed(e)))?;
                    }
                }
                let mut meta = tx.open_table(META).map_err(|e| err(boxed(e)))?;
                meta.insert(RV_KEY, rv).map_err(|e| err(boxed(e)))?;
            }
            tx.commit().map_err(|e| err(boxed(e)))?;
        }
        match obj {
            Some(o) => {
                self.objects.insert(key.to_string(), o);
            }
            None => {
                self.objects.remove(key);
            }
        }
        self.rv = self.rv.max(rv);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_survive_reopen_with_rv() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let mut s = Store::open(dir.path()).expect("open");
            s.commit("/configmaps/default/a", Some(Arc::new(json!({"a": 1}))), 5)
                .expect("put");
            s.commit("/configmaps/default/b", Some(Arc::new(json!({"b": 1}))), 6)
                .expect("put");
            s.commit("/configmaps/default/a", None, 7).expect("del");
        }
        let s = Store::open(dir.path()).expect("reopen");
        assert_eq!(s.rv(), 7);
        assert!(s.get("/configmaps/default/a").is_none());
        assert_eq!(
            s.get("/configmaps/default/b").map(|v| v["b"].clone()),
            Some(json!(1))
        );
        assert_eq!(s.scan("/configmaps/").count(), 1);
        assert_eq!(s.scan("/secrets/").count(), 0);
    }
}
