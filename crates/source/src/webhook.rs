//! Git push webhooks for the controller's `POST /api/webhook`, as Argo CD handles them: provider
//! detection from headers, signature / token verification (constant time), payload parsing into a
//! [`PushEvent`], and the decision which applications an event refreshes ([`matches()`]).

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha1::Sha1;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use thiserror::Error;

use crate::credentials::{secret_field, secret_name, CredentialError, SecretString};
use crate::paths;

/// Errors raised while handling a webhook request.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum WebhookError {
    /// No known provider header (`X-GitHub-Event`, `X-Gitlab-Event`, `X-Gitea-Event`,
    /// `X-Gogs-Event`, `X-Event-Key`, `X-Hook-UUID`) was present.
    #[error("unknown webhook event: no provider header")]
    UnknownProvider,
    /// A secret is configured for the provider and the request's signature, token or UUID is
    /// missing or wrong.
    #[error("{provider} webhook: signature verification failed")]
    BadSignature {
        /// The provider.
        provider: Provider,
    },
    /// The event type is not one fjord handles.
    #[error("{provider} webhook: event {event:?} is not handled")]
    UnsupportedEvent {
        /// The provider.
        provider: Provider,
        /// The event name from the header.
        event: String,
    },
    /// The body is not the provider's push payload.
    #[error("{provider} webhook: malformed payload: {reason}")]
    MalformedPayload {
        /// The provider.
        provider: Provider,
        /// What is wrong.
        reason: String,
    },
    /// The `argocd-secret` could not be read.
    #[error("webhook secrets")]
    Secret(#[from] CredentialError),
}

/// A webhook provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// GitHub (and GitHub Enterprise).
    GitHub,
    /// GitLab.
    GitLab,
    /// Gitea (and Forgejo).
    Gitea,
    /// Gogs.
    Gogs,
    /// Bitbucket Cloud.
    BitbucketCloud,
    /// Bitbucket Server / Data Center.
    BitbucketServer,
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Provider::GitHub => "GitHub",
            Provider::GitLab => "GitLab",
            Provider::Gitea => "Gitea",
            Provider::Gogs => "Gogs",
            Provider::BitbucketCloud => "Bitbucket",
            Provider::BitbucketServer => "Bitbucket Server",
        })
    }
}

/// Webhook secrets from an `argocd-secret`-style Secret. An unset secret disables verification
/// for that provider (as in Argo CD).
#[derive(Debug, Clone, Default)]
pub struct WebhookSecrets {
    /// `webhook.github.secret`.
    pub github: Option<SecretString>,
    /// `webhook.gitlab.secret`.
    pub gitlab: Option<SecretString>,
    /// `webhook.gitea.secret` (falls back to the Gogs secret when unset).
    pub gitea: Option<SecretString>,
    /// `webhook.gogs.secret`.
    pub gogs: Option<SecretString>,
    /// `webhook.bitbucket.uuid`.
    pub bitbucket_uuid: Option<SecretString>,
    /// `webhook.bitbucketserver.secret`.
    pub bitbucket_server: Option<SecretString>,
}

impl WebhookSecrets {
    /// Reads the webhook keys of an `argocd-secret` (base64 `data` or `stringData`).
    pub fn from_secret(secret: &Value) -> Result<Self, WebhookError> {
        let name = secret_name(secret);
        let get = |k: &str| -> Result<Option<SecretString>, WebhookError> {
            Ok(secret_field(secret, k, &name)?
                .filter(|v| !v.is_empty())
                .map(SecretString::new))
        };
        Ok(WebhookSecrets {
            github: get("webhook.github.secret")?,
            gitlab: get("webhook.gitlab.secret")?,
            gitea: get("webhook.gitea.secret")?,
            gogs: get("webhook.gogs.secret")?,
            bitbucket_uuid: get("webhook.bitbucket.uuid")?,
            bitbucket_server: get("webhook.bitbucketserver.secret")?,
        })
    }
}

/// A push, as the controller needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushEvent {
    /// Who sent it.
    pub provider: Provider,
    /// Every repository URL in the payload (web URL first, then clone URLs), deduplicated.
    pub repo_urls: Vec<String>,
    /// The full ref pushed (`refs/heads/main`, `refs/tags/v1`).
    pub git_ref: String,
    /// The revision as Argo CD derives it from the ref (`main`, `feature/x`, `v1`).
    pub revision: String,
    /// The commit before the push, when given.
    pub before: Option<String>,
    /// The commit after the push, when given.
    pub after: Option<String>,
    /// Whether the push touched the repository's default branch (true when the payload cannot
    /// tell, as for Bitbucket, so that `HEAD` apps are checked).
    pub touched_head: bool,
    /// Files added, modified or removed by the pushed commits; empty when the payload does not
    /// list them (then every matching app is refreshed).
    pub changed_files: Vec<String>,
}

/// The result of a verified webhook request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// A push to act on.
    Push(PushEvent),
    /// A provider ping (connectivity test); nothing to do.
    Ping(Provider),
}

fn header<'a>(headers: &[(&str, &'a str)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// Verifies and parses a webhook request. `headers` are (name, value) pairs (names compared
/// case-insensitively); `body` is the raw request body (signatures cover the exact bytes).
pub fn parse(
    headers: &[(&str, &str)],
    body: &[u8],
    secrets: &WebhookSecrets,
) -> Result<WebhookOutcome, WebhookError> {
    let h = |n: &str| header(headers, n);
    if let Some(event) = h("X-Gitea-Event") {
        let secret = secrets.gitea.as_ref().or(secrets.gogs.as_ref());
        verify_hex_hmac(Provider::Gitea, secret, h("X-Gitea-Signature"), body)?;
        return github_like(Provider::Gitea, event, body);
    }
    if let Some(event) = h("X-Gogs-Event") {
        verify_hex_hmac(
            Provider::Gogs,
            secrets.gogs.as_ref(),
            h("X-Gogs-Signature"),
            body,
        )?;
        return github_like(Provider::Gogs, event, body);
    }
    if let Some(event) = h("X-GitHub-Event") {
        if let Some(secret) = &secrets.github {
            let ok = match (h("X-Hub-Signature-256"), h("X-Hub-Signature")) {
                (Some(sig), _) => sig
                    .strip_prefix("sha256=")
                    .is_some_and(|hex| hmac_sha256_ok(secret, body, hex)),
                (None, Some(sig)) => sig
                    .strip_prefix("sha1=")
                    .is_some_and(|hex| hmac_sha1_ok(secret, body, hex)),
                (None, None) => false,
            };
            if !ok {
                return Err(WebhookError::BadSignature {
                    provider: Provider::GitHub,
                });
            }
        }
        // GitHub signs the raw body; a form-encoded delivery carries the JSON in `payload`.
        if is_form(h("Content-Type")) {
            let payload = form_payload(Provider::GitHub, body)?;
            return github_like(Provider::GitHub, event, &payload);
        }
        return github_like(Provider::GitHub, event, body);
    }
    if let Some(event) = h("X-Gitlab-Event") {
        if let Some(secret) = &secrets.gitlab {
            if !h("X-Gitlab-Token").is_some_and(|t| ct_eq(t, secret.expose())) {
                return Err(WebhookError::BadSignature {
                    provider: Provider::GitLab,
                });
            }
        }
        return gitlab(event, body);
    }
    let event_key = h("X-Event-Key");
    if h("X-Hook-UUID").is_some() || event_key == Some("repo:push") {
        if let Some(uuid) = &secrets.bitbucket_uuid {
            if !h("X-Hook-UUID").is_some_and(|u| ct_eq(u, uuid.expose())) {
                return Err(WebhookError::BadSignature {
                    provider: Provider::BitbucketCloud,
                });
            }
        }
        return bitbucket_cloud(event_key.unwrap_or_default(), body);
    }
    if let Some(event) = event_key {
        if let Some(secret) = &secrets.bitbucket_server {
            let ok = h("X-Hub-Signature")
                .and_then(|s| s.strip_prefix("sha256="))
                .is_some_and(|hex| hmac_sha256_ok(secret, body, hex));
            if !ok {
                return Err(WebhookError::BadSignature {
                    provider: Provider::BitbucketServer,
                });
            }
        }
        return bitbucket_server(event, body);
    }
    Err(WebhookError::UnknownProvider)
}

/// Whether a `Content-Type` is `application/x-www-form-urlencoded` (parameters ignored).
fn is_form(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|c| c.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// The `payload` field of a form-encoded delivery (GitHub's "application/x-www-form-urlencoded"
/// content type), URL-decoded. The first `payload` field wins, as Go's `Form.Get` does.
pub fn form_payload(provider: Provider, body: &[u8]) -> Result<Vec<u8>, WebhookError> {
    let malformed = |reason: &str| WebhookError::MalformedPayload {
        provider,
        reason: reason.to_string(),
    };
    for pair in body.split(|b| *b == b'&') {
        let mut kv = pair.splitn(2, |b| *b == b'=');
        let key = url_decode(kv.next().unwrap_or_default())
            .ok_or_else(|| malformed("form field name is not valid URL encoding"))?;
        if key != b"payload" {
            continue;
        }
        return url_decode(kv.next().unwrap_or_default())
            .ok_or_else(|| malformed("form field payload is not valid URL encoding"));
    }
    Err(malformed("form-encoded body has no payload field"))
}

/// Decodes `application/x-www-form-urlencoded` text: `+` is a space, `%XX` a byte. `None` on
/// a truncated or non-hex escape (Go's `url.ParseQuery` refuses those too).
fn url_decode(s: &[u8]) -> Option<Vec<u8>> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = hex(*s.get(i + 1)?)?;
                let lo = hex(*s.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    Some(out)
}

fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

fn hmac_sha256_ok(secret: &SecretString, body: &[u8], sig_hex: &str) -> bool {
    let Ok(sig) = hex::decode(sig_hex) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

fn hmac_sha1_ok(secret: &SecretString, body: &[u8], sig_hex: &str) -> bool {
    let Ok(sig) = hex::decode(sig_hex) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret.expose().as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

fn verify_hex_hmac(
    provider: Provider,
    secret: Option<&SecretString>,
    sig: Option<&str>,
    body: &[u8],
) -> Result<(), WebhookError> {
    match secret {
        None => Ok(()),
        Some(s) if sig.is_some_and(|hex| hmac_sha256_ok(s, body, hex)) => Ok(()),
        Some(_) => Err(WebhookError::BadSignature { provider }),
    }
}

fn json(provider: Provider, body: &[u8]) -> Result<Value, WebhookError> {
    serde_json::from_slice(body).map_err(|e| WebhookError::MalformedPayload {
        provider,
        reason: e.to_string(),
    })
}

fn str_at<'a>(v: &'a Value, ptr: &str) -> Option<&'a str> {
    v.pointer(ptr)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn push_urls(out: &mut Vec<String>, v: &Value, ptrs: &[&str]) {
    for p in ptrs {
        if let Some(u) = str_at(v, p) {
            if !out.iter().any(|x| x == u) {
                out.push(u.to_string());
            }
        }
    }
}

fn commit_files(v: &Value) -> Vec<String> {
    let mut files = Vec::new();
    for c in v
        .get("commits")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for kind in ["added", "modified", "removed"] {
            for f in c.get(kind).and_then(Value::as_array).into_iter().flatten() {
                if let Some(f) = f.as_str() {
                    files.push(f.to_string());
                }
            }
        }
    }
    files
}

fn missing(provider: Provider, what: &str) -> WebhookError {
    WebhookError::MalformedPayload {
        provider,
        reason: format!("missing {what}"),
    }
}

/// GitHub, Gitea and Gogs share the push payload shape.
fn github_like(
    provider: Provider,
    event: &str,
    body: &[u8],
) -> Result<WebhookOutcome, WebhookError> {
    match event {
        "push" => {}
        "ping" => return Ok(WebhookOutcome::Ping(provider)),
        other => {
            return Err(WebhookError::UnsupportedEvent {
                provider,
                event: other.to_string(),
            })
        }
    }
    let v = json(provider, body)?;
    ref_push(
        provider,
        &v,
        &[
            "/repository/html_url",
            "/repository/clone_url",
            "/repository/ssh_url",
            "/repository/git_url",
        ],
        "/repository/default_branch",
    )
}

/// The push event of a payload shaped as GitHub's or GitLab's: `ref`, the repository URLs at
/// `url_ptrs` (at least one is required; the first names what is missing), the default branch
/// at `default_branch_ptr`, `before`/`after` and the files of the listed `commits`.
fn ref_push(
    provider: Provider,
    v: &Value,
    url_ptrs: &[&str],
    default_branch_ptr: &str,
) -> Result<WebhookOutcome, WebhookError> {
    let git_ref = str_at(v, "/ref").ok_or_else(|| missing(provider, "ref"))?;
    let mut repo_urls = Vec::new();
    push_urls(&mut repo_urls, v, url_ptrs);
    if repo_urls.is_empty() {
        let first = url_ptrs.first().copied().unwrap_or_default();
        return Err(missing(
            provider,
            &first.trim_start_matches('/').replace('/', "."),
        ));
    }
    let revision = parse_revision(git_ref);
    Ok(WebhookOutcome::Push(PushEvent {
        provider,
        touched_head: str_at(v, default_branch_ptr) == Some(revision.as_str()),
        repo_urls,
        git_ref: git_ref.to_string(),
        revision,
        before: str_at(v, "/before").map(str::to_string),
        after: str_at(v, "/after").map(str::to_string),
        changed_files: commit_files(v),
    }))
}

fn gitlab(event: &str, body: &[u8]) -> Result<WebhookOutcome, WebhookError> {
    let provider = Provider::GitLab;
    if !matches!(event, "Push Hook" | "Tag Push Hook" | "System Hook") {
        return Err(WebhookError::UnsupportedEvent {
            provider,
            event: event.to_string(),
        });
    }
    let v = json(provider, body)?;
    let kind = str_at(&v, "/object_kind").unwrap_or_default();
    if !matches!(kind, "push" | "tag_push") {
        return Err(WebhookError::UnsupportedEvent {
            provider,
            event: format!("{event} ({kind})"),
        });
    }
    ref_push(
        provider,
        &v,
        &[
            "/project/web_url",
            "/project/git_http_url",
            "/project/git_ssh_url",
            "/repository/homepage",
            "/repository/git_http_url",
            "/repository/git_ssh_url",
        ],
        "/project/default_branch",
    )
}

fn bitbucket_cloud(event: &str, body: &[u8]) -> Result<WebhookOutcome, WebhookError> {
    let provider = Provider::BitbucketCloud;
    if event != "repo:push" {
        return Err(WebhookError::UnsupportedEvent {
            provider,
            event: event.to_string(),
        });
    }
    let v = json(provider, body)?;
    let mut repo_urls = Vec::new();
    push_urls(&mut repo_urls, &v, &["/repository/links/html/href"]);
    if repo_urls.is_empty() {
        return Err(missing(provider, "repository.links.html.href"));
    }
    let change = v
        .pointer("/push/changes/0")
        .ok_or_else(|| missing(provider, "push.changes"))?;
    let side = change
        .get("new")
        .filter(|n| !n.is_null())
        .or_else(|| change.get("old"))
        .ok_or_else(|| missing(provider, "push.changes[0].new"))?;
    let name =
        str_at(side, "/name").ok_or_else(|| missing(provider, "push.changes[0].new.name"))?;
    let git_ref = match str_at(side, "/type") {
        Some("tag") | Some("annotated_tag") => format!("refs/tags/{name}"),
        _ => format!("refs/heads/{name}"),
    };
    Ok(WebhookOutcome::Push(PushEvent {
        provider,
        repo_urls,
        git_ref,
        revision: name.to_string(),
        before: str_at(change, "/old/target/hash").map(str::to_string),
        after: str_at(change, "/new/target/hash").map(str::to_string),
        // The payload does not say which branch is the main one.
        touched_head: true,
        changed_files: Vec::new(),
    }))
}

fn bitbucket_server(event: &str, body: &[u8]) -> Result<WebhookOutcome, WebhookError> {
    let provider = Provider::BitbucketServer;
    match event {
        "repo:refs_changed" => {}
        "diagnostics:ping" => return Ok(WebhookOutcome::Ping(provider)),
        other => {
            return Err(WebhookError::UnsupportedEvent {
                provider,
                event: other.to_string(),
            })
        }
    }
    let v = json(provider, body)?;
    let mut repo_urls = Vec::new();
    for link in v
        .pointer("/repository/links/clone")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if matches!(str_at(link, "/name"), Some("http") | Some("ssh")) {
            push_urls(&mut repo_urls, link, &["/href"]);
        }
    }
    if repo_urls.is_empty() {
        return Err(missing(provider, "repository.links.clone"));
    }
    let change = v
        .pointer("/changes/0")
        .ok_or_else(|| missing(provider, "changes"))?;
    let git_ref = str_at(change, "/ref/id")
        .or_else(|| str_at(change, "/refId"))
        .ok_or_else(|| missing(provider, "changes[0].ref.id"))?;
    Ok(WebhookOutcome::Push(PushEvent {
        provider,
        repo_urls,
        git_ref: git_ref.to_string(),
        revision: parse_revision(git_ref),
        before: str_at(change, "/fromHash").map(str::to_string),
        after: str_at(change, "/toHash").map(str::to_string),
        touched_head: true,
        changed_files: Vec::new(),
    }))
}

/// Argo CD's `ParseRevision`: the ref with its first two `/`-separated parts dropped
/// (`refs/heads/feature/x` → `feature/x`, `main` → `main`).
pub fn parse_revision(git_ref: &str) -> String {
    git_ref
        .splitn(3, '/')
        .last()
        .unwrap_or_default()
        .to_string()
}

/// Whether the pushed revision is the one an app with `target_revision` follows (Argo CD's
/// `sourceRevisionHasChanged`): `HEAD`/empty follow the default branch; `refs/heads/x` and
/// `refs/tags/x` compare their short name; anything else must equal the pushed revision exactly
/// (so apps pinned to a commit SHA are never refreshed by a push).
pub fn revision_matches(event: &PushEvent, target_revision: &str) -> bool {
    let target = parse_revision(target_revision);
    if target == "HEAD" || target.is_empty() {
        return event.touched_head;
    }
    if target_revision.starts_with("refs/heads/") || target_revision.starts_with("refs/tags/") {
        return event.revision == target;
    }
    target_revision == event.revision
}

/// Whether `repo_url` (an app's `repoURL`) names the repository of web or clone URL `web_url`,
/// as Argo CD's `GetWebURLRegex` decides: any of `http`, `https`, `ssh` or no scheme, an optional
/// user, an optional `ssh.`/`altssh.` host prefix, an optional port, `:` or `/` before the path,
/// and an optional `.git`; case-insensitive.
pub fn web_url_matches(web_url: &str, repo_url: &str) -> bool {
    thread_local! {
        // One push is matched against every app in turn: its pattern is compiled once.
        static LAST: std::cell::RefCell<Option<(String, Option<regex::Regex>)>> =
            const { std::cell::RefCell::new(None) };
    }
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if last.as_ref().is_none_or(|(url, _)| url != web_url) {
            *last = Some((web_url.to_string(), web_url_regex(web_url)));
        }
        last.as_ref()
            .and_then(|(_, re)| re.as_ref())
            .is_some_and(|re| re.is_match(repo_url.trim()))
    })
}

/// The pattern of [`web_url_matches`] for `web_url` (`None` when it has no host and path).
fn web_url_regex(web_url: &str) -> Option<regex::Regex> {
    let (host, path) = host_and_path(web_url)?;
    let user = r"[0-9A-Za-z_.][0-9A-Za-z_.\-]{0,30}[0-9A-Za-z_.$\-]?";
    let pattern = format!(
        r"(?i)^((https?|ssh)://)?({user}@)?((alt)?ssh\.)?{}(:\d+)?[:/]{}(\.git)?$",
        regex::escape(&host),
        regex::escape(&path)
    );
    regex::Regex::new(&pattern).ok()
}

/// Host and path (no leading `/`, no `.git`) of a URL or scp-like address.
fn host_and_path(url: &str) -> Option<(String, String)> {
    let url = url.trim();
    let rest = match url.find("://") {
        Some(i) => &url[i + 3..],
        None => {
            // scp-like user@host:path
            let (userhost, path) = url.split_once(':')?;
            let host = userhost.rsplit('@').next()?;
            return Some((host.to_string(), trim_git(path.trim_start_matches('/'))));
        }
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let hostport = authority.rsplit('@').next()?;
    let host = match hostport.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => hostport,
    };
    if host.is_empty() || path.is_empty() {
        return None;
    }
    Some((host.to_string(), trim_git(path.trim_end_matches('/'))))
}

fn trim_git(p: &str) -> String {
    p.strip_suffix(".git").unwrap_or(p).to_string()
}

/// Whether `event` should refresh an app source with `app_repo_url` and `app_target_revision`
/// (repository and revision match; the manifest-generate-paths annotation is not consulted).
pub fn matches(event: &PushEvent, app_repo_url: &str, app_target_revision: &str) -> bool {
    revision_matches(event, app_target_revision)
        && event
            .repo_urls
            .iter()
            .any(|u| web_url_matches(u, app_repo_url))
}

/// [`matches()`] plus Argo CD's manifest-generate-paths filter: the app is refreshed only when one of
/// the pushed files falls under its annotation paths (or the event lists no files).
pub fn should_refresh(
    event: &PushEvent,
    app_repo_url: &str,
    app_target_revision: &str,
    app_path: &str,
    manifest_generate_paths: Option<&str>,
) -> bool {
    matches(event, app_repo_url, app_target_revision)
        && paths::affects(
            manifest_generate_paths,
            app_path,
            &paths::to_paths(&event.changed_files),
        )
}

#[cfg(test)]
#[path = "webhook_tests.rs"]
mod tests;
