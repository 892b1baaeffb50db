//! kwok-like workload simulation: after a configurable delay following each spec change,
//! Deployments, ReplicaSets, StatefulSets and DaemonSets report a finished rollout, Jobs complete,
//! Pods run and turn Ready, PVCs bind, and LoadBalancer Services and Ingresses get an address.
//! The annotation `fjord.dev/simulate: fail` makes a workload fail (Degraded), `stuck` keeps it
//! Progressing forever. Status is written through the `/status` path as manager
//! `fjord-simulator`, so watches see ordinary MODIFIED events.

pub mod status;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::engine::Engine;
use crate::meta;

/// Simulation settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SimOptions {
    /// Whether workload status is simulated at all.
    pub enabled: bool,
    /// How long after a spec change a workload reports itself rolled out.
    pub delay: Duration,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            enabled: true,
            delay: Duration::from_millis(500),
        }
    }
}

/// The simulated kinds: (group, plural, kind key used by [`status::desired`]).
const SIMULATED: &[(&str, &str, &str)] = &[
    ("apps", "deployments", "apps/Deployment"),
    ("apps", "replicasets", "apps/ReplicaSet"),
    ("apps", "statefulsets", "apps/StatefulSet"),
    ("apps", "daemonsets", "apps/DaemonSet"),
    ("batch", "jobs", "batch/Job"),
    ("", "pods", "/Pod"),
    ("", "persistentvolumeclaims", "/PersistentVolumeClaim"),
    ("", "services", "/Service"),
    (
        "networking.k8s.io",
        "ingresses",
        "networking.k8s.io/Ingress",
    ),
];

/// The simulator's memory between passes: when each object's current spec was first seen.
#[derive(Debug)]
pub struct Simulator {
    opts: SimOptions,
    seen: HashMap<String, (String, Instant)>,
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
        let mut st = engine.lock();
        let mut live_keys = Vec::new();
        for (group, plural, kind) in SIMULATED {
            let Some(rt) = st
                .registry
                .storage_types()
                .into_iter()
                .find(|t| t.group == *group && t.plural == *plural)
            else {
                continue;
            };
            let objs: Vec<(String, std::sync::Arc<Value>)> = st
                .store
                .scan(&rt.store_prefix())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            for (key, obj) in objs {
                live_keys.push(key.clone());
                if meta::deleting(&obj) {
                    continue;
                }
                let Some(mut want) = status::desired(kind, &obj, &stamp) else {
                    continue;
                };
                if obj.get("status").map(status::without_times)
                    == Some(status::without_times(&want))
                {
                    continue;
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
                    let left = self.opts.delay - elapsed;
                    next = Some(next.map_or(left, |n| n.min(left)));
                    continue;
                }
                keep_times(obj.get("status"), &mut want);
                let mut new = obj.as_ref().clone();
                new["status"] = want;
                meta::metadata_mut(&mut new).remove("resourceVersion");
                let _ = engine.finish_update(
                    &mut st,
                    &rt,
                    obj.clone(),
                    new,
                    Some("fjord-simulator"),
                    "status",
                    false,
                );
            }
        }
        self.seen.retain(|k, _| live_keys.contains(k));
        next
    }
}
