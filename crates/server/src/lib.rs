//! fjord's API server (`fjord server`): Argo CD's REST paths under `/api/v1` served from a shared
//! watch cache of Applications, AppProjects and the live objects of their trees; sessions, API
//! tokens and Argo CD's RBAC model; and the web UI, built with Vite and embedded in the binary.
//!
//! Layout: `options.rs` (typed options), `state.rs` (what handlers share), `error.rs` (the
//! start-up error and the API error body), `http.rs` (listener, TLS, layers), `cache/` (watch
//! caches), `auth/` (accounts, sessions, tokens, RBAC, CSRF), `api/` (one module a group of
//! routes), `assets.rs` (the embedded UI).

pub mod api;
pub mod assets;
pub mod auth;
pub mod cache;
pub mod error;
pub mod http;
pub mod options;
pub mod state;
pub mod tls;

pub use api::body::json;
pub use auth::{Auth, Caller};
pub use cache::{apps::AppCache, live::LiveCache};
pub use error::{ApiError, ServerError};
pub use http::{start, ServerHandle};
pub use options::{ServerOptions, TlsMode};
pub use state::AppState;
