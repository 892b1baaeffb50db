//! [`UpdaterMetrics`]: the updater's counters, plain atomics, for `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of the running updater (monotonic since start). The controller's `/metrics`
/// exposes them as `fjord_image_updater_*_total` counters; [`UpdaterMetrics::snapshot`] reads
/// all of them at once.
#[derive(Debug, Default)]
pub struct UpdaterMetrics {
    /// HTTP requests sent to registries (pings, tokens, tag lists, manifests, blobs).
    pub registry_requests: AtomicU64,
    /// Images looked at (one per image of an app per cycle).
    pub images_checked: AtomicU64,
    /// Images updated (written back successfully).
    pub updates: AtomicU64,
    /// Failures: bad annotations, registry and credential errors, failed write-backs.
    pub errors: AtomicU64,
    /// Cycles completed.
    pub cycles: AtomicU64,
    /// Git commits pushed.
    pub commits: AtomicU64,
}

/// The counters' values at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MetricsSnapshot {
    /// See [`UpdaterMetrics::registry_requests`].
    pub registry_requests: u64,
    /// See [`UpdaterMetrics::images_checked`].
    pub images_checked: u64,
    /// See [`UpdaterMetrics::updates`].
    pub updates: u64,
    /// See [`UpdaterMetrics::errors`].
    pub errors: u64,
    /// See [`UpdaterMetrics::cycles`].
    pub cycles: u64,
    /// See [`UpdaterMetrics::commits`].
    pub commits: u64,
}

impl UpdaterMetrics {
    /// Adds `n` to a counter.
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Every counter's value.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MetricsSnapshot {
            registry_requests: get(&self.registry_requests),
            images_checked: get(&self.images_checked),
            updates: get(&self.updates),
            errors: get(&self.errors),
            cycles: get(&self.cycles),
            commits: get(&self.commits),
        }
    }

    /// The counters as OpenMetrics families (`# HELP`/`# TYPE` lines and one sample each), for
    /// the controller's `/metrics`.
    pub fn render(&self) -> String {
        let s = self.snapshot();
        let mut out = String::new();
        for (name, help, v) in [
            (
                "registry_requests",
                "HTTP requests sent to registries.",
                s.registry_requests,
            ),
            (
                "images_checked",
                "Images checked for newer tags.",
                s.images_checked,
            ),
            ("updates", "Images updated.", s.updates),
            ("errors", "Image update errors.", s.errors),
            ("cycles", "Update cycles completed.", s.cycles),
            ("commits", "Git commits pushed.", s.commits),
        ] {
            // OpenMetrics: the family is named without `_total`, its sample with it.
            out += &format!(
                "# HELP fjord_image_updater_{name} {help}\n# TYPE fjord_image_updater_{name} counter\nfjord_image_updater_{name}_total {v}\n"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_and_render() {
        let m = UpdaterMetrics::default();
        UpdaterMetrics::add(&m.updates, 2);
        UpdaterMetrics::add(&m.errors, 1);
        let s = m.snapshot();
        assert_eq!((s.updates, s.errors, s.images_checked), (2, 1, 0));
        let text = m.render();
        assert!(
            text.contains("fjord_image_updater_updates_total 2\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE fjord_image_updater_errors counter\n"));
    }
}
