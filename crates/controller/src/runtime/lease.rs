//! `coordination.k8s.io/v1` Leases with client-go's leader-election semantics.
//!
//! - [`LeaseLock`]: one Lease, acquired or renewed by optimistic concurrency (an update
//!   carries the `resourceVersion` it read; a 409 means someone else wrote first).
//! - [`spawn_elector`]: acquires one of several candidate Leases (every half retry period), then
//!   renews it every retry period. A holder that cannot renew within the renew deadline (or
//!   sees another holder) *fences*: it reports a [`Fence`] on a channel, and whoever started
//!   it (the CLI) stops every write by ending the process. The library never exits itself.
//!
//! Expiry follows client-go's observed-time rule: a Lease held by someone else is free for
//! us once its record (holder, renew time, …) has not changed for `leaseDurationSeconds`
//! measured on our own clock since we last saw it change. Since the renew deadline is
//! shorter than the lease duration, a fenced holder is gone before anyone may take over.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use fjord_client::{Client, ClientError, ResourceType, RetryPolicy};
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

use super::events;

/// Field manager of the controller's Lease writes.
const LEASE_MANAGER: &str = "fjord-leader-election";

/// A Lease failure naming the verb and the Lease.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// The API refused the verb (403): a missing RBAC permission.
    #[error("leader election: the API refused \"{verb}\" on leases.coordination.k8s.io in namespace {namespace} (403 Forbidden)")]
    Forbidden {
        /// `get`, `list`, `create` or `update`.
        verb: &'static str,
        /// The Lease namespace.
        namespace: String,
    },
    /// Any other API failure (the client's error names the verb and the Lease).
    #[error("leader election")]
    Api {
        /// `get`, `list`, `create` or `update`.
        verb: &'static str,
        /// The Lease namespace.
        namespace: String,
        /// The Lease name (`*` for a list).
        name: String,
        /// The client's error.
        #[source]
        source: ClientError,
    },
    /// The call did not answer in time.
    #[error("leader election: {verb} Lease {namespace}/{name} got no answer within {timeout:?}")]
    Timeout {
        /// The verb.
        verb: &'static str,
        /// The Lease namespace.
        namespace: String,
        /// The Lease name.
        name: String,
        /// The time allowed.
        timeout: Duration,
    },
    /// `coordination.k8s.io/v1` Lease is not served.
    #[error("leader election: discovering leases.coordination.k8s.io/v1")]
    Discover {
        /// The client's error.
        #[source]
        source: ClientError,
    },
}

impl LeaseError {
    /// Whether retrying cannot help (a 403: the permission is missing).
    pub fn is_fatal(&self) -> bool {
        matches!(self, LeaseError::Forbidden { .. })
    }
}

/// Timings and identity of an elector (client-go's defaults: 15 s, 10 s, 2 s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseTimings {
    /// How long a Lease stays ours after a renew, as others measure it.
    pub lease_duration: Duration,
    /// A holder that has not renewed for this long stops writing.
    pub renew_deadline: Duration,
    /// Time between attempts to acquire or renew.
    pub retry_period: Duration,
}

impl Default for LeaseTimings {
    fn default() -> Self {
        LeaseTimings {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// The fields of a Lease's `spec` that the observed-time rule compares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaseRecord {
    /// `holderIdentity` (empty: free).
    pub holder: String,
    /// `leaseDurationSeconds`.
    pub duration_seconds: i64,
    /// `acquireTime` as written.
    pub acquire_time: String,
    /// `renewTime` as written.
    pub renew_time: String,
    /// `leaseTransitions`.
    pub transitions: i64,
    /// The `fjord.dev/view` annotation (a member's acknowledged view).
    pub view: Option<String>,
}

/// Annotation on a member Lease: the hash of the member set whose hand-offs it completed.
pub const VIEW_ANNOTATION: &str = "fjord.dev/view";

impl LeaseRecord {
    /// Reads the record of a Lease object.
    pub fn from_lease(lease: &Value) -> LeaseRecord {
        let s = |p: &str| {
            lease
                .pointer(p)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let i = |p: &str| lease.pointer(p).and_then(Value::as_i64).unwrap_or_default();
        LeaseRecord {
            holder: s("/spec/holderIdentity"),
            duration_seconds: i("/spec/leaseDurationSeconds"),
            acquire_time: s("/spec/acquireTime"),
            renew_time: s("/spec/renewTime"),
            transitions: i("/spec/leaseTransitions"),
            view: lease
                .pointer("/metadata/annotations/fjord.dev~1view")
                .and_then(Value::as_str)
                .map(str::to_string),
        }
    }
}

/// A Kubernetes `MicroTime` (`2006-01-02T15:04:05.000000Z`).
pub fn micro_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Tracks when each Lease record last changed, on our own clock.
#[derive(Debug, Default)]
pub struct Observer {
    seen: BTreeMap<String, (LeaseRecord, Instant)>,
}

impl Observer {
    /// Notes `record` of Lease `name` at `now`; returns when it was first seen as it is.
    pub fn observe(&mut self, name: &str, record: &LeaseRecord, now: Instant) -> Instant {
        match self.seen.get(name) {
            Some((r, at)) if r == record => *at,
            _ => {
                self.seen.insert(name.to_string(), (record.clone(), now));
                now
            }
        }
    }

    /// Whether `record` (of Lease `name`, noted with [`Observer::observe`]) is expired at
    /// `now` for us: no holder, or unchanged for its own duration since we saw it change.
    pub fn expired(&mut self, name: &str, record: &LeaseRecord, now: Instant) -> bool {
        let since = self.observe(name, record, now);
        let duration = Duration::from_secs(record.duration_seconds.max(0) as u64);
        record.holder.is_empty() || now.duration_since(since) >= duration
    }

    /// How long until Lease `name`, as last observed, expires for us (zero when it already
    /// has, `None` when never seen).
    pub fn until_expiry(&self, name: &str, now: Instant) -> Option<Duration> {
        let (record, at) = self.seen.get(name)?;
        let duration = Duration::from_secs(record.duration_seconds.max(0) as u64);
        Some((*at + duration).saturating_duration_since(now))
    }

    /// Forgets Leases not in `names`.
    pub fn retain(&mut self, names: &std::collections::BTreeSet<String>) {
        self.seen.retain(|k, _| names.contains(k));
    }
}

/// Where the Leases live and how they are called.
#[derive(Clone)]
pub struct LeaseClient {
    client: Client,
    lease_type: ResourceType,
    namespace: String,
    call_timeout: Duration,
}

impl LeaseClient {
    /// A client for Leases of `namespace`; each call is given at most `call_timeout` and is
    /// not retried (the elector's own loop retries).
    pub async fn new(
        client: &Client,
        namespace: &str,
        call_timeout: Duration,
    ) -> Result<LeaseClient, LeaseError> {
        let client = client.clone().with_retry(RetryPolicy {
            attempts: 1,
            ..RetryPolicy::default()
        });
        let lease_type = client
            .resolve("coordination.k8s.io/v1", "Lease")
            .await
            .map_err(|source| LeaseError::Discover { source })?;
        Ok(LeaseClient {
            client,
            lease_type,
            namespace: namespace.to_string(),
            call_timeout,
        })
    }

    /// The Leases' namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    fn failed(&self, verb: &'static str, name: &str, source: ClientError) -> LeaseError {
        if source.status_code() == Some(403) {
            LeaseError::Forbidden {
                verb,
                namespace: self.namespace.clone(),
            }
        } else {
            LeaseError::Api {
                verb,
                namespace: self.namespace.clone(),
                name: name.to_string(),
                source,
            }
        }
    }

    async fn timed<T>(
        &self,
        verb: &'static str,
        name: &str,
        fut: impl std::future::Future<Output = Result<T, ClientError>>,
    ) -> Result<T, LeaseError> {
        match tokio::time::timeout(self.call_timeout, fut).await {
            Ok(r) => r.map_err(|e| self.failed(verb, name, e)),
            Err(_) => Err(LeaseError::Timeout {
                verb,
                namespace: self.namespace.clone(),
                name: name.to_string(),
                timeout: self.call_timeout,
            }),
        }
    }

    /// The Lease `name`, `None` when missing.
    pub async fn get(&self, name: &str) -> Result<Option<Value>, LeaseError> {
        self.timed(
            "get",
            name,
            self.client
                .get(&self.lease_type, Some(&self.namespace), name),
        )
        .await
    }

    /// The Leases of the namespace carrying label `key=value`.
    pub async fn list_labelled(&self, key: &str, value: &str) -> Result<Vec<Value>, LeaseError> {
        let all = self
            .timed(
                "list",
                "*",
                self.client.list(&self.lease_type, Some(&self.namespace)),
            )
            .await?;
        let ptr = format!(
            "/metadata/labels/{}",
            key.replace('~', "~0").replace('/', "~1")
        );
        Ok(all
            .into_iter()
            .filter(|l| l.pointer(&ptr).and_then(Value::as_str) == Some(value))
            .collect())
    }

    /// Creates `lease`; `Ok(None)` when it already exists (409). A missing namespace (a
    /// fresh cluster: the controller creates its namespace only once it leads) is created.
    async fn create(&self, name: &str, lease: &Value) -> Result<Option<Value>, LeaseError> {
        match self.create_once(name, lease).await {
            Err(LeaseError::Api { source, .. }) if source.is_not_found() => {
                self.create_namespace().await?;
                self.create_once(name, lease).await
            }
            other => other,
        }
    }

    async fn create_namespace(&self) -> Result<(), LeaseError> {
        let ns_type = self
            .client
            .resolve("v1", "Namespace")
            .await
            .map_err(|source| LeaseError::Discover { source })?;
        let ns =
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.namespace}});
        match self
            .timed(
                "create",
                &self.namespace,
                self.client.create(&ns_type, &ns, false, LEASE_MANAGER),
            )
            .await
        {
            Err(LeaseError::Api { source, .. }) if source.is_conflict() => Ok(()),
            Err(LeaseError::Forbidden { .. }) => Ok(()),
            other => other.map(|_| ()),
        }
    }

    async fn create_once(&self, name: &str, lease: &Value) -> Result<Option<Value>, LeaseError> {
        match self
            .timed(
                "create",
                name,
                self.client
                    .create(&self.lease_type, lease, false, LEASE_MANAGER),
            )
            .await
        {
            Ok(v) => Ok(Some(v)),
            Err(LeaseError::Api { source, .. }) if source.is_conflict() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Updates `lease` (carrying the `resourceVersion` read); `Ok(None)` on a 409.
    async fn update(&self, name: &str, lease: &Value) -> Result<Option<Value>, LeaseError> {
        match self
            .timed(
                "update",
                name,
                self.client
                    .replace(&self.lease_type, lease, false, LEASE_MANAGER),
            )
            .await
        {
            Ok(v) => Ok(Some(v)),
            Err(LeaseError::Api { source, .. }) if source.is_conflict() => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// One Lease we try to hold.
pub struct LeaseLock {
    client: LeaseClient,
    name: String,
    identity: String,
    duration: Duration,
    labels: BTreeMap<String, String>,
    /// The `fjord.dev/view` value to write at the next renew (shared with the shard
    /// coordinator).
    view: Arc<Mutex<Option<String>>>,
    observer: Observer,
    /// The holder seen at the last read.
    last_holder: String,
}

/// What one attempt found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// We hold the Lease now.
    Held,
    /// Someone else (named) holds it and it is not expired for us, or our write lost a race.
    Busy(String),
}

impl LeaseLock {
    /// A lock on Lease `name` for `identity`, with the given labels.
    pub fn new(
        client: LeaseClient,
        name: &str,
        identity: &str,
        duration: Duration,
        labels: BTreeMap<String, String>,
    ) -> LeaseLock {
        LeaseLock {
            client,
            name: name.to_string(),
            identity: identity.to_string(),
            duration,
            labels,
            view: Arc::default(),
            observer: Observer::default(),
            last_holder: String::new(),
        }
    }

    /// The Lease name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How long until the Lease, as this lock last saw it held by someone else, expires.
    pub fn until_expiry(&self) -> Option<Duration> {
        self.observer.until_expiry(&self.name, Instant::now())
    }

    /// The slot through which a view annotation is set for the next renews.
    pub fn view_slot(&self) -> Arc<Mutex<Option<String>>> {
        Arc::clone(&self.view)
    }

    fn spec(&self, acquire: &str, transitions: i64, holder: &str, duration: i64) -> Value {
        json!({
            "holderIdentity": holder,
            "leaseDurationSeconds": duration,
            "acquireTime": acquire,
            "renewTime": micro_time(Utc::now()),
            "leaseTransitions": transitions,
        })
    }

    fn annotate(&self, meta: &mut serde_json::Map<String, Value>) {
        if !self.labels.is_empty() {
            let labels = meta.entry("labels").or_insert_with(|| json!({}));
            if let Some(l) = labels.as_object_mut() {
                for (k, v) in &self.labels {
                    l.insert(k.clone(), json!(v));
                }
            }
        }
        let view = self.view.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(v) = view {
            let ann = meta.entry("annotations").or_insert_with(|| json!({}));
            if let Some(a) = ann.as_object_mut() {
                a.insert(VIEW_ANNOTATION.into(), json!(v));
            }
        }
    }

    /// One attempt to acquire or renew (client-go's `tryAcquireOrRenew`).
    pub async fn try_acquire_or_renew(&mut self) -> Result<Attempt, LeaseError> {
        let duration = self.duration.as_secs().max(1) as i64;
        let now = Instant::now();
        let Some(mut live) = self.client.get(&self.name).await? else {
            let mut meta = serde_json::Map::new();
            meta.insert("name".into(), json!(self.name));
            meta.insert("namespace".into(), json!(self.client.namespace()));
            self.annotate(&mut meta);
            let now_s = micro_time(Utc::now());
            let lease = json!({
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": meta,
                "spec": self.spec(&now_s, 0, &self.identity, duration),
            });
            return Ok(match self.client.create(&self.name, &lease).await? {
                Some(v) => self.took(&v, now),
                None => Attempt::Busy("(created concurrently)".into()),
            });
        };
        let record = LeaseRecord::from_lease(&live);
        self.last_holder = record.holder.clone();
        let ours = record.holder == self.identity;
        if !ours && !self.observer.expired(&self.name, &record, now) {
            return Ok(Attempt::Busy(record.holder));
        }
        let (acquire, transitions) = if ours {
            (record.acquire_time.clone(), record.transitions)
        } else {
            (micro_time(Utc::now()), record.transitions + 1)
        };
        let spec = self.spec(&acquire, transitions, &self.identity, duration);
        if let Some(obj) = live.as_object_mut() {
            obj.insert("spec".into(), spec);
            obj.remove("status");
        }
        if let Some(meta) = live.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
            self.annotate(meta);
        }
        Ok(match self.client.update(&self.name, &live).await? {
            Some(v) => self.took(&v, now),
            None => Attempt::Busy("(updated concurrently)".into()),
        })
    }

    fn took(&mut self, lease: &Value, now: Instant) -> Attempt {
        let record = LeaseRecord::from_lease(lease);
        self.observer.observe(&self.name, &record, now);
        self.last_holder = record.holder;
        Attempt::Held
    }

    /// Gives the Lease up on a clean shutdown (client-go's `ReleaseOnCancel`): empty holder,
    /// 1 s duration, so a standby takes over at its next attempt.
    pub async fn release(&mut self) -> Result<(), LeaseError> {
        let Some(mut live) = self.client.get(&self.name).await? else {
            return Ok(());
        };
        let record = LeaseRecord::from_lease(&live);
        if record.holder != self.identity {
            return Ok(());
        }
        let spec = self.spec(&record.acquire_time, record.transitions, "", 1);
        if let Some(obj) = live.as_object_mut() {
            obj.insert("spec".into(), spec);
        }
        if let Some(meta) = live.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
        }
        self.client.update(&self.name, &live).await.map(|_| ())
    }
}

/// Why a holder stopped: the process must stop every write now.
#[derive(Debug)]
pub enum Fence {
    /// Could not renew within the renew deadline, or saw another holder.
    Lost {
        /// The Lease name.
        lease: String,
        /// What happened.
        reason: String,
    },
    /// A permanent error (a 403) while acquiring or renewing.
    Fatal(LeaseError),
}

impl std::fmt::Display for Fence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fence::Lost { lease, reason } => write!(f, "lost Lease {lease}: {reason}"),
            Fence::Fatal(e) => f.write_str(&fjord_model::chain(e)),
        }
    }
}

/// A running elector.
pub struct Elector {
    /// `Some(index of the candidate held)` once a Lease is held.
    pub held: watch::Receiver<Option<usize>>,
    task: tokio::task::JoinHandle<Vec<LeaseLock>>,
    stop: Arc<tokio::sync::Notify>,
}

impl Elector {
    /// Stops trying and, when a Lease is held, releases it.
    pub async fn release(self) {
        self.stop.notify_one();
        if let Ok(mut locks) = self.task.await {
            if let Some(i) = *self.held.borrow() {
                if let Some(l) = locks.get_mut(i) {
                    if let Err(e) = l.release().await {
                        events::log("warn", "", &fjord_model::chain(&e));
                    }
                }
            }
        }
    }

    /// Waits until a Lease is held; its candidate index (`None` if the elector ended).
    pub async fn wait_held(&mut self) -> Option<usize> {
        loop {
            if let Some(i) = *self.held.borrow_and_update() {
                return Some(i);
            }
            self.held.changed().await.ok()?;
        }
    }
}

/// Starts trying to hold one of `candidates` (in order, every half retry period), then renews the
/// one held every retry period. Fences go to `fence`; the elector then stops.
pub fn spawn_elector(
    mut candidates: Vec<LeaseLock>,
    timings: LeaseTimings,
    fence: mpsc::UnboundedSender<Fence>,
) -> Elector {
    let (tx, rx) = watch::channel(None);
    let stop = Arc::new(tokio::sync::Notify::new());
    let stopped = Arc::clone(&stop);
    let task = tokio::spawn(async move {
        tokio::select! {
            _ = stopped.notified() => {}
            _ = elect(&mut candidates, &timings, &tx, &fence) => {}
        }
        candidates
    });
    Elector {
        held: rx,
        task,
        stop,
    }
}

/// A pause of `period` stretched by up to `factor` at random (client-go's `JitterUntil`).
fn jittered(period: Duration, factor: f64) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    period.mul_f64(1.0 + factor * f64::from(nanos % 1000) / 1000.0)
}

async fn elect(
    candidates: &mut [LeaseLock],
    t: &LeaseTimings,
    held: &watch::Sender<Option<usize>>,
    fence: &mpsc::UnboundedSender<Fence>,
) {
    let Some(index) = acquire(candidates, t, fence).await else {
        return;
    };
    let lock = &mut candidates[index];
    events::log(
        "info",
        "",
        &format!("acquired Lease {} as {}", lock.name, lock.identity),
    );
    let _ = held.send(Some(index));
    let reason = renew(lock, t).await;
    let _ = fence.send(reason);
}

/// Tries each candidate every half retry period until one is held; `None` after a fatal
/// error.
async fn acquire(
    candidates: &mut [LeaseLock],
    t: &LeaseTimings,
    fence: &mpsc::UnboundedSender<Fence>,
) -> Option<usize> {
    let mut last_holder: Vec<String> = vec![String::new(); candidates.len()];
    loop {
        for (i, lock) in candidates.iter_mut().enumerate() {
            match lock.try_acquire_or_renew().await {
                Ok(Attempt::Held) => return Some(i),
                Ok(Attempt::Busy(holder)) => {
                    if last_holder[i] != holder {
                        events::log(
                            "info",
                            "",
                            &format!("Lease {} is held by {holder}; waiting", lock.name),
                        );
                        last_holder[i] = holder;
                    }
                }
                Err(e) if e.is_fatal() => {
                    let _ = fence.send(Fence::Fatal(e));
                    return None;
                }
                Err(e) => events::log("warn", "", &fjord_model::chain(&e)),
            }
        }
        // Half the retry period, barely jittered: a standby notices the holder's last renew
        // at most ~1.1 s late; and it tries again the moment a Lease expires for it rather
        // than at its next tick, so it takes over within the lease duration plus about half
        // the retry period after the holder's last renew.
        let tick = jittered(t.retry_period / 2, 0.1);
        let expiry = candidates
            .iter()
            .filter_map(LeaseLock::until_expiry)
            .filter(|d| !d.is_zero())
            .min()
            .map(|d| d + Duration::from_millis(5));
        tokio::time::sleep(expiry.map_or(tick, |e| e.min(tick))).await;
    }
}

/// Renews `lock` every retry period; returns why it stopped being safe to hold it.
async fn renew(lock: &mut LeaseLock, t: &LeaseTimings) -> Fence {
    // Measured from the start of the last successful request: the Lease's new record became
    // visible to others only after it.
    let mut last_ok = Instant::now();
    loop {
        tokio::time::sleep(t.retry_period).await;
        loop {
            let left = t.renew_deadline.saturating_sub(last_ok.elapsed());
            if left.is_zero() {
                return Fence::Lost {
                    lease: lock.name.clone(),
                    reason: format!(
                        "not renewed within the renew deadline {:?}",
                        t.renew_deadline
                    ),
                };
            }
            let started = Instant::now();
            match tokio::time::timeout(left, lock.try_acquire_or_renew()).await {
                Ok(Ok(Attempt::Held)) => {
                    last_ok = started;
                    break;
                }
                Ok(Ok(Attempt::Busy(holder))) if lock.last_holder != lock.identity => {
                    return Fence::Lost {
                        lease: lock.name.clone(),
                        reason: format!("now held by {holder}"),
                    };
                }
                Ok(Err(e)) if e.is_fatal() => return Fence::Fatal(e),
                Ok(Ok(Attempt::Busy(_))) => {}
                Ok(Err(e)) => events::log("warn", "", &fjord_model::chain(&e)),
                Err(_) => {}
            }
            // Retry within the deadline, a little faster than the retry period.
            tokio::time::sleep((t.retry_period / 2).min(left)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(holder: &str, renew: &str) -> LeaseRecord {
        LeaseRecord {
            holder: holder.into(),
            duration_seconds: 15,
            renew_time: renew.into(),
            ..Default::default()
        }
    }

    #[test]
    fn expiry_is_measured_on_our_clock_from_the_last_change() {
        let mut o = Observer::default();
        let t0 = Instant::now();
        let r = record("a", "2026-01-01T00:00:00.000000Z");
        assert!(!o.expired("l", &r, t0));
        assert!(!o.expired("l", &r, t0 + Duration::from_secs(14)));
        // A renew (new renewTime) restarts the clock, whatever the timestamps say.
        let r2 = record("a", "2020-01-01T00:00:00.000000Z");
        assert!(!o.expired("l", &r2, t0 + Duration::from_secs(14)));
        assert!(!o.expired("l", &r2, t0 + Duration::from_secs(28)));
        assert!(o.expired("l", &r2, t0 + Duration::from_secs(29)));
    }

    #[test]
    fn no_holder_is_expired() {
        let mut o = Observer::default();
        assert!(o.expired("l", &record("", "x"), Instant::now()));
    }

    #[test]
    fn micro_time_format() {
        let t = DateTime::parse_from_rfc3339("2026-12-07T18:40:01.5Z")
            .expect("time")
            .with_timezone(&Utc);
        assert_eq!(micro_time(t), "2026-12-07T18:40:01.500000Z");
    }

    #[test]
    fn forbidden_names_verb_and_resource() {
        let e = LeaseError::Forbidden {
            verb: "create",
            namespace: "argocd".into(),
        };
        assert_eq!(
            e.to_string(),
            "leader election: the API refused \"create\" on leases.coordination.k8s.io in namespace argocd (403 Forbidden)"
        );
        assert!(e.is_fatal());
    }
}
