//! Sharding of Applications over `fjord controller` replicas, end to end through the real
//! binary. Three replicas with `--shards auto` and 600 apps: the union of `fjord_app_shard`
//! over the three /metrics names every app exactly once and all apps sync. One replica is
//! `kill -9`ed while the apps sync a new commit: the survivors own its apps within 30 s and
//! fewer than 45% of all apps change owner; it comes back: the same holds. `--shards 3` with
//! four replicas: the standby takes over the killed replica's slot, nothing else moves.
//!
//! No app is reconciled by two replicas at once: a thread scrapes the replicas in a fixed
//! order, round after round, and an app seen owned by two replicas in two consecutive rounds
//! was owned by both at one instant (each second scrape of one falls between the two of the
//! other). The replicas' JSON logs name each completed sync (app, revision): no pair is
//! completed twice or by two replicas, and each app's history has unique ids and revisions
//! and non-overlapping deploys.
//!
//! The 600-app run is named `real_api_*`: scripts/test.sh runs it in its real-control-plane
//! pass only.

mod common;

use common::replicas::{
    apps, assert_history_apart, create_apps, logs, poll_synced, repo_with_apps, samples, scrape,
    timed_test, write_round, Replica,
};
use common::{s, Cluster, NS};
use fjord_testkit::require_tools;
use fjord_testkit::tools::{GIT, KUBECTL};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The apps of the `--shards auto` run.
const APPS: usize = 600;
/// How long the apps may take to converge (two shared cores, debug build).
const CONVERGE_ALL: Duration = Duration::from_secs(300);
/// How long a handoff may take (the bound).
const HANDOFF: Duration = Duration::from_secs(30);

/// Starts a replica `identity` with `--shards shards`, its own cache and addresses.
fn start_replica(cluster: &Cluster, identity: &str, shards: &str) -> Replica {
    let n = std::fs::read_dir(cluster.dir.path())
        .map(|d| d.count())
        .unwrap_or(0);
    let log = format!("controller-{identity}-{n}.log");
    Replica::start(cluster, identity, &log, &["--shards", shards])
}

/// The ConfigMap of app `i` at `round`.
fn configmap(i: usize, round: usize) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i:03}\ndata:\n  \
         round: \"{round}\"\n"
    )
}

/// Waits until all `n` apps converged at `rev`; returns how long that took.
fn wait_all(cluster: &Cluster, replicas: &[Replica], n: usize, rev: &str) -> Duration {
    common::replicas::wait_all(cluster, replicas, n, rev, CONVERGE_ALL)
}

/// Waits until at least one app has a sync of `rev` behind it.
fn wait_first_sync(cluster: &Cluster, replicas: &[Replica], rev: &str) {
    poll_synced(cluster, replicas, rev, CONVERGE_ALL);
}

/// What one replica's metrics say: the apps it owns (namespace/name → shard label) and the
/// member count it sees.
struct View {
    apps: BTreeMap<String, String>,
    members: Option<f64>,
}

/// The view of the replica at `addr` (`None`: it does not answer).
fn view(addr: SocketAddr) -> Option<View> {
    let page = scrape(addr)?;
    let apps = samples(&page, "fjord_app_shard")
        .into_iter()
        .filter(|(_, v)| *v == 1.0)
        .map(|(l, _)| {
            let key = format!("{}/{}", l["namespace"], l["name"]);
            (key, l.get("shard").cloned().unwrap_or_default())
        })
        .collect();
    let members = samples(&page, "fjord_controller_shard_members")
        .first()
        .map(|(_, v)| *v);
    Some(View { apps, members })
}

/// Owner of each app (identity), when every app is owned exactly once by the answering
/// replicas, every one of them sees `members` members, and all `n` apps are owned.
fn exact_owners(
    replicas: &[Replica],
    n: usize,
    members: usize,
) -> Option<BTreeMap<String, String>> {
    let mut owners = BTreeMap::new();
    for r in replicas {
        let v = view(r.ctrl.metrics)?;
        if v.members != Some(members as f64) {
            return None;
        }
        for app in v.apps.keys() {
            if owners.insert(app.clone(), r.identity.clone()).is_some() {
                return None;
            }
        }
    }
    (owners.len() == n).then_some(owners)
}

/// Waits until [`exact_owners`] holds and stays the same for two scrapes a second apart;
/// returns the owners and the time until they first held.
fn settled(
    replicas: &[Replica],
    n: usize,
    members: usize,
    timeout: Duration,
) -> (BTreeMap<String, String>, Duration) {
    let start = Instant::now();
    let mut first: Option<Duration> = None;
    let mut last: Option<BTreeMap<String, String>> = None;
    loop {
        let now = exact_owners(replicas, n, members);
        if now.is_some() && first.is_none() {
            first = Some(start.elapsed());
        }
        if now.is_none() {
            first = None;
        }
        if let (Some(a), Some(b)) = (&now, &last) {
            if a == b {
                return (a.clone(), first.unwrap_or_default());
            }
        }
        assert!(
            start.elapsed() < timeout + Duration::from_secs(10),
            "no exact ownership of {n} apps by {members} members after {:?}\n{}",
            start.elapsed(),
            logs(replicas)
        );
        last = now;
        std::thread::sleep(Duration::from_millis(if last.is_some() {
            1000
        } else {
            100
        }));
    }
}

/// The share of apps whose owner differs between `a` and `b`.
fn moved(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> f64 {
    let changed = a.iter().filter(|(k, v)| b.get(*k) != Some(v)).count();
    changed as f64 / a.len() as f64
}

/// Apps owned per identity.
fn loads(owners: &BTreeMap<String, String>) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for o in owners.values() {
        *out.entry(o.clone()).or_insert(0) += 1;
    }
    out
}

/// Scrapes the replicas in a fixed order, round after round, and records every app seen owned
/// by two replicas in two consecutive rounds.
struct Monitor {
    targets: Arc<Mutex<Vec<(String, SocketAddr)>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<(usize, Vec<String>)>>,
}

impl Monitor {
    fn start(replicas: &[Replica]) -> Monitor {
        let targets: Vec<(String, SocketAddr)> = replicas
            .iter()
            .map(|r| (r.identity.clone(), r.ctrl.metrics))
            .collect();
        let targets = Arc::new(Mutex::new(targets));
        let stop = Arc::new(AtomicBool::new(false));
        let (t, st) = (targets.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut rounds = 0;
            let mut doubles = Vec::new();
            let mut prev: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            while !st.load(Ordering::Relaxed) {
                let list = t.lock().unwrap().clone();
                let mut now: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
                for (id, addr) in list {
                    for app in view(addr).map(|v| v.apps).unwrap_or_default().into_keys() {
                        now.entry(app).or_default().insert(id.clone());
                    }
                }
                for (app, ids) in &now {
                    let both: BTreeSet<&String> = ids
                        .iter()
                        .filter(|i| prev.get(app).is_some_and(|p| p.contains(*i)))
                        .collect();
                    if both.len() > 1 {
                        doubles.push(format!("{app}: owned by {both:?} at once"));
                    }
                }
                prev = now;
                rounds += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            (rounds, doubles)
        });
        Monitor {
            targets,
            stop,
            thread: Some(thread),
        }
    }

    fn add(&self, r: &Replica) {
        self.targets
            .lock()
            .unwrap()
            .push((r.identity.clone(), r.ctrl.metrics));
    }

    /// Stops the thread; asserts no app was owned twice at once; returns the rounds scraped.
    fn finish(mut self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        let (rounds, doubles) = self.thread.take().unwrap().join().unwrap();
        assert!(
            doubles.is_empty(),
            "apps owned by two replicas at once:\n{}",
            doubles.join("\n")
        );
        rounds
    }
}

/// The (app, short revision) of every sync the logs in `dir` record as completed, with the
/// log file each came from.
fn completed_syncs(dir: &std::path::Path) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("controller-") {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let msg = s(&v, "/msg");
            if let Some(rest) = msg.strip_prefix("Sync operation to ") {
                let rev = rest.split(' ').next().unwrap_or("").to_string();
                out.push((s(&v, "/app").to_string(), rev, name.clone()));
            }
        }
    }
    out
}

/// Asserts no sync was completed twice or by two replicas, and every app's history has unique
/// ids and revisions and deploys that never overlap.
fn assert_single_syncs(cluster: &Cluster) {
    let mut seen: BTreeMap<(String, String), String> = BTreeMap::new();
    for (app, rev, log) in completed_syncs(cluster.dir.path()) {
        if let Some(other) = seen.insert((app.clone(), rev.clone()), log.clone()) {
            panic!("{app} at {rev}: completed by {other} and by {log}");
        }
    }
    assert!(!seen.is_empty(), "the logs record no completed sync");
    for (name, a) in apps(cluster) {
        assert_history_apart(&name, &common::history(&a));
    }
}

#[test]
fn real_api_three_auto_shards_own_600_apps_once_and_hand_off_under_30s_moving_few() {
    let _one_at_a_time = timed_test();
    require_tools!(GIT, KUBECTL);
    let started = Instant::now();
    let (repo, _daemon, url) = repo_with_apps(APPS, |i| configmap(i, 0));
    let cluster = Cluster::start();
    // The install creates the controller's namespace, where the Leases live.
    cluster.kubectl_ok(&["create", "namespace", NS]);
    let mut replicas: Vec<Replica> = ["r0", "r1", "r2"]
        .iter()
        .map(|id| start_replica(&cluster, id, "auto"))
        .collect();
    create_apps(&cluster, APPS, &url, "sh-");
    let rev0 = repo.head();
    let took = wait_all(&cluster, &replicas, APPS, &rev0);
    let (owners, _) = settled(&replicas, APPS, 3, HANDOFF);
    let load = loads(&owners);
    eprintln!("600 apps on 3 shards: all Synced after {took:?}; apps per replica {load:?}");
    assert_eq!(load.len(), 3, "every replica owns apps: {load:?}");
    assert!(
        load.values().all(|l| *l <= APPS / 2),
        "unbounded load: {load:?}"
    );
    let monitor = Monitor::start(&replicas);

    // Kill r1 while the apps sync a new commit.
    write_round(&repo, APPS, |i| configmap(i, 1));
    let rev1 = repo.commit_push("round 1");
    wait_first_sync(&cluster, &replicas, &rev1);
    let killed = replicas.remove(1);
    let at = Instant::now();
    drop(killed); // SIGKILL to its process group
    let (after_kill, pickup) = settled(&replicas, APPS, 2, HANDOFF);
    let stable = at.elapsed();
    let share = moved(&owners, &after_kill);
    eprintln!(
        "kill -9 of r1: its apps owned by the others after {pickup:?} (stable at {stable:?}); \
         {:.1}% of the apps changed owner; apps per replica {:?}",
        share * 100.0,
        loads(&after_kill)
    );
    let took = wait_all(&cluster, &replicas, APPS, &rev1);
    eprintln!("all Synced at round 1 {took:?} later");
    assert!(
        pickup <= HANDOFF,
        "the killed replica's apps took {pickup:?}"
    );
    assert!(share < 0.45, "{:.1}% of the apps moved", share * 100.0);

    // Add it back while the apps sync another commit.
    write_round(&repo, APPS, |i| configmap(i, 2));
    let rev2 = repo.commit_push("round 2");
    wait_first_sync(&cluster, &replicas, &rev2);
    let at = Instant::now();
    let back = start_replica(&cluster, "r1", "auto");
    monitor.add(&back);
    replicas.push(back);
    let (after_join, join) = settled(&replicas, APPS, 3, HANDOFF);
    let stable = at.elapsed();
    let share = moved(&after_kill, &after_join);
    let load = loads(&after_join);
    eprintln!(
        "r1 back: exact ownership by 3 after {join:?} (stable at {stable:?}); {:.1}% of the apps changed owner; apps per \
         replica {load:?}",
        share * 100.0
    );
    let took = wait_all(&cluster, &replicas, APPS, &rev2);
    eprintln!("all Synced at round 2 {took:?} later");
    assert!(join <= HANDOFF, "the rejoin took {join:?}");
    assert!(share < 0.45, "{:.1}% of the apps moved", share * 100.0);
    assert!(
        load.get("r1").is_some_and(|l| *l > 0),
        "r1 owns nothing: {load:?}"
    );

    let rounds = monitor.finish();
    assert!(
        rounds > 10,
        "the ownership monitor scraped only {rounds} rounds"
    );
    assert_single_syncs(&cluster);
    eprintln!("sharding test took {:?}", started.elapsed());
}

#[test]
fn fixed_three_shards_with_four_replicas_standby_takes_the_killed_slot() {
    let _one_at_a_time = timed_test();
    require_tools!(GIT, KUBECTL);
    const N: usize = 90;
    let (repo, _daemon, url) = repo_with_apps(N, |i| configmap(i, 0));
    let cluster = Cluster::start();
    // The install creates the controller's namespace, where the Leases live.
    cluster.kubectl_ok(&["create", "namespace", NS]);
    let mut replicas: Vec<Replica> = ["s0", "s1", "s2", "s3"]
        .iter()
        .map(|id| start_replica(&cluster, id, "3"))
        .collect();
    create_apps(&cluster, N, &url, "sh-");
    wait_all(&cluster, &replicas, N, &repo.head());
    let (owners, _) = settled_fixed(&replicas, N);
    let load = loads(&owners);
    assert_eq!(load.len(), 3, "three slots, one standby: {load:?}");
    let standby = replicas
        .iter()
        .find(|r| !load.contains_key(&r.identity))
        .unwrap()
        .identity
        .clone();
    let monitor = Monitor::start(&replicas);
    let victim = replicas.iter().position(|r| r.identity != standby).unwrap();
    let victim_id = replicas[victim].identity.clone();
    write_round(&repo, N, |i| configmap(i, 1));
    let rev1 = repo.commit_push("round 1");
    wait_first_sync(&cluster, &replicas, &rev1);
    drop(replicas.remove(victim)); // SIGKILL to its process group
    let (after, took) = settled_fixed(&replicas, N);
    eprintln!("--shards 3: standby {standby} took slot of {victim_id} after {took:?}");
    assert!(took <= HANDOFF, "the standby took {took:?}");
    for (app, owner) in &owners {
        let want = if *owner == victim_id { &standby } else { owner };
        assert_eq!(&after[app], want, "{app}: fixed slots must not move");
    }
    wait_all(&cluster, &replicas, N, &rev1);
    monitor.finish();
    assert_single_syncs(&cluster);
}

/// [`settled`] for fixed slots (the member count is not checked: standbys may or may not
/// count as members).
fn settled_fixed(replicas: &[Replica], n: usize) -> (BTreeMap<String, String>, Duration) {
    let start = Instant::now();
    let mut last = None;
    loop {
        let mut owners = BTreeMap::new();
        let mut exact = true;
        for r in replicas {
            for app in view(r.ctrl.metrics)
                .map(|v| v.apps)
                .unwrap_or_default()
                .into_keys()
            {
                exact &= owners.insert(app, r.identity.clone()).is_none();
            }
        }
        let now = (exact && owners.len() == n).then_some(owners);
        if let Some(owners) = now.as_ref().filter(|_| now == last) {
            return (owners.clone(), start.elapsed());
        }
        assert!(
            start.elapsed() < HANDOFF + Duration::from_secs(10),
            "no exact ownership of {n} apps\n{}",
            logs(replicas)
        );
        last = now;
        std::thread::sleep(Duration::from_millis(500));
    }
}
