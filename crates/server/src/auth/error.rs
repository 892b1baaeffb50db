//! Why setting up or changing the authentication state failed.

/// A failed step of the auth module (never carries a secret value).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A Kubernetes request failed.
    #[error("{step}")]
    Client {
        /// What was being done (names the object).
        step: &'static str,
        /// The cause.
        #[source]
        source: fjord_client::ClientError,
    },
    /// The operating system's random generator failed.
    #[error("reading random bytes: {0}")]
    Random(String),
    /// Hashing a password failed.
    #[error("hashing the admin password: {0}")]
    Hash(String),
    /// Other servers kept changing `argocd-secret` while this one tried to write it.
    #[error("Secret argocd-secret kept changing while being written (10 attempts)")]
    Contended,
}
