//! The lexer: template text → text pieces and action tokens (trim markers and comments applied).

use super::Failure;

/// One token. `Open`/`Close` delimit an action; everything else lives inside one.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Text(String),
    Open,
    Close,
    Ident(String),
    /// `.a.b`: the field names of a chain.
    Field(Vec<String>),
    Dot,
    /// `$` or `$name` (with the `$`).
    Var(String),
    Declare,
    Assign,
    Pipe,
    LParen,
    RParen,
    Comma,
    Str(String),
    Number(String),
    Char(char),
    Bool(bool),
    Nil,
}

/// A token, where it starts (byte offset) and whether white space came just before it.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub(crate) tok: Tok,
    pub(crate) at: usize,
    pub(crate) space: bool,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_ident_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

fn fail(at: usize, reason: impl Into<String>) -> Failure {
    Failure::Parse {
        at,
        reason: reason.into(),
    }
}

/// Splits `src` into items.
pub(crate) fn lex(src: &str) -> Result<Vec<Item>, Failure> {
    let mut items = Vec::new();
    let mut pos = 0;
    let mut trim_next = false;
    while pos <= src.len() {
        let open = src[pos..].find("{{").map(|i| pos + i);
        let end = open.unwrap_or(src.len());
        let mut text = &src[pos..end];
        if trim_next {
            text = text.trim_start_matches(is_space);
        }
        let Some(open) = open else {
            push_text(&mut items, text, pos);
            break;
        };
        let rest = &src[open + 2..];
        let mut inner = open + 2;
        if rest.starts_with('-') && rest[1..].starts_with(is_space) {
            text = text.trim_end_matches(is_space);
            inner += 1;
        }
        push_text(&mut items, text, pos);
        let (next, trim) = match comment(src, inner)? {
            Some(done) => done,
            None => action(src, open, inner, &mut items)?,
        };
        pos = next;
        trim_next = trim;
    }
    Ok(items)
}

fn push_text(items: &mut Vec<Item>, text: &str, at: usize) {
    if !text.is_empty() {
        items.push(Item {
            tok: Tok::Text(text.to_string()),
            at,
            space: false,
        });
    }
}

/// A comment action starting at `inner` (after `{{` and a trim marker): where the text goes on,
/// and whether it trims. `None` when this is not a comment.
fn comment(src: &str, inner: usize) -> Result<Option<(usize, bool)>, Failure> {
    let start = inner + (src[inner..].len() - src[inner..].trim_start_matches(is_space).len());
    if !src[start..].starts_with("/*") {
        return Ok(None);
    }
    let Some(close) = src[start + 2..].find("*/") else {
        return Err(fail(start, "unclosed comment"));
    };
    let after = start + 2 + close + 2;
    match close_delim(src, after) {
        Some((next, trim)) => Ok(Some((next, trim))),
        None => Err(fail(after, "comment ends before closing delimiter")),
    }
}

/// At `at`: `}}` or a trim marker and `}}` — where the text goes on and whether it trims.
fn close_delim(src: &str, at: usize) -> Option<(usize, bool)> {
    let rest = &src[at..];
    if rest.starts_with("}}") {
        return Some((at + 2, false));
    }
    let mut chars = rest.chars();
    let first = chars.next()?;
    if is_space(first) && chars.as_str().starts_with("-}}") {
        return Some((at + first.len_utf8() + 3, true));
    }
    None
}

/// Lexes the tokens of the action opened at `open` up to its closing delimiter.
fn action(
    src: &str,
    open: usize,
    inner: usize,
    items: &mut Vec<Item>,
) -> Result<(usize, bool), Failure> {
    items.push(Item {
        tok: Tok::Open,
        at: open,
        space: false,
    });
    let mut at = inner;
    let mut space = false;
    loop {
        if let Some((next, trim)) = close_delim(src, at) {
            items.push(Item {
                tok: Tok::Close,
                at,
                space: false,
            });
            return Ok((next, trim));
        }
        let Some(c) = src[at..].chars().next() else {
            return Err(fail(open, "unclosed action"));
        };
        if is_space(c) {
            at += c.len_utf8();
            space = true;
            continue;
        }
        let (tok, next) = token(src, at, c)?;
        items.push(Item { tok, at, space });
        at = next;
        space = false;
    }
}

/// One token starting with `c` at `at`, and where the next one starts.
fn token(src: &str, at: usize, c: char) -> Result<(Tok, usize), Failure> {
    let rest = &src[at..];
    let second = rest[c.len_utf8()..].chars().next();
    let single = |tok| Ok((tok, at + 1));
    match c {
        '|' => single(Tok::Pipe),
        '(' => single(Tok::LParen),
        ')' => single(Tok::RParen),
        ',' => single(Tok::Comma),
        '=' => single(Tok::Assign),
        ':' if second == Some('=') => Ok((Tok::Declare, at + 2)),
        ':' => Err(fail(at, "expected :=")),
        '"' => quoted(src, at),
        '`' => raw(src, at),
        '\'' => char_lit(src, at),
        '$' => {
            let len = ident_len(&rest[1..]);
            Ok((Tok::Var(rest[..1 + len].to_string()), at + 1 + len))
        }
        '.' if second.is_some_and(|d| d.is_ascii_digit()) => number(src, at),
        '.' => field(src, at),
        '+' | '-' if second.is_some_and(|d| d.is_ascii_digit() || d == '.') => number(src, at),
        '0'..='9' => number(src, at),
        c if is_ident_char(c) => {
            let len = ident_len(rest);
            let word = &rest[..len];
            let tok = match word {
                "true" => Tok::Bool(true),
                "false" => Tok::Bool(false),
                "nil" => Tok::Nil,
                _ => Tok::Ident(word.to_string()),
            };
            Ok((tok, at + len))
        }
        _ => Err(fail(at, format!("unexpected {c:?} in action"))),
    }
}

fn ident_len(s: &str) -> usize {
    s.find(|c: char| !is_ident_char(c)).unwrap_or(s.len())
}

/// `.` or a chain of fields `.a.b`.
fn field(src: &str, at: usize) -> Result<(Tok, usize), Failure> {
    let mut names = Vec::new();
    let mut pos = at;
    while src[pos..].starts_with('.') {
        let len = ident_len(&src[pos + 1..]);
        if len == 0 {
            break;
        }
        names.push(src[pos + 1..pos + 1 + len].to_string());
        pos += 1 + len;
    }
    if names.is_empty() {
        return Ok((Tok::Dot, at + 1));
    }
    Ok((Tok::Field(names), pos))
}

fn number(src: &str, at: usize) -> Result<(Tok, usize), Failure> {
    let rest = &src[at..];
    let mut len = 0;
    let mut prev = ' ';
    for (i, c) in rest.char_indices() {
        let sign_ok = (c == '+' || c == '-') && (i == 0 || matches!(prev, 'e' | 'E'));
        if !(c.is_ascii_alphanumeric() || c == '.' || c == '_' || sign_ok) {
            break;
        }
        // `0x1p-2` style exponents are not supported; `e` only.
        len = i + c.len_utf8();
        prev = c;
    }
    Ok((Tok::Number(rest[..len].to_string()), at + len))
}

fn quoted(src: &str, at: usize) -> Result<(Tok, usize), Failure> {
    let rest = &src[at + 1..];
    let mut escaped = false;
    for (i, c) in rest.char_indices() {
        match c {
            '\n' => break,
            '\\' if !escaped => escaped = true,
            '"' if !escaped => {
                let body = &rest[..i];
                let s = unescape(body, '"').map_err(|r| fail(at, r))?;
                return Ok((Tok::Str(s), at + 1 + i + 1));
            }
            _ => escaped = false,
        }
    }
    Err(fail(at, "unterminated quoted string"))
}

fn raw(src: &str, at: usize) -> Result<(Tok, usize), Failure> {
    let rest = &src[at + 1..];
    match rest.find('`') {
        Some(i) => Ok((Tok::Str(rest[..i].replace('\r', "")), at + 1 + i + 1)),
        None => Err(fail(at, "unterminated raw quoted string")),
    }
}

fn char_lit(src: &str, at: usize) -> Result<(Tok, usize), Failure> {
    let rest = &src[at + 1..];
    let mut escaped = false;
    for (i, c) in rest.char_indices() {
        match c {
            '\n' => break,
            '\\' if !escaped => escaped = true,
            '\'' if !escaped => {
                let s = unescape(&rest[..i], '\'').map_err(|r| fail(at, r))?;
                let mut chars = s.chars();
                return match (chars.next(), chars.next()) {
                    (Some(ch), None) => Ok((Tok::Char(ch), at + 1 + i + 1)),
                    _ => Err(fail(at, "malformed character constant")),
                };
            }
            _ => escaped = false,
        }
    }
    Err(fail(at, "unterminated character constant"))
}

/// Go's escapes in a quoted string or character body.
fn unescape(body: &str, quote: char) -> Result<String, String> {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = chars.next().ok_or("invalid escape at end of string")?;
        let simple = match e {
            'a' => Some('\u{07}'),
            'b' => Some('\u{08}'),
            'f' => Some('\u{0c}'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\u{0b}'),
            '\\' => Some('\\'),
            q if q == quote => Some(q),
            _ => None,
        };
        if let Some(s) = simple {
            out.push(s);
            continue;
        }
        let (digits, radix) = match e {
            'x' => (2, 16),
            'u' => (4, 16),
            'U' => (8, 16),
            '0'..='7' => (2, 8),
            _ => return Err(format!("unknown escape sequence \\{e}")),
        };
        let mut code = if radix == 8 {
            e.to_digit(8).unwrap_or(0)
        } else {
            0
        };
        for _ in 0..digits {
            let d = chars.next().and_then(|d| d.to_digit(radix));
            code = code * radix + d.ok_or("invalid escape sequence")?;
        }
        // `\x` and octal escapes are bytes; fjord's strings are UTF-8, so bytes over 0x7f are
        // taken as the code point of the same number (as Latin-1).
        out.push(char::from_u32(code).ok_or("escape sequence is an invalid Unicode code point")?);
    }
    Ok(out)
}
