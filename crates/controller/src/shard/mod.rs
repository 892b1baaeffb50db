//! Sharding Applications over controller replicas.
//!
//! - [`ring`]: the pure assignment (app → partition → member), consistent hashing with
//!   bounded loads over a fixed set of partitions.
//! - [`Ownership`]: which partitions this replica may reconcile *now*, the reconciles in
//!   flight per partition (so a partition given away is drained first), and the metrics.
//! - [`membership`]: the loops that turn held Leases into ownership: fixed slots
//!   (`--shards N`) or live member Leases with a hand-off barrier (`--shards auto`).

pub mod membership;
pub mod ring;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use ring::{partition_of, PARTITIONS};

/// What this replica may reconcile, and what it is reconciling.
pub struct Ownership {
    namespace: String,
    identity: String,
    state: Mutex<OwnState>,
    /// Signalled when a reconcile ends (drains wait on it).
    ended: Notify,
    /// Signalled when partitions are gained (the runtime queues their apps).
    gained: Notify,
}

struct OwnState {
    active: Vec<bool>,
    in_flight: Vec<u32>,
    gained: Vec<u32>,
    apps: BTreeSet<String>,
    members: usize,
    shard: String,
    handoffs: u64,
}

impl std::fmt::Debug for Ownership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ownership")
            .field("namespace", &self.namespace)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

/// A reconcile in progress on an owned partition (ends when dropped).
pub struct ReconcileGuard {
    owner: Arc<Ownership>,
    partition: u32,
}

impl Drop for ReconcileGuard {
    fn drop(&mut self) {
        {
            let mut st = self.owner.lock();
            if let Some(n) = st.in_flight.get_mut(self.partition as usize) {
                *n = n.saturating_sub(1);
            }
        }
        self.owner.ended.notify_waiters();
    }
}

/// Escapes a Prometheus label value.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Ownership {
    /// An ownership of nothing yet, for the Applications of `namespace`, by `identity`.
    pub fn new(namespace: &str, identity: &str) -> Arc<Ownership> {
        Arc::new(Ownership {
            namespace: namespace.to_string(),
            identity: identity.to_string(),
            state: Mutex::new(OwnState {
                active: vec![false; PARTITIONS as usize],
                in_flight: vec![0; PARTITIONS as usize],
                gained: Vec::new(),
                apps: BTreeSet::new(),
                members: 0,
                shard: String::new(),
                handoffs: 0,
            }),
            ended: Notify::new(),
            gained: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, OwnState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The replica's identity.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Whether the app `name` may be reconciled here now.
    pub fn owns(&self, name: &str) -> bool {
        let p = partition_of(&self.namespace, name) as usize;
        self.lock().active.get(p).copied().unwrap_or(false)
    }

    /// Starts a reconcile of `name` if it is owned now (checked and counted atomically, so a
    /// drain that follows sees it).
    pub fn begin(self: &Arc<Self>, name: &str) -> Option<ReconcileGuard> {
        let p = partition_of(&self.namespace, name);
        let mut st = self.lock();
        if !st.active.get(p as usize).copied().unwrap_or(false) {
            return None;
        }
        st.in_flight[p as usize] += 1;
        Some(ReconcileGuard {
            owner: Arc::clone(self),
            partition: p,
        })
    }

    /// Notes an Application seen by the watch.
    pub fn note_app(&self, name: &str) {
        let mut st = self.lock();
        if !st.apps.contains(name) {
            st.apps.insert(name.to_string());
        }
    }

    /// Forgets a deleted Application.
    pub fn forget_app(&self, name: &str) {
        self.lock().apps.remove(name);
    }

    /// Sets the member count and this replica's shard label (for the metrics).
    pub fn set_view(&self, members: usize, shard: &str) {
        let mut st = self.lock();
        st.members = members;
        st.shard = shard.to_string();
    }

    /// Stops owning every active partition not in `target`; returns how many apps that
    /// gave away. Call [`Ownership::drain`] before anyone else may start them.
    pub fn release_except(&self, target: &[bool]) -> (Vec<u32>, usize) {
        let mut st = self.lock();
        let mut lost = Vec::new();
        for p in 0..PARTITIONS {
            let i = p as usize;
            if st.active[i] && !target.get(i).copied().unwrap_or(false) {
                st.active[i] = false;
                lost.push(p);
            }
        }
        let apps = count_apps(&st, &self.namespace, &lost);
        (lost, apps)
    }

    /// Partitions of `target` not active yet.
    pub fn pending_gain(&self, target: &[bool]) -> Vec<u32> {
        let st = self.lock();
        (0..PARTITIONS)
            .filter(|p| {
                !st.active[*p as usize] && target.get(*p as usize).copied().unwrap_or(false)
            })
            .collect()
    }

    /// Starts owning `partitions`; their known apps are handed to the runtime to queue.
    /// Returns how many apps that gained.
    pub fn activate(&self, partitions: &[u32]) -> usize {
        let apps = {
            let mut st = self.lock();
            for p in partitions {
                st.active[*p as usize] = true;
            }
            st.gained.extend_from_slice(partitions);
            st.handoffs += 1;
            count_apps(&st, &self.namespace, partitions)
        };
        self.gained.notify_one();
        apps
    }

    /// Waits until no reconcile runs on any of `partitions`.
    pub async fn drain(&self, partitions: &[u32]) {
        loop {
            let ended = self.ended.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            let busy = {
                let st = self.lock();
                partitions.iter().any(|p| st.in_flight[*p as usize] > 0)
            };
            if !busy {
                return;
            }
            ended.await;
        }
    }

    /// Waits for gained partitions and returns the known apps in them.
    pub async fn next_gained(&self) -> Vec<String> {
        loop {
            let gained = {
                let mut st = self.lock();
                let parts: BTreeSet<u32> = st.gained.drain(..).collect();
                if parts.is_empty() {
                    None
                } else {
                    Some(
                        st.apps
                            .iter()
                            .filter(|a| parts.contains(&partition_of(&self.namespace, a)))
                            .cloned()
                            .collect::<Vec<_>>(),
                    )
                }
            };
            if let Some(apps) = gained {
                return apps;
            }
            self.gained.notified().await;
        }
    }

    /// The sharding families (OpenMetrics text, no `# EOF`).
    pub fn render_metrics(&self) -> String {
        let st = self.lock();
        let id = label(&self.identity);
        let mut out = String::new();
        let owned: Vec<&String> = st
            .apps
            .iter()
            .filter(|a| st.active[partition_of(&self.namespace, a) as usize])
            .collect();
        let _ = writeln!(out, "# HELP fjord_controller_shard_members Members the apps are spread over.\n# TYPE fjord_controller_shard_members gauge\nfjord_controller_shard_members {}", st.members);
        let _ = writeln!(out, "# HELP fjord_controller_shard_apps Apps this replica owns.\n# TYPE fjord_controller_shard_apps gauge\nfjord_controller_shard_apps{{identity=\"{id}\"}} {}", owned.len());
        let _ = writeln!(out, "# HELP fjord_controller_shard_handoffs Ownership changes that gained apps.\n# TYPE fjord_controller_shard_handoffs counter\nfjord_controller_shard_handoffs_total {}", st.handoffs);
        let _ = writeln!(out, "# HELP fjord_app_shard The shard of each app this replica owns.\n# TYPE fjord_app_shard gauge");
        let (ns, shard) = (label(&self.namespace), label(&st.shard));
        for a in owned {
            let _ = writeln!(
                out,
                "fjord_app_shard{{namespace=\"{ns}\",name=\"{}\",shard=\"{shard}\"}} 1",
                label(a)
            );
        }
        out
    }
}

fn count_apps(st: &OwnState, namespace: &str, partitions: &[u32]) -> usize {
    let set: BTreeSet<u32> = partitions.iter().copied().collect();
    st.apps
        .iter()
        .filter(|a| set.contains(&partition_of(namespace, a)))
        .count()
}

/// `fjord_controller_leader{identity}` (OpenMetrics text, no `# EOF`).
pub fn render_leader(identity: &str, leading: bool) -> String {
    format!(
        "# HELP fjord_controller_leader Whether this replica holds the leader Lease.\n# TYPE fjord_controller_leader gauge\nfjord_controller_leader{{identity=\"{}\"}} {}\n",
        label(identity),
        u8::from(leading)
    )
}

/// Shared leadership flag of a replica (rendered as `fjord_controller_leader`).
#[derive(Clone, Default)]
pub struct Leading(Arc<AtomicBool>);

impl Leading {
    /// Sets the flag.
    pub fn set(&self, v: bool) {
        self.0.store(v, Ordering::SeqCst);
    }

    /// Reads the flag.
    pub fn get(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn begin_only_when_owned_and_drain_waits() {
        let o = Ownership::new("argocd", "me");
        o.note_app("a");
        assert!(o.begin("a").is_none());
        let all = vec![true; PARTITIONS as usize];
        let gained = o.pending_gain(&all);
        assert_eq!(o.activate(&gained), 1);
        assert_eq!(o.next_gained().await, vec!["a".to_string()]);
        let g = o.begin("a").expect("owned");
        let (lost, apps) = o.release_except(&vec![false; PARTITIONS as usize]);
        assert_eq!(apps, 1);
        assert!(!o.owns("a"));
        let o2 = Arc::clone(&o);
        let lost2 = lost.clone();
        let drained = tokio::spawn(async move { o2.drain(&lost2).await });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!drained.is_finished(), "drain must wait for the reconcile");
        drop(g);
        tokio::time::timeout(std::time::Duration::from_secs(2), drained)
            .await
            .expect("drained")
            .expect("join");
    }

    #[test]
    fn metrics_list_owned_apps() {
        let o = Ownership::new("argocd", "me");
        o.note_app("a");
        o.activate(&[partition_of("argocd", "a")]);
        o.set_view(3, "1");
        let m = o.render_metrics();
        assert!(
            m.contains("fjord_app_shard{namespace=\"argocd\",name=\"a\",shard=\"1\"} 1"),
            "{m}"
        );
        assert!(m.contains("fjord_controller_shard_members 3"), "{m}");
        assert!(
            m.contains("fjord_controller_shard_apps{identity=\"me\"} 1"),
            "{m}"
        );
        assert!(render_leader("me", true).contains("fjord_controller_leader{identity=\"me\"} 1"));
    }
}
