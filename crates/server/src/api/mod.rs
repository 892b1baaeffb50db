//! The JSON API under `/api` with Argo CD's paths and shapes (one module a group of routes).
//!
//! - `apps.rs`: `/api/v1/applications` list and get (with `refresh`), `/api/v1/projects`,
//!   `/api/v1/settings`, `/api/version`; `stream.rs`: `/api/v1/stream/applications`.
//! - `tree.rs`: `resource-tree` and its stream; `resource.rs`: one live object;
//!   `events.rs`: the app's and a resource's Events.
//! - `managed.rs`: `managed-resources` (desired and live, masked, with drift forensics) and
//!   `manifests`.
//! - `actions.rs`: sync, rollback, delete, terminate the operation.
//! - `query.rs`: query strings (unknown parameters refused); `body.rs`: JSON bodies (malformed or
//!   over 1 MiB refused); `lookup.rs`: one app by name with Argo CD's RBAC semantics.

pub mod actions;
pub mod apps;
pub mod body;
pub mod events;
pub mod lookup;
pub mod managed;
pub mod query;
pub mod resource;
pub mod stream;
pub mod tree;

use axum::Router;

use crate::state::AppState;

/// Every API route.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(apps::routes())
        .merge(stream::routes())
        .merge(tree::routes())
        .merge(resource::routes())
        .merge(events::routes())
        .merge(managed::routes())
        .merge(actions::routes())
        .merge(crate::auth::routes())
}
