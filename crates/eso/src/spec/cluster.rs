//! `ClusterExternalSecret`: one ExternalSecret stamped into many namespaces.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use super::external_secret::parse_external_secret_spec;
use super::read::{err, Obj};
use super::{
    check_type, parse_go_duration, parse_match_labels, SpecError, KIND_CLUSTER_EXTERNAL_SECRET,
};

/// The default `refreshTime` (namespace re-scan period).
pub const DEFAULT_REFRESH_TIME: Duration = Duration::from_secs(60);

/// A parsed ClusterExternalSecret.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterExternalSecretSpec {
    /// `externalSecretName` (`None`: the CES name).
    pub external_secret_name: Option<String>,
    /// `externalSecretMetadata.labels`.
    pub labels: BTreeMap<String, String>,
    /// `externalSecretMetadata.annotations`.
    pub annotations: BTreeMap<String, String>,
    /// `namespaces`.
    pub namespaces: Vec<String>,
    /// `namespaceSelectors[].matchLabels` and the older `namespaceSelector`; an empty map
    /// matches every namespace.
    pub namespace_selectors: Vec<BTreeMap<String, String>>,
    /// `refreshTime` (default 1m).
    pub refresh_time: Duration,
    /// `externalSecretSpec` as written, copied into each child (validated by the parse).
    pub external_secret_spec: Value,
}

impl ClusterExternalSecretSpec {
    /// Whether namespace `ns` with `labels` gets a child ExternalSecret.
    pub fn selects(&self, ns: &str, labels: &BTreeMap<String, String>) -> bool {
        self.namespaces.iter().any(|n| n == ns)
            || self
                .namespace_selectors
                .iter()
                .any(|sel| sel.iter().all(|(k, v)| labels.get(k) == Some(v)))
    }
}

/// Parses a ClusterExternalSecret; its `externalSecretSpec` is validated as an ExternalSecret
/// spec (errors name `spec.externalSecretSpec.…`).
pub fn parse_cluster_external_secret(obj: &Value) -> Result<ClusterExternalSecretSpec, SpecError> {
    let root = Obj::new(obj, "")?;
    check_type(&root, &[KIND_CLUSTER_EXTERNAL_SECRET])?;
    let ces_name = match root.obj("metadata")? {
        Some(m) => m.str("name")?.unwrap_or_default().to_string(),
        None => String::new(),
    };
    let spec = root.req_obj("spec")?;
    spec.only(&[
        "externalSecretSpec",
        "externalSecretName",
        "externalSecretMetadata",
        "namespaceSelector",
        "namespaceSelectors",
        "namespaces",
        "refreshTime",
    ])?;
    let external_secret_name = spec.str("externalSecretName")?.map(str::to_string);
    let es_name = external_secret_name.as_deref().unwrap_or(&ces_name);
    let raw = spec
        .get("externalSecretSpec")
        .ok_or_else(|| err(spec.field("externalSecretSpec"), "is required"))?;
    parse_external_secret_spec(raw, es_name, &spec.field("externalSecretSpec"))?;
    let (labels, annotations) = match spec.obj("externalSecretMetadata")? {
        None => Default::default(),
        Some(m) => {
            m.only(&["labels", "annotations"])?;
            (m.string_map("labels")?, m.string_map("annotations")?)
        }
    };
    let mut namespace_selectors = Vec::new();
    if let Some(sel) = spec.obj("namespaceSelector")? {
        namespace_selectors.push(parse_match_labels(&sel)?);
    }
    for sel in spec.items("namespaceSelectors")? {
        namespace_selectors.push(parse_match_labels(&sel)?);
    }
    let refresh_time = match spec.str("refreshTime")? {
        None => DEFAULT_REFRESH_TIME,
        Some(s) => parse_go_duration(s).ok_or_else(|| {
            err(
                spec.field("refreshTime"),
                format!("{s:?} is not a Go duration"),
            )
        })?,
    };
    Ok(ClusterExternalSecretSpec {
        external_secret_name,
        labels,
        annotations,
        namespaces: spec.strings("namespaces")?,
        namespace_selectors,
        refresh_time,
        external_secret_spec: raw.clone(),
    })
}
