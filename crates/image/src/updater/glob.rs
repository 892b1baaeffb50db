//! Shell patterns with the syntax and semantics of Go's `path/filepath.Match` on Unix, which
//! Image Updater uses for `ignore-tags`: `*` (any run of characters except `/`), `?` (one character
//! except `/`), `[...]` / `[^...]` classes with `a-z` ranges, and `\` escapes. A malformed
//! pattern is an error (Go returns `ErrBadPattern`), never a silent non-match.

/// Why a pattern is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed pattern {pattern:?}: {reason}")]
pub struct GlobError {
    /// The pattern.
    pub pattern: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Lit(char),
    One,
    Star,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    tokens: Vec<Token>,
}

impl Glob {
    /// Compiles `pattern`, refusing what Go's `filepath.Match` calls a bad pattern.
    pub fn new(pattern: &str) -> Result<Glob, GlobError> {
        let bad = |reason| GlobError {
            pattern: pattern.to_string(),
            reason,
        };
        let mut chars = pattern.chars().peekable();
        let mut tokens = Vec::new();
        while let Some(c) = chars.next() {
            match c {
                '*' => tokens.push(Token::Star),
                '?' => tokens.push(Token::One),
                '\\' => tokens.push(Token::Lit(
                    chars.next().ok_or_else(|| bad("trailing backslash"))?,
                )),
                '[' => {
                    let negated = chars.next_if_eq(&'^').is_some();
                    let mut ranges = Vec::new();
                    loop {
                        if chars.peek() == Some(&']') && !ranges.is_empty() {
                            chars.next();
                            break;
                        }
                        let lo =
                            class_char(&mut chars).ok_or_else(|| bad("bad character class"))?;
                        let hi = if chars.next_if_eq(&'-').is_some() {
                            class_char(&mut chars)
                                .ok_or_else(|| bad("bad range in character class"))?
                        } else {
                            lo
                        };
                        if hi < lo {
                            return Err(bad("inverted range in character class"));
                        }
                        ranges.push((lo, hi));
                    }
                    tokens.push(Token::Class { negated, ranges });
                }
                c => tokens.push(Token::Lit(c)),
            }
        }
        Ok(Glob { tokens })
    }

    /// Whether the whole of `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        let chars: Vec<char> = name.chars().collect();
        match_at(&self.tokens, &chars)
    }
}

/// One character of a class: a plain one or an escaped one; `-`, `]` and the end are errors.
fn class_char(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<char> {
    match chars.next()? {
        '-' | ']' => None,
        '\\' => chars.next(),
        c => Some(c),
    }
}

fn match_at(tokens: &[Token], name: &[char]) -> bool {
    let Some((first, rest)) = tokens.split_first() else {
        return name.is_empty();
    };
    match first {
        Token::Star => {
            for i in 0..=name.len() {
                if match_at(rest, &name[i..]) {
                    return true;
                }
                if name.get(i) == Some(&'/') {
                    return false;
                }
            }
            false
        }
        _ => match name.split_first() {
            Some((c, tail)) if one(first, *c) => match_at(rest, tail),
            _ => false,
        },
    }
}

fn one(token: &Token, c: char) -> bool {
    match token {
        Token::Lit(l) => *l == c,
        Token::One => c != '/',
        Token::Class { negated, ranges } => {
            c != '/' && ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != *negated
        }
        Token::Star => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, n: &str) -> bool {
        Glob::new(p).unwrap().matches(n)
    }

    #[test]
    fn go_semantics() {
        assert!(m("*", "anything") && m("*", ""));
        assert!(m("v1.*", "v1.2.3") && !m("v1.*", "v2.0"));
        assert!(m("*-rc*", "1.0-rc1") && !m("*-rc*", "1.0"));
        assert!(m("1.?", "1.2") && !m("1.?", "1.22"));
        assert!(m("[0-9]*", "7x") && !m("[0-9]*", "x7"));
        assert!(m("[^0-9]*", "x7") && !m("[^0-9]*", "7x"));
        assert!(m("a\\*b", "a*b") && !m("a\\*b", "axb"));
        assert!(m("[\\]]", "]") && m("[a-c\\-]", "-"));
        assert!(!m("a*b", "a/b") && !m("?", "/"));
        assert!(m("latest", "latest") && !m("latest", "latest1"));
    }

    #[test]
    fn bad_patterns() {
        for p in ["[", "[a", "[]", "[a-]", "[-a]", "a\\", "[z-a]", "[^]"] {
            assert!(Glob::new(p).is_err(), "{p}");
        }
    }
}
