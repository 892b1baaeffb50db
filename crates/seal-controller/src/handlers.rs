//! Pure, handler-level logic of the controller's HTTP endpoints (`/v1/verify`, `/v1/rotate`,
//! `/v1/cert.pem`); the HTTP wiring is in `http`, the re-sealing in [`fjord_seal::reseal`].

use fjord_seal::docs;
use fjord_seal::keys::{newest_key, Key, KeyOrder};
use fjord_seal::reseal::{decode_sealed_secret, rotate, ResealError};
use fjord_seal::unseal::{unseal_object, UnsealOptions};

/// `/v1/verify`: whether the SealedSecret unseals with the registered keys (controller
/// options: v1 data accepted). An undecodable body is `false` too; use [`decode_sealed_secret`] first
/// to tell 500 from 409.
pub fn verify(sealed_bytes: &[u8], keys: &[Key]) -> bool {
    decode_sealed_secret(sealed_bytes)
        .ok()
        .is_some_and(|ss| unseal_object(&ss, keys, UnsealOptions::default()).is_ok())
}

/// `/v1/rotate` on a request body: answers the compact JSON (Go escaping) of the re-sealed
/// object without `apiVersion`/`kind`.
pub fn rotate_body(sealed_bytes: &[u8], keys: &[Key]) -> Result<String, ResealError> {
    let ss = decode_sealed_secret(sealed_bytes)?;
    let rotated = rotate(&ss, keys)?;
    Ok(docs::to_go_json_compact(&rotated.to_value_without_type()))
}

/// `/v1/cert.pem`: the newest certificate in PEM.
pub fn cert_pem(keys: &[Key]) -> Result<String, ResealError> {
    newest_key(keys, KeyOrder::CertNotBefore)
        .and_then(Key::certificate)
        .map(|c| c.to_pem())
        .ok_or(ResealError::NoKey)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkeys::{key_a, key_b};
    use fjord_seal::seal::{seal_secret, SealOptions};
    use fjord_seal::unseal::unseal_secret;
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
        assert!(matches!(cert_pem(&[]), Err(ResealError::NoKey)));
    }
}
