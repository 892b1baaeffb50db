//! Hostile repositories against `fjord controller` through the real binary: `git daemon`
//! serving commits whose trees are written object by object (`git hash-object --literally`,
//! `git commit-tree`, as `git mktree` would, but also with names `git mktree` refuses) and
//! pushed to the served bare repository, the embedded API and the controller as child
//! processes. Every hostile revision is a ComparisonError naming the problem; nothing is
//! written outside the cache; what the good revision synced stays; and a password in a
//! repository URL reaches neither `/metrics`, nor `fjord app` output, nor the controller's log.

mod common;

use common::{application, configmap, history_revisions, s, Env, GitRepo, NS};
use fjord_testkit::require_tools;
use fjord_testkit::tools::{GIT, KUBECTL};
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const RESYNC: &str = "2s";
/// The file every escaping entry tries to write.
const CANARY: &str = "fjord-hostile-canary";

/// Runs git in `dir` with `input` on stdin; returns stdout trimmed.
fn git_in(dir: &Path, args: &[&str], input: &[u8]) -> String {
    let mut child = Command::new("git")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run git");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Objects written into a working copy, and the commit pushed from it.
struct Builder<'a> {
    work: &'a Path,
}

impl Builder<'_> {
    fn blob(&self, content: &[u8]) -> String {
        git_in(self.work, &["hash-object", "-w", "--stdin"], content)
    }

    /// A tree object from `(mode, name, id)` entries in Git's order, written without checks.
    fn tree(&self, entries: &[(&str, Vec<u8>, String)]) -> String {
        let mut sorted: Vec<_> = entries.to_vec();
        sorted.sort_by_key(|(mode, name, _)| {
            let mut k = name.clone();
            if *mode == "40000" {
                k.push(b'/');
            }
            k
        });
        let mut raw = Vec::new();
        for (mode, name, id) in sorted {
            raw.extend_from_slice(mode.as_bytes());
            raw.push(b' ');
            raw.extend_from_slice(&name);
            raw.push(0);
            raw.extend_from_slice(&hex(&id));
        }
        git_in(
            self.work,
            &["hash-object", "-t", "tree", "--literally", "-w", "--stdin"],
            &raw,
        )
    }

    /// The entries of tree `rev` (`HEAD^{tree}`, `HEAD:dir`) as `(mode, name, id)`.
    fn entries(&self, rev: &str) -> Vec<(&'static str, Vec<u8>, String)> {
        let out = fjord_testkit::git::git(self.work, &["ls-tree", rev]);
        out.lines()
            .map(|l| {
                let (meta, name) = l.split_once('\t').unwrap();
                let mut parts = meta.split_whitespace();
                let mode = match parts.next().unwrap() {
                    "040000" => "40000",
                    "100755" => "100755",
                    "120000" => "120000",
                    _ => "100644",
                };
                parts.next();
                (
                    mode,
                    name.as_bytes().to_vec(),
                    parts.next().unwrap().to_string(),
                )
            })
            .collect()
    }

    /// Commits `tree` after HEAD and force-pushes it as `main` of `bare`.
    fn commit_push(&self, tree: &str, bare: &Path) -> String {
        let parent = fjord_testkit::git::git(self.work, &["rev-parse", "HEAD"]);
        let commit = git_in(
            self.work,
            &["commit-tree", tree, "-p", &parent, "-m", "hostile"],
            b"",
        );
        let refspec = format!("{commit}:refs/heads/main");
        fjord_testkit::git::git(
            self.work,
            &["push", "-q", "--force", bare.to_str().unwrap(), &refspec],
        );
        commit
    }
}

fn hex(id: &str) -> Vec<u8> {
    (0..id.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&id[i..i + 2], 16).unwrap())
        .collect()
}

/// The app that fetches the `dotdot` case over git http-backend.
const HTTP_APP: &str = "dotdot-http";

/// The hostile apps: (app and directory name, what its ComparisonError must say).
const CASES: [(&str, &str); 7] = [
    ("dotdot", "tree entry \"dotdot/..\""),
    ("dotgit", "tree entry \"dotgit/.git\""),
    ("slash", "tree entry \"slash//tmp/fjord-hostile-canary\""),
    ("links", "symlink \"links/passwd.yaml\""),
    ("chain", "symlink \"chain/l\""),
    (
        "bomb",
        "exported bytes per revision: 300.0 MiB (314572872 bytes) over the limit of 256 MiB",
    ),
    (
        "many",
        "files per revision: more than 20000 over the limit of 20000",
    ),
];

/// Adds each case's hostile entries to its directory of HEAD's tree; returns the new root.
fn hostile_tree(b: &Builder<'_>) -> String {
    let canary = b.blob(b"written outside the export\n");
    let mut up = b.tree(&[("100644", CANARY.as_bytes().to_vec(), canary.clone())]);
    for _ in 0..7 {
        up = b.tree(&[("40000", b"..".to_vec(), up)]);
    }
    let big = b.blob(&b"a\n".repeat(512 * 1024));
    let tiny = b.blob(b"");
    let link = |t: &str| b.blob(t.as_bytes());
    let d = link("..");
    let extra = |dir: &str| -> Vec<(&'static str, Vec<u8>, String)> {
        match dir {
            "dotdot" => vec![("40000", b"..".to_vec(), up.clone())],
            "dotgit" => {
                let hooks = b.tree(&[("100755", b"post-checkout".to_vec(), canary.clone())]);
                vec![("40000", b".git".to_vec(), hooks)]
            }
            "slash" => vec![(
                "100644",
                format!("/tmp/{CANARY}").into_bytes(),
                canary.clone(),
            )],
            "links" => vec![(
                "120000",
                b"passwd.yaml".to_vec(),
                link("../../../../../../../../../../etc/passwd"),
            )],
            "chain" => vec![
                (
                    "40000",
                    b"x".to_vec(),
                    b.tree(&[("120000", b"d".to_vec(), d.clone())]),
                ),
                ("120000", b"l".to_vec(), link("x/d/../..")),
            ],
            "bomb" => (0..300)
                .map(|i| {
                    (
                        "100644",
                        format!("big-{i:03}.txt").into_bytes(),
                        big.clone(),
                    )
                })
                .collect(),
            "many" => (0..=20_000)
                .map(|i| ("100644", format!("f{i:05}.txt").into_bytes(), tiny.clone()))
                .collect(),
            _ => unreachable!(),
        }
    };
    let mut root = Vec::new();
    for (mode, name, id) in b.entries("HEAD^{tree}") {
        let dir = String::from_utf8(name.clone()).unwrap();
        if CASES.iter().any(|(c, _)| *c == dir) {
            let mut entries = b.entries(&format!("HEAD:{dir}"));
            entries.extend(extra(&dir));
            root.push(("40000", name, b.tree(&entries)));
        } else {
            root.push((mode, name, id));
        }
    }
    b.tree(&root)
}

fn condition(app: &Value, kind: &str) -> Option<String> {
    app["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
        .map(|c| s(c, "/message").to_string())
}

/// Every path below `dir` whose name is `name`.
fn find_named(dir: &Path, name: &str, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let t = e.file_type().unwrap();
        if e.file_name().to_string_lossy().contains(name) {
            out.push(e.path());
        }
        if t.is_dir() {
            find_named(&e.path(), name, out);
        }
    }
}

fn dir_bytes(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| {
            let m = e.metadata().unwrap();
            if m.is_dir() {
                dir_bytes(&e.path())
            } else {
                m.len()
            }
        })
        .sum()
}

#[test]
fn hostile_trees_are_refused_with_a_condition_and_earlier_state_is_kept() {
    require_tools!(GIT, KUBECTL);
    let files: Vec<(String, String)> = CASES
        .iter()
        .map(|(c, _)| (format!("{c}/cm.yaml"), configmap(c, "kept", "yes")))
        .collect();
    let files: Vec<(&str, String)> = files.iter().map(|(p, t)| (p.as_str(), t.clone())).collect();
    let repo = GitRepo::new("hostile.git", &files);
    let daemon = common::git_daemon(&repo.root);
    // The same repository over smart HTTP (git http-backend): the `..` case is also fetched
    // that way, as app `dotdot-http` in namespace `dotdot-http`.
    let backend = fjord_testkit::http_backend::serve(&repo.root, None);
    let env = Env::start(RESYNC);
    let url = format!("git://127.0.0.1:{}/hostile.git", daemon.port);
    let http_url = format!("http://127.0.0.1:{}/hostile.git", backend.port);
    let good = repo.head();
    let auto = || Some(json!({"prune": true, "selfHeal": true}));
    for (c, _) in CASES {
        env.apply_json(&application(c, &url, c, c, auto()));
    }
    env.apply_json(&application(
        HTTP_APP,
        &http_url,
        "dotdot",
        HTTP_APP,
        auto(),
    ));
    for (c, _) in CASES {
        env.wait_synced(c, Some(&good));
        assert!(env.exists("configmap", c, c));
    }
    env.wait_synced(HTTP_APP, Some(&good));
    assert!(env.exists("configmap", HTTP_APP, "dotdot"));

    let b = Builder { work: &repo.work };
    let tree = hostile_tree(&b);
    let bad = b.commit_push(&tree, &repo.bare);
    let cache = env.cluster.dir.path().join("cache");
    let over_http = [(HTTP_APP, CASES[0].1)];
    for (c, expected) in CASES.iter().chain(over_http.iter()) {
        let app = env.wait_app(c, "a ComparisonError for the hostile commit", |a| {
            condition(a, "ComparisonError").is_some_and(|m| m.contains(&bad))
        });
        let msg = condition(&app, "ComparisonError").unwrap();
        assert!(msg.contains(expected), "{c}: {msg}");
        assert!(!msg.contains(&*cache.to_string_lossy()), "{c}: {msg}");
        // The synced state of the good commit stays.
        let kept = if *c == HTTP_APP { "dotdot" } else { c };
        assert!(env.exists("configmap", c, kept), "{c}");
        assert_eq!(history_revisions(&app), vec![good.clone()], "{c}");
        assert_eq!(s(&app, "/status/operationState/syncResult/revision"), good);
    }
    // Nothing escaped: no canary in the cache or in any directory above it.
    let mut found = Vec::new();
    find_named(&cache, CANARY, &mut found);
    assert!(found.is_empty(), "{found:?}");
    for dir in cache.ancestors() {
        assert!(!dir.join(CANARY).exists(), "{}", dir.display());
    }
    assert!(!Path::new("/tmp").join(CANARY).exists());
    // The bombs wrote nothing: the cache holds the mirror and the good exports only.
    let used = dir_bytes(&cache);
    assert!(used < 32 * 1024 * 1024, "the cache holds {used} bytes");

    // Still refused after a while (no retry writes anything), and the good objects stay.
    let app = env.app("dotdot");
    let later = s(&app, "/status/reconciledAt").to_string();
    env.wait_app("dotdot", "a later reconcile", |a| {
        s(a, "/status/reconciledAt") > later.as_str()
    });
    for (c, _) in CASES {
        assert!(env.exists("configmap", c, c), "{c}");
    }
}

#[test]
fn a_password_in_the_repository_url_is_never_shown() {
    require_tools!(GIT, KUBECTL);
    const PASSWORD: &str = "hunter2sekret";
    let repo = GitRepo::new("pw.git", &[("app/cm.yaml", configmap("pw", "k", "v"))]);
    let daemon = common::git_daemon(&repo.root);
    let env = Env::start(RESYNC);
    let url = format!("git://bob:{PASSWORD}@127.0.0.1:{}/pw.git", daemon.port);
    let missing = format!("git://bob:{PASSWORD}@127.0.0.1:{}/missing.git", daemon.port);
    let auto = || Some(json!({"prune": true}));
    env.apply_json(&application("pw", &url, "app", "pw", auto()));
    env.apply_json(&application("pw-missing", &missing, "app", "pw2", auto()));
    env.wait_synced("pw", Some(&repo.head()));
    let app = env.wait_app("pw-missing", "a ComparisonError", |a| {
        condition(a, "ComparisonError").is_some()
    });
    let msg = condition(&app, "ComparisonError").unwrap();
    assert!(msg.contains("git://bob@127.0.0.1"), "{msg}");
    assert!(!msg.contains(PASSWORD), "{msg}");

    let (code, metrics) = common::http(env.controller.metrics, "GET", "/metrics", &[], b"");
    assert_eq!(code, 200);
    let shown = format!("repo=\"git://bob@127.0.0.1:{}/pw.git\"", daemon.port);
    assert!(metrics.contains(&shown), "{metrics}");
    assert!(!metrics.contains(PASSWORD), "{metrics}");

    for args in [
        &["app", "get", "pw"][..],
        &["app", "get", "pw-missing"],
        &["app", "get", "pw", "-o", "yaml"],
        &["app", "get", "pw", "-o", "json"],
        &["app", "list"],
        &["app", "list", "-o", "wide"],
        &["app", "list", "-o", "json"],
        &["app", "history", "pw", "-o", "yaml"],
    ] {
        let out = env.fjord_ok(args);
        assert!(!out.contains(PASSWORD), "fjord {args:?}:\n{out}");
        assert!(
            out.contains("bob@127.0.0.1") || args == ["app", "list"] || args[1] == "history",
            "fjord {args:?}:\n{out}"
        );
    }
    let events = env.kubectl_ok(&["get", "events", "-n", NS, "-o", "json"]);
    assert!(!events.contains(PASSWORD), "{events}");
    let log = env.controller.log_text();
    assert!(!log.contains(PASSWORD), "{log}");
}
