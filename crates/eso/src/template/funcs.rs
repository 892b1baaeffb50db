//! The functions: Go's builtins and sprig's, with their Go semantics and argument order.
//! (`and` and `or` are evaluated lazily by the executor.)

use std::collections::BTreeMap;
use std::rc::Rc;

use base64::Engine as _;

use super::printf::{sprint, sprintf, sprintln};
use super::val::{from_bytes, from_json, go_quote, lossy, to_bytes, to_json, Map, Value};

/// A function: its arguments (the piped value last) → its value, or why the call failed.
type Func = fn(&[Value]) -> Result<Value, String>;

/// Every function the executor calls by name.
const TABLE: &[(&str, Func)] = &[
    ("not", |a| Ok(Value::Bool(!one(a, "not")?.truth()))),
    ("len", len),
    ("index", index),
    ("print", |a| Ok(Value::str(sprint(a)))),
    ("println", |a| Ok(Value::str(sprintln(a)))),
    ("printf", printf),
    ("eq", eq),
    ("ne", |a| Ok(Value::Bool(!compare_eq(two(a, "ne")?)?))),
    ("lt", |a| Ok(Value::Bool(order(two(a, "lt")?)?.is_lt()))),
    ("le", |a| Ok(Value::Bool(order(two(a, "le")?)?.is_le()))),
    ("gt", |a| Ok(Value::Bool(order(two(a, "gt")?)?.is_gt()))),
    ("ge", |a| Ok(Value::Bool(order(two(a, "ge")?)?.is_ge()))),
    ("b64enc", |a| {
        Ok(Value::str(
            base64::engine::general_purpose::STANDARD.encode(to_bytes(s1(a, "b64enc")?)),
        ))
    }),
    ("b64dec", |a| Ok(Value::str(b64dec(s1(a, "b64dec")?)))),
    ("toJson", |a| {
        Ok(Value::str(
            to_json(one(a, "toJson")?, None).unwrap_or_default(),
        ))
    }),
    ("toPrettyJson", |a| {
        Ok(Value::str(
            to_json(one(a, "toPrettyJson")?, Some("  ")).unwrap_or_default(),
        ))
    }),
    ("fromJson", |a| {
        Ok(serde_json::from_str(&lossy(s1(a, "fromJson")?)).map_or(Value::Nil, |j| from_json(&j)))
    }),
    ("toString", |a| Ok(Value::str(strval(one(a, "toString")?)))),
    ("upper", |a| {
        Ok(Value::str(simple_case(s1(a, "upper")?, true)))
    }),
    ("lower", |a| {
        Ok(Value::str(simple_case(s1(a, "lower")?, false)))
    }),
    ("title", |a| Ok(Value::str(title(s1(a, "title")?)))),
    ("trim", |a| Ok(Value::str(s1(a, "trim")?.trim()))),
    ("trimAll", |a| {
        let (cut, s) = s2(a, "trimAll")?;
        Ok(Value::str(s.trim_matches(|c| cut.contains(c))))
    }),
    ("trimPrefix", |a| {
        let (p, s) = s2(a, "trimPrefix")?;
        Ok(Value::str(s.strip_prefix(p).unwrap_or(s)))
    }),
    ("trimSuffix", |a| {
        let (p, s) = s2(a, "trimSuffix")?;
        Ok(Value::str(s.strip_suffix(p).unwrap_or(s)))
    }),
    ("replace", replace),
    ("quote", |a| Ok(Value::str(quote_each(a, |s| go_quote(&s))))),
    ("squote", |a| {
        Ok(Value::str(quote_each(a, |s| format!("'{s}'"))))
    }),
    ("contains", |a| {
        s2(a, "contains").map(|(sub, s)| Value::Bool(s.contains(sub)))
    }),
    ("hasPrefix", |a| {
        s2(a, "hasPrefix").map(|(p, s)| Value::Bool(s.starts_with(p)))
    }),
    ("hasSuffix", |a| {
        s2(a, "hasSuffix").map(|(p, s)| Value::Bool(s.ends_with(p)))
    }),
    ("split", split),
    ("splitList", |a| {
        let (sep, s) = s2(a, "splitList")?;
        Ok(Value::List(Rc::new(
            go_split(s, sep).into_iter().map(Value::str).collect(),
        )))
    }),
    ("join", join),
    ("indent", |a| indent(a, "indent", "")),
    ("nindent", |a| indent(a, "nindent", "\n")),
    ("default", default),
    ("empty", |a| Ok(Value::Bool(!one(a, "empty")?.truth()))),
    ("coalesce", |a| {
        Ok(a.iter().find(|v| v.truth()).cloned().unwrap_or(Value::Nil))
    }),
    ("ternary", ternary),
    ("list", |a| Ok(Value::List(Rc::new(a.to_vec())))),
    ("dict", dict),
    ("get", |a| {
        let (m, key) = map_and_key(a, "get")?;
        Ok(m.entries
            .get(key)
            .cloned()
            .unwrap_or_else(|| Value::str("")))
    }),
    ("hasKey", |a| {
        map_and_key(a, "hasKey").map(|(m, key)| Value::Bool(m.entries.contains_key(key)))
    }),
    ("cat", |a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|v| **v != Value::Nil)
            .map(Value::to_v)
            .collect();
        Ok(Value::str(parts.join(" ")))
    }),
    ("nospace", |a| {
        Ok(Value::str(
            s1(a, "nospace")?
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>(),
        ))
    }),
];

/// Calls function `name`.
pub(crate) fn call(name: &str, args: Vec<Value>) -> Result<Value, String> {
    match TABLE.iter().find(|(n, _)| *n == name) {
        Some((_, f)) => f(&args),
        None => Err(format!("function {name:?} not defined")),
    }
}

/// Whether the executor can call `name` (every entry of `FUNCTIONS` but `and` and `or`).
#[cfg(test)]
pub(crate) fn callable(name: &str) -> bool {
    TABLE.iter().any(|(n, _)| *n == name)
}

fn arity(a: &[Value], name: &str, want: usize) -> Result<(), String> {
    if a.len() == want {
        Ok(())
    } else {
        Err(format!(
            "wrong number of args for {name}: want {want} got {}",
            a.len()
        ))
    }
}

fn one<'a>(a: &'a [Value], name: &str) -> Result<&'a Value, String> {
    arity(a, name, 1)?;
    Ok(&a[0])
}

fn two<'a>(a: &'a [Value], name: &str) -> Result<(&'a Value, &'a Value), String> {
    arity(a, name, 2)?;
    Ok((&a[0], &a[1]))
}

/// The value as a Go `string` parameter (Go refuses other types).
fn string(v: &Value) -> Result<&str, String> {
    match v {
        Value::Str(s) => Ok(s),
        Value::Nil => Err("invalid value; expected string".to_string()),
        other => Err(format!(
            "wrong type for value; expected string; got {}",
            other.type_name()
        )),
    }
}

fn s1<'a>(a: &'a [Value], name: &str) -> Result<&'a str, String> {
    string(one(a, name)?)
}

fn s2<'a>(a: &'a [Value], name: &str) -> Result<(&'a str, &'a str), String> {
    let (x, y) = two(a, name)?;
    Ok((string(x)?, string(y)?))
}

/// sprig's `strval`: strings as they are, everything else as `%v`.
pub(crate) fn strval(v: &Value) -> String {
    match v {
        Value::Str(s) => s.to_string(),
        other => other.to_v(),
    }
}

fn len(a: &[Value]) -> Result<Value, String> {
    let n = match one(a, "len")? {
        Value::Str(s) => to_bytes(s).len(),
        Value::List(l) => l.len(),
        Value::Map(m) => m.entries.len(),
        other => return Err(format!("len of type {}", other.type_name())),
    };
    Ok(Value::Int(n as i64))
}

fn index(a: &[Value]) -> Result<Value, String> {
    let Some((item, keys)) = a.split_first() else {
        return Err("wrong number of args for index: want at least 1 got 0".to_string());
    };
    let mut v = item.clone();
    for key in keys {
        v = match (&v, key) {
            (Value::Map(m), Value::Str(k)) => match m.entries.get(&**k) {
                Some(found) => found.clone(),
                None if m.strings => Value::str(""),
                None => Value::Nil,
            },
            (Value::Map(_), other) => {
                return Err(format!(
                    "value has type {}; should be string",
                    other.type_name()
                ));
            }
            (Value::List(l), Value::Int(i)) => {
                let i = usize::try_from(*i).map_err(|_| "index out of range".to_string())?;
                l.get(i)
                    .cloned()
                    .ok_or_else(|| "index out of range".to_string())?
            }
            (Value::Str(s), Value::Int(i)) => {
                let i = usize::try_from(*i).map_err(|_| "index out of range".to_string())?;
                Value::Int(i64::from(
                    *to_bytes(s)
                        .get(i)
                        .ok_or_else(|| "index out of range".to_string())?,
                ))
            }
            (Value::List(_) | Value::Str(_), other) => {
                return Err(format!(
                    "cannot index slice/array with type {}",
                    other.type_name()
                ));
            }
            (Value::Nil, _) => return Err("index of untyped nil".to_string()),
            (other, _) => return Err(format!("can't index item of type {}", other.type_name())),
        };
    }
    Ok(v)
}

fn printf(a: &[Value]) -> Result<Value, String> {
    let Some((format, rest)) = a.split_first() else {
        return Err("wrong number of args for printf: want at least 1 got 0".to_string());
    };
    Ok(Value::str(sprintf(string(format)?, rest)))
}

/// Go's `eq arg1 arg2 …`: true when arg1 equals any of the others.
fn eq(a: &[Value]) -> Result<Value, String> {
    let Some((first, rest)) = a.split_first() else {
        return Err("missing argument for comparison".to_string());
    };
    if rest.is_empty() {
        return Err("missing argument for comparison".to_string());
    }
    for other in rest {
        if compare_eq((first, other))? {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

fn compare_eq((x, y): (&Value, &Value)) -> Result<bool, String> {
    match (x, y) {
        (Value::Bool(a), Value::Bool(b)) => Ok(a == b),
        (Value::Int(a), Value::Int(b)) => Ok(a == b),
        (Value::Float(a), Value::Float(b)) => Ok(a == b),
        (Value::Str(a), Value::Str(b)) => Ok(a == b),
        (Value::Nil, Value::Nil) => Ok(true),
        (Value::Nil, _) | (_, Value::Nil) => Ok(false),
        (Value::List(_) | Value::Map(_), _) | (_, Value::List(_) | Value::Map(_)) => {
            Err("invalid type for comparison".to_string())
        }
        _ => Err("incompatible types for comparison".to_string()),
    }
}

fn order((x, y): (&Value, &Value)) -> Result<std::cmp::Ordering, String> {
    match (x, y) {
        (Value::Int(a), Value::Int(b)) => Ok(a.cmp(b)),
        (Value::Float(a), Value::Float(b)) => a
            .partial_cmp(b)
            .ok_or_else(|| "invalid type for comparison".to_string()),
        (Value::Str(a), Value::Str(b)) => Ok(a.cmp(b)),
        (
            Value::Int(_) | Value::Float(_) | Value::Str(_),
            Value::Int(_) | Value::Float(_) | Value::Str(_),
        ) => Err("incompatible types for comparison".to_string()),
        _ => Err("invalid type for comparison".to_string()),
    }
}

/// Go's `base64.StdEncoding.DecodeString`, returning the error text on failure as sprig does.
/// Line feeds and carriage returns are skipped; padding is required.
fn b64dec(s: &str) -> String {
    match go_b64_decode(s.as_bytes()) {
        Ok(bytes) => from_bytes(&bytes),
        Err(at) => format!("illegal base64 data at input byte {at}"),
    }
}

fn b64_digit(c: u8) -> Option<u32> {
    match c {
        b'A'..=b'Z' => Some(u32::from(c - b'A')),
        b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Decodes standard base64 as Go does; `Err(offset)` names the first corrupt input byte.
fn go_b64_decode(src: &[u8]) -> Result<Vec<u8>, usize> {
    let mut out = Vec::with_capacity(src.len() / 4 * 3);
    let mut si = 0;
    loop {
        let mut quantum = [0u32; 4];
        let mut j = 0;
        while j < 4 {
            if si == src.len() {
                return match j {
                    0 => Ok(out),
                    _ => Err(si - j),
                };
            }
            let c = src[si];
            si += 1;
            if c == b'\n' || c == b'\r' {
                continue;
            }
            if let Some(d) = b64_digit(c) {
                quantum[j] = d;
                j += 1;
                continue;
            }
            if c != b'=' || j < 2 {
                return Err(si - 1);
            }
            return finish_padded(src, si, j, quantum, out);
        }
        let n = (quantum[0] << 18) | (quantum[1] << 12) | (quantum[2] << 6) | quantum[3];
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
    }
}

/// The end of base64 input after `=` at quantum position `j` (2 or 3), `si` just past it.
fn finish_padded(
    src: &[u8],
    mut si: usize,
    j: usize,
    q: [u32; 4],
    mut out: Vec<u8>,
) -> Result<Vec<u8>, usize> {
    let skip_newlines = |mut si: usize| {
        while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
            si += 1;
        }
        si
    };
    if j == 2 {
        si = skip_newlines(si);
        if si == src.len() {
            return Err(src.len());
        }
        if src[si] != b'=' {
            return Err(si - 1);
        }
        si += 1;
    }
    si = skip_newlines(si);
    if si < src.len() {
        return Err(si);
    }
    let n = (q[0] << 18) | (q[1] << 12) | (q[2] << 6);
    out.push((n >> 16) as u8);
    if j == 3 {
        out.push((n >> 8) as u8);
    }
    Ok(out)
}

/// Go's `strings.ToUpper`/`ToLower`: one rune to one rune (a rune without a one-rune mapping
/// stays as it is).
fn simple_case(s: &str, upper: bool) -> String {
    s.chars()
        .map(|c| {
            let mut mapped: Vec<char> = if upper {
                c.to_uppercase().collect()
            } else {
                c.to_lowercase().collect()
            };
            if mapped.len() == 1 {
                mapped.pop().unwrap_or(c)
            } else {
                c
            }
        })
        .collect()
}

/// Go's `strings.Title`: the first letter of every word upper-cased.
fn title(s: &str) -> String {
    let separator = |c: char| {
        if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else {
            c.is_whitespace()
        }
    };
    let mut prev = ' ';
    s.chars()
        .map(|c| {
            let out = if separator(prev) {
                simple_case(&c.to_string(), true)
            } else {
                c.to_string()
            };
            prev = c;
            out
        })
        .collect()
}

/// sprig's `replace old new src`.
fn replace(a: &[Value]) -> Result<Value, String> {
    arity(a, "replace", 3)?;
    let (old, new, src) = (string(&a[0])?, string(&a[1])?, string(&a[2])?);
    if old.is_empty() {
        // Go inserts `new` before every rune and at the end.
        let mut out = String::with_capacity(src.len() + new.len() * (src.len() + 1));
        for c in src.chars() {
            out.push_str(new);
            out.push(c);
        }
        out.push_str(new);
        return Ok(Value::str(out));
    }
    Ok(Value::str(src.replace(old, new)))
}

/// sprig's `quote`/`squote`: each non-nil argument as a string, quoted, space-separated.
fn quote_each(a: &[Value], q: fn(String) -> String) -> String {
    let parts: Vec<String> = a
        .iter()
        .filter(|v| **v != Value::Nil)
        .map(|v| q(strval(v)))
        .collect();
    parts.join(" ")
}

/// Go's `strings.Split`: an empty separator splits into runes.
fn go_split<'a>(s: &'a str, sep: &str) -> Vec<&'a str> {
    if sep.is_empty() {
        return s
            .char_indices()
            .map(|(i, c)| &s[i..i + c.len_utf8()])
            .collect();
    }
    s.split(sep).collect()
}

/// sprig's `split sep s`: a map `_0`, `_1`, … of the parts.
fn split(a: &[Value]) -> Result<Value, String> {
    let (sep, s) = s2(a, "split")?;
    let entries: BTreeMap<String, Value> = go_split(s, sep)
        .into_iter()
        .enumerate()
        .map(|(i, p)| (format!("_{i}"), Value::str(p)))
        .collect();
    Ok(Value::Map(Rc::new(Map {
        entries,
        strings: true,
    })))
}

/// sprig's `join sep list`: the list's non-nil items as strings.
fn join(a: &[Value]) -> Result<Value, String> {
    let (sep, list) = two(a, "join")?;
    let sep = string(sep)?;
    let parts: Vec<String> = match list {
        Value::List(l) => l.iter().filter(|v| **v != Value::Nil).map(strval).collect(),
        Value::Nil => Vec::new(),
        other => vec![strval(other)],
    };
    Ok(Value::str(parts.join(sep)))
}

/// sprig's `indent n s` / `nindent n s`.
fn indent(a: &[Value], name: &str, prefix: &str) -> Result<Value, String> {
    let (n, s) = two(a, name)?;
    let Value::Int(n) = n else {
        return Err(format!(
            "wrong type for value; expected int; got {}",
            n.type_name()
        ));
    };
    let n = usize::try_from(*n).unwrap_or(0);
    let lines = s1(&a[1..], name)?.matches('\n').count() + 1;
    if n.saturating_mul(lines) > super::MAX_OUTPUT_BYTES {
        return Err("result too large".to_string());
    }
    let pad = " ".repeat(n);
    Ok(Value::str(format!(
        "{prefix}{pad}{}",
        string(s)?.replace('\n', &format!("\n{pad}"))
    )))
}

/// sprig's `default d given`: `given` unless it is empty, else `d`.
fn default(a: &[Value]) -> Result<Value, String> {
    match a {
        [d] => Ok(d.clone()),
        [d, given, ..] => Ok(if given.truth() {
            given.clone()
        } else {
            d.clone()
        }),
        [] => Err("wrong number of args for default: want at least 1 got 0".to_string()),
    }
}

/// sprig's `dict k1 v1 k2 v2 …`: keys as strings; a key without a value maps to `""`.
fn dict(a: &[Value]) -> Result<Value, String> {
    let entries = a
        .chunks(2)
        .map(|pair| {
            (
                strval(&pair[0]),
                pair.get(1).cloned().unwrap_or_else(|| Value::str("")),
            )
        })
        .collect();
    Ok(Value::Map(Rc::new(Map {
        entries,
        strings: false,
    })))
}

/// The `map[string]interface{}` and key arguments of sprig's `get` and `hasKey` (Go refuses
/// a `map[string]string` such as the context there).
fn map_and_key<'a>(a: &'a [Value], name: &str) -> Result<(&'a Map, &'a str), String> {
    let (m, key) = two(a, name)?;
    match m {
        Value::Map(m) if !m.strings => Ok((m, string(key)?)),
        other => Err(format!(
            "wrong type for value; expected map[string]interface {{}}; got {}",
            other.type_name()
        )),
    }
}

/// sprig's `ternary a b cond`.
fn ternary(a: &[Value]) -> Result<Value, String> {
    arity(a, "ternary", 3)?;
    match &a[2] {
        Value::Bool(b) => Ok(if *b { a[0].clone() } else { a[1].clone() }),
        other => Err(format!(
            "wrong type for value; expected bool; got {}",
            other.type_name()
        )),
    }
}
