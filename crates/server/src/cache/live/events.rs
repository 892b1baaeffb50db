//! Kubernetes Events from one watch (all namespaces), bounded: at most [`MAX_EVENTS`], none
//! older than [`MAX_AGE`] (the API server's own default event TTL), so the events endpoint
//! filters memory instead of listing per request.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

/// The most events held.
pub const MAX_EVENTS: usize = 10_000;
/// Events whose last time is older than this are dropped.
pub const MAX_AGE: Duration = Duration::hours(1);

/// The time an Event happened last: `lastTimestamp`, else `eventTime`, `firstTimestamp`,
/// `metadata.creationTimestamp`; `None` when none parses.
pub fn event_time(ev: &Value) -> Option<DateTime<Utc>> {
    [
        "/lastTimestamp",
        "/eventTime",
        "/series/lastObservedTime",
        "/firstTimestamp",
        "/metadata/creationTimestamp",
    ]
    .iter()
    .filter_map(|p| ev.pointer(p).and_then(Value::as_str))
    .find_map(|s| DateTime::parse_from_rfc3339(s).ok())
    .map(|t| t.with_timezone(&Utc))
}

/// What an Event is about: its `involvedObject`, or `regarding` (events.k8s.io).
pub fn involved(ev: &Value) -> Option<&Value> {
    ev.get("involvedObject").or_else(|| ev.get("regarding"))
}

/// An event and its time.
type Timed = (Option<DateTime<Utc>>, Arc<Value>);

/// The held Events, by `namespace/name`.
#[derive(Debug, Default)]
pub struct EventStore {
    events: HashMap<String, Timed>,
}

fn key(ev: &Value) -> String {
    let s = |p: &str| ev.pointer(p).and_then(Value::as_str).unwrap_or_default();
    format!("{}/{}", s("/metadata/namespace"), s("/metadata/name"))
}

impl EventStore {
    /// The number of events held.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether no event is held.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Replaces every event with `items` (a watch's list), then bounds the store.
    pub fn replace(&mut self, items: Vec<Value>, now: DateTime<Utc>) {
        self.events.clear();
        for ev in items {
            self.insert(ev, now);
        }
        self.bound(now);
    }

    /// Adds or replaces one event (a too-old one is not kept).
    pub fn upsert(&mut self, ev: Value, now: DateTime<Utc>) {
        self.insert(ev, now);
        // Bounded with slack, so a burst costs one sort per thousand events, not one each.
        if self.events.len() > MAX_EVENTS + MAX_EVENTS / 10 {
            self.bound(now);
        }
    }

    fn insert(&mut self, ev: Value, now: DateTime<Utc>) {
        let t = event_time(&ev);
        if t.is_some_and(|t| t < now - MAX_AGE) {
            self.events.remove(&key(&ev));
            return;
        }
        self.events.insert(key(&ev), (t, Arc::new(ev)));
    }

    /// Removes one event.
    pub fn delete(&mut self, ev: &Value) {
        self.events.remove(&key(ev));
    }

    /// Drops events older than [`MAX_AGE`], then the oldest beyond [`MAX_EVENTS`].
    pub fn bound(&mut self, now: DateTime<Utc>) {
        let cutoff = now - MAX_AGE;
        self.events
            .retain(|_, (t, _)| t.is_none_or(|t| t >= cutoff));
        if self.events.len() <= MAX_EVENTS {
            return;
        }
        let mut by_time: Vec<(Option<DateTime<Utc>>, String)> = self
            .events
            .iter()
            .map(|(k, (t, _))| (*t, k.clone()))
            .collect();
        by_time.sort();
        let excess = self.events.len() - MAX_EVENTS;
        for (_, k) in by_time.into_iter().take(excess) {
            self.events.remove(&k);
        }
    }

    /// The events `keep` selects, oldest first (by [`event_time`], then name).
    pub fn select(&self, keep: impl Fn(&Value) -> bool) -> Vec<Arc<Value>> {
        let mut out: Vec<(&String, &Timed)> =
            self.events.iter().filter(|(_, (_, ev))| keep(ev)).collect();
        out.sort_by(|a, b| (a.1 .0, a.0).cmp(&(b.1 .0, b.0)));
        out.into_iter().map(|(_, (_, ev))| ev.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(name: &str, at: DateTime<Utc>) -> Value {
        json!({"metadata": {"name": name, "namespace": "argocd"},
            "involvedObject": {"kind": "Application", "name": "a"},
            "lastTimestamp": at.to_rfc3339()})
    }

    #[test]
    fn keeps_recent_events_sorted_and_bounded() {
        let now = Utc::now();
        let mut store = EventStore::default();
        store.replace(
            vec![
                ev("new", now - Duration::minutes(1)),
                ev("old", now - Duration::hours(2)),
                ev("mid", now - Duration::minutes(30)),
            ],
            now,
        );
        let names: Vec<String> = store
            .select(|_| true)
            .iter()
            .map(|e| e["metadata"]["name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(names, ["mid", "new"]);
        for i in 0..(MAX_EVENTS + MAX_EVENTS / 10 + 1) {
            store.upsert(
                ev(&format!("e{i}"), now - Duration::seconds(i as i64 % 600)),
                now,
            );
        }
        assert!(
            store.len() <= MAX_EVENTS + MAX_EVENTS / 10,
            "{}",
            store.len()
        );
        store.bound(now);
        assert_eq!(store.len(), MAX_EVENTS);
        store.delete(&ev("new", now));
        assert!(store.select(|e| e["metadata"]["name"] == "new").is_empty());
    }
}
