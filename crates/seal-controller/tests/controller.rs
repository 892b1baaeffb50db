//! The unsealing controller end to end: the API server `FJORD_TEST_BACKEND` picks (the embedded
//! fjord-cluster in process, or the real kube-apiserver of `scripts/control-plane.sh`, where the
//! controller installs its SealedSecret CRD itself), the controller against its kubeconfig, the real `kubectl` to apply and read objects, and
//! the controller's HTTP API to fetch the certificate, validate and re-encrypt as `fjord seal`
//! does (fjord-seal seals; `fjord seal` itself is tested through the binary in
//! `crates/cli/tests/seal_cli.rs` and `seal_controller_e2e.rs`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use fjord_cluster::{ClusterHandle, ClusterOptions};
use fjord_seal::docs::{self, decode_base64_go, parse_documents};
use fjord_seal::keys::{Certificate, Key};
use fjord_seal::seal::{seal_secret, SealOptions};
use fjord_seal::{read_private_keys, unseal_secret, SealedSecret};
use fjord_seal_controller::{start, SealControllerHandle, SealControllerOptions};
use fjord_testkit::tools::KUBECTL;
use fjord_testkit::{require_tools, Backend, ControlPlane};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

const DEADLINE: Duration = Duration::from_secs(30);
const KEY_LABEL: &str = "sealedsecrets.bitnami.com/sealed-secrets-key";

fn compat(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../seal/testdata/compat")
        .join(rel)
}

/// The API server behind an [`Env`].
enum Server {
    /// fjord's local API in this process.
    Local(ClusterHandle),
    /// kube-apiserver v1.34 with its controllers and kwok nodes.
    Real(ControlPlane),
}

/// A cluster, a scratch directory and (once started) a controller.
struct Env {
    dir: tempfile::TempDir,
    cluster: Option<Server>,
    kubeconfig: PathBuf,
    controller: Option<SealControllerHandle>,
}

impl Env {
    /// Starts the backend `FJORD_TEST_BACKEND` names.
    async fn cluster() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cluster, kubeconfig) = match Backend::current() {
            Backend::Local => {
                let cluster = fjord_cluster::serve(ClusterOptions {
                    in_memory: true,
                    addr: "127.0.0.1:0".parse().expect("addr"),
                    ..ClusterOptions::new(dir.path())
                })
                .await
                .expect("cluster");
                let kubeconfig = cluster.kubeconfig().to_path_buf();
                (Server::Local(cluster), kubeconfig)
            }
            Backend::Real => {
                let cp = tokio::task::spawn_blocking(ControlPlane::start_or_panic)
                    .await
                    .expect("start the control plane");
                let kubeconfig = cp.kubeconfig();
                (Server::Real(cp), kubeconfig)
            }
        };
        Env {
            dir,
            cluster: Some(cluster),
            kubeconfig,
            controller: None,
        }
    }

    fn options(&self) -> SealControllerOptions {
        SealControllerOptions {
            client: fjord_client::ClientOptions {
                kubeconfig: Some(self.kubeconfig.clone()),
                ..Default::default()
            },
            http_addr: Some("127.0.0.1:0".parse().expect("addr")),
            resync: Duration::from_millis(200),
            verify_rate_limit: None,
            ..SealControllerOptions::default()
        }
    }

    async fn start_with(&mut self, f: impl FnOnce(&mut SealControllerOptions)) {
        let mut opts = self.options();
        f(&mut opts);
        self.controller = Some(start(opts).await.expect("controller starts"));
    }

    async fn start(&mut self) {
        self.start_with(|_| {}).await;
    }

    fn ctl(&self) -> &SealControllerHandle {
        self.controller.as_ref().expect("controller running")
    }

    async fn stop(mut self) {
        if let Some(c) = self.controller.take() {
            c.shutdown().await.expect("controller shutdown");
        }
        match self.cluster.take() {
            Some(Server::Local(c)) => c.shutdown().await,
            Some(Server::Real(cp)) => tokio::task::spawn_blocking(move || drop(cp))
                .await
                .expect("stop the control plane"),
            None => {}
        }
    }

    /// Runs kubectl with `stdin`; returns (success, stdout, stderr).
    async fn kubectl_in(&self, args: &[&str], stdin: &str) -> (bool, String, String) {
        let mut child = tokio::process::Command::new("kubectl")
            .arg(format!("--kubeconfig={}", self.kubeconfig.display()))
            .arg(format!(
                "--cache-dir={}",
                self.dir.path().join("kubectl-cache").display()
            ))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kubectl");
        let mut input = child.stdin.take().expect("stdin");
        input.write_all(stdin.as_bytes()).await.expect("stdin");
        drop(input);
        let out = child.wait_with_output().await.expect("kubectl");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    async fn ok_in(&self, args: &[&str], stdin: &str) -> String {
        let (ok, out, err) = self.kubectl_in(args, stdin).await;
        assert!(ok, "kubectl {args:?} failed: {err}\n{out}");
        out
    }

    async fn ok(&self, args: &[&str]) -> String {
        self.ok_in(args, "").await
    }

    async fn apply(&self, manifest: &str) {
        self.ok_in(&["apply", "-f", "-"], manifest).await;
    }

    /// `kubectl get -o json`, `None` when not found.
    async fn get(&self, kind: &str, ns: &str, name: &str) -> Option<Value> {
        let mut args = vec!["get", kind, name, "-o", "json"];
        if !ns.is_empty() {
            args.extend(["-n", ns]);
        }
        let (ok, out, err) = self.kubectl_in(&args, "").await;
        if !ok {
            assert!(
                err.contains("NotFound") || err.contains("not found"),
                "{err}"
            );
            return None;
        }
        Some(serde_json::from_str(&out).expect("json"))
    }

    async fn events(&self, ns: &str, name: &str) -> Vec<Value> {
        let out = self.ok(&["get", "events", "-n", ns, "-o", "json"]).await;
        let list: Value = serde_json::from_str(&out).expect("json");
        list["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|e| e["involvedObject"]["name"] == name)
            .collect()
    }

    /// Polls until `f` gives `Some` or the deadline passes.
    async fn wait_for<T, F, Fut>(&self, what: &str, mut f: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let start = Instant::now();
        loop {
            if let Some(v) = f().await {
                return v;
            }
            assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn secret(&self, ns: &str, name: &str) -> Value {
        self.wait_for(&format!("Secret {ns}/{name}"), || {
            self.get("secret", ns, name)
        })
        .await
    }

    /// Waits for the SealedSecret's `Synced` condition to have `status`; returns the object.
    async fn synced(&self, ns: &str, name: &str, status: &str) -> Value {
        self.wait_for(
            &format!("SealedSecret {ns}/{name} Synced={status}"),
            || async {
                let ss = self.get("sealedsecret", ns, name).await?;
                (synced_condition(&ss)?["status"] == status).then_some(ss)
            },
        )
        .await
    }

    async fn event(&self, ns: &str, name: &str, reason: &str) -> Value {
        self.wait_for(&format!("event {reason} on {ns}/{name}"), || async {
            self.events(ns, name)
                .await
                .into_iter()
                .find(|e| e["reason"] == reason)
        })
        .await
    }

    /// A request to the controller's HTTP API (blocking, so on a blocking thread).
    async fn call(&self, method: &str, path: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
        let addr = self.ctl().http_addr().expect("http addr");
        let (method, path) = (method.to_string(), path.to_string());
        tokio::task::spawn_blocking(move || http(addr, &method, &path, &body, ""))
            .await
            .expect("join")
    }

    /// The certificate from `/v1/cert.pem` (`fjord seal --fetch-cert --controller-url`),
    /// written to a file.
    async fn fetch_cert(&self) -> (PathBuf, Certificate) {
        let (status, pem) = self.call("GET", "/v1/cert.pem", Vec::new()).await;
        assert_eq!(status, 200, "fetch cert");
        let pem = String::from_utf8(pem).expect("utf-8");
        let cert = Certificate::from_pem(pem.as_bytes(), "cert.pem").expect("certificate");
        let path = self.dir.path().join(format!(
            "{}.pem",
            &cert.fingerprint()[7..15].replace('/', "_")
        ));
        std::fs::write(&path, &pem).expect("write cert");
        (path, cert)
    }

    /// Seals a Secret manifest for `cert` (JSON output), as `fjord seal --cert FILE` does.
    async fn seal(&self, cert: &Path, secret: &str) -> String {
        let pem = std::fs::read(cert).expect("read cert");
        let cert = Certificate::from_pem(&pem, &cert.display().to_string()).expect("certificate");
        let mut out = String::new();
        for doc in parse_documents(secret).expect("secret manifest") {
            let options = SealOptions {
                default_namespace: "default".into(),
                ..SealOptions::default()
            };
            let ss = seal_secret(&doc, &cert, &options).expect("seal");
            out.push_str(&docs::to_go_json(&ss.to_value()));
        }
        out
    }

    /// Each input SealedSecret as `fjord seal` posts it to `/v1/verify` or `/v1/rotate`.
    fn request_bodies(input: &str) -> Vec<(String, Vec<u8>)> {
        parse_documents(input)
            .expect("input")
            .iter()
            .map(|d| {
                let ss = SealedSecret::from_value(d).expect("SealedSecret");
                let body = docs::to_go_json(&ss.to_value()).into_bytes();
                (ss.name().to_string(), body)
            })
            .collect()
    }

    /// `fjord seal --validate --controller-url`: the `/v1/verify` status of each input object,
    /// with its name.
    async fn validate(&self, input: &str) -> Vec<(String, u16)> {
        let mut out = Vec::new();
        for (name, body) in Env::request_bodies(input) {
            out.push((name, self.call("POST", "/v1/verify", body).await.0));
        }
        out
    }

    /// `fjord seal --re-encrypt --controller-url`: each input object through `/v1/rotate`,
    /// the answer completed with `apiVersion`/`kind` and written as JSON.
    async fn re_encrypt(&self, input: &str) -> String {
        let mut out = String::new();
        for (_, body) in Env::request_bodies(input) {
            let (status, answer) = self.call("POST", "/v1/rotate", body).await;
            assert_eq!(status, 200, "/v1/rotate");
            let value: Value = serde_json::from_slice(&answer).expect("rotate answer");
            let mut rotated = SealedSecret::from_value_unchecked(&value).expect("rotated");
            rotated.metadata.remove("creationTimestamp");
            rotated.metadata.remove("generation");
            out.push_str(&docs::to_go_json(&rotated.to_value()));
        }
        out
    }

    /// The controller's key Secrets, as kubectl lists them.
    async fn key_secrets(&self) -> Vec<Value> {
        let out = self
            .ok(&[
                "get",
                "secret",
                "-n",
                "kube-system",
                "-l",
                KEY_LABEL,
                "-o",
                "json",
            ])
            .await;
        let list: Value = serde_json::from_str(&out).expect("json");
        list["items"].as_array().cloned().unwrap_or_default()
    }

    async fn controller_keys(&self) -> Vec<Key> {
        let items = self.key_secrets().await;
        let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
        read_private_keys(list.to_string().as_bytes(), "key secrets").expect("keys")
    }
}

fn synced_condition(ss: &Value) -> Option<&Value> {
    ss.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Synced")
}

fn decoded(secret: &Value, key: &str) -> Vec<u8> {
    decode_base64_go(
        secret["data"][key]
            .as_str()
            .unwrap_or_else(|| panic!("data.{key}")),
    )
    .expect("base64")
}

fn secret_manifest(ns: &str, name: &str, items: &[(&str, &str)]) -> String {
    let data: serde_json::Map<String, Value> = items
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    json!({"apiVersion": "v1", "kind": "Secret",
           "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
           "type": "Opaque", "stringData": data})
    .to_string()
}

/// A minimal HTTP/1.1 request to the controller (`Connection: close`).
fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
    extra: &str,
) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).expect("connect");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n{extra}\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("write");
    s.write_all(body).expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("head end");
    let status = std::str::from_utf8(&raw[9..12])
        .expect("status")
        .parse()
        .expect("status");
    (status, raw[split + 4..].to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sealed_secret_becomes_its_secret() {
    require_tools!(KUBECTL);
    let mut env = Env::cluster().await;
    env.start().await;
    env.ok(&["create", "namespace", "prod"]).await;
    // The CRD was installed with the status subresource and upstream's columns.
    let crd = env
        .get("crd", "", "sealedsecrets.bitnami.com")
        .await
        .expect("CRD installed");
    assert!(crd["spec"]["versions"][0]["subresources"]["status"].is_object());
    // A generated key: one kubernetes.io/tls Secret named with the prefix + 5 characters.
    let keys = env.key_secrets().await;
    assert_eq!(keys.len(), 1);
    let key_name = keys[0]["metadata"]["name"].as_str().unwrap();
    assert!(
        key_name.starts_with("sealed-secrets-key") && key_name.len() == 23,
        "{key_name}"
    );
    assert_eq!(keys[0]["type"], "kubernetes.io/tls");

    let (cert_path, cert) = env.fetch_cert().await;
    assert_eq!(
        Some(cert.fingerprint().to_string()),
        env.ctl().newest_fingerprint()
    );
    let sealed = env
        .seal(
            &cert_path,
            &secret_manifest("prod", "db", &[("user", "admin"), ("password", "s3cr3t")]),
        )
        .await;
    assert!(!sealed.contains("s3cr3t"));
    env.apply(&sealed).await;

    let secret = env.secret("prod", "db").await;
    assert_eq!(decoded(&secret, "user"), b"admin");
    assert_eq!(decoded(&secret, "password"), b"s3cr3t");
    assert_eq!(secret["metadata"]["labels"]["app"], "db");
    assert_eq!(secret["type"], "Opaque");
    let ss = env.synced("prod", "db", "True").await;
    assert_eq!(
        secret["metadata"]["ownerReferences"],
        json!([{"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "name": "db",
                "uid": ss["metadata"]["uid"], "controller": true}])
    );
    let cond = synced_condition(&ss).unwrap();
    assert!(cond.get("message").is_none(), "{cond}");
    assert!(cond["lastTransitionTime"].is_string() && cond["lastUpdateTime"].is_string());
    assert_eq!(
        ss["status"]["observedGeneration"],
        ss["metadata"]["generation"]
    );
    let ev = env.event("prod", "db", "Unsealed").await;
    assert_eq!(ev["type"], "Normal");
    assert_eq!(ev["message"], "SealedSecret unsealed successfully");
    assert_eq!(ev["involvedObject"]["kind"], "SealedSecret");
    assert_eq!(ev["involvedObject"]["uid"], ss["metadata"]["uid"]);
    assert_eq!(ev["source"]["component"], "sealed-secrets");
    // Printer columns: Status (empty message) and Synced.
    let table = env.ok(&["get", "sealedsecret", "db", "-n", "prod"]).await;
    assert!(
        table.contains("SYNCED") && table.contains("True"),
        "{table}"
    );

    // A deleted Secret is re-created.
    let old_uid = secret["metadata"]["uid"].clone();
    env.ok(&["delete", "secret", "db", "-n", "prod"]).await;
    let again = env
        .wait_for("Secret re-created", || async {
            env.get("secret", "prod", "db")
                .await
                .filter(|s| s["metadata"]["uid"] != old_uid)
        })
        .await;
    assert_eq!(decoded(&again, "password"), b"s3cr3t");

    // A new spec (new value) updates the Secret in place.
    let resealed = env
        .seal(
            &cert_path,
            &secret_manifest("prod", "db", &[("user", "admin"), ("password", "n3w")]),
        )
        .await;
    env.apply(&resealed).await;
    let updated = env
        .wait_for("Secret updated", || async {
            env.get("secret", "prod", "db")
                .await
                .filter(|s| decoded(s, "password") == b"n3w")
        })
        .await;
    assert_eq!(updated["metadata"]["uid"], again["metadata"]["uid"]);
    let ss = env
        .wait_for("observedGeneration 2", || async {
            env.get("sealedsecret", "prod", "db")
                .await
                .filter(|s| s["status"]["observedGeneration"] == 2)
        })
        .await;
    assert_eq!(synced_condition(&ss).unwrap()["status"], "True");

    // Secret values never reach events or status.
    let all_events = env.ok(&["get", "events", "-n", "prod", "-o", "json"]).await;
    assert!(!all_events.contains("s3cr3t") && !all_events.contains("czNjcjN0"));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn strict_scope_copy_is_refused() {
    require_tools!(KUBECTL);
    let mut env = Env::cluster().await;
    env.start().await;
    env.ok(&["create", "namespace", "prod"]).await;
    env.ok(&["create", "namespace", "staging"]).await;
    let (cert_path, _) = env.fetch_cert().await;
    let sealed = env
        .seal(
            &cert_path,
            &secret_manifest("prod", "db", &[("password", "s3cr3t")]),
        )
        .await;
    let mut copy: Value = serde_json::from_str(&sealed).unwrap();
    copy["metadata"]["name"] = json!("copy");
    copy["spec"]["template"]["metadata"]["name"] = json!("copy");
    env.apply(&copy.to_string()).await;
    let mut moved: Value = serde_json::from_str(&sealed).unwrap();
    moved["metadata"]["namespace"] = json!("staging");
    moved["spec"]["template"]["metadata"]["namespace"] = json!("staging");
    env.apply(&moved.to_string()).await;

    for (ns, name) in [("prod", "copy"), ("staging", "db")] {
        let ss = env.synced(ns, name, "False").await;
        let cond = synced_condition(&ss).unwrap();
        assert_eq!(cond["message"], "no key could decrypt secret (password)");
        let ev = env.event(ns, name, "ErrUnsealFailed").await;
        assert_eq!(ev["type"], "Warning");
        assert_eq!(
            ev["message"],
            "Failed to unseal: no key could decrypt secret (password)"
        );
        assert!(env.get("secret", ns, name).await.is_none());
    }
    // The original unseals.
    env.apply(&sealed).await;
    let secret = env.secret("prod", "db").await;
    assert_eq!(decoded(&secret, "password"), b"s3cr3t");
    // Retries stop after max_unseal_retries (5): a handful of warnings, not one per resync.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let warnings = env.events("prod", "copy").await.len();
    assert!((1..=5).contains(&warnings), "{warnings} events");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn existing_secrets_unmanaged_managed_and_patched() {
    require_tools!(KUBECTL);
    let mut env = Env::cluster().await;
    env.start().await;
    env.ok(&["create", "namespace", "prod"]).await;
    let (cert_path, _) = env.fetch_cert().await;
    let existing = |name: &str, annotation: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: prod\n  labels: {{keep: label}}\n  annotations: {{{annotation}}}\ndata:\n  k: b3JpZw==\n  extra: eA==\n"
        )
    };
    env.apply(&existing("plain", "")).await;
    env.apply(&existing(
        "taken",
        "sealedsecrets.bitnami.com/managed: \"true\"",
    ))
    .await;
    env.apply(&existing(
        "patched",
        "sealedsecrets.bitnami.com/patch: \"true\"",
    ))
    .await;
    for name in ["plain", "taken", "patched"] {
        let sealed = env
            .seal(&cert_path, &secret_manifest("prod", name, &[("k", "new")]))
            .await;
        env.apply(&sealed).await;
    }

    // Not owned, not annotated: untouched, ErrUpdateFailed, Synced False.
    let ss = env.synced("prod", "plain", "False").await;
    assert_eq!(
        synced_condition(&ss).unwrap()["message"],
        "failed update: Resource \"plain\" already exists and is not managed by SealedSecret"
    );
    let ev = env.event("prod", "plain", "ErrUpdateFailed").await;
    assert_eq!(
        ev["message"],
        "Resource \"plain\" already exists and is not managed by SealedSecret"
    );
    let plain = env.get("secret", "prod", "plain").await.unwrap();
    assert_eq!(decoded(&plain, "k"), b"orig");
    assert!(plain["metadata"].get("ownerReferences").is_none());

    // managed: taken over wholesale (data, labels, annotations, owner reference).
    env.synced("prod", "taken", "True").await;
    let taken = env.get("secret", "prod", "taken").await.unwrap();
    assert_eq!(taken["data"].as_object().unwrap().len(), 1);
    assert_eq!(decoded(&taken, "k"), b"new");
    assert_eq!(taken["metadata"]["labels"], json!({"app": "taken"}));
    assert!(taken["metadata"]
        .get("annotations")
        .and_then(|a| a.get("sealedsecrets.bitnami.com/managed"))
        .is_none());
    assert_eq!(taken["metadata"]["ownerReferences"][0]["name"], "taken");

    // patch: merged key by key, no ownership without managed.
    env.synced("prod", "patched", "True").await;
    let patched = env.get("secret", "prod", "patched").await.unwrap();
    assert_eq!(decoded(&patched, "k"), b"new");
    assert_eq!(decoded(&patched, "extra"), b"x");
    assert_eq!(patched["metadata"]["labels"]["keep"], "label");
    assert_eq!(patched["metadata"]["labels"]["app"], "patched");
    assert!(patched["metadata"].get("ownerReferences").is_none());

    // Annotating the unmanaged Secret and changing the SealedSecret lets it take over.
    env.ok(&[
        "annotate",
        "secret",
        "plain",
        "-n",
        "prod",
        "sealedsecrets.bitnami.com/managed=true",
    ])
    .await;
    let sealed = env
        .seal(
            &cert_path,
            &secret_manifest("prod", "plain", &[("k", "newer")]),
        )
        .await;
    env.apply(&sealed).await;
    env.synced("prod", "plain", "True").await;
    let plain = env.get("secret", "prod", "plain").await.unwrap();
    assert_eq!(decoded(&plain, "k"), b"newer");
    assert_eq!(
        plain["metadata"]["ownerReferences"][0]["kind"],
        "SealedSecret"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn key_renewal_keeps_old_keys_and_rotate_reseals_for_the_newest() {
    require_tools!(KUBECTL);
    let mut env = Env::cluster().await;
    // A tiny renewal period: the loop generates a second key on its own.
    env.start_with(|o| o.key_renew_period = Duration::from_secs(2))
        .await;
    env.ok(&["create", "namespace", "prod"]).await;
    let first = env.ctl().newest_fingerprint().unwrap();
    let (old_cert, _) = env.fetch_cert().await;
    let old_sealed = env
        .seal(&old_cert, &secret_manifest("prod", "old", &[("pw", "one")]))
        .await;
    env.apply(&old_sealed).await;
    env.synced("prod", "old", "True").await;
    env.wait_for("automatic renewal", || async {
        (env.ctl().key_fingerprints().len() >= 2).then_some(())
    })
    .await;
    assert_ne!(env.ctl().newest_fingerprint().unwrap(), first);
    env.controller.take().unwrap().shutdown().await.unwrap();

    // A restart with the default period picks up every stored key and generates none.
    env.start().await;
    let stored = env.key_secrets().await.len();
    assert!(stored >= 2);
    assert_eq!(env.ctl().key_fingerprints().len(), stored);
    assert!(env.ctl().key_fingerprints().contains(&first));
    // Renewal on demand (upstream's SIGUSR1).
    let newest = env.ctl().renew_key().await.unwrap();
    assert_eq!(
        env.ctl().newest_fingerprint().as_deref(),
        Some(newest.as_str())
    );
    assert_eq!(env.key_secrets().await.len(), stored + 1);
    let (new_cert_path, new_cert) = env.fetch_cert().await;
    assert_eq!(new_cert.fingerprint(), newest);
    assert_ne!(new_cert_path, old_cert);

    // Old SealedSecrets still unseal: a deleted Secret comes back, a new one sealed for the
    // old certificate is opened.
    env.ok(&["delete", "secret", "old", "-n", "prod"]).await;
    let secret = env.secret("prod", "old").await;
    assert_eq!(decoded(&secret, "pw"), b"one");
    let older = env
        .seal(
            &old_cert,
            &secret_manifest("prod", "older", &[("pw", "two")]),
        )
        .await;
    env.apply(&older).await;
    assert_eq!(decoded(&env.secret("prod", "older").await, "pw"), b"two");

    // /v1/rotate (fjord seal --re-encrypt): the result opens with the newest key only.
    let rotated = env.re_encrypt(&old_sealed).await;
    let rotated_doc = parse_documents(&rotated).unwrap().remove(0);
    assert_eq!(rotated_doc["kind"], "SealedSecret");
    assert_ne!(
        rotated_doc["spec"]["encryptedData"]["pw"],
        serde_json::from_str::<Value>(&old_sealed).unwrap()["spec"]["encryptedData"]["pw"]
    );
    let keys = env.controller_keys().await;
    let only = |fp: &str| -> Vec<Key> {
        keys.iter()
            .filter(|k| k.fingerprint() == fp)
            .cloned()
            .collect()
    };
    let opened = unseal_secret(&rotated_doc, &only(&newest)).expect("opens with the newest key");
    assert_eq!(decoded(&opened, "pw"), b"one");
    assert!(unseal_secret(&rotated_doc, &only(&first)).is_err());
    assert!(unseal_secret(&serde_json::from_str(&old_sealed).unwrap(), &only(&newest)).is_err());
    // The re-encrypted object applies in place.
    env.apply(&rotated).await;
    env.wait_for("rotated object unsealed", || async {
        let ss = env.get("sealedsecret", "prod", "old").await?;
        (ss["status"]["observedGeneration"] == 2 && synced_condition(&ss)?["status"] == "True")
            .then_some(())
    })
    .await;
    assert_eq!(decoded(&env.secret("prod", "old").await, "pw"), b"one");
    env.stop().await;
}

/// Starts a controller whose only key is the upstream key-a, stored as upstream stores it.
async fn env_with_upstream_key() -> Env {
    let mut env = Env::cluster().await;
    let key_secret = std::fs::read_to_string(compat("key-a/key-secret.yaml")).unwrap();
    env.apply(&key_secret).await;
    // Renewal off: key-a must stay the only key whatever its age.
    env.start_with(|o| o.key_renew_period = Duration::ZERO)
        .await;
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn upstream_key_secret_opens_the_compat_vectors() {
    require_tools!(KUBECTL);
    let env = env_with_upstream_key().await;
    let key_a = "SHA256:0tRzxl2zAgo5geDGgxEdnAEGq8DGujcmoq+007sBKW0";
    assert_eq!(env.ctl().key_fingerprints(), [key_a]);
    assert_eq!(env.key_secrets().await.len(), 1, "no key generated");
    let (_, cert) = env.fetch_cert().await;
    assert_eq!(cert.fingerprint(), key_a);

    for ns in ["vec-ns", "anywhere", "other-ns"] {
        env.ok(&["create", "namespace", ns]).await;
    }
    let vectors: Value =
        serde_json::from_slice(&std::fs::read(compat("vectors.json")).unwrap()).unwrap();
    let items = &vectors["items_b64"];
    let ok_files = [
        ("sealed-strict.yaml", "vec-ns", "vec-strict"),
        ("sealed-namespace-wide.yaml", "vec-ns", "vec-nswide"),
        ("sealed-cluster-wide.yaml", "vec-ns", "vec-clwide"),
        ("relocated-namespace-wide-renamed.yaml", "vec-ns", "renamed"),
        ("relocated-cluster-wide.yaml", "anywhere", "anything"),
    ];
    for (file, _, _) in ok_files {
        env.apply(&std::fs::read_to_string(compat(file)).unwrap())
            .await;
    }
    env.apply(&std::fs::read_to_string(compat("sealed-template.yaml")).unwrap())
        .await;
    env.apply(&std::fs::read_to_string(compat("negative-strict-other-namespace.yaml")).unwrap())
        .await;
    for (file, ns, name) in ok_files {
        let secret = env.secret(ns, name).await;
        let data = secret["data"].as_object().unwrap();
        assert_eq!(data.len(), 6, "{file}");
        for (item, expected) in items.as_object().unwrap() {
            assert_eq!(data[item], *expected, "{file}: item {item}");
        }
        env.synced(ns, name, "True").await;
    }
    let template = env.secret("vec-ns", "vec-template").await;
    let case = vectors["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["file"] == "sealed-template.yaml")
        .unwrap();
    assert_eq!(template["data"], case["expected_data_b64"]);
    assert_eq!(template["type"], case["expected_type"]);
    assert_eq!(template["immutable"], true);
    assert!(template["metadata"].get("ownerReferences").is_none());
    let refused = env.synced("other-ns", "vec-strict", "False").await;
    assert!(synced_condition(&refused).unwrap()["message"]
        .as_str()
        .unwrap()
        .starts_with("no key could decrypt secret ("));
    assert!(env.get("secret", "other-ns", "vec-strict").await.is_none());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verify_endpoint_and_validate() {
    require_tools!(KUBECTL);
    let env = env_with_upstream_key().await;
    let addr = env.ctl().http_addr().unwrap();
    let good = std::fs::read(compat("sealed-strict.yaml")).unwrap();
    let bad = std::fs::read(compat("negative-strict-renamed.yaml")).unwrap();
    let (status, body) =
        tokio::task::spawn_blocking(move || http(addr, "GET", "/healthz", b"", ""))
            .await
            .unwrap();
    assert_eq!((status, body.as_slice()), (200, &b"ok\n"[..]));
    let (g, b) = (good.clone(), bad.clone());
    let statuses = tokio::task::spawn_blocking(move || {
        [
            http(addr, "POST", "/v1/verify", &g, "").0,
            http(addr, "POST", "/v1/verify", &b, "").0,
            http(addr, "POST", "/v1/verify", b"kind: ConfigMap\n", "").0,
            http(addr, "POST", "/v1/verify", b"---\na: 1\n---\nb: 2\n", "").0,
            http(addr, "GET", "/v1/verify", b"", "").0,
        ]
    })
    .await
    .unwrap();
    assert_eq!(statuses, [200, 409, 500, 500, 405]);

    // What fjord seal --validate posts: the good object verifies, the renamed one is a 409
    // (`fjord seal` answers "unable to decrypt sealed secret: renamed"; see its unit tests).
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
    assert_eq!(
        env.validate(&text(&good)).await,
        [("vec-strict".into(), 200)]
    );
    assert_eq!(env.validate(&text(&bad)).await, [("renamed".into(), 409)]);
    // A failed rotate is a 500, not a 409.
    let status = tokio::task::spawn_blocking(move || http(addr, "POST", "/v1/rotate", &bad, "").0)
        .await
        .unwrap();
    assert_eq!(status, 500);

    // Upstream's rate limit (2/s, burst 2) per client when enabled: a new controller on the
    // same cluster (key-a stays its only key).
    let mut env = env;
    env.controller
        .take()
        .expect("running")
        .shutdown()
        .await
        .expect("controller shutdown");
    env.start_with(|o| {
        o.key_renew_period = Duration::ZERO;
        o.verify_rate_limit = Some(fjord_seal_controller::RateLimit::default());
    })
    .await;
    let addr = env.ctl().http_addr().unwrap();
    // Three requests at once from one client (sequential ones would refill the bucket when a
    // loaded machine makes each verify take over half a second): one of them is refused.
    let statuses = tokio::task::spawn_blocking(move || {
        let xff = "X-Forwarded-For: 10.0.0.1\r\n";
        let other = "X-Forwarded-For: 10.0.0.2\r\n";
        let mut same: Vec<u16> = std::thread::scope(|s| {
            let calls: Vec<_> = (0..3)
                .map(|_| s.spawn(|| http(addr, "POST", "/v1/verify", &good, xff).0))
                .collect();
            calls
                .into_iter()
                .map(|c| c.join().expect("request"))
                .collect()
        });
        same.sort_unstable();
        (same, http(addr, "POST", "/v1/verify", &good, other).0)
    })
    .await
    .unwrap();
    assert_eq!(statuses, (vec![200, 200, 429], 200));
    env.stop().await;
}
