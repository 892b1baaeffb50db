//! `fjord up` serves the API and the web UI in-process (`--server-addr`): it prints the UI's URL
//! and how to read the admin password (never the password), the URL answers (`/api/version`,
//! the UI's page, 401 on the API without a session), the admin logs in with the password of
//! Secret `argocd-initial-admin-secret` and sees the demo Application, and Ctrl-C stops it all.
//! A bad `--server-addr` is refused naming the flag.
//!
//! `fjord up` runs its own embedded cluster whatever the backend: the real pass skips these.

mod common;

use common::server::{admin_password, ApiServer};
use common::{poll, text, FJORD};
use fjord_testkit::require_tools;
use fjord_testkit::tools::{CURL, KUBECTL};
use fjord_testkit::Proc;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Whether this is the real pass (then the test says so and returns).
fn skipped() -> bool {
    if common::real() {
        eprintln!("SKIPPED: fjord up runs its own local cluster (the local pass runs this)");
    }
    common::real()
}

/// `fjord up` on free ports with `data` as its data directory, stdout and stderr to files.
fn spawn_up(data: &Path, out: &Path, err: &Path, server_addr: &str) -> Proc {
    let mut cmd = Command::new(FJORD);
    cmd.arg("up")
        .arg("--data-dir")
        .arg(data)
        .args(["--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0"])
        .args([
            "--webhook-addr",
            "127.0.0.1:0",
            "--server-addr",
            server_addr,
        ])
        .args(["--sealed-secrets-addr", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(out).unwrap())
        .stderr(std::fs::File::create(err).unwrap());
    Proc::spawn_or_panic(&mut cmd, "fjord up")
}

#[test]
fn up_serves_the_ui_and_the_admin_logs_in_with_the_initial_password() {
    require_tools!(KUBECTL, CURL);
    if skipped() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (data, out, err) = (
        dir.path().join("data"),
        dir.path().join("up.out"),
        dir.path().join("up.err"),
    );
    let mut up = spawn_up(&data, &out, &err, "127.0.0.1:0");
    let printed = || std::fs::read_to_string(&out).unwrap_or_default();
    let context = || {
        format!(
            "stdout:\n{}\nstderr:\n{}",
            printed(),
            std::fs::read_to_string(&err).unwrap_or_default()
        )
    };
    let started = Instant::now();
    let ui = poll(
        "fjord up to print the UI line",
        Duration::from_secs(120),
        context,
        || {
            if let Some(st) = up.try_wait() {
                panic!("fjord up exited: {st}\n{}", context());
            }
            printed()
                .lines()
                .find(|l| l.starts_with("UI: "))
                .map(str::to_string)
        },
    );
    eprintln!("UI line after {:?}: {ui}", started.elapsed());
    let url = ui.split_whitespace().nth(1).unwrap().to_string();
    assert!(ui.contains("user admin"), "{ui}");
    assert!(ui.contains("argocd-initial-admin-secret"), "{ui}");
    let addr: SocketAddr = url
        .strip_prefix("http://")
        .and_then(|u| u.strip_suffix('/'))
        .unwrap_or_else(|| panic!("not an http URL: {url}"))
        .parse()
        .unwrap();

    // The URL answers: the version without a session, the UI's page, the API asks for one.
    let mut server = ApiServer::attach(&url, &err);
    let (code, body) = server.call_anonymous("GET", "/api/version", None);
    assert_eq!(code, 200, "{body}");
    let version: Value = serde_json::from_str(&body).unwrap();
    assert!(!common::s(&version, "/Version").is_empty(), "{body}");
    let (code, page) = server.call_anonymous("GET", "/", None);
    assert_eq!(code, 200, "{page}");
    assert!(page.to_ascii_lowercase().contains("<html"), "{page}");
    let (code, body) = server.call_anonymous("GET", "/api/v1/applications", None);
    assert_eq!(code, 401, "{body}");

    // The admin password is the one of the Secret the line names; it is never printed.
    let kubeconfig = data.join("kubeconfig");
    let password = admin_password(|args| {
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(args)
            .output()
            .unwrap()
    });
    assert!(password.len() >= 8, "a short generated password");
    server.login_admin(&password);
    let apps = poll(
        "the demo Application in the API's list",
        Duration::from_secs(60),
        context,
        || {
            let (code, body) = server.call("GET", "/api/v1/applications", None);
            (code == 200 && body.contains("\"guestbook\"")).then_some(body)
        },
    );
    let apps: Value = serde_json::from_str(&apps).unwrap();
    assert!(apps["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["metadata"]["name"] == "guestbook"));

    // Once up reports the demo app, Ctrl-C (SIGINT) stops everything, the server too.
    poll(
        "fjord up's summary",
        Duration::from_secs(150),
        context,
        || {
            printed()
                .contains("guestbook is Synced and Healthy")
                .then_some(())
        },
    );
    let o = Command::new("kill")
        .args(["-INT", &up.id().to_string()])
        .output()
        .unwrap();
    assert!(o.status.success(), "kill -INT: {}", text(&o));
    let status = poll("fjord up to stop", Duration::from_secs(30), context, || {
        up.try_wait()
    });
    assert_eq!(status.code(), Some(0), "{}", context());
    assert!(
        std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err(),
        "the UI still answers after fjord up stopped"
    );
    let all = format!("{}{}", printed(), std::fs::read_to_string(&err).unwrap());
    assert!(!all.contains(&password), "the admin password was printed");
}

#[test]
fn a_bad_server_addr_is_refused_naming_the_flag() {
    if skipped() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for bad in ["nonsense", "127.0.0.1", "127.0.0.1:99999"] {
        let o = Command::new(FJORD)
            .args(["up", "--server-addr", bad, "--data-dir"])
            .arg(&data)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", text(&o));
        assert!(text(&o).contains("--server-addr"), "{bad}: {}", text(&o));
        assert!(!data.exists(), "{bad}: the data directory was created");
    }
    // An address in use: refused once the server cannot listen, naming the flag.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let mut up = spawn_up(&data, &out, &err, &format!("127.0.0.1:{port}"));
    let context = || std::fs::read_to_string(&err).unwrap_or_default();
    let status = poll(
        "fjord up to refuse",
        Duration::from_secs(60),
        context,
        || up.try_wait(),
    );
    assert_ne!(status.code(), Some(0));
    let msg = context();
    assert!(msg.contains("--server-addr"), "{msg}");
    assert!(msg.contains(&port.to_string()), "{msg}");
}
