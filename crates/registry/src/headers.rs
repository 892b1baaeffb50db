//! Header grammar: `WWW-Authenticate` challenges and `Link: <url>; rel="next"`.

/// One authentication challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// `Basic realm=".."`.
    Basic,
    /// `Bearer realm="..",service="..",scope=".."`.
    Bearer {
        /// The token server's URL.
        realm: String,
        /// `service`, when given.
        service: Option<String>,
        /// `scope`, when given.
        scope: Option<String>,
    },
}

/// The challenges in one `WWW-Authenticate` value (several may share a value); schemes other
/// than Basic and Bearer, and Bearer without a realm, are skipped.
pub fn parse_challenges(value: &str) -> Vec<Challenge> {
    let mut out = Vec::new();
    let mut p = Parser { s: value, i: 0 };
    loop {
        p.skip(|c| c == ',' || c.is_whitespace());
        let scheme = p.token();
        if scheme.is_empty() {
            break;
        }
        let mut params: Vec<(String, String)> = Vec::new();
        loop {
            let save = p.i;
            p.skip(|c| c == ',' || c.is_whitespace());
            let key = p.token();
            p.skip(char::is_whitespace);
            if key.is_empty() || !p.eat('=') {
                // The next challenge's scheme (or the end).
                p.i = save;
                break;
            }
            p.skip(char::is_whitespace);
            let value = p.value();
            params.push((key.to_ascii_lowercase(), value));
        }
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        if scheme.eq_ignore_ascii_case("basic") {
            out.push(Challenge::Basic);
        } else if scheme.eq_ignore_ascii_case("bearer") {
            if let Some(realm) = get("realm").filter(|r| !r.is_empty()) {
                out.push(Challenge::Bearer {
                    realm,
                    service: get("service"),
                    scope: get("scope"),
                });
            }
        }
        if p.i >= p.s.len() {
            break;
        }
    }
    out
}

struct Parser<'a> {
    s: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.s[self.i..]
    }

    fn skip(&mut self, f: impl Fn(char) -> bool) {
        while let Some(c) = self.rest().chars().next() {
            if !f(c) {
                break;
            }
            self.i += c.len_utf8();
        }
    }

    fn eat(&mut self, want: char) -> bool {
        if self.rest().starts_with(want) {
            self.i += want.len_utf8();
            true
        } else {
            false
        }
    }

    /// An RFC 7230 token.
    fn token(&mut self) -> String {
        let start = self.i;
        self.skip(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c));
        self.s[start..self.i].to_string()
    }

    /// A quoted string (backslash escapes) or a token-ish run up to `,`.
    fn value(&mut self) -> String {
        if !self.eat('"') {
            let start = self.i;
            self.skip(|c| c != ',' && !c.is_whitespace());
            return self.s[start..self.i].to_string();
        }
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        let mut used = self.rest().len();
        while let Some((at, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, n)) = chars.next() {
                        out.push(n);
                    }
                }
                '"' => {
                    used = at + 1;
                    break;
                }
                c => out.push(c),
            }
        }
        self.i += used;
        out
    }
}

/// The `rel="next"` target of a `Link` header value, if any.
pub fn next_link(value: &str) -> Option<String> {
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let close = after.find('>')?;
        let url = &after[..close];
        let params_end = after[close..].find('<').map_or(after.len(), |n| close + n);
        let params = &after[close + 1..params_end];
        let is_next = params.split(';').any(|p| {
            let Some((k, v)) = p.split_once('=') else {
                return false;
            };
            k.trim().eq_ignore_ascii_case("rel")
                && v.trim()
                    .trim_end_matches(',')
                    .trim()
                    .trim_matches('"')
                    .split_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
        });
        if is_next {
            return Some(url.trim().to_string());
        }
        rest = &after[params_end..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_and_basic_challenges() {
        assert_eq!(
            parse_challenges(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#
            ),
            vec![Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/nginx:pull".into()),
            }]
        );
        assert_eq!(
            parse_challenges(r#"Basic realm="Registry Realm""#),
            vec![Challenge::Basic]
        );
        assert_eq!(
            parse_challenges(
                r#"Basic realm="a, b", bearer Realm=http://t/token , scope="x:y:pull,push", Negotiate"#
            ),
            vec![
                Challenge::Basic,
                Challenge::Bearer {
                    realm: "http://t/token".into(),
                    service: None,
                    scope: Some("x:y:pull,push".into()),
                }
            ]
        );
        assert_eq!(
            parse_challenges(r#"Bearer service="s""#),
            vec![],
            "no realm: unusable"
        );
        assert_eq!(parse_challenges(""), vec![]);
        assert_eq!(
            parse_challenges(r#"Bearer realm="q\"uote""#),
            vec![Challenge::Bearer {
                realm: "q\"uote".into(),
                service: None,
                scope: None
            }]
        );
    }

    #[test]
    fn next_links() {
        assert_eq!(
            next_link(r#"</v2/foo/tags/list?last=b&n=2>; rel="next""#).as_deref(),
            Some("/v2/foo/tags/list?last=b&n=2")
        );
        assert_eq!(
            next_link(r#"<https://x/v2/a?p=1>; rel="prev", <https://x/v2/a?p=3>; rel=next"#)
                .as_deref(),
            Some("https://x/v2/a?p=3")
        );
        assert_eq!(next_link(r#"</v2/a>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);
    }
}
