//! The API engine: shared state, the write path every verb ends in, and request routing.
//!
//! The engine is synchronous: one mutex serialises writes (each ends in a durable commit), and the
//! HTTP layer calls it from blocking tasks. Watches subscribe to the broadcast channel while holding
//! the lock, so no event falls between their snapshot and their live stream.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{json, Value};
use tokio::sync::{broadcast, Notify};

use crate::errors::ApiError;
use crate::meta;
use crate::registry::Registry;
use crate::request::{ApiRequest, Reply, Target};
use crate::rv::{Event, EventType, History};
use crate::sim::kinds::{is_simulated, SimOptions};
use crate::store::{self, Store};
use fjord_model::ResourceType;

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// How many events the watch history keeps.
    pub history: usize,
    /// Workload simulation settings.
    pub sim: SimOptions,
    /// `host:port` advertised in `/api` discovery.
    pub address: String,
}

/// Mutable server state behind the engine's lock.
pub struct State {
    /// Durable objects.
    pub store: Store,
    /// Recent events for watch resumption.
    pub history: History,
    /// Served types.
    pub registry: Registry,
}

/// The API engine.
pub struct Engine {
    state: Mutex<State>,
    schemas: Mutex<HashMap<String, (String, Arc<fjord_merge::Schema>)>>,
    pub(crate) events: broadcast::Sender<Arc<Event>>,
    pub(crate) wake: Notify,
    /// Set by writes that may give the lifecycle controller work (deletes, objects being deleted,
    /// objects with ownerReferences); the controller skips its full scan otherwise.
    pub(crate) lifecycle_dirty: std::sync::atomic::AtomicBool,
    /// Store keys of simulated workloads written since the simulator's last pass.
    pub(crate) sim_dirty: Mutex<std::collections::HashSet<String>>,
    /// Waits for staged writes to become durable (without the state lock).
    pub(crate) durability: store::Durability,
    /// Serialized `metadata` of objects, for metadata-only lists.
    pub(crate) metadata_json: crate::metadata_json::MetadataJson,
    /// Settings.
    pub config: EngineConfig,
}

/// The namespaces that exist from boot.
pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

impl Engine {
    /// Builds an engine over a loaded store and creates the system namespaces if missing.
    pub fn new(store: Store, config: EngineConfig) -> Result<Engine, ApiError> {
        let mut registry = Registry::new();
        let crd_prefix = "apiextensions.k8s.io/customresourcedefinitions/";
        registry.set_crds(store.scan(crd_prefix).map(|(_, v)| v.as_ref()));
        let history = History::new(store.rv(), config.history);
        let durability = store.durability();
        let (events, _) = broadcast::channel(4096);
        let engine = Engine {
            state: Mutex::new(State {
                store,
                history,
                registry,
            }),
            schemas: Mutex::new(HashMap::new()),
            events,
            wake: Notify::new(),
            lifecycle_dirty: std::sync::atomic::AtomicBool::new(true),
            sim_dirty: Mutex::default(),
            durability,
            metadata_json: Default::default(),
            config,
        };
        {
            let mut st = engine.lock();
            let ns_type = st
                .registry
                .lookup("", "v1", "namespaces")
                .ok_or_else(|| ApiError::internal("no namespace type"))?;
            for ns in SYSTEM_NAMESPACES {
                if st
                    .store
                    .get(&store::key("", "namespaces", "", ns))
                    .is_none()
                {
                    let obj =
                        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
                    engine.create_object(&mut st, &ns_type, obj, "kube-apiserver", false)?;
                }
            }
            st.store
                .flush()
                .map_err(|e| ApiError::internal(fjord_model::chain(&e)))?;
        }
        Ok(engine)
    }

    /// Locks the state (a poisoned lock is recovered: every write is committed atomically).
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Subscribes to live events.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.events.subscribe()
    }

    /// Stores a new state of an object (or deletes it when `new` is `None`) at the next RV, durably,
    /// then records and broadcasts the event. Returns the stored object (the last state for deletes).
    pub(crate) fn persist(
        &self,
        st: &mut State,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        new: Option<Value>,
        old: Option<Arc<Value>>,
    ) -> Result<Arc<Value>, ApiError> {
        let key = store::key(&rt.group, &rt.plural, namespace, name);
        let rv = st.store.rv() + 1;
        // The GC only has new work when owner references appear, change or go (a status write
        // of an owned Pod gives it none).
        let lifecycle_work = match &new {
            None => true,
            Some(o) => {
                meta::deleting(o)
                    || old
                        .as_deref()
                        .and_then(|x| x.pointer("/metadata/ownerReferences"))
                        != o.pointer("/metadata/ownerReferences")
            }
        };
        if lifecycle_work {
            self.lifecycle_dirty
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
        let (kind, object) = match new {
            Some(mut obj) => {
                meta::set_rv(&mut obj, rv);
                crate::metadata_json::canonical_order(&mut obj);
                let kind = if old.is_some() {
                    EventType::Modified
                } else {
                    EventType::Added
                };
                let obj = Arc::new(obj);
                st.store
                    .commit(&key, Some(obj.clone()), rv)
                    .map_err(|e| ApiError::internal(fjord_model::chain(&e)))?;
                (kind, obj)
            }
            None => {
                let mut last = old.as_deref().cloned().unwrap_or(Value::Null);
                meta::set_rv(&mut last, rv);
                st.store
                    .commit(&key, None, rv)
                    .map_err(|e| ApiError::internal(fjord_model::chain(&e)))?;
                self.metadata_json.forget(&key);
                (EventType::Deleted, Arc::new(last))
            }
        };
        let ev = Arc::new(Event {
            rv,
            kind,
            prefix: crate::kinds::store_prefix(rt),
            namespace: namespace.to_string(),
            object: object.clone(),
            old,
        });
        st.history.push(ev.clone());
        let _ = self.events.send(ev);
        if rt.group == "apiextensions.k8s.io" && rt.plural == "customresourcedefinitions" {
            let crds: Vec<Value> = st
                .store
                .scan("apiextensions.k8s.io/customresourcedefinitions/")
                .map(|(_, v)| v.as_ref().clone())
                .collect();
            st.registry.set_crds(crds.iter());
        }
        if is_simulated(&rt.group, &rt.plural) {
            self.sim_dirty
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key);
        }
        self.wake.notify_one();
        Ok(object)
    }

    /// The schema objects of `rt` are typed with: the built-in table, or (for custom resources)
    /// the table extended with the defining CRD, cached per CRD resourceVersion.
    pub(crate) fn schema_for(&self, st: &State, rt: &ResourceType) -> crate::ssa::SchemaRef {
        if !rt.custom {
            return crate::ssa::SchemaRef::Builtin;
        }
        let crd_name = format!("{}.{}", rt.plural, rt.group);
        let Some(crd) = st.store.get(&store::key(
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            "",
            &crd_name,
        )) else {
            return crate::ssa::SchemaRef::Builtin;
        };
        let rv = crd["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let mut cache = self.schemas.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((cached_rv, s)) = cache.get(&crd_name) {
            if *cached_rv == rv {
                return crate::ssa::SchemaRef::Custom(s.clone());
            }
        }
        match fjord_merge::Schema::from_crd(&fjord_yaml::from_json_value(crd)) {
            Ok(s) => {
                let s = Arc::new(s);
                cache.insert(crd_name, (rv, s.clone()));
                crate::ssa::SchemaRef::Custom(s)
            }
            Err(_) => crate::ssa::SchemaRef::Builtin,
        }
    }

    /// Answers a non-watch request and returns, with the reply, the ticket of the last write it
    /// staged (0: none). The reply may be sent once [`Engine::durable`] of that ticket resolves.
    pub fn handle_staged(&self, req: &ApiRequest) -> (Result<Reply, ApiError>, u64) {
        let _ = store::take_ticket();
        let reply = self.handle(req);
        (reply, store::take_ticket())
    }

    /// Resolves once the write with `ticket` (from [`Engine::handle_staged`]) is durable.
    pub async fn durable(&self, ticket: u64) -> Result<(), ApiError> {
        self.durability
            .wait_async(ticket)
            .await
            .map_err(|e| ApiError::internal(fjord_model::chain(&e)))
    }

    /// Answers a non-watch request.
    pub fn handle(&self, req: &ApiRequest) -> Result<Reply, ApiError> {
        match &req.target {
            Target::Version => Ok(Reply::json(200, crate::discovery::version())),
            Target::Health => Ok(Reply {
                status: 200,
                body: Value::String("ok".into()),
                content_type: "text/plain".into(),
                headers: Vec::new(),
                raw: None,
            }),
            Target::Api | Target::Apis | Target::Group(_) | Target::GroupVersion(..) => {
                let st = self.lock();
                crate::discovery::answer(
                    &st.registry,
                    &req.target,
                    &req.accept,
                    &self.config.address,
                )
            }
            Target::OpenApiRoot | Target::OpenApiDoc(_) => {
                let st = self.lock();
                crate::openapi::answer(&st.registry, &req.target)
            }
            Target::OpenApiV2 => Ok(crate::openapi::answer_v2(
                &self.lock().registry,
                &req.accept,
            )),
            Target::Resource(rp) => self.handle_resource(req, rp),
            Target::Unknown => Err(ApiError::no_route()),
        }
    }
}
