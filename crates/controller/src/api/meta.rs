//! Minimal Kubernetes `metadata` with unknown fields preserved.

use std::collections::BTreeMap;

use super::macros::api_object;

api_object! {
    /// Object metadata (the fields fjord reads; everything else is kept in `extra`).
    pub struct ObjectMeta {
        /// Name.
        name: String,
        /// Namespace.
        namespace: String,
        /// Labels.
        labels: BTreeMap<String, String>,
        /// Annotations.
        annotations: BTreeMap<String, String>,
        /// Finalizers.
        finalizers: Vec<String>,
        /// Resource version.
        resource_version: String,
        /// UID.
        uid: String,
        /// Generation.
        generation: i64,
        /// Deletion timestamp.
        deletion_timestamp: String,
    }
}
