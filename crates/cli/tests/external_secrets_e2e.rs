//! External Secrets through the real binary: `fjord controller` (with its External Secrets
//! controller) as its own process, a real OpenBao 2.7.2 server (`fjord_testkit::bao`: a dev
//! server, and a non-dev one with TLS and on-disk raft storage), a real Git server, and `kubectl`.
//!
//! - Seed 000's `ExternalSecret`, verbatim, in an Application: the Secret `db-creds-k8s` with
//!   the values from OpenBao, owned and labelled as ESO does, the app Healthy; a value changed
//!   in OpenBao followed within the refresh interval; OpenBao stopped (the Secret kept
//!   byte-identical, `Ready=False`/`SecretSyncedError`) and started again (recovered); the
//!   creation and deletion policies on deletion; the template functions; and no secret value in
//!   any output (controller log, events, statuses, `fjord app` output, metrics).
//! - Bad input: each mistake is `Ready=False` naming the field, nothing else is touched.
//!
//! TLS, Kubernetes auth and `--external-secrets=false`: external_secrets_auth_e2e.rs.

mod common;
mod eso_common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{application, resource, s, GitRepo, NS};
use eso_common::*;
use fjord_testkit::bao::Bao;
use fjord_testkit::require_tools;
use fjord_testkit::tools::{BAO, GIT, KUBECTL};
use serde_json::{json, Value};

#[test]
fn seed_external_secret_syncs_follows_vault_survives_an_outage_and_leaks_nothing() {
    require_tools!(GIT, KUBECTL, BAO);
    let (user, pass, pass2) = (unique("user"), unique("pass"), unique("pass2"));
    let (token, plain, team) = (unique("tok"), unique("plain"), unique("Team"));
    let config = format!(r#"{{"host":"{}","user":"app"}}"#, unique("host"));
    let mut bao = Bao::dev();
    grant(&bao, &token);
    bao.kv_put("production/db", &[("username", &user), ("password", &pass)]);
    let app_values = [
        ("encoded", b64(&plain)),
        ("team", team.clone()),
        ("padded", format!("  {plain}\t\n")),
        ("config", config.clone()),
    ];
    let pairs: Vec<(&str, &str)> = app_values.iter().map(|(k, v)| (*k, v.as_str())).collect();
    bao.kv_put("production/app", &pairs);

    let repo = GitRepo::new(
        "eso.git",
        &[
            ("app/store.yaml", cluster_store(&bao.addr)),
            ("app/database-credentials.yaml", SEED_ES.to_string()),
        ],
    );
    let daemon = common::git_daemon(&repo.root);
    let env = start_env();
    env.kubectl_ok(&["create", "namespace", "vault-auth"]);
    env.apply_json(&token_secret("vault-auth", "vault-token", &token));
    let url = format!("git://127.0.0.1:{}/eso.git", daemon.port);
    env.apply_json(&application(
        "eso",
        &url,
        "app",
        "payments",
        Some(json!({"prune": true, "selfHeal": true})),
    ));

    // 1. The seed's Secret, with ESO's labels, annotation and owner; the app Healthy.
    let app = env.wait_synced("eso", None);
    for (kind, name) in [
        ("ExternalSecret", "database-credentials"),
        ("ClusterSecretStore", "vault-backend"),
    ] {
        let r = resource(&app, kind, name).unwrap_or_else(|| panic!("{kind} {name}: {app}"));
        assert_eq!(s(r, "/health/status"), "Healthy", "{kind}: {r}");
    }
    let secret = wait_secret(&env, "payments", "db-creds-k8s", "password", &pass);
    assert_eq!(decoded(&secret, "username"), user);
    assert_eq!(
        keys(&secret),
        BTreeSet::from(["password", "username"].map(String::from))
    );
    assert_eq!(s(&secret, "/type"), "Opaque");
    assert_eq!(
        secret["metadata"]["labels"],
        json!({"reconcile.external-secrets.io/managed": "true",
               "reconcile.external-secrets.io/created-by": SEED_CREATED_BY}),
    );
    let hash = s(
        &secret,
        "/metadata/annotations/reconcile.external-secrets.io~1data-hash",
    );
    assert!(!hash.is_empty(), "{secret}");
    let es = wait_true(&env, ES, "payments", "database-credentials", "SecretSynced");
    assert_eq!(ready(&es).unwrap().2, "secret synced");
    assert_eq!(
        secret["metadata"]["ownerReferences"],
        json!([{"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
                "name": "database-credentials", "uid": es["metadata"]["uid"],
                "controller": true, "blockOwnerDeletion": true}]),
    );
    assert!(!s(&es, "/status/refreshTime").is_empty(), "{es}");
    let generation = es["metadata"]["generation"].to_string();
    assert!(
        s(&es, "/status/syncedResourceVersion").starts_with(&format!("{generation}-")),
        "{es}"
    );
    assert_eq!(s(&es, "/status/binding/name"), "db-creds-k8s");
    wait_true(&env, CSS, "", "vault-backend", "Valid");

    // 2. A value changed in OpenBao: an ES with a 2s interval follows within the interval
    // (plus one 1s pass of the controller and the read cache's 1s lifetime).
    let follow = |policy: &str| {
        format!(
            "  target:\n    name: follow-creds\n    creationPolicy: Owner\n    deletionPolicy: {policy}\n  data:\n{}",
            data_entry("password", "production/db", "password")
        )
    };
    env.apply(&external_secret(
        "payments",
        "follow",
        "ClusterSecretStore/vault-backend",
        "2s",
        &follow("Delete"),
    ));
    wait_secret(&env, "payments", "follow-creds", "password", &pass);
    let orphan = format!(
        "  target:\n    name: orphan-creds\n    creationPolicy: Orphan\n  data:\n{}",
        data_entry("username", "production/db", "username")
    );
    env.apply(&external_secret(
        "payments",
        "orphan",
        "ClusterSecretStore/vault-backend",
        "1h",
        &orphan,
    ));
    let changed = Instant::now();
    bao.kv_put(
        "production/db",
        &[("username", &user), ("password", &pass2)],
    );
    wait_secret(&env, "payments", "follow-creds", "password", &pass2);
    let took = changed.elapsed();
    assert!(
        took < Duration::from_secs(20),
        "followed after {took:?} (interval 2s, resync 1s)"
    );

    // 8. The template functions (applied now: its interval is 1h, and the values are final).
    env.apply(&template_es("payments"));
    let t = wait_secret(&env, "payments", "templated", "b64enc", &b64(&pass2));
    let host = serde_json::from_str::<Value>(&config).unwrap()["host"].clone();
    let expected = [
        ("b64enc", b64(&pass2)),
        ("b64dec", plain.clone()),
        ("upper", user.to_uppercase()),
        ("lower", team.to_lowercase()),
        ("trim", plain.clone()),
        ("fromJson", host.as_str().unwrap().to_string()),
        ("toJson", config.clone()),
        ("index", user.clone()),
    ];
    for (k, v) in &expected {
        assert_eq!(&decoded(&t, k), v, "template key {k}");
    }
    assert_eq!(
        keys(&t),
        expected.iter().map(|(k, _)| k.to_string()).collect()
    );
    assert_eq!(s(&t, "/metadata/labels/team"), team.to_lowercase());
    wait_secret(&env, "payments", "orphan-creds", "username", &user);

    // 3. OpenBao stopped: the Secrets are kept byte-identical and the condition says why; once
    // it is back (a dev server starts empty: the token and data are put again) it recovers.
    let before = env.get("secret", "payments", "follow-creds").unwrap();
    let seed_before = env.get("secret", "payments", "db-creds-k8s").unwrap();
    bao.stop();
    let msg = wait_failed(&env, "payments", "follow", &[]);
    assert!(!msg.is_empty());
    std::thread::sleep(Duration::from_secs(3)); // more failed refreshes
    wait_failed(&env, "payments", "follow", &[]);
    for (was, name) in [(&before, "follow-creds"), (&seed_before, "db-creds-k8s")] {
        let now = env.get("secret", "payments", name).unwrap();
        assert_eq!(now["metadata"], was["metadata"], "{name} was rewritten");
        assert_eq!(now["data"], was["data"], "{name} changed");
    }
    bao.start();
    grant(&bao, &token);
    bao.kv_put(
        "production/db",
        &[("username", &user), ("password", &pass2)],
    );
    wait_true(&env, ES, "payments", "follow", "SecretSynced");
    wait_secret(&env, "payments", "follow-creds", "password", &pass2);

    // 9. No value in any output (before the deletions, while every object still exists).
    let mut values = vec![user.clone(), pass.clone(), pass2.clone(), token.clone()];
    values.extend([plain.clone(), team.clone(), config.clone()]);
    values.extend(expected.iter().map(|(_, v)| v.clone()));
    let outputs = [
        (
            "events",
            env.kubectl_ok(&["get", "events", "-A", "-o", "yaml"]),
        ),
        (
            "ExternalSecrets",
            env.kubectl_ok(&["get", ES, "-A", "-o", "yaml"]),
        ),
        (
            "SecretStores",
            env.kubectl_ok(&["get", SS, "-A", "-o", "yaml"]),
        ),
        (
            "ClusterSecretStores",
            env.kubectl_ok(&["get", CSS, "-o", "yaml"]),
        ),
        (
            "Applications",
            env.kubectl_ok(&["get", "applications", "-n", NS, "-o", "yaml"]),
        ),
        (
            "fjord app get",
            env.fjord_ok(&["app", "get", "eso", "-o", "yaml"]),
        ),
        (
            "fjord app diff",
            common::text(&env.fjord(&["app", "diff", "eso"])),
        ),
        (
            "metrics",
            common::http(env.controller.metrics, "GET", "/metrics", &[], b"").1,
        ),
        ("the controller log", env.controller.log_text()),
    ];
    for (what, text) in &outputs {
        assert_no_leak(what, text, &values);
    }
    let events = &outputs[0].1;
    assert!(
        events.contains("SecretSynced") || events.contains("Created"),
        "{events}"
    );

    // 4. Deletion. Owner (the seed, removed from Git and pruned): the Secret goes with its
    // owner (the garbage collector: kube-controller-manager's, or fjord local-cluster's own).
    // Owner + deletionPolicy Delete: it goes (the finalizer deletes it too). Orphan: it stays.
    repo.remove("app/database-credentials.yaml");
    repo.commit_push("remove the seed's ExternalSecret");
    env.wait_object(ES, "payments", "database-credentials", "pruned", |o| {
        o.is_none()
    });
    env.wait_object("secret", "payments", "db-creds-k8s", "collected", |o| {
        o.is_none()
    });
    env.kubectl_ok(&["delete", ES, "follow", "-n", "payments", "--wait=false"]);
    env.wait_object(ES, "payments", "follow", "deleted", |o| o.is_none());
    env.wait_object("secret", "payments", "follow-creds", "deleted", |o| {
        o.is_none()
    });
    env.kubectl_ok(&["delete", ES, "orphan", "-n", "payments", "--wait=false"]);
    env.wait_object(ES, "payments", "orphan", "deleted", |o| o.is_none());
    std::thread::sleep(Duration::from_secs(3)); // two passes of the controller
    let kept = env
        .get("secret", "payments", "orphan-creds")
        .expect("Orphan keeps the Secret");
    assert_eq!(decoded(&kept, "username"), user);
    assert_no_leak("the controller log", &env.controller.log_text(), &values);
    drop(daemon);
}

#[test]
fn bad_input_is_ready_false_naming_the_field_and_touches_nothing_else() {
    require_tools!(KUBECTL, BAO);
    let (token, good, foreign) = (unique("tok"), unique("good"), unique("foreign"));
    let bao = Bao::dev();
    grant(&bao, &token);
    bao.kv_put("bad/db", &[("password", &good)]);
    let big = "x".repeat((1 << 20) + 1);
    bao.api(
        "POST",
        "secret/data/bad/big",
        Some(&json!({"data": {"blob": big}})),
    );
    let env = start_env();
    let ns = "bad";
    env.kubectl_ok(&["create", "namespace", ns]);
    env.apply_json(&token_secret(ns, "vault-token", &token));
    env.apply(&store(ns, "vault", &bao.addr, ""));
    for name in ["foreign", "foreign-merge"] {
        env.apply_json(&json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": ns, "labels": {"owner": "someone-else"}},
            "data": {"x": b64(&foreign)}}));
    }
    let one =
        |key: &str, property: &str| format!("  data:\n{}", data_entry("password", key, property));
    env.apply(&external_secret(
        ns,
        "good",
        "SecretStore/vault",
        "1h",
        &format!(
            "  target:\n    name: good-creds\n{}",
            one("bad/db", "password")
        ),
    ));
    let good_before = wait_secret(&env, ns, "good-creds", "password", &good);
    let foreign_before = env.get("secret", ns, "foreign").unwrap();
    wait_true(&env, SS, ns, "vault", "Valid");

    // An unknown provider: the store itself says so, naming the field.
    env.apply(&format!(
        "apiVersion: external-secrets.io/v1\nkind: SecretStore\nmetadata:\n  name: aws-store\n  namespace: {ns}\n\
         spec:\n  provider:\n    aws:\n      service: SecretsManager\n      region: eu-north-1\n"
    ));
    let st = wait_ready(&env, SS, ns, "aws-store", "Ready=False", |r| r.0 == "False");
    let (_, reason, message) = ready(&st).unwrap();
    assert_eq!(reason, "InvalidProviderConfig", "{message}");
    assert!(message.contains("spec.provider"), "{message}");

    let template = |body: &str| {
        format!(
            "  target:\n    template:\n      data:\n        broken: \"{body}\"\n{}",
            one("bad/db", "password")
        )
    };
    let cases: Vec<(&str, String, String, Vec<&str>)> = vec![
        (
            "no-store",
            "SecretStore/nope".into(),
            one("bad/db", "password"),
            vec!["nope"],
        ),
        (
            "unknown-provider",
            "SecretStore/aws-store".into(),
            one("bad/db", "password"),
            vec!["aws-store"],
        ),
        (
            "no-property",
            "SecretStore/vault".into(),
            one("bad/db", "nosuch"),
            vec!["property", "nosuch"],
        ),
        (
            "escape",
            "SecretStore/vault".into(),
            one("secret/data/../../sys/policies/acl/root", "x"),
            vec!["remoteRef.key"],
        ),
        (
            "parse",
            "SecretStore/vault".into(),
            template("{{ .password "),
            vec!["broken"],
        ),
        (
            "function",
            "SecretStore/vault".into(),
            template("{{ .password | sha256sum }}"),
            vec!["sha256sum"],
        ),
        (
            "collision",
            "SecretStore/vault".into(),
            format!(
                "  target:\n    name: foreign\n    creationPolicy: Owner\n{}",
                one("bad/db", "password")
            ),
            vec!["foreign"],
        ),
        (
            "oversized",
            "SecretStore/vault".into(),
            format!("  data:\n{}", data_entry("blob", "bad/big", "blob")),
            vec!["blob"],
        ),
    ];
    for (name, store, rest, _) in &cases {
        env.apply(&external_secret(ns, name, store, "1h", rest));
    }
    for (name, _, _, needles) in &cases {
        let msg = wait_failed(&env, ns, name, needles);
        assert!(
            !msg.contains(&good) && !msg.contains(&big[..64]),
            "{name}: {msg}"
        );
        let target = if *name == "collision" {
            "foreign"
        } else {
            *name
        };
        if target != "foreign" {
            assert!(!env.exists("secret", ns, target), "{name} made a Secret");
        }
    }

    // Merge is the one way into a foreign Secret: its keys and labels are kept, no owner.
    env.apply(&external_secret(
        ns,
        "merger",
        "SecretStore/vault",
        "1h",
        &format!(
            "  target:\n    name: foreign-merge\n    creationPolicy: Merge\n{}",
            one("bad/db", "password")
        ),
    ));
    let merged = wait_secret(&env, ns, "foreign-merge", "password", &good);
    assert_eq!(decoded(&merged, "x"), foreign);
    assert_eq!(s(&merged, "/metadata/labels/owner"), "someone-else");
    assert!(
        merged["metadata"].get("ownerReferences").is_none(),
        "{merged}"
    );

    // Nothing else was touched: the other ES's Secret and the foreign Secret are as they were.
    std::thread::sleep(Duration::from_secs(3));
    for (was, name) in [(&good_before, "good-creds"), (&foreign_before, "foreign")] {
        let now = env.get("secret", ns, name).unwrap();
        assert_eq!(now["metadata"], was["metadata"], "{name} was rewritten");
        assert_eq!(now["data"], was["data"], "{name} changed");
    }
    wait_true(&env, ES, ns, "good", "SecretSynced");
    let statuses = env.kubectl_ok(&["get", ES, "-n", ns, "-o", "yaml"]);
    let values = [token.clone(), good.clone(), foreign.clone()];
    assert_no_leak("ExternalSecret statuses", &statuses, &values);
    assert_no_leak("the controller log", &env.controller.log_text(), &values);
    assert_no_leak(
        "events",
        &env.kubectl_ok(&["get", "events", "-A", "-o", "yaml"]),
        &values,
    );
}
