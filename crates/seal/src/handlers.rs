//! Pure, handler-level logic of the controller's HTTP endpoints (`/v1/verify`, `/v1/rotate`,
//! `/v1/cert.pem`); the HTTP wiring lives elsewhere.

use serde_json::Value;

use crate::crypto::hybrid_encrypt;
use crate::docs::{self, encode_base64};
use crate::keys::{newest_key, Certificate, Key, KeyOrder};
use crate::object::SealedSecret;
use crate::unseal::{unseal_object, UnsealError, UnsealOptions};

/// Failures of `/v1/rotate` (all answered with 500 upstream) and `/v1/cert.pem`.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
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
pub fn decode_body(body: &[u8]) -> Result<SealedSecret, HandlerError> {
    let text =
        std::str::from_utf8(body).map_err(|_| HandlerError::Decode("body is not UTF-8".into()))?;
    let mut docs = docs::parse_documents(text).map_err(|e| HandlerError::Decode(e.to_string()))?;
    if docs.len() != 1 {
        return Err(HandlerError::Decode(format!(
            "expected exactly one document, got {}",
            docs.len()
        )));
    }
    let doc = docs.remove(0);
    SealedSecret::from_value(&doc).map_err(|e| HandlerError::Decode(e.to_string()))
}

/// `/v1/verify`: whether the SealedSecret unseals with the registered keys (controller
/// options: v1 data accepted). An undecodable body is `false` too; use [`decode_body`] first
/// to tell 500 from 409.
pub fn verify(sealed_bytes: &[u8], keys: &[Key]) -> bool {
    decode_body(sealed_bytes)
        .ok()
        .is_some_and(|ss| unseal_object(&ss, keys, UnsealOptions::default()).is_ok())
}

/// `/v1/rotate` on a request body: answers the compact JSON (Go escaping) of the re-sealed
/// object without `apiVersion`/`kind`.
pub fn rotate_body(sealed_bytes: &[u8], keys: &[Key]) -> Result<String, HandlerError> {
    let ss = decode_body(sealed_bytes)?;
    let rotated = rotate(&ss, keys)?;
    Ok(docs::to_go_json_compact(&rotated.to_value_without_type()))
}

/// Re-encrypts a SealedSecret with the newest key as `/v1/rotate` does: template metadata is
/// replaced by the top-level metadata when they differ (upstream behaviour), every item
/// (templated ones included) is unsealed with all keys and sealed again with the same scope.
pub fn rotate(sealed: &SealedSecret, keys: &[Key]) -> Result<SealedSecret, HandlerError> {
    let newest = newest_key(keys, KeyOrder::CertNotBefore).ok_or(HandlerError::NoKey)?;
    let cert = newest.certificate().ok_or(HandlerError::NoKey)?;
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
) -> Result<SealedSecret, HandlerError> {
    let mut ss = sealed.clone();
    let secret = unseal_object(&ss, keys, UnsealOptions::default())?;
    let label = ss.label();
    ss.encrypted_data.clear();
    ss.data = None;
    ss.template.data = None;
    if let Some(data) = secret.get("data").and_then(Value::as_object) {
        for (k, v) in data {
            let plain = docs::decode_base64_go(v.as_str().unwrap_or(""))
                .map_err(|e| HandlerError::Encrypt(e.to_string()))?;
            let blob = hybrid_encrypt(cert, &label, &plain)
                .map_err(|e| HandlerError::Encrypt(e.to_string()))?;
            ss.encrypted_data.insert(k.clone(), encode_base64(&blob));
        }
    }
    Ok(ss)
}

/// `/v1/cert.pem`: the newest certificate in PEM.
pub fn cert_pem(keys: &[Key]) -> Result<String, HandlerError> {
    newest_key(keys, KeyOrder::CertNotBefore)
        .and_then(Key::certificate)
        .map(|c| c.to_pem())
        .ok_or(HandlerError::NoKey)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::{seal_secret, SealOptions};
    use crate::testkeys::{key_a, key_b};
    use crate::unseal::unseal_secret;
    use serde_json::json;

    #[test]
    fn verify_and_rotate() {
        let (a, b) = (key_a(), key_b());
        let secret = json!({"kind": "Secret", "metadata": {"name": "s", "namespace": "n"}, "stringData": {"k": "v"}});
        let ss = seal_secret(&secret, a.certificate().unwrap(), &SealOptions::default()).unwrap();
        let body = docs::to_go_json(&ss.to_value());
        assert!(verify(body.as_bytes(), std::slice::from_ref(&a)));
        assert!(!verify(body.as_bytes(), std::slice::from_ref(&b)));
        assert!(!verify(b"not: [yaml", std::slice::from_ref(&a)));
        let only_b = vec![b.clone()];
        assert!(rotate_body(body.as_bytes(), &only_b).is_err());
        let both = vec![a.clone(), b.clone()];
        let rotated = rotate(&ss, &both).unwrap();
        let newest = newest_key(&both, KeyOrder::CertNotBefore)
            .unwrap()
            .fingerprint()
            .to_string();
        let newest_only: Vec<_> = both
            .iter()
            .filter(|k| k.fingerprint() == newest)
            .cloned()
            .collect();
        let out = unseal_secret(&rotated.to_value(), &newest_only).unwrap();
        assert_eq!(out["data"]["k"], "dg==");
        let answer = rotate_body(body.as_bytes(), &both).unwrap();
        assert!(answer.starts_with("{\"metadata\":"));
        assert!(cert_pem(&both)
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(matches!(cert_pem(&[]), Err(HandlerError::NoKey)));
    }
}
