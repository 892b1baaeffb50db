//! `fjord server` in the end-to-end tests of its API: the server as a child process (its URL read
//! from the line it prints), the initial admin password of Secret `argocd-initial-admin-secret`,
//! the admin's login (`POST /api/v1/session`, the `argocd.token` cookie kept), requests through
//! `curl` (writes with a JSON content type), and SSE streams read by `curl -N`.

use super::{poll, s, Cluster, CONVERGE, FJORD, NS};
use base64::Engine as _;
use fjord_testkit::Proc;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// One answer: the status (0 when nothing answered), the raw head (status line and headers),
/// the body.
pub struct Answer {
    /// The HTTP status.
    pub code: u16,
    /// The status line and the headers as sent.
    pub head: String,
    /// The body.
    pub body: String,
}

/// `fjord server` (or one another process runs), with the admin's session once logged in.
pub struct ApiServer {
    proc: Option<Proc>,
    /// `http://127.0.0.1:PORT` (or `https://`), without a trailing slash.
    pub url: String,
    /// The server's log (its stderr).
    pub log: PathBuf,
    /// The admin's session token (the `argocd.token` cookie), once logged in.
    pub token: Option<String>,
}

impl ApiServer {
    /// Starts `fjord server` on `cluster` and logs in as the admin.
    pub fn start(cluster: &Cluster) -> ApiServer {
        ApiServer::start_with(cluster, &[])
    }

    /// [`ApiServer::start`] with `extra` flags.
    pub fn start_with(cluster: &Cluster, extra: &[&str]) -> ApiServer {
        let dir = cluster.dir.path();
        let mut server = ApiServer::spawn(&cluster.kubeconfig, dir, "server", extra, &[]);
        server.login_admin(&admin_password(|args| cluster.kubectl(args)));
        server
    }

    /// `fjord server --addr 127.0.0.1:0` on `kubeconfig` with `extra` flags and `env`, its log
    /// `<dir>/<name>.log` and its cache `<dir>/<name>-cache`; returns once it printed its URL.
    pub fn spawn(
        kubeconfig: &Path,
        dir: &Path,
        name: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> ApiServer {
        let log = dir.join(format!("{name}.log"));
        let mut cmd = Command::new(FJORD);
        cmd.arg("server")
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(["--addr", "127.0.0.1:0", "--cache-dir"])
            .arg(dir.join(format!("{name}-cache")))
            .args(extra)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap());
        let mut proc = Proc::spawn_or_panic(&mut cmd, "fjord server");
        let out = proc.child_mut().stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(90))
            .unwrap_or_else(|_| {
                panic!(
                    "fjord server printed no URL: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            });
        let url = line
            .strip_prefix("fjord server listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .trim_end_matches('/')
            .to_string();
        ApiServer {
            proc: Some(proc),
            url,
            log,
            token: None,
        }
    }

    /// The server at `url` that another process runs (`fjord up`), `log` its log.
    pub fn attach(url: &str, log: &Path) -> ApiServer {
        ApiServer {
            proc: None,
            url: url.trim_end_matches('/').to_string(),
            log: log.to_path_buf(),
            token: None,
        }
    }

    /// Logs in as the admin with `password`: a 200 with a token and the `argocd.token` cookie,
    /// which later requests send.
    pub fn login_admin(&mut self, password: &str) {
        let body = json!({"username": "admin", "password": password}).to_string();
        let a = self.send(
            "POST",
            "/api/v1/session",
            &["Content-Type: application/json"],
            Some(body.as_bytes()),
        );
        assert_eq!(a.code, 200, "login: {}\n{}", a.body, self.log_text());
        let has_cookie = a.head.lines().any(|l| {
            l.to_ascii_lowercase().starts_with("set-cookie:") && l.contains("argocd.token=")
        });
        assert!(has_cookie, "no argocd.token cookie in the login answer");
        let token = serde_json::from_str::<Value>(&a.body).unwrap()["token"]
            .as_str()
            .expect("a session token")
            .to_string();
        self.token = Some(token);
    }

    /// The admin's session token; panics before the login.
    pub fn token(&self) -> &str {
        self.token.as_deref().expect("logged in")
    }

    /// The server process's id.
    pub fn pid(&self) -> u32 {
        self.proc.as_ref().expect("a server this test started").id()
    }

    /// Everything the server logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// One request with curl, `headers` as `Name: value`, `body` sent as given.
    pub fn send(&self, method: &str, path: &str, headers: &[&str], body: Option<&[u8]>) -> Answer {
        let mut cmd = Command::new("curl");
        cmd.args([
            "-sS",
            "-i",
            "--max-time",
            "30",
            "-X",
            method,
            "-H",
            "Expect:",
        ]);
        if self.url.starts_with("https:") {
            // The test's certificates are self-signed.
            cmd.arg("-k");
        }
        for h in headers {
            cmd.args(["-H", h]);
        }
        if body.is_some() {
            cmd.args(["--data-binary", "@-"]);
        }
        cmd.arg(format!("{}{path}", self.url))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        let mut child = cmd.spawn().expect("run curl");
        let mut stdin = child.stdin.take().unwrap();
        let data = body.unwrap_or_default().to_vec();
        let writer = std::thread::spawn(move || stdin.write_all(&data));
        let out = child.wait_with_output().expect("curl's output");
        let _ = writer.join();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let code = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        Answer {
            code,
            head: head.to_string(),
            body: body.to_string(),
        }
    }

    /// A request sent `auth` (a header, or none): (status, body). Writes carry a JSON content
    /// type and a body (empty when `None`).
    fn call_with(
        &self,
        auth: Option<&str>,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> (u16, String) {
        let mut headers: Vec<&str> = auth.into_iter().collect();
        let body = (method != "GET").then(|| body.unwrap_or_default());
        if body.is_some() {
            headers.push("Content-Type: application/json");
        }
        let a = self.send(method, path, &headers, body.map(str::as_bytes));
        (a.code, a.body)
    }

    /// A request as the admin (the session cookie): (status, body).
    pub fn call(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        let cookie = format!("Cookie: argocd.token={}", self.token());
        self.call_with(Some(&cookie), method, path, body)
    }

    /// A request without a session: (status, body).
    pub fn call_anonymous(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        self.call_with(None, method, path, body)
    }

    /// A request with `Authorization: Bearer <token>`: (status, body).
    pub fn call_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> (u16, String) {
        let bearer = format!("Authorization: Bearer {token}");
        self.call_with(Some(&bearer), method, path, body)
    }

    /// GET `path` as the admin, expecting `want`; the body.
    pub fn get_text(&self, path: &str, want: u16) -> String {
        let (code, body) = self.call("GET", path, None);
        assert_eq!(
            code,
            want,
            "GET {path}: {body}\nserver log: {}",
            self.log_text()
        );
        body
    }

    /// GET `path` as the admin, expecting `want`; the body as JSON (`Null` when not JSON).
    pub fn get(&self, path: &str, want: u16) -> Value {
        serde_json::from_str(&self.get_text(path, want)).unwrap_or(Value::Null)
    }

    /// An SSE stream of `path` as the admin.
    pub fn stream(&self, path: &str) -> Stream {
        let cookie = format!("Cookie: argocd.token={}", self.token());
        self.stream_with(Some(&cookie), path)
    }

    /// An SSE stream of `path` sent `header` (or none).
    pub fn stream_with(&self, header: Option<&str>, path: &str) -> Stream {
        let mut cmd = Command::new("curl");
        cmd.args(["-sSN", "--max-time", "120"]);
        if let Some(h) = header {
            cmd.args(["-H", h]);
        }
        cmd.arg(format!("{}{path}", self.url))
            .stdout(Stdio::piped());
        let mut proc = Proc::spawn_or_panic(&mut cmd, "curl");
        let out = proc.child_mut().stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(data) = line.strip_prefix("data: ") {
                    let _ = tx.send(data.to_string());
                }
            }
        });
        Stream { _proc: proc, rx }
    }
}

/// A running SSE request (`curl -N`): its `data:` frames.
pub struct Stream {
    _proc: Proc,
    rx: mpsc::Receiver<String>,
}

impl Stream {
    /// The next frame as sent, or `None` after `timeout`.
    pub fn recv(&self, timeout: Duration) -> Option<String> {
        self.rx.recv_timeout(timeout).ok()
    }

    /// The next frame as JSON (`Null` when not JSON); panics after 30 s.
    pub fn next_value(&self) -> Value {
        let data = self
            .recv(Duration::from_secs(30))
            .expect("an event on the stream within 30 s");
        serde_json::from_str(&data).unwrap_or(Value::Null)
    }

    /// The next event of an application stream: (type, app name).
    pub fn next(&self) -> (String, String) {
        let v = self.next_value();
        (
            s(&v, "/result/type").to_string(),
            s(&v, "/result/application/metadata/name").to_string(),
        )
    }
}

/// The initial admin password from Secret `argocd-initial-admin-secret`, once the server wrote
/// it; `kubectl` runs kubectl with the cluster's kubeconfig. Never printed.
pub fn admin_password(kubectl: impl Fn(&[&str]) -> Output) -> String {
    let args = [
        "-n",
        NS,
        "get",
        "secret",
        "argocd-initial-admin-secret",
        "-o",
        "jsonpath={.data.password}",
    ];
    let b64 = poll("the admin password Secret", CONVERGE, String::new, || {
        let o = kubectl(&args);
        let v = String::from_utf8_lossy(&o.stdout).trim().to_string();
        (o.status.success() && !v.is_empty()).then_some(v)
    });
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64 in the Secret");
    String::from_utf8(bytes).expect("a UTF-8 password")
}
