//! Shared helpers for fjord's fuzz targets.

/// Stack given to each fuzz input: tokio's default worker/blocking thread stack (2 MiB, where
/// the controller renders and merges) doubled to leave room for AddressSanitizer's red zones.
/// A recursion that overflows it would overflow the controller's threads too.
pub const STACK_BYTES: usize = 4 << 20;

/// Runs `f` on a fresh thread with a [`STACK_BYTES`] stack and waits for it. A panic in `f`
/// aborts through libFuzzer's panic hook, so the input is reported as a crash.
pub fn on_small_stack<F: FnOnce() + Send>(f: F) {
    std::thread::scope(|s| {
        let handle = std::thread::Builder::new()
            .name("fuzz-input".into())
            .stack_size(STACK_BYTES)
            .spawn_scoped(s, f)
            .expect("spawning the fuzz input thread");
        if handle.join().is_err() {
            // The panic hook normally aborts first; make sure a panic is never swallowed.
            std::process::abort();
        }
    });
}

/// Splits `data` into its first byte (a selector) and the rest.
pub fn selector(data: &[u8]) -> Option<(u8, &[u8])> {
    data.split_first().map(|(b, rest)| (*b, rest))
}
