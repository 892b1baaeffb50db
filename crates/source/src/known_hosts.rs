//! SSH host-key verification against Argo CD's `argocd-ssh-known-hosts-cm` ConfigMap (its
//! `ssh_known_hosts` data, in OpenSSH `known_hosts` format).

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha1::Sha1;
use thiserror::Error;

use crate::credentials::secret_name;

/// The ConfigMap key holding the known hosts.
pub const KNOWN_HOSTS_KEY: &str = "ssh_known_hosts";

/// Errors raised while reading known hosts.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum KnownHostsError {
    /// A line has too few fields or an undecodable key.
    #[error("known hosts {source_name:?} line {line}: {reason}")]
    BadLine {
        /// Where the text came from (ConfigMap name).
        source_name: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
}

/// The verdict on a host key presented by a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKeyVerdict {
    /// A known_hosts entry for the host lists this key.
    Trusted,
    /// The host has entries, but none with this key (possible man-in-the-middle).
    Mismatch,
    /// The key is marked `@revoked`.
    Revoked,
    /// No entry names the host.
    Unknown,
}

#[derive(Debug, Clone)]
enum HostPattern {
    Plain { pattern: String, negated: bool },
    Hashed { salt: Vec<u8>, hash: Vec<u8> },
}

#[derive(Debug, Clone)]
struct Entry {
    patterns: Vec<HostPattern>,
    key: Vec<u8>,
    revoked: bool,
}

/// A parsed set of known hosts.
#[derive(Debug, Clone, Default)]
pub struct KnownHosts {
    entries: Vec<Entry>,
}

impl KnownHosts {
    /// Reads the `ssh_known_hosts` key of an `argocd-ssh-known-hosts-cm`-style ConfigMap; a
    /// ConfigMap without that key gives an empty set (every host unknown).
    pub fn from_config_map(cm: &Value) -> Result<Self, KnownHostsError> {
        let text = cm
            .get("data")
            .and_then(|d| d.get(KNOWN_HOSTS_KEY))
            .and_then(Value::as_str)
            .unwrap_or_default();
        Self::parse(text, &secret_name(cm))
    }

    /// Parses OpenSSH known_hosts text. `@cert-authority` lines are skipped (certificates are not
    /// supported); `@revoked` lines mark keys as revoked.
    pub fn parse(text: &str, source_name: &str) -> Result<Self, KnownHostsError> {
        let mut entries = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |reason: &str| KnownHostsError::BadLine {
                source_name: source_name.to_string(),
                line: i + 1,
                reason: reason.to_string(),
            };
            let mut fields = line.split_whitespace().peekable();
            let mut revoked = false;
            if let Some(marker) = fields.peek().filter(|f| f.starts_with('@')) {
                match *marker {
                    "@revoked" => revoked = true,
                    "@cert-authority" => continue,
                    _ => return Err(bad("unknown marker")),
                }
                fields.next();
            }
            let hosts = fields.next().ok_or_else(|| bad("missing host patterns"))?;
            let _key_type = fields.next().ok_or_else(|| bad("missing key type"))?;
            let key_b64 = fields.next().ok_or_else(|| bad("missing key"))?;
            let key = b64(key_b64).ok_or_else(|| bad("key is not valid base64"))?;
            let patterns = hosts
                .split(',')
                .map(|p| parse_pattern(p).ok_or_else(|| bad("bad hashed host entry")))
                .collect::<Result<Vec<_>, _>>()?;
            entries.push(Entry {
                patterns,
                key,
                revoked,
            });
        }
        Ok(KnownHosts { entries })
    }

    /// Whether there are no entries at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Checks the raw public-key blob `key` presented by `host` on `port` (`None` or 22 use the
    /// bare host name; other ports are looked up as `[host]:port`, as OpenSSH writes them).
    pub fn check(&self, host: &str, port: Option<u16>, key: &[u8]) -> HostKeyVerdict {
        let name = match port {
            None | Some(22) => host.to_ascii_lowercase(),
            Some(p) => format!("[{}]:{p}", host.to_ascii_lowercase()),
        };
        let mut seen = false;
        let mut trusted = false;
        for e in self.entries.iter().filter(|e| entry_matches(e, &name)) {
            if e.key == key {
                if e.revoked {
                    return HostKeyVerdict::Revoked;
                }
                trusted = true;
            }
            if !e.revoked {
                seen = true;
            }
        }
        if trusted {
            HostKeyVerdict::Trusted
        } else if seen {
            HostKeyVerdict::Mismatch
        } else {
            HostKeyVerdict::Unknown
        }
    }
}

fn b64(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

fn parse_pattern(p: &str) -> Option<HostPattern> {
    if let Some(rest) = p.strip_prefix("|1|") {
        let (salt, hash) = rest.split_once('|')?;
        return Some(HostPattern::Hashed {
            salt: b64(salt)?,
            hash: b64(hash)?,
        });
    }
    let (negated, pattern) = match p.strip_prefix('!') {
        Some(r) => (true, r),
        None => (false, p),
    };
    Some(HostPattern::Plain {
        pattern: pattern.to_ascii_lowercase(),
        negated,
    })
}

fn entry_matches(e: &Entry, name: &str) -> bool {
    let mut matched = false;
    for p in &e.patterns {
        match p {
            HostPattern::Plain { pattern, negated } => {
                if wildcard(pattern.as_bytes(), name.as_bytes()) {
                    if *negated {
                        return false;
                    }
                    matched = true;
                }
            }
            HostPattern::Hashed { salt, hash } => {
                let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(salt) else {
                    continue;
                };
                mac.update(name.as_bytes());
                if mac.verify_slice(hash).is_ok() {
                    matched = true;
                }
            }
        }
    }
    matched
}

/// OpenSSH host pattern match: `*` any run, `?` one character.
fn wildcard(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => wildcard(&p[1..], s) || (!s.is_empty() && wildcard(p, &s[1..])),
        (Some(b'?'), Some(_)) => wildcard(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => wildcard(&p[1..], &s[1..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY_A: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
    const KEY_B: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIBBBqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

    fn key(s: &str) -> Vec<u8> {
        b64(s).unwrap()
    }

    #[test]
    fn plain_and_port_entries() {
        let kh = KnownHosts::parse(
            &format!(
                "# comment\ngithub.com,gh.example ssh-ed25519 {KEY_A}\n[127.0.0.1]:2222 ssh-ed25519 {KEY_B} test\n"
            ),
            "cm",
        )
        .unwrap();
        assert_eq!(
            kh.check("github.com", None, &key(KEY_A)),
            HostKeyVerdict::Trusted
        );
        assert_eq!(
            kh.check("GH.example", Some(22), &key(KEY_A)),
            HostKeyVerdict::Trusted
        );
        assert_eq!(
            kh.check("github.com", None, &key(KEY_B)),
            HostKeyVerdict::Mismatch
        );
        assert_eq!(
            kh.check("gitlab.com", None, &key(KEY_A)),
            HostKeyVerdict::Unknown
        );
        assert_eq!(
            kh.check("127.0.0.1", Some(2222), &key(KEY_B)),
            HostKeyVerdict::Trusted
        );
        // the port matters
        assert_eq!(
            kh.check("127.0.0.1", None, &key(KEY_B)),
            HostKeyVerdict::Unknown
        );
    }

    #[test]
    fn hashed_wildcard_negated_and_revoked() {
        // |1|salt|HMAC-SHA1(salt, "example.org")
        let salt = [7u8; 20];
        let mut mac = Hmac::<Sha1>::new_from_slice(&salt).unwrap();
        mac.update(b"example.org");
        let hash = mac.finalize().into_bytes();
        let e = base64::engine::general_purpose::STANDARD;
        let text = format!(
            "|1|{}|{} ssh-ed25519 {KEY_A}\n*.corp,!bad.corp ssh-ed25519 {KEY_B}\n@revoked * ssh-ed25519 {KEY_A}\n@cert-authority *.x ssh-ed25519 {KEY_B}\n",
            e.encode(salt),
            e.encode(hash)
        );
        let kh = KnownHosts::parse(&text, "cm").unwrap();
        assert_eq!(
            kh.check("example.org", None, &key(KEY_A)),
            HostKeyVerdict::Revoked
        );
        assert_eq!(
            kh.check("git.corp", None, &key(KEY_B)),
            HostKeyVerdict::Trusted
        );
        assert_eq!(
            kh.check("bad.corp", None, &key(KEY_B)),
            HostKeyVerdict::Unknown
        );
        let text = format!(
            "|1|{}|{} ssh-ed25519 {KEY_A}\n",
            e.encode(salt),
            e.encode(hash)
        );
        let kh = KnownHosts::parse(&text, "cm").unwrap();
        assert_eq!(
            kh.check("example.org", None, &key(KEY_A)),
            HostKeyVerdict::Trusted
        );
        assert_eq!(
            kh.check("example.com", None, &key(KEY_A)),
            HostKeyVerdict::Unknown
        );
    }

    #[test]
    fn reads_config_map_and_reports_bad_lines() {
        let cm = json!({"metadata": {"name": "argocd-ssh-known-hosts-cm", "namespace": "argocd"},
            "data": {"ssh_known_hosts": format!("h ssh-ed25519 {KEY_A}\n")}});
        let kh = KnownHosts::from_config_map(&cm).unwrap();
        assert_eq!(kh.check("h", None, &key(KEY_A)), HostKeyVerdict::Trusted);
        assert!(KnownHosts::from_config_map(&json!({})).unwrap().is_empty());
        let err = KnownHosts::parse("ok ssh-ed25519 AAAA\nbroken ssh-rsa\n", "cm").unwrap_err();
        assert_eq!(
            err,
            KnownHostsError::BadLine {
                source_name: "cm".into(),
                line: 2,
                reason: "missing key".into()
            }
        );
        assert!(KnownHosts::parse("h ssh-rsa not*base64\n", "cm").is_err());
    }
}
