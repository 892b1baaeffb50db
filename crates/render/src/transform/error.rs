//! The one error type of the built-in transformers and their configuration.
//!
//! Variants are named for the step that failed and carry the field, object or entry concerned.
//! Objects are named the way kustomize names them in its messages (`Kind.version.group/name.ns`,
//! see [`fjord_model::ResId::dotted`]).

/// Why a built-in transformer, or reading its configuration, failed.
#[derive(Clone, Debug, thiserror::Error)]
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

/// The YAML node kind name kustomize uses in messages.
pub(crate) fn node_kind(n: &fjord_yaml::Node) -> &'static str {
    match n {
        fjord_yaml::Node::Scalar(_) => "ScalarNode",
        fjord_yaml::Node::Seq(_) => "SequenceNode",
        fjord_yaml::Node::Map(_) => "MappingNode",
    }
}
