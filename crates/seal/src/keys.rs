//! Certificates (the public half used for sealing) and private keys (used for unsealing),
//! with the SSH-style SHA-256 fingerprint the controller keys its registry by.
//!
//! Neither type ever prints key material: their `Debug` shows the fingerprint only.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{
    KeyPair, OaepPrivateDecryptingKey, PrivateDecryptingKey, PublicEncryptingKey,
};
use base64::Engine;
use sha2::{Digest, Sha256};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

/// Failures reading certificates and private keys. None of them carries key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The text holds no PEM block of the wanted kind.
    #[error("no {wanted} PEM block found in {source_name}")]
    NoPemBlock {
        /// `CERTIFICATE` or `PRIVATE KEY`.
        wanted: &'static str,
        /// Where the text came from (file name, Secret name).
        source_name: String,
    },
    /// The PEM armour itself is broken.
    #[error("cannot parse PEM in {source_name}: {reason}")]
    Pem {
        /// Where the text came from.
        source_name: String,
        /// The PEM parser's message.
        reason: String,
    },
    /// The certificate's DER could not be decoded.
    #[error("cannot parse certificate in {source_name}: {reason}")]
    Certificate {
        /// Where the certificate came from.
        source_name: String,
        /// The X.509 parser's message.
        reason: String,
    },
    /// The certificate or key is not RSA (upstream requires RSA).
    #[error("{source_name}: expected an RSA key")]
    NotRsa {
        /// Where the key came from.
        source_name: String,
    },
    /// The private key DER could not be decoded or was refused (size outside 2048..8192).
    #[error("cannot parse private key in {source_name}: {reason}")]
    PrivateKey {
        /// Where the key came from.
        source_name: String,
        /// What was wrong (never the key itself).
        reason: String,
    },
}

/// An X.509 certificate carrying an RSA public key: what sealing needs.
#[derive(Clone)]
pub struct Certificate {
    der: Vec<u8>,
    encrypting: PublicEncryptingKey,
    not_before: i64,
    not_after: i64,
    fingerprint: String,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate")
            .field("fingerprint", &self.fingerprint)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .finish()
    }
}

impl Certificate {
    /// Parses the first `CERTIFICATE` block of a PEM text (as kubeseal does with `--cert`).
    pub fn from_pem(text: &[u8], source_name: &str) -> Result<Certificate, KeyError> {
        let blocks = pem::parse_many(text).map_err(|e| KeyError::Pem {
            source_name: source_name.to_string(),
            reason: e.to_string(),
        })?;
        let block = blocks
            .iter()
            .find(|b| b.tag() == "CERTIFICATE")
            .ok_or_else(|| KeyError::NoPemBlock {
                wanted: "CERTIFICATE",
                source_name: source_name.to_string(),
            })?;
        Certificate::from_der(block.contents(), source_name)
    }

    /// Parses a DER certificate.
    pub fn from_der(der: &[u8], source_name: &str) -> Result<Certificate, KeyError> {
        let bad = |reason: String| KeyError::Certificate {
            source_name: source_name.to_string(),
            reason,
        };
        let (_, cert) = X509Certificate::from_der(der).map_err(|e| bad(e.to_string()))?;
        let spki = cert.public_key();
        let fingerprint = spki_fingerprint(spki, source_name)?;
        let encrypting = PublicEncryptingKey::from_der(spki.raw)
            .map_err(|e| bad(format!("unusable RSA public key: {e}")))?;
        Ok(Certificate {
            der: der.to_vec(),
            encrypting,
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            fingerprint,
        })
    }

    /// The certificate in PEM (one `CERTIFICATE` block, as `/v1/cert.pem` serves it).
    pub fn to_pem(&self) -> String {
        pem::encode(&pem::Pem::new("CERTIFICATE", self.der.clone()))
    }

    /// The DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// `notBefore`, seconds since the Unix epoch.
    pub fn not_before(&self) -> i64 {
        self.not_before
    }

    /// `notAfter`, seconds since the Unix epoch.
    pub fn not_after(&self) -> i64 {
        self.not_after
    }

    /// Whether `now` is past `notAfter` (kubeseal refuses to seal then; `notBefore` is not
    /// checked).
    pub fn is_expired(&self, now: SystemTime) -> bool {
        unix_seconds(now) > self.not_after
    }

    /// SSH-style fingerprint of the public key, e.g. `SHA256:0tRz…`.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    pub(crate) fn encrypting_key(&self) -> &PublicEncryptingKey {
        &self.encrypting
    }
}

/// An RSA private key registered for unsealing, with its certificate when known (keys from
/// controller Secrets have one; bare PEM recovery keys do not).
#[derive(Clone)]
pub struct Key {
    private: PrivateDecryptingKey,
    pkcs8: Vec<u8>,
    certificate: Option<Certificate>,
    fingerprint: String,
    created: Option<i64>,
    origin: String,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("fingerprint", &self.fingerprint)
            .field("origin", &self.origin)
            .field("has_certificate", &self.certificate.is_some())
            .finish_non_exhaustive()
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        self.pkcs8.fill(0);
    }
}

impl Key {
    /// Builds a key from PKCS#8 DER, with an optional certificate.
    pub fn from_pkcs8(
        pkcs8: &[u8],
        certificate: Option<Certificate>,
        origin: &str,
    ) -> Result<Key, KeyError> {
        let bad = |reason: &str| KeyError::PrivateKey {
            source_name: origin.to_string(),
            reason: reason.to_string(),
        };
        let private = PrivateDecryptingKey::from_pkcs8(pkcs8)
            .map_err(|_| bad("not an RSA key of 2048 to 8192 bits"))?;
        let spki = private
            .public_key()
            .as_der()
            .map_err(|_| bad("cannot encode public key"))?;
        let (_, spki) = SubjectPublicKeyInfo::from_der(spki.as_ref())
            .map_err(|_| bad("cannot decode public key"))?;
        let fingerprint = spki_fingerprint(&spki, origin)?;
        Ok(Key {
            private,
            pkcs8: pkcs8.to_vec(),
            certificate,
            fingerprint,
            created: None,
            origin: origin.to_string(),
        })
    }

    /// Builds a key from PKCS#1 `RSAPrivateKey` DER.
    pub fn from_pkcs1(
        pkcs1: &[u8],
        certificate: Option<Certificate>,
        origin: &str,
    ) -> Result<Key, KeyError> {
        let pair = KeyPair::from_der(pkcs1).map_err(|_| KeyError::PrivateKey {
            source_name: origin.to_string(),
            reason: "not a PKCS#1 RSA private key of 2048 to 8192 bits".into(),
        })?;
        let pkcs8 = pair.as_der().map_err(|_| KeyError::PrivateKey {
            source_name: origin.to_string(),
            reason: "cannot re-encode as PKCS#8".into(),
        })?;
        Key::from_pkcs8(pkcs8.as_ref(), certificate, origin)
    }

    /// Parses every private key PEM block (`RSA PRIVATE KEY` or `PRIVATE KEY`) of a text.
    pub fn all_from_pem(text: &[u8], origin: &str) -> Result<Vec<Key>, KeyError> {
        let blocks = pem::parse_many(text).map_err(|e| KeyError::Pem {
            source_name: origin.to_string(),
            reason: e.to_string(),
        })?;
        let mut keys = Vec::new();
        for block in &blocks {
            match block.tag() {
                "RSA PRIVATE KEY" => keys.push(Key::from_pkcs1(block.contents(), None, origin)?),
                "PRIVATE KEY" => keys.push(Key::from_pkcs8(block.contents(), None, origin)?),
                "EC PRIVATE KEY" | "ENCRYPTED PRIVATE KEY" => {
                    return Err(KeyError::NotRsa {
                        source_name: origin.to_string(),
                    })
                }
                _ => {}
            }
        }
        if keys.is_empty() {
            return Err(KeyError::NoPemBlock {
                wanted: "PRIVATE KEY",
                source_name: origin.to_string(),
            });
        }
        Ok(keys)
    }

    /// The key in PKCS#1 PEM (`RSA PRIVATE KEY`), the form the controller stores in `tls.key`.
    pub fn to_pkcs1_pem(&self) -> Result<String, KeyError> {
        let pkcs1 = pkcs8_inner_key(&self.pkcs8).ok_or_else(|| KeyError::PrivateKey {
            source_name: self.origin.clone(),
            reason: "PKCS#8 structure not understood".into(),
        })?;
        Ok(pem::encode(&pem::Pem::new(
            "RSA PRIVATE KEY",
            pkcs1.to_vec(),
        )))
    }

    /// The certificate stored with the key, if any.
    pub fn certificate(&self) -> Option<&Certificate> {
        self.certificate.as_ref()
    }

    /// SSH-style SHA-256 fingerprint of the public key.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Where the key came from (file or Secret name), for messages.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The key Secret's `metadata.creationTimestamp`, seconds since the epoch, when known.
    pub fn created(&self) -> Option<i64> {
        self.created
    }

    /// Records the key Secret's creation time.
    pub fn with_created(mut self, created: Option<i64>) -> Key {
        self.created = created;
        self
    }

    /// The time used to order keys: certificate `notBefore`, else creation time, else 0.
    pub fn time(&self) -> i64 {
        self.certificate
            .as_ref()
            .map(Certificate::not_before)
            .or(self.created)
            .unwrap_or(0)
    }

    pub(crate) fn oaep_key(&self) -> Option<OaepPrivateDecryptingKey> {
        OaepPrivateDecryptingKey::new(self.private.clone()).ok()
    }

    pub(crate) fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }
}

/// How keys are ordered to find the newest (the controller's `--key-order-priority`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum KeyOrder {
    /// By certificate `notBefore` (default).
    #[default]
    CertNotBefore,
    /// By the key Secret's `creationTimestamp`.
    SecretCreationTimestamp,
}

/// The newest key that has a certificate (the one `/v1/cert.pem` serves and sealing uses).
pub fn newest_key(keys: &[Key], order: KeyOrder) -> Option<&Key> {
    keys.iter()
        .filter(|k| k.certificate.is_some())
        .max_by_key(|k| match order {
            KeyOrder::CertNotBefore => k.time(),
            KeyOrder::SecretCreationTimestamp => k.created.unwrap_or_else(|| k.time()),
        })
}

/// Drops keys whose fingerprint was already seen (the controller's registry collapses them),
/// keeping the first occurrence.
pub fn dedup_keys(keys: Vec<Key>) -> Vec<Key> {
    let mut seen = std::collections::HashSet::new();
    keys.into_iter()
        .filter(|k| seen.insert(k.fingerprint.clone()))
        .collect()
}

/// The controller's default renewal period: 30 days.
pub const DEFAULT_RENEW_PERIOD: Duration = Duration::from_secs(30 * 24 * 3600);

/// Whether a new key is due: no key yet, a zero period disables renewal, otherwise when the
/// newest key is at least `period` old. `cutoff` (the controller's `--key-cutoff-time`)
/// forces a new key when the newest is older than it.
pub fn should_rotate(
    now: SystemTime,
    newest_key_time: Option<SystemTime>,
    period: Duration,
    cutoff: Option<SystemTime>,
) -> bool {
    let Some(newest) = newest_key_time else {
        return true;
    };
    if cutoff.is_some_and(|c| newest < c) {
        return true;
    }
    if period.is_zero() {
        return false;
    }
    now.duration_since(newest).is_ok_and(|age| age >= period)
}

/// How long until the next renewal is due (`period − age`, zero when overdue); `None` when
/// renewal is disabled.
pub fn next_rotation_in(
    now: SystemTime,
    newest_key_time: SystemTime,
    period: Duration,
) -> Option<Duration> {
    if period.is_zero() {
        return None;
    }
    let age = now.duration_since(newest_key_time).unwrap_or_default();
    Some(period.saturating_sub(age))
}

/// Seconds since the epoch of a `SystemTime` (negative before 1970).
pub fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// A `SystemTime` from seconds since the epoch.
pub fn from_unix_seconds(s: i64) -> SystemTime {
    if s >= 0 {
        UNIX_EPOCH + Duration::from_secs(s.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_secs(s.unsigned_abs())
    }
}

fn spki_fingerprint(
    spki: &SubjectPublicKeyInfo<'_>,
    source_name: &str,
) -> Result<String, KeyError> {
    let not_rsa = || KeyError::NotRsa {
        source_name: source_name.to_string(),
    };
    let parsed = spki.parsed().map_err(|_| not_rsa())?;
    let PublicKey::RSA(rsa) = parsed else {
        return Err(not_rsa());
    };
    Ok(ssh_fingerprint(rsa.exponent, rsa.modulus))
}

/// `SHA256:` + unpadded base64 of SHA-256 over the SSH wire form of an RSA public key.
fn ssh_fingerprint(exponent: &[u8], modulus: &[u8]) -> String {
    fn put_string(out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        out.extend_from_slice(bytes);
    }
    fn put_mpint(out: &mut Vec<u8>, bytes: &[u8]) {
        let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
        let trimmed = &bytes[start..];
        if trimmed.first().is_some_and(|&b| b & 0x80 != 0) {
            let mut v = Vec::with_capacity(trimmed.len() + 1);
            v.push(0);
            v.extend_from_slice(trimmed);
            put_string(out, &v);
        } else {
            put_string(out, trimmed);
        }
    }
    let mut wire = Vec::new();
    put_string(&mut wire, b"ssh-rsa");
    put_mpint(&mut wire, exponent);
    put_mpint(&mut wire, modulus);
    let digest = Sha256::digest(&wire);
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
    )
}

/// Reads one DER TLV at the start of `input`: (tag, content, rest). Short/long lengths only.
fn der_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&len0, rest) = rest.split_first()?;
    let (len, rest) = if len0 < 0x80 {
        (usize::from(len0), rest)
    } else {
        let n = usize::from(len0 & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The PKCS#1 key inside a PKCS#8 `PrivateKeyInfo` (version, algorithm, OCTET STRING key).
fn pkcs8_inner_key(pkcs8: &[u8]) -> Option<&[u8]> {
    let (tag, body, _) = der_tlv(pkcs8)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, _, rest) = der_tlv(body)?; // version
    if tag != 0x02 {
        return None;
    }
    let (tag, _, rest) = der_tlv(rest)?; // AlgorithmIdentifier
    if tag != 0x30 {
        return None;
    }
    let (tag, key, _) = der_tlv(rest)?;
    (tag == 0x04).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkeys::{compat, key_a, key_b};

    #[test]
    fn fingerprints_match_upstream() {
        let a = key_a();
        let b = key_b();
        assert_eq!(
            a.fingerprint(),
            "SHA256:0tRzxl2zAgo5geDGgxEdnAEGq8DGujcmoq+007sBKW0"
        );
        assert_eq!(
            b.fingerprint(),
            "SHA256:yYsRtK38jpTuP9sdFOqpF6O1iP7vFnp2R8h4Hihhx7s"
        );
        let cert = Certificate::from_pem(&compat("key-a/tls.crt"), "tls.crt").unwrap();
        assert_eq!(cert.fingerprint(), a.fingerprint());
    }

    #[test]
    fn pkcs1_round_trip() {
        let a = key_a();
        let pem = a.to_pkcs1_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        let again = Key::all_from_pem(pem.as_bytes(), "again").unwrap();
        assert_eq!(again[0].fingerprint(), a.fingerprint());
        let original = String::from_utf8(compat("key-a/tls.key")).unwrap();
        assert_eq!(pem.replace("\r\n", "\n").trim(), original.trim());
    }

    #[test]
    fn debug_hides_material() {
        let a = key_a();
        let dbg = format!("{a:?}");
        assert!(dbg.contains("SHA256:"));
        assert!(!dbg.contains("MII"));
        assert!(dbg.len() < 300);
    }

    #[test]
    fn bad_pem_is_reported_without_content() {
        let err = Key::all_from_pem(b"hello", "k.pem").unwrap_err();
        assert_eq!(err.to_string(), "no PRIVATE KEY PEM block found in k.pem");
        assert!(Certificate::from_pem(b"", "c.pem").is_err());
    }

    #[test]
    fn rotation_rules() {
        let t0 = from_unix_seconds(1_000_000_000);
        let day = Duration::from_secs(86400);
        assert!(should_rotate(t0, None, DEFAULT_RENEW_PERIOD, None));
        assert!(!should_rotate(
            t0 + day * 29,
            Some(t0),
            DEFAULT_RENEW_PERIOD,
            None
        ));
        assert!(should_rotate(
            t0 + day * 30,
            Some(t0),
            DEFAULT_RENEW_PERIOD,
            None
        ));
        assert!(!should_rotate(
            t0 + day * 300,
            Some(t0),
            Duration::ZERO,
            None
        ));
        assert!(should_rotate(t0, Some(t0), Duration::ZERO, Some(t0 + day)));
        assert_eq!(
            next_rotation_in(t0 + day, t0, DEFAULT_RENEW_PERIOD),
            Some(day * 29)
        );
        assert_eq!(
            next_rotation_in(t0 + day * 40, t0, DEFAULT_RENEW_PERIOD),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn newest_and_dedup() {
        let a = key_a();
        let b = key_b();
        let both = [a.clone(), b.clone()];
        let newest = newest_key(&both, KeyOrder::CertNotBefore).unwrap();
        let expect = if a.time() > b.time() {
            a.fingerprint()
        } else {
            b.fingerprint()
        };
        assert_eq!(newest.fingerprint(), expect);
        let keys = dedup_keys(vec![a.clone(), b, a]);
        assert_eq!(keys.len(), 2);
    }
}
