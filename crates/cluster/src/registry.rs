//! The table of served resource types: the built-ins plus every Established CRD.

use std::cmp::Ordering;
use std::sync::Arc;

use serde_json::Value;

use crate::discovery::catalog;
use crate::kinds::builtins;
use crate::meta::strings;
use fjord_model::{PrinterColumn, ResourceType};

/// Served resource types, looked up by URL coordinates.
#[derive(Debug, Clone)]
pub struct Registry {
    builtin: Vec<Arc<ResourceType>>,
    custom: Vec<Arc<ResourceType>>,
    /// (group, plural, storage version) of every served CRD.
    crd_storage: Vec<(String, String, String)>,
    /// (group, version, plural) → the version's `openAPIV3Schema`, for every served CRD version.
    crd_schemas: Vec<((String, String, String), Value)>,
}

/// Kubernetes version priority: GA before beta before alpha, higher numbers first.
pub fn version_priority(a: &str, b: &str) -> Ordering {
    fn parse(v: &str) -> Option<(u8, u64, u64)> {
        let rest = v.strip_prefix('v')?;
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let major: u64 = digits.parse().ok()?;
        let tail = &rest[digits.len()..];
        if tail.is_empty() {
            return Some((3, major, 0));
        }
        for (tag, rank) in [("beta", 2u8), ("alpha", 1u8)] {
            if let Some(n) = tail.strip_prefix(tag) {
                let minor = if n.is_empty() { 0 } else { n.parse().ok()? };
                return Some((rank, major, minor));
            }
        }
        None
    }
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) => y.cmp(&x),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

/// Whether a CRD object carries `Established=True`.
pub fn crd_established(crd: &Value) -> bool {
    crd.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Established" && c["status"] == "True")
        })
}

/// The resource types a CRD object defines (one per served version), best version first.
pub fn crd_types(crd: &Value) -> Vec<Arc<ResourceType>> {
    let spec = &crd["spec"];
    let (Some(group), Some(kind), Some(plural)) = (
        spec["group"].as_str(),
        spec.pointer("/names/kind").and_then(Value::as_str),
        spec.pointer("/names/plural").and_then(Value::as_str),
    ) else {
        return Vec::new();
    };
    let singular = spec
        .pointer("/names/singular")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| kind.to_ascii_lowercase());
    let namespaced = spec["scope"].as_str() != Some("Cluster");
    let mut out: Vec<Arc<ResourceType>> = Vec::new();
    for v in spec["versions"].as_array().into_iter().flatten() {
        if v["served"] != Value::Bool(true) {
            continue;
        }
        let Some(name) = v["name"].as_str() else {
            continue;
        };
        let printer_columns = v["additionalPrinterColumns"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| {
                Some(PrinterColumn {
                    name: c["name"].as_str()?.to_string(),
                    type_: c["type"].as_str().unwrap_or("string").to_string(),
                    json_path: c["jsonPath"].as_str()?.to_string(),
                    priority: c["priority"].as_u64().unwrap_or(0) as u32,
                })
            })
            .collect();
        out.push(Arc::new(ResourceType {
            group: group.to_string(),
            version: name.to_string(),
            kind: kind.to_string(),
            plural: plural.to_string(),
            singular: singular.clone(),
            namespaced,
            short_names: strings(spec.pointer("/names/shortNames")),
            categories: strings(spec.pointer("/names/categories")),
            has_status: v.pointer("/subresources/status").is_some(),
            has_scale: v.pointer("/subresources/scale").is_some(),
            custom: true,
            printer_columns,
        }));
    }
    out.sort_by(|a, b| version_priority(&a.version, &b.version));
    out
}

/// (group, plural, storage version) of a CRD object.
fn crd_storage(crd: &Value) -> Option<(String, String, String)> {
    let spec = &crd["spec"];
    let version = spec["versions"]
        .as_array()?
        .iter()
        .find(|v| v["storage"] == Value::Bool(true))?["name"]
        .as_str()?;
    Some((
        spec["group"].as_str()?.to_string(),
        spec.pointer("/names/plural")?.as_str()?.to_string(),
        version.to_string(),
    ))
}

/// ((group, version, plural), openAPIV3Schema) of each served version of a CRD object.
fn crd_schemas(crd: &Value) -> Vec<((String, String, String), Value)> {
    let spec = &crd["spec"];
    let (Some(group), Some(plural)) = (
        spec["group"].as_str(),
        spec.pointer("/names/plural").and_then(Value::as_str),
    ) else {
        return Vec::new();
    };
    spec["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["served"] == Value::Bool(true))
        .filter_map(|v| {
            let schema = v.pointer("/schema/openAPIV3Schema")?.clone();
            let key = (
                group.to_string(),
                v["name"].as_str()?.to_string(),
                plural.to_string(),
            );
            Some((key, schema))
        })
        .collect()
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

impl Registry {
    /// The built-ins only.
    pub fn new() -> Registry {
        let mut builtin = builtins();
        for t in catalog::stored_types() {
            let known = builtin
                .iter()
                .any(|b| b.group == t.group && b.version == t.version && b.plural == t.plural);
            if !known {
                builtin.push(t);
            }
        }
        Registry {
            builtin,
            custom: Vec::new(),
            crd_storage: Vec::new(),
            crd_schemas: Vec::new(),
        }
    }

    /// Replaces the CRD-defined types with those of the given Established CRD objects.
    pub fn set_crds<'a>(&mut self, crds: impl Iterator<Item = &'a Value>) {
        let established: Vec<&Value> = crds.filter(|c| crd_established(c)).collect();
        self.custom = established.iter().flat_map(|c| crd_types(c)).collect();
        self.crd_storage = established.iter().filter_map(|c| crd_storage(c)).collect();
        self.crd_schemas = established.iter().flat_map(|c| crd_schemas(c)).collect();
    }

    /// The `openAPIV3Schema` of a CRD-defined resource at one version.
    pub fn crd_schema(&self, group: &str, version: &str, plural: &str) -> Option<&Value> {
        self.crd_schemas
            .iter()
            .find(|((g, v, p), _)| g == group && v == version && p == plural)
            .map(|(_, s)| s)
    }

    /// The storage version of a CRD-defined resource.
    pub fn crd_storage_version(&self, group: &str, plural: &str) -> Option<&str> {
        self.crd_storage
            .iter()
            .find(|(g, p, _)| g == group && p == plural)
            .map(|(_, _, v)| v.as_str())
    }

    /// The CRD-defined types of one group/version.
    pub fn custom_resources(&self, group: &str, version: &str) -> Vec<Arc<ResourceType>> {
        self.custom
            .iter()
            .filter(|r| r.group == group && r.version == version)
            .cloned()
            .collect()
    }

    fn all(&self) -> impl Iterator<Item = &Arc<ResourceType>> {
        self.builtin.iter().chain(self.custom.iter())
    }

    /// Finds the type served at `group/version/plural`.
    pub fn lookup(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceType>> {
        self.all()
            .find(|r| r.group == group && r.version == version && r.plural == plural)
            .cloned()
    }

    /// Whether a group/version is served at all.
    pub fn serves_group_version(&self, group: &str, version: &str) -> bool {
        catalog::find(group, version).is_some()
            || self.all().any(|r| r.group == group && r.version == version)
    }

    /// Served groups (core excluded) with their versions, preferred version first: the built-in
    /// groups in the reference server's order, then the CRD-defined ones.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for gv in catalog::builtin().iter().filter(|gv| !gv.group.is_empty()) {
            match out.iter_mut().find(|(g, _)| *g == gv.group) {
                Some((_, vs)) => vs.push(gv.version.clone()),
                None => out.push((gv.group.clone(), vec![gv.version.clone()])),
            }
        }
        let builtin_groups = out.len();
        for r in self.all().filter(|r| !r.group.is_empty()) {
            match out.iter_mut().find(|(g, _)| *g == r.group) {
                Some((_, vs)) => {
                    if !vs.contains(&r.version) {
                        vs.push(r.version.clone())
                    }
                }
                None => out.push((r.group.clone(), vec![r.version.clone()])),
            }
        }
        for (_, vs) in out.iter_mut().skip(builtin_groups) {
            vs.sort_by(|a, b| version_priority(a, b));
        }
        out
    }

    /// The types of one group/version.
    pub fn resources(&self, group: &str, version: &str) -> Vec<Arc<ResourceType>> {
        self.all()
            .filter(|r| r.group == group && r.version == version)
            .cloned()
            .collect()
    }

    /// One type per stored resource (group + plural), at its preferred version.
    pub fn storage_types(&self) -> Vec<Arc<ResourceType>> {
        let mut out: Vec<Arc<ResourceType>> = Vec::new();
        for r in self.all() {
            if !out
                .iter()
                .any(|o| o.group == r.group && o.plural == r.plural)
            {
                out.push(r.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn version_order() {
        let mut v = vec!["v1beta1", "v2", "v1", "v1alpha1", "foo", "v1beta2"];
        v.sort_by(|a, b| version_priority(a, b));
        assert_eq!(v, vec!["v2", "v1", "v1beta2", "v1beta1", "v1alpha1", "foo"]);
    }

    #[test]
    fn crd_serves_only_when_established() {
        let mut crd = json!({"spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets", "shortNames": ["wd"]},
            "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}}},
                         {"name": "v2", "served": false}]}});
        let mut reg = Registry::new();
        reg.set_crds(std::iter::once(&crd));
        assert!(reg.lookup("example.com", "v1", "widgets").is_none());
        crd["status"] = json!({"conditions": [{"type": "Established", "status": "True"}]});
        reg.set_crds(std::iter::once(&crd));
        let t = reg.lookup("example.com", "v1", "widgets").expect("served");
        assert!(t.has_status && t.namespaced && t.custom);
        assert!(reg.lookup("example.com", "v2", "widgets").is_none());
        assert!(reg.groups().iter().any(|(g, _)| g == "example.com"));
    }
}
