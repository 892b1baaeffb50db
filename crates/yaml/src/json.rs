//! JSON views of [`Node`] trees with kustomize's value semantics (go-yaml v3 decoding, then
//! Go's `encoding/json`).

use serde_json::{Map as JsonMap, Number, Value as Json};

use crate::decode::{decode, float_value, number_text, Target, Value};
use crate::emit::error::EmitError;
use crate::node::{Map, Node};
use crate::number;
use crate::resolve::Tag;

/// The JSON value kustomize's pipeline makes of `n`: `0x1F` is 31, a timestamp its RFC 3339
/// text, `!!binary` its decoded bytes, integral floats integers; `.inf`/`.nan` are errors.
pub fn to_json_value(n: &Node) -> Result<serde_json::Value, EmitError> {
    decode(n, Target::Json).map(to_json)
}

fn to_json(v: Value<'_>) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(b),
        Value::Int(i) => Json::Number(i.into()),
        Value::Uint(u) => Json::Number(u.into()),
        Value::Float(f) => match float_value(f) {
            Ok(Value::Int(i)) => Json::Number(i.into()),
            Ok(Value::Uint(u)) => Json::Number(u.into()),
            _ => Number::from_f64(f).map_or(Json::Null, Json::Number),
        },
        Value::Str(s) => Json::String(s.into_owned()),
        Value::Seq(items) => Json::Array(items.into_iter().map(to_json).collect()),
        Value::Map(entries) => {
            let mut m = JsonMap::with_capacity(entries.len());
            for (k, v) in entries {
                m.insert(k.to_string(), to_json(v));
            }
            Json::Object(m)
        }
    }
}

/// A tree from JSON: strings are `!!str`, numbers `!!int` or `!!float`, objects keep their
/// key order.
pub fn from_json_value(v: &serde_json::Value) -> Node {
    match v {
        Json::Null => Node::null(),
        Json::Bool(b) => Node::bool(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Node::int(i)
            } else if let Some(u) = n.as_u64() {
                Node::scalar(u.to_string(), Tag::Int)
            } else {
                let f = n.as_f64().unwrap_or(0.0);
                Node::scalar(number::format_g(f), Tag::Float)
            }
        }
        Json::String(s) => Node::string(s.as_str()),
        Json::Array(items) => Node::Seq(items.iter().map(from_json_value).collect()),
        Json::Object(m) => {
            let mut map = Map::with_capacity(m.len());
            for (k, v) in m {
                map.insert(k.clone(), from_json_value(v));
            }
            Node::Map(map)
        }
    }
}

/// The objects as one `List`, pretty-printed like `kubectl get -o json`: four-space indent,
/// keys sorted, Go's string escaping and number formatting, a final newline.
pub fn emit_json_list(docs: &[Node]) -> Result<String, EmitError> {
    let mut items = Vec::with_capacity(docs.len());
    for (i, d) in docs.iter().enumerate() {
        items.push(decode(d, Target::Json).map_err(|e| e.within(&format!("items[{i}]")))?);
    }
    let list = Value::Map(vec![
        ("apiVersion", Value::Str("v1".into())),
        ("items", Value::Seq(items)),
        ("kind", Value::Str("List".into())),
    ]);
    let mut out = String::with_capacity(docs.len() * 2048);
    write_json(&mut out, &list, 0);
    out.push('\n');
    Ok(out)
}

fn newline_indent(out: &mut String, level: usize) {
    out.push('\n');
    for _ in 0..level {
        out.push_str("    ");
    }
}

fn write_json(out: &mut String, v: &Value<'_>, level: usize) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(_) | Value::Uint(_) | Value::Float(_) => {
            out.push_str(&number_text(v).unwrap_or_default());
        }
        Value::Str(s) => write_json_string(out, s),
        Value::Seq(items) if items.is_empty() => out.push_str("[]"),
        Value::Map(entries) if entries.is_empty() => out.push_str("{}"),
        Value::Seq(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline_indent(out, level + 1);
                write_json(out, item, level + 1);
            }
            newline_indent(out, level);
            out.push(']');
        }
        Value::Map(entries) => {
            let mut sorted: Vec<&(&str, Value<'_>)> = entries.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, item)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline_indent(out, level + 1);
                write_json_string(out, k);
                out.push_str(": ");
                write_json(out, item, level + 1);
            }
            newline_indent(out, level);
            out.push('}');
        }
    }
}

/// Go's `encoding/json` string escaping (HTML-safe, as `Marshal` and `MarshalIndent` do): `"`,
/// `\\`, `\n`, `\r`, `\t`, `\b`, `\f` short escapes, `\u00XX` for other control characters and
/// `\u003c`-style escapes for `<`, `>`, `&`, U+2028 and U+2029. Appends the quoted string to `out`.
pub fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' | '\0'..='\x1f' => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            _ => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_document;

    #[test]
    fn json_value_semantics() {
        let n = parse_document(b"a: 0x1F\nb: 1.0\nc: 2001-12-14\nd: yes\ne: ~\nf: 1.5\n").unwrap();
        let v = to_json_value(&n).unwrap();
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"a":31,"b":1,"c":"2001-12-14T00:00:00Z","d":"yes","e":null,"f":1.5}"#
        );
        let back = from_json_value(&v);
        assert_eq!(back.get("a"), Some(&Node::int(31)));
        assert_eq!(back.get("d"), Some(&Node::string("yes")));
        let inf = parse_document(b"x: .inf\n").unwrap();
        assert_eq!(
            to_json_value(&inf).unwrap_err().to_string(),
            "field x: json: unsupported value: +Inf"
        );
    }

    #[test]
    fn json_list_pretty() {
        let n = parse_document(b"kind: Thing\nz: [<a>, {}]\na: {b: []}\nf: 1e-7\n").unwrap();
        let out = emit_json_list(&[n]).unwrap();
        let want = r#"{
    "apiVersion": "v1",
    "items": [
        {
            "a": {
                "b": []
            },
            "f": 1e-7,
            "kind": "Thing",
            "z": [
                "\u003ca\u003e",
                {}
            ]
        }
    ],
    "kind": "List"
}
"#;
        assert_eq!(out, want);
        assert_eq!(
            emit_json_list(&[]).unwrap(),
            "{\n    \"apiVersion\": \"v1\",\n    \"items\": [],\n    \"kind\": \"List\"\n}\n"
        );
    }
}
