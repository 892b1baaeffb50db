//! Key management: loading the key Secrets of the key namespace, generating a key when there
//! is none (or the newest is due for renewal), and the renewal loop.
//!
//! Keys are kept in registration order with newly seen keys appended (sorted by time among
//! themselves), so [`newest_key`](fjord_seal::keys::newest_key), which picks the last of equal
//! times, prefers the key generated last when two share a `notBefore` second.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};
use tokio::sync::watch;

use crate::{SealControllerError, Shared};
use fjord_seal::keys::{
    from_unix_seconds, newest_key, next_rotation_in, should_rotate, Key, KeyOrder,
};
use fjord_seal::keystore::{generate_key, key_from_secret, key_to_secret, load_controller_keys};

/// Merges freshly loaded keys into the registered ones: known keys keep their place, new ones
/// are appended oldest first. Keys are never dropped (as upstream, which keeps every key it
/// loaded until restart).
pub(crate) fn merge_keys(existing: &[Key], loaded: Vec<Key>) -> Vec<Key> {
    let known: HashSet<&str> = existing.iter().map(Key::fingerprint).collect();
    let mut fresh: Vec<Key> = loaded
        .into_iter()
        .filter(|k| !known.contains(k.fingerprint()))
        .collect();
    fresh.sort_by_key(Key::time);
    let mut out = existing.to_vec();
    out.extend(fresh);
    out
}

/// The Secrets of the key namespace.
async fn list_key_namespace(shared: &Shared) -> Result<Vec<Value>, SealControllerError> {
    let ns = &shared.opts.key_namespace;
    shared
        .api
        .client
        .list(&shared.api.secrets, Some(ns))
        .await
        .map_err(|source| SealControllerError::ListKeys {
            namespace: ns.clone(),
            source,
        })
}

/// Re-reads the key Secrets; the caller holds `key_lock`.
async fn reload_locked(shared: &Shared) -> Result<(), SealControllerError> {
    let secrets = list_key_namespace(shared).await?;
    let (loaded, errors) = load_controller_keys(&secrets, &shared.opts.key_prefix);
    for e in errors {
        tracing::warn!(namespace = %shared.opts.key_namespace, error = %fjord_model::chain(&e), "skipping unreadable key Secret");
    }
    let current = shared.keys();
    let merged = merge_keys(&current, loaded);
    if merged.len() != current.len() {
        for k in &merged[current.len()..] {
            tracing::info!(
                fingerprint = k.fingerprint(),
                origin = k.origin(),
                "registered key"
            );
        }
        shared.set_keys(merged);
    }
    Ok(())
}

/// Re-reads the key Secrets (picking up keys added since).
pub(crate) async fn reload(shared: &Shared) -> Result<(), SealControllerError> {
    let _guard = shared.key_lock.lock().await;
    reload_locked(shared).await
}

fn newest_time(keys: &[Key]) -> Option<SystemTime> {
    newest_key(keys, KeyOrder::CertNotBefore).map(|k| from_unix_seconds(k.time()))
}

/// Generates a key, stores it as a `kubernetes.io/tls` Secret (`generateName: <prefix>`)
/// and registers it; the caller holds `key_lock`. Returns the fingerprint.
async fn renew_locked(shared: &Shared) -> Result<String, SealControllerError> {
    let keygen = shared.opts.keygen.clone();
    let key = tokio::task::spawn_blocking(move || generate_key(SystemTime::now(), &keygen))
        .await
        .map_err(|_| SealControllerError::Task("key generation"))?
        .map_err(SealControllerError::GenerateKey)?;
    let ns = &shared.opts.key_namespace;
    let prefix = &shared.opts.key_prefix;
    let secret = key_to_secret(&key, ns, prefix, &Map::new(), &Map::new()).map_err(|e| {
        SealControllerError::StoreKey {
            namespace: ns.clone(),
            prefix: prefix.clone(),
            reason: fjord_model::chain(&e),
            transient: false,
        }
    })?;
    let stored = store_key(shared, &secret).await?;
    let name = stored
        .pointer("/metadata/name")
        .and_then(|n| n.as_str())
        .unwrap_or(prefix)
        .to_string();
    // Read the key back from the stored Secret: same key, with its creation time.
    let key = key_from_secret(&stored, &format!("{ns}/{name}")).unwrap_or(key);
    let fingerprint = key.fingerprint().to_string();
    let mut keys = shared.keys().as_ref().clone();
    keys.retain(|k| k.fingerprint() != fingerprint);
    keys.push(key);
    shared.set_keys(keys);
    tracing::info!(secret = %format!("{ns}/{name}"), fingerprint = %fingerprint, "new key written");
    Ok(fingerprint)
}

/// Creates the key Secret, retrying transient API errors (429, 5xx, timeouts) with the
/// controller's start-up backoff. A create that timed out may still have been stored, so
/// before each retry the key namespace is searched for a Secret holding this certificate: the
/// key is stored once, not once per attempt.
async fn store_key(shared: &Shared, secret: &Value) -> Result<Value, SealControllerError> {
    let ns = &shared.opts.key_namespace;
    let prefix = &shared.opts.key_prefix;
    let store_err = |reason: String, transient: bool| SealControllerError::StoreKey {
        namespace: ns.clone(),
        prefix: prefix.clone(),
        reason,
        transient,
    };
    let cert = secret.pointer("/data/tls.crt").cloned();
    let mut attempts = 0u32;
    shared
        .opts
        .startup_retry
        .run(
            "storing the new sealing key",
            SealControllerError::is_transient,
            crate::log_retry,
            || {
                attempts += 1;
                let retry = attempts > 1;
                let cert = cert.clone();
                async move {
                    if retry {
                        let listed = list_key_namespace(shared).await?;
                        if let Some(found) = listed
                            .into_iter()
                            .find(|s| cert.is_some() && s.pointer("/data/tls.crt") == cert.as_ref())
                        {
                            return Ok(found);
                        }
                    }
                    shared
                        .api
                        .create_generated(&shared.api.secrets, ns, secret)
                        .await
                        .map_err(|e| store_err(e.message, e.transient))
                }
            },
        )
        .await
}

/// Generates, stores and registers a new key now (upstream's SIGUSR1).
pub(crate) async fn renew(shared: &Shared) -> Result<String, SealControllerError> {
    let _guard = shared.key_lock.lock().await;
    renew_locked(shared).await
}

/// Startup: loads the key Secrets, then generates a key when there is none, the newest is
/// older than the cutoff time, or renewal is overdue.
pub(crate) async fn initialize(shared: &Shared) -> Result<(), SealControllerError> {
    let _guard = shared.key_lock.lock().await;
    reload_locked(shared).await?;
    let keys = shared.keys();
    if should_rotate(
        SystemTime::now(),
        newest_time(&keys),
        shared.opts.key_renew_period,
        shared.opts.key_cutoff_time,
    ) {
        renew_locked(shared).await?;
    }
    if newest_key(&shared.keys(), KeyOrder::CertNotBefore).is_none() {
        return Err(SealControllerError::NoKey(
            shared.opts.key_namespace.clone(),
        ));
    }
    Ok(())
}

/// How long to sleep before the next key check: until renewal is due, at most one resync.
fn next_wait(shared: &Shared, failed: bool) -> Duration {
    let resync = shared.opts.resync.max(Duration::from_millis(10));
    if failed {
        return resync;
    }
    let keys = shared.keys();
    match newest_time(&keys)
        .and_then(|t| next_rotation_in(SystemTime::now(), t, shared.opts.key_renew_period))
    {
        Some(due) => due.min(resync),
        None => resync,
    }
}

/// Every resync (or when renewal is due): re-read the key Secrets and renew when the newest
/// key is `key_renew_period` old. Ends when `shutdown` flips.
pub(crate) async fn renewal_loop(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let mut failed = false;
    loop {
        let wait = next_wait(&shared, failed);
        tokio::select! {
            _ = shutdown.changed() => return,
            () = tokio::time::sleep(wait) => {}
        }
        if *shutdown.borrow() {
            return;
        }
        failed = false;
        if let Err(e) = reload(&shared).await {
            tracing::warn!(error = %fjord_model::chain(&e), "re-reading key Secrets failed");
            failed = true;
        }
        let keys = shared.keys();
        if should_rotate(
            SystemTime::now(),
            newest_time(&keys),
            shared.opts.key_renew_period,
            None,
        ) && !shared.opts.key_renew_period.is_zero()
        {
            match renew(&shared).await {
                Ok(_) => shared.wake.notify_one(),
                Err(e) => {
                    tracing::error!(error = %fjord_model::chain(&e), "key renewal failed");
                    failed = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkeys::{key_a, key_b};

    #[test]
    fn merge_keeps_order_and_appends_new_keys() {
        let (a, b) = (key_a(), key_b());
        let merged = merge_keys(std::slice::from_ref(&a), vec![b.clone(), a.clone()]);
        let fps: Vec<_> = merged.iter().map(Key::fingerprint).collect();
        assert_eq!(fps, [a.fingerprint(), b.fingerprint()]);
        // Nothing is dropped when a key Secret disappears.
        let merged = merge_keys(&merged, vec![]);
        assert_eq!(merged.len(), 2);
    }

    #[test]
    fn only_transient_store_and_api_errors_are_retried() {
        let store = |transient| SealControllerError::StoreKey {
            namespace: "kube-system".into(),
            prefix: "k".into(),
            reason: "x".into(),
            transient,
        };
        assert!(store(true).is_transient());
        assert!(!store(false).is_transient());
        assert!(!SealControllerError::NoKey("kube-system".into()).is_transient());
        assert!(!SealControllerError::Task("x").is_transient());
    }

    /// The first Secret creates answer 429 and 504 (the in-process API's fault rules): the
    /// controller retries, starts, and stores exactly one key.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn first_key_is_stored_once_through_transient_errors() {
        use fjord_cluster::{ClusterOptions, FaultRule};
        let dir = tempfile::tempdir().unwrap();
        let mut copts = ClusterOptions::new(dir.path());
        copts.in_memory = true;
        copts.addr = "127.0.0.1:0".parse().unwrap();
        copts.faults.rules = vec![FaultRule::parse("create:secrets:429,504:3").unwrap()];
        let cluster = fjord_cluster::serve(copts).await.unwrap();
        let opts = crate::SealControllerOptions {
            client: fjord_client::ClientOptions {
                kubeconfig: Some(cluster.kubeconfig().to_path_buf()),
                ..Default::default()
            },
            http_addr: None,
            keygen: fjord_seal::keystore::KeygenOptions {
                bits: 2048,
                ..Default::default()
            },
            startup_retry: fjord_client::StartupRetry {
                initial: Duration::from_millis(20),
                max: Duration::from_millis(100),
                budget: Duration::from_secs(30),
            },
            ..Default::default()
        };
        let handle = crate::start(opts).await.expect("starts despite 429/504");
        assert_eq!(handle.key_fingerprints().len(), 1);
        let client = fjord_client::Client::connect(&fjord_client::ClientOptions {
            kubeconfig: Some(cluster.kubeconfig().to_path_buf()),
            ..Default::default()
        })
        .await
        .unwrap();
        let secrets = client.resolve("v1", "Secret").await.unwrap();
        let stored = client.list(&secrets, Some("kube-system")).await.unwrap();
        let (keys, _) = load_controller_keys(&stored, fjord_seal::keystore::DEFAULT_KEY_PREFIX);
        assert_eq!(keys.len(), 1, "one key Secret, not one per attempt");
        assert_eq!(keys[0].fingerprint(), handle.key_fingerprints()[0]);
        handle.shutdown().await.unwrap();
        cluster.shutdown().await;
    }
}
