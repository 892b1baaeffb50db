//! Token renewal and re-login ([`TokenCache`]) and the read cache against a real OpenBao.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{approle, approle_login, client, kv2, policy, root};
use fjord_testkit::bao::Bao;
use fjord_testkit::require_tools;
use fjord_testkit::tools::BAO;
use fjord_vault::{ReadCache, TokenCache, VaultError};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_renewed_at_half_ttl_and_replaced_near_max_ttl() {
    require_tools!(BAO);
    let bao = Bao::dev();
    policy(&bao, "reader", &["secret/data/*"]);
    let ids = approle(
        &bao,
        "short",
        json!({"token_policies": ["reader"], "token_ttl": "10s", "token_max_ttl": "13s"}),
    );
    let vault = client(&bao, None);
    let cache = TokenCache::new();
    let logins = AtomicUsize::new(0);
    let login = || async {
        logins.fetch_add(1, Ordering::SeqCst);
        Ok::<_, VaultError>((approle_login(&ids), None))
    };
    let first = cache.token("store", &vault, login).await.unwrap();
    assert_eq!(first.ttl(), Some(Duration::from_secs(10)));
    // Before half the TTL: the same token, no request.
    let before = vault.requests();
    let again = cache.token("store", &vault, login).await.unwrap();
    assert_eq!(again.secret(), first.secret());
    assert_eq!(vault.requests(), before);

    tokio::time::sleep(Duration::from_millis(5500)).await;
    let renewed = cache.token("store", &vault, login).await.unwrap();
    assert_eq!(renewed.secret(), first.secret(), "renewed, not replaced");
    assert_eq!(vault.requests(), before + 1, "one renew-self");
    assert!(renewed.obtained_at() > first.obtained_at());
    // Renewed before expiry: Vault now gives it more than the 4.5 s left of the first TTL.
    let ttl = vault.lookup_self(&renewed).await.unwrap()["data"]["ttl"]
        .as_u64()
        .unwrap();
    assert!(ttl >= 6, "ttl after renewal: {ttl}");

    // Half the renewed TTL later the max TTL (13 s) caps the renewal: a new login.
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let replaced = cache.token("store", &vault, login).await.unwrap();
    assert_ne!(replaced.secret(), first.secret());
    assert_eq!(logins.load(Ordering::SeqCst), 2);
    assert_eq!(replaced.ttl(), Some(Duration::from_secs(10)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_403_logs_in_again_and_retries_once() {
    require_tools!(BAO);
    let bao = Bao::dev();
    bao.kv_put("production/db", &[("password", "after-relogin")]);
    policy(&bao, "reader", &["secret/data/production/*"]);
    let ids = approle(&bao, "reader", json!({"token_policies": ["reader"]}));
    let vault = client(&bao, None);
    let cache = TokenCache::new();
    let logins = AtomicUsize::new(0);
    let login = || async {
        logins.fetch_add(1, Ordering::SeqCst);
        Ok::<_, VaultError>((approle_login(&ids), None))
    };
    let token = cache.token("store", &vault, login).await.unwrap();
    bao.api(
        "POST",
        "auth/token/revoke",
        Some(&json!({"token": token.secret().expose()})),
    );
    let read = |t: fjord_vault::Token| {
        let vault = vault.clone();
        async move { vault.read(&t, "secret/data/production/db").await }
    };
    let body = cache
        .with_token("store", &vault, login, read)
        .await
        .unwrap();
    assert_eq!(kv2(&body)["password"], "after-relogin");
    assert_eq!(logins.load(Ordering::SeqCst), 2);

    // A 403 the new token gets too is returned after one retry.
    let forbidden = |t: fjord_vault::Token| {
        let vault = vault.clone();
        async move { vault.read(&t, "secret/data/other").await }
    };
    let err = cache
        .with_token("store", &vault, login, forbidden)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403));
    assert_eq!(logins.load(Ordering::SeqCst), 3);

    // Concurrent first uses of a key share one login.
    let fresh = TokenCache::new();
    let tokens = futures::future::join_all((0..5).map(|_| fresh.token("k", &vault, login))).await;
    assert_eq!(logins.load(Ordering::SeqCst), 4);
    assert!(tokens
        .iter()
        .all(|t| t.as_ref().unwrap().secret() == tokens[0].as_ref().unwrap().secret()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reads_share_one_request_and_errors_are_not_cached() {
    require_tools!(BAO);
    let bao = Bao::dev();
    bao.kv_put("production/db", &[("password", "cached-1")]);
    let vault = client(&bao, None);
    let token = root(&vault, &bao).await;
    let cache = Arc::new(ReadCache::new(Duration::from_secs(60)));
    let path = "secret/data/production/db";

    let before = vault.requests();
    let reads = (0..20).map(|_| cache.read("store", &vault, &token, path));
    let bodies = futures::future::join_all(reads).await;
    assert_eq!(
        vault.requests(),
        before + 1,
        "20 concurrent reads, one request"
    );
    assert!(bodies
        .iter()
        .all(|b| kv2(b.as_ref().unwrap())["password"] == "cached-1"));

    // Within the TTL: from the cache, even after the value changed.
    bao.kv_put("production/db", &[("password", "cached-2")]);
    let body = cache.read("store", &vault, &token, path).await.unwrap();
    assert_eq!(kv2(&body)["password"], "cached-1");
    assert_eq!(vault.requests(), before + 1);
    // Another cache key reads on its own.
    let body = cache
        .read("other-store", &vault, &token, path)
        .await
        .unwrap();
    assert_eq!(kv2(&body)["password"], "cached-2");
    assert_eq!(vault.requests(), before + 2);
    // A 404 is cached like a value.
    for _ in 0..2 {
        assert_eq!(
            cache
                .read("store", &vault, &token, "secret/data/none")
                .await
                .unwrap(),
            None
        );
    }
    assert_eq!(vault.requests(), before + 3);

    cache.clear();
    let body = cache.read("store", &vault, &token, path).await.unwrap();
    assert_eq!(kv2(&body)["password"], "cached-2");
    assert_eq!(vault.requests(), before + 4);

    // Errors are not cached: each read asks again.
    let bad = fjord_vault::Token::from_secret("not-a-token".into());
    for _ in 0..2 {
        let err = cache
            .read("store", &vault, &bad, "secret/data/x")
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(403));
    }
    assert_eq!(vault.requests(), before + 6);

    // A TTL of zero shares concurrent reads only.
    let zero = ReadCache::new(Duration::ZERO);
    zero.read("store", &vault, &token, path).await.unwrap();
    zero.read("store", &vault, &token, path).await.unwrap();
    assert_eq!(vault.requests(), before + 8);
}
