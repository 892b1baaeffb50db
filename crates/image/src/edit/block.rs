//! A small locator for block-style YAML: where each key, sequence item and scalar of a document
//! sits in the text.
//!
//! fjord-yaml's trees carry no positions, so the editors parse the text a second time with this
//! line-oriented reader. It understands the shapes Kubernetes manifests and kustomizations use:
//! block mappings and sequences (compact `- key: v` items included), plain, single- and
//! double-quoted one-line scalars with trailing comments, anchors and tags in front of values,
//! and `---` / `...` document markers. Everything else (flow collections, block scalars,
//! multi-line scalars, aliases, complex keys) becomes [`Pos::Opaque`]: its lines are skipped and
//! an editor that needs to change something inside it refuses with the line number. The text was
//! already accepted by fjord-yaml, and every edit is checked by parsing the result again, so
//! this reader only has to be right about the shapes it claims to understand.

use std::ops::Range;

/// How a scalar is quoted in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// Unquoted.
    Plain,
    /// `'...'`.
    Single,
    /// `"..."`.
    Double,
}

/// A one-line scalar's place in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScalarPos {
    /// Byte range of the scalar token (quotes included) in the whole text.
    pub span: Range<usize>,
    /// Its quoting.
    pub style: Style,
}

/// One mapping entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    /// The key's value (unquoted).
    pub key: String,
    /// Index of the line the key is on.
    pub line: usize,
    /// Byte offset of the key in the text.
    pub key_start: usize,
    /// The value.
    pub value: Pos,
    /// Index of the last line that belongs to this entry (its value included).
    pub last_line: usize,
}

/// One sequence item.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Item {
    /// Index of the line the `-` is on.
    pub line: usize,
    /// Column of the `-`.
    pub dash_col: usize,
    /// The item's value.
    pub value: Pos,
    /// Index of the last line that belongs to the item.
    pub last_line: usize,
}

/// A node with its position.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Pos {
    /// A block mapping whose keys sit at column `indent`.
    Map {
        /// Column of the keys.
        indent: usize,
        /// The entries in text order.
        entries: Vec<Entry>,
    },
    /// A block sequence whose dashes sit at column `indent`.
    Seq {
        /// Column of the dashes.
        indent: usize,
        /// The items in text order.
        items: Vec<Item>,
    },
    /// A one-line scalar.
    Scalar(ScalarPos),
    /// An empty value (`key:` with nothing under it).
    Empty {
        /// Byte offset just after the `:` or `-` that introduces it.
        at: usize,
    },
    /// Something this reader does not look into, starting on line `line` (0-based).
    Opaque {
        /// Index of its first line.
        line: usize,
    },
}

impl Pos {
    /// The entry of a mapping with key `key`.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        match self {
            Pos::Map { entries, .. } => entries.iter().find(|e| e.key == key),
            _ => None,
        }
    }

    /// The value under `key` of a mapping.
    #[cfg(test)]
    pub fn get(&self, key: &str) -> Option<&Pos> {
        self.entry(key).map(|e| &e.value)
    }

    /// Item `i` of a sequence.
    pub fn item(&self, i: usize) -> Option<&Item> {
        match self {
            Pos::Seq { items, .. } => items.get(i),
            _ => None,
        }
    }
}

/// One line of the text.
#[derive(Debug, Clone)]
pub(crate) struct Line<'a> {
    /// Byte offset of the line's first character.
    pub start: usize,
    /// The line without its ending (`\n` or `\r\n`).
    pub text: &'a str,
    /// Byte offset just past the line ending (the next line's start).
    pub end: usize,
}

impl Line<'_> {
    /// Number of leading spaces.
    pub fn indent(&self) -> usize {
        self.text.len() - self.text.trim_start_matches(' ').len()
    }

    /// Whether the line holds nothing but white space or a comment.
    pub fn is_blank(&self) -> bool {
        let t = self.text.trim_start();
        t.is_empty() || t.starts_with('#')
    }
}

/// Splits `text` into lines (a UTF-8 byte-order mark is skipped on the first).
pub(crate) fn lines(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let mut start = if text.starts_with('\u{feff}') { 3 } else { 0 };
    while start < text.len() {
        let nl = text[start..].find('\n').map(|i| start + i);
        let (body_end, end) = match nl {
            Some(i) => (i, i + 1),
            None => (text.len(), text.len()),
        };
        let body = &text[start..body_end];
        let body = body.strip_suffix('\r').unwrap_or(body);
        out.push(Line {
            start,
            text: body,
            end,
        });
        start = end;
    }
    out
}

/// A document: its root node and the lines it covers.
#[derive(Debug, Clone)]
pub(crate) struct Doc {
    /// The root node.
    pub root: Pos,
    /// First line of the document's content (after any `---`).
    pub first_line: usize,
}

/// Whether a line is a document marker (`---` or `...`, alone or followed by white space).
fn marker(line: &str) -> Option<&str> {
    ["---", "..."].into_iter().find(|m| {
        line.strip_prefix(*m)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
    })
}

/// The documents of a stream that hold content (empty and comment-only ones are skipped, as
/// fjord-yaml skips them).
pub(crate) fn documents(lines: &[Line<'_>]) -> Vec<Doc> {
    let mut docs = Vec::new();
    let mut first = 0;
    let mut i = 0;
    let flush = |docs: &mut Vec<Doc>, first: usize, end: usize| {
        if lines[first..end]
            .iter()
            .any(|l| !l.is_blank() && !l.text.starts_with('%'))
        {
            let mut r = Reader { lines, end };
            let root = r.node_after(first, None);
            docs.push(Doc {
                root,
                first_line: first,
            });
        }
    };
    while i < lines.len() {
        if let Some(m) = marker(lines[i].text) {
            flush(&mut docs, first, i);
            first = i + 1;
            if m == "---"
                && !lines[i].text[3..].trim().is_empty()
                && !lines[i].text[3..].trim_start().starts_with('#')
            {
                // Content on the `---` line itself: not understood, keep it as opaque.
                docs.push(Doc {
                    root: Pos::Opaque { line: i },
                    first_line: i,
                });
                i = next_marker(lines, i + 1);
                first = i;
                continue;
            }
        }
        i += 1;
    }
    flush(&mut docs, first, lines.len());
    docs
}

fn next_marker(lines: &[Line<'_>], from: usize) -> usize {
    (from..lines.len())
        .find(|&i| marker(lines[i].text).is_some())
        .unwrap_or(lines.len())
}

/// The reader state: the lines of one document.
struct Reader<'t, 'l> {
    lines: &'l [Line<'t>],
    /// One past the document's last line.
    end: usize,
}

impl Reader<'_, '_> {
    /// The next non-blank line at or after `from`.
    fn next_content(&self, from: usize) -> Option<usize> {
        (from..self.end).find(|&i| !self.lines[i].is_blank())
    }

    /// The last line of a value nested deeper than `parent`: every following line that is
    /// blank or indented more than `parent`, trailing blank lines excluded.
    fn deeper_until(&self, line: usize, parent: Option<usize>) -> usize {
        let mut last = line;
        for i in line + 1..self.end {
            let l = &self.lines[i];
            if l.is_blank() {
                continue;
            }
            if parent.is_some_and(|p| l.indent() > p) || parent.is_none() {
                last = i;
            } else {
                break;
            }
        }
        last
    }

    /// The node that starts after `line` (a `key:` or `-` with nothing after it), nested
    /// under a parent at column `parent.0`; `parent.1` allows a sequence at the parent's own
    /// column (a mapping key's compact sequence). With no parent (the document root) the node
    /// starts at `line` itself.
    fn node_after(&mut self, line: usize, parent: Option<(usize, bool)>) -> Pos {
        let from = if parent.is_some() { line + 1 } else { line };
        let Some(next) = self.next_content(from) else {
            return Pos::Empty { at: 0 };
        };
        let l = &self.lines[next];
        let col = l.indent();
        let nested = match parent {
            None => true,
            Some((p, seq_at_parent)) => {
                col > p || (seq_at_parent && col == p && is_dash(&l.text[col..]))
            }
        };
        if !nested {
            return Pos::Empty { at: 0 };
        }
        self.node_at(next, col, parent.map(|(p, _)| p))
    }

    /// The node whose first character is at (`line`, `col`), inside a parent at column
    /// `parent` (`None` at the root).
    fn node_at(&mut self, line: usize, col: usize, parent: Option<usize>) -> Pos {
        let rest = &self.lines[line].text[col..];
        if is_dash(rest) {
            return self.seq(line, col);
        }
        if key_len(rest).is_some() {
            return self.map(line, col);
        }
        let (pos, _) = self.inline_value(line, col, parent);
        pos
    }

    /// A block sequence whose first `-` is at (`line`, `col`).
    fn seq(&mut self, line: usize, col: usize) -> Pos {
        let mut items = Vec::new();
        let mut cur = Some(line);
        while let Some(i) = cur {
            let l = &self.lines[i];
            let text = l.text;
            let after = col + 1;
            let content = after + text[after..].len() - text[after..].trim_start().len();
            let value = if text[content..].is_empty() || text[content..].starts_with('#') {
                match self.node_after(i, Some((col, false))) {
                    Pos::Empty { .. } => Pos::Empty {
                        at: l.start + after,
                    },
                    v => v,
                }
            } else {
                self.node_at(i, content, Some(col))
            };
            let last_line = self.deeper_until(i, Some(col));
            items.push(Item {
                line: i,
                dash_col: col,
                value,
                last_line,
            });
            cur = self.next_content(last_line + 1).filter(|&n| {
                let l = &self.lines[n];
                l.indent() == col && is_dash(&l.text[col..])
            });
        }
        Pos::Seq { indent: col, items }
    }

    /// A block mapping whose first key is at (`line`, `col`).
    fn map(&mut self, line: usize, col: usize) -> Pos {
        let mut entries = Vec::new();
        let mut cur = Some(line);
        while let Some(i) = cur {
            let l = &self.lines[i];
            let text = l.text;
            let Some((key, after_colon)) = key_len(&text[col..]) else {
                break;
            };
            let after_colon = col + after_colon;
            let content =
                after_colon + (text.len() - after_colon - text[after_colon..].trim_start().len());
            let (value, last_line) =
                if text[content..].is_empty() || text[content..].starts_with('#') {
                    let v = self.node_after(i, Some((col, true)));
                    (v, self.deeper_until_seq(i, col))
                } else {
                    let (v, _) = self.inline_value(i, content, Some(col));
                    (v, self.deeper_until(i, Some(col)))
                };
            let value = match value {
                Pos::Empty { .. } => Pos::Empty {
                    at: l.start + after_colon,
                },
                v => v,
            };
            entries.push(Entry {
                key,
                line: i,
                key_start: l.start + col,
                value,
                last_line,
            });
            cur = self.next_content(last_line + 1).filter(|&n| {
                let l = &self.lines[n];
                l.indent() == col && !is_dash(&l.text[col..])
            });
        }
        Pos::Map {
            indent: col,
            entries,
        }
    }

    /// The last line of a key's nested value: deeper lines, and `-` lines at the key's own
    /// column (a compact sequence).
    fn deeper_until_seq(&self, line: usize, col: usize) -> usize {
        let mut last = line;
        for i in line + 1..self.end {
            let l = &self.lines[i];
            if l.is_blank() {
                continue;
            }
            let ind = l.indent();
            if ind > col || (ind == col && is_dash(&l.text[col..])) {
                last = i;
            } else {
                break;
            }
        }
        last
    }

    /// A value that starts on its key's or dash's line at (`line`, `col`).
    fn inline_value(&mut self, line: usize, col: usize, parent: Option<usize>) -> (Pos, usize) {
        let l = &self.lines[line];
        let mut rest = &l.text[col..];
        let mut col = col;
        // Anchors and tags in front of the value.
        while rest.starts_with(['&', '!']) {
            let len = rest.find([' ', '\t']).unwrap_or(rest.len());
            let skip = len + (rest[len..].len() - rest[len..].trim_start().len());
            col += skip;
            rest = &rest[skip..];
        }
        if rest.is_empty() || rest.starts_with('#') {
            let v = self.node_after(line, parent.map(|p| (p, true)));
            return (v, line);
        }
        let opaque = Pos::Opaque { line };
        let single_line = self.deeper_until(line, parent) == line;
        let pos = match rest.as_bytes()[0] {
            b'\'' | b'"' => match quoted_len(rest) {
                Some(len) if single_line && only_comment(&rest[len..]) => Pos::Scalar(ScalarPos {
                    span: l.start + col..l.start + col + len,
                    style: if rest.starts_with('"') {
                        Style::Double
                    } else {
                        Style::Single
                    },
                }),
                _ => opaque,
            },
            b'{' | b'[' | b'*' | b'|' | b'>' | b'?' | b'%' | b'@' | b'`' => opaque,
            _ => {
                let len = plain_len(rest);
                if single_line && len > 0 {
                    Pos::Scalar(ScalarPos {
                        span: l.start + col..l.start + col + len,
                        style: Style::Plain,
                    })
                } else {
                    opaque
                }
            }
        };
        (pos, line)
    }
}

/// Whether `s` starts a sequence item (`-` followed by a space or nothing).
pub(crate) fn is_dash(s: &str) -> bool {
    s == "-" || s.starts_with("- ") || s.starts_with("-\t")
}

/// If `s` starts with a mapping key, the key and the length up to just past its `:`.
pub(crate) fn key_len(s: &str) -> Option<(String, usize)> {
    let first = *s.as_bytes().first()?;
    if first == b'\'' || first == b'"' {
        let len = quoted_len(s)?;
        let after = &s[len..];
        let trimmed = after.trim_start_matches([' ', '\t']);
        let colon = len + after.len() - trimmed.len();
        let rest = trimmed.strip_prefix(':')?;
        if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
            return None;
        }
        return Some((unquote(&s[..len])?, colon + 1));
    }
    if b"-?:,[]{}#&*!|>%@`".contains(&first) && !(first == b'-' && !is_dash(s) && s.len() > 1) {
        return None;
    }
    let bytes = s.as_bytes();
    for i in 0..bytes.len() {
        match bytes[i] {
            b':' if i + 1 == bytes.len() || matches!(bytes[i + 1], b' ' | b'\t') => {
                return Some((s[..i].trim_end().to_string(), i + 1));
            }
            b'#' if i > 0 && matches!(bytes[i - 1], b' ' | b'\t') => return None,
            _ => {}
        }
    }
    None
}

/// Length of the quoted scalar `s` starts with, quotes included; `None` if it does not end
/// on this line.
pub(crate) fn quoted_len(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let q = *bytes.first()?;
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if q == b'"' => i += 2,
            b'\'' if q == b'\'' && bytes.get(i + 1) == Some(&b'\'') => i += 2,
            b if b == q => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Length of the plain scalar `s` starts with (up to a comment, trailing space removed).
fn plain_len(s: &str) -> usize {
    let bytes = s.as_bytes();
    let mut end = bytes.len();
    for i in 1..bytes.len() {
        if bytes[i] == b'#' && matches!(bytes[i - 1], b' ' | b'\t') {
            end = i;
            break;
        }
    }
    s[..end].trim_end().len()
}

/// Whether `s` holds only white space and maybe a comment.
fn only_comment(s: &str) -> bool {
    let t = s.trim_start();
    t.is_empty() || (t.starts_with('#') && (t.len() < s.len() || s.is_empty()))
}

/// The value of a one-line quoted scalar (simple escapes only; `None` for others).
fn unquote(s: &str) -> Option<String> {
    if let Some(inner) = s.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        return Some(inner.replace("''", "'"));
    }
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            '"' => out.push('"'),
            '\\' => out.push('\\'),
            '/' => out.push('/'),
            'n' => out.push('\n'),
            't' => out.push('\t'),
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Pos {
        let ls = lines(text);
        let mut d = documents(&ls);
        assert_eq!(d.len(), 1, "{d:?}");
        d.remove(0).root
    }

    fn scalar<'a>(text: &'a str, p: &Pos) -> &'a str {
        match p {
            Pos::Scalar(s) => &text[s.span.clone()],
            other => panic!("not a scalar: {other:?}"),
        }
    }

    #[test]
    fn maps_seqs_and_scalars() {
        let t = "# head\nkind: Pod # c\nspec:\n  containers:\n  - name: a\n    image: \"x:1\" # img\n\n  # between\n  -   image: 'y'\n      name: b\n  initContainers:\n    - image: z\n";
        let root = doc(t);
        assert_eq!(scalar(t, root.get("kind").unwrap()), "Pod");
        let cs = root.get("spec").unwrap().get("containers").unwrap();
        let c0 = &cs.item(0).unwrap().value;
        assert_eq!(scalar(t, c0.get("image").unwrap()), "\"x:1\"");
        assert_eq!(scalar(t, c0.get("name").unwrap()), "a");
        let c1 = &cs.item(1).unwrap().value;
        assert_eq!(scalar(t, c1.get("image").unwrap()), "'y'");
        assert_eq!(scalar(t, c1.get("name").unwrap()), "b");
        assert!(cs.item(2).is_none());
        let init = root.get("spec").unwrap().get("initContainers").unwrap();
        assert_eq!(
            scalar(
                t,
                &init.item(0).unwrap().value.get("image").unwrap().clone()
            ),
            "z"
        );
    }

    #[test]
    fn opaque_shapes_and_documents() {
        let t = "---\na: {x: 1}\nb: |\n  text\n  more\nc: *x\nd: &y plain\ne: !!str tagged\n---\n# only comments\n...\n--- # c\nf: [1,\n  2]\ng: 'multi\n  line'\nh: end\n";
        let ls = lines(t);
        let docs = documents(&ls);
        assert_eq!(docs.len(), 2);
        let r = &docs[0].root;
        assert!(matches!(r.get("a"), Some(Pos::Opaque { line: 1 })));
        assert!(matches!(r.get("b"), Some(Pos::Opaque { .. })));
        assert!(matches!(r.get("c"), Some(Pos::Opaque { .. })));
        assert_eq!(scalar(t, r.get("d").unwrap()), "plain");
        assert_eq!(scalar(t, r.get("e").unwrap()), "tagged");
        let r = &docs[1].root;
        assert!(matches!(r.get("f"), Some(Pos::Opaque { .. })));
        assert!(matches!(r.get("g"), Some(Pos::Opaque { .. })));
        assert_eq!(scalar(t, r.get("h").unwrap()), "end");
    }

    #[test]
    fn crlf_and_quoted_keys() {
        let t = "\"image\": a\r\n'x y': 'it''s'\r\nempty:\r\nlast: z";
        let r = doc(t);
        assert_eq!(scalar(t, r.get("image").unwrap()), "a");
        assert_eq!(scalar(t, r.get("x y").unwrap()), "'it''s'");
        assert!(matches!(r.get("empty"), Some(Pos::Empty { .. })));
        assert_eq!(scalar(t, r.get("last").unwrap()), "z");
    }

    #[test]
    fn key_detection() {
        assert_eq!(key_len("image: a:b"), Some(("image".into(), 6)));
        assert_eq!(key_len("a:b"), None);
        assert_eq!(key_len("x # y: z"), None);
        assert_eq!(key_len("- a: b"), None);
        assert_eq!(key_len("-x: b"), Some(("-x".into(), 3)));
        assert_eq!(key_len("\"a\\\"b\" : c"), Some(("a\"b".into(), 8)));
    }
}
