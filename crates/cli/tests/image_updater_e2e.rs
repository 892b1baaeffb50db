//! The image updater through the real binary: `fjord controller --image-updater=true
//! --image-updater-interval=2s` against the test cluster backend, a real `docker-registry`
//! (`fjord_testkit::registry`, images pushed over its HTTP API), and config repositories the
//! updater pushes to (`file://` bare repositories, served to the controller the same way).
//!
//! - git write-back: one commit for a new tag, the app synced to it; an older tag ignored; a
//!   human `git revert` respected (the `reverted` annotation) until a newer tag; a stopped
//!   registry changes nothing;
//! - twenty apps of one repository watching one image: one commit for all, one tag list per
//!   cycle at the registry;
//! - wrong registry credentials and bad annotations: `ImageUpdateError` conditions naming the
//!   image or the annotation, no commit;
//! - write-back argocd: `spec.source.kustomize.images` patched, the Deployment follows.

mod common;
mod image_updater_common;

use common::{s, GitRepo, NS};
use fjord_testkit::require_tools;
use fjord_testkit::tools::{GIT, KUBECTL};
use image_updater_common::*;
use serde_json::Value;

#[test]
fn git_write_back_bumps_once_respects_reverts_and_survives_a_registry_outage() {
    require_tools!(GIT, KUBECTL, REGISTRY);
    let mut reg = Reg::plain();
    reg.push("web", "v1.0.0");
    let image = format!("{}/web", reg.host());
    let repo = GitRepo::new(
        "config.git",
        &owned(&app_files("web", "web", &image, "v1.0.0")),
    );
    let env = start_env();
    env.apply_json(&updater_config(&reg.host(), &[]));
    env.apply_json(&app(
        "web",
        &url(&repo),
        "web",
        "web",
        &[
            ("image-list", &format!("web={image}")),
            ("web.update-strategy", "semver"),
            ("write-back-method", "git"),
            ("write-back-target", "kustomization"),
        ],
    ));
    env.wait_synced("web", None);
    wait_image(&env, "web", "web", &format!("{image}:v1.0.0"));
    pause(THREE_CYCLES);
    assert_eq!(commit_count(&repo), 1, "nothing newer yet");

    // 1. v1.2.0 pushed: exactly one new commit, the app synced to it.
    reg.push("web", "v1.2.0");
    wait_commits(&env, &repo, 2);
    let k = file_at_head(&repo, "web/kustomization.yaml");
    assert!(k.contains("newTag: v1.2.0 # bumped"), "comment kept:\n{k}");
    assert!(k.contains("# managed by the image updater"), "{k}");
    assert_eq!(head_files(&repo), ["web/kustomization.yaml"]);
    let msg = head_message(&repo);
    assert!(msg.contains("v1.0.0") && msg.contains("v1.2.0"), "{msg}");
    let author = fjord_testkit::git::git(&repo.bare, &["log", "-1", "--format=%an <%ae>", "main"]);
    assert_eq!(author, "argocd-image-updater <noreply@argoproj.io>");
    wait_image(&env, "web", "web", &format!("{image}:v1.2.0"));
    let a = env.wait_app("web", "written annotation", |a| {
        annotation(a, WRITTEN) == "web=v1.2.0"
    });
    assert!(update_errors(&a).is_empty(), "{a}");
    let events = env.kubectl_ok(&["get", "events", "-n", NS, "-o", "json"]);
    assert!(events.contains("ImagesUpdated"), "{events}");
    pause(THREE_CYCLES);
    assert_eq!(commit_count(&repo), 2, "one commit only");

    // 2. An older tag: nothing in three cycles.
    reg.push("web", "v1.1.9");
    pause(THREE_CYCLES);
    assert_eq!(commit_count(&repo), 2);

    // 3. A human reverts the updater's commit: not bumped again; `reverted` names the tag.
    pull(&repo);
    repo.git(&["revert", "--no-edit", "HEAD"]);
    let bare = repo.bare.to_str().unwrap().to_string();
    repo.git(&["push", "-q", &bare, "main"]);
    assert_eq!(commit_count(&repo), 3);
    let a = env.wait_app("web", "reverted annotation", |a| {
        annotation(a, REVERTED) == "web=v1.2.0"
    });
    assert!(update_errors(&a).is_empty(), "{a}");
    wait_image(&env, "web", "web", &format!("{image}:v1.0.0"));
    pause(THREE_CYCLES);
    assert_eq!(commit_count(&repo), 3, "re-bumped after a revert");
    reg.push("web", "v1.2.1");
    wait_commits(&env, &repo, 4);
    assert!(file_at_head(&repo, "web/kustomization.yaml").contains("newTag: v1.2.1"));
    wait_image(&env, "web", "web", &format!("{image}:v1.2.1"));
    env.wait_app("web", "reverted cleared", |a| {
        annotation(a, REVERTED).is_empty()
    });

    // 6. The registry stopped: no commit, the app untouched (apart from the condition).
    let before = env.app("web");
    reg.stop();
    let msg = wait_update_error(&env, "web", &[&image]);
    assert!(msg.contains(&reg.host()), "{msg}");
    pause(THREE_CYCLES);
    assert_eq!(commit_count(&repo), 4);
    let after = env.app("web");
    assert_eq!(after["spec"], before["spec"]);
    assert_eq!(annotation(&after, WRITTEN), annotation(&before, WRITTEN));
    assert_eq!(
        deployed_image(&env, "web", "web"),
        format!("{image}:v1.2.1")
    );
    reg.start();
    env.wait_app("web", "condition cleared", |a| update_errors(a).is_empty());
    assert_eq!(commit_count(&repo), 4);
}

#[test]
fn twenty_apps_on_one_repository_share_one_commit_and_one_tag_list() {
    require_tools!(GIT, KUBECTL, REGISTRY);
    let reg = Reg::plain();
    reg.push("fleet", "1.0.0");
    let image = format!("{}/fleet", reg.host());
    let names: Vec<String> = (0..20).map(|i| format!("fleet-{i:02}")).collect();
    let files: Vec<(String, String)> = names
        .iter()
        .flat_map(|n| app_files(n, n, &image, "1.0.0"))
        .collect();
    let repo = GitRepo::new("fleet.git", &owned(&files));
    let env = start_env();
    env.apply_json(&updater_config(&reg.host(), &[]));
    for n in &names {
        env.apply_json(&app(
            n,
            &url(&repo),
            n,
            n,
            &[
                ("image-list", &format!("app={image}")),
                ("write-back-method", "git"),
                ("write-back-target", "kustomization"),
            ],
        ));
    }
    for n in &names {
        env.wait_synced(n, None);
    }
    pause(THREE_CYCLES);
    assert_eq!(commit_count(&repo), 1, "nothing newer yet");
    // One tag list per cycle for twenty apps.
    let lists_before = reg.tag_lists("fleet");
    let start = std::time::Instant::now();
    pause(THREE_CYCLES);
    let lists = reg.tag_lists("fleet") - lists_before;
    let cycles = start.elapsed().as_secs() / INTERVAL.as_secs() + 1;
    assert!(
        lists >= 1 && lists as u64 <= cycles,
        "{lists} tag lists in {cycles} cycles"
    );

    reg.push("fleet", "1.1.0");
    wait_commits(&env, &repo, 2);
    let mut changed = head_files(&repo);
    changed.sort();
    let expected: Vec<String> = names
        .iter()
        .map(|n| format!("{n}/kustomization.yaml"))
        .collect();
    assert_eq!(changed, expected);
    let msg = head_message(&repo);
    for n in &names {
        assert!(msg.contains(n.as_str()), "{n} missing from\n{msg}");
    }
    for n in &names {
        wait_image(&env, n, n, &format!("{image}:1.1.0"));
    }
    pause(THREE_CYCLES);
    assert_eq!(commit_count(&repo), 2);
}

#[test]
fn wrong_credentials_and_bad_annotations_are_conditions_without_commits() {
    require_tools!(GIT, KUBECTL, REGISTRY, HTPASSWD);
    let reg = Reg::basic("puller", "right-password");
    reg.push("web", "1.0.0");
    reg.push("web", "2.0.0");
    let image = format!("{}/web", reg.host());
    let mut files = app_files("web", "web", &image, "1.0.0");
    files.extend(app_files("bad", "bad", &image, "1.0.0"));
    let repo = GitRepo::new("config.git", &owned(&files));
    let env = start_env();
    env.apply_json(&updater_config(&reg.host(), &[]));
    env.apply_json(&serde_json::json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "regcreds", "namespace": NS},
        "stringData": {"creds": "puller:wrong-password"}}));
    let git = [
        ("write-back-method", "git"),
        ("write-back-target", "kustomization"),
    ];
    let with = |extra: &[(&'static str, String)]| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = git
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        v.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        v
    };
    // (app, source path, annotations, what the condition must name)
    let cases: Vec<Case> = vec![
        (
            "creds",
            "web",
            with(&[
                ("image-list", format!("web={image}")),
                ("web.pull-secret", "secret:argocd/regcreds#creds".into()),
            ]),
            "web",
        ),
        (
            "malformed",
            "bad",
            with(&[("image-list", "web=Not A Valid/Image::".into())]),
            "image-list",
        ),
        (
            "regexp",
            "bad",
            with(&[
                ("image-list", format!("web={image}")),
                ("web.allow-tags", "regexp:([".into()),
            ]),
            "allow-tags",
        ),
        (
            "strategy",
            "bad",
            with(&[
                ("image-list", format!("web={image}")),
                ("web.update-strategy", "newest-moon".into()),
            ]),
            "update-strategy",
        ),
        (
            "outside",
            "bad",
            vec![
                ("image-list".into(), format!("web={image}")),
                ("write-back-method".into(), "git".into()),
                ("write-back-target".into(), "kustomization:../../..".into()),
            ],
            "write-back-target",
        ),
        (
            "branch",
            "bad",
            with(&[
                ("image-list", format!("web={image}")),
                ("git-branch", "main..evil".into()),
            ]),
            "git-branch",
        ),
    ];
    for (name, path, ann, _) in &cases {
        let pairs: Vec<(&str, &str)> = ann.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        env.apply_json(&app(name, &url(&repo), path, name, &pairs));
    }
    // 5. Wrong credentials: the condition names the image (and never the password).
    let msg = wait_update_error(&env, "creds", &[&image]);
    assert!(
        !msg.contains("wrong-password") && !msg.contains("right-password"),
        "{msg}"
    );
    // 7. Each bad annotation: a condition naming it.
    for (name, _, _, needle) in &cases[1..] {
        let msg = wait_update_error(&env, name, &[needle]);
        assert!(!msg.is_empty(), "{name}");
    }
    pause(THREE_CYCLES);
    assert_eq!(commit_count(&repo), 1, "a commit was made");
    let events = env.kubectl_ok(&["get", "events", "-n", NS, "-o", "json"]);
    assert!(events.contains("ImageUpdateError"), "{events}");
    let log = env.controller.log_text();
    assert!(!log.contains("wrong-password"), "password in the log");
    // Fixed credentials: the condition clears and the update goes through.
    env.apply_json(&serde_json::json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "regcreds", "namespace": NS},
        "stringData": {"creds": "puller:right-password"}}));
    wait_commits(&env, &repo, 2);
    env.wait_app("creds", "condition cleared", |a| {
        update_errors(a).is_empty()
    });
    assert!(file_at_head(&repo, "web/kustomization.yaml").contains("newTag: 2.0.0"));
}

#[test]
fn argocd_write_back_patches_the_application_spec() {
    require_tools!(GIT, KUBECTL, REGISTRY);
    let reg = Reg::plain();
    reg.push("api", "1.0.0");
    let image = format!("{}/api", reg.host());
    let files = vec![
        (
            "api/deployment.yaml".to_string(),
            deployment("api", &format!("{image}:1.0.0")),
        ),
        (
            "api/kustomization.yaml".to_string(),
            "resources:\n- deployment.yaml\n".to_string(),
        ),
    ];
    let repo = GitRepo::new("config.git", &owned(&files));
    let env = start_env();
    env.apply_json(&updater_config(&reg.host(), &[]));
    env.apply_json(&app(
        "api",
        &url(&repo),
        "api",
        "api",
        &[
            ("image-list", &format!("api={image}")),
            ("write-back-method", "argocd"),
        ],
    ));
    env.wait_synced("api", None);
    reg.push("api", "1.1.0");
    // 8. The spec override, kept by name; the Deployment follows; Git untouched.
    let a = env.wait_app("api", "spec.source.kustomize.images", |a| {
        a.pointer("/spec/source/kustomize/images")
            .and_then(Value::as_array)
            .is_some_and(|l| {
                l.iter()
                    .any(|i| i.as_str() == Some(&format!("{image}:1.1.0")))
            })
    });
    assert_eq!(annotation(&a, WRITTEN), "api=1.1.0");
    wait_image(&env, "api", "api", &format!("{image}:1.1.0"));
    assert_eq!(commit_count(&repo), 1);
    assert_eq!(s(&env.app("api"), "/spec/source/path"), "api");

    // Write-back git without a target: `.argocd-source-<app>.yaml` in the source path.
    env.apply_json(&app(
        "api-git",
        &url(&repo),
        "api",
        "api-git",
        &[
            ("image-list", &format!("api={image}")),
            ("write-back-method", "git"),
        ],
    ));
    wait_commits(&env, &repo, 2);
    assert_eq!(head_files(&repo), ["api/.argocd-source-api-git.yaml"]);
    let text = file_at_head(&repo, "api/.argocd-source-api-git.yaml");
    assert!(text.contains(&format!("- {image}:1.1.0")), "{text}");
    env.wait_app("api-git", "written annotation", |a| {
        annotation(a, WRITTEN) == "api=1.1.0"
    });
    pause(THREE_CYCLES);
    assert_eq!(commit_count(&repo), 2);
}

/// One bad-input app: name, source path, annotations, the text its condition must contain.
type Case = (
    &'static str,
    &'static str,
    Vec<(String, String)>,
    &'static str,
);

/// `(String, String)` pairs as GitRepo::new takes them.
fn owned(files: &[(String, String)]) -> Vec<(&str, String)> {
    files.iter().map(|(p, t)| (p.as_str(), t.clone())).collect()
}

/// Git write-back over the transports users push through, with Argo CD's repository Secrets:
/// smart HTTP (`git http-backend`, basic auth) writing the default `.argocd-source-<app>.yaml`
/// (which the controller then renders), and ssh writing the kustomization; the images come
/// from a registry behind a token server (bearer flow) with a `secret:` pull secret. The
/// updater's counters are served on the controller's `/metrics`.
#[test]
fn git_write_back_pushes_over_http_and_ssh_from_a_token_registry() {
    use fjord_testkit::tools::{SSHD, SSH_KEYGEN};
    require_tools!(GIT, KUBECTL, REGISTRY, SSHD, SSH_KEYGEN);
    const GIT_PASS: &str = "git-pass-e2e-5150";
    const REG_PASS: &str = "reg-pass-e2e-8086";
    let reg = fjord_testkit::registry::Registry::token("puller", REG_PASS);
    let spec = fjord_testkit::registry::ImageSpec::linux("amd64", "2026-01-01T00:00:00Z");
    reg.push_image("shop", "1.0.0", &spec);
    let image = format!("{}/shop", reg.host());

    // One repository over HTTP with basic auth, one over ssh.
    let over_http = GitRepo::new(
        "http-config.git",
        &owned(&app_files("web", "web", &image, "1.0.0")),
    );
    let http = fjord_testkit::http_backend::serve(&over_http.root, Some(("alice", GIT_PASS)));
    let http_url = format!("http://127.0.0.1:{}/http-config.git", http.port);
    let over_ssh = GitRepo::new(
        "ssh-config.git",
        &owned(&app_files("api", "api", &image, "1.0.0")),
    );
    let keys = over_ssh.scratch("keys");
    let client_key = keys.join("client");
    fjord_testkit::sshd::keygen(&client_key);
    let client_pub = std::fs::read_to_string(keys.join("client.pub")).unwrap();
    let private = std::fs::read_to_string(&client_key).unwrap();
    let sshd = fjord_testkit::sshd::sshd(&keys, &client_pub);
    let host_pub = std::fs::read_to_string(keys.join("ssh_host_ed25519_key.pub")).unwrap();
    let host: Vec<&str> = host_pub.split_whitespace().collect();
    let ssh_url = format!(
        "ssh://{}@127.0.0.1:{}{}",
        fjord_testkit::sshd::whoami(),
        sshd.port,
        over_ssh.bare.display()
    );

    let env = start_env();
    env.apply_json(&serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "argocd-ssh-known-hosts-cm", "namespace": NS},
        "data": {"ssh_known_hosts": format!("[127.0.0.1]:{} {} {}\n", sshd.port, host[0], host[1])},
    }));
    env.apply_json(&common::repo_secret(
        "http-config",
        "repository",
        &[
            ("url", &http_url),
            ("username", "alice"),
            ("password", GIT_PASS),
        ],
    ));
    env.apply_json(&common::repo_secret(
        "ssh-config",
        "repository",
        &[("url", &ssh_url), ("sshPrivateKey", &private)],
    ));
    env.apply_json(&serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "registry-creds", "namespace": NS},
        "stringData": {"creds": format!("puller:{REG_PASS}")},
    }));
    env.apply_json(&updater_config(&reg.host(), &[]));
    let pull_secret = format!("secret:{NS}/registry-creds#creds");
    env.apply_json(&app(
        "web",
        &http_url,
        "web",
        "web",
        &[
            ("image-list", &format!("shop={image}")),
            ("shop.pull-secret", &pull_secret),
            ("write-back-method", "git"),
        ],
    ));
    env.apply_json(&app(
        "api",
        &ssh_url,
        "api",
        "api",
        &[
            ("image-list", &format!("shop={image}")),
            ("shop.pull-secret", &pull_secret),
            ("write-back-method", "git"),
            ("write-back-target", "kustomization"),
        ],
    ));
    env.wait_synced("web", None);
    env.wait_synced("api", None);

    reg.push_image("shop", "1.1.0", &spec);
    wait_commits(&env, &over_http, 2);
    wait_commits(&env, &over_ssh, 2);
    // HTTP: the default target, rendered by the controller (Argo CD's override file).
    let source = file_at_head(&over_http, "web/.argocd-source-web.yaml");
    assert!(source.contains(&format!("{image}:1.1.0")), "{source}");
    assert!(file_at_head(&over_http, "web/kustomization.yaml").contains("newTag: 1.0.0"));
    wait_image(&env, "web", "web", &format!("{image}:1.1.0"));
    // ssh: the kustomization edited in place.
    assert!(file_at_head(&over_ssh, "api/kustomization.yaml").contains("newTag: 1.1.0 # bumped"));
    wait_image(&env, "api", "api", &format!("{image}:1.1.0"));
    assert!(reg.token_requests() > 0, "the bearer flow was used");

    let (_, metrics) = common::http(env.controller.metrics, "GET", "/metrics", &[], b"");
    let sample = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{metrics}"))
    };
    assert!(
        sample("fjord_image_updater_commits_total") >= 2.0,
        "{metrics}"
    );
    assert!(
        sample("fjord_image_updater_updates_total") >= 2.0,
        "{metrics}"
    );
    assert!(sample("fjord_image_updater_registry_requests_total") > 0.0);
    assert!(metrics.trim_end().ends_with("# EOF"), "{metrics}");

    // No credential anywhere the updater writes.
    let apps = env.kubectl_ok(&["get", "applications", "-n", NS, "-o", "json"]);
    let events = env.kubectl_ok(&["get", "events", "-n", NS, "-o", "json"]);
    let log = env.controller.log_text();
    for text in [&apps, &events, &log, &metrics] {
        assert!(!text.contains(GIT_PASS) && !text.contains(REG_PASS));
    }
}

/// `tagsortmode: latest-last` in registries.conf: newest-build takes the tag list's order as
/// the age (distribution v3 lists tags in name order; Debian's 2.8 in no set order) and reads
/// no manifest, as Image Updater does.
#[test]
fn newest_build_takes_the_listed_order_when_the_registry_sorts_its_tags() {
    use fjord_testkit::registry::DISTRIBUTION_V3;
    require_tools!(GIT, KUBECTL, DISTRIBUTION_V3);
    let reg = Reg(fjord_testkit::registry::Registry::anonymous_v3());
    reg.push("job", "b-1");
    let image = format!("{}/job", reg.host());
    let files = vec![
        (
            "job/deployment.yaml".to_string(),
            deployment("job", &format!("{image}:b-1")),
        ),
        (
            "job/kustomization.yaml".to_string(),
            "resources:\n- deployment.yaml\n".to_string(),
        ),
    ];
    let repo = GitRepo::new("config.git", &owned(&files));
    let env = start_env();
    let host = reg.host();
    env.apply_json(&serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "argocd-image-updater-config", "namespace": NS},
        "data": {"registries.conf": format!(
            "registries:\n- name: test\n  prefix: {host}\n  api_url: http://{host}\n  tagsortmode: latest-last\n"
        )},
    }));
    env.apply_json(&app(
        "job",
        &url(&repo),
        "job",
        "job",
        &[
            ("image-list", &format!("job={image}")),
            ("job.update-strategy", "newest-build"),
            ("write-back-method", "argocd"),
        ],
    ));
    env.wait_synced("job", None);
    reg.push("job", "a-9");
    reg.push("job", "c-2");
    reg.0.reset_counts();
    env.wait_app("job", "bumped to the last listed tag", |a| {
        a.pointer("/spec/source/kustomize/images")
            .and_then(Value::as_array)
            .is_some_and(|l| {
                l.iter()
                    .any(|i| i.as_str() == Some(&format!("{image}:c-2")))
            })
    });
    wait_image(&env, "job", "job", &format!("{image}:c-2"));
    assert_eq!(reg.0.count(None, "/manifests/"), 0, "no metadata read");
    assert!(reg.0.count(None, "/tags/list") > 0);
}
