//! A small async client of the HashiCorp Vault / OpenBao HTTP API, as fjord's External
//! Secrets controller needs it.
//!
//! - [`Vault`]: one server ([`VaultConfig`]: address, namespace, CA bundle, timeout), one
//!   connection pool over rustls (the CA bundle replaces the system's roots); requests carry
//!   `X-Vault-Token`, `X-Vault-Namespace` and `X-Vault-Request: true`, and are counted
//!   ([`Vault::requests`]).
//! - Logins ([`Login`]: a given token, Kubernetes, AppRole, JWT) give a [`Token`];
//!   [`Vault::lookup_self`] and [`Vault::renew_self`].
//! - [`Vault::read`] (404 is `None`) and [`Vault::list`] for KV v1 and v2 paths.
//! - [`TokenCache`]: one token per store, renewed at half its TTL, replaced when renewal fails,
//!   near its max TTL or after a 403; [`ReadCache`]: reads cached for an interval, concurrent
//!   identical reads sharing one request.
//! - [`VaultError`]: the server, the step, the path, the status and Vault's own messages; never a
//!   secret. Secrets are [`SecretString`]s, printed as `<redacted>`.
//!
//! ```
//! use fjord_vault::{Login, SecretString, Vault, VaultConfig};
//!
//! let mut cfg = VaultConfig::new("https://vault.example:8200");
//! cfg.namespace = Some("team-a".into());
//! let vault = Vault::new(cfg).unwrap(); // nothing is sent yet
//! assert_eq!(vault.requests(), 0);
//!
//! let login = Login::AppRole {
//!     mount: "approle".into(),
//!     role_id: "db-reader".into(),
//!     secret_id: SecretString::new("s3cr3t"),
//! };
//! assert!(!format!("{login:?}").contains("s3cr3t"));
//! assert_eq!(SecretString::new("s3cr3t").to_string(), "<redacted>");
//!
//! // With a server: `let token = vault.login(&login, None).await?;`
//! // then `vault.read(&token, "secret/data/production/db").await?`.
//! assert!(Vault::new(VaultConfig::new("vault:8200")).is_err()); // no scheme
//! ```

mod auth;
mod cache;
mod client;
mod error;
#[cfg(test)]
mod fake;
mod kv;
mod tokens;

pub use auth::{Login, Token};
pub use cache::ReadCache;
pub use client::{
    Vault, VaultConfig, DEFAULT_TIMEOUT, MAX_CONCURRENT_REQUESTS, MAX_RESPONSE_BYTES,
};
pub use error::{Cause, VaultError};
pub use fjord_model::SecretString;
pub use tokens::TokenCache;
