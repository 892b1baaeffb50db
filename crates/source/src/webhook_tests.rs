//! Tests for webhook parsing, verification and matching, with payloads in each provider's
//! documented shape.

use super::*;
use serde_json::json;

fn sign256(secret: &str, body: &[u8]) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    m.update(body);
    hex::encode(m.finalize().into_bytes())
}

fn sign1(secret: &str, body: &[u8]) -> String {
    let mut m = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).unwrap();
    m.update(body);
    hex::encode(m.finalize().into_bytes())
}

fn secrets() -> WebhookSecrets {
    let b64 = |s: &str| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(s)
    };
    WebhookSecrets::from_secret(&json!({
        "metadata": {"name": "argocd-secret", "namespace": "argocd"},
        "data": {"webhook.github.secret": b64("gh-secret"),
                 "webhook.bitbucketserver.secret": b64("bbs-secret")},
        "stringData": {"webhook.gitlab.secret": "gl-token", "webhook.gitea.secret": "gt-secret",
                       "webhook.bitbucket.uuid": "{82b1a5c4-0d6e-4b4c-9f5d-3f2f6b0c2a11}"}
    }))
    .unwrap()
}

fn github_body() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "ref": "refs/heads/main",
        "before": "9049f1265b7d61be4a8904a9a27120d2064dab3b",
        "after": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
        "created": false, "deleted": false, "forced": false,
        "repository": {
            "id": 1296269, "name": "guestbook", "full_name": "org/guestbook",
            "html_url": "https://github.com/org/guestbook",
            "clone_url": "https://github.com/org/guestbook.git",
            "ssh_url": "git@github.com:org/guestbook.git",
            "git_url": "git://github.com/org/guestbook.git",
            "default_branch": "main"
        },
        "pusher": {"name": "octocat", "email": "octocat@example.com"},
        "commits": [
            {"id": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", "message": "bump",
             "added": ["apps/guestbook/new.yaml"], "removed": [],
             "modified": ["apps/guestbook/deploy.yaml"]},
            {"id": "aaaa26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", "message": "docs",
             "added": [], "removed": ["docs/old.md"], "modified": []}
        ],
        "head_commit": {"id": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"}
    }))
    .unwrap()
}

fn push(outcome: Result<WebhookOutcome, WebhookError>) -> PushEvent {
    match outcome {
        Ok(WebhookOutcome::Push(p)) => p,
        other => panic!("expected a push, got {other:?}"),
    }
}

#[test]
fn github_push_verified_and_parsed() {
    let body = github_body();
    let sig = format!("sha256={}", sign256("gh-secret", &body));
    let ev = push(parse(
        &[("x-github-event", "push"), ("X-Hub-Signature-256", &sig)],
        &body,
        &secrets(),
    ));
    assert_eq!(ev.provider, Provider::GitHub);
    assert_eq!(
        ev.repo_urls,
        vec![
            "https://github.com/org/guestbook",
            "https://github.com/org/guestbook.git",
            "git@github.com:org/guestbook.git",
            "git://github.com/org/guestbook.git"
        ]
    );
    assert_eq!(ev.git_ref, "refs/heads/main");
    assert_eq!(ev.revision, "main");
    assert!(ev.touched_head);
    assert_eq!(
        ev.changed_files,
        vec![
            "apps/guestbook/new.yaml",
            "apps/guestbook/deploy.yaml",
            "docs/old.md"
        ]
    );
    assert_eq!(
        ev.after.as_deref(),
        Some("0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c")
    );
    // the legacy SHA-1 header is accepted too
    let sig1 = format!("sha1={}", sign1("gh-secret", &body));
    push(parse(
        &[("X-GitHub-Event", "push"), ("X-Hub-Signature", &sig1)],
        &body,
        &secrets(),
    ));
}

#[test]
fn github_bad_or_missing_signature_refused() {
    let body = github_body();
    let bad = format!("sha256={}", sign256("wrong", &body));
    let refused = Err(WebhookError::BadSignature {
        provider: Provider::GitHub,
    });
    assert_eq!(
        parse(
            &[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &bad)],
            &body,
            &secrets()
        ),
        refused
    );
    assert_eq!(
        parse(&[("X-GitHub-Event", "push")], &body, &secrets()),
        refused
    );
    // signature over other bytes
    let sig = format!("sha256={}", sign256("gh-secret", &body));
    let mut tampered = body.clone();
    tampered.push(b' ');
    assert_eq!(
        parse(
            &[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &sig)],
            &tampered,
            &secrets()
        ),
        refused
    );
    assert_eq!(
        parse(
            &[
                ("X-GitHub-Event", "push"),
                ("X-Hub-Signature-256", "sha256=zz")
            ],
            &body,
            &secrets()
        ),
        refused
    );
    // no secret configured: accepted unverified (as Argo CD does)
    push(parse(
        &[("X-GitHub-Event", "push")],
        &body,
        &WebhookSecrets::default(),
    ));
}

#[test]
fn github_ping_and_other_events() {
    let body = br#"{"zen":"Keep it logically awesome.","hook_id":1}"#;
    let sig = format!("sha256={}", sign256("gh-secret", body));
    assert_eq!(
        parse(
            &[("X-GitHub-Event", "ping"), ("X-Hub-Signature-256", &sig)],
            body,
            &secrets()
        ),
        Ok(WebhookOutcome::Ping(Provider::GitHub))
    );
    assert_eq!(
        parse(
            &[("X-GitHub-Event", "issues"), ("X-Hub-Signature-256", &sig)],
            body,
            &secrets()
        ),
        Err(WebhookError::UnsupportedEvent {
            provider: Provider::GitHub,
            event: "issues".into()
        })
    );
    assert_eq!(
        parse(&[("Content-Type", "application/json")], body, &secrets()),
        Err(WebhookError::UnknownProvider)
    );
    let sig = format!("sha256={}", sign256("gh-secret", b"not json"));
    assert!(matches!(
        parse(
            &[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &sig)],
            b"not json",
            &secrets()
        ),
        Err(WebhookError::MalformedPayload {
            provider: Provider::GitHub,
            ..
        })
    ));
}

fn gitlab_body() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "object_kind": "push", "event_name": "push",
        "before": "95790bf891e76fee5e1747ab589903a6a1f80f22",
        "after": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
        "ref": "refs/heads/feature/login",
        "checkout_sha": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
        "project": {
            "id": 15, "name": "Diaspora", "path_with_namespace": "mike/diaspora",
            "web_url": "https://gitlab.example.com/mike/diaspora",
            "git_ssh_url": "git@gitlab.example.com:mike/diaspora.git",
            "git_http_url": "https://gitlab.example.com/mike/diaspora.git",
            "default_branch": "master"
        },
        "repository": {"name": "Diaspora",
            "homepage": "https://gitlab.example.com/mike/diaspora",
            "git_http_url": "https://gitlab.example.com/mike/diaspora.git",
            "git_ssh_url": "git@gitlab.example.com:mike/diaspora.git"},
        "commits": [{"id": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
            "added": ["CHANGELOG"], "modified": ["app/controller/application.rb"], "removed": []}],
        "total_commits_count": 1
    }))
    .unwrap()
}

#[test]
fn gitlab_push_with_token() {
    let body = gitlab_body();
    let ev = push(parse(
        &[
            ("X-Gitlab-Event", "Push Hook"),
            ("X-Gitlab-Token", "gl-token"),
        ],
        &body,
        &secrets(),
    ));
    assert_eq!(ev.provider, Provider::GitLab);
    assert_eq!(ev.revision, "feature/login");
    assert!(!ev.touched_head);
    assert_eq!(ev.repo_urls[0], "https://gitlab.example.com/mike/diaspora");
    assert!(ev
        .repo_urls
        .contains(&"git@gitlab.example.com:mike/diaspora.git".to_string()));
    assert_eq!(
        ev.changed_files,
        vec!["CHANGELOG", "app/controller/application.rb"]
    );
    for bad in [
        vec![
            ("X-Gitlab-Event", "Push Hook"),
            ("X-Gitlab-Token", "gl-tokeN"),
        ],
        vec![
            ("X-Gitlab-Event", "Push Hook"),
            ("X-Gitlab-Token", "gl-token-longer"),
        ],
        vec![("X-Gitlab-Event", "Push Hook")],
    ] {
        assert_eq!(
            parse(&bad, &body, &secrets()),
            Err(WebhookError::BadSignature {
                provider: Provider::GitLab
            })
        );
    }
    assert!(matches!(
        parse(
            &[
                ("X-Gitlab-Event", "Merge Request Hook"),
                ("X-Gitlab-Token", "gl-token")
            ],
            &body,
            &secrets()
        ),
        Err(WebhookError::UnsupportedEvent { .. })
    ));
}

#[test]
fn gitea_push_signed_hex() {
    let body = serde_json::to_vec(&json!({
        "secret": "", "ref": "refs/tags/v1.2.0",
        "before": "0000000000000000000000000000000000000000",
        "after": "bffeb74224043ba2feb48d137756c8a9331c449a",
        "compare_url": "https://gitea.example.com/org/app/compare/...",
        "commits": [],
        "repository": {"id": 1, "full_name": "org/app",
            "html_url": "https://gitea.example.com/org/app",
            "ssh_url": "git@gitea.example.com:org/app.git",
            "clone_url": "https://gitea.example.com/org/app.git",
            "default_branch": "main"},
        "pusher": {"login": "alice"}
    }))
    .unwrap();
    let sig = sign256("gt-secret", &body);
    // Gitea also sends the Gogs and GitHub headers; the Gitea ones decide.
    let ev = push(parse(
        &[
            ("X-Gitea-Event", "push"),
            ("X-Gogs-Event", "push"),
            ("X-GitHub-Event", "push"),
            ("X-Gitea-Signature", &sig),
            ("X-Gogs-Signature", &sig),
        ],
        &body,
        &secrets(),
    ));
    assert_eq!(ev.provider, Provider::Gitea);
    assert_eq!(ev.revision, "v1.2.0");
    assert!(ev.changed_files.is_empty());
    assert_eq!(
        parse(
            &[
                ("X-Gitea-Event", "push"),
                ("X-Gitea-Signature", &sign256("x", &body))
            ],
            &body,
            &secrets()
        ),
        Err(WebhookError::BadSignature {
            provider: Provider::Gitea
        })
    );
}

fn bitbucket_cloud_body() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "actor": {"display_name": "Alice"},
        "repository": {"type": "repository", "name": "infra", "full_name": "team/infra",
            "uuid": "{5d3f...}",
            "links": {"html": {"href": "https://bitbucket.org/team/infra"},
                      "self": {"href": "https://api.bitbucket.org/2.0/repositories/team/infra"}}},
        "push": {"changes": [{
            "new": {"type": "branch", "name": "release", "target": {"type": "commit", "hash": "1e65c05c1d5171631d92438a13901ca7dae9618c"}},
            "old": {"type": "branch", "name": "release", "target": {"type": "commit", "hash": "2c3d7f3e1a1b0b8c5f4d1f6f1e2f0a1b2c3d4e5f"}},
            "created": false, "forced": false, "closed": false
        }]}
    }))
    .unwrap()
}

#[test]
fn bitbucket_cloud_uuid() {
    let body = bitbucket_cloud_body();
    let ev = push(parse(
        &[
            ("X-Event-Key", "repo:push"),
            ("X-Hook-UUID", "{82b1a5c4-0d6e-4b4c-9f5d-3f2f6b0c2a11}"),
        ],
        &body,
        &secrets(),
    ));
    assert_eq!(ev.provider, Provider::BitbucketCloud);
    assert_eq!(ev.repo_urls, vec!["https://bitbucket.org/team/infra"]);
    assert_eq!(
        (ev.git_ref.as_str(), ev.revision.as_str()),
        ("refs/heads/release", "release")
    );
    assert!(ev.touched_head);
    assert_eq!(
        ev.after.as_deref(),
        Some("1e65c05c1d5171631d92438a13901ca7dae9618c")
    );
    for headers in [
        vec![
            ("X-Event-Key", "repo:push"),
            ("X-Hook-UUID", "{00000000-0d6e-4b4c-9f5d-3f2f6b0c2a11}"),
        ],
        vec![("X-Event-Key", "repo:push")],
    ] {
        assert_eq!(
            parse(&headers, &body, &secrets()),
            Err(WebhookError::BadSignature {
                provider: Provider::BitbucketCloud
            })
        );
    }
}

#[test]
fn bitbucket_server_refs_changed() {
    let body = serde_json::to_vec(&json!({
        "eventKey": "repo:refs_changed", "date": "2017-09-19T09:58:11+1000",
        "actor": {"name": "admin"},
        "repository": {"slug": "repository", "name": "repository",
            "project": {"key": "PROJ", "name": "Project"},
            "links": {"clone": [
                {"href": "ssh://git@bitbucket.example.com:7999/proj/repository.git", "name": "ssh"},
                {"href": "https://bitbucket.example.com/scm/proj/repository.git", "name": "http"}],
                "self": [{"href": "https://bitbucket.example.com/projects/PROJ/repos/repository/browse"}]}},
        "changes": [{"ref": {"id": "refs/heads/master", "displayId": "master", "type": "BRANCH"},
            "refId": "refs/heads/master",
            "fromHash": "ecddabb624f6f5ba43816f5926e580a5f680a932",
            "toHash": "178864a7d521b6f5e720b386b2c2b0ef8563e0dc", "type": "UPDATE"}]
    }))
    .unwrap();
    let sig = format!("sha256={}", sign256("bbs-secret", &body));
    let ev = push(parse(
        &[
            ("X-Event-Key", "repo:refs_changed"),
            ("X-Hub-Signature", &sig),
            ("X-Request-Id", "1"),
        ],
        &body,
        &secrets(),
    ));
    assert_eq!(ev.provider, Provider::BitbucketServer);
    assert_eq!(ev.revision, "master");
    assert_eq!(ev.repo_urls.len(), 2);
    assert!(matches(
        &ev,
        "ssh://git@bitbucket.example.com:7999/proj/repository.git",
        "master"
    ));
    assert!(matches(
        &ev,
        "https://bitbucket.example.com/scm/proj/repository",
        "HEAD"
    ));
    assert_eq!(
        parse(
            &[
                ("X-Event-Key", "repo:refs_changed"),
                ("X-Hub-Signature", "sha256=00")
            ],
            &body,
            &secrets()
        ),
        Err(WebhookError::BadSignature {
            provider: Provider::BitbucketServer
        })
    );
    let ping_sig = format!("sha256={}", sign256("bbs-secret", b"{}"));
    assert_eq!(
        parse(
            &[
                ("X-Event-Key", "diagnostics:ping"),
                ("X-Hub-Signature", &ping_sig)
            ],
            b"{}",
            &secrets()
        ),
        Ok(WebhookOutcome::Ping(Provider::BitbucketServer))
    );
}

fn event(urls: &[&str], git_ref: &str, touched_head: bool, files: &[&str]) -> PushEvent {
    PushEvent {
        provider: Provider::GitHub,
        repo_urls: urls.iter().map(|s| s.to_string()).collect(),
        git_ref: git_ref.into(),
        revision: parse_revision(git_ref),
        before: None,
        after: None,
        touched_head,
        changed_files: files.iter().map(|s| s.to_string()).collect(),
    }
}

#[test]
fn repo_url_matching_like_argo() {
    let web = "https://github.com/org/guestbook";
    for app in [
        "https://github.com/org/guestbook",
        "https://github.com/org/guestbook.git",
        "http://github.com/ORG/Guestbook.git",
        "git@github.com:org/guestbook.git",
        "ssh://git@github.com/org/guestbook.git",
        "ssh://git@ssh.github.com:443/org/guestbook.git",
        "github.com/org/guestbook",
        "https://user@github.com/org/guestbook",
    ] {
        assert!(web_url_matches(web, app), "{app} should match");
    }
    for app in [
        "https://github.com/org/guestbook2",
        "https://github.com/org/guest",
        "https://github.com/other/guestbook",
        "https://gitlab.com/org/guestbook",
        "https://evilgithub.com/org/guestbook",
        "git://github.com/org/guestbook.git",
    ] {
        assert!(!web_url_matches(web, app), "{app} should not match");
    }
    // clone URLs with .git and scp-like ones work as web URLs too
    assert!(web_url_matches(
        "git@github.com:org/guestbook.git",
        "https://github.com/org/guestbook"
    ));
    assert!(web_url_matches(
        "https://github.com/org/guestbook.git",
        "git@github.com:org/guestbook"
    ));
}

#[test]
fn revision_matching_like_argo() {
    let urls = ["https://github.com/org/guestbook"];
    let app = "git@github.com:org/guestbook.git";
    let main = event(&urls, "refs/heads/main", true, &[]);
    assert!(matches(&main, app, "HEAD"));
    assert!(matches(&main, app, ""));
    assert!(matches(&main, app, "main"));
    assert!(matches(&main, app, "refs/heads/main"));
    assert!(!matches(&main, app, "dev"));
    assert!(!matches(
        &main,
        app,
        "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"
    ));
    assert!(!matches(&main, "https://github.com/org/other", "main"));
    let feature = event(&urls, "refs/heads/feature/x", false, &[]);
    assert!(!matches(&feature, app, "HEAD"));
    assert!(matches(&feature, app, "feature/x"));
    assert!(matches(&feature, app, "refs/heads/feature/x"));
    let tag = event(&urls, "refs/tags/v1.0.0", false, &[]);
    assert!(matches(&tag, app, "v1.0.0"));
    assert!(matches(&tag, app, "refs/tags/v1.0.0"));
    assert!(!matches(&tag, app, "v1.0"));
}

#[test]
fn should_refresh_applies_manifest_generate_paths() {
    let ev = event(
        &["https://github.com/org/guestbook"],
        "refs/heads/main",
        true,
        &["apps/guestbook/deploy.yaml"],
    );
    let url = "https://github.com/org/guestbook.git";
    assert!(should_refresh(
        &ev,
        url,
        "HEAD",
        "apps/guestbook",
        Some(".")
    ));
    assert!(!should_refresh(&ev, url, "HEAD", "apps/other", Some(".")));
    assert!(should_refresh(&ev, url, "HEAD", "apps/other", None));
    assert!(should_refresh(
        &ev,
        url,
        "HEAD",
        "apps/other",
        Some("/apps/guestbook")
    ));
    assert!(!should_refresh(
        &ev,
        url,
        "dev",
        "apps/guestbook",
        Some(".")
    ));
}

#[test]
fn secrets_debug_is_redacted() {
    let dbg = format!("{:?}", secrets());
    assert!(
        !dbg.contains("gh-secret") && !dbg.contains("gl-token"),
        "{dbg}"
    );
    assert_eq!(parse_revision("refs/heads/a/b/c"), "a/b/c");
    assert_eq!(parse_revision("main"), "main");
}

/// URL-encodes as GitHub's form deliveries do (`payload=<urlencoded JSON>`).
fn form_encode(json: &[u8]) -> Vec<u8> {
    let mut out = b"payload=".to_vec();
    for &b in json {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b),
            b' ' => out.push(b'+'),
            _ => out.extend(format!("%{b:02X}").bytes()),
        }
    }
    out
}

#[test]
fn github_form_encoded_push_is_verified_over_the_raw_body_and_parsed() {
    let json_body = github_body();
    let form = form_encode(&json_body);
    let sig = format!("sha256={}", sign256("gh-secret", &form));
    let ev = push(parse(
        &[
            ("X-GitHub-Event", "push"),
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("X-Hub-Signature-256", &sig),
        ],
        &form,
        &secrets(),
    ));
    let from_json = push(parse(
        &[
            ("X-GitHub-Event", "push"),
            (
                "X-Hub-Signature-256",
                &format!("sha256={}", sign256("gh-secret", &json_body)),
            ),
        ],
        &json_body,
        &secrets(),
    ));
    assert_eq!(ev, from_json);
    assert_eq!(ev.revision, "main");
    // The legacy SHA-1 header covers the raw form body too.
    let sig1 = format!("sha1={}", sign1("gh-secret", &form));
    let ev1 = push(parse(
        &[
            ("x-github-event", "push"),
            (
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
            ("x-hub-signature", &sig1),
        ],
        &form,
        &secrets(),
    ));
    assert_eq!(ev1, from_json);
}

#[test]
fn github_form_signed_over_the_decoded_json_is_refused() {
    let json_body = github_body();
    let form = form_encode(&json_body);
    // A signature over the decoded payload is not GitHub's: refused.
    let wrong = format!("sha256={}", sign256("gh-secret", &json_body));
    let headers = [
        ("X-GitHub-Event", "push"),
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("X-Hub-Signature-256", wrong.as_str()),
    ];
    assert_eq!(
        parse(&headers, &form, &secrets()),
        Err(WebhookError::BadSignature {
            provider: Provider::GitHub
        })
    );
    // And a tampered form body with the original signature.
    let sig = format!("sha256={}", sign256("gh-secret", &form));
    let mut tampered = form.clone();
    tampered.extend_from_slice(b"&x=1");
    let headers = [
        ("X-GitHub-Event", "push"),
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("X-Hub-Signature-256", sig.as_str()),
    ];
    assert!(matches!(
        parse(&headers, &tampered, &secrets()),
        Err(WebhookError::BadSignature { .. })
    ));
}

#[test]
fn form_payload_decoding_and_errors() {
    assert_eq!(
        form_payload(
            Provider::GitHub,
            b"a=1&payload=%7B%22k%22%3A+%22v%22%7D&payload=x"
        )
        .unwrap(),
        br#"{"k": "v"}"#.to_vec()
    );
    for (body, reason) in [
        (&b"a=1&b=2"[..], "no payload field"),
        (&b"payload=%7"[..], "not valid URL encoding"),
        (&b"payload=%zz"[..], "not valid URL encoding"),
        (&b""[..], "no payload field"),
    ] {
        match form_payload(Provider::GitHub, body) {
            Err(WebhookError::MalformedPayload { reason: r, .. }) => {
                assert!(r.contains(reason), "{r}")
            }
            other => panic!("{body:?}: {other:?}"),
        }
    }
    // An unsigned (no secret configured) form delivery whose payload is not JSON is a
    // malformed payload, not a panic.
    let out = parse(
        &[
            ("X-GitHub-Event", "push"),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        b"payload=not-json",
        &WebhookSecrets::default(),
    );
    assert!(
        matches!(out, Err(WebhookError::MalformedPayload { .. })),
        "{out:?}"
    );
    // A ping arrives form-encoded as well.
    let out = parse(
        &[
            ("X-GitHub-Event", "ping"),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        b"payload=%7B%7D",
        &WebhookSecrets::default(),
    );
    assert_eq!(out, Ok(WebhookOutcome::Ping(Provider::GitHub)));
}

#[test]
fn push_payloads_without_ref_or_repository_url_name_the_missing_field() {
    let reason = |headers: &[(&str, &str)], body: serde_json::Value| {
        let body = serde_json::to_vec(&body).unwrap();
        match parse(headers, &body, &WebhookSecrets::default()) {
            Err(WebhookError::MalformedPayload { reason, .. }) => reason,
            other => panic!("{other:?}"),
        }
    };
    let github = [("X-GitHub-Event", "push")];
    let gitlab = [("X-Gitlab-Event", "Push Hook")];
    assert_eq!(
        reason(&github, json!({"repository": {"html_url": "https://x/y"}})),
        "missing ref"
    );
    assert_eq!(
        reason(&github, json!({"ref": "refs/heads/main", "repository": {}})),
        "missing repository.html_url"
    );
    assert_eq!(
        reason(&gitlab, json!({"object_kind": "push", "project": {}})),
        "missing ref"
    );
    assert_eq!(
        reason(
            &gitlab,
            json!({"object_kind": "push", "ref": "refs/heads/main", "project": {}})
        ),
        "missing project.web_url"
    );
}
