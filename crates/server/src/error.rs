//! Errors: [`ServerError`] for start-up (a step and its cause), [`ApiError`] for a request
//! (an HTTP status and a message, written in grpc-gateway v1's body shape as Argo CD's server
//! answers: `{"error", "code", "message", "details"}`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why the server could not start. Each variant names the step.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Connecting to the Kubernetes API failed.
    #[error("connecting to the Kubernetes API")]
    Connect(#[source] fjord_client::ClientError),
    /// Binding the listen address failed.
    #[error("listening on {addr}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A TLS certificate or key file could not be read or used.
    #[error("TLS {what} {path}")]
    TlsFile {
        /// `certificate` or `key`.
        what: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The TLS configuration was refused (a key that does not match, no certificate in the file…).
    #[error("TLS configuration: {0}")]
    Tls(String),
    /// Preparing the authentication state (admin account, signing key) failed.
    #[error("setting up authentication in namespace {namespace}")]
    Auth {
        /// The control-plane namespace.
        namespace: String,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// A request's failure: the HTTP status and a message (never a secret value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The message.
    pub message: String,
}

impl ApiError {
    /// An error with this status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
    /// 400: the request is malformed (the message names the parameter or field).
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
    /// 401: no valid session or token.
    pub fn unauthenticated(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, message)
    }
    /// 403 with Argo CD's text, `permission denied: <resource>, <action>, <object>`.
    pub fn forbidden(resource: &str, action: &str, object: &str) -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            format!("permission denied: {resource}, {action}, {object}"),
        )
    }
    /// 404: the named thing does not exist.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }
    /// 409: a conflicting state (an operation already running…).
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, message)
    }
    /// 503: the Kubernetes API cannot be reached.
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }
    /// 500: an unexpected failure (the message says which step).
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// The gRPC code grpc-gateway maps to this HTTP status.
    fn grpc_code(&self) -> u16 {
        match self.status.as_u16() {
            400 => 3,
            401 => 16,
            403 => 7,
            404 => 5,
            409 => 6,
            429 => 8,
            503 => 14,
            504 => 4,
            _ => 2,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.status)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": self.message,
            "code": self.grpc_code(),
            "message": self.message,
            "details": [],
        });
        crate::json(self.status, &body)
    }
}
