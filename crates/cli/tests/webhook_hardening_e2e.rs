//! The controller's webhook server under hostile clients, and start-up under API faults,
//! through the real binaries: `fjord local-cluster` (with targeted fault injection),
//! `fjord controller`, a real Git HTTP server and raw TCP clients.
//!
//! - 2,000 idle and half-open connections are closed by the server's timeouts while a real
//!   delivery and a metrics scrape still succeed; headers trickled slowly are cut.
//! - A flood of unauthenticated deliveries produces a bounded number of log lines whose counts
//!   add up to the flood.
//! - GitHub's form-encoded deliveries (`payload=<urlencoded JSON>`, signed over the raw body)
//!   refresh the app; a bad signature is refused with 401.
//! - 429/504 answers while the first sealing key and the default AppProject are stored are
//!   retried: the controller keeps running and stores them.

mod common;

use common::sealed::sealing_keys_args;
use common::webhook_hardening::{github_form, github_signature, is_closed, open_connections};
use common::{application, configmap, poll, s, Cluster, Controller, GitRepo, CONVERGE, NS};
use fjord_testkit::require_tools;
use fjord_testkit::tools::{GIT, KUBECTL};
use serde_json::{json, Value};
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

const SECRET: &str = "hardening-webhook-secret";

/// A repository served over HTTP, an app on it synced, the GitHub webhook secret set.
struct Setup {
    cluster: Cluster,
    controller: Controller,
    repo: GitRepo,
    server: fjord_testkit::http_backend::HttpBackend,
    first: String,
}

impl Setup {
    fn start(flags: &[&str]) -> Setup {
        let repo = GitRepo::new(
            "hooked.git",
            &[("app/settings.yaml", configmap("settings", "color", "blue"))],
        );
        let server = fjord_testkit::http_backend::serve(&repo.root, None);
        let cluster = Cluster::start();
        // Polling every ten minutes: only a webhook brings a change in.
        let controller = Controller::start_with(&cluster, "10m", flags);
        cluster.apply_json(&json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "argocd-secret", "namespace": NS,
                "labels": {"app.kubernetes.io/part-of": "argocd"}},
            "stringData": {"webhook.github.secret": SECRET},
        }));
        let url = format!("http://127.0.0.1:{}/hooked.git", server.port);
        cluster.apply_json(&application(
            "hooked",
            &url,
            "app",
            "hooked",
            Some(json!({"prune": true, "selfHeal": false})),
        ));
        let first = repo.head();
        let setup = Setup {
            cluster,
            controller,
            repo,
            server,
            first,
        };
        setup.wait_revision(&setup.first.clone());
        setup
    }

    fn wait_revision(&self, rev: &str) {
        poll(
            &format!("app hooked Synced at {rev}"),
            CONVERGE,
            || self.controller.log_text(),
            || {
                let app = self.cluster.get("application", NS, "hooked")?;
                (s(&app, "/status/sync/status") == "Synced"
                    && s(&app, "/status/sync/revision") == rev)
                    .then_some(())
            },
        );
    }

    /// A new commit and its GitHub push payload (JSON).
    fn push_commit(&self, color: &str) -> (String, Vec<u8>) {
        self.repo
            .write("app/settings.yaml", &configmap("settings", "color", color));
        let rev = self.repo.commit_push(color);
        let body = json!({
            "ref": "refs/heads/main",
            "before": self.first,
            "after": rev,
            "repository": {
                "name": "hooked",
                "html_url": format!("http://127.0.0.1:{}/hooked", self.server.port),
                "clone_url": format!("http://127.0.0.1:{}/hooked.git", self.server.port),
                "default_branch": "main",
            },
            "commits": [{"id": rev, "added": [], "removed": [], "modified": ["app/settings.yaml"]}],
        });
        (rev, body.to_string().into_bytes())
    }

    fn deliver(&self, content_type: &str, sig: &str, body: &[u8]) -> (u16, String) {
        common::http(
            self.controller.webhook,
            "POST",
            "/api/webhook",
            &[
                ("Content-Type", content_type),
                ("X-GitHub-Event", "push"),
                ("X-Hub-Signature-256", sig),
            ],
            body,
        )
    }

    /// Waits until the webhook secret applied at start is enforced.
    fn wait_secret_enforced(&self) {
        let probe = br#"{"ref":"refs/heads/none","repository":{"html_url":"http://x/y"}}"#;
        poll(
            "the webhook secret to be enforced",
            CONVERGE,
            || self.controller.log_text(),
            || {
                let sig = github_signature("wrong", probe);
                (self.deliver("application/json", &sig, probe).0 == 401).then_some(())
            },
        );
    }
}

#[test]
fn idle_half_open_and_slow_connections_are_closed_while_deliveries_succeed() {
    require_tools!(GIT, KUBECTL);
    let setup = Setup::start(&[
        "--webhook-read-header-timeout",
        "3s",
        "--webhook-idle-timeout",
        "6s",
        "--webhook-max-connections",
        "256",
    ]);
    let addr = setup.controller.webhook;
    setup.wait_secret_enforced();
    // 2,000 connections: half send nothing, half a partial request head (half-open).
    let opened = Instant::now();
    let mut conns = open_connections(addr, 2000);
    for mut c in conns.iter().skip(1000) {
        let _ = c.write_all(b"POST /api/webhook HTTP/1.1\r\nHost: x\r\n");
    }
    // The newest ones are held open (no instant refusal).
    std::thread::sleep(Duration::from_millis(300));
    let open_now = conns[1950..].iter().filter(|c| !is_closed(c)).count();
    assert!(
        open_now >= 40,
        "only {open_now} of the newest 50 still open"
    );
    // Slowloris: one header byte every 400 ms would take 20 s to finish the head.
    let mut slow = TcpStream::connect(addr).unwrap();
    let slow_started = Instant::now();
    let trickler = std::thread::spawn(move || {
        let head = b"POST /api/webhook HTTP/1.1\r\nHost: slow\r\nX-Padding: aaaaaaaaaa\r\n\r\n";
        for b in head {
            if slow.write_all(&[*b]).is_err() {
                return (true, slow_started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(400));
        }
        (false, slow_started.elapsed())
    });
    // While all of that is open, a real delivery is served and the app reaches the commit.
    let (rev, body) = setup.push_commit("green");
    let (code, reply) = setup.deliver("application/json", &github_signature(SECRET, &body), &body);
    assert_eq!((code, reply.trim()), (200, "refreshed 1 application(s)"));
    setup.wait_revision(&rev);
    // Prometheus scrapes still work.
    let (code, metrics) = common::http(setup.controller.metrics, "GET", "/metrics", &[], b"");
    assert_eq!(code, 200);
    assert!(metrics.contains("argocd_app_info"), "{metrics}");
    // Every idle and half-open connection is closed by the server within the timeouts.
    // (3 s header timeout; the margin is for a loaded machine.)
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        conns.retain(|c| !is_closed(c));
        if conns.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} connections still open\n{}",
            conns.len(),
            setup.controller.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!(
        "2,000 idle connections closed {:?} after opening",
        opened.elapsed()
    );
    let (cut, after) = trickler.join().unwrap();
    assert!(cut, "the trickled head was served");
    assert!(
        after < Duration::from_secs(12),
        "slowloris cut only after {after:?}"
    );
    // The controller is still healthy.
    let (code, _) = common::http(setup.controller.metrics, "GET", "/healthz", &[], b"");
    assert_eq!(code, 200);
    setup.controller.assert_no_errors();
}

/// Sums the refused deliveries the controller's log accounts for, and counts its lines.
fn refused_in_log(log: &str) -> (u64, usize) {
    let mut total = 0;
    let mut lines = 0;
    for line in log.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let msg = s(&v, "/msg");
        if let Some(rest) = msg.strip_prefix("webhook requests refused: ") {
            lines += 1;
            total += rest.split(' ').next().unwrap().parse::<u64>().unwrap();
        } else if msg.starts_with("webhook refused:") {
            lines += 1;
            total += 1;
            if let Some(i) = msg.rfind(" (") {
                if let Some(n) = msg[i + 2..].split(' ').next() {
                    total += n.parse::<u64>().unwrap_or(0);
                }
            }
        }
    }
    (total, lines)
}

#[test]
fn form_encoded_github_push_refreshes_and_unauthenticated_floods_log_boundedly() {
    require_tools!(GIT, KUBECTL);
    let setup = Setup::start(&["--webhook-log-interval", "2s"]);
    setup.wait_secret_enforced();
    // GitHub's form encoding, signed over the raw form body: the app reaches the commit.
    let (rev, json_body) = setup.push_commit("green");
    let form = github_form(&json_body);
    const FORM: &str = "application/x-www-form-urlencoded";
    // Signed over the decoded JSON (not what GitHub signs) or with the wrong secret: 401.
    let (code, _) = setup.deliver(FORM, &github_signature(SECRET, &json_body), &form);
    assert_eq!(code, 401);
    let (code, _) = setup.deliver(FORM, &github_signature("wrong", &form), &form);
    assert_eq!(code, 401);
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(
        s(
            &setup.cluster.get("application", NS, "hooked").unwrap(),
            "/status/sync/revision"
        ),
        setup.first
    );
    let (code, reply) = setup.deliver(FORM, &github_signature(SECRET, &form), &form);
    assert_eq!((code, reply.trim()), (200, "refreshed 1 application(s)"));
    setup.wait_revision(&rev);
    assert_eq!(
        setup
            .cluster
            .get("configmap", "hooked", "settings")
            .unwrap()["data"]["color"],
        "green"
    );

    // A flood of 300 unauthenticated deliveries: a bounded number of log lines, whose counts
    // add up to every refusal: the flood, the two above and the probe that found the secret
    // enforced (its earlier probes were accepted).
    let expected = 300 + 2 + 1;
    let flood_start = Instant::now();
    for i in 0..300 {
        let body = format!("{{\"n\": {i}}}");
        let (code, _) = setup.deliver(
            "application/json",
            &github_signature("attacker", body.as_bytes()),
            body.as_bytes(),
        );
        assert_eq!(code, 401);
    }
    let flood = flood_start.elapsed();
    let (total, lines) = poll(
        "the refusals to be accounted for in the log",
        Duration::from_secs(20),
        || setup.controller.log_text(),
        || {
            let (total, lines) = refused_in_log(&setup.controller.log_text());
            (total >= expected).then_some((total, lines))
        },
    );
    let elapsed = flood_start.elapsed();
    assert_eq!(total, expected, "{}", setup.controller.log_text());
    // The first, then at most one per 2 s interval (plus the flush after the flood), for the
    // whole run since the controller started.
    let bound = 4 + (elapsed.as_secs() / 2) as usize + 20;
    assert!(
        lines <= bound,
        "{lines} log lines for {total} refusals (flood took {flood:?}):\n{}",
        setup.controller.log_text()
    );
    assert!(lines < 40, "{lines} lines for 300 refusals");
    setup.controller.assert_no_errors();
}

#[test]
fn local_api_transient_api_errors_while_storing_the_first_key_and_default_project_are_retried() {
    // Local only: fault rules are a flag of `fjord local-cluster`.
    // The first 4 creates of a Secret (the sealing key) and the first 8 of an AppProject (more
    // than the client's own 6 attempts) answer 429 or 504.
    let cluster = Cluster::start_with(&[
        "--fault-rule",
        "create:secrets:429,504:4",
        "--fault-rule",
        "create:appprojects:504,429:8",
    ]);
    let controller = Controller::start_with(&cluster, "10m", &[]);
    let log = controller.log_text();
    assert!(
        log.contains("storing the new sealing key: transient API error (attempt 1)")
            && log.contains("storing the new sealing key: transient API error (attempt 4)"),
        "{log}"
    );
    assert!(
        log.contains("installing CRDs and the default AppProject: transient API error (attempt 1)"),
        "{log}"
    );
    assert!(log.contains("sealed secrets controller running"), "{log}");
    // The key is stored once, and served.
    let keys: Value =
        serde_json::from_str(&cluster.kubectl_ok(&sealing_keys_args("json"))).unwrap();
    assert_eq!(keys["items"].as_array().map(Vec::len), Some(1), "{keys}");
    assert!(cluster.exists("appproject", NS, "default"));
    let line = log
        .lines()
        .find(|l| l.starts_with("sealed secrets controller running"))
        .unwrap();
    let rest = &line[line.find("http://").unwrap() + 7..];
    let addr: std::net::SocketAddr = rest[..rest.find('/').unwrap()].parse().unwrap();
    let (code, cert) = common::http(addr, "GET", "/v1/cert.pem", &[], b"");
    assert_eq!(code, 200);
    assert!(cert.contains("BEGIN CERTIFICATE"), "{cert}");
    // Still running, and no secret value in the log.
    std::thread::sleep(Duration::from_millis(500));
    let (code, _) = common::http(controller.metrics, "GET", "/healthz", &[], b"");
    assert_eq!(code, 200);
    assert!(!controller.log_text().contains("PRIVATE KEY"));
    controller.assert_no_errors();
}
