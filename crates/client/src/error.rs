//! Errors of the Kubernetes client, one variant per step.

use std::path::PathBuf;

/// A failure talking to the Kubernetes API.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No kubeconfig was given, neither `$KUBECONFIG` nor `~/.kube/config` exists, and the
    /// process does not run in a cluster (`KUBERNETES_SERVICE_HOST`/`PORT` unset).
    #[error(
        "no kubeconfig: pass --kubeconfig, set $KUBECONFIG or create ~/.kube/config \
         (or run in a cluster, with KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT set)"
    )]
    NoKubeconfig,
    /// The in-cluster configuration is incomplete: a service-account file is unreadable or
    /// `KUBERNETES_SERVICE_PORT` is not a port.
    #[error("in-cluster configuration: {what} {path}: {reason}")]
    InCluster {
        /// What was being read (`service-account token`, `KUBERNETES_SERVICE_PORT`…).
        what: &'static str,
        /// The file (or variable) concerned.
        path: PathBuf,
        /// Why it is unusable.
        reason: String,
    },
    /// The kubeconfig could not be read or parsed.
    #[error("reading kubeconfig {path}")]
    ReadKubeconfig {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: Foreign<kube::config::KubeconfigError>,
    },
    /// The kubeconfig's context could not be turned into a client configuration.
    #[error("loading context {context} (user {user}) from {path}")]
    LoadContext {
        /// The file (the `:`-joined list of a merged `$KUBECONFIG`).
        path: PathBuf,
        /// The context (`current-context` when none was chosen).
        context: String,
        /// The context's `user` (`?` when the context names none or does not exist).
        user: String,
        /// The cause.
        #[source]
        source: Foreign<kube::config::KubeconfigError>,
    },
    /// The HTTP client could not be built.
    #[error("building the client")]
    BuildClient(#[source] Foreign<kube::Error>),
    /// The API does not serve the object's kind.
    #[error("the server does not serve {api_version} {kind}")]
    UnknownKind {
        /// `apiVersion` of the object.
        api_version: String,
        /// `kind` of the object.
        kind: String,
    },
    /// Discovery of a group/version failed.
    #[error("discovering {api_version} {kind}")]
    Discover {
        /// `apiVersion` looked up.
        api_version: String,
        /// `kind` looked up.
        kind: String,
        /// The cause.
        #[source]
        source: Foreign<kube::Error>,
    },
    /// An object lacks `apiVersion`, `kind` or `metadata.name`.
    #[error("object has no {field}")]
    MissingField {
        /// The missing field path.
        field: &'static str,
    },
    /// An API request failed (after retries, for transient errors).
    #[error("{verb} {kind} {target}")]
    Request {
        /// The request (`get`, `apply`, `delete`…).
        verb: &'static str,
        /// The kind concerned.
        kind: String,
        /// `namespace/name` (or the namespace, for lists).
        target: String,
        /// The cause.
        #[source]
        source: Foreign<kube::Error>,
    },
    /// A response body could not be converted to JSON.
    #[error("decoding {kind} {target}")]
    Decode {
        /// The kind concerned.
        kind: String,
        /// `namespace/name`.
        target: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A CRD did not become Established in time.
    #[error("CustomResourceDefinition {name} not Established after {seconds}s")]
    NotEstablished {
        /// CRD name.
        name: String,
        /// How long we waited.
        seconds: u64,
    },
}

/// A cause from kube, whose errors do not follow the workspace's convention (their `Display`
/// repeats their own cause): shown whole as one cause, with no source of its own, so that an
/// error-chain printer shows it once.
///
/// An API error reads as the server's own message with its reason and code (kube's `Display`
/// repeats the message inside a debug dump); any other error reads as its text, then each
/// deeper cause that text does not already spell.
#[derive(Debug)]
pub struct Foreign<E>(Box<E>);

impl<E> Foreign<E> {
    /// Wraps a kube error.
    pub fn new(e: E) -> Self {
        Foreign(Box::new(e))
    }
}

impl<E> std::ops::Deref for Foreign<E> {
    type Target = E;
    fn deref(&self) -> &E {
        &self.0
    }
}

impl std::fmt::Display for Foreign<kube::Error> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.0 {
            kube::Error::Api(resp) => {
                write!(f, "{} ({}, HTTP {})", resp.message, resp.reason, resp.code)
            }
            other => f.write_str(&flatten(other)),
        }
    }
}

impl std::fmt::Display for Foreign<kube::config::KubeconfigError> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&flatten(&*self.0))
    }
}

impl<E: std::fmt::Debug> std::error::Error for Foreign<E> where Foreign<E>: std::fmt::Display {}

/// `err`'s text, then each deeper cause whose text it does not already contain (kube's
/// messages spell their causes, mostly).
fn flatten(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

impl ClientError {
    /// The HTTP status of an API error, if this is one.
    pub fn status_code(&self) -> Option<u16> {
        match self {
            ClientError::Request { source, .. } | ClientError::Discover { source, .. } => {
                match &**source {
                    kube::Error::Api(resp) => Some(resp.code),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Whether this is a 404 Not Found.
    pub fn is_not_found(&self) -> bool {
        self.status_code() == Some(404)
    }

    /// Whether this is a 409 Conflict.
    pub fn is_conflict(&self) -> bool {
        self.status_code() == Some(409)
    }
}

/// Whether a kube error is worth retrying: 429, 5xx, timeouts and connection failures.
pub fn is_transient(err: &kube::Error) -> bool {
    match err {
        kube::Error::Api(resp) => resp.code == 429 || resp.code >= 500,
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_request_reads_as_the_servers_message_once() {
        let e = ClientError::Request {
            verb: "apply",
            kind: "ConfigMap".into(),
            target: "default/Bad_Name".into(),
            source: Foreign::new(kube::Error::Api(kube::core::ErrorResponse {
                status: "Failure".into(),
                message: "ConfigMap \"Bad_Name\" is invalid".into(),
                reason: "Invalid".into(),
                code: 422,
            })),
        };
        assert_eq!(e.to_string(), "apply ConfigMap default/Bad_Name");
        let text = fjord_model::chain(&e);
        assert_eq!(
            text,
            "apply ConfigMap default/Bad_Name: ConfigMap \"Bad_Name\" is invalid (Invalid, HTTP 422)"
        );
        assert_eq!(e.status_code(), Some(422));
    }
}
