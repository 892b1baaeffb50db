//! The loops that turn held Leases into [`Ownership`].
//!
//! - Fixed slots (`--shards N`): a replica holds at most one slot Lease
//!   `<name>-shard-<i>`; the ring runs over the slot ids `0..N`, so ownership follows the
//!   slot. Another replica takes a slot only once its Lease expired, by which time the old
//!   holder has fenced: no hand-off barrier is needed.
//! - Automatic (`--shards auto`): each replica holds its own member Lease (label
//!   [`MEMBER_LABEL`]); the live member Leases, listed every retry period, are the member
//!   set. Hand-off barrier: a member gives up the apps it loses under a new view, waits for
//!   their reconciles to end, and only then writes the view's hash on its Lease
//!   ([`crate::runtime::lease::VIEW_ANNOTATION`]); an app it gains starts once every live member's Lease shows the
//!   same view. Apps it keeps run on.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::ring::{stable_hash, view_hash, Assignment};
use super::Ownership;
use crate::runtime::events;
use crate::runtime::lease::{
    spawn_elector, Elector, Fence, LeaseClient, LeaseLock, LeaseRecord, LeaseTimings, Observer,
};

/// Label of member Leases (`--shards auto`).
pub const MEMBER_LABEL: &str = "fjord.dev/controller-member";

/// How apps are spread over replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shards {
    /// `N` fixed slots (1 = no sharding).
    Fixed(u32),
    /// Live replicas holding member Leases.
    Auto,
}

impl std::str::FromStr for Shards {
    type Err = String;
    fn from_str(s: &str) -> Result<Shards, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("auto") {
            return Ok(Shards::Auto);
        }
        match t.parse::<i64>() {
            Ok(n) if n >= 1 && n <= i64::from(u16::MAX) => Ok(Shards::Fixed(n as u32)),
            Ok(n) => Err(format!(
                "--shards must be a positive number of shards (1..=65535) or `auto`, got {n}"
            )),
            Err(_) => Err(format!(
                "--shards must be a positive number of shards or `auto`, got '{s}'"
            )),
        }
    }
}

/// The name of the member Lease of `identity`: `fjord-controller-member-<identity>`, the
/// identity lower-cased with every character a Lease name may not hold replaced by `-`.
pub fn member_lease_name(identity: &str) -> String {
    let mut s: String = identity
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    s.truncate(200);
    let s = s.trim_matches(|c| c == '-' || c == '.');
    format!("fjord-controller-member-{s}")
}

/// A running shard membership: its elector (released on shutdown) and its loop.
pub struct Membership {
    elector: Elector,
    task: JoinHandle<()>,
}

impl Membership {
    /// Stops the loop and releases the slot or member Lease (call after the controller
    /// stopped reconciling).
    pub async fn release(self) {
        self.task.abort();
        let _ = self.task.await;
        self.elector.release().await;
    }
}

/// `--shards N`: holds one of the slot Leases `<base>-shard-<i>` and owns the slot's apps.
pub fn start_fixed(
    ownership: Arc<Ownership>,
    client: LeaseClient,
    base: &str,
    n: u32,
    timings: LeaseTimings,
    fence: mpsc::UnboundedSender<Fence>,
) -> Membership {
    let identity = ownership.identity().to_string();
    let first = (stable_hash(identity.as_bytes()) % u64::from(n.max(1))) as u32;
    let order: Vec<u32> = (0..n).map(|k| (first + k) % n).collect();
    let locks = order
        .iter()
        .map(|i| {
            LeaseLock::new(
                client.clone(),
                &format!("{base}-shard-{i}"),
                &identity,
                timings.lease_duration,
                BTreeMap::new(),
            )
        })
        .collect();
    let elector = spawn_elector(locks, timings, fence);
    let mut held = elector.held.clone();
    ownership.set_view(n as usize, "");
    let task = tokio::spawn(async move {
        loop {
            if let Some(idx) = *held.borrow_and_update() {
                let slot = order[idx];
                let slots: Vec<String> = (0..n).map(|i| i.to_string()).collect();
                let target = Assignment::new(&slots).owned_by(&slot.to_string());
                ownership.set_view(n as usize, &slot.to_string());
                let gained = ownership.pending_gain(&target);
                let apps = ownership.activate(&gained);
                events::log(
                    "info",
                    "",
                    &format!("holding shard {slot} of {n}: {apps} apps now owned"),
                );
                return;
            }
            if held.changed().await.is_err() {
                return;
            }
        }
    });
    Membership { elector, task }
}

/// A member Lease as the coordinator sees it.
struct Member {
    holder: String,
    view: Option<String>,
}

/// `--shards auto`: holds this replica's member Lease and follows the live members.
pub fn start_auto(
    ownership: Arc<Ownership>,
    client: LeaseClient,
    timings: LeaseTimings,
    fence: mpsc::UnboundedSender<Fence>,
) -> Membership {
    let identity = ownership.identity().to_string();
    let labels = BTreeMap::from([(MEMBER_LABEL.to_string(), "true".to_string())]);
    let lock = LeaseLock::new(
        client.clone(),
        &member_lease_name(&identity),
        &identity,
        timings.lease_duration,
        labels,
    );
    let view_slot = lock.view_slot();
    let elector = spawn_elector(vec![lock], timings.clone(), fence.clone());
    let mut held = elector.held.clone();
    let task = tokio::spawn(async move {
        while held.borrow_and_update().is_none() {
            if held.changed().await.is_err() {
                return;
            }
        }
        let mut coord = Coordinator {
            ownership,
            client,
            observer: Observer::default(),
            view: None,
            target: Vec::new(),
            fence,
        };
        loop {
            if let Some(v) = coord.step().await {
                *view_slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(v);
            }
            tokio::time::sleep(timings.retry_period).await;
        }
    });
    Membership { elector, task }
}

struct Coordinator {
    ownership: Arc<Ownership>,
    client: LeaseClient,
    observer: Observer,
    /// The view applied (apps lost under it drained).
    view: Option<String>,
    /// The partitions this replica owns under `view`.
    target: Vec<bool>,
    /// Where a permanent failure (a 403 listing the member Leases) is reported.
    fence: mpsc::UnboundedSender<Fence>,
}

impl Coordinator {
    /// The live members (this replica always among them).
    async fn live_members(&mut self) -> Option<Vec<Member>> {
        let me = self.ownership.identity().to_string();
        let leases = match self.client.list_labelled(MEMBER_LABEL, "true").await {
            Ok(l) => l,
            Err(e) if e.is_fatal() => {
                let _ = self.fence.send(Fence::Fatal(e));
                return None;
            }
            Err(e) => {
                events::log("warn", "", &fjord_model::chain(&e));
                return None;
            }
        };
        let now = Instant::now();
        let mut names = BTreeSet::new();
        let mut live: Vec<Member> = Vec::new();
        for l in &leases {
            let name = l
                .pointer("/metadata/name")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_string();
            let r = LeaseRecord::from_lease(l);
            names.insert(name.clone());
            let alive = r.holder == me || !self.observer.expired(&name, &r, now);
            if alive && !r.holder.is_empty() && !live.iter().any(|m| m.holder == r.holder) {
                live.push(Member {
                    holder: r.holder,
                    view: r.view,
                });
            }
        }
        self.observer.retain(&names);
        if !live.iter().any(|m| m.holder == me) {
            live.push(Member {
                holder: me,
                view: None,
            });
        }
        Some(live)
    }

    /// One round: apply a new view (give away and drain), or start the apps gained once
    /// every live member acknowledged it. Returns the view to acknowledge on our Lease.
    async fn step(&mut self) -> Option<String> {
        let live = self.live_members().await?;
        let me = self.ownership.identity().to_string();
        let members: Vec<&str> = live.iter().map(|m| m.holder.as_str()).collect();
        let v = view_hash(&members);
        if self.view.as_deref() != Some(v.as_str()) {
            let target = Assignment::new(&members).owned_by(&me);
            let (lost, apps) = self.ownership.release_except(&target);
            self.ownership.set_view(members.len(), &me);
            events::log(
                "info",
                "",
                &format!(
                    "shard view {v}: {} live members; giving away {apps} apps",
                    members.len()
                ),
            );
            self.ownership.drain(&lost).await;
            self.view = Some(v.clone());
            self.target = target;
            return Some(v);
        }
        let pending = self.ownership.pending_gain(&self.target);
        if !pending.is_empty()
            && live
                .iter()
                .all(|m| m.holder == me || m.view.as_deref() == Some(v.as_str()))
        {
            let apps = self.ownership.activate(&pending);
            events::log(
                "info",
                "",
                &format!("shard view {v} acknowledged by every member: {apps} apps gained"),
            );
        }
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse() {
        assert_eq!("3".parse::<Shards>(), Ok(Shards::Fixed(3)));
        assert_eq!("auto".parse::<Shards>(), Ok(Shards::Auto));
        for bad in ["0", "-1", "x", ""] {
            let e = bad.parse::<Shards>().expect_err(bad);
            assert!(e.contains("--shards"), "{e}");
        }
    }

    #[test]
    fn member_lease_names_are_valid() {
        assert_eq!(
            member_lease_name("Pod_1a2b"),
            "fjord-controller-member-pod-1a2b"
        );
    }
}
