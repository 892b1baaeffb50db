//! Re-sealing: one SealedSecret decoded from untrusted bytes, unsealed with the registered
//! keys and sealed again for another certificate, as the controller's `/v1/rotate` and
//! `fjord seal --re-encrypt-dir` do.

use serde_json::Value;

use crate::crypto::hybrid_encrypt;
use crate::docs::{self, encode_base64};
use crate::keys::{newest_key, Certificate, Key, KeyOrder};
use crate::object::SealedSecret;
use crate::unseal::{unseal_object, UnsealError, UnsealOptions};

/// Failures decoding or re-sealing a SealedSecret (all answered with 500 by `/v1/rotate`
/// upstream), and of `/v1/cert.pem` when no key is registered.
#[derive(Debug, thiserror::Error)]
pub enum ResealError {
    /// The body is not one decodable SealedSecret.
    #[error("cannot decode SealedSecret: {0}")]
    Decode(String),
    /// Unsealing failed.
    #[error(transparent)]
    Unseal(#[from] UnsealError),
    /// No key (with a certificate) is registered.
    #[error("cannot get certificate")]
    NoKey,
    /// Re-encryption failed.
    #[error("re-encrypting: {0}")]
    Encrypt(String),
}

/// Decodes one SealedSecret from a request body (JSON or YAML; several documents refused).
pub fn decode_sealed_secret(body: &[u8]) -> Result<SealedSecret, ResealError> {
    let text =
        std::str::from_utf8(body).map_err(|_| ResealError::Decode("body is not UTF-8".into()))?;
    let mut docs = docs::parse_documents(text).map_err(|e| ResealError::Decode(e.to_string()))?;
    if docs.len() != 1 {
        return Err(ResealError::Decode(format!(
            "expected exactly one document, got {}",
            docs.len()
        )));
    }
    let doc = docs.remove(0);
    SealedSecret::from_value(&doc).map_err(|e| ResealError::Decode(e.to_string()))
}

/// Re-encrypts a SealedSecret with the newest key as `/v1/rotate` does: template metadata is
/// replaced by the top-level metadata when they differ (upstream behaviour), every item
/// (templated ones included) is unsealed with all keys and sealed again with the same scope.
pub fn rotate(sealed: &SealedSecret, keys: &[Key]) -> Result<SealedSecret, ResealError> {
    let newest = newest_key(keys, KeyOrder::CertNotBefore).ok_or(ResealError::NoKey)?;
    let cert = newest.certificate().ok_or(ResealError::NoKey)?;
    let mut ss = sealed.clone();
    if ss.template.metadata.as_ref() != Some(&ss.metadata) {
        ss.template.metadata = Some(ss.metadata.clone());
    }
    reseal_with(&ss, keys, cert)
}

/// Unseals with `keys` and seals every item again for `cert` (same name, namespace, scope
/// and template metadata; templated data comes back as ordinary encrypted items, v1 `data`
/// as `encryptedData`).
pub fn reseal_with(
    sealed: &SealedSecret,
    keys: &[Key],
    cert: &Certificate,
) -> Result<SealedSecret, ResealError> {
    let mut ss = sealed.clone();
    let secret = unseal_object(&ss, keys, UnsealOptions::default())?;
    let label = ss.label();
    ss.encrypted_data.clear();
    ss.data = None;
    ss.template.data = None;
    if let Some(data) = secret.get("data").and_then(Value::as_object) {
        for (k, v) in data {
            let plain = docs::decode_base64_go(v.as_str().unwrap_or(""))
                .map_err(|e| ResealError::Encrypt(e.to_string()))?;
            let blob = hybrid_encrypt(cert, &label, &plain)
                .map_err(|e| ResealError::Encrypt(e.to_string()))?;
            ss.encrypted_data.insert(k.clone(), encode_base64(&blob));
        }
    }
    Ok(ss)
}
