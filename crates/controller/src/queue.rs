//! A de-duplicating work queue with delayed and rate-limited re-queue, served by N tokio
//! workers, modelled on client-go's `workqueue` (including its `workqueue_*` metrics).
//!
//! Semantics: an item added while already queued is not duplicated; an item added while
//! being processed is queued again once its worker calls `done`; failed items come back
//! after a per-item exponential backoff until `forget`.
//!
//! Workers and waits: `workers` items are processed at a time, but a handler that waits for
//! something outside the controller (a sync waiting for a rollout) inside [`idle_while`] gives
//! its slot to the next item meanwhile (and finishes without one), up to
//! [`WAITING_PER_WORKER`] items per worker in all.
//! One app's slow sync never holds back another app's reconcile.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

/// How many items each worker slot may have in flight while earlier ones wait in
/// [`idle_while`].
pub const WAITING_PER_WORKER: usize = 8;

/// A worker's hold on one of its queue's slots (given up in [`idle_while`]).
#[derive(Clone)]
struct Slot {
    permit: Arc<Mutex<Option<OwnedSemaphorePermit>>>,
}

tokio::task_local! {
    static SLOT: Slot;
}

/// Runs `fut`, a wait for something outside the controller (a sync's applies and rollout),
/// without holding the calling worker's slot: the next item is processed meanwhile. The item
/// then finishes without taking a slot again (it would queue behind items that have not
/// started: an app whose sync is done writes its status at once). Outside a queue worker it
/// just runs `fut`.
pub async fn idle_while<F: Future>(fut: F) -> F::Output {
    if let Ok(s) = SLOT.try_with(Slot::clone) {
        s.permit.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
    fut.await
}

/// Labels of the `workqueue_*` metrics (controller-runtime sets both to the queue name).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabels {
    /// Queue name.
    pub name: String,
    /// Controller name (same as the queue name).
    pub controller: String,
}

/// The `workqueue_*` metric families, shared by all queues of a process.
#[derive(Clone)]
pub struct WorkqueueMetrics {
    depth: Family<QueueLabels, Gauge>,
    adds: Family<QueueLabels, Counter>,
    queue_duration: Family<QueueLabels, Histogram>,
    work_duration: Family<QueueLabels, Histogram>,
    retries: Family<QueueLabels, Counter>,
    unfinished: Family<QueueLabels, Gauge<f64, AtomicU64>>,
    longest: Family<QueueLabels, Gauge<f64, AtomicU64>>,
}

fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(10e-9, 10.0, 12))
}

impl WorkqueueMetrics {
    /// Creates the families and registers them in `registry` under client-go's names.
    pub fn register(registry: &mut Registry) -> Self {
        let m = WorkqueueMetrics {
            depth: Family::default(),
            adds: Family::default(),
            queue_duration: Family::new_with_constructor(duration_histogram),
            work_duration: Family::new_with_constructor(duration_histogram),
            retries: Family::default(),
            unfinished: Family::default(),
            longest: Family::default(),
        };
        registry.register(
            "workqueue_depth",
            "Current depth of workqueue",
            m.depth.clone(),
        );
        registry.register(
            "workqueue_adds",
            "Total number of adds handled by workqueue",
            m.adds.clone(),
        );
        registry.register(
            "workqueue_queue_duration_seconds",
            "How long in seconds an item stays in workqueue before being requested",
            m.queue_duration.clone(),
        );
        registry.register(
            "workqueue_work_duration_seconds",
            "How long in seconds processing an item from workqueue takes",
            m.work_duration.clone(),
        );
        registry.register(
            "workqueue_retries",
            "Total number of retries handled by workqueue",
            m.retries.clone(),
        );
        registry.register(
            "workqueue_unfinished_work_seconds",
            "How many seconds of work has been done that is in progress and hasn't been observed by work_duration",
            m.unfinished.clone(),
        );
        registry.register(
            "workqueue_longest_running_processor_seconds",
            "How many seconds has the longest running processor for workqueue been running",
            m.longest.clone(),
        );
        m
    }
}

/// Per-item exponential backoff for [`WorkQueue::add_rate_limited`]: `base * 2^(n-1)`
/// capped at `max` (client-go's default item limiter is 5 ms .. 1000 s).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BackoffConfig {
    /// Delay of the first retry.
    pub base: Duration,
    /// Upper bound.
    pub max: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            base: Duration::from_millis(5),
            max: Duration::from_secs(1000),
        }
    }
}

impl BackoffConfig {
    /// Delay after `failures` consecutive failures (1-based).
    pub fn delay(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(62);
        let factor = 1u64 << exp;
        let nanos = (self.base.as_nanos() as u64).saturating_mul(factor);
        Duration::from_nanos(nanos).min(self.max)
    }
}

/// What a worker's handler asks the queue to do with the item it processed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Success: forget the item's failure count.
    Done,
    /// Failure: re-queue with the item's exponential backoff.
    Retry,
    /// Success, but process again after the given delay.
    RequeueAfter(Duration),
}

struct State<K> {
    queue: VecDeque<K>,
    dirty: HashSet<K>,
    processing: HashMap<K, Instant>,
    added_at: HashMap<K, Instant>,
    waiting: HashMap<K, Instant>,
    failures: HashMap<K, u32>,
    shutting_down: bool,
}

struct Inner<K> {
    labels: QueueLabels,
    state: Mutex<State<K>>,
    notify: Notify,
    backoff: BackoffConfig,
    metrics: Option<WorkqueueMetrics>,
}

/// A cloneable handle to a de-duplicating work queue.
pub struct WorkQueue<K> {
    inner: Arc<Inner<K>>,
}

impl<K> Clone for WorkQueue<K> {
    fn clone(&self) -> Self {
        WorkQueue {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<K: Clone + Eq + Hash + Send + Sync + 'static> WorkQueue<K> {
    /// Creates a queue named `name` (e.g. `app_reconciliation_queue`).
    pub fn new(name: &str, backoff: BackoffConfig, metrics: Option<WorkqueueMetrics>) -> Self {
        WorkQueue {
            inner: Arc::new(Inner {
                labels: QueueLabels {
                    name: name.to_string(),
                    controller: name.to_string(),
                },
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    dirty: HashSet::new(),
                    processing: HashMap::new(),
                    added_at: HashMap::new(),
                    waiting: HashMap::new(),
                    failures: HashMap::new(),
                    shutting_down: false,
                }),
                notify: Notify::new(),
                backoff,
                metrics,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<K>> {
        // A poisoned lock only means a worker panicked mid-update; the state is still usable.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_depth(&self, st: &State<K>) {
        if let Some(m) = &self.inner.metrics {
            m.depth
                .get_or_create(&self.inner.labels)
                .set(st.queue.len() as i64);
        }
    }

    /// Adds `item` now (no-op if already queued; deferred if being processed).
    pub fn add(&self, item: K) {
        let mut st = self.lock();
        if st.shutting_down || st.dirty.contains(&item) {
            return;
        }
        if let Some(m) = &self.inner.metrics {
            m.adds.get_or_create(&self.inner.labels).inc();
        }
        st.dirty.insert(item.clone());
        st.added_at.entry(item.clone()).or_insert_with(Instant::now);
        if st.processing.contains_key(&item) {
            return;
        }
        st.queue.push_back(item);
        self.set_depth(&st);
        drop(st);
        self.inner.notify.notify_one();
    }

    /// Adds `item` after `delay`; a pending earlier deadline for the same item wins.
    pub fn add_after(&self, item: K, delay: Duration) {
        if delay.is_zero() {
            return self.add(item);
        }
        let deadline = Instant::now() + delay;
        {
            let mut st = self.lock();
            if st.shutting_down {
                return;
            }
            if st.waiting.get(&item).is_some_and(|d| *d <= deadline) {
                return;
            }
            st.waiting.insert(item.clone(), deadline);
        }
        let q = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let due = {
                let mut st = q.lock();
                if st.waiting.get(&item) == Some(&deadline) {
                    st.waiting.remove(&item);
                    true
                } else {
                    false
                }
            };
            if due {
                q.add(item);
            }
        });
    }

    /// Re-queues `item` after its exponential backoff and counts a retry.
    pub fn add_rate_limited(&self, item: K) {
        let failures = {
            let mut st = self.lock();
            let n = st.failures.entry(item.clone()).or_insert(0);
            *n = n.saturating_add(1);
            *n
        };
        if let Some(m) = &self.inner.metrics {
            m.retries.get_or_create(&self.inner.labels).inc();
        }
        self.add_after(item, self.inner.backoff.delay(failures));
    }

    /// Clears the failure count of `item`.
    pub fn forget(&self, item: &K) {
        self.lock().failures.remove(item);
    }

    /// How many times `item` has been re-queued since it was last forgotten.
    pub fn num_requeues(&self, item: &K) -> u32 {
        self.lock().failures.get(item).copied().unwrap_or(0)
    }

    /// Number of items waiting to be processed.
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    /// Whether no item is waiting to be processed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits for the next item; `None` once the queue is shut down.
    pub async fn get(&self) -> Option<K> {
        loop {
            let notified = self.inner.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut st = self.lock();
                if let Some(item) = st.queue.pop_front() {
                    let now = Instant::now();
                    st.dirty.remove(&item);
                    st.processing.insert(item.clone(), now);
                    if let (Some(m), Some(t)) = (&self.inner.metrics, st.added_at.remove(&item)) {
                        m.queue_duration
                            .get_or_create(&self.inner.labels)
                            .observe(now.duration_since(t).as_secs_f64());
                    }
                    self.set_depth(&st);
                    return Some(item);
                }
                if st.shutting_down {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// Marks `item` as processed; re-queues it if it was added meanwhile.
    pub fn done(&self, item: &K) {
        let mut st = self.lock();
        if let Some(start) = st.processing.remove(item) {
            if let Some(m) = &self.inner.metrics {
                m.work_duration
                    .get_or_create(&self.inner.labels)
                    .observe(start.elapsed().as_secs_f64());
            }
        }
        if st.dirty.contains(item) {
            st.queue.push_back(item.clone());
            self.set_depth(&st);
            drop(st);
            self.inner.notify.notify_one();
        } else {
            drop(st);
        }
        self.update_unfinished_work();
    }

    /// Refreshes `workqueue_unfinished_work_seconds` and
    /// `workqueue_longest_running_processor_seconds`.
    pub fn update_unfinished_work(&self) {
        let Some(m) = &self.inner.metrics else { return };
        let st = self.lock();
        let now = Instant::now();
        let ages = st
            .processing
            .values()
            .map(|t| now.duration_since(*t).as_secs_f64());
        let (sum, longest) = ages.fold((0.0, 0.0f64), |(s, l), a| (s + a, l.max(a)));
        m.unfinished.get_or_create(&self.inner.labels).set(sum);
        m.longest.get_or_create(&self.inner.labels).set(longest);
    }

    /// Stops the queue: no more adds; `get` returns `None` once the queue is drained.
    pub fn shutdown(&self) {
        self.lock().shutting_down = true;
        self.inner.notify.notify_waiters();
    }

    /// Spawns the tokio tasks that take items and run `handler`, applying its [`Outcome`]:
    /// `workers` items at a time, more while handlers wait in [`idle_while`] (see the module
    /// documentation). The tasks end after [`WorkQueue::shutdown`].
    pub fn run<F, Fut>(&self, workers: usize, handler: F) -> Vec<JoinHandle<()>>
    where
        F: Fn(K) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Outcome> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let workers = workers.max(1);
        let slots = Arc::new(Semaphore::new(workers));
        (0..workers * WAITING_PER_WORKER)
            .map(|_| {
                let q = self.clone();
                let h = Arc::clone(&handler);
                let slots = Arc::clone(&slots);
                tokio::spawn(async move {
                    loop {
                        let Some(item) = q.get().await else { return };
                        let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
                            return;
                        };
                        let slot = Slot {
                            permit: Arc::new(Mutex::new(Some(permit))),
                        };
                        q.update_unfinished_work();
                        let outcome = SLOT.scope(slot, h(item.clone())).await;
                        match outcome {
                            Outcome::Done => q.forget(&item),
                            Outcome::Retry => q.add_rate_limited(item.clone()),
                            Outcome::RequeueAfter(d) => {
                                q.forget(&item);
                                q.add_after(item.clone(), d);
                            }
                        }
                        q.done(&item);
                    }
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn q() -> WorkQueue<String> {
        WorkQueue::new("test_queue", BackoffConfig::default(), None)
    }

    #[tokio::test]
    async fn dedups_while_queued() {
        let q = q();
        q.add("a".into());
        q.add("a".into());
        q.add("b".into());
        assert_eq!(q.len(), 2);
        assert_eq!(q.get().await.as_deref(), Some("a"));
        assert_eq!(q.get().await.as_deref(), Some("b"));
        assert!(q.is_empty());
    }

    #[tokio::test]
    async fn requeued_after_processing() {
        let q = q();
        q.add("a".into());
        let item = q.get().await.unwrap();
        q.add("a".into());
        assert_eq!(q.len(), 0, "not queued while processing");
        q.done(&item);
        assert_eq!(q.len(), 1, "queued again after done");
        let again = q.get().await.unwrap();
        q.done(&again);
        assert!(q.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn delayed_and_backoff() {
        let q = q();
        q.add_after("a".into(), Duration::from_secs(10));
        q.add_after("a".into(), Duration::from_secs(20));
        tokio::time::sleep(Duration::from_secs(9)).await;
        assert!(q.is_empty());
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(q.len(), 1);
        tokio::time::sleep(Duration::from_secs(20)).await;
        assert_eq!(q.len(), 1, "superseded later deadline does not add twice");
        q.add_rate_limited("b".into());
        q.add_rate_limited("b".into());
        assert_eq!(q.num_requeues(&"b".to_string()), 2);
        q.forget(&"b".to_string());
        assert_eq!(q.num_requeues(&"b".to_string()), 0);
    }

    #[test]
    fn backoff_growth() {
        let b = BackoffConfig {
            base: Duration::from_millis(5),
            max: Duration::from_secs(1),
        };
        assert_eq!(b.delay(1), Duration::from_millis(5));
        assert_eq!(b.delay(3), Duration::from_millis(20));
        assert_eq!(b.delay(40), Duration::from_secs(1));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn workers_process_and_retry() {
        let mut reg = Registry::default();
        let m = WorkqueueMetrics::register(&mut reg);
        let q: WorkQueue<u32> = WorkQueue::new(
            "app_reconciliation_queue",
            BackoffConfig {
                base: Duration::from_millis(1),
                max: Duration::from_millis(4),
            },
            Some(m),
        );
        let calls = Arc::new(AtomicUsize::new(0));
        let sevens = Arc::new(AtomicUsize::new(0));
        let (c, s) = (Arc::clone(&calls), Arc::clone(&sevens));
        let handles = q.run(3, move |item: u32| {
            let (c, s) = (Arc::clone(&c), Arc::clone(&s));
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                // Item 7 fails twice, then succeeds.
                if item == 7 && s.fetch_add(1, Ordering::SeqCst) < 2 {
                    Outcome::Retry
                } else {
                    Outcome::Done
                }
            }
        });
        for i in 0..10 {
            q.add(i);
        }
        for _ in 0..200 {
            if calls.load(Ordering::SeqCst) >= 12 && q.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        q.shutdown();
        for h in handles {
            h.await.unwrap();
        }
        assert_eq!(calls.load(Ordering::SeqCst), 12);
        assert_eq!(sevens.load(Ordering::SeqCst), 3);
        assert_eq!(q.num_requeues(&7), 0, "forgotten after success");
        let mut out = String::new();
        encode(&mut out, &reg).unwrap();
        let l = r#"{name="app_reconciliation_queue",controller="app_reconciliation_queue"}"#;
        assert!(out.contains(&format!("workqueue_adds_total{l} ")), "{out}");
        assert!(out.contains(&format!("workqueue_depth{l} 0")));
        assert!(out.contains(&format!("workqueue_retries_total{l} ")));
        assert!(out.contains("workqueue_queue_duration_seconds_bucket{"));
        assert!(out.contains("workqueue_work_duration_seconds_count{"));
        assert!(out.contains(&format!("workqueue_unfinished_work_seconds{l} ")));
        assert!(out.contains(&format!("workqueue_longest_running_processor_seconds{l} ")));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_waiting_item_gives_its_slot_to_the_next() {
        let q: WorkQueue<u32> = WorkQueue::new("test_queue", BackoffConfig::default(), None);
        let gate = Arc::new(Notify::new());
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(u32, &'static str)>();
        let active = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (g, a, m) = (Arc::clone(&gate), Arc::clone(&active), Arc::clone(&most));
        let handles = q.run(1, move |item: u32| {
            let (g, a, m, tx) = (Arc::clone(&g), Arc::clone(&a), Arc::clone(&m), tx.clone());
            async move {
                let now = a.fetch_add(1, Ordering::SeqCst) + 1;
                m.fetch_max(now, Ordering::SeqCst);
                if item == 0 {
                    // Item 0 waits (a slow sync) without its slot.
                    a.fetch_sub(1, Ordering::SeqCst);
                    idle_while(g.notified()).await;
                    let now = a.fetch_add(1, Ordering::SeqCst) + 1;
                    m.fetch_max(now, Ordering::SeqCst);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
                a.fetch_sub(1, Ordering::SeqCst);
                tx.send((item, "done")).unwrap();
                Outcome::Done
            }
        });
        q.add(0);
        tokio::time::sleep(Duration::from_millis(50)).await;
        q.add(1);
        q.add(2);
        let first = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
        assert_eq!(
            first.unwrap(),
            Some((1, "done")),
            "item 1 ran while 0 waited"
        );
        let second = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
        assert_eq!(second.unwrap(), Some((2, "done")));
        gate.notify_one();
        let third = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
        assert_eq!(third.unwrap(), Some((0, "done")));
        assert_eq!(
            most.load(Ordering::SeqCst),
            1,
            "one item at a time outside waits"
        );
        q.shutdown();
        for h in handles {
            h.await.unwrap();
        }
    }

    #[tokio::test]
    async fn idle_while_outside_a_worker_just_runs() {
        assert_eq!(idle_while(async { 7 }).await, 7);
    }
}
