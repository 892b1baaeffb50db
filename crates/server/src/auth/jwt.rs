//! HS256 JSON Web Tokens as Argo CD issues them: `iss: "argocd"`, `sub`, `iat`, `nbf`, an
//! optional `exp`, and a `jti`; signed with `server.secretkey`, base64url without padding.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;

/// The issuer of the tokens this server signs.
pub const ISSUER: &str = "argocd";

/// The claims fjord reads and writes (other claims of a token are kept in `extra`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// The issuer.
    pub iss: String,
    /// The subject: `<account>:login`, `<account>:apiKey` or `proj:<project>:<role>`.
    pub sub: String,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Not before (seconds since the epoch).
    #[serde(default)]
    pub nbf: Option<i64>,
    /// Expiry (seconds since the epoch); absent: the token does not expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// The token id.
    #[serde(default)]
    pub jti: String,
    /// Any other claims (groups and the like).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

/// Why a token was refused. The messages never contain the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Not three base64url parts.
    #[error("the token is malformed")]
    Malformed,
    /// The header names another algorithm than HS256.
    #[error("the token's algorithm is not HS256")]
    Algorithm,
    /// The signature does not match the server's key.
    #[error("the token's signature is invalid")]
    Signature,
    /// The claims are not valid JSON of the expected shape.
    #[error("the token's claims are malformed")]
    Claims,
    /// `exp` has passed.
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// The issuer is not this server.
    #[error("the token was not issued by this server")]
    Issuer,
}

type HmacSha256 = Hmac<Sha256>;

fn mac(key: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length; this never fails.
    match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable_hmac(),
    }
}

#[cold]
fn unreachable_hmac() -> HmacSha256 {
    // new_from_slice only fails for fixed-size-key MACs; HMAC has none. Fall back to an
    // empty key rather than panic.
    <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default())
}

/// Signs `claims` with `key`.
pub fn sign(claims: &Claims, key: &[u8]) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let signing_input = format!("{header}.{payload}");
    let mut m = mac(key);
    m.update(signing_input.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(m.finalize().into_bytes());
    format!("{signing_input}.{sig}")
}

/// Checks the signature, algorithm, issuer and times of `token` at `now` (seconds).
pub fn verify(token: &str, key: &[u8], now: i64) -> Result<Claims, JwtError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let header = URL_SAFE_NO_PAD.decode(h).map_err(|_| JwtError::Malformed)?;
    let header: Value = serde_json::from_slice(&header).map_err(|_| JwtError::Malformed)?;
    if header.get("alg").and_then(Value::as_str) != Some("HS256") {
        return Err(JwtError::Algorithm);
    }
    let sig = URL_SAFE_NO_PAD.decode(s).map_err(|_| JwtError::Malformed)?;
    let mut m = mac(key);
    m.update(h.as_bytes());
    m.update(b".");
    m.update(p.as_bytes());
    m.verify_slice(&sig).map_err(|_| JwtError::Signature)?;
    let payload = URL_SAFE_NO_PAD.decode(p).map_err(|_| JwtError::Malformed)?;
    let claims: Claims = serde_json::from_slice(&payload).map_err(|_| JwtError::Claims)?;
    if claims.iss != ISSUER {
        return Err(JwtError::Issuer);
    }
    if claims.exp.is_some_and(|exp| now >= exp) {
        return Err(JwtError::Expired);
    }
    if claims.nbf.is_some_and(|nbf| nbf > now + 5) {
        return Err(JwtError::NotYetValid);
    }
    Ok(claims)
}

/// A random token id in the form of a version 4 UUID.
pub fn new_id() -> String {
    let mut b = [0u8; 16];
    super::random::fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: Option<i64>) -> Claims {
        Claims {
            iss: ISSUER.into(),
            sub: "admin:login".into(),
            iat: 1000,
            nbf: Some(1000),
            exp,
            jti: new_id(),
            extra: Default::default(),
        }
    }

    #[test]
    fn round_trip_and_expiry() {
        let c = claims(Some(2000));
        let t = sign(&c, b"key");
        assert_eq!(verify(&t, b"key", 1500).unwrap(), c);
        assert_eq!(verify(&t, b"key", 2000), Err(JwtError::Expired));
        assert_eq!(verify(&t, b"other", 1500), Err(JwtError::Signature));
        assert_eq!(verify(&t, b"key", 900), Err(JwtError::NotYetValid));
        let never = sign(&claims(None), b"key");
        assert!(verify(&never, b"key", i64::MAX / 2).is_ok());
    }

    #[test]
    fn tampering_and_other_algorithms_are_refused() {
        let t = sign(&claims(Some(2000)), b"key");
        let mut parts: Vec<&str> = t.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(br#"{"iss":"argocd","sub":"x","iat":1}"#);
        parts[1] = &forged;
        assert_eq!(
            verify(&parts.join("."), b"key", 1500),
            Err(JwtError::Signature)
        );
        let none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
        let t2 = format!("{none}.{}.", t.split('.').nth(1).unwrap());
        assert_eq!(verify(&t2, b"key", 1500), Err(JwtError::Algorithm));
        assert_eq!(verify("abc", b"key", 1500), Err(JwtError::Malformed));
        let other = Claims {
            iss: "dex".into(),
            ..claims(None)
        };
        assert_eq!(
            verify(&sign(&other, b"key"), b"key", 1500),
            Err(JwtError::Issuer)
        );
    }

    #[test]
    fn ids_look_like_uuids() {
        let a = new_id();
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert_ne!(a, new_id());
    }
}
