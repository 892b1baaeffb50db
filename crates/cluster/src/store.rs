//! The durable object store.
//!
//! Objects live in an in-memory ordered map (the read path) backed by a redb database (the durable
//! path). Writes use group commit: each write updates the map and joins the pending batch; a
//! committer thread writes the whole batch — objects and the new global resourceVersion counter —
//! in one redb transaction with immediate durability. The HTTP layer acknowledges a write only
//! after the batch holding it has committed ([`Durability::wait`]), so a crash never loses an
//! acknowledged write and resourceVersions stay monotonic across restarts. Concurrent writers share
//! one fsync instead of paying one each. Readers and watchers may see a write up to one batch
//! before it is durable; a failed commit makes the store fail-stop (every later write is refused).
//! With `in_memory` the map is the only copy.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use redb::{Database, ReadableTable, TableDefinition};
use serde_json::Value;

const OBJECTS: TableDefinition<&str, &[u8]> = TableDefinition::new("objects");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const RV_KEY: &str = "resourceVersion";
/// redb's page cache size.
const REDB_CACHE_BYTES: usize = 32 << 20;

/// Failures of the durable store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Opening or creating the database file failed.
    #[error("opening store {path}")]
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
    #[error("stored object {key} is corrupt")]
    Corrupt {
        /// The object's key.
        key: String,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// Committing a batch failed; none of its writes were acknowledged and the store refuses
    /// further writes.
    #[error("committing the write batch: {0}")]
    Commit(String),
    /// The committer thread could not be started.
    #[error("starting the committer thread: {0}")]
    Thread(std::io::Error),
}

thread_local! {
    /// The batch sequence number of the last write staged on this thread.
    static TICKET: Cell<u64> = const { Cell::new(0) };
}

/// Takes (and clears) the sequence number of the last write staged on this thread; 0 if none.
pub fn take_ticket() -> u64 {
    TICKET.with(|t| t.replace(0))
}

/// The pending batch and commit progress, shared with the committer thread.
#[derive(Default)]
struct Queue {
    batch: Vec<(String, Option<Arc<Value>>)>,
    rv: u64,
    staged: u64,
    durable: u64,
    failed: Option<String>,
    stop: bool,
}

/// What async waiters see of the committer's progress: the last durable sequence number, and
/// whether the store has failed.
#[derive(Debug, Clone, Default)]
struct Committed {
    durable: u64,
    failed: Option<String>,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    work: Condvar,
    done: Condvar,
    /// The committer's progress for async waiters (updated with `done`).
    committed: tokio::sync::watch::Sender<Committed>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A handle for waiting until staged writes are durable (cheap to clone; no store lock needed).
#[derive(Clone, Default)]
pub struct Durability(Option<Arc<Shared>>);

impl Durability {
    /// Blocks until the write with sequence number `ticket` has committed (0: returns at once).
    pub fn wait(&self, ticket: u64) -> Result<(), StoreError> {
        let Some(shared) = &self.0 else { return Ok(()) };
        if ticket == 0 {
            return Ok(());
        }
        let mut q = shared.lock();
        while q.durable < ticket && q.failed.is_none() {
            q = shared.done.wait(q).unwrap_or_else(|p| p.into_inner());
        }
        match &q.failed {
            Some(e) if q.durable < ticket => Err(StoreError::Commit(e.clone())),
            _ => Ok(()),
        }
    }

    /// Like [`Durability::wait`], without blocking a thread: the HTTP front end awaits this, so
    /// a request waiting for the next group commit holds no thread.
    pub async fn wait_async(&self, ticket: u64) -> Result<(), StoreError> {
        let Some(shared) = &self.0 else { return Ok(()) };
        if ticket == 0 {
            return Ok(());
        }
        let mut rx = shared.committed.subscribe();
        let seen = rx
            .wait_for(|c| c.durable >= ticket || c.failed.is_some())
            .await
            .map(|c| c.clone());
        match seen {
            Ok(c) if c.durable >= ticket => Ok(()),
            Ok(c) => Err(StoreError::Commit(c.failed.unwrap_or_default())),
            // The sender lives in `shared`, which this handle keeps alive.
            Err(_) => Err(StoreError::Commit("the store was closed".into())),
        }
    }
}

fn write_batch(
    db: &Database,
    batch: &[(String, Option<Arc<Value>>)],
    rv: u64,
) -> Result<(), Box<redb::Error>> {
    let tx = db.begin_write().map_err(boxed)?;
    {
        let mut table = tx.open_table(OBJECTS).map_err(boxed)?;
        for (key, obj) in batch {
            match obj {
                Some(o) => {
                    let bytes = serde_json::to_vec(o.as_ref()).unwrap_or_default();
                    table
                        .insert(key.as_str(), bytes.as_slice())
                        .map_err(boxed)?;
                }
                None => {
                    table.remove(key.as_str()).map_err(boxed)?;
                }
            }
        }
        let mut meta = tx.open_table(META).map_err(boxed)?;
        meta.insert(RV_KEY, rv).map_err(boxed)?;
    }
    tx.commit().map_err(boxed)?;
    Ok(())
}

/// The committer: takes whatever batch has gathered, commits it in one transaction, wakes waiters.
fn committer(db: Database, shared: Arc<Shared>) {
    loop {
        let (batch, rv, seq) = {
            let mut q = shared.lock();
            while q.batch.is_empty() && !q.stop {
                q = shared.work.wait(q).unwrap_or_else(|p| p.into_inner());
            }
            if q.batch.is_empty() {
                return;
            }
            (std::mem::take(&mut q.batch), q.rv, q.staged)
        };
        let result = write_batch(&db, &batch, rv);
        let mut q = shared.lock();
        match result {
            Ok(()) => q.durable = seq,
            Err(e) => {
                eprintln!("fjord-cluster: store commit failed, refusing further writes: {e}");
                q.failed = Some(e.to_string());
            }
        }
        shared.committed.send_replace(Committed {
            durable: q.durable,
            failed: q.failed.clone(),
        });
        shared.done.notify_all();
    }
}

fn boxed<E: Into<redb::Error>>(e: E) -> Box<redb::Error> {
    Box::new(e.into())
}

/// The object store: `group/plural/namespace/name` → object JSON.
pub struct Store {
    shared: Option<Arc<Shared>>,
    committer: Option<JoinHandle<()>>,
    objects: BTreeMap<String, Arc<Value>>,
    rv: u64,
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Some(shared) = &self.shared {
            shared.lock().stop = true;
            shared.work.notify_all();
        }
        if let Some(t) = self.committer.take() {
            let _ = t.join();
        }
    }
}

/// Builds the storage key of an object.
pub fn key(group: &str, plural: &str, namespace: &str, name: &str) -> String {
    format!("{group}/{plural}/{namespace}/{name}")
}

impl Store {
    /// An empty store that keeps nothing on disk.
    pub fn in_memory() -> Store {
        Store {
            shared: None,
            committer: None,
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
        // Reads are served from memory, so redb's page cache (1 GiB by default) only helps writes.
        let db = Database::builder()
            .set_cache_size(REDB_CACHE_BYTES)
            .create(&path)
            .map_err(|e| open_err(boxed(e)))?;
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
        let shared = Arc::new(Shared::default());
        let for_thread = shared.clone();
        let committer = std::thread::Builder::new()
            .name("fjord-store-commit".into())
            .spawn(move || committer(db, for_thread))
            .map_err(StoreError::Thread)?;
        Ok(Store {
            shared: Some(shared),
            committer: Some(committer),
            objects,
            rv,
        })
    }

    /// A handle to wait for durability with.
    pub fn durability(&self) -> Durability {
        Durability(self.shared.clone())
    }

    /// Blocks until every staged write is durable.
    pub fn flush(&self) -> Result<(), StoreError> {
        let staged = self.shared.as_ref().map(|s| s.lock().staged).unwrap_or(0);
        self.durability().wait(staged)
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

    /// Stores `obj` (or deletes the key when `None`) at resourceVersion `rv`: the map at once,
    /// the disk with the next batch. The write's sequence number is left for [`take_ticket`];
    /// acknowledge it only after [`Durability::wait`] on that ticket.
    pub fn commit(
        &mut self,
        key: &str,
        obj: Option<Arc<Value>>,
        rv: u64,
    ) -> Result<(), StoreError> {
        if let Some(shared) = &self.shared {
            let mut q = shared.lock();
            if let Some(e) = &q.failed {
                return Err(StoreError::Commit(e.clone()));
            }
            q.batch.push((key.to_string(), obj.clone()));
            q.rv = q.rv.max(rv);
            q.staged += 1;
            let seq = q.staged;
            drop(q);
            shared.work.notify_one();
            TICKET.with(|t| t.set(seq));
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
            let ticket = take_ticket();
            assert!(ticket >= 3);
            s.durability().wait(ticket).expect("durable");
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

    #[tokio::test]
    async fn async_wait_resolves_once_the_batch_is_durable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = Store::open(dir.path()).expect("open");
        let d = s.durability();
        assert!(
            d.wait_async(0).await.is_ok(),
            "no write: nothing to wait for"
        );
        s.commit("/configmaps/default/a", Some(Arc::new(json!({"a": 1}))), 1)
            .expect("put");
        let ticket = take_ticket();
        assert!(ticket > 0);
        d.wait_async(ticket).await.expect("durable");
        // Durable means on disk: a second handle on the file sees it.
        drop(s);
        let again = Store::open(dir.path()).expect("reopen");
        assert_eq!(again.rv(), 1);
        assert!(again.get("/configmaps/default/a").is_some());
    }
}
