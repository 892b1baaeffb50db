//! Bitnami Sealed Secrets for fjord, wire-compatible with `kubeseal` and the upstream
//! controller in both directions. Pure: no I/O, no network, no async; the `fjord seal`
//! command lives in the fjord binary (`crates/cli`) and the running controller in
//! fjord-seal-controller.
//!
//! - [`crypto`]: the hybrid RSA-OAEP(SHA-256) + AES-256-GCM blob; [`seal_item`]/[`unseal_item`].
//! - [`scope`]: strict / namespace-wide / cluster-wide and their OAEP labels.
//! - [`object`]: the SealedSecret resource model.
//! - [`unseal`]: building the Secret as the controller does ([`unseal_secret`]).
//! - [`seal`]: building SealedSecrets from Secrets as kubeseal does.
//! - [`reseal`]: decoding one SealedSecret and sealing it again for another certificate
//!   (`/v1/rotate`, `--re-encrypt-dir`).
//! - [`keys`], [`keystore`]: certificates, private keys, key Secrets, generation, renewal.
//! - [`template`]: the Go templates of `spec.template.data`.
//! - [`docs`]: YAML/JSON documents in and out (YAML through fjord-yaml), Go's base64.
//!
//! Secret values never appear in errors or `Debug` output.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use fjord_seal::{generate_key, seal_item, unseal_item, KeygenOptions, Scope};
//!
//! let key = generate_key(SystemTime::now(), &KeygenOptions {
//!     bits: 2048,
//!     ttl: Duration::from_secs(3600),
//!     common_name: "sealed-secret".into(),
//! })
//! .unwrap();
//! let cert = key.certificate().unwrap();
//! let blob = seal_item(cert, Scope::Strict, "prod", "db", "password", b"hunter2").unwrap();
//! let plain = unseal_item(&[key.clone()], Scope::Strict, "prod", "db", "password", &blob).unwrap();
//! assert_eq!(plain, b"hunter2");
//! // Strict scope binds namespace and name: moved elsewhere, it does not open.
//! assert!(unseal_item(&[key], Scope::Strict, "dev", "db", "password", &blob).is_err());
//! ```

pub mod crypto;
pub mod docs;
pub mod keys;
pub mod keystore;
pub mod object;
pub mod reseal;
pub mod scope;
pub mod seal;
pub mod template;
pub mod unseal;

pub use crypto::{seal_item, unseal_item, CryptoError};
pub use keys::{newest_key, should_rotate, Certificate, Key, KeyError, KeyOrder};
pub use keystore::{generate_key, key_to_secret, read_private_keys, KeygenOptions};
pub use object::SealedSecret;
pub use reseal::{rotate, ResealError};
pub use scope::Scope;
pub use unseal::{unseal_secret, unseal_secret_with, UnsealError, UnsealOptions};

#[cfg(test)]
pub(crate) mod testkeys {
    use crate::keys::{Certificate, Key};

    /// A file of the upstream compatibility vectors.
    pub fn compat(rel: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/compat")
            .join(rel);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn load(dir: &str) -> Key {
        let cert = Certificate::from_pem(&compat(&format!("{dir}/tls.crt")), "tls.crt").unwrap();
        let key = Key::all_from_pem(&compat(&format!("{dir}/tls.key")), dir)
            .unwrap()
            .remove(0);
        Key::from_pkcs8(key.pkcs8(), Some(cert), dir).unwrap()
    }

    /// Upstream key pair a.
    pub fn key_a() -> Key {
        load("key-a")
    }

    /// Upstream key pair b.
    pub fn key_b() -> Key {
        load("key-b")
    }
}
