//! What every handler shares: the options, the Kubernetes client, the caches and the
//! authenticator. Cheap to clone (one `Arc`).

use std::ops::Deref;
use std::sync::Arc;

use fjord_client::Client;

// Through the crate root's re-exports: auth/ and the caches name `AppState` themselves.
use crate::{AppCache, Auth, LiveCache, ServerOptions};

/// The shared state of the server's handlers.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// The parts of [`AppState`].
pub struct Inner {
    /// The options the server started with.
    pub opts: ServerOptions,
    /// The Kubernetes client (the server's own ServiceAccount or kubeconfig).
    pub client: Client,
    /// Applications and AppProjects, from one watch each.
    pub apps: Arc<AppCache>,
    /// The live objects of the apps' resource trees.
    pub live: Arc<LiveCache>,
    /// Accounts, sessions, tokens and the RBAC policy.
    pub auth: Arc<Auth>,
}

impl AppState {
    /// Wraps the parts.
    pub fn new(inner: Inner) -> AppState {
        AppState(Arc::new(inner))
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
