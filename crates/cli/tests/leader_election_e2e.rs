//! Leader election of `fjord controller --leader-elect`, end to end through the real binary:
//! three replicas share one Lease; the leader is `kill -9`ed while 200 Applications sync, ten
//! times (the killed replica comes back each time, so three stay). A new leader must show in
//! `fjord_controller_leader` within the lease duration plus the retry period, no app may be
//! synced twice at once (its history: unique ids and revisions, non-overlapping deploy
//! intervals), nothing may be pruned (every managed object keeps its uid) and every app ends
//! Synced and Healthy. One run keeps client-go's default timings (15 s / 10 s / 2 s); the ten
//! kills use short ones. Invalid flags are refused at start, naming the flag, changing nothing.
//!
//! The ten kills are named `real_api_*`: scripts/test.sh runs them in its real-control-plane
//! pass only (a bare `cargo test` runs them on whichever backend it is given).

mod common;

use common::replicas::{
    apps, assert_history_apart, create_apps, logs, poll_synced, repo_with_apps, samples, scrape,
    timed_test, wait_all, write_round, Replica,
};
use common::{s, Cluster, Controller, NS};
use fjord_testkit::require_tools;
use fjord_testkit::tools::{GIT, KUBECTL};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The number of Applications the failover runs sync.
const APPS: usize = 200;
/// The label every managed ConfigMap carries (to list them all at once).
const MANAGED: &str = "e2e.fjord.dev/managed";
/// How long 200 apps may take to converge after a kill (two shared cores, debug build).
const CONVERGE_ALL: Duration = Duration::from_secs(150);

/// Lease timings: flags and the bound a failover must meet.
struct Timings {
    lease: Duration,
    renew: Duration,
    retry: Duration,
}

impl Timings {
    /// client-go's defaults, which `--leader-elect` uses when no timing flag is given.
    const DEFAULTS: Timings = Timings {
        lease: Duration::from_secs(15),
        renew: Duration::from_secs(10),
        retry: Duration::from_secs(2),
    };
    /// Short timings for the ten kills (the test would last minutes otherwise).
    const SHORT: Timings = Timings {
        lease: Duration::from_secs(5),
        renew: Duration::from_secs(3),
        retry: Duration::from_secs(1),
    };

    /// The flags (none for the defaults: they must be the defaults).
    fn flags(&self) -> Vec<String> {
        if self.lease == Timings::DEFAULTS.lease {
            return Vec::new();
        }
        let secs = |d: Duration| format!("{}s", d.as_secs());
        vec![
            "--leader-elect-lease-duration".into(),
            secs(self.lease),
            "--leader-elect-renew-deadline".into(),
            secs(self.renew),
            "--leader-elect-retry-period".into(),
            secs(self.retry),
        ]
    }

    /// What a failover may take: the lease duration plus the retry period.
    fn bound(&self) -> Duration {
        self.lease + self.retry
    }
}

/// Starts a replica named `identity` with its own cache and addresses.
fn start_replica(cluster: &Cluster, identity: &str, t: &Timings) -> Replica {
    let log = format!("controller-{identity}.log");
    Replica::start(cluster, identity, &log, &t.flags())
}

/// Whether this replica's /metrics say it leads (`None`: no answer).
fn leads(r: &Replica) -> Option<bool> {
    let page = scrape(r.ctrl.metrics)?;
    let own = samples(&page, "fjord_controller_leader");
    assert!(
        !own.is_empty(),
        "{}: /metrics has no fjord_controller_leader",
        r.identity
    );
    Some(
        own.iter()
            .any(|(l, v)| *v == 1.0 && l.get("identity") == Some(&r.identity)),
    )
}

/// The identities whose metrics say they lead.
fn leaders(replicas: &[Replica]) -> Vec<String> {
    replicas
        .iter()
        .filter(|r| leads(r) == Some(true))
        .map(|r| r.identity.clone())
        .collect()
}

/// Waits until exactly one replica leads; returns its index.
fn one_leader(replicas: &[Replica], timeout: Duration) -> usize {
    let start = Instant::now();
    loop {
        let l = leaders(replicas);
        if l.len() == 1 {
            return replicas.iter().position(|r| r.identity == l[0]).unwrap();
        }
        assert!(l.len() < 2, "two leaders at once: {l:?}");
        if start.elapsed() > timeout {
            panic!("no leader after {timeout:?}\n{}", logs(replicas));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The ConfigMap of app `i` at `round`.
fn app_configmap(i: usize, round: usize) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i:03}\n  labels:\n    \
         {MANAGED}: \"yes\"\ndata:\n  round: \"{round}\"\n"
    )
}

/// The uids of the managed ConfigMaps, by namespace/name.
fn managed_uids(cluster: &Cluster) -> BTreeMap<String, (String, String)> {
    let sel = format!("{MANAGED}=yes");
    let list = cluster.get_json(&["configmaps", "-A", "-l", &sel]);
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| {
            (
                format!("{}/{}", s(o, "/metadata/namespace"), s(o, "/metadata/name")),
                (
                    s(o, "/metadata/uid").to_string(),
                    s(o, "/data/round").to_string(),
                ),
            )
        })
        .collect()
}

/// Asserts that no app was synced twice at once: per app, history ids and revisions are
/// unique and each deploy started after the previous one finished.
fn assert_no_double_syncs(all: &BTreeMap<String, Value>) {
    for (name, a) in all {
        let h = common::history(a);
        assert_history_apart(name, &h);
        for w in h.windows(2) {
            assert!(w[1]["id"].as_i64() > w[0]["id"].as_i64(), "{name}: {w:#?}");
        }
        for e in &h {
            assert!(
                s(e, "/deployedAt") >= s(e, "/deployStartedAt"),
                "{name}: {e}"
            );
        }
    }
}

/// Kills the leader (SIGKILL) once the first app synced `rev`, waits for the next leader and
/// restarts a replica in the killed one's place; returns the failover time and how many apps
/// had synced `rev` at the kill.
fn kill_leader_mid_sync(
    cluster: &Cluster,
    replicas: &mut Vec<Replica>,
    rev: &str,
    t: &Timings,
    round: usize,
) -> (Duration, usize) {
    let synced = poll_synced(cluster, replicas, rev, CONVERGE_ALL);
    let leader = one_leader(replicas, t.bound() * 2);
    let killed = replicas.remove(leader);
    let slot = killed.identity.split('-').next().unwrap_or("r").to_string();
    let at = Instant::now();
    drop(killed); // SIGKILL to its process group, then reaped
    let elapsed = loop {
        let l = leaders(replicas);
        assert!(l.len() < 2, "two leaders at once: {l:?}");
        if l.len() == 1 {
            break at.elapsed();
        }
        assert!(
            at.elapsed() < t.bound() * 3,
            "no new leader {:?} after the kill\n{}",
            at.elapsed(),
            logs(replicas)
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    replicas.push(start_replica(cluster, &format!("{slot}-{round}"), t));
    (elapsed, synced)
}

/// Min, median and max.
fn spread(v: &[Duration]) -> (Duration, Duration, Duration) {
    let mut v = v.to_vec();
    v.sort();
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

/// The failover scenario: `kills` kills of the leader, each while the apps sync a new revision.
fn failover(t: &Timings, n: usize, kills: usize) {
    let started = Instant::now();
    let (repo, _daemon, url) = repo_with_apps(n, |i| app_configmap(i, 0));
    let cluster = Cluster::start();
    // The install creates the controller's namespace, where the Leases live.
    cluster.kubectl_ok(&["create", "namespace", NS]);
    let mut replicas: Vec<Replica> = (0..3)
        .map(|i| start_replica(&cluster, &format!("r{i}-0"), t))
        .collect();
    one_leader(&replicas, t.bound() * 2);
    let mut uids = None;
    let mut times = Vec::new();
    let mut late = Vec::new();
    let mut rev = repo.head();
    for round in 1..=kills {
        if round == 1 {
            create_apps(&cluster, n, &url, "le-");
        } else {
            write_round(&repo, n, |i| app_configmap(i, round));
            rev = repo.commit_push(&format!("round {round}"));
        }
        let (took, synced) = kill_leader_mid_sync(&cluster, &mut replicas, &rev, t, round);
        let converge = wait_all(&cluster, &replicas, n, &rev, CONVERGE_ALL);
        eprintln!(
            "kill {round}: {synced}/{n} apps had synced when the leader was killed; new leader \
             after {took:?}; all converged {converge:?} after"
        );
        if took > t.bound() {
            late.push(format!("kill {round}: {took:?}"));
        }
        one_leader(&replicas, t.bound());
        times.push(took);
        let now = managed_uids(&cluster);
        assert_eq!(now.len(), n, "managed ConfigMaps: {now:?}");
        let want = if round == 1 { 0 } else { round };
        assert!(now.values().all(|(_, r)| *r == want.to_string()), "{now:?}");
        let uid_now: BTreeMap<&String, &String> = now.iter().map(|(k, (u, _))| (k, u)).collect();
        match &uids {
            None => uids = Some(now.clone()),
            Some(first) => {
                let uid_first: BTreeMap<&String, &String> =
                    first.iter().map(|(k, (u, _))| (k, u)).collect();
                assert_eq!(
                    uid_first, uid_now,
                    "a managed object was deleted and recreated"
                );
            }
        }
    }
    let all = apps(&cluster);
    assert_eq!(all.len(), n);
    assert_no_double_syncs(&all);
    for (name, a) in &all {
        assert_eq!(s(a, "/status/operationState/phase"), "Succeeded", "{name}");
    }
    let (min, median, max) = spread(&times);
    eprintln!(
        "failover ({kills} kills of the leader, lease {:?} renew {:?} retry {:?}, {n} apps): \
         min {min:?}, median {median:?}, max {max:?}; test took {:?}",
        t.lease,
        t.renew,
        t.retry,
        started.elapsed()
    );
    assert!(
        late.is_empty(),
        "new leaders later than lease + retry ({:?}): {late:?}",
        t.bound()
    );
}

#[test]
fn real_api_leader_killed_ten_times_while_200_apps_sync_fails_over_without_double_syncs() {
    let _one_at_a_time = timed_test();
    require_tools!(GIT, KUBECTL);
    failover(&Timings::SHORT, APPS, 10);
}

#[test]
fn leader_killed_with_default_lease_timings_fails_over_within_17s() {
    let _one_at_a_time = timed_test();
    require_tools!(GIT, KUBECTL);
    failover(&Timings::DEFAULTS, APPS, 2);
}

/// Runs `fjord controller` with `args`; it must exit within 30 s. Returns (status, stderr).
fn refused(cluster: &Cluster, args: &[&str]) -> (std::process::ExitStatus, String) {
    let log = cluster.dir.path().join("refused.log");
    let mut cmd = Controller::command(cluster);
    cmd.args(["--sealed-secrets-addr", "127.0.0.1:0"])
        .arg("--cache-dir")
        .arg(cluster.dir.path().join("cache"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut proc = fjord_testkit::Proc::spawn_or_panic(&mut cmd, "fjord controller");
    let start = Instant::now();
    let status = loop {
        if let Some(st) = proc.try_wait() {
            break st;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "fjord controller {args:?} still runs after 30 s: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    (status, std::fs::read_to_string(&log).unwrap_or_default())
}

/// What the controller would create at start: namespaces, CRDs, Leases.
fn footprint(cluster: &Cluster) -> String {
    let mut out = cluster.kubectl_ok(&["get", "namespaces", "-o", "name"]);
    out += &cluster.kubectl_ok(&["get", "customresourcedefinitions", "-o", "name"]);
    out += &cluster.kubectl_ok(&["get", "leases", "-A", "-o", "name"]);
    // The real control plane's own components renew their Leases: leave those out.
    out.lines()
        .filter(|l| !l.starts_with("lease") || l.contains("fjord"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn invalid_shard_and_lease_flags_are_refused_naming_the_flag() {
    require_tools!(KUBECTL);
    let help = common::fjord().run(&["controller", "--help"]);
    let help = common::text(&help);
    for flag in [
        "--leader-elect",
        "--leader-elect-lease-duration",
        "--leader-elect-renew-deadline",
        "--leader-elect-retry-period",
        "--identity",
        "--shards",
    ] {
        assert!(
            help.contains(flag),
            "controller --help lacks {flag}: {help}"
        );
    }
    let cluster = Cluster::start();
    let before = footprint(&cluster);
    let le = "--leader-elect";
    let cases: &[(&[&str], &[&str])] = &[
        (&["--shards", "0"], &["--shards"]),
        (&["--shards=-1"], &["--shards"]),
        (&["--shards", "many"], &["--shards"]),
        (
            &[
                le,
                "--leader-elect-lease-duration",
                "5s",
                "--leader-elect-renew-deadline",
                "10s",
            ],
            &[
                "--leader-elect-lease-duration",
                "--leader-elect-renew-deadline",
            ],
        ),
        (
            &[
                le,
                "--leader-elect-renew-deadline",
                "2s",
                "--leader-elect-retry-period",
                "2s",
            ],
            &[
                "--leader-elect-renew-deadline",
                "--leader-elect-retry-period",
            ],
        ),
        (
            &[le, "--leader-elect-lease-duration", "0s"],
            &["--leader-elect-lease-duration"],
        ),
    ];
    for (args, names) in cases {
        let (status, err) = refused(&cluster, args);
        assert!(!status.success(), "{args:?} was accepted: {err}");
        assert!(
            names.iter().any(|n| err.contains(n)),
            "{args:?}: the message names none of {names:?}: {err}"
        );
        assert!(
            !err.contains("fjord controller running"),
            "{args:?} started: {err}"
        );
        // Refused by the flag's own check, not as an unknown flag.
        assert!(
            !err.contains("unexpected argument"),
            "{args:?}: the flag is unknown: {err}"
        );
    }
    assert_eq!(
        footprint(&cluster),
        before,
        "a refused start changed the cluster"
    );
}
