//! Raw requests through the API server: a path (`/api/v1/namespaces/kube-system/services/…/proxy/…`)
//! sent with the kubeconfig's address, credentials and TLS settings, answered with the status
//! and the body whatever the status. Used for the service proxy (`fjord seal` reaching the
//! Sealed Secrets controller as `kubeseal` does).

use crate::Client;

/// The answer of a raw request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The `Content-Type` header, when present.
    pub content_type: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

/// A raw request that could not be made or answered. The messages name the method and the
/// path, never credentials.
#[derive(Debug, thiserror::Error)]
pub enum RawError {
    /// The request could not be built (a malformed path).
    #[error("{method} {path}: invalid request")]
    Build {
        /// The method.
        method: &'static str,
        /// The path.
        path: String,
        /// The cause.
        #[source]
        source: http::Error,
    },
    /// The API server could not be reached or the exchange failed.
    #[error("{method} {path}: no answer from the API server")]
    Send {
        /// The method.
        method: &'static str,
        /// The path.
        path: String,
        /// The cause.
        #[source]
        source: crate::Foreign<kube::Error>,
    },
}

impl Client {
    /// `GET path` through the API server (no retries: the caller decides what a status means).
    pub async fn raw_get(&self, path: &str) -> Result<RawResponse, RawError> {
        self.raw("GET", path, None).await
    }

    /// `POST path` with a JSON `body` through the API server.
    pub async fn raw_post(&self, path: &str, body: Vec<u8>) -> Result<RawResponse, RawError> {
        self.raw("POST", path, Some(body)).await
    }

    async fn raw(
        &self,
        method: &'static str,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<RawResponse, RawError> {
        let mut req = http::Request::builder().method(method).uri(path);
        if body.is_some() {
            req = req.header(http::header::CONTENT_TYPE, "application/json");
        }
        let req = req
            .body(kube::client::Body::from(body.unwrap_or_default()))
            .map_err(|source| RawError::Build {
                method,
                path: path.to_string(),
                source,
            })?;
        let send_err = |source| RawError::Send {
            method,
            path: path.to_string(),
            source: crate::Foreign::new(source),
        };
        let res = self.inner.send(req).await.map_err(send_err)?;
        let status = res.status().as_u16();
        let content_type = res
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = res
            .into_body()
            .collect_bytes()
            .await
            .map_err(send_err)?
            .to_vec();
        Ok(RawResponse {
            status,
            content_type,
            body,
        })
    }
}
