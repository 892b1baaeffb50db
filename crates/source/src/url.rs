//! Repository URL handling: Argo CD's normalisation (the mirror cache key and the credential match
//! key) and the parts of a URL needed to connect (scheme, host, port).

use thiserror::Error;

/// Errors raised while taking a repository URL apart.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum UrlError {
    /// The URL was empty (or only whitespace).
    #[error("repository URL is empty")]
    Empty,
    /// The URL has no host where one is required.
    #[error("repository URL {url:?} has no host")]
    MissingHost {
        /// The URL as given.
        url: String,
    },
    /// The port of the URL is not a number.
    #[error("repository URL {url:?} has an invalid port")]
    BadPort {
        /// The URL as given.
        url: String,
    },
}

/// Whether `url` is an SSH URL as Argo CD decides: `ssh://…`, or scp-like `user@host:path`.
pub fn is_ssh_url(url: &str) -> bool {
    let url = url.trim();
    if url.starts_with("ssh://") {
        return true;
    }
    if url.contains("://") {
        return false;
    }
    scp_parts(url).is_some()
}

/// Splits an scp-like `user@host:path` into (`user@host`, `path`). Needs a user, as Argo CD does.
fn scp_parts(url: &str) -> Option<(&str, &str)> {
    let at = url.find('@')?;
    let colon = url[at..].find(':')? + at;
    let (userhost, path) = (&url[..colon], &url[colon + 1..]);
    if userhost.contains('/') || path.starts_with("//") {
        return None;
    }
    Some((userhost, path))
}

/// Normalises a repository URL as Argo CD's `NormalizeGitURL` does: trims and lowercases it,
/// rewrites scp-like `git@host:org/repo` to `git@host/org/repo` (the same form as
/// `ssh://git@host/org/repo` after dropping `ssh://`), and strips one trailing `.git`.
///
/// Two URLs name the same repository when their normalised forms are equal.
pub fn normalize_url(url: &str) -> String {
    let mut s = url.trim().to_lowercase();
    if let Some(rest) = s.strip_prefix("ssh://") {
        s = rest.to_string();
    } else if !s.contains("://") {
        if let Some((userhost, path)) = scp_parts(&s) {
            s = format!("{userhost}/{path}");
        }
    }
    if let Some(stripped) = s.strip_suffix(".git") {
        s = stripped.to_string();
    }
    s
}

/// Whether two repository URLs name the same repository (Argo CD's `SameURL`).
pub fn same_url(a: &str, b: &str) -> bool {
    normalize_url(a) == normalize_url(b)
}

/// The transport a repository URL uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A local path or `file://` URL.
    File,
    /// The git daemon protocol, `git://`.
    Git,
    /// Smart HTTP, `http://` or `https://`.
    Http,
    /// SSH, `ssh://` or scp-like `user@host:path`.
    Ssh,
}

/// The connection-relevant parts of a repository URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteUrl {
    /// The transport.
    pub transport: Transport,
    /// The user named in the URL, if any (`git` in `git@host:org/repo`).
    pub user: Option<String>,
    /// The host (empty for local paths).
    pub host: String,
    /// The port when given explicitly.
    pub port: Option<u16>,
}

impl RemoteUrl {
    /// Takes `url` apart. Local paths and `file://` URLs have an empty host.
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(UrlError::Empty);
        }
        let (transport, rest) = if let Some(r) = url.strip_prefix("file://") {
            (Transport::File, r)
        } else if let Some(r) = url.strip_prefix("git://") {
            (Transport::Git, r)
        } else if let Some(r) = url.strip_prefix("https://") {
            (Transport::Http, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (Transport::Http, r)
        } else if let Some(r) = url.strip_prefix("ssh://") {
            (Transport::Ssh, r)
        } else if let Some((userhost, _)) = scp_parts(url) {
            let (user, host) = split_user(userhost);
            return Ok(RemoteUrl {
                transport: Transport::Ssh,
                user,
                host: host.to_string(),
                port: None,
            });
        } else {
            return Ok(RemoteUrl {
                transport: Transport::File,
                user: None,
                host: String::new(),
                port: None,
            });
        };
        if transport == Transport::File {
            return Ok(RemoteUrl {
                transport,
                user: None,
                host: String::new(),
                port: None,
            });
        }
        let authority = rest.split('/').next().unwrap_or_default();
        let (user, hostport) = split_user(authority);
        let (host, port) = split_port(hostport, url)?;
        if host.is_empty() {
            return Err(UrlError::MissingHost {
                url: url.to_string(),
            });
        }
        Ok(RemoteUrl {
            transport,
            user: user.map(|u| u.split(':').next().unwrap_or_default().to_string()),
            host: host.to_string(),
            port,
        })
    }
}

fn split_user(authority: &str) -> (Option<String>, &str) {
    match authority.rfind('@') {
        Some(i) => (Some(authority[..i].to_string()), &authority[i + 1..]),
        None => (None, authority),
    }
}

fn split_port<'a>(hostport: &'a str, url: &str) -> Result<(&'a str, Option<u16>), UrlError> {
    if let Some(rest) = hostport.strip_prefix('[') {
        // IPv6 literal: [::1]:22
        let end = rest.find(']').ok_or_else(|| UrlError::MissingHost {
            url: url.to_string(),
        })?;
        let host = &rest[..end];
        let after = &rest[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) if !p.is_empty() => Some(p.parse().map_err(|_| UrlError::BadPort {
                url: url.to_string(),
            })?),
            _ => None,
        };
        return Ok((host, port));
    }
    match hostport.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() => {
            let port = p.parse().map_err(|_| UrlError::BadPort {
                url: url.to_string(),
            })?;
            Ok((h, Some(port)))
        }
        Some((h, _)) => Ok((h, None)),
        None => Ok((hostport, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_argo() {
        assert_eq!(
            normalize_url("git@GitHub.com:Org/Repo.git"),
            "git@github.com/org/repo"
        );
        assert_eq!(
            normalize_url("ssh://git@github.com/org/repo"),
            "git@github.com/org/repo"
        );
        assert_eq!(
            normalize_url(" https://GitHub.com/org/repo.git "),
            "https://github.com/org/repo"
        );
        assert_eq!(
            normalize_url("https://github.com/org/repo"),
            "https://github.com/org/repo"
        );
        assert!(same_url(
            "git@github.com:org/repo.git",
            "ssh://git@github.com/org/repo"
        ));
        assert!(!same_url(
            "git@github.com:org/repo.git",
            "https://github.com/org/repo"
        ));
        assert!(!same_url(
            "https://github.com/org/repo-a",
            "https://github.com/org/repo"
        ));
        // only one .git suffix goes
        assert_eq!(normalize_url("file:///tmp/x.git.git"), "file:///tmp/x.git");
    }

    #[test]
    fn detects_ssh_urls() {
        assert!(is_ssh_url("git@github.com:org/repo.git"));
        assert!(is_ssh_url("ssh://git@127.0.0.1:2222/srv/repo.git"));
        assert!(!is_ssh_url("https://user@github.com/org/repo.git"));
        assert!(!is_ssh_url("/tmp/repo"));
        assert!(!is_ssh_url("git://127.0.0.1:9418/repo"));
    }

    #[test]
    fn parses_remote_parts() {
        let r = RemoteUrl::parse("ssh://git@127.0.0.1:2222/srv/repo.git").unwrap();
        assert_eq!(r.transport, Transport::Ssh);
        assert_eq!(r.user.as_deref(), Some("git"));
        assert_eq!(r.host, "127.0.0.1");
        assert_eq!(r.port, Some(2222));
        let r = RemoteUrl::parse("git@github.com:org/repo.git").unwrap();
        assert_eq!((r.host.as_str(), r.port), ("github.com", None));
        let r = RemoteUrl::parse("https://u:p@example.com/a/b").unwrap();
        assert_eq!(r.transport, Transport::Http);
        assert_eq!(r.user.as_deref(), Some("u"));
        assert_eq!(
            RemoteUrl::parse("/srv/repo").unwrap().transport,
            Transport::File
        );
        assert_eq!(
            RemoteUrl::parse("file:///srv/repo").unwrap().transport,
            Transport::File
        );
        assert_eq!(
            RemoteUrl::parse("ssh://git@h:xx/r"),
            Err(UrlError::BadPort {
                url: "ssh://git@h:xx/r".into()
            })
        );
        assert_eq!(RemoteUrl::parse("  "), Err(UrlError::Empty));
        let r = RemoteUrl::parse("ssh://git@[::1]:22/r").unwrap();
        assert_eq!((r.host.as_str(), r.port), ("::1", Some(22)));
    }
}
