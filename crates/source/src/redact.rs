//! Credentials out of everything fjord prints: repository URLs in metrics, logs, events,
//! conditions and CLI output, and URLs inside libgit2's messages.
//!
//! What is removed, conservatively:
//! - the password of `scheme://user:password@host/…` and of scp-like `user:password@host:path`
//!   (the user name stays, as Argo CD's own redaction keeps it);
//! - a user part that is itself a token (`https://ghp_…@github.com/…`, anything of
//!   [`TOKEN_USER_LEN`] characters or more, or a known token prefix): it becomes `***`;
//! - the value of query parameters that carry secrets (`access_token`, `private_token`,
//!   `token`, and any name containing `token`, `password`, `passwd`, `secret`, `key`, `auth`,
//!   `sig` or `credential`): it becomes `***`.

/// A user name this long (without a password) is taken for a token and hidden.
pub const TOKEN_USER_LEN: usize = 20;

/// Prefixes of well-known access tokens (GitHub, GitLab, Bitbucket, Azure).
const TOKEN_PREFIXES: [&str; 8] = [
    "ghp_",
    "gho_",
    "ghs_",
    "ghu_",
    "github_pat_",
    "glpat-",
    "gldt-",
    "atbb",
];

/// Query parameter name fragments whose values are secrets.
const SECRET_PARAMS: [&str; 8] = [
    "token",
    "password",
    "passwd",
    "secret",
    "key",
    "auth",
    "sig",
    "credential",
];

const MASK: &str = "***";

/// `url` with its credentials removed (see the module documentation). Text that is no URL is
/// returned trimmed and otherwise unchanged.
pub fn redact_url(url: &str) -> String {
    let url = url.trim();
    let (head, query) = match url.find('?') {
        Some(q) => (&url[..q], Some(&url[q + 1..])),
        None => (url, None),
    };
    let mut out = redact_userinfo(head);
    if let Some(q) = query {
        out.push('?');
        out.push_str(&redact_query(q));
    }
    out
}

/// The user-info part of `head` (a URL without its query) redacted.
fn redact_userinfo(head: &str) -> String {
    let (prefix, rest) = match head.find("://") {
        Some(i) => head.split_at(i + 3),
        // scp-like `user[:password]@host:path`; local paths (`/srv/a@b`) have no user part.
        None if head.starts_with(['/', '.']) => return head.to_string(),
        None => ("", head),
    };
    let authority_end = rest.find(['/', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return head.to_string();
    };
    let userinfo = &rest[..at];
    let user = match userinfo.split_once(':') {
        Some((user, _password)) if !token_like(user) => user,
        Some(_) => MASK,
        None if token_like(userinfo) => MASK,
        None => userinfo,
    };
    format!("{prefix}{user}{}", &rest[at..])
}

fn token_like(user: &str) -> bool {
    user.len() >= TOKEN_USER_LEN || TOKEN_PREFIXES.iter().any(|p| user.starts_with(p))
}

fn redact_query(query: &str) -> String {
    let (query, fragment) = match query.find('#') {
        Some(f) => (&query[..f], &query[f..]),
        None => (query, ""),
    };
    let params: Vec<String> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !v.is_empty() && secret_param(k) => format!("{k}={MASK}"),
            _ => p.to_string(),
        })
        .collect();
    format!("{}{fragment}", params.join("&"))
}

fn secret_param(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_PARAMS.iter().any(|s| name.contains(s))
}

/// `text` with every `scheme://…` URL in it redacted by [`redact_url`] (a URL ends at
/// whitespace or a quote, bracket or angle bracket).
pub fn redact_text(text: &str) -> String {
    if !text.contains("://") && !text.contains('?') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let start = rest[..i]
            .char_indices()
            .rfind(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |(p, c)| p + c.len_utf8());
        let end = rest[i..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>' | ')'))
            .map_or(rest.len(), |p| p + i);
        out.push_str(&rest[..start]);
        out.push_str(&redact_url(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// A message from libgit2 (or anything else) about the repository at `url`, safe to print:
/// the raw URL is replaced by its redacted form, any other URL in it is redacted, and the
/// URL's password (raw and percent-decoded) is masked wherever else it appears.
pub fn redact_message(message: &str, url: &str) -> String {
    let url = url.trim();
    let mut out = if url.is_empty() {
        message.to_string()
    } else {
        message.replace(url, &redact_url(url))
    };
    out = redact_text(&out);
    for secret in url_secrets(url) {
        out = out.replace(&secret, MASK);
    }
    out
}

/// The password (raw and percent-decoded) of `url`, and a token-like user; at least 3
/// characters long, so that masking them cannot mangle ordinary words.
fn url_secrets(url: &str) -> Vec<String> {
    let head = url.split(['?', '#']).next().unwrap_or_default();
    let rest = head.split_once("://").map_or(head, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or_default();
    let Some((userinfo, _)) = authority.rsplit_once('@') else {
        return Vec::new();
    };
    let secret = match userinfo.split_once(':') {
        Some((_, password)) => password,
        None if token_like(userinfo) => userinfo,
        None => return Vec::new(),
    };
    let mut out = vec![secret.to_string(), percent_decode(secret)];
    out.retain(|s| s.len() >= 3);
    out.dedup();
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scheme_after_multibyte_text_is_found_without_splitting_a_character() {
        // Found by the repo_url fuzz target: the character before the scheme is two bytes long.
        let text = "hiu\u{45c}\u{652}ogt+s://uh:secret@host:65536 x";
        let out = redact_text(text);
        assert!(!out.contains("secret"), "{out}");
        assert!(out.starts_with("hiu\u{45c}\u{652}ogt+s://"), "{out}");
    }

    #[test]
    fn passwords_leave_http_and_scp_urls() {
        assert_eq!(
            redact_url("https://bob:hunter2@git.example.com/org/r.git"),
            "https://bob@git.example.com/org/r.git"
        );
        assert_eq!(
            redact_url("git://u:s3cr%40t@127.0.0.1:9418/r.git"),
            "git://u@127.0.0.1:9418/r.git"
        );
        assert_eq!(
            redact_url("ssh://git:pw@host:2222/srv/r.git"),
            "ssh://git@host:2222/srv/r.git"
        );
        assert_eq!(
            redact_url("git:hunter2@github.com:org/r.git"),
            "git@github.com:org/r.git"
        );
        // A password holding '@' still goes entirely.
        assert_eq!(redact_url("https://bob:a@b@host/r"), "https://bob@host/r");
    }

    #[test]
    fn urls_without_credentials_are_unchanged() {
        for u in [
            "https://git.example.com/a",
            "git@github.com:org/r.git",
            "ssh://git@127.0.0.1:2222/srv/repo.git",
            "/srv/a@b/repo",
            "file:///srv/repo",
            "https://host/r?ref=main",
        ] {
            assert_eq!(redact_url(u), u);
        }
    }

    #[test]
    fn token_users_and_query_tokens_are_masked() {
        assert_eq!(
            redact_url("https://ghp_abcdef@github.com/org/r"),
            "https://***@github.com/org/r"
        );
        assert_eq!(
            redact_url("https://0123456789abcdef0123456789@host/r"),
            "https://***@host/r"
        );
        assert_eq!(
            redact_url("https://host/r.git?access_token=abc&ref=main"),
            "https://host/r.git?access_token=***&ref=main"
        );
        assert_eq!(
            redact_url("https://host/r?private_token=x#frag"),
            "https://host/r?private_token=***#frag"
        );
        assert_eq!(
            redact_url("https://host/r?token=x"),
            "https://host/r?token=***"
        );
    }

    #[test]
    fn urls_inside_text_and_known_passwords_are_masked() {
        let url = "https://bob:s3cr%21t@git.example.com/r.git";
        let msg = format!(
            "failed to fetch '{url}': server said s3cr!t and s3cr%21t; see \"http://a:b@c/d\""
        );
        let out = redact_message(&msg, url);
        assert!(!out.contains("s3cr"), "{out}");
        assert!(!out.contains("a:b@"), "{out}");
        assert!(out.contains("https://bob@git.example.com/r.git"), "{out}");
        assert!(out.contains("http://a@c/d"), "{out}");
        assert_eq!(redact_text("plain words, no URL"), "plain words, no URL");
    }
}
