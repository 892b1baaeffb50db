//! From an Application's `source` to rendered objects: the shared repository mirror, the
//! resolved revision, the exported tree, and fjord's renderer with the source's `directory` and
//! `kustomize` options.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fjord_render::{DirectoryOptions, LoadRestrictor, RenderLimits, RenderOptions};
use fjord_source::{Oid, Repo, RepoCache, RepoError};
use serde_json::{json, Map, Value};

use super::ControllerError;
use crate::api::{ApplicationSource, ApplicationSourceKustomize};

/// A rendered source.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The resolved commit.
    pub revision: String,
    /// The objects, in render order.
    pub objects: Vec<Value>,
    /// `Kustomize` (the path holds a kustomization) or `Directory`: `status.sourceType`.
    pub source_type: &'static str,
}

/// When each repository was last fetched (the start of the fetch), so that the apps sharing a
/// repository share its fetches: a push refreshing 1,000 apps fetches once.
#[derive(Debug, Default)]
pub struct FetchLog {
    repos: Mutex<HashMap<String, Arc<Mutex<Option<Instant>>>>>,
}

/// When a fetch is needed.
#[derive(Debug, Clone, Copy)]
pub struct FetchPolicy {
    /// Fetch unless a fetch started after this instant (a refresh request).
    pub wanted_after: Option<Instant>,
    /// Fetch when the last fetch is older than this (the polling interval).
    pub max_age: Duration,
}

impl FetchLog {
    /// Fetches `repo` when `policy` says so; one fetch at a time per repository.
    fn fetch_if_due(&self, repo: &Repo, policy: FetchPolicy) -> Result<(), ControllerError> {
        let slot = self
            .repos
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(repo.key().to_string())
            .or_default()
            .clone();
        let mut last = slot.lock().unwrap_or_else(|e| e.into_inner());
        let due = match *last {
            None => true,
            Some(t) => policy.wanted_after.is_some_and(|w| t < w) || t.elapsed() >= policy.max_age,
        };
        if due {
            let started = Instant::now();
            repo.fetch()?;
            *last = Some(started);
        }
        Ok(())
    }
}

/// Fetches when due and resolves the source's revision. Blocking: call it from a blocking task.
pub fn resolve(
    repos: &RepoCache,
    log: &FetchLog,
    source: &ApplicationSource,
    policy: FetchPolicy,
) -> Result<(Arc<Repo>, Oid), ControllerError> {
    let url = source.repo_url.as_deref().unwrap_or_default();
    let repo = repos.repo(url)?;
    let rev = source.target_revision.as_deref().unwrap_or("HEAD");
    log.fetch_if_due(&repo, policy)?;
    match repo.resolve(rev) {
        Ok(oid) => Ok((repo, oid)),
        // A commit SHA that no branch or tag reaches.
        Err(_) if rev.len() == 40 && rev.bytes().all(|b| b.is_ascii_hexdigit()) => {
            let oid = repo.fetch_commit(rev)?;
            Ok((repo, oid))
        }
        Err(e) => Err(e.into()),
    }
}

/// Renders the source at `oid` (blocking), confined to the repository: every file, base and
/// component must lie inside the exported tree (absolute paths are refused), kustomize's
/// `LoadRestrictionsRootOnly` holds for every kustomization, and no option lifts either. The
/// `source.kustomize` options are one more level applied in memory. `limits` bound what the
/// render reads and produces. Messages show paths relative to the repository.
pub fn render(
    repo: &Repo,
    oid: Oid,
    source: &ApplicationSource,
    limits: &RenderLimits,
) -> Result<Rendered, ControllerError> {
    let path = source.path.as_deref().unwrap_or(".");
    let dir = repo.checkout_tree(oid, path).map_err(|e| {
        let key = match &e {
            RepoError::ExportLimit { limit, .. } => super::settings::export_limit_key(limit),
            _ => None,
        };
        match key {
            Some(key) => ControllerError::ExportLimit {
                key,
                source: Box::new(e),
            },
            None => e.into(),
        }
    })?;
    let fence = export_root(&dir, path);
    let mut opts = RenderOptions {
        load_restrictor: LoadRestrictor::RootOnly,
        fence: Some(fence.clone()),
        limits: *limits,
        ..RenderOptions::default()
    };
    if let Some(d) = &source.directory {
        opts.directory = DirectoryOptions {
            recurse: d.recurse.unwrap_or(false),
            include: d.include.clone().filter(|s| !s.is_empty()),
            exclude: d.exclude.clone().filter(|s| !s.is_empty()),
        };
    }
    opts.overrides = source
        .kustomize
        .as_ref()
        .filter(|k| has_overrides(k))
        .map(|k| fjord_yaml::from_json_value(&overrides(k)));
    let is_kustomization = fjord_render::kustomization::FILE_NAMES
        .iter()
        .any(|f| dir.join(f).is_file());
    let nodes = fjord_render::render(&dir, &opts).map_err(|source| ControllerError::Render {
        path: path.to_string(),
        fence: fence.clone(),
        limit_key: source
            .exceeded_limit()
            .and_then(|l| super::settings::limit_key(l.limit)),
        source: Box::new(source),
    })?;
    let objects = nodes
        .iter()
        .map(|n| {
            fjord_yaml::to_json_value(n).map_err(|source| ControllerError::RenderJson {
                path: path.to_string(),
                fence: fence.clone(),
                source,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Rendered {
        revision: oid.to_string(),
        objects,
        source_type: if is_kustomization {
            "Kustomize"
        } else {
            "Directory"
        },
    })
}

/// The root of the exported tree that `dir` (the export of `path`) lies in: `dir` without
/// `path`'s components.
fn export_root(dir: &Path, path: &str) -> PathBuf {
    let depth = Path::new(path).components().fold(0usize, |d, c| match c {
        Component::Normal(_) => d + 1,
        Component::ParentDir => d.saturating_sub(1),
        _ => d,
    });
    let mut root = dir.to_path_buf();
    for _ in 0..depth {
        root.pop();
    }
    root
}

fn has_overrides(k: &ApplicationSourceKustomize) -> bool {
    k.name_prefix.as_deref().is_some_and(|s| !s.is_empty())
        || k.name_suffix.as_deref().is_some_and(|s| !s.is_empty())
        || k.images.as_ref().is_some_and(|v| !v.is_empty())
        || k.common_labels.as_ref().is_some_and(|v| !v.is_empty())
        || k.common_annotations.as_ref().is_some_and(|v| !v.is_empty())
        || k.namespace.as_deref().is_some_and(|s| !s.is_empty())
}

/// Argo CD applies `source.kustomize` with `kustomize edit set …` on the app's directory; fjord
/// gets the result without touching the shared tree and without reading any file: a
/// kustomization level of transformers only, applied in memory above the app's kustomization.
fn overrides(k: &ApplicationSourceKustomize) -> Value {
    let mut doc = Map::new();
    let set = |doc: &mut Map<String, Value>, key: &str, v: &Option<String>| {
        if let Some(v) = v.as_deref().filter(|s| !s.is_empty()) {
            doc.insert(key.into(), json!(v));
        }
    };
    set(&mut doc, "namePrefix", &k.name_prefix);
    set(&mut doc, "nameSuffix", &k.name_suffix);
    set(&mut doc, "namespace", &k.namespace);
    if let Some(labels) = k.common_labels.as_ref().filter(|m| !m.is_empty()) {
        doc.insert("commonLabels".into(), json!(labels));
    }
    if let Some(ann) = k.common_annotations.as_ref().filter(|m| !m.is_empty()) {
        doc.insert("commonAnnotations".into(), json!(ann));
    }
    if let Some(images) = k.images.as_ref().filter(|v| !v.is_empty()) {
        let list: Vec<Value> = images.iter().map(|i| image_override(i)).collect();
        doc.insert("images".into(), Value::Array(list));
    }
    Value::Object(doc)
}

/// One `source.kustomize.images` entry as a kustomize `images:` item: `name=new:tag`,
/// `name:tag`, `name@digest` (the forms `kustomize edit set image` takes).
fn image_override(spec: &str) -> Value {
    let (name, target) = match spec.split_once('=') {
        Some((n, t)) => (n, Some(t)),
        None => (spec, None),
    };
    let split = |s: &str| -> (String, Option<String>, Option<String>) {
        if let Some((n, d)) = s.split_once('@') {
            return (n.to_string(), None, Some(d.to_string()));
        }
        let slash = s.rfind('/').map_or(0, |i| i + 1);
        match s[slash..].rfind(':') {
            Some(i) => (
                s[..slash + i].to_string(),
                Some(s[slash + i + 1..].to_string()),
                None,
            ),
            None => (s.to_string(), None, None),
        }
    };
    let mut out = Map::new();
    match target {
        Some(t) => {
            let (base, _, _) = split(name);
            out.insert("name".into(), json!(base));
            let (new_name, tag, digest) = split(t);
            out.insert("newName".into(), json!(new_name));
            if let Some(tag) = tag {
                out.insert("newTag".into(), json!(tag));
            }
            if let Some(d) = digest {
                out.insert("digest".into(), json!(d));
            }
        }
        None => {
            let (base, tag, digest) = split(name);
            out.insert("name".into(), json!(base));
            if let Some(tag) = tag {
                out.insert("newTag".into(), json!(tag));
            }
            if let Some(d) = digest {
                out.insert("digest".into(), json!(d));
            }
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_overrides_take_kustomize_edit_forms() {
        assert_eq!(
            image_override("nginx:1.27"),
            json!({"name": "nginx", "newTag": "1.27"})
        );
        assert_eq!(
            image_override("nginx=registry.local:5000/nginx:1.27"),
            json!({"name": "nginx", "newName": "registry.local:5000/nginx", "newTag": "1.27"})
        );
        assert_eq!(
            image_override("app@sha256:abc"),
            json!({"name": "app", "digest": "sha256:abc"})
        );
    }

    #[test]
    fn export_root_strips_the_source_path() {
        let dir = Path::new("/c/trees/abc/all/apps/web");
        assert_eq!(export_root(dir, "apps/web"), Path::new("/c/trees/abc/all"));
        assert_eq!(
            export_root(dir, "./apps/web/"),
            Path::new("/c/trees/abc/all")
        );
        assert_eq!(
            export_root(Path::new("/c/t/all"), "."),
            Path::new("/c/t/all")
        );
        assert_eq!(
            export_root(dir, "apps/x/../web"),
            Path::new("/c/trees/abc/all")
        );
    }
}
