//! Test support: fixture repositories made with the `git` binary, and real servers (git daemon,
//! git http-backend behind a small HTTP/1.1 CGI bridge, OpenSSH sshd) on free loopback ports.

#![allow(dead_code)]

pub mod http;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Checks that a program the test needs can be run. A missing one fails the test, naming the
/// program and why it is needed: `scripts/test.sh` installs every tool the tests use, so a
/// missing tool is a broken machine, never a reason to pass.
pub fn require(program: &str, why: &str) {
    let ok = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
        || Path::new(program).exists();
    assert!(
        ok,
        "`{program}` is not installed; {why} (scripts/test.sh installs it)"
    );
}

/// Runs git in `dir` with a fixed identity and dates; panics with its stderr on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "tag.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A fixture: a working repository `work` pushing to a bare `served/<name>.git`.
pub struct Fixture {
    pub tmp: tempfile::TempDir,
    pub work: PathBuf,
    pub served_root: PathBuf,
    pub bare: PathBuf,
}

impl Fixture {
    /// Creates the fixture with two commits on `main`, a `dev` branch, a lightweight tag
    /// `light` and an annotated tag `v1.0.0`.
    pub fn new(name: &str) -> Fixture {
        let tmp = tempfile::tempdir().expect("tempdir");
        let work = tmp.path().join("work");
        let served_root = tmp.path().join("served");
        let bare = served_root.join(format!("{name}.git"));
        std::fs::create_dir_all(&work).unwrap();
        std::fs::create_dir_all(&served_root).unwrap();
        git(
            tmp.path(),
            &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()],
        );
        git(&work, &["init", "-q", "-b", "main"]);
        let f = Fixture {
            tmp,
            work,
            served_root,
            bare,
        };
        f.write(
            "apps/guestbook/kustomization.yaml",
            "resources:\n- deploy.yaml\n",
        );
        f.write("apps/guestbook/deploy.yaml", "kind: Deployment\n");
        f.write("apps/base/common.yaml", "kind: ConfigMap\n");
        f.write("README.md", "hello\n");
        f.commit("initial");
        f.write(
            "apps/guestbook/deploy.yaml",
            "kind: Deployment\nreplicas: 2\n",
        );
        f.commit("second");
        git(&f.work, &["tag", "light"]);
        git(&f.work, &["tag", "-a", "v1.0.0", "-m", "release 1.0.0"]);
        git(&f.work, &["checkout", "-q", "-b", "dev"]);
        f.write("apps/guestbook/dev-only.yaml", "kind: Secret\n");
        f.commit("dev work");
        git(&f.work, &["checkout", "-q", "main"]);
        f.push();
        f
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.work.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// Commits everything and returns the new commit id.
    pub fn commit(&self, msg: &str) -> String {
        git(&self.work, &["add", "-A"]);
        git(&self.work, &["commit", "-q", "-m", msg]);
        self.head()
    }

    pub fn head(&self) -> String {
        git(&self.work, &["rev-parse", "HEAD"])
    }

    pub fn rev(&self, rev: &str) -> String {
        git(&self.work, &["rev-parse", &format!("{rev}^{{commit}}")])
    }

    pub fn push(&self) {
        let bare = self.bare.to_str().unwrap();
        git(&self.work, &["push", "-q", "--force", bare, "--all"]);
        git(&self.work, &["push", "-q", "--force", bare, "--tags"]);
    }
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something listens on `port`.
pub fn wait_for_port(port: u16, child: &mut Child, what: &str) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(15) {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not listen on port {port}");
}

/// A child process killed on drop.
pub struct Server {
    pub child: Child,
    pub port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `git daemon` exporting every repository under `base`. The daemon binary is started itself,
/// not through the `git` wrapper: killing the wrapper would leave its `git-daemon` child running.
pub fn git_daemon(base: &Path) -> Server {
    let port = free_port();
    let exec_path = Command::new("git")
        .arg("--exec-path")
        .output()
        .expect("git --exec-path");
    let exec_path = String::from_utf8(exec_path.stdout).expect("utf-8 exec path");
    let daemon = Path::new(exec_path.trim()).join("git-daemon");
    let mut child = Command::new(&daemon)
        .args([
            "--export-all",
            "--reuseaddr",
            "--listen=127.0.0.1",
            &format!("--port={port}"),
            &format!("--base-path={}", base.display()),
            base.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn git daemon");
    wait_for_port(port, &mut child, "git daemon");
    Server { child, port }
}

/// Generates an ed25519 key pair at `path` / `path.pub`.
pub fn keygen(path: &Path) {
    let st = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "test",
            "-f",
            path.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .status()
        .expect("ssh-keygen");
    assert!(st.success(), "ssh-keygen failed");
}

/// An sshd on a free port with a fresh host key; `authorized` is the client public key.
pub fn sshd(dir: &Path, authorized_pub: &str) -> Server {
    let host_key = dir.join("ssh_host_ed25519_key");
    keygen(&host_key);
    std::fs::write(dir.join("authorized_keys"), authorized_pub).unwrap();
    // sshd insists on its privilege-separation directory.
    let _ = std::fs::create_dir_all("/run/sshd");
    let port = free_port();
    let config = dir.join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\nAuthorizedKeysFile {}\n\
             StrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nUsePAM no\n\
             LogLevel ERROR\n",
            host_key.display(),
            dir.join("sshd.pid").display(),
            dir.join("authorized_keys").display()
        ),
    )
    .unwrap();
    let mut child = Command::new("/usr/sbin/sshd")
        .args(["-D", "-e", "-f", config.to_str().unwrap()])
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn sshd");
    wait_for_port(port, &mut child, "sshd");
    Server { child, port }
}

/// The current user's name (the SSH login for the test server).
pub fn whoami() -> String {
    let out = Command::new("id").arg("-un").output().expect("id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
