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
        } || !repo.has_fetched();
        if due {
            let started = Instant::now();
            repo.fetch()?;
            *last = Some(started);
        }
        Ok(())
    }
}

/// How often [`evict_repos`] runs at most (it runs every polling interval when that is shorter).
const EVICT_EVERY: Duration = Duration::from_secs(60);

/// Evicts, every polling interval (at most `EVICT_EVERY` apart), the mirrors of repositories
/// no Application of the controller uses any more and the least recently used ones beyond
/// `cache_max_size`; mirrors in use at that moment are left for the next round.
pub async fn evict_repos(shared: Arc<super::Shared>) {
    loop {
        let every = shared.resync().clamp(Duration::from_secs(1), EVICT_EVERY);
        tokio::time::sleep(every).await;
        if !shared.ready.load(std::sync::atomic::Ordering::SeqCst) {
            continue;
        }
        let in_use: Vec<String> = shared
            .apps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter_map(|m| m.webhook.as_ref().map(|w| w.repo_url.clone()))
            .filter(|u| !u.is_empty())
            .collect();
        let s = shared.clone();
        let max = s.opts.cache_max_size;
        let report = tokio::task::spawn_blocking(move || s.repos.retain(&in_use, max)).await;
        match report {
            Ok(Ok(r)) => {
                for e in &r.evicted {
                    let why = match e.reason {
                        fjord_source::EvictReason::Unused => "no app uses it".to_string(),
                        fjord_source::EvictReason::OverSize => {
                            format!("least recently used beyond the cache's {max} bytes")
                        }
                    };
                    let name = e.url.clone().unwrap_or_else(|| e.id.clone());
                    let msg = format!(
                        "evicted repository mirror {name} ({} bytes): {why}",
                        e.bytes
                    );
                    super::events::log("info", "", &msg);
                }
            }
            Ok(Err(e)) => super::events::log(
                "warn",
                "",
                &format!("evicting repository mirrors: {}", fjord_model::chain(&e)),
            ),
            Err(_) => {}
        }
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
/// `source.kustomize` options are one more level applied in memory, after the parameter
/// override files of the app's directory (`.argocd-source.yaml`, then
/// `.argocd-source-<instance>.yaml`: see [`super::overrides`]). `limits` bound what the render
/// reads and produces. Messages show paths relative to the repository.
pub fn render(
    repo: &Repo,
    oid: Oid,
    source: &ApplicationSource,
    instance: &str,
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
    let source = &super::overrides::apply(&dir, instance, source)?;
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
    let kustomization = fjord_render::kustomization::FILE_NAMES
        .iter()
        .find(|f| dir.join(f).is_file());
    let is_kustomization = kustomization.is_some();
    if let Some(k) = source.kustomize.as_ref() {
        let images = k.images.as_deref().unwrap_or_default();
        let edit_root = !images.is_empty() && is_kustomization;
        if edit_root {
            opts.root_kustomization = Some(set_images(&dir, kustomization, images)?);
        }
        opts.overrides = has_overrides(k, !edit_root)
            .then(|| fjord_yaml::from_json_value(&overrides(k, !edit_root)));
    }
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

fn has_overrides(k: &ApplicationSourceKustomize, with_images: bool) -> bool {
    k.name_prefix.as_deref().is_some_and(|s| !s.is_empty())
        || k.name_suffix.as_deref().is_some_and(|s| !s.is_empty())
        || (with_images && k.images.as_ref().is_some_and(|v| !v.is_empty()))
        || k.common_labels.as_ref().is_some_and(|v| !v.is_empty())
        || k.common_annotations.as_ref().is_some_and(|v| !v.is_empty())
        || k.namespace.as_deref().is_some_and(|s| !s.is_empty())
}

/// Argo CD applies `source.kustomize` with `kustomize edit set …` on the app's directory; fjord
/// gets the result without touching the shared tree and without reading any file: a
/// kustomization level of transformers only, applied in memory above the app's kustomization.
/// `images` are not part of it when the directory has a kustomization ([`set_images`] edits
/// that file's text instead); without one the renderer refuses every option.
fn overrides(k: &ApplicationSourceKustomize, with_images: bool) -> Value {
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
    if let Some(images) = k.images.as_ref().filter(|v| with_images && !v.is_empty()) {
        doc.insert("images".into(), json!(images));
    }
    Value::Object(doc)
}

/// The app's kustomization after `kustomize edit set image IMAGES...`, as Argo CD runs it before
/// the build: an entry of the same name is replaced, the list sorted (fjord_image::setimage, byte
/// for byte what kustomize writes). Read from the exported tree, which stays untouched.
fn set_images(
    dir: &Path,
    file: Option<&&str>,
    images: &[String],
) -> Result<Vec<u8>, ControllerError> {
    let err = |source| ControllerError::KustomizeImages { source };
    let args = fjord_image::setimage::parse_args(images).map_err(err)?;
    let name = file.copied().unwrap_or("kustomization.yaml");
    let text = std::fs::read(dir.join(name)).map_err(|e| {
        err(fjord_image::setimage::SetImageError::Io {
            path: PathBuf::from(name),
            source: e,
        })
    })?;
    let text = String::from_utf8_lossy(&text);
    fjord_image::setimage::set_image(&text, &args)
        .map(String::into_bytes)
        .map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_replace_the_kustomization_entry_of_the_same_name() {
        // The seeds' overlay renames `my-app`; Argo CD's `kustomize edit set image` replaces
        // that entry, so the override wins (an extra level above would no longer match).
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("kustomization.yaml"),
            "resources:\n- deployment.yaml\nimages:\n- name: my-app\n  newName: registry.local/app\n  newTag: v1\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("deployment.yaml"),
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: my-app\n",
        )
        .unwrap();
        let images = vec!["my-app=registry.local/app:v2".to_string()];
        let root = set_images(dir.path(), Some(&"kustomization.yaml"), &images).unwrap();
        let opts = RenderOptions {
            root_kustomization: Some(root),
            ..RenderOptions::default()
        };
        let out = fjord_render::render(dir.path(), &opts).unwrap();
        let image = out[0].get_path(&["spec", "template", "spec", "containers"]);
        let image = image.and_then(|c| c.as_seq()).unwrap()[0].str_at(&["image"]);
        assert_eq!(image, Some("registry.local/app:v2"));
        // The exported tree is untouched.
        let text = std::fs::read_to_string(dir.path().join("kustomization.yaml")).unwrap();
        assert!(text.contains("newTag: v1"), "{text}");
        // A malformed entry is refused with kustomize's message.
        let err = set_images(dir.path(), Some(&"kustomization.yaml"), &["nginx".into()]);
        assert!(matches!(err, Err(ControllerError::KustomizeImages { .. })));
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
