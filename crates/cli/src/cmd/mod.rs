//! Sub-commands.

pub mod local_cluster;
pub mod render;
pub mod seal;

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
