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
        let (group, version) = split_api_version(api_version);
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
        join_api_version(&self.group, &self.version)
    }

    /// kustomize's `Gvk.String()`: `Kind.version.group`, with `[noKind]`, `[noVer]` and
    /// `[noGrp]` for empty parts (the spelling of its error messages).
    pub fn dotted(&self) -> String {
        format!(
            "{}.{}.{}",
            or(&self.kind, "[noKind]"),
            or(&self.version, "[noVer]"),
            or(&self.group, "[noGrp]")
        )
    }
}

/// `part`, or the placeholder kustomize prints for an empty part.
fn or<'a>(part: &'a str, placeholder: &'a str) -> &'a str {
    if part.is_empty() {
        placeholder
    } else {
        part
    }
}

/// Splits an `apiVersion` into `(group, version)`: `apps/v1` → `("apps", "v1")`, `v1` →
/// `("", "v1")`. As kustomize's `ParseGroupVersion`, the group ends at the first `/`.
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.split_once('/').unwrap_or(("", api_version))
}

/// Joins a group and a version into an `apiVersion`: `group/version`, or just `version` for the
/// core group.
pub fn join_api_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

impl fmt::Display for Gvk {
    /// kustomize's map-key spelling: `group_version_kind` with `~G`/`~V`/`~K` for empty parts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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

impl ResId {
    /// kustomize's `ResId.String()`: `Kind.version.group/name.namespace`, with `[noGrp]`,
    /// `[noVer]`, `[noKind]`, `[noName]` and `[noNs]` for empty parts (its error messages).
    pub fn dotted(&self) -> String {
        format!(
            "{}/{}.{}",
            self.gvk.dotted(),
            or(&self.name, "[noName]"),
            or(&self.namespace, "[noNs]")
        )
    }
}

impl fmt::Display for ResId {
    /// kustomize's map-key spelling: `group_version_kind|namespace|name` with `~X`/`~N` for
    /// empty parts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}|{}|{}",
            self.gvk,
            or(&self.namespace, "~X"),
            or(&self.name, "~N")
        )
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
        assert_eq!(split_api_version("a.b/c/v2"), ("a.b", "c/v2"));
        assert_eq!(join_api_version("", "v1"), "v1");
    }

    #[test]
    fn kustomize_spellings() {
        let empty = ResId::default();
        assert_eq!(empty.to_string(), "~G_~V_~K|~X|~N");
        assert_eq!(empty.dotted(), "[noKind].[noVer].[noGrp]/[noName].[noNs]");
        let id = ResId {
            gvk: Gvk::new("apps", "v1", "Deployment"),
            name: "web".into(),
            namespace: "prod".into(),
        };
        assert_eq!(id.to_string(), "apps_v1_Deployment|prod|web");
        assert_eq!(id.dotted(), "Deployment.v1.apps/web.prod");
    }
}
