//! The built-in API surface as discovery shows it (`builtin.txt`): every group-version with its
//! resources and subresources, verbs, short names, categories and storage version, in the
//! reference server's order.

use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::kinds::ALL_VERBS;
use fjord_model::ResourceType;

/// One line of the catalog: a resource (`pods`) or a subresource (`pods/status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `pods` or `pods/status`.
    pub name: String,
    /// Singular name (empty for subresources).
    pub singular: String,
    /// Kind of the request and response body.
    pub kind: String,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Verbs, in discovery order.
    pub verbs: Vec<String>,
    /// Short names.
    pub short_names: Vec<String>,
    /// Categories.
    pub categories: Vec<String>,
    /// The group/version whose Kind names the storage version hash (stored resources only).
    pub storage: Option<(String, String)>,
    /// The group/version of a subresource's kind when it differs from the entry's own.
    pub response_gv: Option<(String, String)>,
}

impl Entry {
    /// The parent resource and subresource name, for a subresource entry.
    pub fn split_sub(&self) -> Option<(&str, &str)> {
        self.name.split_once('/')
    }

    /// `storageVersionHash`: base64 of the first 8 bytes of sha256 of `group/version/Kind`.
    pub fn storage_hash(&self) -> Option<String> {
        let (g, v) = self.storage.as_ref()?;
        Some(storage_version_hash(g, v, &self.kind))
    }
}

/// One served group-version of the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupVersion {
    /// Group (`""` for core).
    pub group: String,
    /// Version.
    pub version: String,
    /// Resources and subresources in discovery order.
    pub entries: Vec<Entry>,
}

/// base64(std) of the first 8 bytes of sha256(`group/version/Kind`).
pub fn storage_version_hash(group: &str, version: &str, kind: &str) -> String {
    let digest = Sha256::digest(format!("{group}/{version}/{kind}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(&digest[..8])
}

fn list(field: &str) -> Vec<String> {
    if field == "-" {
        return Vec::new();
    }
    if field == "*" {
        return ALL_VERBS.iter().map(|v| v.to_string()).collect();
    }
    field.split(',').map(str::to_string).collect()
}

fn group_version(field: &str) -> (String, String) {
    match field.rsplit_once('/') {
        Some((g, v)) => (g.to_string(), v.to_string()),
        None => (String::new(), field.to_string()),
    }
}

fn parse_entry(line: &str, own: &(String, String)) -> Option<Entry> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let [name, singular, kind, scope, verbs, short, cats, storage, response] = f.as_slice() else {
        return None;
    };
    Some(Entry {
        name: name.to_string(),
        singular: if *singular == "-" {
            String::new()
        } else {
            singular.to_string()
        },
        kind: kind.to_string(),
        namespaced: *scope == "N",
        verbs: list(verbs),
        short_names: list(short),
        categories: list(cats),
        storage: match *storage {
            "-" => None,
            "=" => Some(own.clone()),
            other => Some(group_version(other)),
        },
        response_gv: (*response != "-").then(|| group_version(response)),
    })
}

fn parse(text: &str) -> Vec<GroupVersion> {
    let mut out: Vec<GroupVersion> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(gv) = line.strip_prefix("@ ") {
            let (group, version) = group_version(gv.trim());
            out.push(GroupVersion {
                group,
                version,
                entries: Vec::new(),
            });
            continue;
        }
        if let Some(cur) = out.last_mut() {
            let own = (cur.group.clone(), cur.version.clone());
            if let Some(e) = parse_entry(line, &own) {
                cur.entries.push(e);
            }
        }
    }
    out
}

/// The built-in group-versions, core first, then the groups in `/apis` order.
pub fn builtin() -> &'static [GroupVersion] {
    static CATALOG: OnceLock<Vec<GroupVersion>> = OnceLock::new();
    CATALOG.get_or_init(|| parse(include_str!("builtin.txt")))
}

/// The built-in group-version, if served.
pub fn find(group: &str, version: &str) -> Option<&'static GroupVersion> {
    builtin()
        .iter()
        .find(|gv| gv.group == group && gv.version == version)
}

/// Resource types for every stored (storage-hashed) catalog resource, for the registry to serve
/// as plain stored objects.
pub fn stored_types() -> Vec<Arc<ResourceType>> {
    let mut out = Vec::new();
    for gv in builtin() {
        for e in gv.entries.iter().filter(|e| e.storage.is_some()) {
            let has_sub = |s: &str| {
                gv.entries
                    .iter()
                    .any(|x| x.split_sub() == Some((e.name.as_str(), s)))
            };
            out.push(Arc::new(ResourceType {
                group: gv.group.clone(),
                version: gv.version.clone(),
                kind: e.kind.clone(),
                plural: e.name.clone(),
                singular: e.singular.clone(),
                namespaced: e.namespaced,
                short_names: e.short_names.clone(),
                categories: e.categories.clone(),
                has_status: has_sub("status"),
                has_scale: has_sub("scale"),
                custom: false,
                printer_columns: Vec::new(),
            }));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_parses() {
        let text = include_str!("builtin.txt");
        let lines = text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#') && !l.starts_with("@ "))
            .count();
        let parsed: usize = builtin().iter().map(|gv| gv.entries.len()).sum();
        assert_eq!(lines, parsed);
        assert_eq!(builtin()[0].group, "");
    }

    #[test]
    fn storage_hashes_match_the_reference() {
        let cm = find("", "v1")
            .and_then(|gv| gv.entries.iter().find(|e| e.name == "configmaps"))
            .expect("configmaps");
        assert_eq!(cm.storage_hash().as_deref(), Some("qFsyl6wFWjQ="));
        let apps = find("apps", "v1").expect("apps");
        let cr = apps
            .entries
            .iter()
            .find(|e| e.name == "controllerrevisions")
            .expect("cr");
        assert_eq!(cr.storage_hash().as_deref(), Some("85nkx63pcBU="));
        assert_eq!(
            storage_version_hash("diff.example.com", "v1", "Widget"),
            "ttSe6q+QNj8="
        );
    }

    #[test]
    fn stored_types_carry_subresources() {
        let types = stored_types();
        let dep = types
            .iter()
            .find(|t| t.group == "apps" && t.plural == "deployments")
            .expect("deployments");
        assert!(dep.has_scale && dep.has_status);
        assert!(!types.iter().any(|t| t.plural == "tokenreviews"));
    }
}
