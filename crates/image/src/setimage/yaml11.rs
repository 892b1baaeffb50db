//! The first YAML document of a kustomization read as `sigs.k8s.io/yaml` reads it (go-yaml
//! v2, YAML 1.1 typing), into a [`Node`] tree whose tags are v2's: plain `yes`/`no`/`on`/`off`/
//! `y`/`n` are booleans, `0777` is octal, `1_000` an integer, timestamps stay strings;
//! duplicate keys are allowed (the last wins); `<<` merges maps. Later documents are not read.
//! Alias expansion is budgeted and nesting is capped, so hostile input fails cleanly.

use fjord_yaml::{Map, Node, Tag};
use saphyr_parser::{Event, Parser, ScalarStyle};

/// Deepest nesting accepted.
const MAX_DEPTH: usize = 1000;
/// Fewest nodes a document may always expand to.
const MIN_BUDGET: usize = 100_000;

/// A collection being built.
enum Frame {
    Seq(Vec<Node>, usize),
    Map(Map, Option<Key>, usize),
}

/// A mapping key waiting for its value.
enum Key {
    Plain(String),
    Merge,
}

struct Builder {
    stack: Vec<Frame>,
    anchors: std::collections::HashMap<usize, Node>,
    root: Option<Node>,
    nodes: usize,
    budget: usize,
    line: usize,
}

/// Reads the first document (`Null` when there is none). `Err` holds the text after
/// `invalid Kustomization: `, e.g. `yaml: line 3: …`.
pub(super) fn read_first_document(text: &str) -> Result<Node, String> {
    let mut b = Builder {
        stack: Vec::new(),
        anchors: std::collections::HashMap::new(),
        root: None,
        nodes: 0,
        budget: text.len().saturating_mul(10).max(MIN_BUDGET),
        line: 1,
    };
    let mut parser = Parser::new_from_str(text);
    while let Some(ev) = parser.next_event() {
        let (event, span) =
            ev.map_err(|e| format!("yaml: line {}: {}", e.marker().line(), e.info()))?;
        b.line = span.start.line();
        match event {
            Event::DocumentEnd => break,
            other => b.event(other)?,
        }
    }
    Ok(b.root.unwrap_or_default())
}

impl Builder {
    fn err(&self, msg: &str) -> String {
        format!("yaml: line {}: {msg}", self.line)
    }

    fn charge(&mut self, n: usize) -> Result<(), String> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > self.budget {
            return Err(self.err("document expands to too many nodes (alias bomb?)"));
        }
        Ok(())
    }

    fn event(&mut self, event: Event<'_>) -> Result<(), String> {
        match event {
            Event::Scalar(value, style, anchor, tag) => {
                self.charge(1)?;
                let plain = style == ScalarStyle::Plain;
                let tag_suffix = tag.as_ref().map(|t| t.suffix.clone());
                if plain && tag_suffix.is_none() && value == "<<" {
                    return self.add_key_merge();
                }
                let node = self.scalar(value.into_owned(), plain, tag_suffix.as_deref())?;
                if anchor != 0 {
                    self.anchors.insert(anchor, node.clone());
                }
                self.add(node)
            }
            Event::Alias(id) => {
                let node = self
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| self.err("unknown anchor referenced"))?;
                self.charge(count(&node))?;
                self.add(node)
            }
            Event::SequenceStart(anchor, _) => self.open(Frame::Seq(Vec::new(), anchor)),
            Event::MappingStart(anchor, _) => self.open(Frame::Map(Map::new(), None, anchor)),
            Event::SequenceEnd | Event::MappingEnd => self.close(),
            _ => Ok(()),
        }
    }

    fn open(&mut self, frame: Frame) -> Result<(), String> {
        self.charge(1)?;
        if self.stack.len() >= MAX_DEPTH {
            return Err(self.err("exceeded max depth"));
        }
        self.stack.push(frame);
        Ok(())
    }

    fn close(&mut self) -> Result<(), String> {
        let (node, anchor) = match self.stack.pop() {
            Some(Frame::Seq(items, anchor)) => (Node::Seq(items), anchor),
            Some(Frame::Map(map, _, anchor)) => (Node::Map(map), anchor),
            None => return Ok(()),
        };
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        self.add(node)
    }

    fn add_key_merge(&mut self) -> Result<(), String> {
        match self.stack.last_mut() {
            Some(Frame::Map(_, key @ None, _)) => {
                *key = Some(Key::Merge);
                Ok(())
            }
            _ => self.add(Node::string("<<")),
        }
    }

    /// Places a finished node: as the root, a sequence item, a key or a value.
    fn add(&mut self, node: Node) -> Result<(), String> {
        let line = self.line;
        let err = |m: &str| format!("yaml: line {line}: {m}");
        match self.stack.last_mut() {
            None => {
                self.root = Some(node);
                Ok(())
            }
            Some(Frame::Seq(items, _)) => {
                items.push(node);
                Ok(())
            }
            Some(Frame::Map(map, key, _)) => match key.take() {
                None => {
                    *key = Some(Key::Plain(
                        key_text(&node).ok_or_else(|| err("invalid map key"))?,
                    ));
                    Ok(())
                }
                Some(Key::Plain(k)) => {
                    map.insert(k, node);
                    Ok(())
                }
                Some(Key::Merge) => merge(map, node)
                    .map_err(|_| err("map merge requires map or sequence of maps as the value")),
            },
        }
    }

    /// Types a scalar as go-yaml v2 does when decoding into `interface{}`.
    fn scalar(&self, value: String, plain: bool, tag: Option<&str>) -> Result<Node, String> {
        match tag {
            Some("str") | Some("binary") => return Ok(Node::string(value)),
            Some(t @ ("int" | "float" | "bool" | "null")) => {
                let node = resolve(&value);
                let want = match t {
                    "int" => Tag::Int,
                    "float" => Tag::Float,
                    "bool" => Tag::Bool,
                    _ => Tag::Null,
                };
                let found = node.as_scalar().map(|s| s.tag);
                let fits = found == Some(want) || (want == Tag::Float && found == Some(Tag::Int));
                if !fits {
                    return Err(self.err(&format!("cannot decode `{value}` as a !!{t}")));
                }
                return Ok(node);
            }
            _ => {}
        }
        Ok(if plain {
            resolve(&value)
        } else {
            Node::string(value)
        })
    }
}

/// Nodes in a tree (for the alias budget).
fn count(n: &Node) -> usize {
    match n {
        Node::Scalar(_) => 1,
        Node::Seq(items) => 1 + items.iter().map(count).sum::<usize>(),
        Node::Map(m) => 1 + m.values().map(count).sum::<usize>(),
    }
}

/// A key as `sigs.k8s.io/yaml` turns it into a JSON object key.
fn key_text(n: &Node) -> Option<String> {
    let s = n.as_scalar()?;
    match s.tag {
        Tag::Null => None,
        _ => Some(s.value.clone()),
    }
}

/// `<<`: a mapping, or a sequence of mappings (earlier ones win), set into `map`.
fn merge(map: &mut Map, value: Node) -> Result<(), ()> {
    match value {
        Node::Map(m) => {
            map.extend(m);
            Ok(())
        }
        Node::Seq(items) => {
            for item in items.into_iter().rev() {
                match item {
                    Node::Map(m) => map.extend(m),
                    _ => return Err(()),
                }
            }
            Ok(())
        }
        Node::Scalar(_) => Err(()),
    }
}

/// go-yaml v2's typing of a plain scalar (numbers normalised to decimal text).
fn resolve(text: &str) -> Node {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Node::null(),
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True" | "TRUE" => {
            return Node::bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False" | "FALSE" => {
            return Node::bool(false)
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Node::scalar(".inf", Tag::Float)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Node::scalar("-.inf", Tag::Float),
        ".nan" | ".NaN" | ".NAN" => return Node::scalar(".nan", Tag::Float),
        _ => {}
    }
    let first = text.as_bytes()[0];
    if first == b'.' {
        if let Some(f) = go_float(text) {
            return float_node(f);
        }
    } else if first.is_ascii_digit() || first == b'+' || first == b'-' {
        let plain = text.replace('_', "");
        if let Some(i) = go_int(&plain) {
            return Node::scalar(i.to_string(), Tag::Int);
        }
        if fjord_yaml::is_yaml_style_float(&plain) {
            if let Some(f) = go_float(&plain) {
                return float_node(f);
            }
        }
    }
    Node::string(text)
}

fn float_node(f: f64) -> Node {
    if f.is_infinite() {
        return Node::scalar(if f > 0.0 { ".inf" } else { "-.inf" }, Tag::Float);
    }
    Node::scalar(format!("{f:e}"), Tag::Float)
}

/// Go's `strconv.ParseInt(s, 0, 64)`, then `ParseUint` (as an i128 to hold both).
fn go_int(s: &str) -> Option<i128> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let v = u64::from_str_radix(digits, radix).ok()?;
    let v = i128::from(v);
    if neg {
        (v <= i128::from(i64::MAX) + 1).then_some(-v)
    } else {
        Some(v)
    }
}

/// Go's `strconv.ParseFloat` for the decimal forms YAML text can reach here.
fn go_float(s: &str) -> Option<f64> {
    if !s
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    s.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag_of(text: &str) -> (Tag, String) {
        let n = resolve(text);
        let s = n.as_scalar().unwrap();
        (s.tag, s.value.clone())
    }

    #[test]
    fn yaml11_typing() {
        for b in ["yes", "No", "on", "OFF", "y", "N", "true"] {
            assert_eq!(tag_of(b).0, Tag::Bool, "{b}");
        }
        assert_eq!(tag_of("0777"), (Tag::Int, "511".into()));
        assert_eq!(tag_of("1_000"), (Tag::Int, "1000".into()));
        assert_eq!(tag_of("0x1F"), (Tag::Int, "31".into()));
        assert_eq!(tag_of("3.2e2").0, Tag::Float);
        assert_eq!(tag_of(".5").0, Tag::Float);
        assert_eq!(tag_of("2024-01-01"), (Tag::Str, "2024-01-01".into()));
        assert_eq!(tag_of("1.2.3").0, Tag::Str);
        assert_eq!(tag_of("v1").0, Tag::Str);
        assert_eq!(tag_of("~").0, Tag::Null);
    }

    #[test]
    fn duplicates_merges_and_first_document() {
        let n = read_first_document("a: 1\na: 2\nb: &x {c: 3}\nd:\n  <<: *x\n  e: 4\n---\n: bad\n")
            .unwrap();
        assert_eq!(n.str_at(&["a"]), Some("2"));
        assert_eq!(n.str_at(&["d", "c"]), Some("3"));
        assert_eq!(n.str_at(&["d", "e"]), Some("4"));
        assert!(read_first_document("").unwrap().is_null());
        assert!(read_first_document("a: [\n")
            .unwrap_err()
            .starts_with("yaml: line "));
    }

    #[test]
    fn alias_bombs_fail() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..12 {
            let prev = if i == 0 {
                "a".to_string()
            } else {
                format!("b{}", i - 1)
            };
            text.push_str(&format!("b{i}: &b{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        assert!(read_first_document(&text).is_err());
    }
}
