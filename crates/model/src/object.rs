//! References to objects in a cluster: [`ObjectRef`] (group, version, kind, namespace, name) and
//! [`ObjectKey`], the same object regardless of version.

use crate::id::{join_api_version, split_api_version};
use crate::resource::ResourceType;
use crate::Gvk;
use serde::Serialize;
use serde_json::Value;
use std::fmt;

/// An object in a cluster: group, version, kind, namespace and name.
///
/// The cluster-scope rule: the namespace is `""` for a cluster-scoped object, whatever its
/// manifest says ([`ObjectRef::of_typed`] applies it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ObjectRef {
    /// API group (`""` for the core group).
    pub group: String,
    /// API version within the group.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Namespace (`""` for cluster-scoped objects).
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ObjectRef {
    /// Builds a reference from its parts.
    pub fn new(group: &str, version: &str, kind: &str, namespace: &str, name: &str) -> ObjectRef {
        ObjectRef {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// A core `v1` Namespace called `name`.
    pub fn namespace_object(name: &str) -> ObjectRef {
        ObjectRef::new("", "v1", "Namespace", "", name)
    }

    /// Reads `apiVersion`, `kind`, `metadata.namespace` and `metadata.name` of a JSON object,
    /// as written (missing fields are `""`).
    pub fn of(obj: &Value) -> ObjectRef {
        fn text(v: Option<&Value>) -> &str {
            v.and_then(Value::as_str).unwrap_or_default()
        }
        let (group, version) = split_api_version(text(obj.get("apiVersion")));
        let meta = obj.get("metadata");
        ObjectRef::new(
            group,
            version,
            text(obj.get("kind")),
            text(meta.and_then(|m| m.get("namespace"))),
            text(meta.and_then(|m| m.get("name"))),
        )
    }

    /// The reference of `obj`, an object of type `t`: group, version and kind from the type, the
    /// namespace only when the type is namespaced (the cluster-scope rule).
    pub fn of_typed(t: &ResourceType, obj: &Value) -> ObjectRef {
        let meta = |f: &str| {
            obj.get("metadata")
                .and_then(|m| m.get(f))
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        let namespace = if t.namespaced { meta("namespace") } else { "" };
        ObjectRef::new(&t.group, &t.version, &t.kind, namespace, meta("name"))
    }

    /// Its identity regardless of version: two refs with the same key are the same object.
    pub fn key(&self) -> ObjectKey {
        ObjectKey {
            group: self.group.clone(),
            kind: self.kind.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }

    /// Whether the two refer to the same object regardless of version.
    pub fn same_object(&self, other: &ObjectRef) -> bool {
        self.group == other.group
            && self.kind == other.kind
            && self.namespace == other.namespace
            && self.name == other.name
    }

    /// The `apiVersion` form: `group/version`, or just `version` for the core group.
    pub fn api_version(&self) -> String {
        join_api_version(&self.group, &self.version)
    }

    /// Its group, version and kind.
    pub fn gvk(&self) -> Gvk {
        Gvk::new(&self.group, &self.version, &self.kind)
    }

    /// Whether the object is a core-group Secret (whose values must never be shown).
    pub fn is_secret(&self) -> bool {
        self.group.is_empty() && self.kind == "Secret"
    }

    /// The file name `kubectl diff` uses for the object: `[<group>.]<version>.<Kind>.<ns>.<name>`
    /// (the namespace is empty for cluster-scoped objects, giving two dots).
    pub fn kubectl_name(&self) -> String {
        let group = if self.group.is_empty() {
            String::new()
        } else {
            format!("{}.", self.group)
        };
        format!(
            "{group}{}.{}.{}.{}",
            self.version, self.kind, self.namespace, self.name
        )
    }
}

/// `Kind.group` (just `Kind` for the core group).
fn group_kind(group: &str, kind: &str) -> String {
    if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    }
}

impl fmt::Display for ObjectRef {
    /// `Kind.group namespace/name`, or `Kind.group name` for a cluster-scoped object (as
    /// kubectl names objects, without the version).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.key().fmt(f)
    }
}

/// An object's identity regardless of version: group, kind, namespace, name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ObjectKey {
    /// API group (`""` for the core group).
    pub group: String,
    /// Kind.
    pub kind: String,
    /// Namespace (`""` for cluster-scoped objects).
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ObjectKey {
    /// Builds a key from its parts.
    pub fn new(group: &str, kind: &str, namespace: &str, name: &str) -> ObjectKey {
        ObjectKey {
            group: group.into(),
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for ObjectKey {
    /// `Kind.group namespace/name`, or `Kind.group name` for a cluster-scoped object.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let gk = group_kind(&self.group, &self.kind);
        if self.namespace.is_empty() {
            write!(f, "{gk} {}", self.name)
        } else {
            write!(f, "{gk} {}/{}", self.namespace, self.name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_an_object_and_spells_it() {
        let obj = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "prod"}});
        let r = ObjectRef::of(&obj);
        assert_eq!(r, ObjectRef::new("apps", "v1", "Deployment", "prod", "web"));
        assert_eq!(r.api_version(), "apps/v1");
        assert_eq!(r.to_string(), "Deployment.apps prod/web");
        assert_eq!(r.kubectl_name(), "apps.v1.Deployment.prod.web");
        assert_eq!(r.key(), ObjectKey::new("apps", "Deployment", "prod", "web"));
        assert!(r.same_object(&ObjectRef::new(
            "apps",
            "v1beta1",
            "Deployment",
            "prod",
            "web"
        )));
        assert!(!r.is_secret());
    }

    #[test]
    fn cluster_scoped_types_drop_the_manifest_namespace() {
        let ns = ResourceType::new("", "v1", "Namespace", "namespaces", false);
        let obj = json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "team", "namespace": "ignored"}});
        let r = ObjectRef::of_typed(&ns, &obj);
        assert_eq!(r, ObjectRef::namespace_object("team"));
        assert_eq!(r.to_string(), "Namespace team");
        assert_eq!(r.kubectl_name(), "v1.Namespace..team");
        let cm = ResourceType::new("", "v1", "ConfigMap", "configmaps", true);
        let obj = json!({"metadata": {"name": "c", "namespace": "a"}});
        assert_eq!(ObjectRef::of_typed(&cm, &obj).namespace, "a");
    }
}
