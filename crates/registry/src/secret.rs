//! [`SecretString`] and [`Credentials`]: passwords and tokens that never print.

use std::fmt;

use sha2::{Digest, Sha256};

pub use fjord_model::SecretString;

/// A registry user name and password (or access token used as a password).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password; never printed.
    pub password: SecretString,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &self.password)
            .finish()
    }
}

impl Credentials {
    /// Credentials of `username` and `password`.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials {
            username: username.into(),
            password: SecretString::new(password),
        }
    }

    /// `user:pass` text (an `env:` or `secret:` reference's value); `None` without a `:`.
    pub fn from_user_pass(text: &str) -> Option<Credentials> {
        let (user, pass) = text.trim_end_matches(['\r', '\n']).split_once(':')?;
        Some(Credentials::new(user, pass))
    }

    /// A key naming these credentials in caches: the user and a hash of user and password
    /// (two different passwords of one user never share cached answers; the key reveals
    /// nothing usable).
    pub fn identity(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.username.as_bytes());
        h.update([0]);
        h.update(self.password.expose().as_bytes());
        format!("{}#{}", self.username, &hex::encode(h.finalize())[..16])
    }
}

/// The cache identity of optional credentials (`""` for anonymous).
pub(crate) fn identity(creds: Option<&Credentials>) -> String {
    creds.map(Credentials::identity).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let c = Credentials::new("bob", "hunter2");
        let shown = format!("{c:?} {}", c.password);
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("bob"));
        assert!(!c.identity().contains("hunter2"));
        assert_ne!(
            c.identity(),
            Credentials::new("bob", "other").identity(),
            "another password is another identity"
        );
        assert_eq!(identity(None), "");
    }

    #[test]
    fn user_pass_text() {
        let c = Credentials::from_user_pass("bob:pa:ss\n").unwrap();
        assert_eq!((c.username.as_str(), c.password.expose()), ("bob", "pa:ss"));
        assert!(Credentials::from_user_pass("nocolon").is_none());
    }
}
