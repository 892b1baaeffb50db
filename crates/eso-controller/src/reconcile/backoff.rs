//! The retry schedule of failed ExternalSecrets: 5 s after the first failure, doubling to
//! 5 min, per ExternalSecret UID and `syncedResourceVersion` (a spec, label or annotation change
//! retries at once). Kept in memory, per controller.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::Shared;

/// The first retry delay after a failure.
const FIRST_BACKOFF: Duration = Duration::from_secs(5);
/// The longest retry delay.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// A failed ExternalSecret waiting for its retry.
#[derive(Debug, Clone)]
struct Backoff {
    /// `syncedResourceVersion` of the failed attempt: a spec or metadata change retries now.
    version: String,
    /// Failures in a row.
    failures: u32,
    /// Not retried before.
    next: Instant,
}

/// The failures of every controller in the process, keyed by the controller's [`Shared`]
/// address and the ExternalSecret's UID.
static BACKOFF: Mutex<BTreeMap<(usize, String), Backoff>> = Mutex::new(BTreeMap::new());

/// The delay after `failures` failures in a row: 5 s, 10 s, 20 s, … up to 5 min.
pub(super) fn backoff_delay(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    FIRST_BACKOFF
        .saturating_mul(1 << doublings)
        .min(MAX_BACKOFF)
}

/// The key of a controller: the address of its [`Shared`] (stable while it runs).
pub(super) fn shared_key(shared: &Shared) -> usize {
    std::ptr::from_ref(shared) as usize
}

fn backoff_lock() -> std::sync::MutexGuard<'static, BTreeMap<(usize, String), Backoff>> {
    BACKOFF
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether the ExternalSecret `uid` of controller `owner` is still backing off from a
/// failure at `version`.
pub(super) fn backing_off(owner: usize, uid: &str, version: &str, now: Instant) -> bool {
    backoff_lock()
        .get(&(owner, uid.to_string()))
        .is_some_and(|b| b.version == version && b.next > now)
}

/// Counts a failure at `version` (a failure at another version starts again at one).
pub(super) fn record_failure(owner: usize, uid: &str, version: &str, now: Instant) {
    let mut map = backoff_lock();
    let key = (owner, uid.to_string());
    let failures = match map.get(&key) {
        Some(b) if b.version == version => b.failures.saturating_add(1),
        _ => 1,
    };
    map.insert(
        key,
        Backoff {
            version: version.to_string(),
            failures,
            next: now + backoff_delay(failures),
        },
    );
}

pub(super) fn clear_failure(owner: usize, uid: &str) {
    backoff_lock().remove(&(owner, uid.to_string()));
}

/// Drops the failures of ExternalSecrets that are gone.
pub(super) fn prune_failures(owner: usize, live: &[String]) {
    backoff_lock().retain(|(o, uid), _| *o != owner || live.contains(uid));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_five_seconds_to_five_minutes() {
        let secs: Vec<u64> = [1, 2, 3, 4, 5, 6, 7, 8, 1000]
            .iter()
            .map(|n| backoff_delay(*n).as_secs())
            .collect();
        assert_eq!(secs, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
    }

    #[test]
    fn backoff_is_per_version_and_cleared_on_success() {
        // Any distinct address works as the controller key.
        let marker = 0u8;
        let me = std::ptr::from_ref(&marker) as usize;
        let uid = "uid-backoff-test";
        let t0 = Instant::now();
        assert!(!backing_off(me, uid, "1-a", t0));
        record_failure(me, uid, "1-a", t0);
        assert!(backing_off(me, uid, "1-a", t0 + Duration::from_secs(4)));
        assert!(!backing_off(me, uid, "1-a", t0 + Duration::from_secs(5)));
        // A spec change retries at once.
        assert!(!backing_off(me, uid, "2-a", t0));
        // The second failure at the same version waits 10 s.
        record_failure(me, uid, "1-a", t0);
        assert!(backing_off(me, uid, "1-a", t0 + Duration::from_secs(9)));
        assert!(!backing_off(me, uid, "1-a", t0 + Duration::from_secs(10)));
        // Another controller's entries are not pruned by this one.
        prune_failures(me + 1, &[]);
        assert!(backing_off(me, uid, "1-a", t0));
        prune_failures(me, &[uid.to_string()]);
        assert!(backing_off(me, uid, "1-a", t0));
        clear_failure(me, uid);
        assert!(!backing_off(me, uid, "1-a", t0));
        record_failure(me, uid, "1-a", t0);
        prune_failures(me, &[]);
        assert!(!backing_off(me, uid, "1-a", t0));
    }
}
