//! Text to [`Node`] trees.
//!
//! Events come from `saphyr-parser`; this module builds the trees with go-yaml v3's typing
//! rules (plain scalars resolved, quoted and block scalars strings, core-schema tags honoured),
//! applies `<<` merge keys, refuses duplicate keys, and defends against hostile input: alias
//! expansion is budgeted (YAML "billion laughs"), nesting depth is capped, and nothing panics.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use thiserror::Error;

use crate::node::{Map, Node, Scalar};
use crate::resolve::{self, Tag};
use crate::timestamp;

/// Deepest nesting of collections accepted.
pub const MAX_DEPTH: usize = 1000;

/// Fewest nodes a document may always expand to, whatever its size.
const MIN_NODE_BUDGET: usize = 100_000;
/// Most nodes any input may expand to.
const MAX_NODE_BUDGET: usize = 5_000_000;
/// Nodes allowed per input byte (alias expansion beyond this is refused).
const NODES_PER_BYTE: usize = 10;

/// Why text could not be read as YAML. Every variant says where (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    /// The bytes are not UTF-8.
    #[error("line {line}, column {column}: invalid UTF-8")]
    InvalidUtf8 {
        /// Line of the first bad byte.
        line: usize,
        /// Column of the first bad byte.
        column: usize,
    },
    /// The bytes start with a UTF-16 byte-order mark but are not valid UTF-16.
    #[error("line {line}, column {column}: invalid UTF-16: {problem}")]
    InvalidUtf16 {
        /// Line reached before the bad code unit.
        line: usize,
        /// Column reached before the bad code unit.
        column: usize,
        /// What is wrong.
        problem: &'static str,
    },
    /// The YAML syntax is wrong.
    #[error("line {line}, column {column}: {message}")]
    Syntax {
        /// Line.
        line: usize,
        /// Column.
        column: usize,
        /// What the scanner or parser said.
        message: String,
    },
    /// A mapping has the same key twice.
    #[error("line {line}: mapping key {key:?} already defined at line {first_line}")]
    DuplicateKey {
        /// Line of the second occurrence.
        line: usize,
        /// Column of the second occurrence.
        column: usize,
        /// The key.
        key: String,
        /// Line of the first occurrence.
        first_line: usize,
    },
    /// A mapping key is a sequence or mapping.
    #[error("line {line}, column {column}: invalid map key: a {kind} cannot be a mapping key")]
    InvalidKey {
        /// Line.
        line: usize,
        /// Column.
        column: usize,
        /// `sequence` or `mapping`.
        kind: &'static str,
    },
    /// An alias names no earlier anchor (or one still being defined).
    #[error("line {line}, column {column}: unknown anchor referenced by alias")]
    UnknownAnchor {
        /// Line.
        line: usize,
        /// Column.
        column: usize,
    },
    /// Expanding aliases would make the document too large (a YAML bomb).
    #[error(
        "line {line}, column {column}: alias expansion exceeds the limit of {limit} nodes \
         (refusing a possible YAML alias bomb)"
    )]
    AliasBudget {
        /// Line of the alias that crossed the limit.
        line: usize,
        /// Column of that alias.
        column: usize,
        /// The node limit for this input.
        limit: usize,
    },
    /// Collections nested deeper than the depth limit (1000 levels).
    #[error("line {line}, column {column}: nesting deeper than {limit} levels")]
    TooDeep {
        /// Line.
        line: usize,
        /// Column.
        column: usize,
        /// The depth limit.
        limit: usize,
    },
    /// An explicitly tagged scalar whose text is not of that type (`!!int abc`).
    #[error("line {line}, column {column}: cannot decode {found} `{value}` as a {tag}")]
    TagMismatch {
        /// Line.
        line: usize,
        /// Column.
        column: usize,
        /// What the text resolves to, e.g. `!!str`.
        found: &'static str,
        /// The text.
        value: String,
        /// The tag written, e.g. `!!int`.
        tag: &'static str,
    },
    /// A `<<` merge key whose value is not a mapping or a sequence of mappings.
    #[error(
        "line {line}, column {column}: map merge requires map or sequence of maps as the value"
    )]
    MergeValue {
        /// Line.
        line: usize,
        /// Column.
        column: usize,
    },
    /// [`parse_document`] was given more than one document.
    #[error("expected a single YAML document, found {count}")]
    MultipleDocuments {
        /// How many documents there were.
        count: usize,
    },
}

impl ParseError {
    /// The 1-based line the error is at (0 when it concerns the whole stream).
    pub fn line(&self) -> usize {
        match self {
            ParseError::InvalidUtf8 { line, .. }
            | ParseError::InvalidUtf16 { line, .. }
            | ParseError::Syntax { line, .. }
            | ParseError::DuplicateKey { line, .. }
            | ParseError::InvalidKey { line, .. }
            | ParseError::UnknownAnchor { line, .. }
            | ParseError::AliasBudget { line, .. }
            | ParseError::TooDeep { line, .. }
            | ParseError::TagMismatch { line, .. }
            | ParseError::MergeValue { line, .. } => *line,
            ParseError::MultipleDocuments { .. } => 0,
        }
    }

    /// The 1-based column the error is at (0 when it concerns the whole stream).
    pub fn column(&self) -> usize {
        match self {
            ParseError::InvalidUtf8 { column, .. }
            | ParseError::InvalidUtf16 { column, .. }
            | ParseError::Syntax { column, .. }
            | ParseError::DuplicateKey { column, .. }
            | ParseError::InvalidKey { column, .. }
            | ParseError::UnknownAnchor { column, .. }
            | ParseError::AliasBudget { column, .. }
            | ParseError::TooDeep { column, .. }
            | ParseError::TagMismatch { column, .. }
            | ParseError::MergeValue { column, .. } => *column,
            ParseError::MultipleDocuments { .. } => 0,
        }
    }
}

/// Parses a multi-document YAML stream. Empty and comment-only documents are skipped. The
/// bytes are UTF-8, or UTF-16 with a byte-order mark (transcoded, as kubectl reads them); a
/// leading UTF-8 byte-order mark is dropped.
pub fn parse_documents(bytes: &[u8]) -> Result<Vec<Node>, ParseError> {
    let text = encoding::decode(bytes)?;
    let text: &str = &text;
    let budget =
        (text.len().saturating_mul(NODES_PER_BYTE)).clamp(MIN_NODE_BUDGET, MAX_NODE_BUDGET);
    Builder::new(budget).run(text)
}

/// Parses exactly one document; an empty stream gives a null node.
pub fn parse_document(bytes: &[u8]) -> Result<Node, ParseError> {
    let mut docs = parse_documents(bytes)?;
    match docs.len() {
        0 => Ok(Node::null()),
        1 => Ok(docs.pop().unwrap_or_default()),
        count => Err(ParseError::MultipleDocuments { count }),
    }
}

/// 1-based line and column of byte offset `at`.
fn position_of(bytes: &[u8], at: usize) -> (usize, usize) {
    let before = &bytes[..at.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

/// Where an event starts, 1-based.
#[derive(Clone, Copy)]
struct Pos {
    line: usize,
    column: usize,
}

impl Pos {
    fn of(span: &Span) -> Pos {
        Pos {
            line: span.start.line(),
            column: span.start.col() + 1,
        }
    }
}

/// What a node means if it turns out to be a mapping key.
#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    /// An ordinary key.
    Plain,
    /// A plain `<<`: a merge key.
    Merge,
    /// A quoted or tagged `<<`: kustomize drops the entry.
    Dropped,
}

/// A key waiting for its value.
struct PendingKey {
    key: String,
    kind: KeyKind,
    pos: Pos,
}

/// A collection being built.
enum Frame {
    Seq {
        items: Vec<Node>,
        anchor: usize,
        nodes: usize,
    },
    Map {
        map: Map,
        lines: Vec<usize>,
        key: Option<PendingKey>,
        merges: Vec<(Node, Pos)>,
        anchor: usize,
        nodes: usize,
    },
}

struct Builder {
    stack: Vec<Frame>,
    /// Per open collection: whether it or an enclosing one is in flow style (`[...]`/`{...}`).
    flow: Vec<bool>,
    /// Maps the parser's character offsets to byte offsets (events arrive in order).
    cursor: CharCursor,
    anchors: HashMap<usize, (Node, usize)>,
    docs: Vec<Node>,
    root: Option<Node>,
    total_nodes: usize,
    budget: usize,
}

impl Builder {
    fn new(budget: usize) -> Builder {
        Builder {
            stack: Vec::new(),
            flow: Vec::new(),
            cursor: CharCursor::default(),
            anchors: HashMap::new(),
            docs: Vec::new(),
            root: None,
            total_nodes: 0,
            budget,
        }
    }

    fn run(mut self, text: &str) -> Result<Vec<Node>, ParseError> {
        let mut parser = Parser::new_from_str(text);
        while let Some(ev) = parser.next_event() {
            let (event, span) = ev.map_err(|e| ParseError::Syntax {
                line: e.marker().line(),
                column: e.marker().col() + 1,
                message: e.info().to_string(),
            })?;
            self.event(text, event, &span)?;
        }
        if let Some(root) = self.root.take() {
            self.docs.push(root);
        }
        Ok(self.docs)
    }

    /// Handles one parser event.
    fn event(&mut self, text: &str, event: Event<'_>, span: &Span) -> Result<(), ParseError> {
        let pos = Pos::of(span);
        match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => Ok(()),
            Event::DocumentStart(_) => {
                self.anchors.clear();
                self.root = None;
                Ok(())
            }
            Event::DocumentEnd => {
                if let Some(root) = self.root.take() {
                    self.docs.push(root);
                }
                Ok(())
            }
            Event::Alias(id) => self.alias(id, pos),
            Event::Scalar(value, style, anchor, tag) => {
                self.scalar(value.into_owned(), style, anchor, tag.as_deref(), pos)
            }
            Event::SequenceStart(anchor, _) => {
                self.charge(1, pos)?;
                self.enter(text, span);
                let frame = Frame::Seq {
                    items: Vec::new(),
                    anchor,
                    nodes: 1,
                };
                self.push(frame, pos)
            }
            Event::MappingStart(anchor, _) => {
                self.charge(1, pos)?;
                self.enter(text, span);
                let frame = Frame::Map {
                    map: Map::new(),
                    lines: Vec::new(),
                    key: None,
                    merges: Vec::new(),
                    anchor,
                    nodes: 1,
                };
                self.push(frame, pos)
            }
            Event::SequenceEnd | Event::MappingEnd => self.close(pos),
        }
    }

    /// An alias: a copy of the anchored node, charged at its full size.
    fn alias(&mut self, id: usize, pos: Pos) -> Result<(), ParseError> {
        let count =
            self.anchors
                .get(&id)
                .map(|(_, count)| *count)
                .ok_or(ParseError::UnknownAnchor {
                    line: pos.line,
                    column: pos.column,
                })?;
        self.charge(count, pos)?;
        let node = self
            .anchors
            .get(&id)
            .map(|(n, _)| n.clone())
            .unwrap_or_default();
        self.add(node, count, KeyKind::Plain, pos)
    }

    /// A scalar, typed, anchored if asked, and added (unless it is an empty document).
    fn scalar(
        &mut self,
        value: String,
        style: ScalarStyle,
        anchor: usize,
        tag: Option<&saphyr_parser::Tag>,
        pos: Pos,
    ) -> Result<(), ParseError> {
        self.charge(1, pos)?;
        let plain = style == ScalarStyle::Plain;
        let merge = plain && tag.is_none() && value == "<<";
        // kustomize drops a quoted or tagged `<<` key with its value.
        let dropped_key = !merge && value == "<<";
        let empty_doc = plain && tag.is_none() && value.is_empty();
        let mut node = scalar(value, plain, tag, pos)?;
        if plain && tag.is_none() && self.flow.last() == Some(&true) {
            flow_timestamp_as_string(&mut node);
        }
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), 1));
        }
        if empty_doc && self.stack.is_empty() {
            // An empty (or comment-only) document: skipped.
            return Ok(());
        }
        let kind = if dropped_key {
            KeyKind::Dropped
        } else if merge {
            KeyKind::Merge
        } else {
            KeyKind::Plain
        };
        self.add(node, 1, kind, pos)
    }

    /// The end of a sequence or mapping: merges applied, anchored if asked, and added.
    fn close(&mut self, pos: Pos) -> Result<(), ParseError> {
        let Some(frame) = self.stack.pop() else {
            return Ok(());
        };
        self.flow.pop();
        let (node, anchor, nodes) = match frame {
            Frame::Seq {
                items,
                anchor,
                nodes,
            } => (Node::Seq(items), anchor, nodes),
            Frame::Map {
                mut map,
                merges,
                anchor,
                nodes,
                ..
            } => {
                apply_merges(&mut map, merges)?;
                (Node::Map(map), anchor, nodes)
            }
        };
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), nodes));
        }
        self.add(node, nodes, KeyKind::Plain, pos)
    }

    /// Records whether the collection starting at `span` is in flow context.
    fn enter(&mut self, text: &str, span: &Span) {
        let inherited = self.flow.last() == Some(&true);
        let flow = inherited || {
            let at = self.cursor.byte_of(text, span.start.index());
            starts_flow_collection(&text[at..])
        };
        self.flow.push(flow);
    }

    /// Counts `n` more nodes against the budget.
    fn charge(&mut self, n: usize, pos: Pos) -> Result<(), ParseError> {
        self.total_nodes = self.total_nodes.saturating_add(n);
        if self.total_nodes > self.budget {
            return Err(ParseError::AliasBudget {
                line: pos.line,
                column: pos.column,
                limit: self.budget,
            });
        }
        Ok(())
    }

    fn push(&mut self, frame: Frame, pos: Pos) -> Result<(), ParseError> {
        if self.stack.len() >= MAX_DEPTH {
            self.flow.pop();
            return Err(ParseError::TooDeep {
                line: pos.line,
                column: pos.column,
                limit: MAX_DEPTH,
            });
        }
        self.stack.push(frame);
        Ok(())
    }

    /// Adds a finished node (of `count` nodes) to the collection being built, or as the root.
    fn add(&mut self, node: Node, count: usize, kind: KeyKind, pos: Pos) -> Result<(), ParseError> {
        let Some(top) = self.stack.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        match top {
            Frame::Seq { items, nodes, .. } => {
                items.push(node);
                *nodes = nodes.saturating_add(count);
            }
            Frame::Map {
                map,
                lines,
                key,
                merges,
                nodes,
                ..
            } => {
                *nodes = nodes.saturating_add(count);
                match key.take() {
                    None => {
                        let text = match node {
                            Node::Scalar(s) => s.value,
                            Node::Seq(_) => {
                                return Err(invalid_key(pos, "sequence"));
                            }
                            Node::Map(_) => return Err(invalid_key(pos, "mapping")),
                        };
                        if kind == KeyKind::Plain {
                            if let Some(i) = map.get_index_of(&text) {
                                return Err(ParseError::DuplicateKey {
                                    line: pos.line,
                                    column: pos.column,
                                    key: text,
                                    first_line: lines.get(i).copied().unwrap_or(0),
                                });
                            }
                        }
                        *key = Some(PendingKey {
                            key: text,
                            kind,
                            pos,
                        });
                    }
                    Some(k) if k.kind == KeyKind::Merge => merges.push((node, k.pos)),
                    Some(k) if k.kind == KeyKind::Dropped => {}
                    Some(k) => {
                        map.insert(k.key, node);
                        lines.push(k.pos.line);
                    }
                }
            }
        }
        Ok(())
    }
}

/// Converts the parser's character offsets to byte offsets, resuming from the last answer.
#[derive(Default)]
struct CharCursor {
    chars: usize,
    bytes: usize,
}

impl CharCursor {
    fn byte_of(&mut self, text: &str, char_index: usize) -> usize {
        if char_index < self.chars {
            *self = CharCursor::default();
        }
        let rest = &text[self.bytes..];
        match rest.char_indices().nth(char_index - self.chars) {
            Some((offset, _)) => {
                self.chars = char_index;
                self.bytes += offset;
                self.bytes
            }
            None => text.len(),
        }
    }
}

/// True when `s` (from a collection's start) opens `[` or `{`, after any anchor and tag.
fn starts_flow_collection(s: &str) -> bool {
    let mut rest = s;
    loop {
        rest = rest.trim_start_matches([' ', '\t', '\r', '\n']);
        match rest.as_bytes().first() {
            Some(b'[' | b'{') => return true,
            Some(b'&' | b'!') => {
                let end = rest.find([' ', '\t', '\r', '\n']).unwrap_or(rest.len());
                rest = &rest[end..];
            }
            _ => return false,
        }
    }
}

/// kustomize re-encodes flow collections in flow style before decoding them, and a
/// timestamp's `:` forces quotes there, so such a timestamp comes back as its text.
fn flow_timestamp_as_string(node: &mut Node) {
    if let Node::Scalar(s) = node {
        if s.tag == Tag::Timestamp && s.value.contains(':') {
            s.tag = Tag::Str;
        }
    }
}

fn invalid_key(pos: Pos, kind: &'static str) -> ParseError {
    ParseError::InvalidKey {
        line: pos.line,
        column: pos.column,
        kind,
    }
}

/// Adds merged keys that the mapping does not define itself; earlier sources win.
fn apply_merges(map: &mut Map, merges: Vec<(Node, Pos)>) -> Result<(), ParseError> {
    for (source, pos) in merges {
        let bad = || ParseError::MergeValue {
            line: pos.line,
            column: pos.column,
        };
        match source {
            Node::Map(m) => merge_from(map, m),
            Node::Seq(items) => {
                for item in items {
                    match item {
                        Node::Map(m) => merge_from(map, m),
                        _ => return Err(bad()),
                    }
                }
            }
            Node::Scalar(_) => return Err(bad()),
        }
    }
    Ok(())
}

fn merge_from(map: &mut Map, source: Map) {
    for (k, v) in source {
        map.entry(k).or_insert(v);
    }
}

/// Types a scalar as go-yaml v3 does.
fn scalar(
    value: String,
    plain: bool,
    tag: Option<&saphyr_parser::Tag>,
    pos: Pos,
) -> Result<Node, ParseError> {
    let explicit = tag.and_then(|t| {
        if !t.is_yaml_core_schema() {
            return Some(Tag::Str);
        }
        Some(match t.suffix.as_str() {
            "str" => Tag::Str,
            "int" => Tag::Int,
            "float" => Tag::Float,
            "bool" => Tag::Bool,
            "null" => Tag::Null,
            "binary" => Tag::Binary,
            "timestamp" => Tag::Timestamp,
            _ => return None,
        })
    });
    let tag = match (explicit, tag) {
        (Some(t), _) => t,
        // An unknown core tag (`!!merge`, `!!set`...): resolved like a plain scalar.
        (None, Some(_)) if plain => Tag::resolve_plain(&value),
        (None, Some(_)) => Tag::Str,
        (None, None) if plain => Tag::resolve_plain(&value),
        (None, None) => Tag::Str,
    };
    if explicit.is_some() {
        check_tagged(&value, tag, pos)?;
    }
    Ok(Node::Scalar(Scalar { value, tag }))
}

/// go-yaml v3 refuses an explicit tag the text does not fit.
fn check_tagged(value: &str, tag: Tag, pos: Pos) -> Result<(), ParseError> {
    let found = Tag::resolve_plain(value);
    let ok = match tag {
        Tag::Str | Tag::Binary => true,
        Tag::Int => resolve::parse_int(value).is_some() && found == Tag::Int,
        Tag::Float => matches!(found, Tag::Float | Tag::Int),
        Tag::Bool => found == Tag::Bool,
        Tag::Null => found == Tag::Null,
        Tag::Timestamp => timestamp::parse(value).is_some(),
    };
    if ok {
        return Ok(());
    }
    Err(ParseError::TagMismatch {
        line: pos.line,
        column: pos.column,
        found: found.short_name(),
        value: value.to_string(),
        tag: tag.short_name(),
    })
}

mod encoding;

#[cfg(test)]
mod tests;
