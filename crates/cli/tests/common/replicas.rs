//! Helpers of the suites that run several `fjord controller --leader-elect` replicas
//! (leader election, sharding): replica start, `/metrics` scrapes, replica logs, and a fleet of
//! one-ConfigMap Applications served by a git daemon.

use super::{application, s, Cluster, Controller, GitRepo, NS};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The tests of a file that time failovers and hand-offs of several replicas run one at a
/// time, so that one test's replicas do not starve the other's of CPU.
pub fn timed_test() -> std::sync::MutexGuard<'static, ()> {
    static TIMED: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TIMED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One `fjord controller --leader-elect` replica.
pub struct Replica {
    /// Its `--identity`.
    pub identity: String,
    /// The running controller.
    pub ctrl: Controller,
}

impl Replica {
    /// Starts a replica named `identity` with its own cache and addresses, `--resync 3s`, the
    /// flags `extra`, its stderr into the file `log` of the cluster's folder.
    pub fn start<S: AsRef<OsStr>>(
        cluster: &Cluster,
        identity: &str,
        log: &str,
        extra: &[S],
    ) -> Replica {
        let dir = cluster.dir.path();
        let mut cmd = Controller::command(cluster);
        cmd.args(["--sealed-secrets-addr", "127.0.0.1:0"])
            .arg("--cache-dir")
            .arg(dir.join(format!("cache-{identity}")))
            .args(["--resync", "3s", "--leader-elect", "--identity", identity])
            .args(extra);
        let ctrl = Controller::spawn(cmd, &dir.join(log));
        Replica {
            identity: identity.to_string(),
            ctrl,
        }
    }
}

/// `GET /metrics` of a replica; `None` when it does not answer (killed).
pub fn scrape(addr: SocketAddr) -> Option<String> {
    let mut conn = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let req = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    conn.write_all(req.as_bytes()).ok()?;
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).ok()?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let mut body = raw[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        body = fjord_testkit::http::dechunk(&body);
    }
    head.starts_with("http/1.1 200")
        .then(|| String::from_utf8_lossy(&body).into_owned())
}

/// The samples of `metric` in a Prometheus text page: (labels, value).
pub fn samples(page: &str, metric: &str) -> Vec<(HashMap<String, String>, f64)> {
    let mut out = Vec::new();
    for line in page.lines().filter(|l| !l.starts_with('#')) {
        let Some(rest) = line.strip_prefix(metric) else {
            continue;
        };
        let (labels, value) = match rest.strip_prefix('{') {
            Some(r) => match r.split_once('}') {
                Some((l, v)) => (l, v),
                None => continue,
            },
            None if rest.starts_with(' ') => ("", rest),
            None => continue,
        };
        let Ok(value) = value.trim().parse::<f64>() else {
            continue;
        };
        let labels = labels
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
            .collect();
        out.push((labels, value));
    }
    out
}

/// The last lines of every replica's log.
pub fn logs(replicas: &[Replica]) -> String {
    let mut out = String::new();
    for r in replicas {
        let text = r.ctrl.log_text();
        let lines: Vec<&str> = text.lines().collect();
        out += &format!("--- {} (last 20 lines)\n", r.identity);
        for l in &lines[lines.len().saturating_sub(20)..] {
            out += l;
            out.push('\n');
        }
    }
    out
}

/// Writes the ConfigMap `configmap(i)` of every app `i` below `n` into the working copy.
pub fn write_round(repo: &GitRepo, n: usize, configmap: impl Fn(usize) -> String) {
    for i in 0..n {
        repo.write(&format!("apps/app-{i:03}/cm.yaml"), &configmap(i));
    }
}

/// The repository of `n` apps (ConfigMaps `configmap(i)`, committed as round 0) and its git
/// daemon; returns also the URL.
pub fn repo_with_apps(
    n: usize,
    configmap: impl Fn(usize) -> String,
) -> (GitRepo, fjord_testkit::process::Server, String) {
    let repo = GitRepo::empty("fleet.git");
    write_round(&repo, n, configmap);
    repo.commit_push("round 0");
    let daemon = super::git_daemon(&repo.root);
    let url = format!("git://127.0.0.1:{}/fleet.git", daemon.port);
    (repo, daemon, url)
}

/// Creates the `n` Applications in one `kubectl apply`; app `i` deploys into the namespace
/// `{ns_prefix}{i % 10}`.
pub fn create_apps(cluster: &Cluster, n: usize, url: &str, ns_prefix: &str) {
    let items: Vec<Value> = (0..n)
        .map(|i| {
            application(
                &format!("app-{i:03}"),
                url,
                &format!("apps/app-{i:03}"),
                &format!("{ns_prefix}{}", i % 10),
                Some(json!({"prune": true, "selfHeal": true})),
            )
        })
        .collect();
    cluster.apply_json(&json!({"apiVersion": "v1", "kind": "List", "items": items}));
}

/// All Applications, by name.
pub fn apps(cluster: &Cluster) -> BTreeMap<String, Value> {
    let list = cluster.get_json(&["applications", "-n", NS]);
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| (s(a, "/metadata/name").to_string(), a.clone()))
        .collect()
}

/// Whether an app is Synced and Healthy at `rev`, no operation pending or running.
pub fn converged(a: &Value, rev: &str) -> bool {
    s(a, "/status/sync/status") == "Synced"
        && s(a, "/status/health/status") == "Healthy"
        && s(a, "/status/sync/revision") == rev
        && a.get("operation").is_none()
        && s(a, "/status/operationState/phase") != "Running"
}

/// Waits until all `n` apps converged at `rev`, at most `limit`; returns how long that took.
pub fn wait_all(
    cluster: &Cluster,
    replicas: &[Replica],
    n: usize,
    rev: &str,
    limit: Duration,
) -> Duration {
    let start = Instant::now();
    loop {
        let all = apps(cluster);
        let done = all.values().filter(|a| converged(a, rev)).count();
        if all.len() == n && done == n {
            return start.elapsed();
        }
        if start.elapsed() > limit {
            let stuck: Vec<String> = all
                .iter()
                .filter(|(_, a)| !converged(a, rev))
                .take(5)
                .map(|(k, a)| format!("{k}: {}", a["status"]))
                .collect();
            panic!(
                "{done}/{n} apps converged at {rev} after {limit:?}; e.g.\n{}\n{}",
                stuck.join("\n"),
                logs(replicas)
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// How many apps have a sync at `rev` behind them (history entry of that revision).
pub fn synced_at(all: &BTreeMap<String, Value>, rev: &str) -> usize {
    all.values()
        .filter(|a| super::history_revisions(a).iter().any(|r| r == rev))
        .count()
}

/// Waits, at most `limit`, until at least one app has synced `rev` (the syncs are under way);
/// returns how many.
pub fn poll_synced(cluster: &Cluster, replicas: &[Replica], rev: &str, limit: Duration) -> usize {
    let start = Instant::now();
    loop {
        let n = synced_at(&apps(cluster), rev);
        if n > 0 {
            return n;
        }
        assert!(
            start.elapsed() < limit,
            "no app synced {rev}\n{}",
            logs(replicas)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Asserts that the history `h` of app `name` has unique ids and revisions and that each
/// deploy started after the previous one finished (no two syncs at once).
pub fn assert_history_apart(name: &str, h: &[Value]) {
    let ids: BTreeSet<i64> = h.iter().filter_map(|e| e["id"].as_i64()).collect();
    assert_eq!(ids.len(), h.len(), "{name}: history ids repeat: {h:#?}");
    let revs: BTreeSet<&str> = h.iter().map(|e| s(e, "/revision")).collect();
    assert_eq!(
        revs.len(),
        h.len(),
        "{name}: a revision synced twice: {h:#?}"
    );
    for w in h.windows(2) {
        // RFC 3339 UTC times of one format compare as strings.
        assert!(
            s(&w[1], "/deployStartedAt") >= s(&w[0], "/deployedAt"),
            "{name}: two syncs overlap: {w:#?}"
        );
    }
}
