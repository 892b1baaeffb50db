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

/// The first error of type `T` in `err`'s chain (`err` itself included). An `io::Error`'s
/// `source` skips the error it wraps, so the walk steps into that one instead (this is how a
/// TLS failure inside a connection error is found).
pub fn find_cause<'a, T: Error + 'static>(err: &'a (dyn Error + 'static)) -> Option<&'a T> {
    let mut cur: Option<&(dyn Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        cur = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn Error + 'static)),
            None => e.source(),
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{chain, find_cause};

    #[test]
    fn find_cause_steps_into_io_errors() {
        let inner = std::fmt::Error;
        let io = std::io::Error::other(inner);
        let outer = Outer("x", Middle(io));
        assert!(find_cause::<std::fmt::Error>(&outer).is_some());
        assert!(find_cause::<std::num::ParseIntError>(&outer).is_none());
    }

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
