//! Login failure tracking: a username with [`MAX_FAILURES`] failed logins inside
//! [`WINDOW`] is locked until the window of its first counted failure closes. The map is bounded
//! (expired entries go first, then an arbitrary entry that is not `admin`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures that lock a username.
pub const MAX_FAILURES: u32 = 5;
/// How long a failure counts.
pub const WINDOW: Duration = Duration::from_secs(300);
/// The most usernames tracked.
pub const MAX_TRACKED: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    first: Instant,
}

/// Failed logins per username.
#[derive(Debug)]
pub struct Limiter {
    map: Mutex<HashMap<String, Failures>>,
    max: u32,
    window: Duration,
    capacity: usize,
}

impl Default for Limiter {
    fn default() -> Limiter {
        Limiter::new(MAX_FAILURES, WINDOW, MAX_TRACKED)
    }
}

impl Limiter {
    /// A limiter with these limits.
    pub fn new(max: u32, window: Duration, capacity: usize) -> Limiter {
        Limiter {
            map: Mutex::new(HashMap::new()),
            max,
            window,
            capacity: capacity.max(1),
        }
    }

    /// Whether `user` is locked at `now`.
    pub fn locked(&self, user: &str, now: Instant) -> bool {
        let Ok(map) = self.map.lock() else {
            return false;
        };
        map.get(user)
            .is_some_and(|f| f.count >= self.max && now.duration_since(f.first) < self.window)
    }

    /// Counts a failure of `user` at `now`.
    pub fn failed(&self, user: &str, now: Instant) {
        let Ok(mut map) = self.map.lock() else {
            return;
        };
        if let Some(f) = map.get_mut(user) {
            if now.duration_since(f.first) >= self.window {
                *f = Failures {
                    count: 1,
                    first: now,
                };
            } else {
                f.count = f.count.saturating_add(1);
            }
            return;
        }
        if map.len() >= self.capacity {
            let window = self.window;
            map.retain(|_, f| now.duration_since(f.first) < window);
        }
        if map.len() >= self.capacity {
            if let Some(victim) = map.keys().find(|k| k.as_str() != "admin").cloned() {
                map.remove(&victim);
            }
        }
        map.insert(
            user.to_string(),
            Failures {
                count: 1,
                first: now,
            },
        );
    }

    /// Forgets `user`'s failures (after a successful login).
    pub fn succeeded(&self, user: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(user);
        }
    }

    /// How many usernames are tracked.
    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether no username is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_lock_until_the_window_closes() {
        let l = Limiter::default();
        let t0 = Instant::now();
        for i in 0..4 {
            l.failed("bob", t0 + Duration::from_secs(i));
            assert!(!l.locked("bob", t0 + Duration::from_secs(i)));
        }
        l.failed("bob", t0 + Duration::from_secs(10));
        assert!(l.locked("bob", t0 + Duration::from_secs(10)));
        assert!(!l.locked("alice", t0 + Duration::from_secs(10)));
        assert!(l.locked("bob", t0 + Duration::from_secs(299)));
        assert!(!l.locked("bob", t0 + Duration::from_secs(300)));
        // A failure after the window starts a new count.
        l.failed("bob", t0 + Duration::from_secs(301));
        assert!(!l.locked("bob", t0 + Duration::from_secs(301)));
        l.succeeded("bob");
        assert!(l.is_empty());
    }

    #[test]
    fn the_map_is_bounded_and_keeps_admin() {
        let l = Limiter::new(5, WINDOW, 3);
        let t = Instant::now();
        for _ in 0..5 {
            l.failed("admin", t);
        }
        for u in ["a", "b", "c", "d", "e"] {
            l.failed(u, t);
        }
        assert_eq!(l.len(), 3);
        assert!(l.locked("admin", t));
    }
}
