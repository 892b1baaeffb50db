//! The live-state cache of one destination cluster, kept by watches (Argo CD's cluster cache):
//! every object that carries a tracking id, indexed by application. It answers "what does this
//! app track?" without listing the cluster on every comparison, and every change it sees wakes
//! the owning app, which is how drift is noticed within a second for self-heal.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use fjord_client::{Client, ResourceType, WatchItem};
use fjord_sync::prune;
use fjord_sync::ObjectRef;
use serde_json::Value;

use tokio::sync::Notify;

use super::Shared;

/// Delay that coalesces bursts of live-object events into one reconcile.
const LIVE_EVENT_DELAY: Duration = Duration::from_millis(100);
/// How long after its creation comparisons wait for the cache's first lists
/// ([`ClusterCache::wait_ready`]); after that they search the cluster themselves while it is
/// not ready (a type whose list never comes: a watch the API server refuses).
const FIRST_LISTS_WAIT: Duration = Duration::from_secs(15);

type Key = fjord_sync::ObjectKey;

/// Tracked objects, by identity and by owning app.
#[derive(Default)]
struct Index {
    /// Every tracked object: its owner, reference and last state.
    objects: HashMap<Key, (String, ObjectRef, Value)>,
    /// app → the keys of its objects.
    by_app: HashMap<String, HashSet<Key>>,
}

impl Index {
    /// Forgets `k`; returns its owner.
    fn remove(&mut self, k: &Key) -> Option<String> {
        let (app, _, _) = self.objects.remove(k)?;
        if let Some(keys) = self.by_app.get_mut(&app) {
            keys.remove(k);
        }
        Some(app)
    }

    fn insert(&mut self, app: String, r: ObjectRef, obj: Value) {
        let k = r.key();
        self.remove(&k);
        self.by_app
            .entry(app.clone())
            .or_default()
            .insert(k.clone());
        self.objects.insert(k, (app, r, obj));
    }
}

/// The cache of one cluster.
pub struct ClusterCache {
    client: Client,
    /// Watch only this namespace and only namespaced types (a namespace install).
    scope: Option<String>,
    /// The tracked objects.
    index: Mutex<Index>,
    /// (group, kind) already watched.
    watched: Mutex<HashSet<(String, String)>>,
    /// Watches whose first list has not arrived yet.
    pending: AtomicUsize,
    /// Whether discovery of every type started.
    started: AtomicBool,
    /// Whether every type of the discovery is watched (and counted in `pending`).
    discovered: AtomicBool,
    /// Signalled when a first list arrives or discovery ends.
    progress: Notify,
    /// When the cache was made.
    created: Instant,
}

impl ClusterCache {
    /// An empty cache; call [`ClusterCache::start`] to fill it.
    pub fn new(client: Client) -> Arc<ClusterCache> {
        ClusterCache::scoped(client, None)
    }

    /// An empty cache watching only namespace `scope` (and no cluster-scoped type) when set.
    pub fn scoped(client: Client, scope: Option<String>) -> Arc<ClusterCache> {
        Arc::new(ClusterCache {
            client,
            scope,
            index: Mutex::default(),
            watched: Mutex::default(),
            pending: AtomicUsize::new(0),
            started: AtomicBool::new(false),
            discovered: AtomicBool::new(false),
            progress: Notify::new(),
            created: Instant::now(),
        })
    }

    /// Whether every watch has delivered its first list.
    pub fn is_ready(&self) -> bool {
        self.discovered.load(Ordering::SeqCst) && self.pending.load(Ordering::SeqCst) == 0
    }

    /// Waits until the cache [`is_ready`](ClusterCache::is_ready), at most until 15 s
    /// (`FIRST_LISTS_WAIT`) after its creation: a comparison reads tracked objects from the
    /// cache instead of listing every type of the cluster itself (as Argo CD waits for its
    /// cluster cache).
    pub async fn wait_ready(&self) {
        let deadline = tokio::time::Instant::from_std(self.created + FIRST_LISTS_WAIT);
        loop {
            let notified = self.progress.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_ready() || tokio::time::timeout_at(deadline, notified).await.is_err() {
                return;
            }
        }
    }

    /// Watches every listable type of the cluster (once).
    pub async fn start(self: &Arc<Self>, shared: &Arc<Shared>) {
        if self.started.swap(true, Ordering::SeqCst) {
            return;
        }
        match self.client.resource_types().await {
            Ok(types) => {
                for t in types
                    .iter()
                    .filter(|t| !prune::excluded(t) && self.in_scope(t))
                {
                    self.watch_type(shared, t);
                }
                self.discovered.store(true, Ordering::SeqCst);
                self.progress.notify_waiters();
            }
            Err(e) => {
                self.started.store(false, Ordering::SeqCst);
                super::events::log(
                    "warn",
                    "",
                    &format!("cluster cache discovery: {}", fjord_model::chain(&e)),
                );
            }
        }
    }

    /// Whether `t` is watched at all: every type, or only namespaced ones in a scoped cache.
    fn in_scope(&self, t: &ResourceType) -> bool {
        self.scope.is_none() || t.namespaced
    }

    /// Watches `t` unless it already is (or it is out of the cache's scope).
    pub fn watch_type(self: &Arc<Self>, shared: &Arc<Shared>, t: &ResourceType) {
        let key = (t.group.clone(), t.kind.clone());
        if !self.in_scope(t) {
            return;
        }
        if !self
            .watched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key)
        {
            return;
        }
        self.pending.fetch_add(1, Ordering::SeqCst);
        let rx = self.client.watch(t, self.scope.as_deref());
        tokio::spawn(follow(
            Arc::downgrade(self),
            Arc::downgrade(shared),
            t.clone(),
            rx,
        ));
    }

    /// Watches the (apiVersion, kind) types an app deploys (custom resources whose CRD came
    /// after the cache started).
    pub async fn watch_kinds(self: &Arc<Self>, shared: &Arc<Shared>, kinds: &[(String, String)]) {
        for (api_version, kind) in kinds {
            let known = {
                let (group, _) = fjord_client::split_api_version(api_version);
                self.watched
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .contains(&(group.to_string(), kind.clone()))
            };
            if known {
                continue;
            }
            if let Ok(t) = self.client.resolve(api_version, kind).await {
                self.watch_type(shared, &t);
            }
        }
    }

    /// The objects `app` tracks, once every watch has delivered its first list.
    pub fn tracked(&self, app: &str) -> Option<Vec<(ObjectRef, Value)>> {
        if !self.is_ready() {
            return None;
        }
        let index = self.index.lock().unwrap_or_else(|e| e.into_inner());
        let keys = index.by_app.get(app);
        Some(
            keys.into_iter()
                .flatten()
                .filter_map(|k| index.objects.get(k))
                .map(|(_, r, v)| (r.clone(), v.clone()))
                .collect(),
        )
    }

    /// Applies one watch item; returns the apps whose objects changed.
    fn apply(&self, t: &ResourceType, item: WatchItem) -> Vec<String> {
        let mut index = self.index.lock().unwrap_or_else(|e| e.into_inner());
        let mut touched = Vec::new();
        match item {
            WatchItem::Listed(items) => {
                touched.extend(forget_type(&mut index, t));
                for obj in items {
                    if let Some((app, r)) = prune::tracked_by(t, &obj) {
                        touched.push(app.clone());
                        index.insert(app, r, obj);
                    }
                }
            }
            WatchItem::Applied(obj) => {
                // An object may lose or change its tracking id: its old owner is told too.
                touched.extend(index.remove(&ObjectRef::of_typed(t, &obj).key()));
                if let Some((app, r)) = prune::tracked_by(t, &obj) {
                    touched.push(app.clone());
                    index.insert(app, r, obj);
                }
            }
            WatchItem::Deleted(obj) => {
                touched.extend(index.remove(&ObjectRef::of_typed(t, &obj).key()));
                touched.extend(prune::tracked_by(t, &obj).map(|(app, _)| app));
            }
            WatchItem::Refused(msg) => {
                touched.extend(forget_type(&mut index, t));
                // RBAC grants no list of this type: nothing of it is known, as with Argo CD's
                // `resource.respectRBAC`. An app that deploys the type finds out from the
                // server when it reads or applies its object.
                super::events::log(
                    "warn",
                    "",
                    &format!("cluster cache: not watching {}: {msg}", t.kind),
                );
            }
        }
        touched.sort();
        touched.dedup();
        touched
    }
}

/// Drops every object of type `t` from the index; returns the apps that tracked one.
fn forget_type(index: &mut Index, t: &ResourceType) -> Vec<String> {
    let stale: Vec<Key> = index
        .objects
        .keys()
        .filter(|key| key.group == t.group && key.kind == t.kind)
        .cloned()
        .collect();
    stale.iter().filter_map(|k| index.remove(k)).collect()
}

async fn follow(
    cache: Weak<ClusterCache>,
    shared: Weak<Shared>,
    t: ResourceType,
    mut rx: tokio::sync::mpsc::Receiver<WatchItem>,
) {
    let mut first = true;
    while let Some(item) = rx.recv().await {
        let (Some(cache), Some(shared)) = (cache.upgrade(), shared.upgrade()) else {
            return;
        };
        let initial = first && matches!(item, WatchItem::Listed(_) | WatchItem::Refused(_));
        let touched = cache.apply(&t, item);
        if initial {
            first = false;
            cache.pending.fetch_sub(1, Ordering::SeqCst);
            cache.progress.notify_waiters();
            // The first list is the state the apps are compared with anyway.
            continue;
        }
        for app in touched {
            let known = shared
                .apps
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains_key(&app);
            if known {
                shared.queue.add_after(app, LIVE_EVENT_DELAY);
            }
        }
    }
}
