//! `fjord seal` end to end through the real binary: Secrets (YAML and JSON) sealed with the
//! upstream compatibility key-a certificate come back intact from `--recovery-unseal` with
//! key-a; `--raw`, `--scope cluster-wide` and `--merge-into`; bad input fails with exit code 1,
//! a clear message and nothing on stdout. Every run checks that no plaintext reaches stderr.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use fjord_seal::docs::{encode_base64, parse_documents};
use serde_json::{json, Value};

/// The Secret's `data.password` plaintext.
const PASSWORD: &str = "pw-Zq7s3cr3t-9f2";
/// The Secret's `stringData.user` plaintext.
const USER: &str = "admin-user-Xq9w";
/// The value `--merge-into` adds.
const API_KEY: &str = "api-key-M3rg3d-77";
/// The value `--raw` seals (not UTF-8, ends in a newline).
const RAW: &[u8] = b"raw-T0ken-Vq4\x00\xff\n";
/// A value only ever given in bad input.
const BAD_VALUE: &str = "leak-canary-Hj5k";

/// Every plaintext and its base64 form: none may ever appear on stderr.
fn plaintexts() -> Vec<String> {
    let mut out = Vec::new();
    for p in [PASSWORD, USER, API_KEY, BAD_VALUE, "raw-T0ken-Vq4"] {
        out.push(p.to_string());
        out.push(encode_base64(p.as_bytes()));
    }
    out.push(encode_base64(RAW));
    out
}

fn compat(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../seal/testdata/compat")
        .join(rel)
        .display()
        .to_string()
}

fn cert_a() -> String {
    compat("key-a/tls.crt")
}

fn key_a() -> String {
    compat("key-a/tls.key")
}

fn secret_yaml() -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: prod\n  labels:\n    \
         app: db\ntype: Opaque\ndata:\n  password: {}\nstringData:\n  user: {USER}\n",
        encode_base64(PASSWORD.as_bytes())
    )
}

fn secret_json() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "prod", "labels": {"app": "db"}},
        "type": "Opaque",
        "data": {"password": encode_base64(PASSWORD.as_bytes())},
        "stringData": {"user": USER},
    })
}

/// What one `fjord seal` run gave.
struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `fjord seal ARGS` with `stdin`; asserts no plaintext on stderr and no panic.
fn fjord_seal(args: &[&str], stdin: &[u8]) -> Outcome {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fjord"))
        .arg("seal")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start fjord");
    let mut pipe = child.stdin.take().expect("stdin pipe");
    let input = stdin.to_vec();
    // Written from a thread so a child that stops reading cannot block the test.
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let out = child.wait_with_output().expect("wait for fjord");
    writer.join().expect("stdin writer");
    let outcome = Outcome {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    for p in plaintexts() {
        assert!(
            !outcome.stderr.contains(&p),
            "plaintext {p:?} on stderr of {args:?}: {}",
            outcome.stderr
        );
    }
    assert!(!outcome.stderr.contains("panicked"), "{}", outcome.stderr);
    outcome
}

/// A run that must succeed silently; returns stdout.
fn ok(args: &[&str], stdin: &[u8]) -> String {
    let o = fjord_seal(args, stdin);
    assert_eq!(o.code, Some(0), "{args:?} failed: {}", o.stderr);
    assert_eq!(o.stderr, "", "{args:?}");
    o.stdout
}

/// A run that must fail: exit code 1, empty stdout; returns stderr.
fn fails(args: &[&str], stdin: &[u8]) -> String {
    let o = fjord_seal(args, stdin);
    assert_eq!(o.code, Some(1), "{args:?} did not fail: {}", o.stdout);
    assert_eq!(o.stdout, "", "{args:?} wrote to stdout");
    assert!(o.stderr.starts_with("Error: seal: "), "{}", o.stderr);
    o.stderr
}

fn one_doc(text: &str) -> Value {
    let mut docs = parse_documents(text).expect("output parses");
    assert_eq!(docs.len(), 1, "{text}");
    docs.remove(0)
}

/// Asserts sealed output carries no plaintext (raw or base64).
fn assert_opaque(sealed: &str) {
    for p in plaintexts() {
        assert!(!sealed.contains(&p), "plaintext {p:?} in sealed output");
    }
}

/// Recovery-unseals `sealed` with key-a and returns the Secret's `data`.
fn unsealed_data(sealed: &str) -> Value {
    let key = key_a();
    let out = ok(
        &["--recovery-unseal", "--recovery-private-key", &key],
        sealed.as_bytes(),
    );
    let secret: Value = serde_json::from_str(&out).expect("recovery output is JSON");
    assert_eq!(secret["kind"], "Secret");
    secret["data"].clone()
}

fn expected_data() -> Value {
    json!({
        "password": encode_base64(PASSWORD.as_bytes()),
        "user": encode_base64(USER.as_bytes()),
    })
}

#[test]
fn yaml_secret_seals_and_recovery_unseals() {
    let cert = cert_a();
    let sealed = ok(&["--cert", &cert, "-o", "yaml"], secret_yaml().as_bytes());
    assert!(
        sealed.starts_with(
            "---\napiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: db\n  \
             namespace: prod\nspec:\n  encryptedData:\n    password: Ag"
        ),
        "{sealed}"
    );
    assert_opaque(&sealed);
    let doc = one_doc(&sealed);
    let items: Vec<&String> = doc["spec"]["encryptedData"]
        .as_object()
        .expect("encryptedData")
        .keys()
        .collect();
    assert_eq!(items, ["password", "user"]);
    assert_eq!(doc["spec"]["template"]["metadata"]["labels"]["app"], "db");
    assert_eq!(doc["spec"]["template"]["type"], "Opaque");

    let key = key_a();
    let out = ok(
        &[
            "--recovery-unseal",
            "--recovery-private-key",
            &key,
            "-o",
            "yaml",
        ],
        sealed.as_bytes(),
    );
    assert!(out.starts_with("---\napiVersion: v1\n"), "{out}");
    let secret = one_doc(&out);
    assert_eq!(secret["data"], expected_data());
    assert_eq!(secret["metadata"]["name"], "db");
    assert_eq!(secret["metadata"]["namespace"], "prod");
    assert_eq!(secret["metadata"]["labels"]["app"], "db");
    assert_eq!(secret["type"], "Opaque");

    // key-b cannot open it.
    let key_b = compat("key-b/tls.key");
    let err = fails(
        &["--recovery-unseal", "--recovery-private-key", &key_b],
        sealed.as_bytes(),
    );
    assert!(
        err.contains("no key could decrypt secret (password, user)"),
        "{err}"
    );
}

#[test]
fn json_secret_seals_and_recovery_unseals() {
    let cert = cert_a();
    let input = serde_json::to_string_pretty(&secret_json()).expect("json");
    let sealed = ok(&["--cert", &cert], input.as_bytes());
    assert!(
        sealed.starts_with(
            "{\n  \"apiVersion\": \"bitnami.com/v1alpha1\",\n  \"kind\": \"SealedSecret\",\n"
        ),
        "{sealed}"
    );
    assert!(sealed.ends_with("}\n"));
    assert_opaque(&sealed);
    let doc: Value = serde_json::from_str(&sealed).expect("sealed output is one JSON object");
    assert_eq!(doc["metadata"]["namespace"], "prod");
    // The controller's own key Secret works as a recovery key too.
    let key_secret = compat("key-a/key-secret.yaml");
    let out = ok(
        &["--recovery-unseal", "--recovery-private-key", &key_secret],
        sealed.as_bytes(),
    );
    let secret: Value = serde_json::from_str(&out).expect("recovery output is JSON");
    assert_eq!(secret["data"], expected_data());
}

#[test]
fn list_of_secrets_gives_one_sealed_secret_each() {
    let cert = cert_a();
    let mut second = secret_json();
    second["metadata"]["name"] = json!("db-replica");
    let list = json!({"apiVersion": "v1", "kind": "List", "items": [secret_json(), second]});
    let sealed = ok(
        &["--cert", &cert, "-o", "yaml"],
        list.to_string().as_bytes(),
    );
    assert_opaque(&sealed);
    let docs = parse_documents(&sealed).expect("output parses");
    assert_eq!(docs.len(), 2);
    for (doc, name) in docs.iter().zip(["db", "db-replica"]) {
        assert_eq!(doc["metadata"]["name"], name);
        assert_eq!(unsealed_data(&doc.to_string()), expected_data());
    }
}

/// A SealedSecret holding `items` under `name`/`namespace`, optionally cluster-wide.
fn wrap(name: &str, namespace: &str, items: Value, cluster_wide: bool) -> String {
    let mut metadata = json!({"name": name, "namespace": namespace});
    if cluster_wide {
        metadata["annotations"] = json!({"sealedsecrets.bitnami.com/cluster-wide": "true"});
    }
    json!({
        "apiVersion": "bitnami.com/v1alpha1",
        "kind": "SealedSecret",
        "metadata": metadata,
        "spec": {"encryptedData": items, "template": {"metadata": {"name": name, "namespace": namespace}}},
    })
    .to_string()
}

#[test]
fn raw_from_file_is_bound_to_name_and_namespace() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("token.bin");
    std::fs::write(&file, RAW).expect("write value");
    let cert = cert_a();
    let from = format!("token={}", file.display());
    let blob = ok(
        &[
            "--cert",
            &cert,
            "--raw",
            "--name",
            "api",
            "--namespace",
            "prod",
            "--from-file",
            &from,
        ],
        b"",
    );
    assert!(blob.starts_with("Ag") && !blob.ends_with('\n'), "{blob}");
    assert_opaque(&blob);
    let want = json!({"token": encode_base64(RAW)});
    let items = json!({ "token": blob });
    assert_eq!(
        unsealed_data(&wrap("api", "prod", items.clone(), false)),
        want
    );
    // Strict scope: another name or namespace does not open.
    let key = key_a();
    for (name, namespace) in [("other", "prod"), ("api", "staging")] {
        let err = fails(
            &["--recovery-unseal", "--recovery-private-key", &key],
            wrap(name, namespace, items.clone(), false).as_bytes(),
        );
        assert!(err.contains("no key could decrypt secret (token)"), "{err}");
    }
    // --raw without --from-file seals stdin verbatim; cluster-wide needs no name.
    let blob = ok(&["--cert", &cert, "--raw", "--scope", "cluster-wide"], RAW);
    let items = json!({ "token": blob });
    assert_eq!(unsealed_data(&wrap("any", "where", items, true)), want);
    // Strict raw sealing needs a name.
    let err = fails(&["--cert", &cert, "--raw", "--namespace", "prod"], b"value");
    assert!(
        err.contains("must provide the --name flag with --raw and --scope strict"),
        "{err}"
    );
}

#[test]
fn cluster_wide_scope_survives_relocation() {
    let cert = cert_a();
    let sealed = ok(
        &["--cert", &cert, "--scope", "cluster-wide", "-o", "yaml"],
        secret_yaml().as_bytes(),
    );
    assert!(
        sealed.contains(
            "metadata:\n  annotations:\n    sealedsecrets.bitnami.com/cluster-wide: \"true\"\n  \
             name: db\n"
        ),
        "{sealed}"
    );
    assert_opaque(&sealed);
    let relocate = |text: &str| {
        let mut doc = one_doc(text);
        doc["metadata"]["name"] = json!("moved");
        doc["metadata"]["namespace"] = json!("elsewhere");
        doc.to_string()
    };
    assert_eq!(unsealed_data(&relocate(&sealed)), expected_data());
    // The same relocation breaks a strict SealedSecret.
    let strict = ok(&["--cert", &cert, "-o", "yaml"], secret_yaml().as_bytes());
    let key = key_a();
    let err = fails(
        &["--recovery-unseal", "--recovery-private-key", &key],
        relocate(&strict).as_bytes(),
    );
    assert!(err.contains("no key could decrypt secret"), "{err}");
}

#[test]
fn merge_into_adds_items_and_keeps_existing_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target: PathBuf = dir.path().join("db.sealed.yaml");
    let cert = cert_a();
    let first = ok(&["--cert", &cert, "-o", "yaml"], secret_yaml().as_bytes());
    std::fs::write(&target, &first).expect("write sealed file");
    let before = one_doc(&first);

    let addition = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: ignored\n  labels:\n    tier: backend\n\
         stringData:\n  apiKey: {API_KEY}\n"
    );
    let path = target.display().to_string();
    let out = ok(
        &["--cert", &cert, "--merge-into", &path, "-o", "yaml"],
        addition.as_bytes(),
    );
    assert_eq!(out, "", "--merge-into writes the file, not stdout");
    let merged_text = std::fs::read_to_string(&target).expect("read merged file");
    assert!(merged_text.starts_with("---\napiVersion: bitnami.com/v1alpha1\n"));
    assert_opaque(&merged_text);
    let merged = one_doc(&merged_text);
    let enc = &merged["spec"]["encryptedData"];
    assert_eq!(enc["password"], before["spec"]["encryptedData"]["password"]);
    assert_eq!(enc["user"], before["spec"]["encryptedData"]["user"]);
    assert_eq!(merged["metadata"]["name"], "db");
    let labels = &merged["spec"]["template"]["metadata"]["labels"];
    assert_eq!(labels, &json!({"app": "db", "tier": "backend"}));

    let mut want = expected_data();
    want["apiKey"] = json!(encode_base64(API_KEY.as_bytes()));
    assert_eq!(unsealed_data(&merged_text), want);
}

#[test]
fn bad_input_fails_cleanly() {
    let cert = cert_a();
    let seal = ["--cert", cert.as_str()];
    let cases: Vec<(String, &[&str])> = vec![
        (
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  password: {BAD_VALUE}\n"
            ),
            &["input is not a Secret (kind \"ConfigMap\")"],
        ),
        (
            format!(
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: [{BAD_VALUE}\n"
            ),
            &["input: invalid YAML: line "],
        ),
        (
            format!("kind: Secret\nstringData:\n  password: {BAD_VALUE}\n   bad: indent\n"),
            &["input: invalid YAML: line "],
        ),
        (
            format!("{{\"kind\": \"Secret\", \"stringData\": {{\"password\": \"{BAD_VALUE}\""),
            &["input: invalid JSON"],
        ),
        (
            format!("kind: Secret\nmetadata:\n  name: db\nstringData:\n  password: !!int {BAD_VALUE}\n"),
            &["input: invalid YAML: line 5", "cannot decode a !!str value as a !!int"],
        ),
        (
            format!("kind: Secret\nmetadata:\n  name: db\ndata:\n  password: {BAD_VALUE}!\n"),
            &["Secret db: data.password: illegal base64 data at input byte"],
        ),
        (
            format!("kind: Secret\nmetadata:\n  name: db\nstringData:\n  password: {BAD_VALUE}\n  password: again\n"),
            &["mapping key \"password\" already defined"],
        ),
        (
            "kind: Secret\nmetadata:\n  name: db\nstringData:\n  n: 5\n".to_string(),
            &["Secret db: field stringData.n must be a string"],
        ),
        (String::new(), &["no Secret found in input"]),
        (
            format!("kind: Secret\nstringData:\n  password: {BAD_VALUE}\n"),
            &["missing metadata.name in input Secret"],
        ),
    ];
    for (input, expected) in cases {
        let err = fails(&seal, input.as_bytes());
        for e in expected {
            assert!(err.contains(e), "input {input:?}: {err}");
        }
    }
}

#[test]
fn missing_files_fail_cleanly() {
    let err = fails(
        &["--cert", "/nonexistent/fjord/tls.crt"],
        secret_yaml().as_bytes(),
    );
    assert!(
        err.contains("cannot read /nonexistent/fjord/tls.crt"),
        "{err}"
    );
    let cert = cert_a();
    let sealed = ok(&["--cert", &cert], secret_yaml().as_bytes());
    let err = fails(
        &[
            "--recovery-unseal",
            "--recovery-private-key",
            "/nonexistent/fjord/tls.key",
        ],
        sealed.as_bytes(),
    );
    assert!(err.contains("/nonexistent/fjord/tls.key"), "{err}");
    let err = fails(
        &[
            "--cert",
            &cert,
            "--merge-into",
            "/nonexistent/fjord/sealed.yaml",
        ],
        secret_yaml().as_bytes(),
    );
    assert!(err.contains("/nonexistent/fjord/sealed.yaml"), "{err}");
    // A PEM that is not a certificate.
    let key = key_a();
    let err = fails(&["--cert", &key], secret_yaml().as_bytes());
    assert!(err.contains("tls.key"), "{err}");
}
