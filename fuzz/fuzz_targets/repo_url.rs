//! Repository URL handling on arbitrary strings: parsing, normalisation, SSH detection, webhook
//! URL matching and credential redaction. Input: a URL, optionally a newline and a second text
//! (another URL to compare with, and a message about the first URL to redact).
//! Redaction must be idempotent, and a message redacted for a URL with a password must not
//! contain that password.
#![no_main]

use fjord_source::url::{is_ssh_url, normalize_url, same_url, RemoteUrl};
use fjord_source::{redact_text, redact_url};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (a, b) = text
        .split_once('\n')
        .unwrap_or((text, "https://example.com/org/repo.git"));
    for url in [a, b] {
        let _ = RemoteUrl::parse(url);
        let _ = is_ssh_url(url);
        let _ = normalize_url(url);
        let redacted = redact_url(url);
        assert_eq!(
            redact_url(&redacted),
            redacted,
            "redact_url is not idempotent"
        );
    }
    let _ = same_url(a, b);
    let _ = fjord_source::webhook::web_url_matches(a, b);
    let _ = redact_text(b);
    let message = fjord_source::redact::redact_message(b, a);
    if let Some(password) = password(a) {
        assert!(
            !message.contains(password),
            "the URL's password is left in the redacted message"
        );
    }
});

/// The password of `scheme://user:password@host/…` or `user:password@host:path`, when it is
/// long enough to be masked safely and has no `*` (the mask) or `%` (percent-encoding).
fn password(url: &str) -> Option<&str> {
    let url = url.trim();
    let head = url.split(['?', '#']).next()?;
    let rest = head.split_once("://").map_or(head, |(_, r)| r);
    let authority = rest.split('/').next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, password) = userinfo.split_once(':')?;
    (password.len() >= 3 && !password.contains(['*', '%'])).then_some(password)
}
