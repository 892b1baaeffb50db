//! The `external-secrets.io` objects (v1 and v1beta1) parsed and validated into typed specs.
//!
//! Both API versions parse into the same structs. Validation follows ESO's admission webhook,
//! and every ESO field fjord does not implement is refused with a [`SpecError`] naming it,
//! never silently ignored.

mod cluster;
mod duration;
mod external_secret;
mod read;
mod store;

use std::collections::BTreeMap;

pub use cluster::{parse_cluster_external_secret, ClusterExternalSecretSpec, DEFAULT_REFRESH_TIME};
pub use duration::parse_go_duration;
pub use external_secret::{
    is_secret_key, parse_external_secret, parse_external_secret_spec, CreationPolicy, DataEntry,
    DataFromEntry, DataFromSource, DeletionPolicy, ExternalSecretSpec, Find, MergePolicy,
    RefreshPolicy, RemoteRef, Rewrite, Target, TemplateMetadata, TemplateSpec,
    DEFAULT_REFRESH_INTERVAL,
};
pub use store::{
    parse_store, CaProvider, KvVersion, NamespaceCondition, SecretKeySelector, ServiceAccountRef,
    StoreSpec, VaultAuth, VaultProvider,
};

/// The API group of every External Secrets kind.
pub const GROUP: &str = "external-secrets.io";
/// The served versions; `v1` is the canonical (storage) one.
pub const VERSIONS: [&str; 2] = ["v1", "v1beta1"];
/// Kind `ExternalSecret`.
pub const KIND_EXTERNAL_SECRET: &str = "ExternalSecret";
/// Kind `ClusterExternalSecret`.
pub const KIND_CLUSTER_EXTERNAL_SECRET: &str = "ClusterExternalSecret";
/// Kind `SecretStore`.
pub const KIND_SECRET_STORE: &str = "SecretStore";
/// Kind `ClusterSecretStore`.
pub const KIND_CLUSTER_SECRET_STORE: &str = "ClusterSecretStore";

/// A field that failed validation: Display is `<field path>: <reason>`, e.g.
/// `spec.data[1].remoteRef.property: must not be empty`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct SpecError {
    /// The field path, e.g. `spec.data[1].remoteRef.key`.
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

/// The two store kinds a `secretStoreRef` may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StoreKind {
    /// A namespaced `SecretStore` (in the ExternalSecret's namespace).
    SecretStore,
    /// A cluster-wide `ClusterSecretStore`.
    ClusterSecretStore,
}

impl StoreKind {
    /// The kind's name as in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::SecretStore => KIND_SECRET_STORE,
            StoreKind::ClusterSecretStore => KIND_CLUSTER_SECRET_STORE,
        }
    }
}

impl std::fmt::Display for StoreKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reference to a store (`secretStoreRef`, `sourceRef.storeRef`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StoreRef {
    /// The store's name.
    pub name: String,
    /// Its kind (default `SecretStore`).
    pub kind: StoreKind,
}

/// How a fetched value is decoded (`decodingStrategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodingStrategy {
    /// As fetched (default).
    None,
    /// Standard base64 (padding optional).
    Base64,
    /// URL-safe base64 (padding optional).
    Base64Url,
    /// Base64, then URL-safe base64, else the raw bytes.
    Auto,
}

/// How keys are converted (`conversionStrategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversionStrategy {
    /// Unchanged (default).
    Default,
    /// Characters not valid in a Secret key become `_UXXXX_`.
    Unicode,
}

/// What a remote ref reads (`metadataPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataPolicy {
    /// The secret's data (default).
    None,
    /// The KV v2 metadata (`custom_metadata` etc.).
    Fetch,
}

const DECODING: &[(&str, DecodingStrategy)] = &[
    ("None", DecodingStrategy::None),
    ("Base64", DecodingStrategy::Base64),
    ("Base64URL", DecodingStrategy::Base64Url),
    ("Auto", DecodingStrategy::Auto),
];

const CONVERSION: &[(&str, ConversionStrategy)] = &[
    ("Default", ConversionStrategy::Default),
    ("Unicode", ConversionStrategy::Unicode),
];

/// Reads a `{name, kind}` store reference.
fn parse_store_ref(o: &read::Obj<'_>) -> Result<StoreRef, SpecError> {
    o.only(&["name", "kind"])?;
    let kind = o.enumeration(
        "kind",
        &[
            (KIND_SECRET_STORE, StoreKind::SecretStore),
            (KIND_CLUSTER_SECRET_STORE, StoreKind::ClusterSecretStore),
        ],
        StoreKind::SecretStore,
    )?;
    Ok(StoreRef {
        name: o.req_str("name")?.to_string(),
        kind,
    })
}

/// Reads `matchLabels` of a label selector; `matchExpressions` are refused.
fn parse_match_labels(o: &read::Obj<'_>) -> Result<BTreeMap<String, String>, SpecError> {
    o.only(&["matchLabels", "matchExpressions"])?;
    o.refuse(&["matchExpressions"])?;
    o.string_map("matchLabels")
}

/// Checks `apiVersion` (when present) names `external-secrets.io/{v1,v1beta1}` and `kind`
/// (when present) is `kind`; returns the version (`v1` when absent).
fn check_type<'a>(o: &read::Obj<'a>, kind: &[&str]) -> Result<&'a str, SpecError> {
    if let Some(k) = o.str("kind")? {
        if !kind.contains(&k) {
            return Err(read::err(
                "kind",
                format!("expected {}, not {k}", kind.join(" or ")),
            ));
        }
    }
    let Some(av) = o.str("apiVersion")? else {
        return Ok("v1");
    };
    match av.split_once('/') {
        Some((GROUP, v)) if VERSIONS.contains(&v) => Ok(v),
        _ => Err(read::err(
            "apiVersion",
            format!("expected {GROUP}/v1 or {GROUP}/v1beta1, not {av}"),
        )),
    }
}

#[cfg(test)]
mod tests;
