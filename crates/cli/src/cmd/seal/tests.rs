//! `fjord seal` end to end through [`run_with`]: seal with key-a's certificate, recovery-unseal
//! with key-a, compare; raw mode; multi-certificate output; offline `--re-encrypt-dir`;
//! `--validate` against a stand-in controller.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;

use fjord_seal::docs::{decode_base64_go, parse_documents};
use fjord_seal::{read_private_keys, unseal_item, Scope};

use super::{run_with, CliError, Format, ScopeArg, SealArgs, CERT_FINGERPRINT_ANNOTATION};

fn compat(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../seal/testdata/compat")
        .join(rel)
}

fn run_str(args: SealArgs, input: &str) -> Result<String, CliError> {
    let mut out = Vec::new();
    run_with(args, &mut input.as_bytes(), &mut out)?;
    Ok(String::from_utf8(out).unwrap())
}

const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: prod\n  labels:\n    app: db\ntype: Opaque\ndata:\n  password: czNjcjN0\nstringData:\n  user: admin\n";

#[test]
fn seal_then_recovery_unseal() {
    for format in [Format::Json, Format::Yaml] {
        let sealed = run_str(
            SealArgs {
                cert: vec![compat("key-a/tls.crt").display().to_string()],
                format,
                ..SealArgs::default()
            },
            SECRET,
        )
        .unwrap();
        if format == Format::Yaml {
            assert!(
                sealed.starts_with("---\napiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\n"),
                "{sealed}"
            );
        } else {
            assert!(sealed.starts_with(
                "{\n  \"apiVersion\": \"bitnami.com/v1alpha1\",\n  \"kind\": \"SealedSecret\","
            ));
        }
        assert!(!sealed.contains("czNjcjN0") && !sealed.contains("admin"));
        let unsealed = run_str(
            SealArgs {
                recovery_unseal: true,
                recovery_private_key: vec![compat("key-a/key-secret.yaml")],
                ..SealArgs::default()
            },
            &sealed,
        )
        .unwrap();
        let secret = parse_documents(&unsealed).unwrap().remove(0);
        assert_eq!(secret["data"]["password"], "czNjcjN0");
        assert_eq!(secret["data"]["user"], "YWRtaW4=");
        assert_eq!(secret["metadata"]["labels"]["app"], "db");
        assert_eq!(secret["type"], "Opaque");
        // key-b cannot open it.
        let err = run_str(
            SealArgs {
                recovery_unseal: true,
                recovery_private_key: vec![compat("key-b/tls.key")],
                ..SealArgs::default()
            },
            &sealed,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "no key could decrypt secret (password, user)"
        );
    }
}

#[test]
fn raw_mode() {
    let blob = run_str(
        SealArgs {
            cert: vec![compat("key-a/tls.crt").display().to_string()],
            raw: true,
            scope: Some(ScopeArg::NamespaceWide),
            namespace: Some("prod".into()),
            ..SealArgs::default()
        },
        "value\n",
    )
    .unwrap();
    assert!(!blob.ends_with('\n') && blob.starts_with("Ag"));
    let keys = read_private_keys(&std::fs::read(compat("key-a/tls.key")).unwrap(), "a").unwrap();
    let plain = unseal_item(
        &keys,
        Scope::NamespaceWide,
        "prod",
        "",
        "k",
        &decode_base64_go(&blob).unwrap(),
    )
    .unwrap();
    assert_eq!(plain, b"value\n");
    let err = run_str(
        SealArgs {
            from_file: vec!["x".into()],
            ..SealArgs::default()
        },
        "",
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "--from-file requires --raw");
}

#[test]
fn empty_input_is_an_error() {
    for input in ["", "---\n", "# nothing\n"] {
        let err = run_str(
            SealArgs {
                cert: vec![compat("key-a/tls.crt").display().to_string()],
                ..SealArgs::default()
            },
            input,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "no Secret found in input");
    }
}

#[test]
fn multi_certificate_output() {
    let out = run_str(
        SealArgs {
            cert: vec![
                compat("key-a/tls.crt").display().to_string(),
                compat("key-b/tls.crt").display().to_string(),
            ],
            ..SealArgs::default()
        },
        SECRET,
    )
    .unwrap();
    let docs = parse_documents(&out).unwrap();
    assert_eq!(docs.len(), 2);
    for (doc, key) in docs.iter().zip(["key-a/tls.key", "key-b/tls.key"]) {
        let keys = read_private_keys(&std::fs::read(compat(key)).unwrap(), key).unwrap();
        assert_eq!(
            doc["metadata"]["annotations"][CERT_FINGERPRINT_ANNOTATION]
                .as_str()
                .unwrap(),
            keys[0].fingerprint()
        );
        let secret = fjord_seal::unseal_secret(doc, &keys).unwrap();
        assert_eq!(secret["data"]["password"], "czNjcjN0");
    }
}

#[test]
fn re_encrypt_dir_offline() {
    let tmp = std::env::temp_dir().join(format!("fjord-seal-reenc-{}", std::process::id()));
    std::fs::create_dir_all(tmp.join("sub")).unwrap();
    std::fs::copy(
        compat("sealed-template.yaml"),
        tmp.join("sub/template.yaml"),
    )
    .unwrap();
    std::fs::write(
        tmp.join("other.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
    )
    .unwrap();
    let out = run_str(
        SealArgs {
            re_encrypt_dir: Some(tmp.clone()),
            recovery_private_key: vec![compat("key-a/tls.key"), compat("key-b/tls.key")],
            cert: vec![compat("key-b/tls.crt").display().to_string()],
            ..SealArgs::default()
        },
        "",
    )
    .unwrap();
    assert!(
        out.starts_with("re-encrypted 1 SealedSecret(s) in 1 file(s)"),
        "{out}"
    );
    let text = std::fs::read_to_string(tmp.join("sub/template.yaml")).unwrap();
    let doc = parse_documents(&text).unwrap().remove(0);
    let key_b = read_private_keys(&std::fs::read(compat("key-b/tls.key")).unwrap(), "b").unwrap();
    let secret = fjord_seal::unseal_secret(&doc, &key_b).unwrap();
    assert_eq!(secret["data"]["user"], "YWRtaW4=");
    assert_eq!(secret["data"]["plain"], "dT1hZG1pbg==");
    assert_eq!(secret["type"], "kubernetes.io/dockerconfigjson");
    assert!(std::fs::read_to_string(tmp.join("other.yaml"))
        .unwrap()
        .contains("ConfigMap"));
    std::fs::remove_dir_all(&tmp).unwrap();
}

/// A stand-in controller answering one request with `status`; returns its base URL.
fn one_answer(status: u16) -> (String, std::thread::JoinHandle<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 1 << 16];
        let mut got = Vec::new();
        // The head, then the body its Content-Length announces.
        loop {
            let n = s.read(&mut buf).unwrap();
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if got.len() >= end + 4 + length || n == 0 {
                    break;
                }
            }
        }
        let answer = format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n");
        s.write_all(answer.as_bytes()).unwrap();
        String::from_utf8_lossy(&got).into_owned()
    });
    (url, server)
}

#[test]
fn validate_reports_what_the_controller_refuses() {
    let bad = std::fs::read_to_string(compat("negative-strict-renamed.yaml")).unwrap();
    let validate = |url: String| {
        run_str(
            SealArgs {
                validate: true,
                controller_url: Some(url),
                ..SealArgs::default()
            },
            &bad,
        )
    };
    let (url, server) = one_answer(200);
    assert!(validate(url).is_ok());
    assert!(server
        .join()
        .unwrap()
        .starts_with("POST /v1/verify HTTP/1.1\r\n"));
    // 409 from /v1/verify: the object does not open with the controller's keys.
    let (url, server) = one_answer(409);
    assert_eq!(
        validate(url).unwrap_err().to_string(),
        "unable to decrypt sealed secret: renamed"
    );
    server.join().unwrap();
    let (url, server) = one_answer(500);
    assert_eq!(
        validate(url).unwrap_err().to_string(),
        "cannot validate sealed secret renamed: HTTP status 500"
    );
    server.join().unwrap();
}
