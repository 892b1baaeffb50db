//! Parameter override files, as Argo CD's repo server reads them: `.argocd-source.yaml` and then
//! `.argocd-source-<instance>.yaml` in the app's directory, each an RFC 7386 merge patch onto the
//! Application's `source`. Image updaters write the second one (`kustomize.images`). A change the
//! files make to `repoURL`, `path`, `targetRevision` or `chart` is dropped, as Argo CD drops it.

use std::io::Read;
use std::path::Path;

use serde_json::Value;

use super::ControllerError;
use crate::api::{Application, ApplicationSource};

/// The largest override file read (Argo CD's are a few lines).
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// Why an override file could not be used; each variant names the file (relative to the app's
/// directory).
#[derive(Debug, thiserror::Error)]
pub enum OverrideError {
    /// The file could not be read.
    #[error("reading {file}")]
    Read {
        /// The file.
        file: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than 1 MiB.
    #[error("{file} is larger than {MAX_FILE_BYTES} bytes")]
    TooLarge {
        /// The file.
        file: String,
    },
    /// The file is not YAML.
    #[error("parsing {file}")]
    Parse {
        /// The file.
        file: String,
        /// The cause.
        #[source]
        source: fjord_yaml::ParseError,
    },
    /// The file is YAML but not a mapping.
    #[error("{file}: expected a mapping of source fields")]
    NotAMapping {
        /// The file.
        file: String,
    },
    /// The merged source has no JSON form.
    #[error("{file}: the merged source has no JSON form")]
    Json {
        /// The file.
        file: String,
        /// The cause.
        #[source]
        source: fjord_yaml::EmitError,
    },
    /// The merged source does not decode as an Application source.
    #[error("{file}: the merged source is not a valid Application source")]
    Decode {
        /// The file.
        file: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}

/// Argo CD's instance name of an app: its name, or `<namespace>_<name>` when the app lives
/// outside the controller's namespace.
pub fn instance_name(app: &Application, controller_namespace: &str) -> String {
    match app.namespace() {
        "" => app.name().to_string(),
        ns if ns == controller_namespace => app.name().to_string(),
        ns => format!("{ns}_{}", app.name()),
    }
}

/// `source` with the override files of `dir` (the exported app directory) applied.
pub fn apply(
    dir: &Path,
    instance: &str,
    source: &ApplicationSource,
) -> Result<ApplicationSource, ControllerError> {
    apply_files(dir, instance, source)
        .map_err(|source| ControllerError::ParameterOverrides { source })
}

fn apply_files(
    dir: &Path,
    instance: &str,
    source: &ApplicationSource,
) -> Result<ApplicationSource, OverrideError> {
    let files = [
        ".argocd-source.yaml".to_string(),
        format!(".argocd-source-{instance}.yaml"),
    ];
    let mut merged: Option<fjord_yaml::Node> = None;
    let mut last_file = String::new();
    for file in files {
        let Some(patch) = read_patch(dir, &file)? else {
            continue;
        };
        let target = merged.get_or_insert_with(|| {
            let json = serde_json::to_value(source).unwrap_or(Value::Null);
            fjord_yaml::from_json_value(&json)
        });
        fjord_merge::merge_patch::apply_object(target, &patch)
            .map_err(|_| OverrideError::NotAMapping { file: file.clone() })?;
        last_file = file;
    }
    let Some(merged) = merged else {
        return Ok(source.clone());
    };
    let decode = |source| OverrideError::Decode {
        file: last_file.clone(),
        source,
    };
    let json = fjord_yaml::to_json_value(&merged).map_err(|source| OverrideError::Json {
        file: last_file.clone(),
        source,
    })?;
    let mut out: ApplicationSource = serde_json::from_value(json).map_err(decode)?;
    out.repo_url = source.repo_url.clone();
    out.path = source.path.clone();
    out.target_revision = source.target_revision.clone();
    out.chart = source.chart.clone();
    Ok(out)
}

/// The file as a mapping, or None when it does not exist. A symlink is followed only inside the
/// export (the export already refused any that leave the repository).
fn read_patch(dir: &Path, file: &str) -> Result<Option<fjord_yaml::Node>, OverrideError> {
    let path = dir.join(file);
    let f = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(OverrideError::Read {
                file: file.into(),
                source,
            })
        }
    };
    let mut bytes = Vec::new();
    f.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| OverrideError::Read {
            file: file.into(),
            source,
        })?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(OverrideError::TooLarge { file: file.into() });
    }
    let node = fjord_yaml::parse_document(&bytes).map_err(|source| OverrideError::Parse {
        file: file.into(),
        source,
    })?;
    if node.is_null() {
        return Ok(None);
    }
    if node.as_map().is_none() {
        return Err(OverrideError::NotAMapping { file: file.into() });
    }
    Ok(Some(node))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> ApplicationSource {
        serde_json::from_value(serde_json::json!({
            "repoURL": "https://git.example/config.git",
            "path": "apps/web",
            "targetRevision": "main",
            "kustomize": {"images": ["web=registry.local/web:1.0.0"], "namePrefix": "p-"},
        }))
        .unwrap()
    }

    fn images(s: &ApplicationSource) -> Vec<String> {
        s.kustomize
            .as_ref()
            .and_then(|k| k.images.clone())
            .unwrap_or_default()
    }

    #[test]
    fn instance_file_wins_and_lists_are_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(".argocd-source.yaml"),
            "kustomize:\n  images:\n  - web=registry.local/web:1.1.0\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join(".argocd-source-web.yaml"),
            "kustomize:\n  images:\n  - web=registry.local/web:1.2.0\n",
        )
        .unwrap();
        let out = apply_files(dir.path(), "web", &source()).unwrap();
        assert_eq!(images(&out), ["web=registry.local/web:1.2.0"]);
        assert_eq!(
            out.kustomize.as_ref().unwrap().name_prefix.as_deref(),
            Some("p-")
        );
        // Another app's file is not read.
        let other = apply_files(dir.path(), "api", &source()).unwrap();
        assert_eq!(images(&other), ["web=registry.local/web:1.1.0"]);
    }

    #[test]
    fn location_fields_cannot_be_overridden() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(".argocd-source-web.yaml"),
            "repoURL: https://evil.example/x.git\npath: /etc\ntargetRevision: other\n",
        )
        .unwrap();
        let out = apply_files(dir.path(), "web", &source()).unwrap();
        assert_eq!(out.repo_url, source().repo_url);
        assert_eq!(out.path, source().path);
        assert_eq!(out.target_revision, source().target_revision);
    }

    #[test]
    fn no_file_leaves_the_source_and_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(apply_files(dir.path(), "web", &source()).unwrap(), source());
        std::fs::write(dir.path().join(".argocd-source-web.yaml"), "- a\n- b\n").unwrap();
        let err = apply_files(dir.path(), "web", &source()).unwrap_err();
        assert!(err.to_string().contains(".argocd-source-web.yaml"), "{err}");
        std::fs::write(
            dir.path().join(".argocd-source-web.yaml"),
            "kustomize: {images: 3}\n",
        )
        .unwrap();
        let err = apply_files(dir.path(), "web", &source()).unwrap_err();
        assert!(matches!(err, OverrideError::Decode { .. }), "{err}");
        std::fs::write(dir.path().join(".argocd-source-web.yaml"), "a: [\n").unwrap();
        let err = apply_files(dir.path(), "web", &source()).unwrap_err();
        assert!(matches!(err, OverrideError::Parse { .. }), "{err}");
    }

    #[test]
    fn instance_names_follow_argo_cd() {
        let app: Application = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "argocd"}
        }))
        .unwrap();
        assert_eq!(instance_name(&app, "argocd"), "web");
        assert_eq!(instance_name(&app, "fjord"), "argocd_web");
    }
}
