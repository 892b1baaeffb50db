//! The test backend switch.

use std::fmt;

/// The environment variable that picks the backend.
pub const VAR: &str = "FJORD_TEST_BACKEND";

/// Which Kubernetes API server an end-to-end test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `fjord local-cluster`, fjord's embedded API server (the default).
    Local,
    /// The real control plane of `scripts/control-plane.sh` (kube-apiserver v1.34).
    Real,
}

/// `FJORD_TEST_BACKEND` holds something a test process cannot run.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// Not one of `local`, `real`.
    #[error(
        "{VAR}={0:?}: a test process runs one backend, `local` or `real` \
         (scripts/test.sh runs `both` as one pass per backend)"
    )]
    Unknown(String),
}

impl Backend {
    /// Parses a value of `FJORD_TEST_BACKEND`; empty means [`Backend::Local`].
    pub fn parse(value: &str) -> Result<Backend, BackendError> {
        match value.trim() {
            "" | "local" => Ok(Backend::Local),
            "real" => Ok(Backend::Real),
            other => Err(BackendError::Unknown(other.to_string())),
        }
    }

    /// The backend this test process runs against; panics with the reason on a bad value (a
    /// test must not silently pick another backend than the one asked for).
    pub fn current() -> Backend {
        let value = std::env::var(VAR).unwrap_or_default();
        Backend::parse(&value).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Whether this is the real control plane.
    pub fn is_real(self) -> bool {
        self == Backend::Real
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Local => "local",
            Backend::Real => "real",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_two_backends_and_refuses_anything_else() {
        assert_eq!(Backend::parse("").unwrap(), Backend::Local);
        assert_eq!(Backend::parse("local").unwrap(), Backend::Local);
        assert_eq!(Backend::parse(" real\n").unwrap(), Backend::Real);
        let e = Backend::parse("both").unwrap_err().to_string();
        assert!(
            e.contains("\"both\"") && e.contains("scripts/test.sh"),
            "{e}"
        );
        assert!(Backend::parse("kind").is_err());
    }
}
