//! Go's `filepath.Match`, the matcher Argo CD applies to the group, kind and name patterns of
//! an AppProject's resource lists.

/// Go's `filepath.Match` (as Argo CD matches resource lists): `*` is any run of characters
/// but `/`, `?` one such character, `[...]`/`[^...]` a class with ranges, a backslash
/// escapes. The whole text must match; a malformed pattern matches nothing. Linear in the
/// pattern times the text, whatever the stars.
pub fn path_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let Some(tokens) = tokens(&p) else {
        return false;
    };
    let t: Vec<char> = text.chars().collect();
    // reach[j]: the tokens so far can consume exactly t[..j].
    let mut reach = vec![false; t.len() + 1];
    reach[0] = true;
    for token in &tokens {
        let mut next = vec![false; t.len() + 1];
        for j in 0..=t.len() {
            if !reach[j] {
                continue;
            }
            match token {
                Token::Star => {
                    next[j] = true;
                    let mut k = j;
                    while k < t.len() && t[k] != '/' {
                        k += 1;
                        next[k] = true;
                    }
                }
                Token::One(set) => {
                    if t.get(j).is_some_and(|&c| set.matches(&p, c)) {
                        next[j + 1] = true;
                    }
                }
            }
        }
        reach = next;
    }
    reach[t.len()]
}

/// One element of a parsed `filepath.Match` pattern.
enum Token {
    /// `*`.
    Star,
    /// One character.
    One(CharSet),
}

/// What one character may be.
enum CharSet {
    /// `?`: anything but `/`.
    Any,
    /// A literal (escaped or not).
    Lit(char),
    /// The class starting at this index of the pattern.
    Class(usize),
}

impl CharSet {
    fn matches(&self, p: &[char], c: char) -> bool {
        match self {
            CharSet::Any => c != '/',
            CharSet::Lit(l) => *l == c,
            CharSet::Class(i) => matches!(class_at(p, *i, c), Some((true, _))),
        }
    }
}

/// The pattern's tokens; `None` when it is malformed (an unclosed or bad class, a trailing
/// backslash), which Go reports as `ErrBadPattern`.
fn tokens(p: &[char]) -> Option<Vec<Token>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '*' => {
                out.push(Token::Star);
                i += 1;
            }
            '?' => {
                out.push(Token::One(CharSet::Any));
                i += 1;
            }
            '\\' => {
                out.push(Token::One(CharSet::Lit(*p.get(i + 1)?)));
                i += 2;
            }
            '[' => {
                let (_, next) = class_at(p, i, '\0')?;
                out.push(Token::One(CharSet::Class(i)));
                i = next;
            }
            c => {
                out.push(Token::One(CharSet::Lit(c)));
                i += 1;
            }
        }
    }
    Some(out)
}

/// Matches the class starting at `p[i] == '['` against `c`: (matched, index after `]`);
/// `None` when the class is malformed (Go: empty, unclosed, or a bare `-`/`]` as a bound).
fn class_at(p: &[char], i: usize, c: char) -> Option<(bool, usize)> {
    let mut j = i + 1;
    let negated = p.get(j) == Some(&'^');
    if negated {
        j += 1;
    }
    let mut matched = false;
    let mut ranges = 0;
    loop {
        if p.get(j) == Some(&']') && ranges > 0 {
            return Some((matched != negated, j + 1));
        }
        let lo = class_char(p, &mut j)?;
        let hi = if p.get(j) == Some(&'-') {
            j += 1;
            class_char(p, &mut j)?
        } else {
            lo
        };
        if lo <= c && c <= hi {
            matched = true;
        }
        ranges += 1;
    }
}

/// One (possibly escaped) bound of a class, which something must follow; advances `j`.
fn class_char(p: &[char], j: &mut usize) -> Option<char> {
    let mut ch = *p.get(*j)?;
    if ch == '-' || ch == ']' {
        return None;
    }
    if ch == '\\' {
        *j += 1;
        ch = *p.get(*j)?;
    }
    *j += 1;
    (*j < p.len()).then_some(ch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filepath_match_rules() {
        assert!(path_match("*", "rbac.authorization.k8s.io"));
        assert!(path_match("", ""));
        assert!(!path_match("", "apps"));
        assert!(path_match("Cluster*", "ClusterRoleBinding"));
        assert!(!path_match("Cluster*", "Role"));
        assert!(path_match("*.k8s.io", "rbac.authorization.k8s.io"));
        assert!(path_match("?ole", "Role"));
        assert!(path_match("[CR]ole*", "RoleBinding"));
        assert!(!path_match("[^CR]ole*", "RoleBinding"));
        assert!(path_match("[a-c]pps", "apps") && !path_match("[b-c]pps", "apps"));
        assert!(path_match("\\*", "*") && !path_match("\\*", "a"));
        assert!(!path_match("a*", "a/b"), "* does not cross /");
        assert!(
            !path_match("{apps,batch}", "apps"),
            "no braces in filepath.Match"
        );
        for bad in ["[", "[]", "[a", "a\\", "[-a]", "[a-]"] {
            assert!(!path_match(bad, "a"), "malformed {bad:?} matches nothing");
        }
        let long = "a".repeat(253);
        assert!(!path_match("*a*a*a*a*a*a*a*a*a*a*b", &long), "no blow-up");
    }
}
