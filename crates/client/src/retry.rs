//! Retries with exponential backoff for transient API errors.

use std::future::Future;
use std::time::Duration;

use crate::error::is_transient;
use crate::ClientError;

/// How transient errors are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total (1 = no retry).
    pub attempts: u32,
    /// Wait before the first retry; doubled after each.
    pub initial: Duration,
    /// Upper bound of one wait.
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 6,
            initial: Duration::from_millis(100),
            max: Duration::from_secs(3),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `n` (0-based).
    pub fn backoff(&self, n: u32) -> Duration {
        let factor = 2u32.saturating_pow(n.min(16));
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// Runs `op` until it succeeds, fails with a non-transient error, or attempts run out.
    pub async fn run<T, F, Fut>(&self, mut op: F) -> Result<T, kube::Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        let mut n = 0;
        loop {
            match op().await {
                Ok(v) => return Ok(v),
                Err(e) if is_transient(&e) && n + 1 < self.attempts => {
                    tokio::time::sleep(self.backoff(n)).await;
                    n += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Whether a client error is worth retrying: a transient API error (429, 5xx, timeouts,
/// connection failures) or a CRD that is not Established yet. Permanent refusals (403, 404,
/// 409, 422) and bad configuration are not.
pub fn is_transient_error(err: &ClientError) -> bool {
    match err {
        ClientError::Request { source, .. } | ClientError::Discover { source, .. } => {
            is_transient(source)
        }
        ClientError::NotEstablished { .. } => true,
        _ => false,
    }
}

/// How a start-up step (CRD install, default project, settings, the first sealing key) is
/// retried: capped exponential backoff with jitter, for as long as the error is transient and
/// the time budget lasts. The API server may be starting, throttling (429) or failing over
/// (5xx) while a controller starts; one such answer must not end the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartupRetry {
    /// Wait before the first retry; doubled after each.
    pub initial: Duration,
    /// Upper bound of one wait (before jitter takes up to half of it off).
    pub max: Duration,
    /// Give up when the next wait would end later than this after the first attempt.
    pub budget: Duration,
}

impl Default for StartupRetry {
    /// 500 ms doubling to 30 s, for at most 10 minutes.
    fn default() -> Self {
        StartupRetry {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            budget: Duration::from_secs(600),
        }
    }
}

/// One retry about to happen, for the caller's log line.
#[derive(Debug)]
pub struct RetryNotice<'a, E> {
    /// The step being retried.
    pub step: &'a str,
    /// The attempt that failed (1-based).
    pub attempt: u32,
    /// The wait before the next attempt.
    pub wait: Duration,
    /// The transient error.
    pub error: &'a E,
}

impl StartupRetry {
    /// The wait before retry number `n` (0-based) without jitter: `initial · 2ⁿ`, capped.
    pub fn backoff(&self, n: u32) -> Duration {
        let factor = 2u32.saturating_pow(n.min(16));
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// `backoff(n)` less a random part of up to half of it ("equal jitter"), so controllers
    /// restarted together do not retry in step.
    pub fn jittered(&self, n: u32) -> Duration {
        let base = self.backoff(n);
        let half = base / 2;
        let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return base;
        }
        base - Duration::from_nanos(jitter_seed(n) % nanos)
    }

    /// Runs `op` until it succeeds, fails with an error `transient` rejects (returned at once),
    /// or the budget is spent (the last error is returned). `on_retry` is called once per
    /// retry, before the wait, to log it.
    pub async fn run<T, E, F, Fut>(
        &self,
        step: &str,
        transient: impl Fn(&E) -> bool,
        mut on_retry: impl FnMut(&RetryNotice<'_, E>),
        mut op: F,
    ) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let start = tokio::time::Instant::now();
        let mut n = 0u32;
        loop {
            let error = match op().await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let wait = self.jittered(n);
            if !transient(&error) || start.elapsed() + wait > self.budget {
                return Err(error);
            }
            on_retry(&RetryNotice {
                step,
                attempt: n + 1,
                wait,
                error: &error,
            });
            tokio::time::sleep(wait).await;
            n = n.saturating_add(1);
        }
    }
}

/// A cheap pseudo-random number (clock nanoseconds through xorshift); jitter needs no more.
fn jitter_seed(n: u32) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut x = u64::from(nanos) ^ (u64::from(n) << 32) ^ 0x9E37_79B9_7F4A_7C15;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn api_err(code: u16) -> kube::Error {
        kube::Error::Api(kube::core::ErrorResponse {
            status: "Failure".into(),
            message: "boom".into(),
            reason: "x".into(),
            code,
        })
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy {
            attempts: 5,
            initial: Duration::from_millis(100),
            max: Duration::from_millis(350),
        };
        assert_eq!(p.backoff(0), Duration::from_millis(100));
        assert_eq!(p.backoff(1), Duration::from_millis(200));
        assert_eq!(p.backoff(2), Duration::from_millis(350));
    }

    #[tokio::test]
    async fn retries_transient_then_succeeds_and_stops_on_permanent() {
        let p = RetryPolicy {
            attempts: 4,
            initial: Duration::from_millis(1),
            max: Duration::from_millis(2),
        };
        let calls = AtomicU32::new(0);
        let out = p
            .run(|| {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n < 2 {
                        Err(api_err(503))
                    } else {
                        Ok(n)
                    }
                }
            })
            .await;
        assert_eq!(out.ok(), Some(2));
        let calls = AtomicU32::new(0);
        let out: Result<(), _> = p
            .run(|| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err(api_err(404)) }
            })
            .await;
        assert!(out.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let calls = AtomicU32::new(0);
        let out: Result<(), _> = p
            .run(|| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err(api_err(429)) }
            })
            .await;
        assert!(out.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    fn client_err(code: u16) -> ClientError {
        ClientError::Request {
            verb: "create",
            kind: "Secret".into(),
            target: "kube-system/key".into(),
            source: crate::Foreign::new(api_err(code)),
        }
    }

    #[test]
    fn client_errors_are_classified() {
        for code in [429, 500, 503, 504] {
            assert!(is_transient_error(&client_err(code)), "{code}");
        }
        for code in [400, 403, 404, 409, 422] {
            assert!(!is_transient_error(&client_err(code)), "{code}");
        }
        assert!(!is_transient_error(&ClientError::NoKubeconfig));
        assert!(is_transient_error(&ClientError::NotEstablished {
            name: "x".into(),
            seconds: 1
        }));
    }

    #[test]
    fn startup_backoff_is_capped_and_jittered_within_half() {
        let p = StartupRetry {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(1000),
            budget: Duration::from_secs(60),
        };
        assert_eq!(p.backoff(0), Duration::from_millis(100));
        assert_eq!(p.backoff(3), Duration::from_millis(800));
        assert_eq!(p.backoff(4), Duration::from_millis(1000));
        assert_eq!(p.backoff(40), Duration::from_millis(1000));
        for n in 0..50 {
            let j = p.jittered(n);
            let b = p.backoff(n);
            assert!(j <= b && j >= b / 2, "{n}: {j:?} vs {b:?}");
        }
    }

    #[tokio::test]
    async fn startup_retry_retries_transient_logs_each_and_stops_on_permanent() {
        let p = StartupRetry {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(40),
            budget: Duration::from_millis(400),
        };
        let calls = AtomicU32::new(0);
        let mut notices = Vec::new();
        let out = p
            .run(
                "storing the key",
                is_transient_error,
                |n| notices.push((n.step.to_string(), n.attempt, n.error.status_code())),
                || {
                    let n = calls.fetch_add(1, Ordering::SeqCst);
                    async move {
                        match n {
                            0 => Err(client_err(429)),
                            1 => Err(client_err(504)),
                            _ => Ok(n),
                        }
                    }
                },
            )
            .await;
        assert_eq!(out.ok(), Some(2));
        assert_eq!(
            notices,
            vec![
                ("storing the key".to_string(), 1, Some(429)),
                ("storing the key".to_string(), 2, Some(504))
            ]
        );
        // A 403 fails at once, with no retry logged.
        let calls = AtomicU32::new(0);
        let mut logged = 0;
        let out: Result<(), _> = p
            .run(
                "x",
                is_transient_error,
                |_| logged += 1,
                || {
                    calls.fetch_add(1, Ordering::SeqCst);
                    async { Err(client_err(403)) }
                },
            )
            .await;
        assert_eq!(out.unwrap_err().status_code(), Some(403));
        assert_eq!((calls.load(Ordering::SeqCst), logged), (1, 0));
        // A transient error that never clears ends when the budget is spent.
        let start = std::time::Instant::now();
        let out: Result<(), _> = p
            .run(
                "x",
                is_transient_error,
                |_| {},
                || async { Err(client_err(503)) },
            )
            .await;
        assert_eq!(out.unwrap_err().status_code(), Some(503));
        let spent = start.elapsed();
        assert!(spent <= Duration::from_millis(1500), "{spent:?}");
        assert!(spent >= Duration::from_millis(300), "{spent:?}");
    }
}
