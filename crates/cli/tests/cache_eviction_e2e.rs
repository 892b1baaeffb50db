//! The repository cache of `fjord controller` through the real binary: its default location
//! (`$XDG_CACHE_HOME/fjord/repos`), the mirror of a repository no app uses any more evicted, a
//! tiny `--cache-max-size` evicting least-recently-used mirrors while apps keep syncing, and
//! bad `--cache-max-size` values refused naming the flag.

mod common;

use common::{application, configmap, fjord, text, Cluster, Controller, Env, GitRepo, NS};
use fjord_testkit::require_tools;
use fjord_testkit::tools::{GIT, KUBECTL};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;

const RESYNC: &str = "2s";

fn repo(name: &str, color: &str) -> GitRepo {
    GitRepo::new(
        &format!("{name}.git"),
        &[("app/cm.yaml", configmap("settings", "color", color))],
    )
}

fn url(r: &GitRepo) -> String {
    format!("file://{}", r.bare.display())
}

/// The mirror directories under `cache/mirrors` (temporary names left out).
fn mirrors(cache: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(cache.join("mirrors"))
        .map(|d| {
            d.flatten()
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn automated() -> Option<serde_json::Value> {
    Some(json!({"prune": true, "selfHeal": false}))
}

/// A controller started without `--cache-dir`, with `$XDG_CACHE_HOME` in the test's folder.
fn controller_with_default_cache(cluster: &Cluster, xdg: &Path) -> Controller {
    let cwd = cluster.dir.path().join("cwd");
    std::fs::create_dir_all(&cwd).unwrap();
    let mut cmd = Controller::command(cluster);
    cmd.args(["--sealed-secrets", "false", "--resync", RESYNC])
        .env("XDG_CACHE_HOME", xdg)
        .current_dir(&cwd);
    Controller::spawn(cmd, &cluster.dir.path().join("controller.log"))
}

#[test]
fn the_mirror_of_a_repository_no_app_uses_is_evicted_from_the_default_cache() {
    require_tools!(GIT, KUBECTL);
    let (a, b) = (repo("alpha", "blue"), repo("beta", "red"));
    let cluster = Cluster::start();
    let xdg = cluster.dir.path().join("xdg");
    let controller = controller_with_default_cache(&cluster, &xdg);
    let env = Env {
        controller,
        cluster,
    };
    let cache = xdg.join("fjord").join("repos");
    env.apply_json(&application("alpha", &url(&a), "app", "alpha", automated()));
    env.apply_json(&application("beta", &url(&b), "app", "beta", automated()));
    env.wait_synced("alpha", Some(&a.head()));
    env.wait_synced("beta", Some(&b.head()));
    let both = mirrors(&cache);
    assert_eq!(
        both.len(),
        2,
        "two mirrors in the default cache {}",
        cache.display()
    );
    let cwd = env.cluster.dir.path().join("cwd");
    assert!(
        !cwd.join("fjord-data").exists(),
        "nothing under ./fjord-data any more"
    );

    env.kubectl_ok(&["delete", "application", "beta", "-n", NS]);
    let left = env.wait("beta's mirror evicted", Duration::from_secs(45), || {
        let m = mirrors(&cache);
        let logged = env
            .controller
            .log_text()
            .contains("evicted repository mirror");
        (m.len() == 1 && logged).then_some(m)
    });
    assert!(both.contains(&left[0]));
    let log = env.controller.log_text();
    assert!(
        log.contains("evicted repository mirror") && log.contains("no app uses it"),
        "{log}"
    );
    assert!(
        log.contains("beta.git"),
        "the eviction names the repository: {log}"
    );
    // The remaining app keeps following its repository.
    a.write("app/cm.yaml", &configmap("settings", "color", "green"));
    let next = a.commit_push("green");
    env.wait_config("alpha", "settings", "color", "green");
    env.wait_synced("alpha", Some(&next));
    assert_eq!(mirrors(&cache), left);
}

#[test]
fn a_tiny_cache_max_size_evicts_least_recently_used_mirrors_while_apps_keep_syncing() {
    require_tools!(GIT, KUBECTL);
    let (a, b) = (repo("gamma", "blue"), repo("delta", "red"));
    let cluster = Cluster::start();
    let controller = Controller::start_with(&cluster, RESYNC, &["--cache-max-size", "1Ki"]);
    let env = Env {
        controller,
        cluster,
    };
    env.apply_json(&application("gamma", &url(&a), "app", "gamma", automated()));
    env.apply_json(&application("delta", &url(&b), "app", "delta", automated()));
    env.wait_synced("gamma", Some(&a.head()));
    env.wait_synced("delta", Some(&b.head()));
    env.wait("an over-size eviction", Duration::from_secs(45), || {
        env.controller
            .log_text()
            .contains("least recently used beyond the cache's 1024 bytes")
            .then_some(())
    });
    // Evicted mirrors come back on the next poll: both apps follow new commits.
    for (r, app) in [(&a, "gamma"), (&b, "delta")] {
        r.write("app/cm.yaml", &configmap("settings", "color", "green"));
        let next = r.commit_push("green");
        env.wait_config(app, "settings", "color", "green");
        env.wait_synced(app, Some(&next));
    }
    assert!(mirrors(&env.cluster.dir.path().join("cache")).len() <= 2);
    let log = env.controller.log_text();
    assert!(!log.contains("\"level\":\"error\""), "{log}");
}

#[test]
fn bad_cache_max_sizes_are_refused_naming_the_flag() {
    for bad in ["0", "lots", "10GB", "-1"] {
        let flag = format!("--cache-max-size={bad}");
        let o = fjord().run(&[
            "controller",
            "--kubeconfig",
            "/nonexistent/kubeconfig",
            &flag,
        ]);
        assert!(!o.status.success(), "--cache-max-size {bad} accepted");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("--cache-max-size"), "{bad}: {}", text(&o));
    }
}
