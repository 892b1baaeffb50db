//! Every webhook provider's parser. Input: one selector byte (bit 0: secrets configured, so
//! verification paths run; bits 1..: which app to match), then HTTP-like headers
//! (`Name: value` lines), an empty line, and the raw body.
#![no_main]

use fjord_source::webhook::{self, WebhookOutcome, WebhookSecrets};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static SECRETS: LazyLock<WebhookSecrets> = LazyLock::new(|| {
    WebhookSecrets::from_secret(&serde_json::json!({
        "metadata": {"name": "argocd-secret", "namespace": "argocd"},
        "stringData": {
            "webhook.github.secret": "gh-secret",
            "webhook.gitlab.secret": "gl-token",
            "webhook.gitea.secret": "gt-secret",
            "webhook.gogs.secret": "gg-secret",
            "webhook.bitbucket.uuid": "{82b1a5c4-0d6e-4b4c-9f5d-3f2f6b0c2a11}",
            "webhook.bitbucketserver.secret": "bbs-secret"
        }
    }))
    .expect("fixed webhook secrets")
});

const APPS: &[(&str, &str, &str, Option<&str>)] = &[
    (
        "https://github.com/org/guestbook.git",
        "HEAD",
        "apps/guestbook",
        None,
    ),
    (
        "git@github.com:org/guestbook.git",
        "main",
        ".",
        Some(".;../shared"),
    ),
    (
        "ssh://git@gitlab.com:2222/group/repo",
        "refs/tags/v1",
        "x/y",
        Some("/abs"),
    ),
    ("https://bitbucket.org/team/repo", "feature/x", "", Some("")),
];

fuzz_target!(|data: &[u8]| {
    let Some((sel, rest)) = fjord_fuzz::selector(data) else {
        return;
    };
    let (head, body) = split_head(rest);
    let Ok(head) = std::str::from_utf8(head) else {
        return;
    };
    let headers: Vec<(&str, &str)> = head.lines().filter_map(|l| l.split_once(':')).collect();
    let default = WebhookSecrets::default();
    let secrets = if sel & 1 == 1 { &*SECRETS } else { &default };
    let Ok(WebhookOutcome::Push(event)) = webhook::parse(&headers, body, secrets) else {
        return;
    };
    let (repo, revision, path, paths) = APPS[usize::from(sel >> 1) % APPS.len()];
    let _ = webhook::should_refresh(&event, repo, revision, path, paths);
    for url in &event.repo_urls {
        let _ = webhook::should_refresh(&event, url, &event.revision, path, paths);
    }
});

/// Headers end at the first empty line (`\n\n` or `\r\n\r\n`).
fn split_head(data: &[u8]) -> (&[u8], &[u8]) {
    for (i, w) in data.windows(2).enumerate() {
        if w == b"\n\n" {
            return (&data[..i], &data[i + 2..]);
        }
        if w == b"\n\r" && data.get(i + 2) == Some(&b'\n') {
            return (&data[..i], &data[i + 3..]);
        }
    }
    (data, &[])
}
