//! Object identity.

use fjord_yaml::Node;
use std::fmt;

/// Group, version and kind. The core group is the empty string.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gvk {
    /// API group; empty for the core group.
    pub group: String,
    /// API version, e.g. `v1`.
    pub version: String,
    /// Kind, e.g. `Deployment`.
    pub kind: String,
}

impl Gvk {
    /// Builds a GVK.
    pub fn new(group: &str, version: &str, kind: &str) -> Gvk {
        Gvk {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
        }
    }

    /// Splits an `apiVersion` (`apps/v1`, `v1`) and pairs it with `kind`.
    pub fn from_api_version(api_version: &str, kind: &str) -> Gvk {
        let (group, version) = match api_version.rsplit_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        Gvk::new(group, version, kind)
    }

    /// Reads `apiVersion` and `kind` from an object.
    pub fn of(obj: &Node) -> Gvk {
        Gvk::from_api_version(
            obj.str_at(&["apiVersion"]).unwrap_or_default(),
            obj.str_at(&["kind"]).unwrap_or_default(),
        )
    }

    /// The `apiVersion` form: `group/version`, or just `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

impl fmt::Display for Gvk {
    /// kustomize's spelling: `group_version_kind` with `~G`/`~V`/`~K` for empty parts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let or = |s: &str, d: &'static str| {
            if s.is_empty() {
                d.to_string()
            } else {
                s.to_string()
            }
        };
        write!(
            f,
            "{}_{}_{}",
            or(&self.group, "~G"),
            or(&self.version, "~V"),
            or(&self.kind, "~K")
        )
    }
}

/// A resource's identity: GVK, name and namespace (empty when unset or cluster-scoped).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResId {
    /// Group, version, kind.
    pub gvk: Gvk,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`, empty when unset.
    pub namespace: String,
}

impl ResId {
    /// Reads the identity of an object.
    pub fn of(obj: &Node) -> ResId {
        ResId {
            gvk: Gvk::of(obj),
            name: obj
                .str_at(&["metadata", "name"])
                .unwrap_or_default()
                .to_string(),
            namespace: obj
                .str_at(&["metadata", "namespace"])
                .unwrap_or_default()
                .to_string(),
        }
    }
}

impl fmt::Display for ResId {
    /// kustomize's spelling: `group_version_kind|namespace|name` with `~X` for empty parts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = if self.namespace.is_empty() {
            "~X"
        } else {
            &self.namespace
        };
        let name = if self.name.is_empty() {
            "~N"
        } else {
            &self.name
        };
        write!(f, "{}|{}|{}", self.gvk, ns, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_version_round_trip() {
        let g = Gvk::from_api_version("apps/v1", "Deployment");
        assert_eq!(g.group, "apps");
        assert_eq!(g.api_version(), "apps/v1");
        let c = Gvk::from_api_version("v1", "ConfigMap");
        assert_eq!(c.group, "");
        assert_eq!(c.api_version(), "v1");
        assert_eq!(c.to_string(), "~G_v1_ConfigMap");
    }
}
