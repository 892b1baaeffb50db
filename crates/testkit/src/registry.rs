//! A real OCI registry for tests: Debian's `docker-registry` (CNCF distribution 2.8) on loopback
//! with a temporary storage folder, behind a small counting proxy.
//!
//! - [`Registry::anonymous`], [`Registry::basic`] (an `htpasswd -B` file), [`Registry::token`]
//!   (distribution's token auth with a token server of this kit issuing ES256 JWTs).
//! - [`Registry::url`] / [`Registry::host`] are the proxy's; every request through it is recorded
//!   ([`Registry::requests`], [`Registry::count`]); [`Registry::stop`] closes the port and kills
//!   the server, [`Registry::start`] brings both back on the same port with the same data.
//! - [`Registry::push_image`] / [`Registry::push_index`] push OCI images (a config blob with
//!   `created`/`os`/`architecture`/`variant` and one layer) and OCI indexes.
//!
//! Tests gate on the tools first: `require_tools!(registry::DOCKER_REGISTRY, registry::HTPASSWD)`.

mod proxy;
mod token;
mod wire;

use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub use proxy::Seen;
pub use token::{TokenOptions, ISSUER, SERVICE};

use crate::process::{free_port, wait_for_port, Proc};
use crate::tools::Tool;
use proxy::Proxy;
use token::TokenServer;
use wire::{PushAuth, Session};

/// CNCF distribution's registry server, as Debian packages it.
pub const DOCKER_REGISTRY: Tool = Tool {
    program: "docker-registry",
    hint: "apt-get install docker-registry",
};
/// CNCF distribution v3's `registry` (it paginates tag lists; 2.8 does not), built from the Go
/// module proxy.
pub const DISTRIBUTION_V3: Tool = Tool {
    program: "registry",
    hint: "GOBIN=~/.cache/fjord/tools/distribution go install \
           github.com/distribution/distribution/v3/cmd/registry@v3.0.0 and put GOBIN on PATH",
};
/// Apache's `htpasswd` (bcrypt password files for basic auth).
pub const HTPASSWD: Tool = Tool {
    program: "htpasswd",
    hint: "apt-get install apache2-utils",
};

/// OCI media types the pushes use.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// The OCI image index media type.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// What a pushed image says about itself (its config blob).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSpec {
    /// `created`, RFC 3339.
    pub created: String,
    /// `os`, e.g. `linux`.
    pub os: String,
    /// `architecture`, e.g. `amd64`.
    pub arch: String,
    /// `variant`, e.g. `v8`.
    pub variant: Option<String>,
}

impl ImageSpec {
    /// A `linux` image of `arch` created at `created`.
    pub fn linux(arch: &str, created: &str) -> ImageSpec {
        ImageSpec {
            created: created.to_string(),
            os: "linux".to_string(),
            arch: arch.to_string(),
            variant: None,
        }
    }
}

/// How the registry authenticates.
enum Auth {
    Anonymous,
    Basic {
        user: String,
        pass: String,
    },
    Token {
        user: String,
        pass: String,
        server: TokenServer,
    },
}

/// The serving certificate of a TLS registry and a client configuration trusting it.
struct Tls {
    cert_pem: String,
    key_pem: String,
    client: Arc<rustls::ClientConfig>,
}

/// A running (or [stopped](Registry::stop)) registry of one test; killed on drop.
pub struct Registry {
    program: &'static str,
    auth: Auth,
    tls: Option<Tls>,
    dir: tempfile::TempDir,
    proxy: Proxy,
    proc: Option<Proc>,
    backend: u16,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("url", &self.url())
            .field("running", &self.proc.is_some())
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// A registry anyone may pull from and push to.
    pub fn anonymous() -> Registry {
        Registry::launch(Auth::Anonymous)
    }

    /// An anonymous registry run by distribution v3 ([`DISTRIBUTION_V3`]), which pages tag
    /// lists (`n`, `last`, `Link`).
    pub fn anonymous_v3() -> Registry {
        let mut reg = Registry::prepare(Auth::Anonymous, None, DISTRIBUTION_V3.program);
        reg.spawn();
        reg
    }

    /// An anonymous registry serving HTTPS with a fresh self-signed certificate for `127.0.0.1`
    /// ([`Registry::ca_pem`]). Its requests are not recorded (the proxy passes TLS through).
    pub fn anonymous_tls() -> Registry {
        Registry::launch_with(Auth::Anonymous, Some(self_signed()))
    }

    /// The certificate (PEM) of a TLS registry.
    pub fn ca_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|t| t.cert_pem.as_str())
    }

    /// A registry that takes only `user`/`pass` (basic auth, an `htpasswd -B` file).
    pub fn basic(user: &str, pass: &str) -> Registry {
        Registry::launch(Auth::Basic {
            user: user.to_string(),
            pass: pass.to_string(),
        })
    }

    /// A registry with token auth; its token server takes `user`/`pass`.
    pub fn token(user: &str, pass: &str) -> Registry {
        Registry::token_with(user, pass, TokenOptions::default())
    }

    /// [`Registry::token`] with the token server's answers shaped by `options`.
    pub fn token_with(user: &str, pass: &str, options: TokenOptions) -> Registry {
        Registry::launch(Auth::Token {
            user: user.to_string(),
            pass: pass.to_string(),
            server: TokenServer::start(user, pass, options),
        })
    }

    fn launch(auth: Auth) -> Registry {
        Registry::launch_with(auth, None)
    }

    fn launch_with(auth: Auth, tls: Option<Tls>) -> Registry {
        let mut reg = Registry::prepare(auth, tls, DOCKER_REGISTRY.program);
        reg.write_auth_files();
        reg.spawn();
        reg
    }

    /// The folder, certificate files and proxy of a registry not started yet.
    fn prepare(auth: Auth, tls: Option<Tls>, program: &'static str) -> Registry {
        let dir = crate::tempdir::tempdir("registry");
        std::fs::create_dir_all(dir.path().join("data")).expect("create the storage folder");
        if let Some(t) = &tls {
            std::fs::write(dir.path().join("tls.pem"), &t.cert_pem).expect("write tls.pem");
            std::fs::write(dir.path().join("tls-key.pem"), &t.key_pem).expect("write tls-key.pem");
        }
        let backend = free_port();
        Registry {
            program,
            auth,
            proxy: Proxy::open(backend, tls.is_some()),
            tls,
            dir,
            proc: None,
            backend,
        }
    }

    /// `http://127.0.0.1:PORT` (`https://` for [`Registry::anonymous_tls`]).
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.host())
    }

    /// `127.0.0.1:PORT` (the image prefix).
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.proxy.port)
    }

    /// The credentials it takes, if any.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        match &self.auth {
            Auth::Anonymous => None,
            Auth::Basic { user, pass } | Auth::Token { user, pass, .. } => Some((user, pass)),
        }
    }

    /// The token server's URL (the realm), for a token registry.
    pub fn token_realm(&self) -> Option<String> {
        match &self.auth {
            Auth::Token { server, .. } => Some(format!("http://127.0.0.1:{}/token", server.port)),
            _ => None,
        }
    }

    /// Requests the token server received (0 without one).
    pub fn token_requests(&self) -> usize {
        match &self.auth {
            Auth::Token { server, .. } => server.requests.load(Ordering::SeqCst),
            _ => 0,
        }
    }

    /// Every request the registry received through its port so far.
    pub fn requests(&self) -> Vec<Seen> {
        self.proxy
            .seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Requests with `method` (any when `None`) whose target contains `needle`.
    pub fn count(&self, method: Option<&str>, needle: &str) -> usize {
        self.requests()
            .iter()
            .filter(|s| method.is_none_or(|m| s.method == m) && s.target.contains(needle))
            .count()
    }

    /// `GET /v2/<repo>/tags/list` requests (each page counts).
    pub fn tag_list_requests(&self, repo: &str) -> usize {
        self.count(Some("GET"), &format!("/v2/{repo}/tags/list"))
    }

    /// Forgets the requests recorded so far (e.g. after the test's pushes).
    pub fn reset_counts(&self) {
        self.proxy
            .seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        if let Auth::Token { server, .. } = &self.auth {
            server.requests.store(0, Ordering::SeqCst);
        }
    }

    /// The server's log (its stderr) so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// "The registry is down": kills the server and closes the port (connections are refused).
    pub fn stop(&mut self) {
        if let Some(mut proc) = self.proc.take() {
            proc.kill();
        }
        self.proxy.close();
    }

    /// Starts it again after [`Registry::stop`], on the same port with the same data.
    pub fn start(&mut self) {
        if self.proc.is_some() {
            return;
        }
        self.backend = free_port();
        self.proxy.reopen(self.backend);
        self.spawn();
    }

    fn write_auth_files(&self) {
        match &self.auth {
            Auth::Anonymous => {}
            Auth::Basic { user, pass } => {
                let out = Command::new(HTPASSWD.program)
                    .args(["-Bbn", user, pass])
                    .stdin(Stdio::null())
                    .output()
                    .unwrap_or_else(|e| panic!("run htpasswd: {e}"));
                assert!(out.status.success(), "htpasswd failed: {}", out.status);
                std::fs::write(self.dir.path().join("htpasswd"), out.stdout)
                    .expect("write the htpasswd file");
            }
            Auth::Token { server, .. } => {
                std::fs::write(self.dir.path().join("token.pem"), &server.cert_pem)
                    .expect("write the token certificate");
            }
        }
    }

    fn config(&self) -> String {
        let dir = self.dir.path().display();
        let auth = match &self.auth {
            Auth::Anonymous => String::new(),
            Auth::Basic { .. } => {
                format!("auth:\n  htpasswd:\n    realm: fjord-test\n    path: {dir}/htpasswd\n")
            }
            Auth::Token { server, .. } => format!(
                "auth:\n  token:\n    realm: http://127.0.0.1:{}/token\n    service: {SERVICE}\n    \
                 issuer: {ISSUER}\n    rootcertbundle: {dir}/token.pem\n",
                server.port
            ),
        };
        let tls = match &self.tls {
            Some(_) => {
                format!("  tls:\n    certificate: {dir}/tls.pem\n    key: {dir}/tls-key.pem\n")
            }
            None => String::new(),
        };
        format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {dir}/data\n  delete:\n    enabled: true\n  \
             maintenance:\n    uploadpurging:\n      enabled: false\n\
             http:\n  addr: 127.0.0.1:{}\n  secret: fjord-test-secret\n{tls}{auth}",
            self.backend
        )
    }

    fn spawn(&mut self) {
        let config = self.dir.path().join("config.yml");
        std::fs::write(&config, self.config()).expect("write the registry config");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("registry.log"))
            .expect("open the registry log");
        let mut cmd = Command::new(self.program);
        cmd.arg("serve")
            .arg(&config)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let mut proc = Proc::spawn_or_panic(&mut cmd, self.program);
        wait_for_port(self.backend, &mut proc, self.program);
        self.proc = Some(proc);
    }

    fn session(&self) -> Session {
        let auth = match &self.auth {
            Auth::Anonymous => PushAuth::None,
            Auth::Basic { user, pass } => PushAuth::Basic(user.clone(), pass.clone()),
            Auth::Token { user, pass, .. } => PushAuth::Token(user.clone(), pass.clone()),
        };
        Session::new(
            self.host(),
            self.tls.as_ref().map(|t| Arc::clone(&t.client)),
            auth,
        )
    }

    /// Pushes an OCI image (config blob, one layer, manifest) as `repo:tag`; returns the
    /// manifest's digest.
    pub fn push_image(&self, repo: &str, tag: &str, spec: &ImageSpec) -> String {
        let mut s = self.session();
        let (manifest, digest) = push_parts(&mut s, repo, tag, spec);
        put_manifest(&mut s, repo, tag, OCI_MANIFEST, &manifest);
        digest
    }

    /// Pushes one OCI image per spec (by digest) and an OCI index of them as `repo:tag`; returns
    /// the index's digest.
    pub fn push_index(&self, repo: &str, tag: &str, specs: &[ImageSpec]) -> String {
        let mut s = self.session();
        let mut entries = Vec::new();
        for spec in specs {
            let (manifest, digest) = push_parts(&mut s, repo, tag, spec);
            put_manifest(&mut s, repo, &digest, OCI_MANIFEST, &manifest);
            let mut platform = serde_json::json!({"architecture": spec.arch, "os": spec.os});
            if let Some(v) = &spec.variant {
                platform["variant"] = serde_json::json!(v);
            }
            entries.push(serde_json::json!({
                "mediaType": OCI_MANIFEST, "digest": digest, "size": manifest.len(),
                "platform": platform,
            }));
        }
        let index = serde_json::json!({
            "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries,
        })
        .to_string()
        .into_bytes();
        put_manifest(&mut s, repo, tag, OCI_INDEX, &index);
        sha256_digest(&index)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A self-signed certificate for `127.0.0.1` and a client configuration trusting it.
fn self_signed() -> Tls {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()])
        .expect("self-signed certificate");
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(cert.cert.der().clone())
        .expect("trust the certificate");
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    Tls {
        cert_pem: cert.cert.pem(),
        key_pem: cert.signing_key.serialize_pem(),
        client: Arc::new(client),
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    let hex: String = d.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Uploads the config and layer blobs of `spec`; returns the manifest bytes and digest.
fn push_parts(s: &mut Session, repo: &str, tag: &str, spec: &ImageSpec) -> (Vec<u8>, String) {
    let variant = spec.variant.as_deref().unwrap_or("");
    let layer = format!(
        "fjord test layer {repo}:{tag} {}/{}/{variant}",
        spec.os, spec.arch
    );
    let layer_digest = upload_blob(s, repo, layer.as_bytes());
    let mut config = serde_json::json!({
        "created": spec.created, "architecture": spec.arch, "os": spec.os,
        "config": {}, "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
    });
    if let Some(v) = &spec.variant {
        config["variant"] = serde_json::json!(v);
    }
    let config = config.to_string().into_bytes();
    let config_digest = upload_blob(s, repo, &config);
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": layer_digest, "size": layer.len()}],
    })
    .to_string()
    .into_bytes();
    let digest = sha256_digest(&manifest);
    (manifest, digest)
}

/// POST an upload, PUT the bytes with their digest; returns the digest.
fn upload_blob(s: &mut Session, repo: &str, bytes: &[u8]) -> String {
    let digest = sha256_digest(bytes);
    let start = s.send("POST", &format!("/v2/{repo}/blobs/uploads/"), &[], b"");
    assert_eq!(start.status, 202, "start a blob upload in {repo}");
    let location = start.header("location").expect("an upload location");
    let target = match location.find("/v2/") {
        Some(i) => &location[i..],
        None => location,
    };
    let sep = if target.contains('?') { '&' } else { '?' };
    let done = s.send(
        "PUT",
        &format!("{target}{sep}digest={digest}"),
        &[("Content-Type", "application/octet-stream".to_string())],
        bytes,
    );
    assert_eq!(
        done.status,
        201,
        "finish the blob upload in {repo}: {}",
        String::from_utf8_lossy(&done.body)
    );
    digest
}

fn put_manifest(s: &mut Session, repo: &str, reference: &str, media_type: &str, body: &[u8]) {
    let resp = s.send(
        "PUT",
        &format!("/v2/{repo}/manifests/{reference}"),
        &[("Content-Type", media_type.to_string())],
        body,
    );
    assert_eq!(
        resp.status,
        201,
        "put manifest {repo}:{reference}: {}",
        String::from_utf8_lossy(&resp.body)
    );
}
