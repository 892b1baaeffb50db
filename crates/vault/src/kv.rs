//! Reads and lists (KV v1 and v2 alike: the caller builds the path).

use http::Method;
use serde_json::Value;

use crate::auth::Token;
use crate::client::{Request, Vault};
use crate::error::VaultError;

impl Vault {
    /// `GET /v1/<path>` (in the client's namespace): `Ok(None)` on 404, else the whole JSON
    /// body (KV v2: `data.data` holds the secret, `data.metadata` its version; v1: `data`).
    pub async fn read(&self, token: &Token, path: &str) -> Result<Option<Value>, VaultError> {
        let resp = self
            .send(Request {
                method: Method::GET,
                path,
                token: Some(token.secret()),
                namespace: self.namespace(),
                body: None,
            })
            .await?;
        match resp.status {
            404 => Ok(None),
            200..=299 => resp
                .body
                .map(Some)
                .ok_or_else(|| self.response_error(path, "empty body")),
            _ => Err(self.status_error(&Method::GET, path, &resp)),
        }
    }

    /// `GET /v1/<path>?list=true` (Vault's LIST): `data.keys`; 404 (nothing there) is empty.
    pub async fn list(&self, token: &Token, path: &str) -> Result<Vec<String>, VaultError> {
        let path = format!("{}?list=true", path.trim_end_matches('/'));
        let resp = self
            .send(Request {
                method: Method::GET,
                path: &path,
                token: Some(token.secret()),
                namespace: self.namespace(),
                body: None,
            })
            .await?;
        match resp.status {
            404 => Ok(Vec::new()),
            200..=299 => {
                let keys = resp
                    .body
                    .as_ref()
                    .and_then(|b| b["data"]["keys"].as_array())
                    .ok_or_else(|| self.response_error(&path, "data.keys missing"))?;
                keys.iter()
                    .map(|k| {
                        k.as_str().map(str::to_string).ok_or_else(|| {
                            self.response_error(&path, "data.keys holds a non-string")
                        })
                    })
                    .collect()
            }
            _ => Err(self.status_error(&Method::GET, &path, &resp)),
        }
    }
}
