//! The server's options, typed and checked once (the CLI parses flags into these).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use fjord_client::ClientOptions;

/// The default listen address: clashes with none of fjord's other listeners (local API 6443,
/// metrics 8082, webhook 8083, Sealed Secrets 8080).
pub const DEFAULT_ADDR: &str = "127.0.0.1:8088";

/// How the server speaks TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain HTTP (behind a TLS-terminating proxy, or on localhost).
    Plain,
    /// A certificate and key read from PEM files.
    Files {
        /// The certificate chain (PEM).
        cert: PathBuf,
        /// The private key (PEM).
        key: PathBuf,
    },
    /// A self-signed certificate generated at start for the given host names.
    SelfSigned(Vec<String>),
}

/// What `fjord server` runs with.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// How to reach the Kubernetes API.
    pub client: ClientOptions,
    /// The control-plane namespace (Argo CD's `argocd`): settings, secrets, Applications.
    pub namespace: String,
    /// Read only the control-plane namespace (the namespace install's Roles): the live cache and
    /// the Event watch follow that namespace alone instead of every namespace.
    pub namespaced: bool,
    /// Where to listen.
    pub addr: SocketAddr,
    /// TLS.
    pub tls: TlsMode,
    /// Repository cache for renders (managed-resources, manifests).
    pub cache_dir: PathBuf,
    /// A request head (and, with TLS, the handshake) must arrive within this; also closes a
    /// kept-alive connection idle between requests. Default 10 s.
    pub header_read_timeout: Duration,
    /// Open connections at most; a connection beyond the cap is closed at once. Default 1024.
    pub max_connections: usize,
    /// The build's git commit (`GET /api/version` `GitCommit`; the CLI stamps it).
    pub build_commit: String,
    /// The build date (`GET /api/version` `BuildDate`).
    pub build_date: String,
}

impl ServerOptions {
    /// Options with the defaults for everything but the client and cache directory.
    pub fn new(client: ClientOptions, cache_dir: PathBuf) -> ServerOptions {
        ServerOptions {
            client,
            namespace: "argocd".to_string(),
            namespaced: false,
            addr: DEFAULT_ADDR
                .parse()
                .expect("DEFAULT_ADDR is a socket address"),
            tls: TlsMode::Plain,
            cache_dir,
            header_read_timeout: Duration::from_secs(10),
            max_connections: 1024,
            build_commit: "unknown".to_string(),
            build_date: "unknown".to_string(),
        }
    }

    /// Whether the server's cookies carry `Secure` (it serves TLS).
    pub fn secure(&self) -> bool {
        self.tls != TlsMode::Plain
    }
}
