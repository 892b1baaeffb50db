//! Reading and writing Kubernetes documents as `serde_json::Value`: YAML streams (`---`
//! separated) or concatenated JSON on input; kubeseal's two output forms (Go `json.MarshalIndent`
//! with HTML escaping, and go-yaml v2 YAML with sorted keys, see [`crate::yaml_emit`]); Go's
//! standard base64.

use base64::Engine;
use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::TScalarStyle;

/// Most nodes a YAML stream may expand to (aliases included): a guard against alias bombs.
const MAX_NODES: usize = 1_000_000;
/// Deepest nesting accepted.
const MAX_DEPTH: usize = 200;

/// Failures reading a document stream.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum DocError {
    /// The YAML is malformed.
    #[error("invalid YAML: {0}")]
    Yaml(String),
    /// The JSON is malformed.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// A mapping key is not a scalar.
    #[error("invalid YAML: mapping keys must be scalars")]
    ComplexKey,
    /// An alias names an anchor that was never defined.
    #[error("invalid YAML: unknown anchor")]
    UnknownAnchor,
    /// The stream expands to too many nodes or nests too deeply.
    #[error(
        "document too large or too deeply nested (aliases expand to more than {MAX_NODES} nodes?)"
    )]
    TooLarge,
}

/// Parses every document of a stream: concatenated JSON values when the text starts with `{`
/// or `[`, otherwise YAML documents (empty documents are skipped).
pub fn parse_documents(text: &str) -> Result<Vec<Value>, DocError> {
    let trimmed = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let mut out = Vec::new();
        for v in serde_json::Deserializer::from_str(trimmed).into_iter::<Value>() {
            match v {
                Ok(v) => out.push(v),
                Err(e) => {
                    // A flow-style YAML document also starts with `{`; try YAML before failing.
                    return parse_yaml(text).map_err(|_| DocError::Json(e.to_string()));
                }
            }
        }
        return Ok(out);
    }
    parse_yaml(text)
}

/// Expands `kind: List` (and any `*List` kind with `items`) into its items; other values are
/// returned as they are.
pub fn flatten_lists(doc: &Value) -> Vec<&Value> {
    let is_list = doc
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k == "List" || k.ends_with("List"));
    match (is_list, doc.get("items").and_then(Value::as_array)) {
        (true, Some(items)) => items.iter().flat_map(flatten_lists).collect(),
        _ => vec![doc],
    }
}

enum Frame {
    Seq(Vec<Value>, usize),
    Map(Map<String, Value>, Option<String>, usize),
}

fn parse_yaml(text: &str) -> Result<Vec<Value>, DocError> {
    let mut parser = Parser::new_from_str(text);
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: std::collections::HashMap<usize, Value> = std::collections::HashMap::new();
    let mut nodes = 0usize;
    let mut root: Option<Value> = None;
    loop {
        let (event, _) = parser
            .next_token()
            .map_err(|e| DocError::Yaml(e.to_string()))?;
        let finished: Option<(Value, usize)> = match event {
            Event::StreamEnd => break,
            Event::DocumentStart => {
                root = None;
                None
            }
            Event::DocumentEnd => {
                if let Some(v) = root.take() {
                    if !v.is_null() {
                        docs.push(v);
                    }
                }
                None
            }
            Event::Scalar(value, style, anchor, tag) => {
                nodes += 1;
                Some((resolve_scalar(value, style, tag.as_ref()), anchor))
            }
            Event::Alias(id) => {
                let v = anchors.get(&id).ok_or(DocError::UnknownAnchor)?.clone();
                nodes += count_nodes(&v);
                Some((v, 0))
            }
            Event::SequenceStart(anchor, _) => {
                stack.push(Frame::Seq(Vec::new(), anchor));
                None
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Frame::Map(Map::new(), None, anchor));
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(items, anchor)) => Some((Value::Array(items), anchor)),
                _ => return Err(DocError::Yaml("unbalanced sequence".into())),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(map, _, anchor)) => Some((Value::Object(map), anchor)),
                _ => return Err(DocError::Yaml("unbalanced mapping".into())),
            },
            Event::StreamStart | Event::Nothing => None,
        };
        if nodes > MAX_NODES || stack.len() > MAX_DEPTH {
            return Err(DocError::TooLarge);
        }
        let Some((value, anchor)) = finished else {
            continue;
        };
        if anchor > 0 {
            anchors.insert(anchor, value.clone());
        }
        match stack.last_mut() {
            None => root = Some(value),
            Some(Frame::Seq(items, _)) => items.push(value),
            Some(Frame::Map(map, pending, _)) => match pending.take() {
                None => match value {
                    Value::String(k) => *pending = Some(k),
                    Value::Bool(_) | Value::Number(_) | Value::Null => {
                        *pending = Some(scalar_key(&value))
                    }
                    _ => return Err(DocError::ComplexKey),
                },
                Some(key) => {
                    if key == "<<" {
                        if let Value::Object(m) = value {
                            for (k, v) in m {
                                map.entry(k).or_insert(v);
                            }
                            continue;
                        }
                    }
                    map.insert(key, value);
                }
            },
        }
    }
    Ok(docs)
}

fn scalar_key(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

fn count_nodes(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(count_nodes).sum::<usize>(),
        Value::Object(m) => 1 + m.values().map(count_nodes).sum::<usize>(),
        _ => 1,
    }
}

/// Resolves a scalar the way Kubernetes' YAML reader does for the fields that matter here:
/// quoted and block scalars are strings; plain ones may be null, bool, int or float.
fn resolve_scalar(value: String, style: TScalarStyle, tag: Option<&Tag>) -> Value {
    if let Some(tag) = tag {
        if tag.handle == "tag:yaml.org,2002:" || tag.handle == "!!" {
            match tag.suffix.as_str() {
                "str" | "binary" => return Value::String(value),
                "null" => return Value::Null,
                _ => {}
            }
        }
    }
    if style != TScalarStyle::Plain {
        return Value::String(value);
    }
    match value.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Some(n) = parse_int(&value) {
        return Value::Number(n.into());
    }
    if value.bytes().any(|b| b.is_ascii_digit())
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
    {
        if let Some(n) = value.parse::<f64>().ok().and_then(Number::from_f64) {
            return Value::Number(n);
        }
    }
    Value::String(value)
}

fn parse_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let parsed = if let Some(hex) = body.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()?
    } else if let Some(oct) = body.strip_prefix("0o") {
        i64::from_str_radix(oct, 8).ok()?
    } else if !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit()) {
        body.parse::<i64>().ok()?
    } else {
        return None;
    };
    Some(if neg { -parsed } else { parsed })
}

/// Go's `json.MarshalIndent(v, "", "  ")` followed by a newline: 2-space indentation, object
/// keys in the value's order, `<`, `>`, `&`, U+2028 and U+2029 escaped as Go does.
pub fn to_go_json(value: &Value) -> String {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    let mut out = go_html_escape(&text);
    out.push('\n');
    out
}

/// Compact JSON with Go's HTML escaping (what `/v1/rotate` answers).
pub fn to_go_json_compact(value: &Value) -> String {
    go_html_escape(&value.to_string())
}

fn go_html_escape(text: &str) -> String {
    // These characters only ever occur inside JSON strings, so a textual pass is exact.
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// Go `base64.StdEncoding` decoding error: the byte offset Go reports.
#[derive(Debug, thiserror::Error, Clone, Copy, PartialEq, Eq)]
#[error("illegal base64 data at input byte {0}")]
pub struct Base64Error(pub usize);

/// Decodes standard, padded base64 as Go does: `\r` and `\n` are ignored anywhere, padding is
/// required, and the first bad byte's offset is reported like Go's `CorruptInputError`.
pub fn decode_base64_go(text: &str) -> Result<Vec<u8>, Base64Error> {
    let bytes = text.as_bytes();
    let mut clean = Vec::with_capacity(bytes.len());
    let mut offsets = Vec::with_capacity(bytes.len());
    for (i, &b) in bytes.iter().enumerate() {
        if b != b'\r' && b != b'\n' {
            clean.push(b);
            offsets.push(i);
        }
    }
    let valid = |b: u8| b.is_ascii_alphanumeric() || b == b'+' || b == b'/';
    for (j, &b) in clean.iter().enumerate() {
        if b == b'=' {
            let pos = j % 4;
            let rest = &clean[j..];
            let ok = match pos {
                2 => rest.len() == 2 && rest[1] == b'=',
                3 => rest.len() == 1,
                _ => false,
            };
            if !ok {
                let bad = if pos < 2 {
                    j
                } else {
                    j + rest.iter().take_while(|&&c| c == b'=').count().min(4 - pos)
                };
                return Err(Base64Error(
                    offsets.get(bad).copied().unwrap_or(bytes.len()),
                ));
            }
            break;
        }
        if !valid(b) {
            return Err(Base64Error(offsets[j]));
        }
    }
    if clean.len() % 4 != 0 {
        let start = clean.len() - clean.len() % 4;
        return Err(Base64Error(
            offsets.get(start).copied().unwrap_or(bytes.len()),
        ));
    }
    base64::engine::general_purpose::STANDARD
        .decode(&clean)
        .map_err(|_| Base64Error(bytes.len()))
}

/// Standard padded base64 without line breaks.
pub fn encode_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_and_json_streams() {
        let docs = parse_documents("a: 1\nb: 'x'\nc: true\nd: ~\n---\n---\nk: [1, two]\n").unwrap();
        assert_eq!(
            docs,
            vec![
                json!({"a": 1, "b": "x", "c": true, "d": null}),
                json!({"k": [1, "two"]})
            ]
        );
        let docs = parse_documents("{\"a\":1}\n{\"b\":2}").unwrap();
        assert_eq!(docs, vec![json!({"a": 1}), json!({"b": 2})]);
        let docs = parse_documents("{a: 1}").unwrap();
        assert_eq!(docs, vec![json!({"a": 1})]);
        assert!(parse_documents("a: [\n").is_err());
    }

    #[test]
    fn anchors_and_bombs() {
        let docs = parse_documents("a: &x {k: v}\nb: *x\n").unwrap();
        assert_eq!(docs[0]["b"]["k"], "v");
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let p = i - 1;
            bomb.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        assert_eq!(parse_documents(&bomb), Err(DocError::TooLarge));
    }

    #[test]
    fn lists_flatten() {
        let l = json!({"kind": "List", "items": [{"kind": "Secret"}, {"kind": "SecretList", "items": [{"kind": "Secret", "n": 2}]}]});
        assert_eq!(flatten_lists(&l).len(), 2);
    }

    #[test]
    fn go_json() {
        let v = json!({"b": "<&>", "a": {}});
        assert_eq!(
            to_go_json(&v),
            "{\n  \"b\": \"\\u003c\\u0026\\u003e\",\n  \"a\": {}\n}\n"
        );
    }

    #[test]
    fn go_base64() {
        assert_eq!(decode_base64_go("YmFy").unwrap(), b"bar");
        assert_eq!(decode_base64_go("Ym\r\nFy").unwrap(), b"bar");
        assert_eq!(decode_base64_go("YQ==").unwrap(), b"a");
        assert_eq!(decode_base64_go("!!!not-base64!!!"), Err(Base64Error(0)));
        assert_eq!(decode_base64_go("YmF"), Err(Base64Error(0)));
        assert_eq!(decode_base64_go("YmFyY"), Err(Base64Error(4)));
        assert_eq!(decode_base64_go("YW-z"), Err(Base64Error(2)));
        assert_eq!(decode_base64_go("").unwrap(), b"");
    }
}
