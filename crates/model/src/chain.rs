//! An error and its causes on one line, the workspace's convention: each `Display` names its
//! own step and object only, so the causes are joined, none repeated and none stripped.

use std::error::Error;

/// `err` and every cause below it, outermost first, joined by `": "`.
///
/// ```
/// #[derive(Debug, thiserror::Error)]
/// #[error("reading {path}")]
/// struct Read {
///     path: &'static str,
///     #[source]
///     source: std::io::Error,
/// }
///
/// let e = Read { path: "a.yaml", source: std::io::Error::other("denied") };
/// assert_eq!(fjord_model::chain(&e), "reading a.yaml: denied");
/// ```
pub fn chain(err: &(dyn Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::chain;

    #[derive(Debug, thiserror::Error)]
    #[error("writing {0}")]
    struct Outer(&'static str, #[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error("encoding")]
    struct Middle(#[source] std::io::Error);

    #[test]
    fn every_cause_is_shown_once_outermost_first() {
        let e = Outer("f", Middle(std::io::Error::other("disk full")));
        assert_eq!(chain(&e), "writing f: encoding: disk full");
        let plain = std::io::Error::other("alone");
        assert_eq!(chain(&plain), "alone");
    }
}
