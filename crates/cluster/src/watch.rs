//! `?watch=true`: initial events, resumption from a resourceVersion, selector transitions,
//! bookmarks (including the `k8s.io/initial-events-end` one for streaming lists), 410 Expired for
//! RVs older than the history, and `timeoutSeconds`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};

use crate::engine::{Engine, State};
use crate::errors::ApiError;
use crate::handlers::output;
use crate::handlers::read::{collection_prefix, requested_rv, Filter};
use crate::request::{ApiRequest, ResourcePath};
use crate::rv::{Event, EventType};
use crate::selectors::FieldSelector;
use fjord_model::ResourceType;

/// A watch ready to stream: the events owed up front and the live subscription.
pub struct WatchStart {
    /// Lines to send first (initial ADDED events, a bookmark, replayed history, or a 410 ERROR).
    pub initial: Vec<String>,
    /// Whether the stream ends after `initial` (an ERROR was sent).
    pub finished: bool,
    rx: broadcast::Receiver<Arc<Event>>,
    rt: Arc<ResourceType>,
    prefix: String,
    namespace: Option<String>,
    filter: Filter,
    timeout: Duration,
    bookmarks: bool,
    last_rv: u64,
    /// Events at or below this RV are not sent (a watch from a future RV).
    skip_until: u64,
}

fn line(kind: &str, obj: &Value) -> String {
    let mut s = json!({"type": kind, "object": obj}).to_string();
    s.push('\n');
    s
}

fn bookmark(rt: &ResourceType, rv: u64, initial_end: bool) -> String {
    let mut md = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        md["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    line(
        "BOOKMARK",
        &json!({"kind": rt.kind, "apiVersion": rt.api_version(), "metadata": md}),
    )
}

/// Translates a stored event into the watch line this watcher should see, if any.
fn translate(
    rt: &ResourceType,
    prefix: &str,
    namespace: Option<&str>,
    filter: &Filter,
    ev: &Event,
) -> Option<String> {
    if !ev.prefix.starts_with(&crate::kinds::store_prefix(rt))
        || !format!("{}{}/", ev.prefix, ev.namespace).starts_with(prefix)
    {
        return None;
    }
    if namespace.is_some_and(|ns| ns != ev.namespace) {
        return None;
    }
    let now = filter.matches(&ev.object);
    let before = ev.old.as_ref().map(|o| filter.matches(o)).unwrap_or(false);
    let kind = match ev.kind {
        EventType::Added if now => "ADDED",
        EventType::Deleted if now => "DELETED",
        EventType::Modified => match (before, now) {
            (true, true) => "MODIFIED",
            (false, true) => "ADDED",
            (true, false) => {
                // As the real watch cache: the object leaving the selection is sent as it was
                // (the state that matched), with the event's resourceVersion.
                let mut last = output(rt, ev.old.as_deref().unwrap_or(&ev.object));
                crate::meta::set_rv(&mut last, ev.rv);
                return Some(line("DELETED", &last));
            }
            (false, false) => return None,
        },
        _ => return None,
    };
    Some(line(kind, &output(rt, &ev.object)))
}

/// The request's selectors, narrowed to one object for a watch on a named object.
fn watch_filter(req: &ApiRequest, rp: &ResourcePath) -> Result<Filter, ApiError> {
    let mut filter = Filter::from_request(req)?;
    if let Some(name) = &rp.name {
        let both = format!(
            "{},metadata.name={name}",
            req.query.get("fieldSelector").unwrap_or("")
        );
        filter.fields = FieldSelector::parse(both.trim_start_matches(','))?;
    }
    Ok(filter)
}

/// Whether the watch asks for initial events (a streaming list); only valid with
/// `resourceVersionMatch=NotOlderThan`.
fn send_initial_events(req: &ApiRequest) -> Result<bool, ApiError> {
    let send_initial = req.query.flag("sendInitialEvents");
    if send_initial && req.query.get("resourceVersionMatch") != Some("NotOlderThan") {
        return Err(ApiError::invalid(
            "ListOptions",
            "meta.k8s.io",
            "",
            vec![crate::errors::Cause::new(
                "FieldValueForbidden",
                "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                "resourceVersionMatch",
            )],
        ));
    }
    Ok(send_initial)
}

/// The resourceVersion of the CRD defining the custom resource `rt` (0 when absent).
fn crd_rv(st: &State, rt: &ResourceType) -> u64 {
    st.store
        .get(&crate::store::key(
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            "",
            &format!("{}.{}", rt.plural, rt.group),
        ))
        .and_then(|crd| crd.pointer("/metadata/resourceVersion").cloned())
        .and_then(|v| v.as_str().and_then(|s| s.parse::<u64>().ok()))
        .unwrap_or(0)
}

impl Engine {
    /// Prepares a watch on a collection (or one named object).
    pub fn start_watch(&self, req: &ApiRequest, rp: &ResourcePath) -> Result<WatchStart, ApiError> {
        let rt = {
            let st = self.lock();
            st.registry
                .lookup(&rp.group, &rp.version, &rp.plural)
                .ok_or_else(|| crate::reviews::unwatchable(rp))?
        };
        let filter = watch_filter(req, rp)?;
        let prefix = collection_prefix(&rt, rp.namespace.as_deref());
        let timeout = req
            .query
            .get("timeoutSeconds")
            .and_then(|t| t.parse::<u64>().ok())
            .filter(|t| *t > 0)
            .unwrap_or(1800);
        let bookmarks = req.query.flag("allowWatchBookmarks");
        let send_initial = send_initial_events(req)?;
        let rv = requested_rv(req)?;
        let st = self.lock();
        let current = st.store.rv();
        let mut initial = Vec::new();
        let mut finished = false;
        // As the real server: a watch from an RV the store has not reached yet waits for it
        // (an empty stream until it arrives or `timeoutSeconds` ends); events up to it are
        // skipped.
        let future = rv.filter(|n| *n > current);
        // A custom resource's watch cache starts when its CRD is (re)established: an older RV
        // is 410 Expired there, as on the real server.
        let cache_floor = if rt.custom { crd_rv(&st, &rt) } else { 0 };
        match rv {
            Some(_) if future.is_some() => {}
            Some(n) if n > 0 && n < cache_floor && !send_initial => {
                let e = ApiError::expired(format!("too old resource version: {n} ({cache_floor})"));
                initial.push(line("ERROR", &e.to_status()));
                finished = true;
            }
            Some(n) if n > 0 && !send_initial => match st.history.since(n) {
                Ok(events) => {
                    initial.extend(
                        events
                            .iter()
                            .filter_map(|e| translate(&rt, &prefix, None, &filter, e)),
                    );
                }
                Err(floor) => {
                    let e = ApiError::expired(format!("too old resource version: {n} ({floor})"));
                    initial.push(line("ERROR", &e.to_status()));
                    finished = true;
                }
            },
            _ => {
                for (_, v) in st.store.scan(&prefix) {
                    if filter.matches(v) {
                        initial.push(line("ADDED", &output(&rt, v)));
                    }
                }
                if send_initial {
                    initial.push(bookmark(&rt, current, true));
                }
            }
        }
        let rx = self.subscribe();
        drop(st);
        Ok(WatchStart {
            initial,
            finished,
            rx,
            rt,
            prefix,
            namespace: None,
            filter,
            timeout: Duration::from_secs(timeout),
            bookmarks,
            last_rv: current,
            skip_until: future.unwrap_or(0),
        })
    }
}

impl WatchStart {
    /// Streams the watch into `tx` until the timeout, a lagging subscription, `drop_after` (fault
    /// injection) or the client going away.
    pub async fn run(mut self, tx: mpsc::Sender<bytes::Bytes>, drop_after: Option<Duration>) {
        for l in std::mem::take(&mut self.initial) {
            if tx.send(bytes::Bytes::from(l)).await.is_err() {
                return;
            }
        }
        if self.finished {
            return;
        }
        let deadline =
            tokio::time::Instant::now() + drop_after.map_or(self.timeout, |d| d.min(self.timeout));
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return,
                _ = tx.closed() => return,
                _ = tick.tick(), if self.bookmarks => {
                    if tx.send(bytes::Bytes::from(bookmark(&self.rt, self.last_rv, false))).await.is_err() {
                        return;
                    }
                }
                ev = self.rx.recv() => match ev {
                    Ok(ev) if ev.rv <= self.skip_until => {}
                    Ok(ev) => {
                        self.last_rv = ev.rv;
                        if let Some(l) = translate(&self.rt, &self.prefix, self.namespace.as_deref(), &self.filter, &ev) {
                            if tx.send(bytes::Bytes::from(l)).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(_) => return,
                }
            }
        }
    }
}
