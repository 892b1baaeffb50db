//! [`VaultError`]: every failure of the client. Messages name the server, the step and the
//! request path, and carry Vault's own error strings; never a request or response body's data,
//! never a token.

use std::sync::Arc;
use std::time::Duration;

/// A boxed, shareable cause.
pub type Cause = Arc<dyn std::error::Error + Send + Sync>;

/// A failure talking to Vault. Cheap to clone (causes are shared), so one failed request can
/// be handed to every reader waiting on it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum VaultError {
    /// The client configuration is unusable (server address, CA bundle, namespace, token).
    #[error("vault {server}: invalid configuration: {reason}")]
    Config {
        /// The server as configured.
        server: String,
        /// What is wrong.
        reason: String,
    },
    /// The request path cannot be sent.
    #[error("vault {server}: invalid request path {path:?}: {reason}")]
    Path {
        /// The server.
        server: String,
        /// The path (after `/v1/`).
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// No connection (refused, unreachable, reset, DNS).
    #[error("vault {server}: connecting")]
    Connect {
        /// The server.
        server: String,
        /// The transport's error.
        #[source]
        source: Cause,
    },
    /// The TLS handshake failed (e.g. a certificate from an unknown CA).
    #[error("vault {server}: TLS: {reason}")]
    Tls {
        /// The server.
        server: String,
        /// rustls's reason.
        reason: String,
    },
    /// No complete answer within the timeout.
    #[error("vault {server}: {method} /v1/{path}: no answer within {after:?}")]
    Timeout {
        /// The server.
        server: String,
        /// The HTTP method.
        method: String,
        /// The path (after `/v1/`).
        path: String,
        /// The timeout.
        after: Duration,
    },
    /// Reading the response failed midway.
    #[error("vault {server}: {method} /v1/{path}: reading the response")]
    Read {
        /// The server.
        server: String,
        /// The HTTP method.
        method: String,
        /// The path (after `/v1/`).
        path: String,
        /// The transport's error.
        #[source]
        source: Cause,
    },
    /// The response is larger than the client accepts.
    #[error("vault {server}: {method} /v1/{path}: response over {limit} bytes refused")]
    TooLarge {
        /// The server.
        server: String,
        /// The HTTP method.
        method: String,
        /// The path (after `/v1/`).
        path: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// Vault answered with an error status; `errors` are Vault's own messages.
    #[error("vault {server}: {method} /v1/{path}: status {status}{}", errors_suffix(.errors))]
    Status {
        /// The server.
        server: String,
        /// The HTTP method.
        method: String,
        /// The path (after `/v1/`).
        path: String,
        /// The HTTP status.
        status: u16,
        /// The `errors` strings of Vault's error body.
        errors: Vec<String>,
    },
    /// The response is not JSON.
    #[error("vault {server}: /v1/{path}: the response is not JSON")]
    Decode {
        /// The server.
        server: String,
        /// The path (after `/v1/`).
        path: String,
        /// The JSON parser's error (position and category only).
        #[source]
        source: Arc<serde_json::Error>,
    },
    /// The response is JSON but lacks what the call needs.
    #[error("vault {server}: /v1/{path}: unexpected response: {reason}")]
    Response {
        /// The server.
        server: String,
        /// The path (after `/v1/`).
        path: String,
        /// What is missing or mistyped (a field name, never a value).
        reason: String,
    },
    /// Logging in (or looking up a given token) failed.
    #[error("vault {server}: login at auth/{mount}")]
    Login {
        /// The server.
        server: String,
        /// The auth mount (`kubernetes`, `approle`, `jwt`, `token`).
        mount: String,
        /// Why.
        #[source]
        source: Arc<VaultError>,
    },
}

fn errors_suffix(errors: &[String]) -> String {
    let errors: Vec<String> = errors
        .iter()
        .map(|e| e.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|e| !e.is_empty())
        .collect();
    if errors.is_empty() {
        String::new()
    } else {
        format!(": {}", errors.join("; "))
    }
}

impl VaultError {
    /// Whether retrying later may help: no connection, a timeout, a broken response, or a
    /// status of 429 (rate limit, standby) or 5xx (sealed, unavailable). Configuration errors,
    /// TLS failures and 4xx answers are not.
    pub fn is_transient(&self) -> bool {
        match self {
            VaultError::Connect { .. } | VaultError::Timeout { .. } | VaultError::Read { .. } => {
                true
            }
            VaultError::Status { status, .. } => *status == 429 || *status >= 500,
            VaultError::Login { source, .. } => source.is_transient(),
            VaultError::Config { .. }
            | VaultError::Path { .. }
            | VaultError::Tls { .. }
            | VaultError::TooLarge { .. }
            | VaultError::Decode { .. }
            | VaultError::Response { .. } => false,
        }
    }

    /// The HTTP status Vault answered with, if this is (or wraps) a status error.
    pub fn status(&self) -> Option<u16> {
        match self {
            VaultError::Status { status, .. } => Some(*status),
            VaultError::Login { source, .. } => source.status(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, errors: &[&str]) -> VaultError {
        VaultError::Status {
            server: "https://vault:8200".into(),
            method: "GET".into(),
            path: "secret/data/x".into(),
            status: code,
            errors: errors.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn status_errors_print_vaults_messages_on_one_line() {
        assert_eq!(
            status(403, &["1 error occurred:\n\t* permission denied\n\n"]).to_string(),
            "vault https://vault:8200: GET /v1/secret/data/x: status 403: 1 error occurred: * \
             permission denied"
        );
        assert_eq!(
            status(404, &[]).to_string(),
            "vault https://vault:8200: GET /v1/secret/data/x: status 404"
        );
    }

    #[test]
    fn transient_are_connection_timeouts_429_and_5xx() {
        assert!(status(503, &[]).is_transient());
        assert!(status(429, &[]).is_transient());
        assert!(!status(403, &[]).is_transient());
        assert!(!status(400, &[]).is_transient());
        let connect = VaultError::Connect {
            server: "s".into(),
            source: Arc::new(std::io::Error::other("refused")),
        };
        assert!(connect.is_transient());
        assert_eq!(connect.status(), None);
        let login = VaultError::Login {
            server: "s".into(),
            mount: "approle".into(),
            source: Arc::new(status(403, &["permission denied"])),
        };
        assert!(!login.is_transient());
        assert_eq!(login.status(), Some(403));
        let tls = VaultError::Tls {
            server: "s".into(),
            reason: "invalid peer certificate: UnknownIssuer".into(),
        };
        assert!(!tls.is_transient());
    }
}
