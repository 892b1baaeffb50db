//! Sub-commands.

pub mod app;
pub mod cache_dir;
pub mod controller;
pub mod diff;
pub mod doctor;
pub mod install;
pub mod kube_args;
pub mod lease_args;
pub mod local_cluster;
pub mod render;
pub mod seal;
pub mod sealed_secrets_controller;
pub mod server;
pub mod set_image;
pub mod signal;
pub mod sync;
pub mod up;

/// An error and its causes on one line, outermost first, each once (the workspace's
/// convention: a message names its own step and object, never its cause's text).
pub fn chain(err: &anyhow::Error) -> String {
    err.chain()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}
