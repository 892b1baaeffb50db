//! Hostile renders against `fjord controller` through the real binary (`git daemon`, the
//! embedded API and the controller as child processes): kustomizations that point generators,
//! env files and patches at host files (`/etc/passwd`, `/etc/hostname`, `/proc`, a canary file
//! next to the controller's cache), that use absolute-path bases or another repository's
//! exported tree in the controller's cache — each with no `source.kustomize` option and with
//! every one of them. Each is a ComparisonError that shows no cache path, nothing from the host
//! or the other repository reaches the cluster, and the options themselves still work on a
//! benign app. Also: duplicate identities in a plain directory (a condition naming both files,
//! no endless re-sync) and the limits of `argocd-cmd-params-cm` (a condition naming the limit,
//! the synced state kept).

mod common;

use common::{application, configmap, deployment, history_revisions, s, Env, GitRepo};
use common::{Cluster, Controller, NS};
use fjord_testkit::require_tools;
use fjord_testkit::tools::{GIT, KUBECTL};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

const RESYNC: &str = "2s";
/// What the canary file next to the cache holds; it must never reach the cluster.
const CANARY: &str = "CANARY-HOST-FILE-5d1e";
/// What the other tenant's repository holds; it must reach only that tenant's app.
const OTHER_SECRET: &str = "OTHER-TENANT-SECRET-93b0";

/// Every `source.kustomize` option, one at a time, and none.
fn kustomize_options() -> Vec<(&'static str, Option<Value>)> {
    vec![
        ("none", None),
        ("prefix", Some(json!({"namePrefix": "p-"}))),
        ("suffix", Some(json!({"nameSuffix": "-s"}))),
        ("namespace", Some(json!({"namespace": "elsewhere"}))),
        ("labels", Some(json!({"commonLabels": {"team": "x"}}))),
        (
            "annotations",
            Some(json!({"commonAnnotations": {"note": "y"}})),
        ),
        (
            "images",
            Some(json!({"images": ["nginx=registry.local/nginx:9.9"]})),
        ),
    ]
}

/// An automated app of `path` in `url` with `kustomize` as `source.kustomize`.
fn app_with(name: &str, url: &str, path: &str, dest: &str, kustomize: &Option<Value>) -> Value {
    let mut app = application(
        name,
        url,
        path,
        dest,
        Some(json!({"prune": true, "selfHeal": true})),
    );
    if let Some(k) = kustomize {
        app["spec"]["source"]["kustomize"] = k.clone();
    }
    app
}

/// The first directory under `root` holding a file named `file`.
fn find_dir_with(root: &Path, file: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(root).ok()?.flatten() {
        let p = entry.path();
        if p.is_dir() {
            if p.join(file).is_file() {
                return Some(p);
            }
            if let Some(found) = find_dir_with(&p, file) {
                return Some(found);
            }
        }
    }
    None
}

/// A relative path from anywhere to `abs`: enough `..` to reach `/`, then `abs`.
fn up_to(abs: &Path) -> String {
    format!(
        "{}{}",
        "../".repeat(40),
        abs.display().to_string().trim_start_matches('/')
    )
}

/// The app's ComparisonError message, once it has one.
fn comparison_error(a: &Value) -> Option<String> {
    a["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "ComparisonError")
        .map(|c| s(c, "/message").to_string())
}

/// Every ConfigMap and Secret value in the cluster, decoded, with `namespace/name`.
fn all_config_values(env: &Env) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for kind in ["configmaps", "secrets"] {
        let list: Value = serde_json::from_str(&env.kubectl_ok(&["get", kind, "-A", "-o", "json"]))
            .expect("a JSON list");
        for o in list["items"].as_array().into_iter().flatten() {
            let id = format!("{}/{}", s(o, "/metadata/namespace"), s(o, "/metadata/name"));
            for field in ["data", "binaryData", "stringData"] {
                for v in o[field].as_object().into_iter().flat_map(|m| m.values()) {
                    let text = v.as_str().unwrap_or_default();
                    let decoded = if kind == "secrets" || field == "binaryData" {
                        decode_base64(text).unwrap_or_else(|| text.to_string())
                    } else {
                        text.to_string()
                    };
                    out.push((id.clone(), decoded));
                }
            }
        }
    }
    out
}

/// Standard base64 (the API's encoding of Secret data), without a dependency.
fn decode_base64(text: &str) -> Option<String> {
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in text.bytes().filter(|c| *c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[test]
fn host_files_and_other_repositories_never_reach_the_cluster() {
    require_tools!(GIT, KUBECTL);
    let cluster = Cluster::start();
    let canary = cluster.dir.path().join("canary.txt");
    std::fs::write(&canary, format!("{CANARY}\n")).unwrap();
    let cache = cluster.dir.path().join("cache");
    let controller = Controller::start(&cluster, RESYNC);
    let env = Env {
        controller,
        cluster,
    };

    // Another tenant's repository, deployed by its own app: its tree is now in the cache.
    let other = GitRepo::new(
        "other.git",
        &[(
            "app/other-secret.yaml",
            configmap("other-secret", "token", OTHER_SECRET),
        )],
    );
    let other_daemon = common::git_daemon(&other.root);
    let other_url = format!("git://127.0.0.1:{}/other.git", other_daemon.port);
    env.apply_json(&application(
        "other",
        &other_url,
        "app",
        "other",
        Some(json!({"prune": true})),
    ));
    env.wait_synced("other", Some(&other.head()));
    let other_tree = find_dir_with(&cache, "other-secret.yaml")
        .expect("the other repository's exported tree in the controller's cache");

    let hostname = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let gen = |what: &str, kind: &str| format!("{kind}:\n- name: stolen\n  {what}\n");
    let cm = configmap("cm", "k", "v");
    let hostile: Vec<(&str, String)> = vec![
        (
            "gen-passwd",
            gen("files: [/etc/passwd]", "configMapGenerator"),
        ),
        (
            "secret-hostname",
            gen("files: [/etc/hostname]", "secretGenerator"),
        ),
        (
            "env-proc",
            gen("envs: [/proc/self/environ]", "configMapGenerator"),
        ),
        (
            "canary-abs",
            gen(&format!("files: [{}]", canary.display()), "secretGenerator"),
        ),
        (
            "canary-rel",
            gen(
                &format!("files: [{}]", up_to(&canary)),
                "configMapGenerator",
            ),
        ),
        (
            "patch-host",
            "resources: [cm.yaml]\npatches:\n- path: /etc/hostname\n".to_string(),
        ),
        (
            "patch-canary",
            format!(
                "resources: [cm.yaml]\npatchesStrategicMerge:\n- {}\n",
                up_to(&canary)
            ),
        ),
        (
            "base-abs",
            format!("resources: [{}]\n", other_tree.display()),
        ),
        (
            "base-cross-repo",
            format!("resources: [{}]\n", up_to(&other_tree)),
        ),
    ];
    let mut files: Vec<(String, String)> = vec![
        (
            "good/kustomization.yaml".into(),
            "resources: [cm.yaml, web.yaml]\n".into(),
        ),
        ("good/cm.yaml".into(), cm.clone()),
        ("good/web.yaml".into(), deployment("web", 1)),
    ];
    for (path, kust) in &hostile {
        files.push((format!("{path}/kustomization.yaml"), kust.clone()));
        files.push((format!("{path}/cm.yaml"), cm.clone()));
    }
    let refs: Vec<(&str, String)> = files.iter().map(|(p, t)| (p.as_str(), t.clone())).collect();
    let repo = GitRepo::new("hostile.git", &refs);
    let daemon = common::git_daemon(&repo.root);
    let url = format!("git://127.0.0.1:{}/hostile.git", daemon.port);
    env.kubectl_ok(&["create", "namespace", "elsewhere"]);

    let mut hostile_apps = Vec::new();
    for (opt, k) in kustomize_options() {
        env.apply_json(&app_with(
            &format!("good-{opt}"),
            &url,
            "good",
            &format!("good-{opt}"),
            &k,
        ));
        for (path, _) in &hostile {
            let name = format!("h-{path}-{opt}");
            env.apply_json(&app_with(&name, &url, path, "hostile", &k));
            hostile_apps.push(name);
        }
    }

    // The options work, applied in memory.
    let head = repo.head();
    for (opt, _) in kustomize_options() {
        env.wait_synced(&format!("good-{opt}"), Some(&head));
    }
    assert!(env.exists("configmap", "good-prefix", "p-cm"));
    assert!(env.exists("configmap", "good-suffix", "cm-s"));
    assert!(env.exists("configmap", "elsewhere", "cm"));
    let labelled = env.get("configmap", "good-labels", "cm").unwrap();
    assert_eq!(labelled["metadata"]["labels"]["team"], "x");
    let annotated = env.get("configmap", "good-annotations", "cm").unwrap();
    assert_eq!(annotated["metadata"]["annotations"]["note"], "y");
    let web = env.get("deployment", "good-images", "web").unwrap();
    assert_eq!(
        web["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.local/nginx:9.9"
    );

    // Every hostile app is refused with a condition that shows no host or cache path.
    let cache_s = cache.display().to_string();
    let tmp_s = env.cluster.dir.path().display().to_string();
    for name in &hostile_apps {
        let app = env.wait_app(name, "a ComparisonError", |a| comparison_error(a).is_some());
        let msg = comparison_error(&app).unwrap();
        assert!(msg.contains("security;"), "{name}: {msg}");
        // Paths the repository itself wrote may be echoed; nothing else of the host may show.
        let mut rest = msg.clone();
        for written in [up_to(&canary), up_to(&other_tree)] {
            rest = rest.replace(&written, "");
        }
        for written in [&canary, &other_tree] {
            rest = rest.replace(&written.display().to_string(), "");
        }
        assert!(
            !rest.contains(&cache_s),
            "{name} shows the cache path: {msg}"
        );
        assert!(!rest.contains(&tmp_s), "{name} shows a host path: {msg}");
        for secret in [CANARY, OTHER_SECRET, "root:x:0:0"] {
            assert!(!msg.contains(secret), "{name}: {msg}");
        }
        assert_ne!(s(&app, "/status/sync/status"), "Synced", "{name}");
        assert!(history_revisions(&app).is_empty(), "{name} was synced");
    }
    // The app directory's own path is shown relative to the repository.
    let msg = comparison_error(&env.app("h-gen-passwd-prefix")).unwrap();
    assert!(msg.contains("gen-passwd/kustomization.yaml"), "{msg}");
    assert!(msg.contains("absolute path '/etc/passwd'"), "{msg}");

    // Nothing from the host or the other repository reached the cluster.
    for (id, value) in all_config_values(&env) {
        assert!(!value.contains(CANARY), "{id} holds the canary");
        assert!(!value.contains("root:x:0:0"), "{id} holds /etc/passwd");
        assert!(
            hostname.trim().is_empty() || value.trim() != hostname.trim(),
            "{id} holds /etc/hostname"
        );
        if id != "other/other-secret" {
            assert!(
                !value.contains(OTHER_SECRET),
                "{id} holds the other tenant's data"
            );
        }
    }
    assert!(!env.exists("configmap", "hostile", "cm"));
    assert!(!env.exists("configmap", "hostile", "other-secret"));
}

#[test]
fn duplicates_and_limits_are_conditions_and_keep_the_synced_state() {
    require_tools!(GIT, KUBECTL);
    let env = Env::start(RESYNC);
    let repo = GitRepo::new(
        "limits.git",
        &[
            ("dup/a.yaml", configmap("twin", "k", "a")),
            ("dup/b.yaml", configmap("twin", "k", "b")),
            ("grow/c0.yaml", configmap("c0", "k", "v")),
            ("grow/c1.yaml", configmap("c1", "k", "v")),
        ],
    );
    let daemon = common::git_daemon(&repo.root);
    let url = format!("git://127.0.0.1:{}/limits.git", daemon.port);
    let rev1 = repo.head();
    let auto = Some(json!({"prune": true, "selfHeal": true}));
    env.apply_json(&application("dup", &url, "dup", "dup", auto.clone()));
    env.apply_json(&application("grow", &url, "grow", "grow", auto));

    // Duplicate identities: a condition naming both files; nothing applied, no sync loop.
    let app = env.wait_app("dup", "a ComparisonError", |a| {
        comparison_error(a).is_some()
    });
    let msg = comparison_error(&app).unwrap();
    assert!(msg.contains("ConfigMap twin is defined twice"), "{msg}");
    assert!(
        msg.contains("'a.yaml'") && msg.contains("'b.yaml'"),
        "{msg}"
    );
    env.wait_synced("grow", Some(&rev1));
    std::thread::sleep(Duration::from_secs(5));
    let app = env.app("dup");
    assert!(history_revisions(&app).is_empty(), "dup was synced: {app}");
    assert!(
        app["status"]["operationState"].is_null(),
        "dup ran an operation"
    );
    assert!(!env.exists("configmap", "dup", "twin"));

    // Lower the object limit, then grow the app past it: refused, the synced state is kept.
    env.apply(&format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argocd-cmd-params-cm\n  namespace: {NS}\n\
         data:\n  controller.max.app.objects: \"3\"\n"
    ));
    for i in 2..5 {
        repo.write(
            &format!("grow/c{i}.yaml"),
            &configmap(&format!("c{i}"), "k", "v"),
        );
    }
    repo.remove("grow/c0.yaml");
    let rev2 = repo.commit_push("four objects");
    let app = env.wait_app("grow", "the object limit", |a| {
        comparison_error(a).is_some_and(|m| m.contains("max-objects (3)"))
    });
    let msg = comparison_error(&app).unwrap();
    assert!(msg.contains("controller.max.app.objects"), "{msg}");
    assert_eq!(history_revisions(&app), std::slice::from_ref(&rev1));
    assert!(env.exists("configmap", "grow", "c0"), "c0 was pruned");
    assert!(env.exists("configmap", "grow", "c1"));
    assert!(!env.exists("configmap", "grow", "c2"));

    // A bad value keeps the previous one (3) and names the key in the log.
    env.apply(&format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argocd-cmd-params-cm\n  namespace: {NS}\n\
         data:\n  controller.max.app.objects: \"lots\"\n  controller.max.app.rendered.bytes: \"100\"\n"
    ));
    env.wait("the bad key in the log", common::CONVERGE, || {
        env.controller
            .log_text()
            .contains("controller.max.app.objects: 'lots'")
            .then_some(())
    });
    // Re-evaluated after the reload, still the kept limit (with the default instead, the
    // rendered-bytes limit of 100 would be the one crossed).
    std::thread::sleep(Duration::from_secs(3));
    let msg = comparison_error(&env.app("grow")).unwrap_or_default();
    assert!(msg.contains("max-objects (3)"), "{msg}");
    env.apply(&format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argocd-cmd-params-cm\n  namespace: {NS}\n\
         data:\n  controller.max.app.objects: \"10\"\n  controller.max.app.rendered.bytes: \"100\"\n"
    ));
    let app = env.wait_app("grow", "the rendered-bytes limit", |a| {
        comparison_error(a).is_some_and(|m| m.contains("max-rendered-bytes (100)"))
    });
    assert!(comparison_error(&app)
        .unwrap()
        .contains("controller.max.app.rendered.bytes"));
    assert_eq!(history_revisions(&app), std::slice::from_ref(&rev1));

    // The export limit of the repository, from the same ConfigMap.
    env.apply(&format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argocd-cmd-params-cm\n  namespace: {NS}\n\
         data:\n  reposerver.max.export.files: \"2\"\n  controller.status.processors: \"20\"\n"
    ));
    repo.write("grow/c5.yaml", &configmap("c5", "k", "v"));
    let rev3 = repo.commit_push("one more");
    let app = env.wait_app("grow", "the export limit", |a| {
        comparison_error(a).is_some_and(|m| m.contains("reposerver.max.export.files"))
    });
    assert_eq!(history_revisions(&app), std::slice::from_ref(&rev1));
    assert!(!env.exists("configmap", "grow", "c5"));
    // An Argo CD controller setting fjord does not honour is named, not silently ignored.
    let log = env.controller.log_text();
    assert!(
        log.contains("controller.status.processors is not honoured by fjord"),
        "{log}"
    );

    // Limits back to their defaults: the app converges on the newest revision.
    env.kubectl_ok(&["delete", "configmap", "argocd-cmd-params-cm", "-n", NS]);
    env.wait_synced("grow", Some(&rev3));
    assert!(env.exists("configmap", "grow", "c5"));
    assert!(!env.exists("configmap", "grow", "c0"));
    let _ = rev2;
}
