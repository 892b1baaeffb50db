//! Change events and the bounded history that watches resume from.
//!
//! resourceVersions are one global counter (the store's). Every stored write produces one
//! [`Event`] carrying the counter value it was written at; the [`History`] keeps the most recent
//! events so a watch can resume from any RV at or above its `floor`. Older RVs are answered with
//! 410 Expired, as etcd compaction would.

use std::collections::VecDeque;
use std::sync::Arc;

use serde_json::Value;

/// The kind of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Object created.
    Added,
    /// Object changed.
    Modified,
    /// Object removed.
    Deleted,
}

/// One stored change.
#[derive(Debug, Clone)]
pub struct Event {
    /// The RV the change was written at.
    pub rv: u64,
    /// What happened.
    pub kind: EventType,
    /// Storage prefix of the resource (`group/plural/`).
    pub prefix: String,
    /// Namespace (empty for cluster-scoped).
    pub namespace: String,
    /// The object after the change (the last state for deletions).
    pub object: Arc<Value>,
    /// The object before the change, if any (selector transitions).
    pub old: Option<Arc<Value>>,
}

/// A bounded ring of recent events.
#[derive(Debug)]
pub struct History {
    events: VecDeque<Arc<Event>>,
    cap: usize,
    floor: u64,
}

impl History {
    /// A history that can resume from `floor` (the RV at startup) onwards.
    pub fn new(floor: u64, cap: usize) -> History {
        History {
            events: VecDeque::new(),
            cap: cap.max(1),
            floor,
        }
    }

    /// Records an event, forgetting the oldest one when full.
    pub fn push(&mut self, ev: Arc<Event>) {
        if self.events.len() == self.cap {
            if let Some(old) = self.events.pop_front() {
                self.floor = old.rv;
            }
        }
        self.events.push_back(ev);
    }

    /// Every event after `rv`, or `Err(floor)` if `rv` is older than the history.
    pub fn since(&self, rv: u64) -> Result<Vec<Arc<Event>>, u64> {
        if rv < self.floor {
            return Err(self.floor);
        }
        Ok(self.events.iter().filter(|e| e.rv > rv).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(rv: u64) -> Arc<Event> {
        Arc::new(Event {
            rv,
            kind: EventType::Added,
            prefix: "/configmaps/".into(),
            namespace: "default".into(),
            object: Arc::new(Value::Null),
            old: None,
        })
    }

    #[test]
    fn ring_moves_floor_and_expires_old_rvs() {
        let mut h = History::new(10, 3);
        for rv in 11..=15 {
            h.push(ev(rv));
        }
        assert_eq!(
            h.since(12)
                .expect("ok")
                .iter()
                .map(|e| e.rv)
                .collect::<Vec<_>>(),
            vec![13, 14, 15]
        );
        assert_eq!(h.since(11).err(), Some(12));
        assert!(h.since(15).expect("ok").is_empty());
    }
}
