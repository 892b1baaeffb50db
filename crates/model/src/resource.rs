//! A served resource type, as API discovery describes it.

use crate::id::join_api_version;
use crate::Gvk;

/// One extra column of Table output, from a CRD's `additionalPrinterColumns`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrinterColumn {
    /// Column header.
    pub name: String,
    /// OpenAPI type (`string`, `integer`, `date`, ...).
    pub type_: String,
    /// A simple JSONPath such as `.spec.replicas`.
    pub json_path: String,
    /// 0 = always shown, >0 = only with `-o wide`.
    pub priority: u32,
}

/// A served resource: one (group, version, plural) with what discovery says of it.
///
/// A client fills what it reads from discovery (kind, plural, scope and, where served, the rest);
/// the local API server fills every field for the types it serves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceType {
    /// API group (`""` for core).
    pub group: String,
    /// Version, e.g. `v1`.
    pub version: String,
    /// Kind, e.g. `Deployment`.
    pub kind: String,
    /// Plural resource name, e.g. `deployments`.
    pub plural: String,
    /// Singular name (`""` when discovery did not say).
    pub singular: String,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Short names (`deploy`).
    pub short_names: Vec<String>,
    /// Categories (`all`).
    pub categories: Vec<String>,
    /// Has a `/status` subresource.
    pub has_status: bool,
    /// Has a `/scale` subresource (autoscaling/v1 Scale on `spec.replicas`).
    pub has_scale: bool,
    /// Defined by a CustomResourceDefinition.
    pub custom: bool,
    /// Extra Table columns for custom resources (`additionalPrinterColumns`).
    pub printer_columns: Vec<PrinterColumn>,
}

impl ResourceType {
    /// A type with its identity and scope; every other field empty.
    pub fn new(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool) -> Self {
        ResourceType {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            plural: plural.into(),
            namespaced,
            ..ResourceType::default()
        }
    }

    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        join_api_version(&self.group, &self.version)
    }

    /// Its group, version and kind.
    pub fn gvk(&self) -> Gvk {
        Gvk::new(&self.group, &self.version, &self.kind)
    }
}
