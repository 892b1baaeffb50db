//! Waiting for something to happen.

use std::time::{Duration, Instant};

/// Polls `f` every 100 ms until it returns `Some`, or panics after `timeout` with `what` and
/// the output of `context`.
pub fn poll<T>(
    what: &str,
    timeout: Duration,
    context: impl Fn() -> String,
    mut f: impl FnMut() -> Option<T>,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() > timeout {
            panic!(
                "timed out after {timeout:?} waiting for {what}\n{}",
                context()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
