//! How many requests of one step the engine sends at once.

/// How many requests of one step run at once (Argo CD applies a wave's objects in parallel too):
/// dry runs, applies, live reads and prune lists alike.
pub(crate) const CONCURRENCY: usize = 64;
