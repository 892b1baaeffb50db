//! [`TokenCache`]: one token per key, logged in on first use, renewed at half its TTL, replaced
//! when renewal fails, the TTL nears its maximum, or Vault answers 403.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::auth::{Login, Token};
use crate::client::Vault;
use crate::error::VaultError;

/// A token this close to expiry is not used: a fresh one is obtained.
const EXPIRY_MARGIN: Duration = Duration::from_secs(2);

/// One token per key (store identity + tenant namespace).
///
/// - A login token is renewed with `renew-self` once half its TTL has passed; when renewal
///   fails, or Vault grants less than half the TTL the token was obtained with (its max TTL is
///   near), the cache logs in again.
/// - A given token (`Login::Token`) is used as-is: renewed when renewable, never replaced.
/// - [`TokenCache::with_token`] retries an operation once with a fresh token after a 403.
///
/// Concurrent callers of one key share one login.
#[derive(Default)]
pub struct TokenCache {
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Entry>>>>>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.slots.lock().map(|s| s.len()).unwrap_or(0);
        f.debug_struct("TokenCache").field("keys", &n).finish()
    }
}

struct Entry {
    token: Token,
    /// The TTL the token was obtained with (renewals shorter than half of it: max TTL near).
    granted: Option<Duration>,
}

/// What to do with a cached token.
#[derive(Debug, PartialEq, Eq)]
enum Plan {
    Use,
    Renew,
    Login,
}

fn plan(entry: &Entry, now: Instant) -> Plan {
    let token = &entry.token;
    let (Some(ttl), Some(remaining)) = (token.ttl(), token.remaining(now)) else {
        return Plan::Use;
    };
    let expiring = remaining <= EXPIRY_MARGIN;
    let half_gone = now.saturating_duration_since(token.obtained_at()) >= ttl / 2;
    match (token.is_static(), expiring, half_gone && token.renewable()) {
        (true, _, true) => Plan::Renew,
        (true, _, false) => Plan::Use,
        (false, true, _) => Plan::Login,
        (false, false, true) => Plan::Renew,
        (false, false, false) => Plan::Use,
    }
}

impl TokenCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The token of `key`: the cached one (renewed when due), or a new one from `login()`
    /// (which gives the login and its auth namespace; it is called only when a login is needed).
    pub async fn token<F, Fut>(
        &self,
        key: &str,
        vault: &Vault,
        login: F,
    ) -> Result<Token, VaultError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(Login, Option<String>), VaultError>>,
    {
        let slot = self.slot(key);
        let mut guard = slot.lock().await;
        if let Some(entry) = guard.as_mut() {
            match plan(entry, Instant::now()) {
                Plan::Use => return Ok(entry.token.clone()),
                Plan::Renew => match vault.renew_self(&entry.token).await {
                    Ok(renewed) if renewed_enough(entry, &renewed) => {
                        entry.token = renewed;
                        return Ok(entry.token.clone());
                    }
                    Ok(renewed) if entry.token.is_static() => {
                        entry.token = renewed;
                        return Ok(entry.token.clone());
                    }
                    Err(e) if entry.token.is_static() => {
                        tracing::warn!(server = vault.server(), key, error = %e, "renewing the given token failed");
                        return Ok(entry.token.clone());
                    }
                    Ok(_) => tracing::debug!(key, "token near its max TTL: logging in again"),
                    Err(e) => {
                        tracing::info!(key, error = %e, "token renewal failed: logging in again")
                    }
                },
                Plan::Login => {}
            }
        }
        let (login, auth_namespace) = login().await?;
        let token = vault.login(&login, auth_namespace.as_deref()).await?;
        *guard = Some(Entry {
            granted: token.ttl(),
            token: token.clone(),
        });
        Ok(token)
    }

    /// Drops the token of `key` (the next [`TokenCache::token`] logs in).
    pub fn forget(&self, key: &str) {
        if let Ok(mut slots) = self.slots.lock() {
            slots.remove(key);
        }
    }

    /// Runs `op` with the token of `key`; when it fails with 403 and the token was obtained by
    /// a login, forgets the token, logs in again and runs `op` once more.
    pub async fn with_token<F, Fut, Op, OpFut, T>(
        &self,
        key: &str,
        vault: &Vault,
        login: F,
        op: Op,
    ) -> Result<T, VaultError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<(Login, Option<String>), VaultError>>,
        Op: Fn(Token) -> OpFut,
        OpFut: Future<Output = Result<T, VaultError>>,
    {
        let token = self.token(key, vault, &login).await?;
        let is_static = token.is_static();
        match op(token).await {
            Err(e) if e.status() == Some(403) && !is_static => {
                tracing::info!(key, "403 from vault: logging in again");
                self.forget(key);
                let token = self.token(key, vault, &login).await?;
                op(token).await
            }
            other => other,
        }
    }

    fn slot(&self, key: &str) -> Arc<tokio::sync::Mutex<Option<Entry>>> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.entry(key.to_string()).or_default().clone()
    }
}

/// Whether a renewal kept at least half the TTL the token was obtained with.
fn renewed_enough(entry: &Entry, renewed: &Token) -> bool {
    match (entry.granted, renewed.ttl()) {
        (Some(granted), Some(now)) => now >= granted / 2,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fjord_model::SecretString;

    fn entry(ttl: Option<u64>, renewable: bool, is_static: bool, age: u64) -> (Entry, Instant) {
        let token = Token::for_tests(
            SecretString::new("t"),
            ttl.map(Duration::from_secs),
            renewable,
            is_static,
        );
        let now = token.obtained_at() + Duration::from_secs(age);
        (
            Entry {
                granted: token.ttl(),
                token,
            },
            now,
        )
    }

    #[test]
    fn plans_follow_the_ttl() {
        let cases = [
            // (ttl, renewable, static, age) -> plan
            ((None, false, false, 1000), Plan::Use),
            ((Some(60), true, false, 10), Plan::Use),
            ((Some(60), true, false, 30), Plan::Renew),
            ((Some(60), false, false, 30), Plan::Use),
            ((Some(60), false, false, 59), Plan::Login),
            ((Some(60), true, false, 70), Plan::Login),
            ((Some(60), true, true, 40), Plan::Renew),
            ((Some(60), false, true, 70), Plan::Use),
        ];
        for ((ttl, renewable, is_static, age), want) in cases {
            let (e, now) = entry(ttl, renewable, is_static, age);
            assert_eq!(plan(&e, now), want, "{ttl:?} {renewable} {is_static} {age}");
        }
    }

    #[test]
    fn a_capped_renewal_is_not_enough() {
        let (e, _) = entry(Some(60), true, false, 0);
        let short = Token::for_tests(
            SecretString::new("t"),
            Some(Duration::from_secs(20)),
            true,
            false,
        );
        let full = Token::for_tests(
            SecretString::new("t"),
            Some(Duration::from_secs(60)),
            true,
            false,
        );
        assert!(!renewed_enough(&e, &short));
        assert!(renewed_enough(&e, &full));
    }
}
