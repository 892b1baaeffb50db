//! A [`Node`] as the Go value kustomize's output pipeline sees.
//!
//! kustomize serialises each object with go-yaml v3, decodes it into Go values, marshals those
//! to JSON and reads the JSON back with go-yaml v2 before printing. [`Value`] is the result of
//! that chain: numbers typed as v2 re-reads their JSON text (a float `1.0` is the integer `1`),
//! timestamps turned into RFC 3339 strings, `!!binary` decoded, and (when the YAML round trip
//! applies) strings checked and folded as v2's reader would.

use std::borrow::Cow;

use base64::Engine;

use crate::emit::error::EmitError;
use crate::node::{Node, Scalar};
use crate::number;
use crate::resolve::{self, GoInt, Tag};
use crate::timestamp;

/// A decoded value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(Cow<'a, str>),
    Seq(Vec<Value<'a>>),
    Map(Vec<(&'a str, Value<'a>)>),
}

/// Which end of the pipeline the value is for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// JSON text (`json.Marshal` output).
    Json,
    /// The YAML kustomize prints (JSON read back by go-yaml v2).
    Yaml,
}

/// Decodes `n` for `target`.
pub(crate) fn decode(n: &Node, target: Target) -> Result<Value<'_>, EmitError> {
    match n {
        Node::Scalar(s) => decode_scalar(s, target),
        Node::Seq(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(decode(item, target).map_err(|e| e.within(&format!("[{i}]")))?);
            }
            Ok(Value::Seq(out))
        }
        Node::Map(map) => {
            let mut out = Vec::with_capacity(map.len());
            for (k, v) in map {
                if target == Target::Yaml {
                    check_key(k)?;
                }
                out.push((k.as_str(), decode(v, target).map_err(|e| e.within(k))?));
            }
            Ok(Value::Map(out))
        }
    }
}

fn decode_scalar(s: &Scalar, target: Target) -> Result<Value<'_>, EmitError> {
    let bad = |what: &str| EmitError::Decode {
        path: String::new(),
        message: format!(
            "cannot decode {what} `{}` as a {}",
            s.value,
            s.tag.short_name()
        ),
    };
    Ok(match s.tag {
        Tag::Null => Value::Null,
        Tag::Bool => match s.value.as_str() {
            "true" | "True" | "TRUE" => Value::Bool(true),
            "false" | "False" | "FALSE" => Value::Bool(false),
            _ => return Err(bad(Tag::resolve_plain(&s.value).short_name())),
        },
        Tag::Int => match resolve::parse_int(&s.value) {
            Some(GoInt::Signed(i)) => Value::Int(i),
            Some(GoInt::Unsigned(u)) => Value::Uint(u),
            None => return Err(bad(Tag::resolve_plain(&s.value).short_name())),
        },
        Tag::Float => {
            let f = resolve::parse_float(&s.value)
                .ok_or_else(|| bad(Tag::resolve_plain(&s.value).short_name()))?;
            float_value(f)?
        }
        Tag::Str => string_value(Cow::Borrowed(&s.value), target)?,
        Tag::Timestamp => {
            let t = timestamp::parse(&s.value).ok_or_else(|| bad("!!str"))?;
            Value::Str(Cow::Owned(t.rfc3339()))
        }
        Tag::Binary => {
            let cleaned: String = s
                .value
                .chars()
                .filter(|c| *c != '\n' && *c != '\r')
                .collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(cleaned)
                .map_err(|_| EmitError::Decode {
                    path: String::new(),
                    message: "!!binary value contains invalid base64 data".into(),
                })?;
            string_value(Cow::Owned(go_lossy_utf8(&bytes)), target)?
        }
    })
}

/// A float after `json.Marshal` and go-yaml v2's re-read: integral values below 1e21 come
/// back as integers; NaN and infinities cannot be marshalled.
pub(crate) fn float_value(f: f64) -> Result<Value<'static>, EmitError> {
    if !f.is_finite() {
        let text = if f.is_nan() {
            "NaN"
        } else if f > 0.0 {
            "+Inf"
        } else {
            "-Inf"
        };
        return Err(EmitError::UnsupportedValue {
            path: String::new(),
            value: text.into(),
        });
    }
    let abs = f.abs();
    if f.fract() == 0.0 && abs < 1e21 {
        // Go writes the shortest digits padded with zeros (`9223372036854776000`); v2 reads
        // that text back as int64, else uint64, else float.
        let text = number::format_json(f);
        if let Some(i) = resolve::go_parse_int(&text) {
            return Ok(Value::Int(i));
        }
        if let Ok(u) = text.parse::<u64>() {
            return Ok(Value::Uint(u));
        }
    }
    Ok(Value::Float(f))
}

/// Go's `[]byte` → JSON string conversion: each invalid byte becomes U+FFFD.
fn go_lossy_utf8(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                return out;
            }
            Err(e) => {
                let good = e.valid_up_to();
                out.push_str(std::str::from_utf8(&rest[..good]).unwrap_or_default());
                let bad = e.error_len().unwrap_or(rest.len() - good);
                for _ in 0..bad {
                    out.push('\u{fffd}');
                }
                rest = &rest[good + bad..];
            }
        }
    }
}

/// A string after the JSON round trip. go-yaml v2 reads the JSON text as YAML: characters JSON
/// leaves raw but YAML forbids are an error, and a raw NEL (U+0085) is a line break inside a
/// double-quoted scalar, so it folds.
fn string_value(s: Cow<'_, str>, target: Target) -> Result<Value<'_>, EmitError> {
    if target == Target::Json || s.chars().all(|c| c.is_ascii() && c != '\x7f') {
        return Ok(Value::Str(s));
    }
    if s.chars().any(yaml_forbidden) {
        return Err(EmitError::ControlCharacters {
            path: String::new(),
        });
    }
    if s.contains('\u{85}') {
        if has_document_marker(&s) {
            return Err(EmitError::DocumentIndicator {
                path: String::new(),
            });
        }
        return Ok(Value::Str(Cow::Owned(fold_nel(&s))));
    }
    Ok(Value::Str(s))
}

/// A key go-yaml v2 cannot read back from kustomize's JSON: one with a forbidden character,
/// or with a raw NEL, which breaks the key over two lines.
fn check_key(k: &str) -> Result<(), EmitError> {
    if k.is_ascii() {
        return Ok(());
    }
    if k.chars().any(yaml_forbidden) {
        return Err(EmitError::ControlCharacters {
            path: k.to_string(),
        });
    }
    if k.contains('\u{85}') {
        return Err(EmitError::KeyLineBreak {
            path: k.to_string(),
        });
    }
    Ok(())
}

/// Characters Go's JSON writes raw that YAML's reader refuses.
fn yaml_forbidden(c: char) -> bool {
    matches!(c, '\x7f' | '\u{80}'..='\u{84}' | '\u{86}'..='\u{9f}' | '\u{fffe}' | '\u{ffff}')
}

/// A NEL followed by `---` or `...` and a blank or another NEL: go-yaml's reader sees a
/// document marker at the start of a line inside the quoted JSON string.
fn has_document_marker(s: &str) -> bool {
    let segments: Vec<&str> = s.split('\u{85}').collect();
    let last = segments.len() - 1;
    segments.iter().enumerate().skip(1).any(|(i, seg)| {
        (seg.starts_with("---") || seg.starts_with("..."))
            && (seg[3..].starts_with(' ') || (seg.len() == 3 && i < last))
    })
}

/// Folds line breaks (NEL) the way a double-quoted YAML scalar does: spaces around a break
/// are dropped, one break becomes a space, n breaks become n-1 newlines.
fn fold_nel(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == ' ' || chars[i] == '\u{85}' {
            let start = i;
            let mut breaks = 0;
            while i < chars.len() && (chars[i] == ' ' || chars[i] == '\u{85}') {
                if chars[i] == '\u{85}' {
                    breaks += 1;
                }
                i += 1;
            }
            match breaks {
                0 => out.extend(&chars[start..i]),
                1 => out.push(' '),
                n => out.extend(std::iter::repeat_n('\n', n - 1)),
            }
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// The JSON text of a decoded number, as Go writes it.
pub(crate) fn number_text(v: &Value<'_>) -> Option<String> {
    match v {
        Value::Int(i) => Some(i.to_string()),
        Value::Uint(u) => Some(u.to_string()),
        Value::Float(f) => Some(number::format_json(*f)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(value: &str, tag: Tag) -> Result<Value<'static>, EmitError> {
        let n = Node::scalar(value, tag);
        decode(&n, Target::Yaml).map(|v| match v {
            Value::Str(s) => Value::Str(Cow::Owned(s.into_owned())),
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(b),
            Value::Int(i) => Value::Int(i),
            Value::Uint(u) => Value::Uint(u),
            Value::Float(f) => Value::Float(f),
            _ => Value::Null,
        })
    }

    #[test]
    fn scalars_after_round_trip() {
        assert_eq!(dec("0x1F", Tag::Int).unwrap(), Value::Int(31));
        assert_eq!(dec("1.0", Tag::Float).unwrap(), Value::Int(1));
        assert_eq!(dec("-0.0", Tag::Float).unwrap(), Value::Int(0));
        assert_eq!(dec("1e20", Tag::Float).unwrap(), Value::Float(1e20));
        assert_eq!(dec("1.5e-7", Tag::Float).unwrap(), Value::Float(1.5e-7));
        assert_eq!(
            dec("18446744073709551615", Tag::Int).unwrap(),
            Value::Uint(u64::MAX)
        );
        assert_eq!(
            dec("aGVsbG8=", Tag::Binary).unwrap(),
            Value::Str("hello".into())
        );
        assert_eq!(
            dec("/w==", Tag::Binary).unwrap(),
            Value::Str("\u{fffd}".into())
        );
        assert_eq!(
            dec("2001-12-14", Tag::Timestamp).unwrap(),
            Value::Str("2001-12-14T00:00:00Z".into())
        );
        assert_eq!(
            dec("\u{85}nel", Tag::Str).unwrap(),
            Value::Str(" nel".into())
        );
        assert_eq!(
            dec("a \u{85}\u{85} b", Tag::Str).unwrap(),
            Value::Str("a\nb".into())
        );
        let inf = dec(".inf", Tag::Float).unwrap_err();
        assert_eq!(inf.to_string(), "json: unsupported value: +Inf");
        assert!(matches!(
            dec("x\u{7f}", Tag::Str),
            Err(EmitError::ControlCharacters { .. })
        ));
        assert!(matches!(
            dec("abc", Tag::Int),
            Err(EmitError::Decode { .. })
        ));
        for marker in ["a\u{85}--- b", "a\u{85}...\u{85}b"] {
            assert!(matches!(
                dec(marker, Tag::Str),
                Err(EmitError::DocumentIndicator { .. })
            ));
        }
        assert_eq!(
            dec("a\u{85}---b", Tag::Str).unwrap(),
            Value::Str("a ---b".into())
        );
        assert_eq!(
            dec("a\u{85}---", Tag::Str).unwrap(),
            Value::Str("a ---".into())
        );
    }
}
