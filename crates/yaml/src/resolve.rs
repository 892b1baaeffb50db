//! How plain scalars resolve to types.
//!
//! Two resolvers matter to kustomize's output. go-yaml v3 reads the input (YAML 1.2 core
//! schema plus octal/binary/underscore extras and timestamps); go-yaml v2 decides, on output,
//! whether a string would be mistaken for something else if written plain (YAML 1.1: `yes`,
//! `on`, `n`, base-60 numbers...). Numbers are parsed with Go's `strconv` rules, reproduced here.

use crate::timestamp;

/// The resolved type of a scalar, as go-yaml v3 resolves it (YAML 1.2 core schema plus the
/// v3 extras: `0o17`/`017` octal, `0x1F`, `0b101`, `1_000`, timestamps).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tag {
    /// `null`, `~`, `Null`, `NULL` or an empty plain scalar.
    Null,
    /// `true`/`false` in any of v3's spellings.
    Bool,
    /// An integer in any base v3 accepts.
    Int,
    /// A float, including `.inf` and `.nan`.
    Float,
    /// A string: quoted, block, plain text that resolves to nothing else, or tagged `!!str`.
    Str,
    /// A plain timestamp such as `2001-12-14` or `2001-12-14T21:59:43.10Z`.
    Timestamp,
    /// `!!binary`: base64 text.
    Binary,
}

impl Tag {
    /// The tag go-yaml v3 gives `text` written as a plain (unquoted, untagged) scalar:
    /// `0x1F` → [`Tag::Int`], `yes` → [`Tag::Str`], `2001-12-14` → [`Tag::Timestamp`].
    pub fn resolve_plain(text: &str) -> Tag {
        resolve_plain(text)
    }

    /// The YAML short tag, e.g. `!!int`.
    pub fn short_name(self) -> &'static str {
        match self {
            Tag::Null => "!!null",
            Tag::Bool => "!!bool",
            Tag::Int => "!!int",
            Tag::Float => "!!float",
            Tag::Str => "!!str",
            Tag::Timestamp => "!!timestamp",
            Tag::Binary => "!!binary",
        }
    }
}

/// An integer as go-yaml decodes it: `int64` when it fits, else `uint64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GoInt {
    /// Fits an `int64`.
    Signed(i64),
    /// Only fits a `uint64`.
    Unsigned(u64),
}

/// The first-byte hint go-yaml uses to pick a resolution path.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Hint {
    /// Could be a number (sign or digit).
    Number,
    /// Could be a special word (`true`, `null`, `yes`, ...).
    Word,
    /// Starts with `.`: maybe a float.
    Dot,
    /// Empty text.
    Empty,
    /// Always a string.
    None,
}

fn hint(s: &str) -> Hint {
    match s.as_bytes().first() {
        None => Hint::Empty,
        Some(b'+' | b'-' | b'0'..=b'9') => Hint::Number,
        Some(b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~') => {
            Hint::Word
        }
        Some(b'.') => Hint::Dot,
        Some(_) => Hint::None,
    }
}

/// The special words of go-yaml v3's resolver.
fn v3_word(s: &str) -> Option<Tag> {
    Some(match s {
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" => Tag::Bool,
        "" | "~" | "null" | "Null" | "NULL" => Tag::Null,
        ".nan" | ".NaN" | ".NAN" | ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF"
        | "-.inf" | "-.Inf" | "-.INF" => Tag::Float,
        _ => return None,
    })
}

/// The special words of go-yaml v2's resolver (YAML 1.1 booleans included).
fn v2_word(s: &str) -> bool {
    matches!(
        s,
        "y" | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "on"
            | "On"
            | "ON"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "off"
            | "Off"
            | "OFF"
    ) || v3_word(s).is_some()
}

/// The tag go-yaml v3 gives a plain (unquoted, untagged) scalar.
pub(crate) fn resolve_plain(s: &str) -> Tag {
    match hint(s) {
        Hint::None => Tag::Str,
        Hint::Empty => Tag::Null,
        Hint::Word => v3_word(s).unwrap_or(Tag::Str),
        Hint::Dot => match v3_word(s) {
            Some(t) => t,
            None if go_parse_float(s).is_some() => Tag::Float,
            None => Tag::Str,
        },
        Hint::Number => {
            if let Some(t) = v3_word(s) {
                return t;
            }
            if timestamp::parse(s).is_some() {
                return Tag::Timestamp;
            }
            match number_kind(s) {
                Some(NumberKind::Int) => Tag::Int,
                Some(NumberKind::Float) => Tag::Float,
                None => Tag::Str,
            }
        }
    }
}

enum NumberKind {
    Int,
    Float,
}

/// The number a sign/digit-led scalar is, by the shared v2/v3 rules (timestamps aside).
fn number_kind(s: &str) -> Option<NumberKind> {
    let plain = strip_underscores(s);
    if parse_int_text(&plain).is_some() {
        return Some(NumberKind::Int);
    }
    if is_yaml_style_float(&plain) && go_parse_float(&plain).is_some() {
        return Some(NumberKind::Float);
    }
    None
}

fn strip_underscores(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains('_') {
        std::borrow::Cow::Owned(s.replace('_', ""))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// Parses an integer as go-yaml v3 does for a plain or `!!int` scalar: underscores dropped,
/// then Go's base-0 `ParseInt` (`0x`, `0o`, `0b`, leading-zero octal), then `ParseUint`.
pub(crate) fn parse_int(s: &str) -> Option<GoInt> {
    parse_int_text(&strip_underscores(s))
}

fn parse_int_text(plain: &str) -> Option<GoInt> {
    if let Some(i) = go_parse_int(plain) {
        return Some(GoInt::Signed(i));
    }
    go_parse_uint(plain, true).map(GoInt::Unsigned)
}

/// Parses a float as go-yaml v3 does for a plain or `!!float` scalar (special words
/// included); integers are accepted and converted, as v3 does for `!!float`.
pub(crate) fn parse_float(s: &str) -> Option<f64> {
    match s {
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    if s.starts_with('.') {
        return go_parse_float(s);
    }
    let plain = strip_underscores(s);
    match parse_int_text(&plain) {
        Some(GoInt::Signed(i)) => return Some(i as f64),
        Some(GoInt::Unsigned(u)) => return Some(u as f64),
        None => {}
    }
    if is_yaml_style_float(&plain) {
        return go_parse_float(&plain);
    }
    None
}

/// True when go-yaml v2 would read `s`, written plain, as something other than a string;
/// such strings are double-quoted on output. Base-60 numbers (`1:20`) count too.
pub(crate) fn v2_needs_quotes(s: &str) -> bool {
    let non_string = match hint(s) {
        Hint::None => false,
        Hint::Empty | Hint::Word => v2_word(s),
        Hint::Dot => v2_word(s) || go_parse_float(s).is_some(),
        Hint::Number => v2_word(s) || timestamp::parse(s).is_some() || number_kind(s).is_some(),
    };
    non_string || is_base60_float(s)
}

/// Whether `s` has the shape of a go-yaml float, `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
/// (shared by YAML 1.1 and 1.2 resolution).
pub fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i = 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`
fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i = 1;
    }
    if !b.get(i).is_some_and(u8::is_ascii_digit) {
        return false;
    }
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while b.get(i) == Some(&b':') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() && i - start < 2 {
            i += 1;
        }
        match i - start {
            1 => {}
            2 if b[start] <= b'5' => {}
            _ => return false,
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

/// Go's `strconv.ParseInt(s, 0, 64)` (without underscore support: callers strip them).
pub(crate) fn go_parse_int(s: &str) -> Option<i64> {
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let u = go_parse_uint(rest, false)?;
    if neg {
        if u <= 1u64 << 63 {
            Some((u as i64).wrapping_neg())
        } else {
            None
        }
    } else {
        i64::try_from(u).ok()
    }
}

/// Go's `strconv.ParseUint(s, 0, 64)`; `allow_underscores` follows Go's base-0 rule.
fn go_parse_uint(s: &str, allow_underscores: bool) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    let (base, digits) = if b[0] == b'0' && b.len() >= 3 {
        match b[1].to_ascii_lowercase() {
            b'b' => (2, &b[2..]),
            b'o' => (8, &b[2..]),
            b'x' => (16, &b[2..]),
            _ => (8, &b[1..]),
        }
    } else if b[0] == b'0' {
        (8, &b[1..])
    } else {
        (10, b)
    };
    let mut n: u64 = 0;
    let mut saw_underscore = false;
    for &c in digits {
        if c == b'_' && allow_underscores {
            saw_underscore = true;
            continue;
        }
        let d = (c as char).to_digit(16)? as u64;
        if d >= base {
            return None;
        }
        n = n.checked_mul(base)?.checked_add(d)?;
    }
    if saw_underscore && !underscore_ok(s) {
        return None;
    }
    Some(n)
}

/// Go's rule for where underscores may appear in a number literal.
fn underscore_ok(s: &str) -> bool {
    let mut b = s.as_bytes();
    if matches!(b.first(), Some(b'+' | b'-')) {
        b = &b[1..];
    }
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = b[1].eq_ignore_ascii_case(&b'x');
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// Go's `strconv.ParseFloat(s, 64)` for decimal text: underscores between digits allowed,
/// overflow is an error. (Hex floats and `inf`/`nan` words never reach here.)
pub(crate) fn go_parse_float(s: &str) -> Option<f64> {
    if s.is_empty()
        || !s
            .bytes()
            .all(|c| c.is_ascii_digit() || b"+-._eE".contains(&c))
    {
        return None;
    }
    let text = if s.contains('_') {
        if !underscore_ok(s) {
            return None;
        }
        std::borrow::Cow::Owned(s.replace('_', ""))
    } else {
        std::borrow::Cow::Borrowed(s)
    };
    let f: f64 = text.parse().ok()?;
    f.is_finite().then_some(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_plain_resolution() {
        let cases = [
            ("0x1F", Tag::Int),
            ("017", Tag::Int),
            ("0o17", Tag::Int),
            ("0b101", Tag::Int),
            ("1_000", Tag::Int),
            ("08", Tag::Float),
            ("yes", Tag::Str),
            ("on", Tag::Str),
            ("y", Tag::Str),
            ("True", Tag::Bool),
            ("TRUE", Tag::Bool),
            ("~", Tag::Null),
            ("", Tag::Null),
            ("Null", Tag::Null),
            ("2001-12-14", Tag::Timestamp),
            ("2001-02-30", Tag::Str),
            (".inf", Tag::Float),
            (".5", Tag::Float),
            (".5_0", Tag::Float),
            ("1.", Tag::Float),
            ("1e3", Tag::Float),
            ("1e", Tag::Str),
            ("18446744073709551615", Tag::Int),
            ("18446744073709551616", Tag::Float),
            ("-", Tag::Str),
            ("<<", Tag::Str),
            ("1:20", Tag::Str),
            ("+1", Tag::Int),
            ("0x", Tag::Str),
        ];
        for (s, t) in cases {
            assert_eq!(resolve_plain(s), t, "{s:?}");
        }
    }

    #[test]
    fn v2_quoting_decisions() {
        let quoted = [
            "n",
            "yes",
            "80",
            "1.50",
            "~",
            "1:20",
            "190:20:30.15",
            "",
            "null",
            "0x1F",
            "1e3",
            ".inf",
            "on",
            "2001-12-14",
            "+1",
            "0o17",
            "0b101",
            "1_000",
            "-.5",
            "Yes",
            "NULL",
            "N",
            "off",
            ".Inf",
            ".nan",
            "0777",
            "0x_1F",
            "1__0",
            "+0b1",
            "-0x1",
            "1:2:3",
            "1_0.5",
            ".5_0",
            "-0",
            "0",
        ];
        for s in quoted {
            assert!(v2_needs_quotes(s), "{s:?} should be quoted");
        }
        let plain = ["1e", "._", "1:60", "-", "x", "=", "<<", "a,b", "yess", "-x"];
        for s in plain {
            assert!(!v2_needs_quotes(s), "{s:?} should be plain");
        }
    }

    #[test]
    fn go_integers() {
        assert_eq!(parse_int("0x1F"), Some(GoInt::Signed(31)));
        assert_eq!(parse_int("017"), Some(GoInt::Signed(15)));
        assert_eq!(parse_int("-0b101"), Some(GoInt::Signed(-5)));
        assert_eq!(
            parse_int("-9223372036854775808"),
            Some(GoInt::Signed(i64::MIN))
        );
        assert_eq!(
            parse_int("18446744073709551615"),
            Some(GoInt::Unsigned(u64::MAX))
        );
        assert_eq!(parse_int("0"), Some(GoInt::Signed(0)));
        assert_eq!(parse_int("08"), None);
        assert_eq!(parse_float("08"), Some(8.0));
        assert_eq!(parse_float("1e400"), None);
        assert_eq!(parse_float("-.inf"), Some(f64::NEG_INFINITY));
    }
}
