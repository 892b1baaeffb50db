//! Applications and AppProjects from one watch each, with a change feed for the streams.
//!
//! Each object is held once as an `Arc<Value>` (a list answer and every stream share it),
//! without its `managedFields`. A
//! re-list (after a dropped watch) is diffed against the cache so the change feed still carries
//! only real changes. A probe (`GET /version` every [`PROBE_INTERVAL`]) tells whether the API
//! server answers; the cache keeps serving its last state while it does not.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use axum::body::Bytes;
use serde_json::Value;
use tokio::sync::broadcast;

use fjord_client::{Client, ResourceType, WatchItem};

use crate::options::ServerOptions;

/// How often the API server is probed.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(5);
/// How long one probe may take before the API server counts as unreachable.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// Pause between attempts to find the Application and AppProject types (CRDs not installed).
const RESOLVE_PAUSE: Duration = Duration::from_secs(2);
/// The Application and AppProject API version.
pub const API_VERSION: &str = "argoproj.io/v1alpha1";

/// One change of an Application, as the stream sends it.
#[derive(Debug, Clone)]
pub struct AppEvent {
    /// `ADDED`, `MODIFIED` or `DELETED`.
    pub kind: &'static str,
    /// The Application (its last state for `DELETED`).
    pub app: Arc<Value>,
}

/// `(namespace, name)`.
type Key = (String, String);

/// One cached Application: the object and its JSON, serialized once when it arrived (a list
/// answer copies these bytes instead of serializing 10,000 objects per request).
#[derive(Debug, Clone)]
pub struct Cached {
    /// The object.
    pub value: Arc<Value>,
    /// Its JSON encoding.
    pub json: Bytes,
}

impl Cached {
    fn new(value: Arc<Value>) -> Cached {
        let json = serde_json::to_vec(&*value)
            .map(Bytes::from)
            .unwrap_or_default();
        Cached { value, json }
    }
}

/// The Application and AppProject cache.
pub struct AppCache {
    events: broadcast::Sender<AppEvent>,
    apps: RwLock<BTreeMap<Key, Cached>>,
    projects: RwLock<BTreeMap<String, Arc<Value>>>,
    resource_version: RwLock<String>,
    app_type: RwLock<Option<ResourceType>>,
    reachable: AtomicBool,
    synced: AtomicBool,
}

impl AppCache {
    /// Starts the watches (Applications in the control-plane namespace, AppProjects) and the
    /// reachability probe. The tasks end when the cache is dropped.
    pub fn start(client: &Client, opts: &ServerOptions) -> Arc<AppCache> {
        let cache = Arc::new(AppCache::empty());
        let ns = opts.namespace.clone();
        tokio::spawn(follow(
            client.clone(),
            Arc::downgrade(&cache),
            "Application",
            Some(ns.clone()),
        ));
        tokio::spawn(follow(
            client.clone(),
            Arc::downgrade(&cache),
            "AppProject",
            Some(ns),
        ));
        tokio::spawn(probe(client.clone(), Arc::downgrade(&cache)));
        cache
    }

    /// A cache holding nothing, with no watch (tests; [`AppCache::start`] fills it).
    pub fn empty() -> AppCache {
        let (events, _) = broadcast::channel(1024);
        AppCache {
            events,
            apps: RwLock::default(),
            projects: RwLock::default(),
            resource_version: RwLock::default(),
            app_type: RwLock::default(),
            reachable: AtomicBool::new(true),
            synced: AtomicBool::new(false),
        }
    }

    /// One Application by namespace and name.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<Value>> {
        let apps = self.apps.read().unwrap_or_else(|e| e.into_inner());
        apps.get(&(namespace.to_string(), name.to_string()))
            .map(|c| c.value.clone())
    }
    /// Every Application, sorted by namespace and name.
    pub fn list(&self) -> Vec<Arc<Value>> {
        let apps = self.apps.read().unwrap_or_else(|e| e.into_inner());
        apps.values().map(|c| c.value.clone()).collect()
    }
    /// Every Application with its JSON encoding, sorted by namespace and name.
    pub fn list_cached(&self) -> Vec<Cached> {
        let apps = self.apps.read().unwrap_or_else(|e| e.into_inner());
        apps.values().cloned().collect()
    }
    /// The resourceVersion of the last list or event seen.
    pub fn resource_version(&self) -> String {
        self.resource_version
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
    /// One AppProject by name.
    pub fn project(&self, name: &str) -> Option<Arc<Value>> {
        let p = self.projects.read().unwrap_or_else(|e| e.into_inner());
        p.get(name).cloned()
    }
    /// Every AppProject, sorted by name.
    pub fn projects(&self) -> Vec<Arc<Value>> {
        let p = self.projects.read().unwrap_or_else(|e| e.into_inner());
        p.values().cloned().collect()
    }
    /// The change feed (Applications).
    pub fn subscribe(&self) -> broadcast::Receiver<AppEvent> {
        self.events.subscribe()
    }
    /// Whether the Kubernetes API answered the last watch or probe.
    pub fn reachable(&self) -> bool {
        self.reachable.load(Ordering::SeqCst)
    }
    /// Whether the Applications have been listed once (the cache is complete).
    pub fn synced(&self) -> bool {
        self.synced.load(Ordering::SeqCst)
    }
    /// The served Application type, once discovery found it (for writes such as `refresh`).
    pub fn app_type(&self) -> Option<ResourceType> {
        self.app_type
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Notes a resourceVersion seen (the highest one, compared as numbers when both are).
    fn note_version(&self, obj: &Value) {
        let Some(rv) = obj
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
        else {
            return;
        };
        let mut cur = self
            .resource_version
            .write()
            .unwrap_or_else(|e| e.into_inner());
        let newer = match (rv.parse::<u64>(), cur.parse::<u64>()) {
            (Ok(a), Ok(b)) => a > b,
            _ => true,
        };
        if newer || cur.is_empty() {
            *cur = rv.to_string();
        }
    }

    /// Applies a full list of Applications: the cache becomes `items`, and the feed carries
    /// what differs from before (`ADDED`, `MODIFIED` when the resourceVersion moved,
    /// `DELETED`).
    pub fn apply_app_list(&self, items: Vec<Value>) {
        let mut fresh = BTreeMap::new();
        for v in items {
            let v = slim(v);
            self.note_version(&v);
            if let Some(k) = key(&v) {
                fresh.insert(k, Cached::new(Arc::new(v)));
            }
        }
        let mut out = Vec::new();
        {
            let mut apps = self.apps.write().unwrap_or_else(|e| e.into_inner());
            for (k, new) in &fresh {
                let new = &new.value;
                match apps.get(k).map(|c| &c.value) {
                    None => out.push(AppEvent {
                        kind: "ADDED",
                        app: new.clone(),
                    }),
                    Some(old) if rv(old) != rv(new) || (rv(new).is_empty() && old != new) => out
                        .push(AppEvent {
                            kind: "MODIFIED",
                            app: new.clone(),
                        }),
                    Some(_) => {}
                }
            }
            for (k, old) in apps.iter() {
                if !fresh.contains_key(k) {
                    out.push(AppEvent {
                        kind: "DELETED",
                        app: old.value.clone(),
                    });
                }
            }
            *apps = fresh;
        }
        self.synced.store(true, Ordering::SeqCst);
        for ev in out {
            let _ = self.events.send(ev);
        }
    }

    /// Applies one added or modified Application.
    pub fn apply_app(&self, v: Value) {
        let v = slim(v);
        self.note_version(&v);
        let Some(k) = key(&v) else { return };
        let app = Arc::new(v);
        let old = {
            let mut apps = self.apps.write().unwrap_or_else(|e| e.into_inner());
            apps.insert(k, Cached::new(app.clone()))
        };
        let kind = if old.is_some() { "MODIFIED" } else { "ADDED" };
        let _ = self.events.send(AppEvent { kind, app });
    }

    /// Applies one deleted Application (its last state).
    pub fn delete_app(&self, v: Value) {
        let v = slim(v);
        self.note_version(&v);
        let Some(k) = key(&v) else { return };
        let removed = {
            let mut apps = self.apps.write().unwrap_or_else(|e| e.into_inner());
            apps.remove(&k)
        };
        if removed.is_some() {
            let _ = self.events.send(AppEvent {
                kind: "DELETED",
                app: Arc::new(v),
            });
        }
    }

    /// Applies a watch item of AppProjects.
    fn apply_project(&self, item: WatchItem) {
        let mut p = self.projects.write().unwrap_or_else(|e| e.into_inner());
        match item {
            WatchItem::Listed(items) => {
                *p = items
                    .into_iter()
                    .map(slim)
                    .filter_map(|v| Some((key(&v)?.1, Arc::new(v))))
                    .collect();
            }
            WatchItem::Applied(v) => {
                if let Some((_, name)) = key(&v) {
                    p.insert(name, Arc::new(slim(v)));
                }
            }
            WatchItem::Deleted(v) => {
                if let Some((_, name)) = key(&v) {
                    p.remove(&name);
                }
            }
            WatchItem::Refused(_) => {}
        }
    }
}

/// The object as the cache holds it: without `metadata.managedFields` (the server never reads
/// them, and with status written by the controller they are a large part of every
/// Application), in the value and so in the JSON bytes a list answer copies.
fn slim(mut v: Value) -> Value {
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    v
}

/// An object's `(namespace, name)`.
fn key(v: &Value) -> Option<Key> {
    let name = v.pointer("/metadata/name").and_then(Value::as_str)?;
    let ns = v
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    Some((ns.to_string(), name.to_string()))
}

/// An object's resourceVersion (empty when absent).
fn rv(v: &Value) -> &str {
    v.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Finds the type `kind` (waiting while its CRD is missing or the API does not answer), then
/// follows it into the cache until the cache is dropped.
async fn follow(client: Client, cache: Weak<AppCache>, kind: &'static str, ns: Option<String>) {
    let t = loop {
        if cache.strong_count() == 0 {
            return;
        }
        match client.resolve(API_VERSION, kind).await {
            Ok(t) => break t,
            Err(_) => {
                client.invalidate();
                tokio::time::sleep(RESOLVE_PAUSE).await;
            }
        }
    };
    if kind == "Application" {
        if let Some(c) = cache.upgrade() {
            *c.app_type.write().unwrap_or_else(|e| e.into_inner()) = Some(t.clone());
        }
    }
    let mut rx = client.watch_mapped(&t, ns.as_deref(), slim);
    while let Some(item) = rx.recv().await {
        let Some(c) = cache.upgrade() else { return };
        if !matches!(item, WatchItem::Refused(_)) {
            c.reachable.store(true, Ordering::SeqCst);
        }
        if kind == "AppProject" {
            c.apply_project(item);
            continue;
        }
        match item {
            WatchItem::Listed(items) => c.apply_app_list(items),
            WatchItem::Applied(v) => c.apply_app(v),
            WatchItem::Deleted(v) => c.delete_app(v),
            WatchItem::Refused(msg) => {
                eprintln!("fjord server: listing Applications refused: {msg}");
            }
        }
    }
}

/// Probes `GET /version` every [`PROBE_INTERVAL`]: any HTTP answer within [`PROBE_TIMEOUT`]
/// means reachable.
async fn probe(client: Client, cache: Weak<AppCache>) {
    loop {
        let ok = matches!(
            tokio::time::timeout(PROBE_TIMEOUT, client.raw_get("/version")).await,
            Ok(Ok(r)) if r.status < 500
        );
        let Some(c) = cache.upgrade() else { return };
        let was = c.reachable.swap(ok, Ordering::SeqCst);
        if was != ok {
            let state = if ok { "reachable again" } else { "unreachable" };
            eprintln!("fjord server: the Kubernetes API is {state}; serving from the cache");
        }
        drop(c);
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn app(name: &str, rv: &str) -> Value {
        json!({"metadata": {"name": name, "namespace": "argocd", "resourceVersion": rv}})
    }

    #[test]
    fn relist_sends_only_the_differences() {
        let c = AppCache::empty();
        let mut rx = c.subscribe();
        c.apply_app_list(vec![app("a", "1"), app("b", "2")]);
        assert_eq!(rx.try_recv().unwrap().kind, "ADDED");
        assert_eq!(rx.try_recv().unwrap().kind, "ADDED");
        c.apply_app_list(vec![app("a", "1"), app("b", "5"), app("c", "6")]);
        let got: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|e| {
                (
                    e.kind,
                    e.app["metadata"]["name"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![("MODIFIED", "b".to_string()), ("ADDED", "c".to_string())]
        );
        c.apply_app_list(vec![app("c", "6")]);
        let got: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|e| e.kind)
            .collect();
        assert_eq!(got, vec!["DELETED", "DELETED"]);
        assert_eq!(c.resource_version(), "6");
        assert_eq!(c.list().len(), 1);
        assert!(c.get("argocd", "c").is_some());
    }

    #[test]
    fn managed_fields_are_dropped_from_the_value_and_the_json() {
        let c = AppCache::empty();
        let mut a = app("a", "1");
        a["metadata"]["managedFields"] =
            json!([{"manager": "fjord", "fieldsV1": {"f:status": {}}}]);
        c.apply_app_list(vec![a.clone()]);
        a["metadata"]["resourceVersion"] = json!("2");
        c.apply_app(a);
        let got = c.get("argocd", "a").unwrap();
        assert!(got["metadata"].get("managedFields").is_none());
        assert_eq!(got["metadata"]["resourceVersion"], "2");
        let json = String::from_utf8(c.list_cached()[0].json.to_vec()).unwrap();
        assert!(!json.contains("managedFields"), "{json}");
        assert!(json.contains("\"resourceVersion\":\"2\""), "{json}");
    }

    #[test]
    fn watch_events_update_the_cache_and_the_feed() {
        let c = AppCache::empty();
        let mut rx = c.subscribe();
        c.apply_app(app("a", "3"));
        c.apply_app(app("a", "4"));
        c.delete_app(app("a", "5"));
        c.delete_app(app("zz", "6"));
        let got: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|e| e.kind)
            .collect();
        assert_eq!(got, vec!["ADDED", "MODIFIED", "DELETED"]);
        assert!(c.get("argocd", "a").is_none());
        assert_eq!(c.resource_version(), "6");
    }
}
