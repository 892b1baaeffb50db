//! [`UpdaterError`]: the updater's failures, one variant a step, never holding a credential.

use std::path::PathBuf;

use fjord_client::{is_transient_error, ClientError};

/// A failure of the updater: the step, the object it concerns, the cause as `#[source]`.
#[derive(Debug, thiserror::Error)]
pub enum UpdaterError {
    /// Connecting to the cluster failed.
    #[error("connecting to the cluster")]
    Connect(#[source] ClientError),
    /// A kind could not be resolved through discovery.
    #[error("resolving {kind}")]
    Resolve {
        /// `apiVersion kind` looked up.
        kind: String,
        /// The cause.
        #[source]
        source: ClientError,
    },
    /// The updater's repository cache could not be created.
    #[error("creating the repository cache {}", path.display())]
    RepoCache {
        /// Its directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: fjord_source::RepoError,
    },
    /// An API request failed.
    #[error("{what}")]
    Api {
        /// The request, e.g. "listing Applications in argocd".
        what: String,
        /// The cause.
        #[source]
        source: ClientError,
    },
    /// ConfigMap `argocd-image-updater-config` asks for commit signing, which fjord does not
    /// do: refused rather than pushing unsigned commits.
    #[error("ConfigMap {namespace}/{name} key {key}: commit signing is not supported by fjord (remove the key to push unsigned commits)")]
    SigningUnsupported {
        /// The ConfigMap's namespace.
        namespace: String,
        /// The ConfigMap's name.
        name: String,
        /// The key.
        key: String,
    },
    /// ConfigMap `argocd-image-updater-config` key `registries.conf` is malformed.
    #[error("ConfigMap {namespace}/{name} key registries.conf")]
    RegistriesConf {
        /// The ConfigMap's namespace.
        namespace: String,
        /// The ConfigMap's name.
        name: String,
        /// The cause.
        #[source]
        source: fjord_registry::RegistryError,
    },
    /// The loop task panicked or was cancelled.
    #[error("the image updater task ended unexpectedly")]
    Task,
}

impl UpdaterError {
    /// Whether retrying may succeed (a transient API error while starting).
    pub fn is_transient(&self) -> bool {
        match self {
            UpdaterError::Connect(source)
            | UpdaterError::Resolve { source, .. }
            | UpdaterError::Api { source, .. } => is_transient_error(source),
            _ => false,
        }
    }
}
