//! Template values, as Go's `interface{}` values the engine meets: their truth, type names, and
//! their `%v` and `encoding/json` spellings.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::rc::Rc;

/// A map value; `strings` marks Go's `map[string]string` (the context, `split`), whose missing
/// keys read as `""` through `index`, against `map[string]interface{}` (`fromJson`), whose
/// missing keys read as nil.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Map {
    pub(crate) entries: BTreeMap<String, Value>,
    pub(crate) strings: bool,
}

/// A value in a template.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Rc<str>),
    List(Rc<Vec<Value>>),
    Map(Rc<Map>),
}

impl Value {
    pub(crate) fn str(s: impl Into<Rc<str>>) -> Value {
        Value::Str(s.into())
    }

    /// Go's truth in `if`, `with`, `and`, `or`, `not`: false, 0, nil and empty are false.
    pub(crate) fn truth(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.entries.is_empty(),
        }
    }

    /// Go's name of the value's type, for error messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::List(_) => "[]interface {}",
            Value::Map(m) if m.strings => "map[string]string",
            Value::Map(_) => "map[string]interface {}",
        }
    }

    /// Go's `fmt.Sprint` of the value (`%v`).
    pub(crate) fn to_v(&self) -> String {
        let mut out = String::new();
        self.write_v(&mut out);
        out
    }

    fn write_v(&self, out: &mut String) {
        match self {
            Value::Nil => out.push_str("<nil>"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => out.push_str(&i.to_string()),
            Value::Float(f) => out.push_str(&go_float_g(*f)),
            Value::Str(s) => out.push_str(s),
            Value::List(l) => {
                out.push('[');
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    v.write_v(out);
                }
                out.push(']');
            }
            Value::Map(m) => {
                out.push_str("map[");
                for (i, (k, v)) in m.entries.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(k);
                    out.push(':');
                    v.write_v(out);
                }
                out.push(']');
            }
        }
    }

    /// What an action prints: `%v`, except that nil prints `<no value>` as in `text/template`.
    pub(crate) fn to_output(&self) -> String {
        match self {
            Value::Nil => "<no value>".to_string(),
            Value::Str(s) => s.to_string(),
            v => v.to_v(),
        }
    }
}

/// Go strings are bytes; fjord's are UTF-8. A byte that is not part of valid UTF-8 (always
/// 0x80..=0xff) is carried as the private-use character U+10FF00 + byte, so that binary values
/// pass through templates (`{{ .keystore }}`, `{{ .p12 | b64dec }}`, `b64enc`, `len`) unchanged.
const RAW_BASE: u32 = 0x10_FF00;

/// The byte a carried character stands for.
fn raw_byte(c: char) -> Option<u8> {
    let u = u32::from(c);
    (RAW_BASE + 0x80..=RAW_BASE + 0xff)
        .contains(&u)
        .then(|| (u - RAW_BASE) as u8)
}

/// Bytes as a template string (invalid UTF-8 carried as described at [`RAW_BASE`]).
pub(crate) fn from_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push(char::from_u32(RAW_BASE + u32::from(*b)).unwrap_or('\u{fffd}'));
        }
    }
    out
}

/// The bytes a template string stands for.
pub(crate) fn to_bytes(s: &str) -> Vec<u8> {
    if !s.chars().any(|c| raw_byte(c).is_some()) {
        return s.as_bytes().to_vec();
    }
    let mut out = Vec::with_capacity(s.len());
    for c in s.chars() {
        match raw_byte(c) {
            Some(b) => out.push(b),
            None => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    out
}

/// A template string as UTF-8 text: carried bytes become U+FFFD, as Go's `encoding/json` and
/// `strings.ToValidUTF8`-style consumers see them.
pub(crate) fn lossy(s: &str) -> String {
    String::from_utf8_lossy(&to_bytes(s)).into_owned()
}

/// Go's `strconv.Quote` of a template string: carried bytes are written `\xNN`.
pub(crate) fn go_quote(s: &str) -> String {
    if !s.chars().any(|c| raw_byte(c).is_some()) {
        return fjord_model::go::quote(s);
    }
    let mut out = String::from("\"");
    for c in s.chars() {
        match raw_byte(c) {
            Some(b) => out.push_str(&format!("\\x{b:02x}")),
            None => {
                let q = fjord_model::go::quote(c.encode_utf8(&mut [0; 4]));
                out.push_str(&q[1..q.len() - 1]);
            }
        }
    }
    out.push('"');
    out
}

/// The context `.`: a `map[string]string` of the fetched keys.
pub(crate) fn context(ctx: &BTreeMap<String, Vec<u8>>) -> Value {
    let entries = ctx
        .iter()
        .map(|(k, v)| (k.clone(), Value::str(from_bytes(v))))
        .collect();
    Value::Map(Rc::new(Map {
        entries,
        strings: true,
    }))
}

/// `digits` (shortest round-trip, no dot) and the decimal exponent of a finite non-zero `f`, as
/// in `d.ddd × 10^exp`.
fn shortest(f: f64) -> (String, i32) {
    let e = format!("{:e}", f.abs());
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    (mantissa.replace('.', ""), exp.parse().unwrap_or(0))
}

/// Go's exponent form: `d.ddde+XX` (at least two exponent digits).
fn exp_form(f: f64, digits: &str, exp: i32) -> String {
    let sign = if f < 0.0 { "-" } else { "" };
    let (first, rest) = digits.split_at(1);
    let dot = if rest.is_empty() {
        String::new()
    } else {
        format!(".{rest}")
    };
    let esign = if exp < 0 { '-' } else { '+' };
    format!("{sign}{first}{dot}e{esign}{:02}", exp.abs())
}

fn non_finite(f: f64) -> Option<String> {
    if f.is_nan() {
        Some("NaN".to_string())
    } else if f.is_infinite() {
        Some(if f > 0.0 { "+Inf" } else { "-Inf" }.to_string())
    } else {
        None
    }
}

/// Go's `%v` (shortest `%g`) of a float64: `5432`, `0.5`, `1e+06`, `1.2345678e+07`.
pub(crate) fn go_float_g(f: f64) -> String {
    if let Some(s) = non_finite(f) {
        return s;
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let (digits, exp) = shortest(f);
    if !(-4..6).contains(&exp) {
        return exp_form(f, &digits, exp);
    }
    format!("{f}")
}

/// `encoding/json`'s spelling of a string: carried bytes (invalid UTF-8) are written `\ufffd`.
fn write_json_str(out: &mut String, s: &str) {
    if !s.chars().any(|c| raw_byte(c).is_some()) {
        fjord_model::go::write_json_string(out, s);
        return;
    }
    out.push('"');
    for run in s.split_inclusive(|c| raw_byte(c).is_some()) {
        let (text, raw) = match run.chars().last() {
            Some(c) if raw_byte(c).is_some() => (&run[..run.len() - c.len_utf8()], true),
            _ => (run, false),
        };
        let quoted = fjord_model::go::json_string(text);
        out.push_str(&quoted[1..quoted.len() - 1]);
        if raw {
            out.push_str("\\ufffd");
        }
    }
    out.push('"');
}

/// `encoding/json`'s spelling of a float64 (`None` for NaN and infinities, which it refuses).
fn json_float(f: f64) -> Option<String> {
    if !f.is_finite() {
        return None;
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let (digits, exp) = shortest(f);
        let s = exp_form(f, &digits, exp);
        // encoding/json writes e-7, not e-07.
        return Some(s.replace("e-0", "e-"));
    }
    Some(format!("{f}"))
}

/// `json.Marshal` (indent `None`) or `json.MarshalIndent(v, "", indent)`; `None` when Go fails
/// (NaN or infinite numbers).
pub(crate) fn to_json(v: &Value, indent: Option<&str>) -> Option<String> {
    let mut out = String::new();
    write_json(v, indent, 0, &mut out)?;
    Some(out)
}

fn newline(indent: Option<&str>, level: usize, out: &mut String) {
    if let Some(ind) = indent {
        out.push('\n');
        for _ in 0..level {
            out.push_str(ind);
        }
    }
}

fn write_json(v: &Value, indent: Option<&str>, level: usize, out: &mut String) -> Option<()> {
    match v {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => out.push_str(&json_float(*f)?),
        Value::Str(s) => write_json_str(out, s),
        Value::List(l) if l.is_empty() => out.push_str("[]"),
        Value::List(l) => {
            out.push('[');
            for (i, item) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(indent, level + 1, out);
                write_json(item, indent, level + 1, out)?;
            }
            newline(indent, level, out);
            out.push(']');
        }
        Value::Map(m) if m.entries.is_empty() => out.push_str("{}"),
        Value::Map(m) => {
            out.push('{');
            for (i, (k, item)) in m.entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(indent, level + 1, out);
                fjord_model::go::write_json_string(out, k);
                out.push_str(if indent.is_some() { ": " } else { ":" });
                write_json(item, indent, level + 1, out)?;
            }
            newline(indent, level, out);
            out.push('}');
        }
    }
    Some(())
}

/// `json.Unmarshal` into `interface{}`: objects, arrays, float64 numbers, strings, bools, nil.
pub(crate) fn from_json(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        serde_json::Value::String(s) => Value::str(s.as_str()),
        serde_json::Value::Array(a) => Value::List(Rc::new(a.iter().map(from_json).collect())),
        serde_json::Value::Object(o) => {
            let entries = o.iter().map(|(k, v)| (k.clone(), from_json(v))).collect();
            Value::Map(Rc::new(Map {
                entries,
                strings: false,
            }))
        }
    }
}
