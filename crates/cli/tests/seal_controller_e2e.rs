//! Sealed Secrets through the binaries: `fjord controller` (with its unsealing controller) as
//! its own process against `fjord local-cluster`, `fjord seal` to fetch the certificate and
//! seal, and the real `kubectl` to apply.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use common::{poll, s, Cluster, Controller, FJORD};
use serde_json::Value;

/// The unsealing controller's address, from the line `fjord controller` prints.
fn sealed_addr(c: &Controller) -> String {
    poll(
        "the sealed secrets controller to serve",
        Duration::from_secs(60),
        || c.log_text(),
        || {
            let log = c.log_text();
            let line = log
                .lines()
                .find(|l| l.starts_with("sealed secrets controller running"))?;
            let rest = &line[line.find("http://")? + 7..];
            Some(rest[..rest.find('/')?].to_string())
        },
    )
}

/// Runs `fjord seal ARGS` with `stdin`; returns stdout (asserts success).
fn seal(args: &[&str], stdin: &str) -> String {
    let mut child = Command::new(FJORD)
        .arg("seal")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run fjord seal");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "fjord seal {args:?}: {}",
        common::text(&out)
    );
    String::from_utf8(out.stdout).unwrap()
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
