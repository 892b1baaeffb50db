//! Temporary data folders, removed when dropped.

/// A fresh temporary folder named `fjord-<what>-…`; panics when none can be made.
pub fn tempdir(what: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("fjord-{what}-"))
        .tempdir()
        .unwrap_or_else(|e| panic!("making a temporary folder for {what}: {e}"))
}
