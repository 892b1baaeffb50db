//! The live-state cache of one destination cluster, kept by watches (Argo CD's cluster cache):
//! every object that carries a tracking id, indexed by application. It answers "what does this
//! app track?" without listing the cluster on every comparison, and every change it sees wakes
//! the owning app, which is how drift is noticed within a second for self-heal.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use fjord_client::{Client, ResourceType, WatchItem};
use fjord_sync::prune;
use fjord_sync::ObjectRef;
use serde_json::Value;

use super::Shared;

/// Delay that coalesces bursts of live-object events into one reconcile.
const LIVE_EVENT_DELAY: Duration = Duration::from_millis(100);

type Tracked = HashMap<ObjectRef, Value>;

/// The cache of one cluster.
pub struct ClusterCache {
    client: Client,
    /// app → its tracked objects.
    by_app: Mutex<HashMap<String, Tracked>>,
    /// (group, kind) already watched.
    watched: Mutex<HashSet<(String, String)>>,
    /// Watches whose first list has not arrived yet.
    pending: AtomicUsize,
    /// Whether discovery of every type ran.
    started: AtomicBool,
}

impl ClusterCache {
    /// An empty cache; call [`ClusterCache::start`] to fill it.
    pub fn new(client: Client) -> Arc<ClusterCache> {
        Arc::new(ClusterCache {
            client,
            by_app: Mutex::default(),
            watched: Mutex::default(),
            pending: AtomicUsize::new(0),
            started: AtomicBool::new(false),
        })
    }

    /// Watches every listable type of the cluster (once).
    pub async fn start(self: &Arc<Self>, shared: &Arc<Shared>) {
        if self.started.swap(true, Ordering::SeqCst) {
            return;
        }
        match self.client.resource_types().await {
            Ok(types) => {
                for t in types.iter().filter(|t| !prune::excluded(t)) {
                    self.watch_type(shared, t);
                }
            }
            Err(e) => {
                self.started.store(false, Ordering::SeqCst);
                super::events::log("warn", "", &format!("cluster cache discovery: {e}"));
            }
        }
    }

    /// Watches `t` unless it already is.
    pub fn watch_type(self: &Arc<Self>, shared: &Arc<Shared>, t: &ResourceType) {
        let key = (t.group.clone(), t.kind.clone());
        if !self
            .watched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key)
        {
            return;
        }
        self.pending.fetch_add(1, Ordering::SeqCst);
        let rx = self.client.watch(t, None);
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
                let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
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
        if !self.started.load(Ordering::SeqCst) || self.pending.load(Ordering::SeqCst) > 0 {
            return None;
        }
        let by_app = self.by_app.lock().unwrap_or_else(|e| e.into_inner());
        Some(
            by_app
                .get(app)
                .map(|m| m.iter().map(|(r, v)| (r.clone(), v.clone())).collect())
                .unwrap_or_default(),
        )
    }

    fn remove(&self, t: &ResourceType, obj: &Value) -> Option<String> {
        let ns = obj
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("");
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let mut by_app = self.by_app.lock().unwrap_or_else(|e| e.into_inner());
        let mut owner = None;
        for (app, objs) in by_app.iter_mut() {
            let before = objs.len();
            objs.retain(|r, _| {
                !(r.group == t.group && r.kind == t.kind && r.namespace == ns && r.name == name)
            });
            if objs.len() != before {
                owner = Some(app.clone());
            }
        }
        owner
    }

    /// Applies one watch item; returns the apps whose objects changed.
    fn apply(&self, t: &ResourceType, item: WatchItem) -> Vec<String> {
        let mut touched = Vec::new();
        match item {
            WatchItem::Listed(items) => {
                let mut by_app = self.by_app.lock().unwrap_or_else(|e| e.into_inner());
                for objs in by_app.values_mut() {
                    objs.retain(|r, _| !(r.group == t.group && r.kind == t.kind));
                }
                for obj in items {
                    if let Some((app, r)) = prune::tracked_by(t, &obj) {
                        by_app.entry(app.clone()).or_default().insert(r, obj);
                        touched.push(app);
                    }
                }
            }
            WatchItem::Applied(obj) => {
                touched.extend(self.remove(t, &obj));
                if let Some((app, r)) = prune::tracked_by(t, &obj) {
                    self.by_app
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .entry(app.clone())
                        .or_default()
                        .insert(r, obj);
                    touched.push(app);
                }
            }
            WatchItem::Deleted(obj) => {
                touched.extend(self.remove(t, &obj));
                if let Some((app, _)) = prune::tracked_by(t, &obj) {
                    touched.push(app);
                }
            }
        }
        touched.sort();
        touched.dedup();
        touched
    }
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
        let initial = first && matches!(item, WatchItem::Listed(_));
        let touched = cache.apply(&t, item);
        if initial {
            first = false;
            cache.pending.fetch_sub(1, Ordering::SeqCst);
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
