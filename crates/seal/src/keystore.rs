//! Key generation and the key Secrets the controller keeps (`kubernetes.io/tls`, labelled
//! `sealedsecrets.bitnami.com/sealed-secrets-key`), plus reading key backups and PEM keys.

use std::time::{Duration, SystemTime};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use base64::Engine;
use serde_json::{json, Map, Value};

use crate::docs;
use crate::keys::{unix_seconds, Certificate, Key, KeyError};

/// Label carried by every controller key Secret.
pub const KEY_LABEL: &str = "sealedsecrets.bitnami.com/sealed-secrets-key";
/// Default key Secret name prefix (`--key-prefix`).
pub const DEFAULT_KEY_PREFIX: &str = "sealed-secrets-key";
/// Default key size in bits (`--key-size`).
pub const DEFAULT_KEY_BITS: usize = 4096;
/// Default certificate validity (`--key-ttl`, 87600h = 3650 days).
pub const DEFAULT_KEY_TTL: Duration = Duration::from_secs(3650 * 24 * 3600);

/// Failures generating keys or reading key Secrets. Never carries key material.
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    /// The requested key size is not one aws-lc-rs generates.
    #[error("unsupported key size {0} (use 2048, 3072, 4096 or 8192)")]
    KeySize(usize),
    /// RSA key generation failed.
    #[error("RSA key generation failed")]
    Generate,
    /// Building or signing the self-signed certificate failed.
    #[error("cannot build the self-signed certificate: {0}")]
    Certificate(String),
    /// A key or certificate inside a Secret/PEM could not be read.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The file is neither PEM nor a YAML/JSON Secret or List.
    #[error("{origin}")]
    Document {
        /// The file or stream name.
        origin: String,
        /// The parse failure.
        source: docs::DocError,
    },
    /// A Secret lacks a field or has it in the wrong form.
    #[error("{origin}: Secret {secret:?}: {problem}")]
    SecretField {
        /// The file or stream name.
        origin: String,
        /// The Secret's name.
        secret: String,
        /// What is wrong, e.g. `data.tls.key is not valid base64`.
        problem: String,
    },
    /// No key at all was found in the input.
    #[error("{0}: no private key found")]
    Empty(String),
}

/// Options for a generated key, with the controller's defaults.
#[derive(Clone, Debug)]
pub struct KeygenOptions {
    /// RSA modulus size in bits (`--key-size`).
    pub bits: usize,
    /// Certificate validity (`--key-ttl`).
    pub ttl: Duration,
    /// Subject/issuer common name (`--my-cn`); empty gives an empty Name.
    pub common_name: String,
}

impl Default for KeygenOptions {
    fn default() -> Self {
        KeygenOptions {
            bits: DEFAULT_KEY_BITS,
            ttl: DEFAULT_KEY_TTL,
            common_name: String::new(),
        }
    }
}

/// Generates an RSA key and its self-signed certificate the way the controller does:
/// random 128-bit serial, subject = issuer = empty Name (or `CN=<cn>`), notBefore = `now`,
/// notAfter = `now + ttl`, sha256WithRSAEncryption, keyUsage critical encipherOnly,
/// basicConstraints critical CA:TRUE, a subject key identifier.
pub fn generate_key(now: SystemTime, options: &KeygenOptions) -> Result<Key, KeystoreError> {
    let size = match options.bits {
        2048 => KeySize::Rsa2048,
        3072 => KeySize::Rsa3072,
        4096 => KeySize::Rsa4096,
        8192 => KeySize::Rsa8192,
        other => return Err(KeystoreError::KeySize(other)),
    };
    let pair = RsaKeyPair::generate(size).map_err(|_| KeystoreError::Generate)?;
    let pkcs8 = pair.as_der().map_err(|_| KeystoreError::Generate)?;
    let cert_err = |e: rcgen::Error| KeystoreError::Certificate(e.to_string());
    let signer = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
        &pkcs8.as_ref().to_vec().into(),
        &rcgen::PKCS_RSA_SHA256,
    )
    .map_err(cert_err)?;

    let mut params = rcgen::CertificateParams::default();
    let mut name = rcgen::DistinguishedName::new();
    if !options.common_name.is_empty() {
        name.push(rcgen::DnType::CommonName, options.common_name.clone());
    }
    params.distinguished_name = name;
    let mut serial = [0u8; 16];
    SystemRandom::new()
        .fill(&mut serial)
        .map_err(|_| KeystoreError::Generate)?;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    let start = unix_seconds(now);
    let ttl = i64::try_from(options.ttl.as_secs()).unwrap_or(i64::MAX / 2);
    params.not_before = offset_time(start)?;
    params.not_after = offset_time(start.saturating_add(ttl))?;
    params.key_usages = vec![rcgen::KeyUsagePurpose::EncipherOnly];
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.use_authority_key_identifier_extension = false;
    let cert = params.self_signed(&signer).map_err(cert_err)?;
    let certificate = Certificate::from_der(cert.der(), "generated certificate")?;
    Ok(
        Key::from_pkcs8(pkcs8.as_ref(), Some(certificate), "generated key")?
            .with_created(Some(start)),
    )
}

fn offset_time(seconds: i64) -> Result<time::OffsetDateTime, KeystoreError> {
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .map_err(|e| KeystoreError::Certificate(format!("time out of range: {e}")))
}

/// The key Secret the controller creates for `key` in `namespace`: `generateName: <prefix>`,
/// label `sealedsecrets.bitnami.com/sealed-secrets-key: active` plus `extra_labels`,
/// `extra_annotations`, type `kubernetes.io/tls`, `tls.crt` and PKCS#1 `tls.key`.
pub fn key_to_secret(
    key: &Key,
    namespace: &str,
    prefix: &str,
    extra_labels: &Map<String, Value>,
    extra_annotations: &Map<String, Value>,
) -> Result<Value, KeystoreError> {
    let cert = key
        .certificate()
        .ok_or_else(|| KeystoreError::SecretField {
            origin: key.origin().to_string(),
            secret: prefix.to_string(),
            problem: "key has no certificate".into(),
        })?;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
    let mut labels = extra_labels.clone();
    labels.insert(KEY_LABEL.to_string(), Value::String("active".into()));
    let mut metadata = Map::new();
    metadata.insert("generateName".into(), Value::String(prefix.to_string()));
    metadata.insert("namespace".into(), Value::String(namespace.to_string()));
    metadata.insert("labels".into(), Value::Object(labels));
    if !extra_annotations.is_empty() {
        metadata.insert(
            "annotations".into(),
            Value::Object(extra_annotations.clone()),
        );
    }
    Ok(json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "data": {
            "tls.crt": b64(&cert.to_pem()),
            "tls.key": b64(&key.to_pkcs1_pem()?),
        },
        "type": "kubernetes.io/tls",
    }))
}

/// Whether a Secret is one the controller loads as a key: label value exactly `active`, or
/// the legacy Secret named exactly `prefix`.
pub fn is_active_key_secret(secret: &Value, prefix: &str) -> bool {
    let meta = secret.get("metadata");
    let label = meta
        .and_then(|m| m.get("labels"))
        .and_then(|l| l.get(KEY_LABEL))
        .and_then(Value::as_str);
    let name = meta.and_then(|m| m.get("name")).and_then(Value::as_str);
    label == Some("active") || name == Some(prefix)
}

/// Reads the key of one key Secret (`data["tls.key"]`, any PEM private key form, must be
/// RSA; the first certificate of `data["tls.crt"]` when present). `creationTimestamp` is kept
/// for `--key-order-priority SecretCreationTimestamp`.
pub fn key_from_secret(secret: &Value, origin: &str) -> Result<Key, KeystoreError> {
    let name = secret
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let field_err = |problem: String| KeystoreError::SecretField {
        origin: origin.to_string(),
        secret: name.clone(),
        problem,
    };
    let decode = |field: &str| -> Result<Option<Vec<u8>>, KeystoreError> {
        match secret.get("data").and_then(|d| d.get(field)) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => docs::decode_base64_go(s)
                .map(Some)
                .map_err(|_| field_err(format!("data.{field} is not valid base64"))),
            Some(_) => Err(field_err(format!("data.{field} is not a string"))),
        }
    };
    let key_pem = decode("tls.key")?.ok_or_else(|| field_err("data.tls.key is missing".into()))?;
    let label = format!("{origin} (Secret {name})");
    let certificate = match decode("tls.crt")? {
        Some(pem) => Some(Certificate::from_pem(&pem, &label)?),
        None => None,
    };
    let mut keys = Key::all_from_pem(&key_pem, &label)?;
    let key = keys.swap_remove(0);
    let created = secret
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str)
        .and_then(parse_rfc3339_seconds);
    let with_cert = match certificate {
        Some(c) => Key::from_pkcs8(key.pkcs8(), Some(c), &label)?,
        None => key,
    };
    Ok(with_cert.with_created(created))
}

/// Reads private keys from a file's bytes, as `kubeseal --recovery-private-key` does: PEM
/// private keys (PKCS#1 or PKCS#8), or YAML/JSON holding key Secrets or `List`s of them
/// (`kubectl get secret -l sealedsecrets.bitnami.com/sealed-secrets-key -o yaml`).
pub fn read_private_keys(bytes: &[u8], origin: &str) -> Result<Vec<Key>, KeystoreError> {
    let text = String::from_utf8_lossy(bytes);
    if text.trim_start().starts_with("-----BEGIN") {
        return Ok(Key::all_from_pem(bytes, origin)?);
    }
    let documents = docs::parse_documents(&text).map_err(|source| KeystoreError::Document {
        origin: origin.to_string(),
        source,
    })?;
    let mut keys = Vec::new();
    for doc in &documents {
        for secret in docs::flatten_lists(doc) {
            if secret.get("kind").and_then(Value::as_str) == Some("Secret") {
                keys.push(key_from_secret(secret, origin)?);
            }
        }
    }
    if keys.is_empty() {
        return Err(KeystoreError::Empty(origin.to_string()));
    }
    Ok(keys)
}

/// The keys the controller would load from the Secrets of its namespace (active label or
/// legacy name); Secrets that fail to parse are returned as errors beside the good keys.
pub fn load_controller_keys(secrets: &[Value], prefix: &str) -> (Vec<Key>, Vec<KeystoreError>) {
    let mut keys = Vec::new();
    let mut errors = Vec::new();
    for secret in secrets.iter().filter(|s| is_active_key_secret(s, prefix)) {
        match key_from_secret(secret, "controller namespace") {
            Ok(k) => keys.push(k),
            Err(e) => errors.push(e),
        }
    }
    (crate::keys::dedup_keys(keys), errors)
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` into seconds since the epoch.
pub fn parse_rfc3339_seconds(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    if let Some(r) = rest.strip_prefix('.') {
        rest = r.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            sign * (rest.get(1..3)?.parse::<i64>().ok()? * 3600
                + rest.get(4..6)?.parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    // Days from civil (proleptic Gregorian).
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86400 + h * 3600 + mi * 60 + se - offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkeys::{compat, key_a};
    use x509_parser::prelude::{FromDer, X509Certificate};

    #[test]
    fn upstream_key_secret_is_read() {
        let keys = read_private_keys(&compat("key-a/key-secret.yaml"), "key-secret.yaml").unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].fingerprint(), key_a().fingerprint());
        assert!(keys[0].certificate().is_some());
    }

    #[test]
    fn pem_and_list_backups() {
        let keys = read_private_keys(&compat("key-a/tls.key"), "tls.key").unwrap();
        assert_eq!(keys[0].fingerprint(), key_a().fingerprint());
        let secret =
            docs::parse_documents(&String::from_utf8(compat("key-a/key-secret.yaml")).unwrap())
                .unwrap()
                .remove(0);
        let list = json!({"apiVersion": "v1", "kind": "List", "items": [secret.clone(), secret]});
        let keys = read_private_keys(list.to_string().as_bytes(), "backup.json").unwrap();
        assert_eq!(keys.len(), 2);
        assert!(matches!(
            read_private_keys(b"kind: ConfigMap\n", "x.yaml"),
            Err(KeystoreError::Empty(_))
        ));
    }

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_seconds("2024-02-29T12:00:00Z"),
            Some(1_709_208_000)
        );
        assert_eq!(
            parse_rfc3339_seconds("2024-02-29T13:00:00+01:00"),
            Some(1_709_208_000)
        );
        assert_eq!(parse_rfc3339_seconds("nope"), None);
    }

    #[test]
    fn active_filter() {
        let a = json!({"metadata": {"name": "x", "labels": {KEY_LABEL: "active"}}});
        let c = json!({"metadata": {"name": "y", "labels": {KEY_LABEL: "compromised"}}});
        let legacy = json!({"metadata": {"name": DEFAULT_KEY_PREFIX}});
        assert!(is_active_key_secret(&a, DEFAULT_KEY_PREFIX));
        assert!(!is_active_key_secret(&c, DEFAULT_KEY_PREFIX));
        assert!(is_active_key_secret(&legacy, DEFAULT_KEY_PREFIX));
    }

    #[test]
    #[ignore = "RSA-4096 generation takes seconds; run with --ignored"]
    fn generated_4096_key_like_upstream() {
        let now = SystemTime::now();
        let key = generate_key(now, &KeygenOptions::default()).unwrap();
        check_generated(&key, now, 4096);
    }

    #[test]
    fn generated_key_shape_and_secret() {
        let now = SystemTime::now();
        let opts = KeygenOptions {
            bits: 2048,
            ..KeygenOptions::default()
        };
        let key = generate_key(now, &opts).unwrap();
        check_generated(&key, now, 2048);
        let secret = key_to_secret(
            &key,
            "kube-system",
            DEFAULT_KEY_PREFIX,
            &Map::new(),
            &Map::new(),
        )
        .unwrap();
        assert_eq!(secret["type"], "kubernetes.io/tls");
        assert_eq!(secret["metadata"]["labels"][KEY_LABEL], "active");
        assert_eq!(secret["metadata"]["generateName"], DEFAULT_KEY_PREFIX);
        let back = read_private_keys(secret.to_string().as_bytes(), "gen").unwrap();
        assert_eq!(back[0].fingerprint(), key.fingerprint());
        // The generated key seals and unseals.
        let blob = crate::crypto::hybrid_encrypt(key.certificate().unwrap(), b"l", b"v").unwrap();
        assert_eq!(&blob[..2], &[1, 0]);
        assert_eq!(
            crate::crypto::hybrid_decrypt(&back, b"l", &blob).unwrap(),
            b"v"
        );
    }

    fn check_generated(key: &Key, now: SystemTime, bits: usize) {
        let cert = key.certificate().unwrap();
        let (_, x509) = X509Certificate::from_der(cert.der()).unwrap();
        assert_eq!(x509.subject().iter().count(), 0);
        assert_eq!(x509.issuer().iter().count(), 0);
        assert_eq!(
            x509.public_key().parsed().map(|p| p.key_size()).unwrap(),
            bits
        );
        assert_eq!(cert.not_before(), unix_seconds(now));
        assert_eq!(cert.not_after() - cert.not_before(), 3650 * 86400);
        let ku = x509.key_usage().unwrap().unwrap();
        assert!(ku.critical);
        assert!(ku.value.encipher_only());
        assert_eq!(ku.value.flags, 1 << 7);
        let bc = x509.basic_constraints().unwrap().unwrap();
        assert!(bc.critical && bc.value.ca && bc.value.path_len_constraint.is_none());
        assert!(x509.signature_algorithm.algorithm.to_id_string() == "1.2.840.113549.1.1.11");
    }
}
