//! The one error type of the built-in transformers and their configuration.
//!
//! Variants are named for the step that failed and carry the field, object or entry concerned.
//! Objects are named the way kustomize names them in its messages (`Kind.version.group/name.ns`,
//! see [`kustomize_id`]).

use fjord_model::{Gvk, ResId};

/// Why a built-in transformer, or reading its configuration, failed.
#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    /// Two field specs with the same path, one selecting the other, disagree on `create`.
    #[error("failed to merge {table} fieldSpec: conflicting fieldspecs {incoming} and {existing}")]
    ConflictingFieldSpecs {
        /// The table being merged (kustomize's name, e.g. `NamePrefix`).
        table: String,
        /// The spec already in the table (`Kind.version.group:create:path`).
        existing: String,
        /// The spec being merged in.
        incoming: String,
    },
    /// A `configurations:` file (or a transformer's `fieldSpecs`) is malformed.
    #[error("transformer configuration: {field}: {problem}")]
    InvalidConfig {
        /// The key or entry concerned, e.g. `nameReference[2].fieldSpecs`.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// A `crds:` OpenAPI definition file is malformed.
    #[error("unable to parse open API definition '{definition}': {problem}")]
    InvalidCrd {
        /// The definition's name ("" for the file as a whole).
        definition: String,
        /// What is wrong.
        problem: String,
    },
    /// A transformer option in the kustomization (a `labels:` entry, a NamespaceTransformer
    /// setting, ...) is malformed.
    #[error("{field}: {problem}")]
    InvalidOption {
        /// The option, e.g. `labels[0].includeSelectors`.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// After the namespace transformer, two objects have the same id.
    #[error("namespace transformation produces ID conflict: {first} and {second}")]
    NamespaceIdConflict {
        /// The object just moved.
        first: String,
        /// The object it now collides with.
        second: String,
    },
    /// A field a transformer writes holds the wrong kind of node.
    #[error("considering field '{path}' of object {object}: wrong node kind: expected {expected} but got {found}")]
    WrongNodeKind {
        /// The field spec's path.
        path: String,
        /// The object (kustomize spelling).
        object: String,
        /// `MappingNode` or `ScalarNode`.
        expected: &'static str,
        /// What was there.
        found: &'static str,
    },
    /// A name reference matches several objects with different names.
    #[error(
        "updating name reference in '{path}' field of '{referrer}': found multiple possible referrals: {candidates}"
    )]
    AmbiguousReferral {
        /// The referring field's path.
        path: String,
        /// The referring object (kustomize spelling).
        referrer: String,
        /// The candidates, comma-separated (kustomize spelling).
        candidates: String,
    },
    /// A name-reference field spec leads to something that cannot hold a name.
    #[error("updating name reference in '{path}' field of '{referrer}': {problem}")]
    BadReferenceField {
        /// The referring field's path.
        path: String,
        /// The referring object (kustomize spelling).
        referrer: String,
        /// What is wrong.
        problem: String,
    },
}

/// kustomize's spelling of an object id in messages: `Kind.version.group/name.namespace`, with
/// `[noGrp]`, `[noVer]`, `[noKind]` and `[noNs]` for empty parts.
pub fn kustomize_id(id: &ResId) -> String {
    let ns = if id.namespace.is_empty() {
        "[noNs]"
    } else {
        &id.namespace
    };
    format!("{}/{}.{}", gvk_dotted(&id.gvk), id.name, ns)
}

/// kustomize's `Gvk.String()`: `Kind.version.group` with `[noKind]`/`[noVer]`/`[noGrp]`.
pub fn gvk_dotted(g: &Gvk) -> String {
    let or = |s: &str, d: &'static str| {
        if s.is_empty() {
            d.to_string()
        } else {
            s.to_string()
        }
    };
    format!(
        "{}.{}.{}",
        or(&g.kind, "[noKind]"),
        or(&g.version, "[noVer]"),
        or(&g.group, "[noGrp]")
    )
}

/// The YAML node kind name kustomize uses in messages.
pub(crate) fn node_kind(n: &fjord_yaml::Node) -> &'static str {
    match n {
        fjord_yaml::Node::Scalar(_) => "ScalarNode",
        fjord_yaml::Node::Seq(_) => "SequenceNode",
        fjord_yaml::Node::Map(_) => "MappingNode",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fjord_model::Gvk;

    #[test]
    fn ids_are_spelled_as_kustomize_does() {
        let id = ResId {
            gvk: Gvk::new("", "v1", "ConfigMap"),
            name: "cm-hmg6f82fh6".into(),
            namespace: "a".into(),
        };
        assert_eq!(kustomize_id(&id), "ConfigMap.v1.[noGrp]/cm-hmg6f82fh6.a");
        let id = ResId {
            gvk: Gvk::new("rbac.authorization.k8s.io", "v1", "ClusterRole"),
            name: "cr".into(),
            namespace: String::new(),
        };
        assert_eq!(
            kustomize_id(&id),
            "ClusterRole.v1.rbac.authorization.k8s.io/cr.[noNs]"
        );
    }
}
