//! The retry schedule of failed ExternalSecrets: 5 s after the first failure, doubling to
//! 5 min, per ExternalSecret UID and `syncedResourceVersion` (a spec, label or annotation change
//! retries at once). Kept in memory, per controller ([`crate::Shared`]'s `backoff`).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

/// The delay after `failures` failures in a row: 5 s, 10 s, 20 s, … up to 5 min.
pub(super) fn backoff_delay(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    FIRST_BACKOFF
        .saturating_mul(1 << doublings)
        .min(MAX_BACKOFF)
}

/// The failed ExternalSecrets of one controller, by UID.
#[derive(Debug, Default)]
pub(crate) struct Backoffs(Mutex<BTreeMap<String, Backoff>>);

impl Backoffs {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Backoff>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether the ExternalSecret `uid` is still backing off from a failure at `version`.
    pub(super) fn backing_off(&self, uid: &str, version: &str, now: Instant) -> bool {
        self.lock()
            .get(uid)
            .is_some_and(|b| b.version == version && b.next > now)
    }

    /// Counts a failure at `version` (a failure at another version starts again at one).
    pub(super) fn record_failure(&self, uid: &str, version: &str, now: Instant) {
        let mut map = self.lock();
        let failures = match map.get(uid) {
            Some(b) if b.version == version => b.failures.saturating_add(1),
            _ => 1,
        };
        let next = now + backoff_delay(failures);
        let version = version.to_string();
        map.insert(
            uid.to_string(),
            Backoff {
                version,
                failures,
                next,
            },
        );
    }

    /// Forgets the failures of `uid` (it synced, or it is gone).
    pub(super) fn clear_failure(&self, uid: &str) {
        self.lock().remove(uid);
    }

    /// Drops the failures of ExternalSecrets that are gone.
    pub(super) fn prune_failures(&self, live: &[String]) {
        self.lock().retain(|uid, _| live.contains(uid));
    }
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
        let b = Backoffs::default();
        let uid = "uid-backoff-test";
        let t0 = Instant::now();
        assert!(!b.backing_off(uid, "1-a", t0));
        b.record_failure(uid, "1-a", t0);
        assert!(b.backing_off(uid, "1-a", t0 + Duration::from_secs(4)));
        assert!(!b.backing_off(uid, "1-a", t0 + Duration::from_secs(5)));
        // A spec change retries at once.
        assert!(!b.backing_off(uid, "2-a", t0));
        // The second failure at the same version waits 10 s.
        b.record_failure(uid, "1-a", t0);
        assert!(b.backing_off(uid, "1-a", t0 + Duration::from_secs(9)));
        assert!(!b.backing_off(uid, "1-a", t0 + Duration::from_secs(10)));
        // Pruning keeps live ExternalSecrets and drops the others.
        b.prune_failures(&[uid.to_string()]);
        assert!(b.backing_off(uid, "1-a", t0));
        b.clear_failure(uid);
        assert!(!b.backing_off(uid, "1-a", t0));
        b.record_failure(uid, "1-a", t0);
        b.prune_failures(&[]);
        assert!(!b.backing_off(uid, "1-a", t0));
    }
}
