//! kwok-like workload simulation: Deployments get ReplicaSets and ReplicaSets get Pods at once, as
//! the real controllers make them ([`workloads`]); after a configurable delay following each spec
//! change, Deployments, ReplicaSets, StatefulSets and DaemonSets report a finished rollout, Jobs complete,
//! Pods run and turn Ready, PVCs bind, and LoadBalancer Services and Ingresses get an address.
//! The annotation `fjord.dev/simulate: fail` makes a workload fail (Degraded), `stuck` keeps it
//! Progressing forever. Status is written through the `/status` path as manager
//! `fjord-simulator`, so watches see ordinary MODIFIED events.

pub mod kinds;
pub mod names;
pub mod status;
pub mod workloads;

pub use kinds::SimOptions;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::engine::Engine;
use crate::meta;
use fjord_model::ResourceType;
use kinds::SIMULATED;

/// The simulator's memory between passes: when each object's current spec was first seen.
/// A pass looks only at the objects written since the last one (the engine's dirty set) and at
/// those still waiting for their delay; the first pass after start looks at everything.
#[derive(Debug)]
pub struct Simulator {
    opts: SimOptions,
    seen: HashMap<String, (String, Instant)>,
    pending: HashSet<String>,
    scanned: bool,
}

/// Keeps the timestamps of conditions that did not change, so a re-written status is identical.
fn keep_times(current: Option<&Value>, desired: &mut Value) {
    let (Some(cur), Some(conds)) = (
        current,
        desired.get_mut("conditions").and_then(Value::as_array_mut),
    ) else {
        return;
    };
    let old = cur
        .get("conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for c in conds.iter_mut() {
        if let Some(o) = old
            .iter()
            .find(|o| o["type"] == c["type"] && o["status"] == c["status"])
        {
            for k in ["lastUpdateTime", "lastTransitionTime"] {
                if let Some(t) = o.get(k) {
                    c[k] = t.clone();
                }
            }
        }
    }
    for k in ["startTime", "completionTime"] {
        if let (Some(t), Some(d)) = (cur.get(k), desired.as_object_mut()) {
            if d.contains_key(k) {
                d.insert(k.to_string(), t.clone());
            }
        }
    }
}

impl Simulator {
    /// A simulator with the given settings.
    pub fn new(opts: SimOptions) -> Simulator {
        Simulator {
            opts,
            seen: HashMap::new(),
            pending: HashSet::new(),
            scanned: false,
        }
    }

    /// One pass: writes the status of workloads whose delay has elapsed. Returns how soon the next
    /// pass is due, if something is pending.
    pub fn pass(&mut self, engine: &Engine) -> Option<Duration> {
        if !self.opts.enabled {
            return None;
        }
        let now = Instant::now();
        let stamp = meta::now();
        let mut next: Option<Duration> = None;
        let (types, candidates) = self.candidates(engine);
        // The state lock is taken per object, only to read it and to write its status: API
        // requests go on between the simulator's writes instead of waiting for a whole pass.
        for key in candidates {
            let Some((rt, kind)) = types
                .iter()
                .find(|(rt, _)| key.starts_with(&crate::kinds::store_prefix(rt)))
            else {
                continue;
            };
            if let Some(left) = self.visit(engine, rt, kind, key, now, &stamp) {
                next = Some(next.map_or(left, |n| n.min(left)));
            }
        }
        next
    }

    /// The simulated types served now (with their `group/Kind`), and the keys of the objects
    /// this pass looks at: everything on the first pass, then the written and the waiting ones.
    fn candidates(
        &mut self,
        engine: &Engine,
    ) -> (Vec<(Arc<ResourceType>, &'static str)>, Vec<String>) {
        let dirty =
            std::mem::take(&mut *engine.sim_dirty.lock().unwrap_or_else(|p| p.into_inner()));
        let st = engine.lock();
        let types: Vec<_> = SIMULATED
            .iter()
            .filter_map(|(group, plural, kind)| {
                st.registry
                    .storage_types()
                    .into_iter()
                    .find(|t| t.group == *group && t.plural == *plural)
                    .map(|rt| (rt, *kind))
            })
            .collect();
        let candidates: Vec<String> = if self.scanned {
            let mut keys: Vec<String> = dirty.into_iter().collect();
            keys.extend(self.pending.drain());
            keys.sort();
            keys.dedup();
            keys
        } else {
            self.scanned = true;
            self.pending.clear();
            types
                .iter()
                .flat_map(|(rt, _)| {
                    st.store
                        .scan(&crate::kinds::store_prefix(rt))
                        .map(|(k, _)| k.clone())
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        (types, candidates)
    }

    /// Simulates the controllers of one object: reconciles its children, and writes its status
    /// once its delay has elapsed. Returns the time left when it is still waiting.
    fn visit(
        &mut self,
        engine: &Engine,
        rt: &Arc<ResourceType>,
        kind: &str,
        key: String,
        now: Instant,
        stamp: &str,
    ) -> Option<Duration> {
        let Some(obj) = engine.lock().store.get(&key).cloned() else {
            self.seen.remove(&key);
            workloads::on_missing(engine, &key);
            return None;
        };
        if meta::deleting(&obj) {
            return None;
        }
        match kind {
            "apps/Deployment" => workloads::reconcile_deployment(engine, &obj),
            "apps/ReplicaSet" => workloads::reconcile_replicaset(engine, &obj),
            _ => {}
        }
        let mut want = status::desired(kind, &obj, stamp)?;
        if obj.get("status").map(status::without_times) == Some(status::without_times(&want)) {
            self.seen.remove(&key);
            return None;
        }
        let marker = format!("{}|{}", obj["metadata"]["generation"], obj["spec"]);
        let first = match self.seen.get(&key) {
            Some((m, t)) if *m == marker => *t,
            _ => {
                self.seen.insert(key.clone(), (marker, now));
                now
            }
        };
        let elapsed = now.duration_since(first);
        if elapsed < self.opts.delay {
            self.pending.insert(key);
            return Some(self.opts.delay - elapsed);
        }
        keep_times(obj.get("status"), &mut want);
        let mut new = obj.as_ref().clone();
        new["status"] = want;
        meta::metadata_mut(&mut new).remove("resourceVersion");
        let mut st = engine.lock();
        // Written since it was read: the write put it in the dirty set for the next pass.
        if !st.store.get(&key).is_some_and(|cur| Arc::ptr_eq(cur, &obj)) {
            return None;
        }
        let _ = engine.finish_update(
            &mut st,
            rt,
            obj.clone(),
            new,
            Some("fjord-simulator"),
            "status",
            false,
        );
        None
    }
}
