//! The test kit itself: the tool rule both ways; servers stop with all their children (a
//! `git daemon` serving a connection leaves no `git-daemon` behind); a control plane starts, is
//! a real Kubernetes v1.34.2 with two Ready kwok nodes, and is gone after drop; a component that
//! cannot start fails the start with its own log tail (never a silent skip).

use std::process::Command;
use std::time::{Duration, Instant};

use fjord_testkit::process::{pgrep, Proc};
use fjord_testkit::tools::{self, Tool};
use fjord_testkit::{git, git_daemon, require_tools};

/// A tool no machine has.
const MISSING: Tool = Tool {
    program: "fjord-no-such-tool",
    hint: "apt-get install fjord-no-such-tool",
};

#[test]
fn a_present_tool_passes_the_rule_either_way() {
    assert!(tools::require_with("sh", "apt-get install dash", true));
    assert!(tools::require_with(
        "/bin/sh",
        "apt-get install dash",
        false
    ));
}

#[test]
fn a_missing_tool_is_skipped_outside_the_test_command() {
    assert!(!tools::require_with(MISSING.program, MISSING.hint, false));
}

#[test]
#[should_panic(expected = "fjord-no-such-tool not found (apt-get install fjord-no-such-tool)")]
fn a_missing_tool_fails_under_the_test_command() {
    tools::require_with(MISSING.program, MISSING.hint, true);
}

/// Run by [`the_rule_reads_fjord_require_tools_and_skips_with_a_skipped_line`] only.
#[test]
#[ignore = "a probe the rule's own test runs in a child process"]
fn probe_needs_a_missing_tool() {
    require_tools!(tools::GIT, MISSING);
    panic!("the test went on without its tool");
}

/// This test binary, running only the probe (output captured, as in a normal run), with
/// `FJORD_REQUIRE_TOOLS` as given.
fn run_probe(require: Option<&str>) -> std::process::Output {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--ignored", "--exact", "probe_needs_a_missing_tool"]);
    match require {
        Some(v) => cmd.env(tools::REQUIRE_VAR, v),
        None => cmd.env_remove(tools::REQUIRE_VAR),
    };
    cmd.output().unwrap()
}

#[test]
fn the_rule_reads_fjord_require_tools_and_skips_with_a_skipped_line() {
    require_tools!(tools::GIT);
    let skipped = run_probe(None);
    let err = String::from_utf8_lossy(&skipped.stderr);
    assert!(skipped.status.success(), "{err}");
    assert!(
        err.contains(
            "SKIPPED: probe_needs_a_missing_tool: fjord-no-such-tool not found \
             (apt-get install fjord-no-such-tool)"
        ),
        "{err}"
    );
    let failed = run_probe(Some("1"));
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&failed.stdout),
        String::from_utf8_lossy(&failed.stderr)
    );
    assert!(!failed.status.success(), "{out}");
    assert!(
        out.contains("fjord-no-such-tool not found (apt-get install fjord-no-such-tool)")
            && !out.contains("SKIPPED"),
        "{out}"
    );
}

/// Waits (5 s) until no process's command line contains `pattern`; returns those left.
fn gone(pattern: &str) -> Vec<u32> {
    let start = Instant::now();
    loop {
        let left = pgrep(pattern);
        if left.is_empty() || start.elapsed() > Duration::from_secs(5) {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_dropped_process_takes_its_whole_group_along() {
    let marker = format!("fjord-testkit-group-{}", std::process::id());
    let script = format!("sleep 300 & sleep 301 & echo {marker} >/dev/null; wait");
    let mut cmd = Command::new("bash");
    cmd.args(["-c", &script, &marker]);
    let proc = Proc::spawn(&mut cmd).unwrap();
    let start = Instant::now();
    while pgrep(&marker).is_empty() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let group = Command::new("pgrep")
        .args(["-g", &proc.id().to_string()])
        .output()
        .unwrap();
    let members = String::from_utf8_lossy(&group.stdout).lines().count();
    assert!(members >= 3, "bash and its two sleeps: {members}");
    let pgid = proc.id().to_string();
    drop(proc);
    let start = Instant::now();
    loop {
        let left = Command::new("pgrep").args(["-g", &pgid]).output().unwrap();
        if left.stdout.is_empty() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "left in the group: {}",
            String::from_utf8_lossy(&left.stdout)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_git_daemon_and_its_connection_children_are_gone_after_drop() {
    require_tools!(tools::GIT);
    let repo = git::GitRepo::new("kit.git", &[("README.md", "kit\n".to_string())]);
    let daemon = git_daemon::git_daemon(&repo.root);
    let base = format!("--base-path={}", repo.root.display());
    // A served clone, then a connection held open: the daemon forks a child for it.
    let clone = repo.scratch("clone");
    git::git(
        &clone,
        &[
            "clone",
            "-q",
            &format!("git://127.0.0.1:{}/kit.git", daemon.port),
            ".",
        ],
    );
    assert_eq!(
        std::fs::read_to_string(clone.join("README.md")).unwrap(),
        "kit\n"
    );
    let _held = std::net::TcpStream::connect(("127.0.0.1", daemon.port)).unwrap();
    let start = Instant::now();
    while pgrep(&base).len() < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the daemon forked no child for the held connection: {:?}",
            pgrep(&base)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(daemon);
    let left = gone(&base);
    assert!(left.is_empty(), "git-daemon processes left: {left:?}");
}

fn kubectl(kubeconfig: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .expect("kubectl is installed")
}

#[test]
fn a_started_control_plane_is_kubernetes_with_ready_nodes_and_stops_on_drop() {
    require_tools!(tools::KUBECTL);
    let cp = fjord_testkit::ControlPlane::start_or_panic();
    let kc = cp.kubeconfig();
    let v = kubectl(&kc, &["version", "-o", "json"]);
    let text = String::from_utf8_lossy(&v.stdout);
    assert!(text.contains("\"gitVersion\": \"v1.34.2\""), "{text}");
    let nodes = kubectl(
        &kc,
        &[
            "get",
            "nodes",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type==\"Ready\")].status} {end}",
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&nodes.stdout).trim(),
        "kwok-node-0=True kwok-node-1=True"
    );
    let url = cp.api_url().to_string();
    let dir = cp.dir().to_path_buf();
    drop(cp);
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the API server still listens after drop"
    );
    assert!(!dir.exists(), "the control plane's folder is removed");
}

#[test]
fn a_component_that_cannot_start_fails_with_its_log_tail() {
    let err = match fjord_testkit::ControlPlane::start_with_apiserver_args(&["--no-such-flag"]) {
        Ok(_) => panic!("kube-apiserver started with an unknown flag"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("start failed in kube-apiserver"), "{err}");
    assert!(
        err.contains("last lines of") && err.contains("unknown flag: --no-such-flag"),
        "the component's own log tail: {err}"
    );
}
