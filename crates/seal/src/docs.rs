//! Reading and writing Kubernetes documents as `serde_json::Value`: YAML streams (`---`
//! separated, read with fjord-yaml) or concatenated JSON on input; kubeseal's two output forms
//! (Go `json.MarshalIndent` with HTML escaping, and go-yaml v2 YAML written by fjord-yaml's
//! emitter); Go's standard base64.
//!
//! YAML values are typed as fjord-yaml types them (go-yaml v3 resolution, `<<` merges, duplicate
//! keys refused, alias bombs and deep nesting refused), with one change for kubeseal's reader
//! (go-yaml v2 into `interface{}`): a timestamp-looking scalar stays its text (`2024-01-01`
//! is the string `2024-01-01`, not `2024-01-01T00:00:00Z`). Error messages never quote a
//! scalar's value, which may be a secret.

use base64::Engine;
use fjord_yaml::{EmitError, Node, ParseError, Tag};
use serde_json::Value;

/// Failures reading a document stream or writing YAML.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum DocError {
    /// The YAML is malformed (or hostile: alias bomb, too deep).
    #[error("invalid YAML: {0}")]
    Yaml(String),
    /// The JSON is malformed.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// A YAML value has no JSON form (`.inf`, a tagged scalar that does not fit its tag).
    #[error("invalid YAML: {}{problem}", at(path))]
    Value {
        /// Dotted path of the field.
        path: String,
        /// What is wrong, without the value itself.
        problem: String,
    },
    /// A value cannot be written as YAML (control characters go-yaml refuses).
    #[error("cannot write YAML: {}{problem}", at(path))]
    Emit {
        /// Dotted path of the field.
        path: String,
        /// What is wrong, without the value itself.
        problem: String,
    },
}

fn at(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("field {path}: ")
    }
}

/// Parses every document of a stream: concatenated JSON values when the text starts with `{`
/// or `[`, otherwise YAML documents (empty and `null` documents are skipped).
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

fn parse_yaml(text: &str) -> Result<Vec<Value>, DocError> {
    let nodes = fjord_yaml::parse_documents(text.as_bytes()).map_err(parse_error)?;
    let mut docs = Vec::with_capacity(nodes.len());
    for mut node in nodes {
        timestamps_as_text(&mut node);
        let value = fjord_yaml::to_json_value(&node).map_err(|e| DocError::Value {
            path: e.path().to_string(),
            problem: emit_problem(&e),
        })?;
        if !value.is_null() {
            docs.push(value);
        }
    }
    Ok(docs)
}

/// go-yaml v2 (kubeseal's reader) keeps timestamps as their text when decoding into
/// `interface{}`; fjord-yaml's JSON view would rewrite them as RFC 3339.
fn timestamps_as_text(node: &mut Node) {
    match node {
        Node::Scalar(s) if s.tag == Tag::Timestamp => s.tag = Tag::Str,
        Node::Scalar(_) => {}
        Node::Seq(items) => items.iter_mut().for_each(timestamps_as_text),
        Node::Map(map) => map.values_mut().for_each(timestamps_as_text),
    }
}

/// The parse error's message, with a mistyped scalar's text left out.
fn parse_error(e: ParseError) -> DocError {
    DocError::Yaml(match e {
        ParseError::TagMismatch {
            line,
            column,
            found,
            tag,
            ..
        } => format!("line {line}, column {column}: cannot decode a {found} value as a {tag}"),
        other => other.to_string(),
    })
}

/// What an [`EmitError`] says, without the path prefix and without any scalar text.
fn emit_problem(e: &EmitError) -> String {
    match e {
        EmitError::UnsupportedValue { value, .. } => format!("json: unsupported value: {value}"),
        EmitError::Decode { .. } => "value does not match its tag or encoding".into(),
        EmitError::ControlCharacters { .. } => "control characters are not allowed".into(),
        EmitError::DocumentIndicator { .. } => {
            "found unexpected document indicator after U+0085".into()
        }
        EmitError::KeyLineBreak { .. } => "mapping key contains U+0085".into(),
    }
}

/// One document as go-yaml v2 (kubeseal's `--format yaml`) writes it: keys in v2 order,
/// 2-space indentation, no leading `---`, a final newline.
pub fn to_yaml(value: &Value) -> Result<String, DocError> {
    fjord_yaml::emit(&fjord_yaml::from_json_value(value)).map_err(|e| DocError::Emit {
        path: e.path().to_string(),
        problem: emit_problem(&e),
    })
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
        match parse_documents(&bomb) {
            Err(DocError::Yaml(m)) => assert!(m.contains("alias bomb"), "{m}"),
            other => panic!("{other:?}"),
        }
        let deep = format!("{}{}", "[".repeat(2000), "]".repeat(2000));
        match parse_documents(&format!("a: {deep}\n")) {
            Err(DocError::Yaml(m)) => assert!(m.contains("recursion limit"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn kubeseal_reader_semantics() {
        let docs = parse_documents(
            "stringData:\n  since: 2024-01-01\n  hex: 0x1F\n  word: yes\n  bin: !!binary aGk=\n",
        )
        .unwrap();
        assert_eq!(
            docs[0]["stringData"],
            json!({"since": "2024-01-01", "hex": 31, "word": "yes", "bin": "hi"})
        );
        let dup = parse_documents("a: 1\na: 2\n").unwrap_err();
        assert!(dup.to_string().contains("already defined"), "{dup}");
        assert_eq!(parse_documents("~\n---\n").unwrap(), Vec::<Value>::new());
    }

    #[test]
    fn errors_never_quote_values() {
        for input in [
            "stringData:\n  pw: !!int hunter2secret\n",
            "stringData:\n  pw: !!binary hunter2secret?\n",
            "stringData:\n  pw: !!float hunter2secret\n",
        ] {
            let err = parse_documents(input).unwrap_err().to_string();
            assert!(err.starts_with("invalid YAML: "), "{err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
        let err = parse_documents("x: .inf\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid YAML: field x: json: unsupported value: +Inf"
        );
    }

    #[test]
    fn yaml_output_is_go_yaml_v2() {
        let v =
            json!({"b": {"y": "1", "x": true}, "a": ["p", {"k": "v", "j": ""}], "c": {}, "d": []});
        assert_eq!(
            to_yaml(&v).unwrap(),
            "a:\n- p\n- j: \"\"\n  k: v\nb:\n  x: true\n  \"y\": \"1\"\nc: {}\nd: []\n"
        );
        let e = |s: &str| to_yaml(&json!({ "k": s })).unwrap();
        assert_eq!(e("true"), "k: \"true\"\n");
        assert_eq!(e("a: b"), "k: 'a: b'\n");
        assert_eq!(e("line1\nline2"), "k: |-\n  line1\n  line2\n");
        assert_eq!(e("12"), "k: \"12\"\n");
        assert_eq!(e("2024-01-01"), "k: \"2024-01-01\"\n");
        assert_eq!(e("{{ .x }}"), "k: '{{ .x }}'\n");
        // go-yaml v2's natural key order: digit runs compare by value.
        let ordered = to_yaml(&json!({"k10": 1, "k9": 2, "K": 3})).unwrap();
        assert_eq!(ordered, "K: 3\nk9: 2\nk10: 1\n");
        let err = to_yaml(&json!({"t": {"pw": "sec\u{7f}ret"}})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot write YAML: field t.pw: control characters are not allowed"
        );
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
