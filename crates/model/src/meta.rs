//! `metadata` of every Kubernetes object.

/// The fields of `ObjectMeta`, in the order of the Go struct: the order the API server writes
/// them in, and the only ones a typed decode keeps.
pub const OBJECT_META_FIELDS: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// The metadata fields the API server sets and Argo CD leaves out when it compares a desired
/// object with the live one (and that an apply must not send back).
pub const SERVER_SET_FIELDS: [&str; 6] = [
    "managedFields",
    "resourceVersion",
    "generation",
    "uid",
    "creationTimestamp",
    "selfLink",
];
