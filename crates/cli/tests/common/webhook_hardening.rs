//! Helpers of the webhook-hardening and start-up fault tests: a local cluster started with
//! extra flags (fault injection), raw idle TCP connections and their state, GitHub signatures
//! and form encoding.

use super::{poll, Cluster, Proc, FJORD};
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

/// `fjord local-cluster` with `extra` flags (`--fault-rule …`).
pub fn cluster_with(extra: &[&str]) -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("cluster");
    let log = std::fs::File::create(dir.path().join("cluster.log")).unwrap();
    let child = Command::new(FJORD)
        .args(["local-cluster", "--in-memory", "--sim-delay-ms", "50"])
        .args(["--addr", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn fjord local-cluster");
    let mut proc = Proc(child);
    let kubeconfig = data.join("kubeconfig");
    poll(
        "the local cluster's kubeconfig",
        Duration::from_secs(30),
        String::new,
        || {
            if let Ok(Some(st)) = proc.0.try_wait() {
                panic!("fjord local-cluster exited: {st}");
            }
            let t = std::fs::read_to_string(&kubeconfig).unwrap_or_default();
            t.contains("preferences:").then_some(())
        },
    );
    Cluster {
        proc,
        dir,
        kubeconfig,
    }
}

/// Whether the server has closed `s` (EOF or reset), checked without waiting.
pub fn is_closed(s: &TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 512];
    let mut reader = s;
    let closed = loop {
        match reader.read(&mut buf) {
            Ok(0) => break true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break false,
            Err(_) => break true,
        }
    };
    s.set_nonblocking(false).unwrap();
    closed
}

/// Opens `n` TCP connections to `addr`.
pub fn open_connections(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|i| TcpStream::connect(addr).unwrap_or_else(|e| panic!("connection {i}: {e}")))
        .collect()
}

/// GitHub's `X-Hub-Signature-256` of `body`.
pub fn github_signature(secret: &str, body: &[u8]) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A form-encoded GitHub delivery body: `payload=<urlencoded JSON>`.
pub fn github_form(json: &[u8]) -> Vec<u8> {
    let mut out = b"payload=".to_vec();
    for &b in json {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => out.push(b),
            b' ' => out.push(b'+'),
            _ => out.extend(format!("%{b:02X}").bytes()),
        }
    }
    out
}
