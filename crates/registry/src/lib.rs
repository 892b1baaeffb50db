//! A small async OCI distribution (Docker registry v2) client, as fjord's image updater needs it.
//!
//! - [`RegistryConf`]: Argo CD Image Updater's `registries.conf` (unknown fields are errors);
//!   [`RegistryConf::endpoint_for_host`] gives the [`Endpoint`] of an image's registry (a
//!   configured prefix, the `default: true` entry, the built-in Docker Hub, or `https://<host>`).
//! - [`credentials_from_docker_config`]: a pull secret's `.dockerconfigjson` entry for a registry.
//! - [`RegistryClient`]: `GET /v2/` pings, `WWW-Authenticate` challenges (Basic and Bearer),
//!   bearer tokens (cached per realm, service, scope and credentials for their `expires_in`),
//!   [`list_tags`](RegistryClient::list_tags) with `Link` pagination,
//!   [`tag_meta`](RegistryClient::tag_meta) (manifest digest computed over its bytes; indexes
//!   filtered by [`Platform`]; the newest config `created`), a per-registry rate limit
//!   (`limit` requests/s), one shared cache with single flight (many apps watching one image
//!   cost one tag list per TTL), and a request counter.
//! - [`RegistryError`]: the registry, repository and [`Step`]; never a password or token.
//!
//! ```
//! use fjord_registry::{RegistryConf, RegistryClient, Platform};
//! use std::time::Duration;
//!
//! let conf = RegistryConf::parse(
//!     "registries:\n- name: local\n  prefix: 127.0.0.1:5000\n  api_url: http://127.0.0.1:5000\n",
//! )
//! .unwrap();
//! let ep = conf.endpoint_for_host(Some("127.0.0.1:5000"));
//! assert_eq!(ep.api_url, "http://127.0.0.1:5000");
//! let hub = conf.endpoint_for_host(None);
//! assert_eq!(hub.repository("nginx"), "library/nginx");
//! assert_eq!(Platform::parse("linux/arm64/v8").unwrap().to_string(), "linux/arm64/v8");
//! let client = RegistryClient::new(Duration::from_secs(120)); // nothing sent yet
//! assert_eq!(client.requests(), 0);
//! // With a registry: `client.list_tags(&ep, "team/app", None).await?`.
//! ```

mod auth;
mod cache;
mod client;
mod conf;
mod docker_config;
mod error;
mod headers;
mod manifest;
mod secret;
mod transport;

pub use client::{ClientOptions, RegistryClient, DEFAULT_TIMEOUT};
pub use conf::{
    parse_go_duration, Endpoint, RegistryConf, RegistryEntry, TagSortMode, DOCKER_HUB_API,
    DOCKER_HUB_PREFIX,
};
pub use docker_config::credentials_from_docker_config;
pub use error::{Cause, RegistryError, Step};
pub use headers::{next_link, parse_challenges, Challenge};
pub use manifest::{
    sha256_digest, Platform, TagMeta, DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST,
};
pub use secret::{Credentials, SecretString};
pub use transport::MAX_RESPONSE_BYTES;
