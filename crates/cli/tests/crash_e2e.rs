//! Crash and fault behaviour of `fjord controller`, through the real binary: syncs interrupted
//! by `kill -9` (SIGKILL through `Child::kill`) are resumed by the next controller at their own
//! revision, keep their `startedAt`, finish with `finishedAt >= startedAt` and a history entry,
//! and nothing is wrongfully pruned; `fjord app diff` and `app get --refresh` report an app's
//! own fetch or render error at once.

mod common;

use common::{
    application, configmap, deployment, history, history_revisions, poll, s, text, Cluster,
    Controller, GitRepo, NS,
};
use fjord_testkit::require_tools;
use fjord_testkit::tools::{GIT, KUBECTL};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// What the controller logs when it resumes an interrupted operation.
const RESUMING: &str = "resuming the sync operation interrupted by a controller restart";
/// Added to the message of a resumed operation.
const RESUMED: &str = "resumed after a controller restart";

/// The API and a controller that the test kills and restarts.
struct Harness {
    cluster: Cluster,
    controller: Option<Controller>,
    resync: &'static str,
    /// Everything the killed controllers logged.
    logs: String,
}

impl Harness {
    fn start(resync: &'static str) -> Harness {
        let cluster = Cluster::start();
        let controller = Some(Controller::start(&cluster, resync));
        Harness {
            cluster,
            controller,
            resync,
            logs: String::new(),
        }
    }

    /// `kill -9` of the controller (dropping it sends SIGKILL to its process group and reaps
    /// it); its log is kept.
    fn kill(&mut self) {
        if let Some(c) = self.controller.take() {
            let log = c.log.clone();
            drop(c);
            self.logs += &std::fs::read_to_string(log).unwrap_or_default();
        }
    }

    fn restart(&mut self) {
        self.kill();
        self.controller = Some(Controller::start(&self.cluster, self.resync));
    }

    /// Everything the controllers logged, the running one included.
    fn all_logs(&self) -> String {
        let current = self
            .controller
            .as_ref()
            .map(Controller::log_text)
            .unwrap_or_default();
        format!("{}{current}", self.logs)
    }

    fn apps(&self) -> Vec<Value> {
        let out = self
            .cluster
            .kubectl_ok(&["get", "applications", "-n", NS, "-o", "json"]);
        let list: Value = serde_json::from_str(&out).unwrap();
        list["items"].as_array().cloned().unwrap_or_default()
    }

    fn app(&self, name: &str) -> Value {
        self.cluster
            .get("application", NS, name)
            .unwrap_or_else(|| panic!("application {name} does not exist"))
    }

    fn diagnostics(&self) -> String {
        let mut out = String::from("--- applications:\n");
        for a in self.apps() {
            let mut st = a["status"].clone();
            if let Some(m) = st.as_object_mut() {
                m.remove("resources");
            }
            out += &format!("{}: {st}\n", s(&a, "/metadata/name"));
        }
        let log = self.all_logs();
        let lines: Vec<&str> = log.lines().collect();
        out += "--- controller logs (last 40 lines):\n";
        for l in &lines[lines.len().saturating_sub(40)..] {
            out += l;
            out.push('\n');
        }
        out
    }

    fn wait<T>(&self, what: &str, timeout: Duration, f: impl FnMut() -> Option<T>) -> T {
        poll(what, timeout, || self.diagnostics(), f)
    }
}

/// Parses a Kubernetes timestamp.
fn time(v: &Value, p: &str) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(s(v, p))
        .unwrap_or_else(|e| panic!("{p} is not a timestamp ({e}): {v}"))
}

/// Asserts what every finished operation and history entry of `app` must satisfy.
fn assert_consistent(app: &Value) {
    let name = s(app, "/metadata/name");
    let op = &app["status"]["operationState"];
    assert!(
        matches!(s(op, "/phase"), "Succeeded" | "Failed" | "Error"),
        "{name}: operation not finished: {op}"
    );
    assert!(
        time(op, "/finishedAt") >= time(op, "/startedAt"),
        "{name}: finishedAt before startedAt: {op}"
    );
    for h in history(app) {
        assert!(
            time(&h, "/deployedAt") >= time(&h, "/deployStartedAt"),
            "{name}: history entry deployed before it started: {h}"
        );
    }
}

/// One app of the crash suite: a PreSync Job, then ConfigMap `config` (wave 0), Deployment
/// `web` (wave 1, waited for until healthy) and ConfigMap `after` (wave 2).
fn app_files(dir: &str, round: usize) -> Vec<(String, String)> {
    let wave = |w: i32, manifest: String| {
        manifest.replacen(
            "metadata:\n",
            &format!("metadata:\n  annotations:\n    argocd.argoproj.io/sync-wave: \"{w}\"\n"),
            1,
        )
    };
    let job = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: presync-\n  annotations:\n    \
        argocd.argoproj.io/hook: PreSync\n    argocd.argoproj.io/hook-delete-policy: BeforeHookCreation\n\
        spec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: check\n        \
        image: busybox:1.36\n        command: [\"true\"]\n";
    vec![
        (format!("{dir}/hook.yaml"), job.to_string()),
        (
            format!("{dir}/config.yaml"),
            wave(0, configmap("config", "round", &format!("\"{round}\""))),
        ),
        (format!("{dir}/web.yaml"), wave(1, deployment("web", 1))),
        (
            format!("{dir}/after.yaml"),
            wave(2, configmap("after", "round", &format!("\"{round}\""))),
        ),
    ]
}

/// The uid of every object the crash suite's apps deploy, by `namespace/kind/name`.
fn object_uids(cluster: &Cluster, apps: usize) -> HashMap<String, String> {
    let out = cluster.kubectl_ok(&["get", "configmaps,deployments", "-A", "-o", "json"]);
    let list: Value = serde_json::from_str(&out).unwrap();
    let mut uids = HashMap::new();
    for o in list["items"].as_array().into_iter().flatten() {
        let ns = s(o, "/metadata/namespace");
        if ns.starts_with("crash-") && s(o, "/metadata/name") != "kube-root-ca.crt" {
            let key = format!("{ns}/{}/{}", s(o, "/kind"), s(o, "/metadata/name"));
            uids.insert(key, s(o, "/metadata/uid").to_string());
        }
    }
    assert_eq!(uids.len(), apps * 3, "three objects per app: {uids:?}");
    uids
}

#[test]
fn twenty_kills_during_syncs_of_fifty_apps_lose_nothing() {
    require_tools!(GIT, KUBECTL);
    const APPS: usize = 50;
    const KILLS: usize = 20;
    let names: Vec<String> = (0..APPS).map(|i| format!("crash-{i:02}")).collect();
    let files: Vec<(String, String)> = names.iter().flat_map(|n| app_files(n, 0)).collect();
    let refs: Vec<(&str, String)> = files.iter().map(|(a, b)| (a.as_str(), b.clone())).collect();
    let repo = GitRepo::new("crash.git", &refs);
    let daemon = common::git_daemon(&repo.root);
    let url = format!("git://127.0.0.1:{}/crash.git", daemon.port);
    let started = Instant::now();

    let mut h = Harness::start("1s");
    for n in &names {
        let auto = json!({"prune": true, "selfHeal": true});
        h.cluster
            .apply_json(&application(n, &url, n, n, Some(auto)));
    }
    let mut revisions = vec![repo.head()];
    // First convergence, undisturbed: the uids of every object, which no later sync may
    // change (a wrongful prune deletes an object; the next sync would recreate it).
    let converged = |h: &Harness, rev: &str| {
        // Generous: convergence is what is tested (speed is benchmarked, not asserted). On a
        // loaded 2-core CI machine the last controller once needed ~2.5 min to finish the 36
        // operations 16 quick kills had left Running.
        h.wait(
            &format!("every app synced at {rev}"),
            Duration::from_secs(300),
            || {
                let apps = h.apps();
                let done = apps.len() == APPS
                    && apps.iter().all(|a| {
                        s(a, "/status/sync/status") == "Synced"
                            && s(a, "/status/sync/revision") == rev
                            && s(a, "/status/operationState/phase") == "Succeeded"
                            && s(a, "/status/operationState/syncResult/revision") == rev
                            && a.get("operation").is_none()
                    });
                done.then_some(apps)
            },
        )
    };
    converged(&h, &revisions[0]);
    let uids = object_uids(&h.cluster, APPS);
    eprintln!("first convergence after {:?}", started.elapsed());

    let mut running_at_kill = 0;
    let mut round = 0;
    for kill in 0..KILLS {
        if kill % 2 == 0 {
            round = kill + 1;
            for n in &names {
                for (path, text) in app_files(n, round) {
                    repo.write(&path, &text);
                }
            }
            revisions.push(repo.commit_push(&format!("round {round}")));
        }
        // Kill while syncs run: once one is seen Running, after a delay that differs per kill.
        let running = poll(
            "a sync to run",
            Duration::from_secs(10),
            String::new,
            || {
                let n = h
                    .apps()
                    .iter()
                    .filter(|a| s(a, "/status/operationState/phase") == "Running")
                    .count();
                (n > 0).then_some(n)
            },
        );
        std::thread::sleep(Duration::from_millis((kill as u64 * 173) % 900));
        h.kill();
        let left: Vec<String> = h
            .apps()
            .iter()
            .filter(|a| s(a, "/status/operationState/phase") == "Running")
            .inspect(|a| {
                // What a crash leaves: the operation's own start, nothing of the one before.
                let op = &a["status"]["operationState"];
                assert!(op.get("finishedAt").is_none(), "mixed state: {op}");
                assert!(
                    op.pointer("/syncResult/resources").is_none(),
                    "mixed state: {op}"
                );
                let rev = s(op, "/syncResult/revision").to_string();
                assert!(revisions.contains(&rev), "not a pushed revision: {op}");
            })
            .map(|a| s(a, "/metadata/name").to_string())
            .collect();
        eprintln!(
            "kill {kill}: {running} running when seen, {} left running: {left:?}",
            left.len()
        );
        running_at_kill += usize::from(!left.is_empty());
        h.restart();
    }
    let last = revisions.last().unwrap().clone();
    let apps = converged(&h, &last);
    eprintln!("converged after {:?}", started.elapsed());

    assert!(
        running_at_kill >= KILLS / 2,
        "only {running_at_kill} of {KILLS} kills interrupted a sync: the suite tests nothing"
    );
    let logs = h.all_logs();
    assert!(logs.contains(RESUMING), "no operation was resumed:\n{logs}");
    let out = h
        .cluster
        .kubectl_ok(&["get", "configmaps", "-A", "-o", "json"]);
    let rounds: HashMap<String, Value> = serde_json::from_str::<Value>(&out).unwrap()["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|o| s(o, "/metadata/name") == "after")
        .map(|o| {
            (
                s(o, "/metadata/namespace").to_string(),
                o["data"]["round"].clone(),
            )
        })
        .collect();
    for a in &apps {
        let name = s(a, "/metadata/name");
        assert_consistent(a);
        let revs = history_revisions(a);
        assert!(
            revs.contains(&last),
            "{name}: {last} not in history {revs:?}"
        );
        assert!(
            revs.iter().all(|r| revisions.contains(r)),
            "{name}: history names a revision never pushed: {revs:?}"
        );
        assert_eq!(rounds.get(name), Some(&json!(round.to_string())), "{name}");
    }
    // Every object of every app is still the one the first sync created.
    assert_eq!(object_uids(&h.cluster, APPS), uids, "an object was pruned");
    eprintln!("crash suite took {:?}", started.elapsed());
}

/// A manual sync (the `operation` field) killed while it waits for a Deployment: the next
/// controller resumes it at the same revision, keeps its `startedAt`, and records its history.
#[test]
fn manual_sync_killed_mid_flight_is_resumed_with_history() {
    require_tools!(GIT, KUBECTL);
    let wave = |w: i32, manifest: String| {
        manifest.replacen(
            "metadata:\n",
            &format!("metadata:\n  annotations:\n    argocd.argoproj.io/sync-wave: \"{w}\"\n"),
            1,
        )
    };
    let repo = GitRepo::new(
        "manual.git",
        &[
            ("app/first.yaml", wave(0, configmap("first", "k", "v"))),
            ("app/slow.yaml", wave(1, deployment("slow", 1))),
            ("app/last.yaml", wave(2, configmap("last", "k", "v"))),
        ],
    );
    let rev = repo.head();
    let daemon = common::git_daemon(&repo.root);
    let url = format!("git://127.0.0.1:{}/manual.git", daemon.port);
    let mut h = Harness::start("10m");
    // The Deployment exists already, held Progressing by the simulator (an annotation that
    // Git does not own, so the sync keeps it): the sync waits in wave 1.
    h.cluster.kubectl_ok(&["create", "namespace", "manual"]);
    let stuck = deployment("slow", 1).replacen(
        "metadata:\n",
        "metadata:\n  namespace: manual\n  annotations:\n    fjord.dev/simulate: stuck\n",
        1,
    );
    h.cluster.apply(&stuck);
    // On the real control plane kwok leaves a Pod annotated `stuck` Pending (the local
    // simulator reads either annotation).
    let stuck_pods =
        r#"{"spec":{"template":{"metadata":{"annotations":{"fjord.dev/simulate":"stuck"}}}}}"#;
    h.cluster.kubectl_ok(&[
        "patch",
        "deployment",
        "slow",
        "-n",
        "manual",
        "--type",
        "merge",
        "-p",
        stuck_pods,
    ]);
    h.cluster
        .apply_json(&application("manual", &url, "app", "manual", None));
    h.wait("the first comparison", Duration::from_secs(45), || {
        (s(&h.app("manual"), "/status/sync/status") == "OutOfSync").then_some(())
    });
    let op =
        json!({"operation": {"sync": {"prune": true}, "initiatedBy": {"username": "crash-test"}}});
    h.cluster.kubectl_ok(&[
        "patch",
        "application",
        "manual",
        "-n",
        NS,
        "--type",
        "merge",
        "-p",
        &op.to_string(),
    ]);
    let running = h.wait(
        "the sync to wait in wave 1",
        Duration::from_secs(45),
        || {
            let a = h.app("manual");
            let mid = s(&a, "/status/operationState/phase") == "Running"
                && h.cluster.exists("configmap", "manual", "first");
            mid.then_some(a)
        },
    );
    let state = running["status"]["operationState"].clone();
    // The state written at the start already names the operation's own revision and nothing
    // of an earlier operation.
    assert_eq!(s(&state, "/syncResult/revision"), rev, "{state}");
    assert!(state.get("finishedAt").is_none(), "{state}");
    h.kill();
    let after_kill = h.app("manual");
    assert_eq!(s(&after_kill, "/status/operationState/phase"), "Running");
    assert!(!h.cluster.exists("configmap", "manual", "last"));

    h.cluster.kubectl_ok(&[
        "annotate",
        "deployment",
        "slow",
        "-n",
        "manual",
        "fjord.dev/simulate-",
    ]);
    h.cluster.kubectl_ok(&[
        "patch",
        "deployment",
        "slow",
        "-n",
        "manual",
        "--type",
        "json",
        "-p",
        r#"[{"op":"remove","path":"/spec/template/metadata/annotations/fjord.dev~1simulate"}]"#,
    ]);
    h.restart();
    let done = h.wait(
        "the resumed sync to finish",
        Duration::from_secs(60),
        || {
            let a = h.app("manual");
            (s(&a, "/status/operationState/phase") != "Running").then_some(a)
        },
    );
    let op = &done["status"]["operationState"];
    assert_eq!(s(op, "/phase"), "Succeeded", "{op}");
    assert_eq!(
        s(op, "/startedAt"),
        s(&state, "/startedAt"),
        "resumed, not restarted"
    );
    assert!(s(op, "/message").contains(RESUMED), "{op}");
    assert_eq!(s(op, "/syncResult/revision"), rev);
    assert_eq!(s(op, "/operation/initiatedBy/username"), "crash-test");
    assert!(done.get("operation").is_none(), "{done}");
    assert_consistent(&done);
    let entries = history(&done);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(s(&entries[0], "/revision"), rev);
    assert_eq!(s(&entries[0], "/deployStartedAt"), s(&state, "/startedAt"));
    assert!(h.cluster.exists("configmap", "manual", "last"));
    assert!(h.all_logs().contains(RESUMING));
}

/// A `Running` state as an older controller left it after a crash (the `operation` field not
/// yet cleared, `finishedAt` and `syncResult` of the operation before): the controller resumes
/// it once, writes a clean final state, and clears the request it carried out.
#[test]
fn running_state_of_an_older_crash_is_resumed_once_and_cleaned() {
    require_tools!(GIT, KUBECTL);
    let repo = GitRepo::new("old.git", &[("app/cm.yaml", configmap("cm", "k", "v1"))]);
    let rev1 = repo.head();
    let daemon = common::git_daemon(&repo.root);
    let url = format!("git://127.0.0.1:{}/old.git", daemon.port);
    let mut h = Harness::start("10m");
    h.cluster
        .apply_json(&application("old", &url, "app", "old", None));
    h.cluster
        .fjord_ok(&["app", "sync", "old", "--timeout", "60s"]);
    repo.write("app/cm.yaml", &configmap("cm", "k", "v2"));
    let rev2 = repo.commit_push("v2");
    h.kill();
    std::thread::sleep(Duration::from_millis(1100));

    // What the crash left: a new request, moved into a Running state whose merge kept the
    // previous finishedAt, syncResult and prune option.
    let before = h.app("old");
    let prev = before["status"]["operationState"].clone();
    let mut state = prev.clone();
    let started = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    state["phase"] = json!("Running");
    state["message"] = json!("");
    state["startedAt"] = json!(started);
    state["operation"] = json!({"sync": {"revision": rev2}, "initiatedBy": {"username": "old"}});
    let status = json!({"status": {"operationState": state}});
    h.cluster.kubectl_ok(&[
        "patch",
        "application",
        "old",
        "-n",
        NS,
        "--subresource=status",
        "--type",
        "merge",
        "-p",
        &status.to_string(),
    ]);
    let request = json!({"operation": state["operation"]});
    h.cluster.kubectl_ok(&[
        "patch",
        "application",
        "old",
        "-n",
        NS,
        "--type",
        "merge",
        "-p",
        &request.to_string(),
    ]);
    let stale = h.app("old");
    assert!(
        time(&stale["status"]["operationState"], "/finishedAt")
            < time(&stale["status"]["operationState"], "/startedAt"),
        "the crash shape: {stale}"
    );

    h.restart();
    let done = h.wait("the resumed sync", Duration::from_secs(60), || {
        let a = h.app("old");
        (s(&a, "/status/operationState/phase") != "Running" && a.get("operation").is_none())
            .then_some(a)
    });
    let op = &done["status"]["operationState"];
    assert_eq!(s(op, "/phase"), "Succeeded", "{op}");
    assert_eq!(s(op, "/syncResult/revision"), rev2, "{op}");
    assert_eq!(s(op, "/startedAt"), started);
    assert_consistent(&done);
    assert_eq!(history_revisions(&done), vec![rev1, rev2.clone()]);
    assert_eq!(
        h.cluster.get("configmap", "old", "cm").unwrap()["data"]["k"],
        "v2"
    );
    // Carried out once: nothing runs it again.
    std::thread::sleep(Duration::from_secs(2));
    let later = h.app("old");
    assert_eq!(history_revisions(&later).len(), 2);
    assert_eq!(
        s(&later, "/status/operationState/finishedAt"),
        s(op, "/finishedAt")
    );
}

/// `fjord app diff` and `app get --refresh` of an app whose source cannot be rendered or
/// fetched: the app's own error at once, not a 60 s wait blaming the controller.
#[test]
fn app_diff_and_refresh_report_the_apps_own_error_at_once() {
    require_tools!(GIT, KUBECTL);
    let repo = GitRepo::new(
        "broken.git",
        &[
            ("good/cm.yaml", configmap("cm", "k", "v")),
            (
                "bad/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: [unclosed\n".into(),
            ),
        ],
    );
    let daemon = common::git_daemon(&repo.root);
    let url = format!("git://127.0.0.1:{}/broken.git", daemon.port);
    let h = Harness::start("10m");
    h.cluster
        .apply_json(&application("bad", &url, "bad", "bad", None));
    // A repository nobody serves: a fetch error.
    let closed = format!(
        "git://127.0.0.1:{}/gone.git",
        fjord_testkit::process::free_port()
    );
    h.cluster
        .apply_json(&application("gone", &closed, "app", "gone", None));
    h.wait("both comparison errors", Duration::from_secs(45), || {
        let errs = ["bad", "gone"].iter().all(|n| {
            h.app(n)["status"]["conditions"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["type"] == "ComparisonError"))
        });
        errs.then_some(())
    });

    let t = Instant::now();
    let o = h.cluster.fjord(&["app", "diff", "bad"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains("ComparisonError"), "{out}");
    assert!(
        out.contains("cm.yaml"),
        "the render error names the file: {out}"
    );
    assert!(!out.contains("is `fjord controller` running"), "{out}");
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "took {:?}",
        t.elapsed()
    );

    let t = Instant::now();
    let o = h.cluster.fjord(&["app", "get", "gone", "--refresh"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("Error: application gone: ComparisonError"),
        "{out}"
    );
    assert!(
        out.contains("gone.git"),
        "the fetch error names the repository: {out}"
    );
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "took {:?}",
        t.elapsed()
    );
    for n in ["bad", "gone"] {
        let a = h.app(n);
        assert!(
            a.pointer("/metadata/annotations/argocd.argoproj.io~1refresh")
                .is_none(),
            "{n}: the refresh annotation was cleared: {a}"
        );
    }

    // Fixed in Git: the same commands answer normally again.
    h.cluster
        .apply_json(&application("bad", &url, "good", "bad", None));
    let o = h.cluster.fjord(&["app", "diff", "bad"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("ConfigMap bad/cm differs from Git"),
        "{}",
        text(&o)
    );
}
