//! fjord-vault against a real OpenBao dev server: logins (token, AppRole, JWT), KV v1/v2 reads
//! and lists, errors, namespaces, token renewal and re-login, the read cache.

mod common;

use std::time::Duration;

use base64::Engine;
use common::{approle, approle_login, client, kv2, policy, root};
use fjord_testkit::bao::Bao;
use fjord_testkit::require_tools;
use fjord_testkit::tools::BAO;
use fjord_vault::{Login, SecretString, VaultError};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_login_reads_kv_v2_versions_lists_and_404s() {
    require_tools!(BAO);
    let bao = Bao::dev();
    bao.kv_put("production/db", &[("username", "u1"), ("password", "p1")]);
    bao.kv_put("production/db", &[("username", "u2"), ("password", "p2")]);
    bao.kv_put("production/cache", &[("password", "c1")]);
    let vault = client(&bao, None);
    let token = root(&vault, &bao).await;
    assert!(token.is_static());
    assert_eq!(token.ttl(), None, "the root token does not expire");
    assert_eq!(vault.requests(), 1, "the token login is one lookup-self");

    let body = vault
        .read(&token, "secret/data/production/db")
        .await
        .unwrap();
    assert_eq!(kv2(&body)["password"], "p2");
    assert_eq!(body.as_ref().unwrap()["data"]["metadata"]["version"], 2);
    let old = vault
        .read(&token, "secret/data/production/db?version=1")
        .await
        .unwrap();
    assert_eq!(kv2(&old)["password"], "p1");

    let mut keys = vault
        .list(&token, "secret/metadata/production")
        .await
        .unwrap();
    keys.sort();
    assert_eq!(keys, ["cache", "db"]);
    assert_eq!(
        vault.list(&token, "secret/metadata/").await.unwrap(),
        ["production/"]
    );
    assert!(vault
        .list(&token, "secret/metadata/nothing")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        vault
            .read(&token, "secret/data/production/none")
            .await
            .unwrap(),
        None
    );
    assert_eq!(vault.requests(), 7);
    let looked = vault.lookup_self(&token).await.unwrap();
    assert_eq!(looked["data"]["policies"][0], "root");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_a_kv_v1_mount() {
    require_tools!(BAO);
    let bao = Bao::dev();
    bao.api(
        "POST",
        "sys/mounts/kv1",
        Some(&json!({"type": "kv", "options": {"version": "1"}})),
    );
    bao.api(
        "POST",
        "kv1/team/app",
        Some(&json!({"password": "v1-pass", "port": 5432})),
    );
    let vault = client(&bao, None);
    let token = root(&vault, &bao).await;
    let body = vault.read(&token, "kv1/team/app").await.unwrap().unwrap();
    assert_eq!(body["data"]["password"], "v1-pass");
    assert_eq!(body["data"]["port"], 5432);
    assert_eq!(vault.list(&token, "kv1/team").await.unwrap(), ["app"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approle_logins_read_what_the_policy_allows_and_403_shows_no_data() {
    require_tools!(BAO);
    let bao = Bao::dev();
    bao.kv_put("production/db", &[("password", "allowed-value")]);
    bao.kv_put("other/db", &[("password", "forbidden-value")]);
    policy(&bao, "reader", &["secret/data/production/*"]);
    let ids = approle(
        &bao,
        "reader",
        json!({"token_policies": ["reader"], "token_ttl": "1h"}),
    );
    let vault = client(&bao, None);
    let token = vault.login(&approle_login(&ids), None).await.unwrap();
    assert!(!token.is_static());
    assert!(token.renewable());
    let ttl = token.ttl().expect("a login token expires");
    assert!(
        ttl > Duration::from_secs(3000) && ttl <= Duration::from_secs(3600),
        "{ttl:?}"
    );

    let body = vault
        .read(&token, "secret/data/production/db")
        .await
        .unwrap();
    assert_eq!(kv2(&body)["password"], "allowed-value");

    let err = vault
        .read(&token, "secret/data/other/db")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403));
    assert!(!err.is_transient());
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("permission denied"), "{shown}");
    assert!(shown.contains("secret/data/other/db"), "{shown}");
    assert!(!shown.contains("forbidden-value") && !shown.contains(token.secret().expose()));

    let wrong = Login::AppRole {
        mount: "approle".into(),
        role_id: ids.0.clone(),
        secret_id: SecretString::new("wrong-secret-id-value"),
    };
    let err = vault.login(&wrong, None).await.unwrap_err();
    assert!(
        matches!(err, VaultError::Login { ref mount, .. } if mount == "approle"),
        "{err:?}"
    );
    assert!(matches!(err.status(), Some(400 | 403)), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("wrong-secret-id-value"));
}

/// A compact ES256 JWT of `claims` signed with the PKCS#8 key `pkcs8`.
fn sign_jwt(pkcs8: &[u8], claims: &serde_json::Value) -> String {
    use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let rng = ring::rand::SystemRandom::new();
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &rng).unwrap();
    let header = b64.encode(json!({"alg": "ES256", "typ": "JWT"}).to_string());
    let input = format!("{header}.{}", b64.encode(claims.to_string()));
    let sig = key.sign(&rng, input.as_bytes()).unwrap();
    format!("{input}.{}", b64.encode(sig.as_ref()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_login_with_a_static_public_key() {
    require_tools!(BAO);
    let bao = Bao::dev();
    bao.kv_put("production/db", &[("password", "jwt-read")]);
    policy(&bao, "reader", &["secret/data/production/*"]);
    let key = rcgen::KeyPair::generate().unwrap(); // ECDSA P-256
    bao.api("POST", "sys/auth/jwt", Some(&json!({"type": "jwt"})));
    bao.api(
        "POST",
        "auth/jwt/config",
        Some(&json!({"jwt_validation_pubkeys": [key.public_key_pem()]})),
    );
    bao.api(
        "POST",
        "auth/jwt/role/eso",
        Some(
            &json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": ["fjord"],
                     "token_policies": ["reader"], "token_ttl": "10m"}),
        ),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({"sub": "system:serviceaccount:apps:eso", "aud": "fjord",
                        "iat": now, "nbf": now, "exp": now + 300});
    let login = |jwt: String| Login::Jwt {
        mount: "jwt".into(),
        role: "eso".into(),
        jwt: SecretString::new(jwt),
    };
    let vault = client(&bao, None);
    let token = vault
        .login(&login(sign_jwt(&key.serialize_der(), &claims)), None)
        .await
        .unwrap();
    assert!(token.ttl().unwrap() <= Duration::from_secs(600));
    let body = vault
        .read(&token, "secret/data/production/db")
        .await
        .unwrap();
    assert_eq!(kv2(&body)["password"], "jwt-read");

    // The Kubernetes login sends the same {role, jwt} to its mount.
    let k8s = Login::Kubernetes {
        mount: "jwt".into(),
        role: "eso".into(),
        jwt: SecretString::new(sign_jwt(&key.serialize_der(), &claims)),
    };
    let token = vault.login(&k8s, None).await.unwrap();
    assert!(vault
        .read(&token, "secret/data/production/db")
        .await
        .unwrap()
        .is_some());

    // Signed by another key: refused.
    let other = rcgen::KeyPair::generate().unwrap();
    let err = vault
        .login(&login(sign_jwt(&other.serialize_der(), &claims)), None)
        .await
        .unwrap_err();
    assert!(matches!(err.status(), Some(400 | 403)), "{err:?}");
}

/// `method path` in namespace `ns`, retried while a fresh mount settles.
fn ns_api(bao: &Bao, ns: &str, method: &str, path: &str, body: serde_json::Value) {
    let mut last = (0, String::new());
    for _ in 0..50 {
        last = bao.api_raw(method, path, Some(&body), Some(ns));
        if last.0 < 400 {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{method} {path} in {ns}: {last:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_scope_reads_and_logins() {
    require_tools!(BAO);
    let bao = Bao::dev();
    bao.api("POST", "sys/namespaces/ns1", Some(&json!({})));
    let kv = json!({"type": "kv", "options": {"version": "2"}});
    ns_api(&bao, "ns1", "POST", "sys/mounts/secret", kv);
    ns_api(
        &bao,
        "ns1",
        "POST",
        "secret/data/app",
        json!({"data": {"password": "in-ns1"}}),
    );
    ns_api(
        &bao,
        "ns1",
        "POST",
        "sys/auth/approle",
        json!({"type": "approle"}),
    );
    let rules = "path \"secret/data/*\" { capabilities = [\"read\"] }";
    ns_api(
        &bao,
        "ns1",
        "PUT",
        "sys/policies/acl/reader",
        json!({"policy": rules}),
    );
    ns_api(
        &bao,
        "ns1",
        "POST",
        "auth/approle/role/r",
        json!({"token_policies": ["reader"]}),
    );
    let role_id = bao
        .api_raw("GET", "auth/approle/role/r/role-id", None, Some("ns1"))
        .1;
    let secret_id = bao
        .api_raw("POST", "auth/approle/role/r/secret-id", None, Some("ns1"))
        .1;
    let field = |text: &str, f: &str| -> String {
        serde_json::from_str::<serde_json::Value>(text).unwrap()["data"][f]
            .as_str()
            .unwrap()
            .to_string()
    };
    let ids = (field(&role_id, "role_id"), field(&secret_id, "secret_id"));

    // Root token, namespace header ns1.
    let in_ns1 = client(&bao, Some("ns1"));
    let token = root(&in_ns1, &bao).await;
    let body = in_ns1.read(&token, "secret/data/app").await.unwrap();
    assert_eq!(kv2(&body)["password"], "in-ns1");
    let at_root = client(&bao, None);
    assert_eq!(at_root.read(&token, "secret/data/app").await.unwrap(), None);

    // An AppRole of ns1: the client's namespace is the login's.
    let token = in_ns1.login(&approle_login(&ids), None).await.unwrap();
    assert_eq!(token.namespace(), Some("ns1"));
    assert_eq!(
        kv2(&in_ns1.read(&token, "secret/data/app").await.unwrap())["password"],
        "in-ns1"
    );
    in_ns1.lookup_self(&token).await.unwrap();

    // auth namespace ns1 for the login only: reads at the root are not that token's.
    let token = at_root
        .login(&approle_login(&ids), Some("ns1"))
        .await
        .unwrap();
    assert_eq!(token.namespace(), Some("ns1"));
    at_root.lookup_self(&token).await.unwrap();
    let err = at_root.read(&token, "secret/data/app").await.unwrap_err();
    assert_eq!(err.status(), Some(403), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dev_server_stops_and_starts_empty_on_its_port() {
    require_tools!(BAO);
    let mut bao = Bao::dev();
    bao.kv_put("production/db", &[("password", "gone-after-restart")]);
    let vault = client(&bao, None);
    let token = root(&vault, &bao).await;
    let path = "secret/data/production/db";
    assert!(vault.read(&token, path).await.unwrap().is_some());
    bao.stop();
    assert!(!bao.running());
    let err = vault.read(&token, path).await.unwrap_err();
    assert!(matches!(err, VaultError::Connect { .. }), "{err:?}");
    assert!(err.is_transient());
    bao.start();
    assert!(bao.addr.ends_with(&format!(":{}", bao.port())));
    assert_eq!(
        vault.read(&token, path).await.unwrap(),
        None,
        "in memory: empty again"
    );
    bao.kv_put("production/db", &[("password", "p")]);
    assert!(vault.read(&token, path).await.unwrap().is_some());
}
