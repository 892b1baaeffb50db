//! Polling schedule: Argo CD's reconciliation timeout (default 180 s) plus a deterministic jitter,
//! so that many repositories do not poll in lock-step and tests can predict every delay.

use std::time::Duration;

use sha2::{Digest, Sha256};
use thiserror::Error;

/// Argo CD's default `timeout.reconciliation`.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(180);
/// Argo CD's default `timeout.reconciliation.jitter`: polls of different apps spread over a minute.
pub const DEFAULT_POLL_JITTER: Duration = Duration::from_secs(60);

/// Errors raised while reading polling settings.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PollError {
    /// A duration setting is not a Go-style duration (`180s`, `3m`, `1m30s`, `500ms`, `0`).
    #[error("setting {key:?}: {value:?} is not a duration")]
    BadDuration {
        /// The ConfigMap key.
        key: String,
        /// The value found.
        value: String,
    },
}

/// How often to poll a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollPolicy {
    /// The base interval; zero disables polling.
    pub interval: Duration,
    /// The largest jitter added to the interval.
    pub max_jitter: Duration,
}

impl Default for PollPolicy {
    fn default() -> Self {
        PollPolicy {
            interval: DEFAULT_POLL_INTERVAL,
            max_jitter: DEFAULT_POLL_JITTER,
        }
    }
}

impl PollPolicy {
    /// Reads `timeout.reconciliation` and `timeout.reconciliation.jitter` from an `argocd-cm`
    /// `data` map; missing keys keep the defaults (180 s, no jitter).
    pub fn from_config_map(cm: &serde_json::Value) -> Result<Self, PollError> {
        let mut policy = PollPolicy::default();
        let data = cm.get("data");
        let get = |k: &str| {
            data.and_then(|d| d.get(k))
                .and_then(serde_json::Value::as_str)
        };
        if let Some(v) = get("timeout.reconciliation") {
            policy.interval = parse_duration(v).ok_or_else(|| PollError::BadDuration {
                key: "timeout.reconciliation".into(),
                value: v.into(),
            })?;
        }
        if let Some(v) = get("timeout.reconciliation.jitter") {
            policy.max_jitter = parse_duration(v).ok_or_else(|| PollError::BadDuration {
                key: "timeout.reconciliation.jitter".into(),
                value: v.into(),
            })?;
        }
        Ok(policy)
    }

    /// Whether polling is enabled (a zero interval disables it).
    pub fn enabled(&self) -> bool {
        !self.interval.is_zero()
    }

    /// The jitter for `key` (for example a normalised repository URL) on poll number `round`:
    /// a value in `[0, max_jitter)` derived from a hash, so it is the same on every run.
    pub fn jitter(&self, key: &str, round: u64) -> Duration {
        let max = self.max_jitter.as_millis() as u64;
        if max == 0 {
            return Duration::ZERO;
        }
        let mut h = Sha256::new();
        h.update(key.as_bytes());
        h.update(round.to_be_bytes());
        let digest = h.finalize();
        let mut n = [0u8; 8];
        n.copy_from_slice(&digest[..8]);
        Duration::from_millis(u64::from_be_bytes(n) % max)
    }

    /// The delay before poll number `round` of `key`: interval plus jitter.
    pub fn next_delay(&self, key: &str, round: u64) -> Duration {
        self.interval + self.jitter(key, round)
    }
}

/// Parses a Go duration string (`h`, `m`, `s`, `ms`, `us`, `ns` units, fractions allowed; bare `0`).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s == "0" {
        return Some(Duration::ZERO);
    }
    if s.is_empty() {
        return None;
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_end] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += num * secs;
        rest = &rest[unit_end..];
    }
    Some(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_config() {
        let p = PollPolicy::default();
        let d = p.next_delay("any", 0);
        assert!(
            d >= Duration::from_secs(180) && d < Duration::from_secs(240),
            "{d:?}"
        );
        let p = PollPolicy::from_config_map(&json!({"data": {
            "timeout.reconciliation": "2m30s", "timeout.reconciliation.jitter": "30s"}}))
        .unwrap();
        assert_eq!(p.interval, Duration::from_secs(150));
        assert_eq!(p.max_jitter, Duration::from_secs(30));
        let off =
            PollPolicy::from_config_map(&json!({"data": {"timeout.reconciliation": "0"}})).unwrap();
        assert!(!off.enabled());
        assert_eq!(
            PollPolicy::from_config_map(&json!({"data": {"timeout.reconciliation": "soon"}})),
            Err(PollError::BadDuration {
                key: "timeout.reconciliation".into(),
                value: "soon".into()
            })
        );
    }

    #[test]
    fn jitter_is_deterministic_bounded_and_spread() {
        let p = PollPolicy {
            interval: Duration::from_secs(180),
            max_jitter: Duration::from_secs(60),
        };
        let a = p.next_delay("https://github.com/org/a", 3);
        assert_eq!(a, p.next_delay("https://github.com/org/a", 3));
        let delays: Vec<Duration> = (0..50).map(|r| p.jitter("repo", r)).collect();
        assert!(delays.iter().all(|d| *d < Duration::from_secs(60)));
        let distinct: std::collections::BTreeSet<_> = delays.iter().collect();
        assert!(distinct.len() > 40, "jitter should vary between rounds");
        assert_ne!(p.jitter("a", 0), p.jitter("b", 0));
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("180s"), Some(Duration::from_secs(180)));
        assert_eq!(parse_duration("1h2m3s"), Some(Duration::from_secs(3723)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("s"), None);
    }
}
