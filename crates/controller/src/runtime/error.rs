//! [`ControllerError`]: every failure of the running controller, naming the step and the object
//! concerned, with its cause kept as the typed [`source`](std::error::Error::source).
//!
//! The convention (the whole workspace's): a variant's `Display` names the step and the object
//! and does not repeat its cause, so an error-chain printer shows each cause once. A variant
//! marked `transparent` adds nothing to a cause that already names its step and object (a
//! repository error names the URL, a sync error the object). [`ControllerError::message`] is the
//! one-line text the controller writes into conditions and logs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use fjord_client::{is_transient_error, ClientError};
use fjord_health::OverridesError;
use fjord_render::RenderError;
use fjord_source::credentials::CredentialError;
use fjord_source::known_hosts::KnownHostsError;
use fjord_source::poll::PollError;
use fjord_source::{RepoError, WebhookError};
use fjord_sync::{CompareError, OptionsError, SyncError};
use fjord_yaml::EmitError;

/// A failure of the controller, naming the step and the object concerned.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// A Kubernetes API call failed.
    #[error("{step}")]
    Client {
        /// What the controller was doing (it names the object).
        step: &'static str,
        /// The cause.
        #[source]
        source: ClientError,
    },
    /// `argocd-cm`'s polling settings (`timeout.reconciliation`, ...) are malformed.
    #[error("ConfigMap argocd-cm")]
    PollSettings {
        /// The cause.
        #[source]
        source: PollError,
    },
    /// `argocd-cm`'s health customizations are malformed.
    #[error("ConfigMap argocd-cm")]
    HealthSettings {
        /// The cause.
        #[source]
        source: OverridesError,
    },
    /// `spec.source.kustomize.images` could not be applied to the app's kustomization.
    #[error("spec.source.kustomize.images")]
    KustomizeImages {
        /// The cause (kustomize's message for `kustomize edit set image`).
        #[source]
        source: fjord_image::setimage::SetImageError,
    },
    /// A parameter override file (`.argocd-source*.yaml`) of the app's directory is unusable.
    #[error("parameter overrides")]
    ParameterOverrides {
        /// The cause (it names the file).
        #[source]
        source: super::overrides::OverrideError,
    },
    /// `argocd-ssh-known-hosts-cm` is malformed.
    #[error("ConfigMap argocd-ssh-known-hosts-cm")]
    KnownHosts {
        /// The cause.
        #[source]
        source: KnownHostsError,
    },
    /// `argocd-secret`'s webhook secrets are malformed.
    #[error("Secret argocd-secret")]
    WebhookSecrets {
        /// The cause.
        #[source]
        source: WebhookError,
    },
    /// A repository Secret is malformed.
    #[error("repository Secrets")]
    RepoCredentials {
        /// The cause.
        #[source]
        source: CredentialError,
    },
    /// A cluster Secret has no `server`.
    #[error("Secret {secret}: no server")]
    ClusterServer {
        /// The Secret's name.
        secret: String,
    },
    /// A cluster Secret's `config` is not JSON.
    #[error("Secret {secret}: config is not JSON")]
    ClusterConfig {
        /// The Secret's name.
        secret: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The Git source could not be fetched, resolved or exported (the error names the URL,
    /// redacted, the step and the revision).
    #[error(transparent)]
    Repo(Box<RepoError>),
    /// Exporting the source went over one of `argocd-cmd-params-cm`'s limits.
    #[error("exporting the source: raise {key} in argocd-cmd-params-cm")]
    ExportLimit {
        /// The `argocd-cmd-params-cm` key of the limit.
        key: &'static str,
        /// The cause.
        #[source]
        source: Box<RepoError>,
    },
    /// Rendering the source failed.
    #[error("rendering {path}")]
    Render {
        /// The source path.
        path: String,
        /// The root of the exported tree, removed from the cause's paths in
        /// [`ControllerError::message`].
        fence: PathBuf,
        /// The `argocd-cmd-params-cm` key of a render limit the source went over.
        limit_key: Option<&'static str>,
        /// The cause (it names the file and field).
        #[source]
        source: Box<RenderError>,
    },
    /// A rendered object could not be converted to JSON.
    #[error("rendering {path}")]
    RenderJson {
        /// The source path.
        path: String,
        /// The root of the exported tree (see [`ControllerError::Render`]).
        fence: PathBuf,
        /// The cause.
        #[source]
        source: EmitError,
    },
    /// The Application object (or a part of it) does not decode.
    #[error("Application {name}")]
    DecodeApp {
        /// The Application.
        name: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The AppProject object does not decode.
    #[error("AppProject {name}")]
    DecodeProject {
        /// The AppProject.
        name: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// An entry of the Application's `spec.ignoreDifferences` is malformed.
    #[error("Application {name}: ignoreDifferences")]
    IgnoreDifferences {
        /// The Application.
        name: String,
        /// The cause.
        #[source]
        source: fjord_diff::OptionsError,
    },
    /// A sync operation has no source and the Application has none either.
    #[error("Application {name}: the sync operation has no source")]
    NoSyncSource {
        /// The Application.
        name: String,
    },
    /// The destination cluster is not known.
    #[error("destination {0}: no such cluster (register it with a cluster Secret)")]
    UnknownCluster(String),
    /// The project does not permit the source an operation names (the project's message).
    #[error("{reason}")]
    SourceNotPermitted {
        /// The Application.
        app: String,
        /// Why the project refuses it.
        reason: String,
    },
    /// The Application's (or the operation's) `syncOptions` are malformed.
    #[error("syncOptions")]
    SyncOptions {
        /// The cause.
        #[source]
        source: OptionsError,
    },
    /// Planning a sync, or listing what an app tracks, failed (the error names the object).
    #[error(transparent)]
    Sync(#[from] SyncError),
    /// Comparing the plan with the live state failed (the error names the object).
    #[error(transparent)]
    Compare(#[from] CompareError),
    /// Binding or serving an HTTP endpoint failed.
    #[error("serving {addr}")]
    Serve {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A blocking task panicked or was cancelled.
    #[error("background task failed")]
    Task(#[source] tokio::task::JoinError),
}

impl From<RepoError> for ControllerError {
    fn from(e: RepoError) -> Self {
        ControllerError::Repo(Box::new(e))
    }
}

impl ControllerError {
    /// The one-line text written into conditions, operation messages and logs: the step and
    /// the object, then every cause once ([`fjord_model::chain()`]). Paths of a render error are
    /// shown relative to the repository, never the controller's cache; a limit's error ends
    /// with the `argocd-cmd-params-cm` key to raise.
    pub fn message(&self) -> String {
        match self {
            ControllerError::ExportLimit { key, source } => format!(
                "{} (raise {key} in argocd-cmd-params-cm)",
                fjord_model::chain(&**source)
            ),
            ControllerError::Render {
                path,
                fence,
                limit_key,
                source,
            } => {
                let hint = limit_key
                    .map(|key| format!(" (raise {key} in argocd-cmd-params-cm)"))
                    .unwrap_or_default();
                let cause = fjord_model::chain(&**source);
                format!(
                    "rendering {path}: {}",
                    relative_to(&format!("{cause}{hint}"), fence)
                )
            }
            ControllerError::RenderJson {
                path,
                fence,
                source,
            } => format!(
                "rendering {path}: {}",
                relative_to(&fjord_model::chain(source), fence)
            ),
            _ => fjord_model::chain(self),
        }
    }

    /// Whether retrying may succeed: a transient API error (429, 5xx, timeouts, refused
    /// connections). Permanent refusals (403, 422) and malformed settings are not.
    pub fn is_transient(&self) -> bool {
        matches!(self, ControllerError::Client { source, .. } if is_transient_error(source))
    }
}

/// `message` with the export root (as given and canonical) removed from every path, so that a
/// condition shows repository paths, never the controller's cache.
pub(super) fn relative_to(message: &str, root: &Path) -> String {
    let mut out = message.to_string();
    let mut roots = vec![root.to_path_buf()];
    if let Ok(c) = root.canonicalize() {
        roots.insert(0, c);
    }
    for r in roots {
        let r = r.display().to_string();
        out = out.replace(&format!("{r}/"), "").replace(&r, ".");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_names_the_step_then_the_cause_once() {
        let source = serde_json::from_str::<serde_json::Value>("{").unwrap_err();
        let cause = source.to_string();
        let e = ControllerError::ClusterConfig {
            secret: "c1".into(),
            source,
        };
        assert_eq!(e.to_string(), "Secret c1: config is not JSON");
        assert_eq!(
            e.message(),
            format!("Secret c1: config is not JSON: {cause}")
        );
        let e = ControllerError::UnknownCluster("https://x".into());
        assert_eq!(e.message(), e.to_string());
    }

    #[test]
    fn a_render_message_hides_the_cache_directory() {
        let fence = PathBuf::from("/cache/export/abc");
        let source = RenderError::Unsupported {
            what: "'/cache/export/abc/apps/x' is not a directory".into(),
        };
        let e = ControllerError::Render {
            path: "apps/x".into(),
            fence,
            limit_key: None,
            source: Box::new(source),
        };
        assert_eq!(e.to_string(), "rendering apps/x");
        assert!(!e.message().contains("/cache/"), "{}", e.message());
        assert!(
            e.message().starts_with("rendering apps/x: "),
            "{}",
            e.message()
        );
    }

    #[test]
    fn messages_show_repository_paths_only() {
        let root = Path::new("/var/cache/fjord/trees/abc/all");
        let msg = "/var/cache/fjord/trees/abc/all/apps/web/kustomization.yaml: resources entry \
                   '../x': /var/cache/fjord/trees/abc/all/x: No such file";
        let out = relative_to(msg, root);
        assert_eq!(
            out,
            "apps/web/kustomization.yaml: resources entry '../x': x: No such file"
        );
        assert!(!out.contains("/var/cache"));
    }
}
