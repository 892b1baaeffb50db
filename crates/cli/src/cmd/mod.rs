//! Sub-commands.

pub mod app;
pub mod controller;
pub mod diff;
pub mod doctor;
pub mod kube_args;
pub mod local_cluster;
pub mod render;
pub mod seal;
pub mod sync;
pub mod up;

/// An error and its causes on one line, outermost first, without repeating a cause whose text
/// the outer message already contains.
pub fn chain(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}
