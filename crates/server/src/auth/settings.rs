//! Accounts and session settings read from `argocd-cm` and `argocd-secret`.

use std::collections::HashMap;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;

/// The default lifetime of a login session (`users.session.duration`).
pub const DEFAULT_SESSION: Duration = Duration::from_secs(24 * 3600);
/// The longest account name.
pub const MAX_USERNAME: usize = 32;

/// One account: `admin` or a local account of `argocd-cm`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Account {
    /// The name.
    pub name: String,
    /// `login` and/or `apiKey`.
    pub capabilities: Vec<String>,
    /// Whether it may be used at all.
    pub enabled: bool,
    /// The bcrypt hash of its password (none: it cannot log in).
    pub password_hash: Option<String>,
    /// When the password last changed (seconds since the epoch): tokens issued before are void.
    pub password_mtime: Option<i64>,
}

impl Account {
    /// Whether the account may use tokens of this capability (`login`, `apiKey`).
    pub fn can(&self, capability: &str) -> bool {
        self.enabled && self.capabilities.iter().any(|c| c == capability)
    }
}

/// What the server reads from `argocd-cm` and `argocd-secret`.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The HMAC key (`server.secretkey`).
    pub key: Vec<u8>,
    /// Accounts by name (admin included, when enabled or not).
    pub accounts: HashMap<String, Account>,
    /// The lifetime of login tokens.
    pub session_duration: Duration,
    /// Bad values, each naming its key (for a warning; the default is used instead).
    pub problems: Vec<String>,
}

/// The decoded `data` of a Secret (values that are not base64 UTF-8 are left out).
pub fn secret_data(secret: Option<&Value>) -> HashMap<String, String> {
    secret
        .and_then(|s| s.get("data"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| {
                    let bytes = STANDARD.decode(v.as_str()?).ok()?;
                    Some((k.clone(), String::from_utf8(bytes).ok()?))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A Go duration (`24h`, `90m`, `1h30m`, `2s`, `500ms`).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[u..];
        total += value * unit;
    }
    Some(Duration::from_secs_f64(total))
}

/// An RFC 3339 time as seconds since the epoch.
pub fn parse_time(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.timestamp())
}

impl Settings {
    /// Reads `argocd-cm` and `argocd-secret` (either may be missing).
    pub fn from_objects(cm: Option<&Value>, secret: Option<&Value>) -> Settings {
        let cm_data = cm
            .and_then(|c| c.get("data"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let cm_str = |k: &str| cm_data.get(k).and_then(Value::as_str).map(str::trim);
        let sec = secret_data(secret);
        let mut problems = Vec::new();
        let session_duration = match cm_str("users.session.duration") {
            None | Some("") => DEFAULT_SESSION,
            Some(v) => match parse_duration(v) {
                Some(d) if !d.is_zero() => d,
                _ => {
                    problems.push(format!(
                        "argocd-cm users.session.duration {v:?} is not a duration like 24h; using 24h"
                    ));
                    DEFAULT_SESSION
                }
            },
        };
        let mtime = |k: &str| sec.get(k).and_then(|v| parse_time(v));
        let mut accounts = HashMap::new();
        accounts.insert(
            "admin".to_string(),
            Account {
                name: "admin".into(),
                capabilities: vec!["login".into()],
                enabled: cm_str("admin.enabled") != Some("false"),
                password_hash: sec.get("admin.password").cloned(),
                password_mtime: mtime("admin.passwordMtime"),
            },
        );
        for (k, v) in &cm_data {
            let Some(name) = k.strip_prefix("accounts.") else {
                continue;
            };
            if name.contains('.') || name == "admin" {
                continue;
            }
            if name.len() > MAX_USERNAME {
                problems.push(format!(
                    "argocd-cm {k}: account names are at most {MAX_USERNAME} characters; ignored"
                ));
                continue;
            }
            let capabilities = v
                .as_str()
                .unwrap_or("")
                .split(',')
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect();
            accounts.insert(
                name.to_string(),
                Account {
                    name: name.to_string(),
                    capabilities,
                    enabled: cm_str(&format!("accounts.{name}.enabled")) != Some("false"),
                    password_hash: sec.get(&format!("accounts.{name}.password")).cloned(),
                    password_mtime: mtime(&format!("accounts.{name}.passwordMtime")),
                },
            );
        }
        Settings {
            key: sec
                .get("server.secretkey")
                .map(|k| k.as_bytes().to_vec())
                .unwrap_or_default(),
            accounts,
            session_duration,
            problems,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(s: &str) -> String {
        STANDARD.encode(s)
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("24h"), Some(Duration::from_secs(86400)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2s"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2 days"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn accounts_from_cm_and_secret() {
        let cm = json!({"data": {
            "admin.enabled": "false",
            "accounts.alice": "apiKey, login",
            "accounts.bob": "apiKey",
            "accounts.bob.enabled": "false",
            "users.session.duration": "2s",
        }});
        let secret = json!({"data": {
            "server.secretkey": b64("k3y"),
            "admin.password": b64("$2b$hash"),
            "accounts.alice.password": b64("$2b$alice"),
            "accounts.alice.passwordMtime": b64("2026-01-02T03:04:05Z"),
        }});
        let s = Settings::from_objects(Some(&cm), Some(&secret));
        assert_eq!(s.key, b"k3y");
        assert_eq!(s.session_duration, Duration::from_secs(2));
        assert!(!s.accounts["admin"].can("login"));
        let alice = &s.accounts["alice"];
        assert!(alice.can("login") && alice.can("apiKey"));
        assert_eq!(alice.password_hash.as_deref(), Some("$2b$alice"));
        assert_eq!(alice.password_mtime, Some(1767323045));
        assert!(!s.accounts["bob"].can("apiKey"));
        let bad = json!({"data": {"users.session.duration": "forever"}});
        let s = Settings::from_objects(Some(&bad), None);
        assert_eq!(s.session_duration, DEFAULT_SESSION);
        assert_eq!(s.problems.len(), 1);
        assert!(s.accounts["admin"].can("login"));
    }
}
