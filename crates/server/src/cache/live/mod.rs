//! The live objects of the apps' resource trees, from one watch a type (all namespaces): the
//! types the apps' `status.resources` name plus the child kinds owner references lead to
//! (ReplicaSet, Pod, Job, ControllerRevision, EndpointSlice), indexed by uid, identity and
//! owner uid (`index.rs`); and the cluster's recent Events (`events.rs`). The tree
//! itself is assembled from the index in `tree.rs`.
//!
//! Objects are slimmed on the way in: `metadata.managedFields` is dropped and a Secret's values
//! are masked as fjord-diff masks them, so no request can read a Secret value from here.

pub mod events;
pub mod index;
pub mod info;
pub mod tree;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, Weak};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::{broadcast, watch, Notify};

use fjord_client::{Client, ResourceType, WatchItem};
use fjord_model::{join_api_version, split_api_version, ObjectRef};

use self::events::EventStore;
use self::index::{Index, TypeKey};
use crate::cache::apps::AppCache;
use crate::options::ServerOptions;

/// The kinds owner references lead to from the managed objects (apiVersion, kind).
pub const CHILD_KINDS: &[(&str, &str)] = &[
    ("apps/v1", "ReplicaSet"),
    ("v1", "Pod"),
    ("batch/v1", "Job"),
    ("apps/v1", "ControllerRevision"),
    ("discovery.k8s.io/v1", "EndpointSlice"),
];

/// How long a request waits for the first lists of the types its app needs.
pub const FIRST_LIST_WAIT: Duration = Duration::from_secs(10);
/// Pause before resolving again a type discovery did not know.
const UNKNOWN_RETRY: Duration = Duration::from_secs(30);

/// Where the watch of one type stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TypeState {
    /// Being resolved or waiting for its first list, since the instant.
    Pending(Instant),
    /// Listed: the index holds its objects.
    Synced,
    /// The server refused to list it (RBAC): nothing of it is cached.
    Refused,
    /// Discovery does not serve it (asked again after [`UNKNOWN_RETRY`]).
    Unknown(Instant),
}

/// The live-object cache.
pub struct LiveCache {
    me: Weak<LiveCache>,
    client: Client,
    /// The one namespace watched (`--namespaced`), or every namespace.
    scope: Option<String>,
    index: RwLock<Index>,
    events: RwLock<EventStore>,
    types: Mutex<HashMap<TypeKey, TypeState>>,
    /// Signalled when a type's state changes (first list, refusal, unknown).
    progress: Notify,
    /// A counter bumped on every change of the index (the tree streams follow it).
    changes: watch::Sender<u64>,
    following: AtomicBool,
    /// Whether the Event watch delivered its first list (or cannot).
    events_listed: AtomicBool,
    /// When the cache started.
    started: Instant,
}

/// The (group, kind) of an `apiVersion` and kind.
fn type_key(api_version: &str, kind: &str) -> TypeKey {
    (
        split_api_version(api_version).0.to_string(),
        kind.to_string(),
    )
}

/// The (apiVersion, kind) of every type an app's `status.resources` names.
pub fn app_types(app: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = app
        .pointer("/status/resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default();
            let (version, kind) = (s("version"), s("kind"));
            (!version.is_empty() && !kind.is_empty())
                .then(|| (join_api_version(s("group"), version), kind.to_string()))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// `obj` as the cache keeps it: no `managedFields`, a Secret's values masked.
pub fn slim(t: &ResourceType, mut obj: Value) -> Value {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    if t.group.is_empty() && t.kind == "Secret" {
        fjord_diff::mask::hide_secret_data(None, Some(&mut obj), &[]);
    }
    obj
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl LiveCache {
    /// Starts the watches of the child kinds and of Events (the managed types are added as apps
    /// name them: [`LiveCache::follow_apps`], [`LiveCache::track_types`]).
    pub fn start(client: &Client, opts: &ServerOptions) -> Arc<LiveCache> {
        let (changes, _) = watch::channel(0);
        let cache = Arc::new_cyclic(|me| LiveCache {
            me: me.clone(),
            client: client.clone(),
            scope: opts.namespaced.then(|| opts.namespace.clone()),
            index: RwLock::default(),
            events: RwLock::default(),
            types: Mutex::default(),
            progress: Notify::new(),
            changes,
            following: AtomicBool::new(false),
            events_listed: AtomicBool::new(false),
            started: Instant::now(),
        });
        let me = Arc::downgrade(&cache);
        tokio::spawn(async move {
            let Some(cache) = me.upgrade() else { return };
            let kinds: Vec<(String, String)> = CHILD_KINDS
                .iter()
                .map(|(a, k)| (a.to_string(), k.to_string()))
                .collect();
            cache.track_types(&kinds);
            cache.watch_events().await;
        });
        cache
    }

    /// One live object (any version of its type), if the cache holds its type and it exists.
    pub fn get(&self, id: &ObjectRef) -> Option<Arc<Value>> {
        self.index().by_key(&id.key()).map(|e| e.obj.clone())
    }

    /// The index, for reading (assembling a tree). Hold it briefly: watches wait for it.
    pub fn index(&self) -> RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether objects of (group, kind) are cached (the type is watched and listed).
    pub fn is_cached(&self, group: &str, kind: &str) -> bool {
        lock(&self.types).get(&(group.to_string(), kind.to_string())) == Some(&TypeState::Synced)
    }

    /// A counter that changes whenever a cached object does.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Waits until the Event watch delivered its first list, at most until
    /// [`FIRST_LIST_WAIT`] after the cache started.
    pub async fn wait_events(&self) {
        let deadline = tokio::time::Instant::from_std(self.started + FIRST_LIST_WAIT);
        loop {
            let notified = self.progress.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.events_listed.load(Ordering::SeqCst)
                || tokio::time::timeout_at(deadline, notified).await.is_err()
            {
                return;
            }
        }
    }

    /// The held Events `keep` selects, oldest first.
    pub fn events(&self, keep: impl Fn(&Value) -> bool) -> Vec<Arc<Value>> {
        self.events
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .select(keep)
    }

    /// Starts watching the (apiVersion, kind) types not watched yet (each once; a type
    /// discovery does not know is asked again after 30 s). Returns at once: discovery and the
    /// first lists happen in the background ([`LiveCache::ensure_app`] waits for them).
    pub fn track_types(&self, types: &[(String, String)]) {
        for (api_version, kind) in types {
            let key = type_key(api_version, kind);
            {
                let mut known = lock(&self.types);
                match known.get(&key) {
                    Some(TypeState::Unknown(at)) if at.elapsed() >= UNKNOWN_RETRY => {}
                    Some(_) => continue,
                    None => {}
                }
                known.insert(key.clone(), TypeState::Pending(Instant::now()));
            }
            let me = self.me.clone();
            let (api_version, kind) = (api_version.clone(), kind.clone());
            tokio::spawn(async move {
                let Some(cache) = me.upgrade() else { return };
                match cache.client.resolve(&api_version, &kind).await {
                    Ok(t) => cache.watch_type(t),
                    Err(_) => cache.set_state(&key, TypeState::Unknown(Instant::now())),
                }
            });
        }
    }

    /// Watches the types `app` names (and the child kinds), then waits until each was listed,
    /// refused or found unknown, at most until [`FIRST_LIST_WAIT`] after it was first asked
    /// for (so an unreachable API server delays only the first requests).
    pub async fn ensure_app(&self, app: &Value) {
        let types = app_types(app);
        self.track_types(&types);
        let mut keys: Vec<TypeKey> = types.iter().map(|(a, k)| type_key(a, k)).collect();
        keys.extend(CHILD_KINDS.iter().map(|(a, k)| type_key(a, k)));
        self.wait_listed(&keys).await;
    }

    /// Follows `apps`: every type an app's `status.resources` names is watched as soon as the
    /// app is seen (once; later calls do nothing).
    pub fn follow_apps(&self, apps: &Arc<AppCache>) {
        if self.following.swap(true, Ordering::SeqCst) {
            return;
        }
        let me = self.me.clone();
        let apps = apps.clone();
        tokio::spawn(async move {
            let mut rx = apps.subscribe();
            let scan = |apps: &AppCache| {
                let mut all: HashSet<(String, String)> = HashSet::new();
                for app in apps.list() {
                    all.extend(app_types(&app));
                }
                all.into_iter().collect::<Vec<_>>()
            };
            let mut types = scan(&apps);
            loop {
                let Some(cache) = me.upgrade() else { return };
                cache.track_types(&types);
                drop(cache);
                types = match rx.recv().await {
                    Ok(ev) if ev.kind != "DELETED" => app_types(&ev.app),
                    Ok(_) => Vec::new(),
                    Err(broadcast::error::RecvError::Lagged(_)) => scan(&apps),
                    Err(broadcast::error::RecvError::Closed) => return,
                };
            }
        });
    }

    /// Waits until no type of `keys` is pending, or until the last of them has been pending
    /// for [`FIRST_LIST_WAIT`].
    async fn wait_listed(&self, keys: &[TypeKey]) {
        loop {
            let notified = self.progress.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let since = {
                let known = lock(&self.types);
                keys.iter()
                    .filter_map(|k| match known.get(k) {
                        Some(TypeState::Pending(at)) => Some(*at),
                        _ => None,
                    })
                    .max()
            };
            let Some(since) = since else { return };
            let deadline = tokio::time::Instant::from_std(since + FIRST_LIST_WAIT);
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return;
            }
        }
    }

    fn set_state(&self, key: &TypeKey, state: TypeState) {
        lock(&self.types).insert(key.clone(), state);
        self.progress.notify_waiters();
    }

    fn bump(&self) {
        self.changes.send_modify(|g| *g = g.wrapping_add(1));
    }

    fn watch_type(&self, t: ResourceType) {
        let rx = self.client.watch(&t, self.scope.as_deref());
        let me = self.me.clone();
        tokio::spawn(follow(me, t, rx));
    }

    /// Applies one watch item of type `t` to the index.
    fn apply(&self, t: &ResourceType, item: WatchItem) {
        let key = (t.group.clone(), t.kind.clone());
        match item {
            WatchItem::Listed(items) => {
                let items: Vec<Value> = items.into_iter().map(|o| slim(t, o)).collect();
                self.index
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .replace_type(t, items);
                self.set_state(&key, TypeState::Synced);
            }
            WatchItem::Applied(obj) => {
                let obj = slim(t, obj);
                self.index
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .upsert(t, obj);
            }
            WatchItem::Deleted(obj) => {
                self.index
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .delete(&obj);
            }
            WatchItem::Refused(msg) => {
                eprintln!("fjord server: not watching {} ({}): {msg}", t.kind, t.group);
                self.index
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .forget_type(t);
                self.set_state(&key, TypeState::Refused);
            }
        }
        self.bump();
    }

    /// Follows v1 Events in every namespace into the bounded store.
    async fn watch_events(&self) {
        let Ok(t) = self.client.resolve("v1", "Event").await else {
            eprintln!("fjord server: v1 Event is not served; the events endpoint stays empty");
            self.events_listed.store(true, Ordering::SeqCst);
            self.progress.notify_waiters();
            return;
        };
        let mut rx = self.client.watch(&t, self.scope.as_deref());
        let me = self.me.clone();
        tokio::spawn(async move {
            while let Some(item) = rx.recv().await {
                let Some(cache) = me.upgrade() else { return };
                let now = chrono::Utc::now();
                let listed = matches!(item, WatchItem::Listed(_) | WatchItem::Refused(_));
                {
                    let mut store = cache.events.write().unwrap_or_else(|e| e.into_inner());
                    match item {
                        WatchItem::Listed(items) => {
                            store.replace(items.into_iter().map(|o| slim(&t, o)).collect(), now)
                        }
                        WatchItem::Applied(ev) => store.upsert(slim(&t, ev), now),
                        WatchItem::Deleted(ev) => store.delete(&ev),
                        WatchItem::Refused(msg) => {
                            eprintln!("fjord server: not watching Events: {msg}");
                            store.replace(Vec::new(), now);
                        }
                    }
                }
                if listed && !cache.events_listed.swap(true, Ordering::SeqCst) {
                    cache.progress.notify_waiters();
                }
            }
        });
    }
}

/// Feeds one type's watch into the cache until either ends.
async fn follow(
    cache: Weak<LiveCache>,
    t: ResourceType,
    mut rx: tokio::sync::mpsc::Receiver<WatchItem>,
) {
    while let Some(item) = rx.recv().await {
        let Some(cache) = cache.upgrade() else { return };
        cache.apply(&t, item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn slim_drops_managed_fields_and_masks_secrets() {
        let t = ResourceType::new("", "v1", "Secret", "secrets", true);
        let obj = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "managedFields": [{"manager": "m"}]},
            "data": {"password": "c2VjcmV0"}, "stringData": {"token": "plain"}});
        let out = slim(&t, obj);
        let text = out.to_string();
        assert!(
            !text.contains("c2VjcmV0") && !text.contains("plain"),
            "{text}"
        );
        assert!(out["metadata"].get("managedFields").is_none());
        assert!(out["data"]["password"]
            .as_str()
            .unwrap()
            .starts_with("++++"));
    }

    #[test]
    fn app_types_are_the_distinct_types_of_status_resources() {
        let app = json!({"status": {"resources": [
            {"group": "apps", "version": "v1", "kind": "Deployment", "name": "a"},
            {"group": "apps", "version": "v1", "kind": "Deployment", "name": "b"},
            {"version": "v1", "kind": "Service", "name": "a"},
            {"kind": "Broken"}]}});
        assert_eq!(
            app_types(&app),
            vec![
                ("apps/v1".to_string(), "Deployment".to_string()),
                ("v1".to_string(), "Service".to_string())
            ]
        );
    }
}
