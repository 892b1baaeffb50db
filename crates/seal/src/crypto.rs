//! The hybrid encryption of one secret item: RSA-OAEP(SHA-256, MGF1-SHA-256) wraps a fresh
//! AES-256 session key, AES-256-GCM (all-zero nonce, no AAD, tag appended) encrypts the value.
//!
//! Blob layout: `u16` big-endian length of the RSA ciphertext ‖ RSA ciphertext ‖ GCM
//! ciphertext‖tag. The length prefix is honoured on decryption (2048-bit keys give 256 bytes,
//! 4096-bit keys 512), never assumed.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::{OaepPublicEncryptingKey, OAEP_SHA256_MGF1SHA256};

use crate::keys::{Certificate, Key};
use crate::scope::Scope;

/// Failures of sealing or unsealing one item. The texts of the unsealing variants are the
/// exact strings the upstream controller reports (they are aggregated per item by the caller).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CryptoError {
    /// The blob is shorter than its own length prefix says.
    #[error("SealedSecret data is too short")]
    TooShort,
    /// No registered key opened the blob (wrong key, wrong label, or tampered data).
    #[error("no key could decrypt secret")]
    NoKeyCouldDecrypt,
    /// The system random generator failed while making a session key.
    #[error("cannot generate a random session key")]
    Random,
    /// The certificate's RSA key refused to encrypt (key too small for OAEP-SHA-256).
    #[error("RSA-OAEP encryption failed with the certificate's key")]
    RsaEncrypt,
    /// AES-GCM sealing failed (cannot happen with a 32-byte key; reported rather than unwrapped).
    #[error("AES-GCM encryption failed")]
    AesEncrypt,
}

/// Encrypts `plaintext` for `cert` under `label` (see [`Scope::label`]), returning the blob
/// bytes (not base64). Every call uses a fresh random session key.
pub fn hybrid_encrypt(
    cert: &Certificate,
    label: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let rng = SystemRandom::new();
    let mut session_key = [0u8; 32];
    rng.fill(&mut session_key)
        .map_err(|_| CryptoError::Random)?;
    let oaep = OaepPublicEncryptingKey::new(cert.encrypting_key().clone())
        .map_err(|_| CryptoError::RsaEncrypt)?;
    let mut rsa_out = vec![0u8; oaep.ciphertext_size()];
    let wrapped = oaep
        .encrypt(
            &OAEP_SHA256_MGF1SHA256,
            &session_key,
            &mut rsa_out,
            Some(label),
        )
        .map_err(|_| CryptoError::RsaEncrypt)?;
    let rsa_len = wrapped.len();
    let prefix = u16::try_from(rsa_len).map_err(|_| CryptoError::RsaEncrypt)?;

    let aes = UnboundKey::new(&AES_256_GCM, &session_key).map_err(|_| CryptoError::AesEncrypt)?;
    session_key.fill(0);
    let aes = LessSafeKey::new(aes);
    let mut body = plaintext.to_vec();
    aes.seal_in_place_append_tag(zero_nonce(), Aad::empty(), &mut body)
        .map_err(|_| CryptoError::AesEncrypt)?;

    let mut out = Vec::with_capacity(2 + rsa_len + body.len());
    out.extend_from_slice(&prefix.to_be_bytes());
    out.extend_from_slice(&rsa_out[..rsa_len]);
    out.extend_from_slice(&body);
    Ok(out)
}

/// Decrypts a blob under `label`, trying every key in order. Returns
/// [`CryptoError::TooShort`] for a truncated blob and [`CryptoError::NoKeyCouldDecrypt`] when
/// no key opens it.
pub fn hybrid_decrypt(keys: &[Key], label: &[u8], blob: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if blob.len() < 2 {
        return Err(CryptoError::TooShort);
    }
    let rsa_len = usize::from(u16::from_be_bytes([blob[0], blob[1]]));
    if blob.len() < 2 + rsa_len {
        return Err(CryptoError::TooShort);
    }
    let rsa_part = &blob[2..2 + rsa_len];
    let aes_part = &blob[2 + rsa_len..];
    for key in keys {
        if let Some(plain) = try_key(key, label, rsa_part, aes_part) {
            return Ok(plain);
        }
    }
    Err(CryptoError::NoKeyCouldDecrypt)
}

fn try_key(key: &Key, label: &[u8], rsa_part: &[u8], aes_part: &[u8]) -> Option<Vec<u8>> {
    let oaep = key.oaep_key()?;
    let mut session = vec![0u8; oaep.min_output_size()];
    let session_key = oaep
        .decrypt(&OAEP_SHA256_MGF1SHA256, rsa_part, &mut session, Some(label))
        .ok()?;
    // Go's AES accepts 16/24/32-byte keys; kubeseal always uses 32. 24 is not offered by
    // aws-lc-rs's GCM and no known sealer produces it.
    let alg = match session_key.len() {
        32 => &AES_256_GCM,
        16 => &AES_128_GCM,
        _ => return None,
    };
    let unbound = UnboundKey::new(alg, session_key).ok()?;
    session.fill(0);
    let aes = LessSafeKey::new(unbound);
    let mut buf = aes_part.to_vec();
    let plain = aes
        .open_in_place(zero_nonce(), Aad::empty(), &mut buf)
        .ok()?;
    let len = plain.len();
    buf.truncate(len);
    Some(buf)
}

fn zero_nonce() -> Nonce {
    Nonce::assume_unique_for_key([0u8; NONCE_LEN])
}

/// Seals one item value for `cert`: the label is derived from `scope`, `namespace` and `name`.
/// `item_key` is accepted for symmetry with the object model but is NOT bound into the blob
/// (upstream lets items be renamed freely). Returns the blob bytes; base64 them for
/// `encryptedData`.
pub fn seal_item(
    cert: &Certificate,
    scope: Scope,
    namespace: &str,
    name: &str,
    item_key: &str,
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let _ = item_key;
    hybrid_encrypt(cert, &scope.label(namespace, name), plaintext)
}

/// Opens one item blob (raw bytes, not base64) with any of `keys`, using the label of
/// `scope`/`namespace`/`name`; `item_key` is not bound (see [`seal_item`]).
pub fn unseal_item(
    keys: &[Key],
    scope: Scope,
    namespace: &str,
    name: &str,
    item_key: &str,
    ciphertext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let _ = item_key;
    hybrid_decrypt(keys, &scope.label(namespace, name), ciphertext)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkeys::{key_a, key_b};

    #[test]
    fn round_trip_and_layout() {
        let a = key_a();
        let blob = hybrid_encrypt(a.certificate().unwrap(), b"ns/name", b"hello").unwrap();
        assert_eq!(&blob[..2], &[0x02, 0x00]);
        assert_eq!(blob.len(), 2 + 512 + 5 + 16);
        let plain = hybrid_decrypt(std::slice::from_ref(&a), b"ns/name", &blob).unwrap();
        assert_eq!(plain, b"hello");
    }

    #[test]
    fn empty_plaintext_is_legal() {
        let a = key_a();
        let blob = hybrid_encrypt(a.certificate().unwrap(), b"", b"").unwrap();
        assert_eq!(blob.len(), 2 + 512 + 16);
        assert_eq!(hybrid_decrypt(&[a], b"", &blob).unwrap(), b"");
    }

    #[test]
    fn wrong_label_or_key_is_refused() {
        let a = key_a();
        let b = key_b();
        let blob = hybrid_encrypt(a.certificate().unwrap(), b"ns/name", b"v").unwrap();
        assert_eq!(
            hybrid_decrypt(std::slice::from_ref(&a), b"ns/other", &blob),
            Err(CryptoError::NoKeyCouldDecrypt)
        );
        assert_eq!(
            hybrid_decrypt(std::slice::from_ref(&b), b"ns/name", &blob),
            Err(CryptoError::NoKeyCouldDecrypt)
        );
        // Every key is tried, in order.
        assert_eq!(hybrid_decrypt(&[b, a], b"ns/name", &blob).unwrap(), b"v");
    }

    #[test]
    fn tampering_and_truncation() {
        let a = key_a();
        let mut blob = hybrid_encrypt(a.certificate().unwrap(), b"", b"value").unwrap();
        let last = blob.len() - 1;
        blob[last] ^= 1;
        assert_eq!(
            hybrid_decrypt(std::slice::from_ref(&a), b"", &blob),
            Err(CryptoError::NoKeyCouldDecrypt)
        );
        assert_eq!(
            hybrid_decrypt(std::slice::from_ref(&a), b"", &[2]),
            Err(CryptoError::TooShort)
        );
        assert_eq!(
            hybrid_decrypt(std::slice::from_ref(&a), b"", &blob[..100]),
            Err(CryptoError::TooShort)
        );
    }

    #[test]
    fn fresh_session_key_each_time() {
        let a = key_a();
        let seal = || {
            seal_item(
                a.certificate().unwrap(),
                Scope::Strict,
                "n",
                "s",
                "k",
                b"same",
            )
            .unwrap()
        };
        let (x, y) = (seal(), seal());
        assert_ne!(x, y);
        assert_eq!(
            unseal_item(&[a], Scope::Strict, "n", "s", "other-key", &y).unwrap(),
            b"same"
        );
    }
}
