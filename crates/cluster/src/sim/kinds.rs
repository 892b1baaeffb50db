//! What the simulation covers and how (its settings): a leaf the engine reads without
//! depending on the simulator itself.

use std::time::Duration;

/// Simulation settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SimOptions {
    /// Whether workload status is simulated at all.
    pub enabled: bool,
    /// How long after a spec change a workload reports itself rolled out.
    pub delay: Duration,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            enabled: true,
            delay: Duration::from_millis(500),
        }
    }
}

/// The simulated kinds: (group, plural, kind key used by [`super::status::desired`]).
pub(crate) const SIMULATED: &[(&str, &str, &str)] = &[
    ("apps", "deployments", "apps/Deployment"),
    ("apps", "replicasets", "apps/ReplicaSet"),
    ("apps", "statefulsets", "apps/StatefulSet"),
    ("apps", "daemonsets", "apps/DaemonSet"),
    ("batch", "jobs", "batch/Job"),
    ("", "pods", "/Pod"),
    ("", "persistentvolumeclaims", "/PersistentVolumeClaim"),
    ("", "services", "/Service"),
    (
        "networking.k8s.io",
        "ingresses",
        "networking.k8s.io/Ingress",
    ),
];

/// Whether objects of this (group, plural) get a simulated status.
pub fn is_simulated(group: &str, plural: &str) -> bool {
    SIMULATED
        .iter()
        .any(|(g, p, _)| *g == group && *p == plural)
}
