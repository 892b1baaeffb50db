//! fjord-source against real git servers started by the tests on free loopback ports:
//! local paths / `file://`, `git daemon` (`git://`), `git http-backend` (smart HTTP with basic
//! auth) and OpenSSH `sshd` (`ssh://`, host keys from a known_hosts ConfigMap).
//!
//! The servers and fixture repositories are `fjord_testkit`'s. Needs the `git` binary (with
//! `git daemon` / `git http-backend`), and for the SSH tests `/usr/sbin/sshd` and `ssh-keygen`
//! (Debian `openssh-server`, `openssh-client`); a missing one follows the kit's tool rule
//! (fails under `FJORD_REQUIRE_TOOLS=1`, else the test prints SKIPPED).

use std::path::PathBuf;
use std::sync::Arc;

use fjord_source::credentials::SECRET_TYPE_LABEL;
use fjord_source::{affects, CredentialStore, KnownHosts, Oid, RepoCache, RepoError};
use fjord_testkit::git::{git, GitRepo};
use fjord_testkit::tools::{GIT, SSHD, SSH_KEYGEN};
use fjord_testkit::{git_daemon::git_daemon, http_backend, require_tools, sshd};
use serde_json::json;

/// The fixture repository `served/<name>.git`: two commits on `main`, a `dev` branch, a
/// lightweight tag `light` and an annotated tag `v1.0.0`, all pushed.
fn fixture(name: &str) -> GitRepo {
    let f = GitRepo::empty(&format!("{name}.git"));
    f.write(
        "apps/guestbook/kustomization.yaml",
        "resources:\n- deploy.yaml\n",
    );
    f.write("apps/guestbook/deploy.yaml", "kind: Deployment\n");
    f.write("apps/base/common.yaml", "kind: ConfigMap\n");
    f.write("README.md", "hello\n");
    f.commit("initial");
    f.write(
        "apps/guestbook/deploy.yaml",
        "kind: Deployment\nreplicas: 2\n",
    );
    f.commit("second");
    f.git(&["tag", "light"]);
    f.git(&["tag", "-a", "v1.0.0", "-m", "release 1.0.0"]);
    f.git(&["checkout", "-q", "-b", "dev"]);
    f.write("apps/guestbook/dev-only.yaml", "kind: Secret\n");
    f.commit("dev work");
    f.git(&["checkout", "-q", "main"]);
    f.push();
    f
}

fn oid(s: &str) -> Oid {
    Oid::from_str(s).unwrap()
}

fn cache() -> (tempfile::TempDir, RepoCache) {
    let dir = tempfile::tempdir().unwrap();
    let cache = RepoCache::new(dir.path().join("cache")).unwrap();
    (dir, cache)
}

/// Branch, tags (light and annotated), full and short SHA, HEAD and full refs.
fn check_resolution(f: &GitRepo, repo: &fjord_source::Repo) {
    let main = f.rev("main");
    assert_eq!(repo.resolve("HEAD").unwrap(), oid(&main));
    assert_eq!(repo.resolve("").unwrap(), oid(&main));
    assert_eq!(repo.resolve("main").unwrap(), oid(&main));
    assert_eq!(repo.resolve("refs/heads/main").unwrap(), oid(&main));
    assert_eq!(repo.resolve("dev").unwrap(), oid(&f.rev("dev")));
    assert_eq!(repo.resolve("light").unwrap(), oid(&main));
    // annotated tag: peeled to the commit, not the tag object
    assert_eq!(repo.resolve("v1.0.0").unwrap(), oid(&main));
    assert_eq!(repo.resolve("refs/tags/v1.0.0").unwrap(), oid(&main));
    // semantic-version ranges pick the highest matching tag
    assert_eq!(repo.resolve(">=1.0.0 <2.0.0").unwrap(), oid(&main));
    assert_eq!(repo.resolve("1.0.*").unwrap(), oid(&main));
    assert!(matches!(
        repo.resolve("2.x"),
        Err(RepoError::RevisionNotFound { .. })
    ));
    let first = f.rev("main~1");
    assert_eq!(repo.resolve(&first).unwrap(), oid(&first));
    assert_eq!(repo.resolve(&first[..8]).unwrap(), oid(&first));
    assert!(matches!(
        repo.resolve("no-such-branch"),
        Err(RepoError::RevisionNotFound { .. })
    ));
    assert!(matches!(
        repo.resolve("0123456789abcdef0123456789abcdef01234567"),
        Err(RepoError::RevisionNotFound { .. })
    ));
}

#[test]
fn git_daemon_fetch_and_resolve() {
    require_tools!(GIT);
    let f = fixture("guestbook");
    let daemon = git_daemon(&f.root);
    let (_d, cache) = cache();
    let url = format!("git://127.0.0.1:{}/guestbook.git", daemon.port);
    let repo = cache.repo(&url).unwrap();
    let summary = repo.fetch().unwrap();
    assert_eq!(summary.default_branch.as_deref(), Some("refs/heads/main"));
    assert!(summary
        .changed
        .iter()
        .any(|c| c.name == "refs/tags/v1.0.0" && c.old.is_none()));
    assert_eq!(repo.default_branch().as_deref(), Some("refs/heads/main"));
    check_resolution(&f, &repo);
    // same repository, other spelling: same mirror
    let again = cache
        .repo(&format!("git://127.0.0.1:{}/guestbook", daemon.port))
        .unwrap();
    assert!(Arc::ptr_eq(&repo, &again));
    // a second fetch with nothing new changes nothing
    assert!(repo.fetch().unwrap().changed.is_empty());
}

#[test]
fn git_daemon_new_commit_seen_after_fetch_with_changed_paths() {
    require_tools!(GIT);
    let f = fixture("app");
    let daemon = git_daemon(&f.root);
    let (_d, cache) = cache();
    let repo = cache
        .repo(&format!("git://127.0.0.1:{}/app.git", daemon.port))
        .unwrap();
    repo.fetch().unwrap();
    let old = repo.resolve("HEAD").unwrap();

    f.write("apps/base/common.yaml", "kind: ConfigMap\ndata: {a: b}\n");
    f.write("docs/notes.md", "notes\n");
    std::fs::remove_file(f.work.join("README.md")).unwrap();
    let new_head = f.commit("third");
    f.push();
    // not visible before fetching
    assert_eq!(repo.resolve("HEAD").unwrap(), old);
    let summary = repo.fetch().unwrap();
    let main_change = summary
        .changed
        .iter()
        .find(|c| c.name == "refs/heads/main")
        .expect("main moved");
    assert_eq!(
        (main_change.old, main_change.new),
        (Some(old), Some(oid(&new_head)))
    );
    let new = repo.resolve("HEAD").unwrap();
    assert_eq!(new, oid(&new_head));

    let changed = repo.changed_paths(old, new).unwrap();
    assert_eq!(
        changed,
        vec![
            PathBuf::from("README.md"),
            PathBuf::from("apps/base/common.yaml"),
            PathBuf::from("docs/notes.md"),
        ]
    );
    // manifest-generate-paths decisions on the real change list
    assert!(!affects(Some("."), "apps/guestbook", &changed));
    assert!(affects(Some(".;../base"), "apps/guestbook", &changed));
    assert!(affects(Some("/docs"), "apps/guestbook", &changed));
    assert!(affects(None, "apps/guestbook", &changed));
    assert!(repo.changed_paths(old, old).unwrap().is_empty());
}

#[test]
fn default_branch_follows_remote_head() {
    require_tools!(GIT);
    let f = fixture("trunky");
    git(&f.bare, &["symbolic-ref", "HEAD", "refs/heads/dev"]);
    let daemon = git_daemon(&f.root);
    let (_d, cache) = cache();
    let repo = cache
        .repo(&format!("git://127.0.0.1:{}/trunky.git", daemon.port))
        .unwrap();
    let summary = repo.fetch().unwrap();
    assert_eq!(summary.default_branch.as_deref(), Some("refs/heads/dev"));
    assert_eq!(repo.resolve("HEAD").unwrap(), oid(&f.rev("dev")));
}

#[test]
fn local_path_and_file_url_checkout_tree() {
    require_tools!(GIT);
    let f = fixture("local");
    // an executable script and an in-repo symlink
    f.write("apps/guestbook/hook.sh", "#!/bin/sh\n");
    {
        use std::os::unix::fs::PermissionsExt;
        let hook = f.work.join("apps/guestbook/hook.sh");
        std::fs::set_permissions(hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::os::unix::fs::symlink(
        "../base/common.yaml",
        f.work.join("apps/guestbook/common.yaml"),
    )
    .unwrap();
    let head = f.commit("exec and link");
    f.push();
    let (_d, cache) = cache();
    for url in [
        f.bare.to_str().unwrap().to_string(),
        format!("file://{}", f.bare.display()),
    ] {
        let repo = cache.repo(&url).unwrap();
        repo.fetch().unwrap();
        let rev = repo.resolve("main").unwrap();
        assert_eq!(rev, oid(&head));
        let dir = repo.checkout_tree(rev, "apps/guestbook").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("deploy.yaml")).unwrap(),
            "kind: Deployment\nreplicas: 2\n"
        );
        // relative references out of the app path still resolve
        assert_eq!(
            std::fs::read_to_string(dir.join("../base/common.yaml")).unwrap(),
            "kind: ConfigMap\n"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("common.yaml")).unwrap(),
            "kind: ConfigMap\n"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("hook.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111, "executable bit kept");
        // the export holds what the app reaches (its symlink's target) and nothing else
        assert!(!dir.join("../../README.md").exists());
        // the same path at the same revision reuses the export
        assert_eq!(repo.checkout_tree(rev, "./apps/guestbook/").unwrap(), dir);
        let other = repo.checkout_tree(rev, "./apps/base/").unwrap();
        assert!(other.join("common.yaml").is_file());
        let root = repo.checkout_tree(rev, ".").unwrap();
        assert!(root.join("README.md").is_file());
        assert!(matches!(
            repo.checkout_tree(rev, "apps/missing"),
            Err(RepoError::PathNotFound { .. })
        ));
        assert!(matches!(
            repo.checkout_tree(rev, "README.md"),
            Err(RepoError::PathNotFound { .. })
        ));
        assert!(matches!(
            repo.checkout_tree(rev, "apps/../../etc"),
            Err(RepoError::PathEscapes { .. })
        ));
        // an older revision gets its own directory
        let older = repo.resolve("dev").unwrap();
        let older_dir = repo.checkout_tree(older, "apps/guestbook").unwrap();
        assert!(older_dir.join("dev-only.yaml").is_file());
        assert!(!dir.join("dev-only.yaml").exists());
        repo.prune_trees(&[rev]).unwrap();
        assert!(!older_dir.exists() && dir.exists());
    }
}

#[test]
fn symlink_escaping_repository_is_refused() {
    require_tools!(GIT);
    let f = fixture("evil");
    std::os::unix::fs::symlink("../../../../etc/passwd", f.work.join("apps/guestbook/pw")).unwrap();
    f.commit("evil link");
    f.push();
    let (_d, cache) = cache();
    let repo = cache.repo(f.bare.to_str().unwrap()).unwrap();
    repo.fetch().unwrap();
    let rev = repo.resolve("HEAD").unwrap();
    assert!(matches!(
        repo.checkout_tree(rev, "apps/guestbook"),
        Err(RepoError::SymlinkEscapes { .. })
    ));
}

fn repo_secret(url: &str, user: &str, pass: &str) -> serde_json::Value {
    json!({"metadata": {"name": "repo", "namespace": "argocd",
        "labels": {SECRET_TYPE_LABEL: "repository"}},
        "stringData": {"type": "git", "url": url, "username": user, "password": pass}})
}

#[test]
fn http_backend_smart_http_with_basic_auth() {
    require_tools!(GIT);
    let f = fixture("private");
    let server = http_backend::serve(&f.root, Some(("alice", "s3cret-pass")));
    let url = format!("http://127.0.0.1:{}/private.git", server.port);

    // no credentials: refused
    let (_d1, anon) = cache();
    let err = anon.repo(&url).unwrap().fetch().unwrap_err();
    assert!(matches!(err, RepoError::AuthFailed { .. }), "{err:?}");

    // wrong password: refused, and the password is not in the error
    let (_d2, wrong) = cache();
    wrong.set_credentials(
        CredentialStore::from_secrets([&repo_secret(&url, "alice", "wrong-pass")]).unwrap(),
    );
    let err = wrong.repo(&url).unwrap().fetch().unwrap_err();
    assert!(matches!(err, RepoError::AuthFailed { .. }), "{err:?}");
    assert!(!format!("{} {err:?}", fjord_model::chain(&err)).contains("wrong-pass"));

    // a repo-creds template matching by prefix works
    let (_d3, ok) = cache();
    let template = json!({"metadata": {"name": "creds", "labels": {SECRET_TYPE_LABEL: "repo-creds"}},
        "data": {"url": b64(&format!("http://127.0.0.1:{}/", server.port)),
                 "username": b64("alice"), "password": b64("s3cret-pass")}});
    ok.set_credentials(CredentialStore::from_secrets([&template]).unwrap());
    let repo = ok.repo(&url).unwrap();
    let summary = repo.fetch().unwrap();
    assert_eq!(summary.default_branch.as_deref(), Some("refs/heads/main"));
    check_resolution(&f, &repo);

    // new commit over HTTP
    f.write("apps/guestbook/extra.yaml", "kind: Service\n");
    let head = f.commit("more");
    f.push();
    repo.fetch().unwrap();
    assert_eq!(repo.resolve("main").unwrap(), oid(&head));
    assert!(
        server
            .unauthorized
            .load(std::sync::atomic::Ordering::SeqCst)
            >= 2
    );
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn known_hosts_cm(text: &str) -> KnownHosts {
    KnownHosts::from_config_map(&json!({
        "metadata": {"name": "argocd-ssh-known-hosts-cm", "namespace": "argocd"},
        "data": {"ssh_known_hosts": text}
    }))
    .unwrap()
}

#[test]
fn sshd_fetch_with_known_hosts() {
    require_tools!(SSHD, SSH_KEYGEN, GIT);
    let f = fixture("secure");
    let keys = f.scratch("keys");
    let client_key = keys.join("client");
    sshd::keygen(&client_key);
    let client_pub = std::fs::read_to_string(keys.join("client.pub")).unwrap();
    let private = std::fs::read_to_string(&client_key).unwrap();
    let server = sshd::sshd(&keys, &client_pub);
    let host_pub = std::fs::read_to_string(keys.join("ssh_host_ed25519_key.pub")).unwrap();
    let host_fields: Vec<&str> = host_pub.split_whitespace().collect();
    let url = format!(
        "ssh://{}@127.0.0.1:{}{}",
        sshd::whoami(),
        server.port,
        f.bare.display()
    );
    let secret = json!({"metadata": {"name": "ssh-repo", "labels": {SECRET_TYPE_LABEL: "repository"}},
        "data": {"url": b64(&url), "sshPrivateKey": b64(&private)}});
    let creds = CredentialStore::from_secrets([&secret]).unwrap();

    // trusted host key
    let (_d1, good) = cache();
    good.set_credentials(creds.clone());
    good.set_known_hosts(known_hosts_cm(&format!(
        "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n\
         [127.0.0.1]:{} {} {}\n",
        server.port, host_fields[0], host_fields[1]
    )));
    let repo = good.repo(&url).unwrap();
    let summary = repo.fetch().unwrap();
    assert_eq!(summary.default_branch.as_deref(), Some("refs/heads/main"));
    check_resolution(&f, &repo);

    // unknown host: clear error
    let (_d2, unknown) = cache();
    unknown.set_credentials(creds.clone());
    let err = unknown.repo(&url).unwrap().fetch().unwrap_err();
    assert!(
        matches!(err, RepoError::UnknownHostKey { ref host, .. } if host == &format!("[127.0.0.1]:{}", server.port)),
        "{err:?}"
    );
    assert!(fjord_model::chain(&err).contains("known hosts"), "{err}");

    // wrong key for the host: refused
    let other = keys.join("other_host");
    sshd::keygen(&other);
    let other_pub = std::fs::read_to_string(keys.join("other_host.pub")).unwrap();
    let other_fields: Vec<&str> = other_pub.split_whitespace().collect();
    let (_d3, wrong) = cache();
    wrong.set_credentials(creds.clone());
    wrong.set_known_hosts(known_hosts_cm(&format!(
        "[127.0.0.1]:{} {} {}\n",
        server.port, other_fields[0], other_fields[1]
    )));
    let err = wrong.repo(&url).unwrap().fetch().unwrap_err();
    assert!(matches!(err, RepoError::HostKeyMismatch { .. }), "{err:?}");
    assert!(!format!("{} {err:?}", fjord_model::chain(&err)).contains("PRIVATE KEY"));

    // insecure: "true" skips the host-key check
    let insecure = json!({"metadata": {"name": "ssh-repo", "labels": {SECRET_TYPE_LABEL: "repository"}},
        "stringData": {"url": url, "sshPrivateKey": private, "insecure": "true"}});
    let (_d4, lax) = cache();
    lax.set_credentials(CredentialStore::from_secrets([&insecure]).unwrap());
    lax.repo(&url).unwrap().fetch().unwrap();

    // no key configured: authentication fails
    let (_d5, nokey) = cache();
    nokey.set_known_hosts(known_hosts_cm(&format!(
        "[127.0.0.1]:{} {} {}\n",
        server.port, host_fields[0], host_fields[1]
    )));
    let err = nokey.repo(&url).unwrap().fetch().unwrap_err();
    assert!(
        matches!(err, RepoError::AuthFailed { .. } | RepoError::Fetch { .. }),
        "{err:?}"
    );
}

#[test]
fn scp_and_ssh_url_spellings_share_a_mirror() {
    let (_d, cache) = cache();
    let a = cache.repo("git@github.com:org/repo.git").unwrap();
    let b = cache.repo("ssh://git@github.com/org/repo").unwrap();
    let c = cache.repo("https://github.com/org/repo.git").unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    assert!(!Arc::ptr_eq(&a, &c));
    assert_eq!(a.key(), "git@github.com/org/repo");
    assert!(matches!(cache.repo("  "), Err(RepoError::Url(_))));
}

#[test]
fn deleted_and_force_pushed_branches_follow_the_remote() {
    require_tools!(GIT);
    let f = fixture("moving");
    let (_d, cache) = cache();
    let repo = cache.repo(&format!("file://{}", f.bare.display())).unwrap();
    repo.fetch().unwrap();
    let dev = repo.resolve("dev").unwrap();
    git(&f.bare, &["branch", "-D", "dev"]);
    // force-push main back one commit
    git(
        &f.bare,
        &["update-ref", "refs/heads/main", &f.rev("main~1")],
    );
    let summary = repo.fetch().unwrap();
    assert!(summary
        .changed
        .iter()
        .any(|c| c.name == "refs/heads/dev" && c.old == Some(dev) && c.new.is_none()));
    assert!(matches!(
        repo.resolve("dev"),
        Err(RepoError::RevisionNotFound { .. })
    ));
    assert_eq!(repo.resolve("HEAD").unwrap(), oid(&f.rev("main~1")));
    // the old commit is still in the mirror, so a SHA pin keeps working
    assert_eq!(repo.resolve(&dev.to_string()).unwrap(), dev);
}

#[test]
fn concurrent_apps_share_one_mirror_and_export() {
    require_tools!(GIT);
    let f = fixture("shared");
    let (_d, cache) = cache();
    let cache = Arc::new(cache);
    let url = f.bare.to_str().unwrap().to_string();
    let handles: Vec<_> = (0..6)
        .map(|i| {
            let (cache, url) = (Arc::clone(&cache), url.clone());
            std::thread::spawn(move || {
                let repo = cache.repo(&url).unwrap();
                repo.fetch().unwrap();
                let rev = repo
                    .resolve(if i % 2 == 0 { "HEAD" } else { "v1.0.0" })
                    .unwrap();
                let path = if i % 3 == 0 {
                    "apps/base"
                } else {
                    "apps/guestbook"
                };
                (rev, repo.checkout_tree(rev, path).unwrap())
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let roots: std::collections::BTreeSet<_> = results
        .iter()
        .map(|(_, dir)| dir.parent().unwrap().parent().unwrap().to_path_buf())
        .collect();
    // HEAD and v1.0.0 are the same commit: one export per (revision, path).
    assert_eq!(
        roots.len(),
        2,
        "one export per revision and path: {roots:?}"
    );
    for (_, dir) in &results {
        assert!(dir.is_dir());
    }
}

#[test]
fn https_self_signed_needs_insecure() {
    require_tools!(GIT);
    let f = fixture("tls");
    let server = http_backend::serve_tls(&f.root, Some(("bob", "tok")));
    let url = format!("https://127.0.0.1:{}/tls.git", server.port);
    let secret = |insecure: &str| {
        json!({"metadata": {"name": "tls", "labels": {SECRET_TYPE_LABEL: "repository"}},
            "stringData": {"url": url, "username": "bob", "password": "tok", "insecure": insecure}})
    };
    // an untrusted certificate is refused
    let (_d1, strict) = cache();
    strict.set_credentials(CredentialStore::from_secrets([&secret("false")]).unwrap());
    let err = strict.repo(&url).unwrap().fetch().unwrap_err();
    assert!(matches!(err, RepoError::Fetch { .. }), "{err:?}");
    assert!(
        fjord_model::chain(&err)
            .to_lowercase()
            .contains("certificate"),
        "{err}"
    );
    // insecure: "true" skips TLS verification
    let (_d2, lax) = cache();
    lax.set_credentials(CredentialStore::from_secrets([&secret("true")]).unwrap());
    let repo = lax.repo(&url).unwrap();
    repo.fetch().unwrap();
    check_resolution(&f, &repo);
}

#[test]
fn commit_only_reachable_from_other_refs_is_fetched_by_sha() {
    require_tools!(GIT);
    let f = fixture("prs");
    git(
        &f.bare,
        &["config", "uploadpack.allowAnySHA1InWant", "true"],
    );
    // a pull-request head: a commit no branch or tag points at
    git(&f.work, &["checkout", "-q", "-b", "pr"]);
    f.write("apps/guestbook/pr.yaml", "kind: Job\n");
    let pr = f.commit("pr change");
    git(&f.work, &["checkout", "-q", "main"]);
    let bare = f.bare.to_str().unwrap().to_string();
    git(&f.work, &["push", "-q", &bare, "pr:refs/pull/1/head"]);
    let daemon = git_daemon(&f.root);
    let (_d, cache) = cache();
    let repo = cache
        .repo(&format!("git://127.0.0.1:{}/prs.git", daemon.port))
        .unwrap();
    repo.fetch().unwrap();
    assert!(matches!(
        repo.resolve(&pr),
        Err(RepoError::RevisionNotFound { .. })
    ));
    assert_eq!(repo.fetch_commit(&pr).unwrap(), oid(&pr));
    assert_eq!(repo.resolve(&pr).unwrap(), oid(&pr));
    // kept across later fetches (not pruned)
    repo.fetch().unwrap();
    assert_eq!(repo.resolve(&pr[..10]).unwrap(), oid(&pr));
    let dir = repo.checkout_tree(oid(&pr), "apps/guestbook").unwrap();
    assert!(dir.join("pr.yaml").is_file());
    assert!(matches!(
        repo.fetch_commit("0123456789abcdef0123456789abcdef01234567"),
        Err(RepoError::Fetch { .. } | RepoError::RevisionNotFound { .. })
    ));
    assert!(matches!(
        repo.fetch_commit("abc"),
        Err(RepoError::RevisionNotFound { .. })
    ));
}
