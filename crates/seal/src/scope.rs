//! Sealing scopes and the OAEP label each one binds.

use serde_json::{Map, Value};

/// Annotation that makes a SealedSecret cluster-wide (value must be exactly `"true"`).
pub const CLUSTER_WIDE_ANNOTATION: &str = "sealedsecrets.bitnami.com/cluster-wide";
/// Annotation that makes a SealedSecret namespace-wide (value must be exactly `"true"`).
pub const NAMESPACE_WIDE_ANNOTATION: &str = "sealedsecrets.bitnami.com/namespace-wide";

/// What a sealed value is bound to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Scope {
    /// Bound to namespace and name (label `<namespace>/<name>`).
    #[default]
    Strict,
    /// Bound to the namespace only (label `<namespace>`).
    NamespaceWide,
    /// Bound to nothing (empty label).
    ClusterWide,
}

impl Scope {
    /// The OAEP label bytes for this scope.
    pub fn label(self, namespace: &str, name: &str) -> Vec<u8> {
        match self {
            Scope::Strict => format!("{namespace}/{name}").into_bytes(),
            Scope::NamespaceWide => namespace.as_bytes().to_vec(),
            Scope::ClusterWide => Vec::new(),
        }
    }

    /// The scope named by an object's `metadata.annotations` (cluster-wide wins when both are
    /// set; a value other than the exact string `"true"` does not count).
    pub fn from_annotations(annotations: Option<&Map<String, Value>>) -> Scope {
        let is_true = |k: &str| {
            annotations
                .and_then(|a| a.get(k))
                .and_then(Value::as_str)
                .is_some_and(|v| v == "true")
        };
        if is_true(CLUSTER_WIDE_ANNOTATION) {
            Scope::ClusterWide
        } else if is_true(NAMESPACE_WIDE_ANNOTATION) {
            Scope::NamespaceWide
        } else {
            Scope::Strict
        }
    }

    /// The scope of an object (any JSON object with `metadata.annotations`).
    pub fn of_object(object: &Value) -> Scope {
        Scope::from_annotations(
            object
                .get("metadata")
                .and_then(|m| m.get("annotations"))
                .and_then(Value::as_object),
        )
    }

    /// The annotation that selects this scope, if it is not strict.
    pub fn annotation(self) -> Option<&'static str> {
        match self {
            Scope::Strict => None,
            Scope::NamespaceWide => Some(NAMESPACE_WIDE_ANNOTATION),
            Scope::ClusterWide => Some(CLUSTER_WIDE_ANNOTATION),
        }
    }

    /// Applies a `--scope` choice to an annotation map as kubeseal does: a non-strict scope
    /// removes both scope annotations and sets its own; strict leaves the map untouched.
    pub fn apply_to_annotations(self, annotations: &mut Map<String, Value>) {
        if let Some(own) = self.annotation() {
            annotations.remove(CLUSTER_WIDE_ANNOTATION);
            annotations.remove(NAMESPACE_WIDE_ANNOTATION);
            annotations.insert(own.to_string(), Value::String("true".into()));
        }
    }

    /// The spelling used on the command line and in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Strict => "strict",
            Scope::NamespaceWide => "namespace-wide",
            Scope::ClusterWide => "cluster-wide",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn labels() {
        assert_eq!(Scope::Strict.label("ns", "n"), b"ns/n");
        assert_eq!(Scope::NamespaceWide.label("ns", "n"), b"ns");
        assert_eq!(Scope::ClusterWide.label("ns", "n"), b"");
    }

    #[test]
    fn annotations_select_scope() {
        let o = json!({"metadata": {"annotations": {
            NAMESPACE_WIDE_ANNOTATION: "true", CLUSTER_WIDE_ANNOTATION: "true"}}});
        assert_eq!(Scope::of_object(&o), Scope::ClusterWide);
        let o = json!({"metadata": {"annotations": {NAMESPACE_WIDE_ANNOTATION: "true"}}});
        assert_eq!(Scope::of_object(&o), Scope::NamespaceWide);
        let o = json!({"metadata": {"annotations": {CLUSTER_WIDE_ANNOTATION: "True"}}});
        assert_eq!(Scope::of_object(&o), Scope::Strict);
        assert_eq!(Scope::of_object(&json!({})), Scope::Strict);
    }

    #[test]
    fn apply_scope() {
        let mut a = Map::new();
        a.insert(CLUSTER_WIDE_ANNOTATION.into(), "true".into());
        Scope::Strict.apply_to_annotations(&mut a);
        assert_eq!(Scope::from_annotations(Some(&a)), Scope::ClusterWide);
        Scope::NamespaceWide.apply_to_annotations(&mut a);
        assert_eq!(a.len(), 1);
        assert_eq!(Scope::from_annotations(Some(&a)), Scope::NamespaceWide);
    }
}
