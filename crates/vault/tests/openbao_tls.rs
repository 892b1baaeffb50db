//! fjord-vault against a real OpenBao in its production shape: TLS with its own CA, file
//! storage, initialised and unsealed; stopped and started again.

mod common;

use common::{client, kv2, root};
use fjord_testkit::bao::Bao;
use fjord_testkit::require_tools;
use fjord_testkit::tools::BAO;
use fjord_vault::{Login, SecretString, Vault, VaultConfig, VaultError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_over_tls_with_the_ca_and_refuses_without_it() {
    require_tools!(BAO);
    let bao = Bao::tls_file();
    assert!(bao.addr.starts_with("https://"));
    bao.kv_put(
        "production/db",
        &[("username", "tls-user"), ("password", "tls-pass-1")],
    );

    let vault = client(&bao, None);
    let token = root(&vault, &bao).await;
    let body = vault
        .read(&token, "secret/data/production/db")
        .await
        .unwrap();
    assert_eq!(kv2(&body)["username"], "tls-user");

    // The system roots do not know the test CA.
    let plain = Vault::new(VaultConfig::new(&bao.addr)).unwrap();
    let err = plain
        .login(&Login::Token(SecretString::new(&bao.root_token)), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, VaultError::Login { source, .. } if matches!(**source, VaultError::Tls { .. })),
        "{err:?}"
    );
    assert!(!err.is_transient());

    // Nor does another CA.
    let other = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let mut cfg = VaultConfig::new(&bao.addr);
    cfg.ca_pem = Some(other.cert.pem().into_bytes());
    let wrong = Vault::new(cfg).unwrap();
    let err = wrong
        .read(&token, "secret/data/production/db")
        .await
        .unwrap_err();
    assert!(matches!(err, VaultError::Tls { .. }), "{err:?}");
    assert!(!err.to_string().contains("tls-pass-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_server_is_a_transient_connect_error_and_data_survives_a_restart() {
    require_tools!(BAO);
    let mut bao = Bao::tls_file();
    bao.kv_put("production/db", &[("password", "before-restart")]);
    let vault = client(&bao, None);
    let token = root(&vault, &bao).await;
    let path = "secret/data/production/db";
    assert_eq!(
        kv2(&vault.read(&token, path).await.unwrap())["password"],
        "before-restart"
    );

    bao.stop();
    let err = vault.read(&token, path).await.unwrap_err();
    assert!(matches!(err, VaultError::Connect { .. }), "{err:?}");
    assert!(err.is_transient());
    assert_eq!(err.status(), None);

    bao.start();
    let body = vault.read(&token, path).await.unwrap();
    assert_eq!(kv2(&body)["password"], "before-restart");
    assert_eq!(body.as_ref().unwrap()["data"]["metadata"]["version"], 1);
}
