//! [`ReadCache`]: reads cached for an interval per (key, path); concurrent identical reads share
//! one request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, FutureExt, Shared};
use serde_json::Value;

use crate::auth::Token;
use crate::client::Vault;
use crate::error::VaultError;

/// From this many entries on, a new read first drops the expired ones.
const PRUNE_AT: usize = 256;

type Outcome = Result<Option<Value>, VaultError>;
type Flight = Shared<BoxFuture<'static, Outcome>>;

enum Slot {
    /// A successful read (a 404 too) and when it finished.
    Ready(Option<Arc<Value>>, Instant),
    /// A read under way; every reader of this (key, path) awaits it.
    Pending(Flight),
}

/// Reads cached for `ttl` per (cache key, path). Concurrent reads of one (key, path) share one
/// request (single flight); errors are handed to the readers that waited for them and not
/// cached. The cache key names the store and tenant (whose token and namespace the read uses).
pub struct ReadCache {
    ttl: Duration,
    slots: Mutex<HashMap<(String, String), Slot>>,
}

impl std::fmt::Debug for ReadCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.slots.lock().map(|s| s.len()).unwrap_or(0);
        f.debug_struct("ReadCache")
            .field("ttl", &self.ttl)
            .field("entries", &n)
            .finish()
    }
}

impl ReadCache {
    /// A cache whose entries live `ttl` (zero: only concurrent reads are shared).
    pub fn new(ttl: Duration) -> Self {
        ReadCache {
            ttl,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// [`Vault::read`] of `path` through the cache.
    pub async fn read(
        &self,
        cache_key: &str,
        vault: &Vault,
        token: &Token,
        path: &str,
    ) -> Result<Option<Value>, VaultError> {
        let key = (cache_key.to_string(), path.to_string());
        let flight = {
            let mut slots = self.lock();
            match slots.get(&key) {
                Some(Slot::Ready(value, at)) if at.elapsed() < self.ttl => {
                    return Ok(value.as_deref().cloned());
                }
                Some(Slot::Pending(flight)) => flight.clone(),
                _ => {
                    let (vault, token, path) = (vault.clone(), token.clone(), path.to_string());
                    let flight = async move { vault.read(&token, &path).await }
                        .boxed()
                        .shared();
                    if slots.len() >= PRUNE_AT {
                        let ttl = self.ttl;
                        slots.retain(|_, slot| match slot {
                            Slot::Ready(_, at) => at.elapsed() < ttl,
                            Slot::Pending(_) => true,
                        });
                    }
                    slots.insert(key.clone(), Slot::Pending(flight.clone()));
                    flight
                }
            }
        };
        let outcome = flight.clone().await;
        let mut slots = self.lock();
        if let Some(Slot::Pending(current)) = slots.get(&key) {
            if Shared::ptr_eq(current, &flight) {
                match &outcome {
                    Ok(value) => {
                        let value = value.clone().map(Arc::new);
                        slots.insert(key, Slot::Ready(value, Instant::now()));
                    }
                    Err(_) => {
                        slots.remove(&key);
                    }
                }
            }
        }
        outcome
    }

    /// Empties the cache (reads under way finish for their readers).
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// The number of cached or pending entries.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is cached or pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::VaultConfig;
    use crate::fake::fake_server;
    use fjord_model::SecretString;

    const NOT_FOUND: &str =
        "HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 13\r\n\r\n{\"errors\":[]}";

    #[tokio::test]
    async fn expired_entries_are_read_again_and_pruned() {
        let server = fake_server(Some(NOT_FOUND.as_bytes().to_vec())).await;
        let vault = Vault::new(VaultConfig::new(server)).unwrap();
        let token = Token::from_secret(SecretString::new("t"));
        let cache = ReadCache::new(Duration::from_millis(200));
        for i in 0..PRUNE_AT {
            let path = format!("secret/data/p{i}");
            assert_eq!(cache.read("k", &vault, &token, &path).await.unwrap(), None);
        }
        assert_eq!(cache.len(), PRUNE_AT);
        assert_eq!(vault.requests(), PRUNE_AT as u64);
        cache
            .read("k", &vault, &token, "secret/data/p0")
            .await
            .unwrap();
        assert_eq!(vault.requests(), PRUNE_AT as u64, "fresh: cached");
        tokio::time::sleep(Duration::from_millis(250)).await;
        cache
            .read("k", &vault, &token, "secret/data/p0")
            .await
            .unwrap();
        assert_eq!(vault.requests(), PRUNE_AT as u64 + 1, "expired: read again");
        cache
            .read("k", &vault, &token, "secret/data/new")
            .await
            .unwrap();
        assert_eq!(cache.len(), 2, "the expired entries went");
        cache.clear();
        assert!(cache.is_empty());
    }
}
