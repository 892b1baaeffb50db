//! Sealed Secrets through the binaries: `fjord controller` (with its unsealing controller) as
//! its own process against `fjord local-cluster`, `fjord seal` to fetch the certificate and
//! seal, and the real `kubectl` to apply.

mod common;

use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use common::manifests::run_with_stdin;
use common::sealed::{sealed_addr, sealing_keys_args};
use common::{poll, s, Cluster, Controller, FJORD};
use fjord_testkit::require_tools;
use fjord_testkit::tools::KUBECTL;
use serde_json::Value;

/// Runs `fjord seal ARGS` with `stdin`.
fn run_seal(args: &[&str], stdin: &str) -> std::process::Output {
    let mut cmd = Command::new(FJORD);
    cmd.arg("seal").args(args);
    run_with_stdin(cmd, stdin)
}

/// Runs `fjord seal ARGS` with `stdin`; returns stdout (asserts success).
fn seal(args: &[&str], stdin: &str) -> String {
    let out = run_seal(args, stdin);
    assert!(
        out.status.success(),
        "fjord seal {args:?}: {}",
        common::text(&out)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `fjord seal ARGS` with `stdin`; returns whether it succeeded and its stdout.
fn try_seal(args: &[&str], stdin: &str) -> (bool, String) {
    let out = run_seal(args, stdin);
    let mut text = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        text.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    (out.status.success(), text)
}

const SECRET: &str = "apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: payments
type: Opaque
stringData:
  password: s3cr3t-value-for-test
";

fn decoded(secret: &Value, key: &str) -> String {
    let b64 = s(secret, &format!("/data/{key}"));
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn sealed_secret_applied_with_kubectl_becomes_the_secret_and_moving_it_is_refused() {
    require_tools!(KUBECTL);
    let cluster = Cluster::start();
    let controller = Controller::start(&cluster, "10m");
    let addr = sealed_addr(&controller);
    let url = format!("http://{addr}");
    let cert = seal(&["--fetch-cert", "--controller-url", &url], "");
    assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"), "{cert}");
    let cert_file = cluster.dir.path().join("cert.pem");
    std::fs::write(&cert_file, &cert).unwrap();

    let sealed = seal(
        &["--cert", cert_file.to_str().unwrap(), "--format", "yaml"],
        SECRET,
    );
    assert!(!sealed.contains("s3cr3t-value-for-test"));
    cluster.kubectl_ok(&["create", "namespace", "payments"]);
    let file = cluster.dir.path().join("sealed.yaml");
    std::fs::write(&file, &sealed).unwrap();
    cluster.kubectl_ok(&["apply", "-f", file.to_str().unwrap()]);
    let secret = poll(
        "the unsealed Secret",
        Duration::from_secs(45),
        || controller.log_text(),
        || cluster.get("secret", "payments", "db"),
    );
    assert_eq!(decoded(&secret, "password"), "s3cr3t-value-for-test");
    assert_eq!(
        s(&secret, "/metadata/ownerReferences/0/kind"),
        "SealedSecret"
    );
    let ss = poll(
        "the Synced condition",
        Duration::from_secs(30),
        || controller.log_text(),
        || {
            cluster
                .get("sealedsecret", "payments", "db")
                .filter(|v| s(v, "/status/conditions/0/status") == "True")
        },
    );
    assert_eq!(s(&ss, "/status/conditions/0/type"), "Synced");

    // The same ciphertext under another name (strict scope) is refused, and makes no Secret.
    let moved = sealed.replace("name: db", "name: db-copy");
    std::fs::write(&file, &moved).unwrap();
    cluster.kubectl_ok(&["apply", "-f", file.to_str().unwrap()]);
    poll(
        "the refusal of the renamed SealedSecret",
        Duration::from_secs(45),
        || controller.log_text(),
        || {
            cluster
                .get("sealedsecret", "payments", "db-copy")
                .filter(|v| s(v, "/status/conditions/0/status") == "False")
        },
    );
    assert!(!cluster.exists("secret", "payments", "db-copy"));
    let events = cluster.kubectl_ok(&["get", "events", "-n", "payments", "-o", "json"]);
    assert!(events.contains("ErrUnsealFailed"), "{events}");
    assert!(events.contains("Unsealed"), "{events}");
    assert!(!events.contains("s3cr3t-value-for-test"));
    assert!(!controller.log_text().contains("s3cr3t-value-for-test"));
}

#[test]
fn switched_off_the_controller_unseals_nothing_and_installs_no_crd() {
    require_tools!(KUBECTL);
    let cluster = Cluster::start();
    let controller = Controller::start_with(&cluster, "10m", &["--sealed-secrets=false"]);
    // The Application controller is up (its CRDs are installed) …
    poll(
        "the Application CRD",
        Duration::from_secs(30),
        || controller.log_text(),
        || {
            cluster
                .get("crd", "", "applications.argoproj.io")
                .map(|_| ())
        },
    );
    // … and no Sealed Secrets controller started.
    std::thread::sleep(Duration::from_millis(500));
    assert!(!controller
        .log_text()
        .contains("sealed secrets controller running"));
    assert!(!cluster.exists("crd", "", "sealedsecrets.bitnami.com"));
}

#[test]
fn after_key_renewal_old_sealed_secrets_unseal_and_re_encryption_uses_the_new_key() {
    require_tools!(KUBECTL);
    let cluster = Cluster::start();
    let controller = Controller::start_with(
        &cluster,
        "10m",
        &["--sealed-secrets-key-renew-period", "3s"],
    );
    let url = format!("http://{}", sealed_addr(&controller));
    let old_cert = seal(&["--fetch-cert", "--controller-url", &url], "");
    let cert_file = cluster.dir.path().join("old.pem");
    std::fs::write(&cert_file, &old_cert).unwrap();
    let sealed_old = seal(
        &["--cert", cert_file.to_str().unwrap(), "--format", "yaml"],
        SECRET,
    );

    // Renewal adds a key; the certificate served switches to it.
    let list_keys = || -> Vec<Value> {
        let out = cluster.kubectl_ok(&sealing_keys_args("json"));
        let v: Value = serde_json::from_str(&out).unwrap();
        let mut items = v["items"].as_array().cloned().unwrap_or_default();
        items.sort_by_key(|k| s(k, "/metadata/creationTimestamp").to_string());
        items
    };
    poll(
        "a renewed sealing key",
        Duration::from_secs(45),
        || controller.log_text(),
        || Some(list_keys()).filter(|k| k.len() >= 2),
    );
    let new_cert = poll(
        "the new certificate",
        Duration::from_secs(30),
        || controller.log_text(),
        || Some(seal(&["--fetch-cert", "--controller-url", &url], "")).filter(|c| *c != old_cert),
    );
    assert!(new_cert.starts_with("-----BEGIN CERTIFICATE-----"));

    // The SealedSecret made for the old key still unseals.
    cluster.kubectl_ok(&["create", "namespace", "payments"]);
    let file = cluster.dir.path().join("old.yaml");
    std::fs::write(&file, &sealed_old).unwrap();
    cluster.kubectl_ok(&["apply", "-f", file.to_str().unwrap()]);
    let secret = poll(
        "the Secret from the old key",
        Duration::from_secs(45),
        || controller.log_text(),
        || cluster.get("secret", "payments", "db"),
    );
    assert_eq!(decoded(&secret, "password"), "s3cr3t-value-for-test");

    // Re-encryption through the controller: new ciphertexts that the oldest key cannot open
    // and the newest can.
    let re = seal(&["--re-encrypt", "--controller-url", &url], &sealed_old);
    assert!(!re.contains("s3cr3t-value-for-test"));
    assert_ne!(re, sealed_old);
    let key_file = |k: &Value, name: &str| {
        let pem = base64::engine::general_purpose::STANDARD
            .decode(s(k, "/data/tls.key"))
            .unwrap();
        let p = cluster.dir.path().join(name);
        std::fs::write(&p, pem).unwrap();
        p
    };
    // The oldest key is the one whose certificate sealed `sealed_old` (creation timestamps
    // have one-second steps, so they cannot order keys made within a second).
    let cert_of = |k: &Value| {
        base64::engine::general_purpose::STANDARD
            .decode(s(k, "/data/tls.crt"))
            .unwrap()
    };
    let all = list_keys();
    let (first, newer): (Vec<&Value>, Vec<&Value>) =
        all.iter().partition(|k| cert_of(k) == old_cert.as_bytes());
    assert_eq!(first.len(), 1, "one key Secret holds the first certificate");
    let oldest = key_file(first[0], "oldest.key");
    let mut args = vec!["--recovery-unseal".to_string()];
    for (i, k) in newer.iter().enumerate() {
        let p = key_file(k, &format!("newer-{i}.key"));
        args.push("--recovery-private-key".into());
        args.push(p.to_str().unwrap().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, out) = try_seal(&args, &re);
    assert!(
        ok && out.contains("password"),
        "a newer key opens it ({} keys): {out}\n{}",
        all.len(),
        controller.log_text()
    );
    let (ok, _) = try_seal(
        &[
            "--recovery-unseal",
            "--recovery-private-key",
            oldest.to_str().unwrap(),
        ],
        &re,
    );
    assert!(
        !ok,
        "the oldest key must not open the re-encrypted SealedSecret"
    );
    assert!(!controller.log_text().contains("s3cr3t-value-for-test"));
}
