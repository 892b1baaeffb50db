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
