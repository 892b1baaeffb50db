//! Argo duration strings and the sync retry strategy (`RetryStrategy.NextRetryAt`).

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::macros::api_object;

/// Default initial backoff (`5s`).
pub const DEFAULT_RETRY_DURATION: Duration = Duration::from_secs(5);
/// Default maximum backoff (`3m`).
pub const DEFAULT_RETRY_MAX_DURATION: Duration = Duration::from_secs(180);
/// Default backoff factor.
pub const DEFAULT_RETRY_FACTOR: i64 = 2;

/// Errors from duration parsing and retry computation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// The string is neither a bare integer nor a Go duration.
    #[error("time: invalid duration \"{0}\"")]
    Invalid(String),
    /// A unit is not one of ns, us, µs, ms, s, m, h.
    #[error("time: unknown unit \"{unit}\" in duration \"{input}\"")]
    UnknownUnit {
        /// The unit found.
        unit: String,
        /// The whole input.
        input: String,
    },
    /// The named backoff field could not be parsed.
    #[error("error parsing retry backoff {field}")]
    Backoff {
        /// `duration` or `maxDuration`.
        field: &'static str,
        /// The underlying error.
        #[source]
        source: Box<DurationError>,
    },
}

/// Parses an Argo duration: a bare integer is seconds, anything else a Go duration
/// (`1h2m3.5s`, `300ms`, `-5s` is rejected as negative is meaningless here).
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let s = input.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    parse_go_duration(s, input)
}

fn parse_go_duration(s: &str, input: &str) -> Result<Duration, DurationError> {
    let invalid = || DurationError::Invalid(input.to_string());
    let s = s.strip_prefix('+').unwrap_or(s);
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut rest = s;
    let mut total_nanos: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        if num_end == 0 {
            return Err(invalid());
        }
        let value: f64 = rest[..num_end].parse().map_err(|_| invalid())?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        rest = &rest[unit_end..];
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            other => {
                return Err(DurationError::UnknownUnit {
                    unit: other.to_string(),
                    input: input.to_string(),
                })
            }
        };
        total_nanos += value * scale;
    }
    Ok(Duration::from_nanos(total_nanos as u64))
}

api_object! {
    /// `syncPolicy.retry` / `operation.retry`.
    pub struct RetryStrategy {
        /// Maximum retries: 0 none, negative unlimited.
        limit: i64,
        /// Backoff parameters.
        backoff: Backoff,
        /// Retry with the latest revision on refresh.
        refresh: bool,
    }
}

api_object! {
    /// Retry backoff parameters.
    pub struct Backoff {
        /// Initial wait (`5s`; bare int = seconds).
        duration: String,
        /// Multiplier per retry (default 2).
        factor: i64,
        /// Maximum wait (`3m`).
        max_duration: String,
    }
}

impl RetryStrategy {
    /// The wait before retry number `retry_count` (0-based): `duration * factor^count`,
    /// capped at `maxDuration` when that is positive.
    pub fn backoff_for(&self, retry_count: i64) -> Result<Duration, DurationError> {
        let mut duration = DEFAULT_RETRY_DURATION;
        let mut max = DEFAULT_RETRY_MAX_DURATION;
        let mut factor = DEFAULT_RETRY_FACTOR;
        if let Some(b) = &self.backoff {
            if let Some(d) = b.duration.as_deref().filter(|d| !d.is_empty()) {
                duration = parse_duration(d).map_err(|e| DurationError::Backoff {
                    field: "duration",
                    source: Box::new(e),
                })?;
            }
            if let Some(d) = b.max_duration.as_deref().filter(|d| !d.is_empty()) {
                max = parse_duration(d).map_err(|e| DurationError::Backoff {
                    field: "maxDuration",
                    source: Box::new(e),
                })?;
            }
            if let Some(f) = b.factor {
                factor = f;
            }
        }
        let exp = i32::try_from(retry_count.max(0)).unwrap_or(i32::MAX);
        let mut wait = duration.as_secs_f64() * (factor as f64).powi(exp);
        if !max.is_zero() {
            wait = wait.min(max.as_secs_f64());
        }
        if !wait.is_finite() || wait < 0.0 {
            wait = max.as_secs_f64();
        }
        Ok(Duration::from_secs_f64(wait))
    }

    /// When retry number `retry_count` should run after `last_attempt`.
    pub fn next_retry_at(
        &self,
        last_attempt: DateTime<Utc>,
        retry_count: i64,
    ) -> Result<DateTime<Utc>, DurationError> {
        let wait = self.backoff_for(retry_count)?;
        let delta = chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
        Ok(last_attempt
            .checked_add_signed(delta)
            .unwrap_or(DateTime::<Utc>::MAX_UTC))
    }

    /// Whether another retry is allowed after `retry_count` retries.
    pub fn allows_retry(&self, retry_count: i64) -> bool {
        let limit = self.limit.unwrap_or(0);
        limit < 0 || retry_count < limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("3m").unwrap(), Duration::from_secs(180));
        assert_eq!(parse_duration("1h2m3s").unwrap(), Duration::from_secs(3723));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("300ms").unwrap(), Duration::from_millis(300));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(
            parse_duration("5x").unwrap_err().to_string(),
            "time: unknown unit \"x\" in duration \"5x\""
        );
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn next_retry_defaults_and_cap() {
        let r = RetryStrategy::default();
        let secs: Vec<u64> = (0..8)
            .map(|c| r.backoff_for(c).unwrap().as_secs())
            .collect();
        assert_eq!(secs, vec![5, 10, 20, 40, 80, 160, 180, 180]);
        let t0 = DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let at = r.next_retry_at(t0, 1).unwrap();
        assert_eq!((at - t0).num_seconds(), 10);
    }

    #[test]
    fn custom_backoff_and_errors() {
        let r: RetryStrategy = serde_json::from_value(serde_json::json!({
            "limit": 3, "backoff": {"duration": "2", "factor": 3, "maxDuration": "1m"}
        }))
        .unwrap();
        assert_eq!(r.backoff_for(2).unwrap(), Duration::from_secs(18));
        assert_eq!(r.backoff_for(5).unwrap(), Duration::from_secs(60));
        assert!(r.allows_retry(2) && !r.allows_retry(3));
        let bad: RetryStrategy =
            serde_json::from_value(serde_json::json!({"backoff": {"duration": "x"}})).unwrap();
        let err = bad.backoff_for(0).unwrap_err();
        assert_eq!(err.to_string(), "error parsing retry backoff duration");
        assert_eq!(
            fjord_model::chain(&err),
            "error parsing retry backoff duration: time: invalid duration \"x\""
        );
        let unlimited: RetryStrategy =
            serde_json::from_value(serde_json::json!({"limit": -1})).unwrap();
        assert!(unlimited.allows_retry(1000));
    }
}
