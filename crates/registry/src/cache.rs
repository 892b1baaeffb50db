//! [`FlightCache`]: answers cached per key for a time the fetch decides, one fetch in flight per
//! key (single flight); and [`Limiters`]: per-registry request rates.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, FutureExt, Shared};

use crate::error::RegistryError;

/// What a fetch gives: the value and how long to keep it (`None`: forever, zero: not at all).
pub(crate) type Fetched<V> = Result<(V, Option<Duration>), RegistryError>;
type Flight<V> = Shared<BoxFuture<'static, Fetched<V>>>;

enum Slot<V> {
    Ready(V, Option<Instant>),
    Pending(Flight<V>),
}

/// From this many entries on, a new fetch first drops the expired ones; past twice as many,
/// every finished entry goes.
const PRUNE_AT: usize = 4096;

/// Values per key with per-entry expiry; concurrent gets of one key share one fetch; errors
/// reach every waiter and are not cached.
pub(crate) struct FlightCache<K, V> {
    slots: Mutex<HashMap<K, Slot<V>>>,
}

impl<K, V> FlightCache<K, V>
where
    K: Hash + Eq + Clone,
    V: Clone + Send + Sync + 'static,
{
    pub(crate) fn new() -> Self {
        FlightCache {
            slots: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Slot<V>>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached value of `key`, or the outcome of the fetch in flight, or of `fetch`.
    pub(crate) async fn get<F>(&self, key: K, fetch: F) -> Result<V, RegistryError>
    where
        F: Future<Output = Fetched<V>> + Send + 'static,
    {
        let flight = {
            let mut slots = self.lock();
            match slots.get(&key) {
                Some(Slot::Ready(v, until)) if until.is_none_or(|u| Instant::now() < u) => {
                    return Ok(v.clone());
                }
                Some(Slot::Pending(f)) => f.clone(),
                _ => {
                    if slots.len() >= PRUNE_AT {
                        prune(&mut slots);
                    }
                    let f = fetch.boxed().shared();
                    slots.insert(key.clone(), Slot::Pending(f.clone()));
                    f
                }
            }
        };
        let outcome = flight.clone().await;
        let mut slots = self.lock();
        if let Some(Slot::Pending(current)) = slots.get(&key) {
            if Shared::ptr_eq(current, &flight) {
                match &outcome {
                    Ok((v, ttl)) if ttl.is_none_or(|t| !t.is_zero()) => {
                        let until = ttl.map(|t| Instant::now() + t);
                        slots.insert(key, Slot::Ready(v.clone(), until));
                    }
                    _ => {
                        slots.remove(&key);
                    }
                }
            }
        }
        outcome.map(|(v, _)| v)
    }

    /// Forgets `key` (a fetch in flight finishes for its waiters).
    pub(crate) fn remove(&self, key: &K) {
        self.lock().remove(key);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

fn prune<K: Hash + Eq, V>(slots: &mut HashMap<K, Slot<V>>) {
    let now = Instant::now();
    slots.retain(|_, s| match s {
        Slot::Ready(_, until) => until.is_some_and(|u| now < u),
        Slot::Pending(_) => true,
    });
    if slots.len() >= 2 * PRUNE_AT {
        slots.retain(|_, s| matches!(s, Slot::Pending(_)));
    }
}

/// Request rates per registry: each request takes the next free slot `1/limit` s after the
/// previous one.
pub(crate) struct Limiters {
    next: Mutex<HashMap<String, Instant>>,
}

impl Limiters {
    pub(crate) fn new() -> Self {
        Limiters {
            next: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for `key`'s next slot under `limit` requests/s (`None`: at once).
    pub(crate) async fn wait(&self, key: &str, limit: Option<f64>) {
        let Some(limit) = limit.filter(|l| *l > 0.0 && l.is_finite()) else {
            return;
        };
        let interval = Duration::from_secs_f64(1.0 / limit);
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let slot = next.get(key).map_or(now, |n| (*n).max(now));
            next.insert(key.to_string(), slot + interval);
            slot
        };
        tokio::time::sleep_until(slot.into()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn one_fetch_per_key_and_expiry() {
        let cache: Arc<FlightCache<String, u32>> = Arc::new(FlightCache::new());
        let calls = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (cache, calls) = (Arc::clone(&cache), Arc::clone(&calls));
            tasks.push(tokio::spawn(async move {
                cache
                    .get("k".to_string(), async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok((7, Some(Duration::from_millis(100))))
                    })
                    .await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap(), 7);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_millis(120)).await;
        let c = Arc::clone(&calls);
        let v = cache
            .get("k".to_string(), async move {
                c.fetch_add(1, Ordering::SeqCst);
                Ok((8, Some(Duration::ZERO)))
            })
            .await
            .unwrap();
        assert_eq!(
            (v, calls.load(Ordering::SeqCst)),
            (8, 2),
            "expired: fetched again"
        );
        assert_eq!(cache.len(), 0, "a zero TTL keeps nothing");
    }

    #[tokio::test]
    async fn errors_are_not_cached() {
        let cache: FlightCache<u8, u8> = FlightCache::new();
        let err = RegistryError::Conf {
            field: "x".into(),
            reason: "y".into(),
        };
        assert!(cache.get(1, async move { Err(err) }).await.is_err());
        assert_eq!(cache.get(1, async { Ok((3, None)) }).await.unwrap(), 3);
        assert_eq!(cache.get(1, async { Ok((4, None)) }).await.unwrap(), 3);
        cache.remove(&1);
        assert_eq!(cache.get(1, async { Ok((4, None)) }).await.unwrap(), 4);
    }

    #[tokio::test]
    async fn limits_space_requests() {
        let l = Limiters::new();
        let start = Instant::now();
        for _ in 0..5 {
            l.wait("r", Some(50.0)).await;
        }
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(75), "{took:?}");
        let start = Instant::now();
        for _ in 0..50 {
            l.wait("other", None).await;
        }
        assert!(start.elapsed() < Duration::from_millis(50));
    }
}
