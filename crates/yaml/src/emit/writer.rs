//! The block-style document writer: libyaml's emitter state (column, indent, whether the last
//! thing written was whitespace or indentation) driven recursively over a decoded value.

use super::order::sort_entries;
use super::style::{analyze, Style};
use crate::decode::Value;
use crate::number;
use crate::resolve;

/// Indentation step (go-yaml v2's default).
pub(super) const BEST_INDENT: i32 = 2;
/// Preferred line width (go-yaml v2's default).
pub(super) const BEST_WIDTH: usize = 80;
/// Longest key written as a simple `key:` (longer ones use `? key`).
const MAX_SIMPLE_KEY: usize = 128;

/// Where a node sits.
#[derive(Clone, Copy, Default)]
pub(super) struct Ctx {
    /// A value inside a block mapping (sequences there are not indented).
    pub(super) mapping: bool,
    /// A simple mapping key (no line folding, no block scalars).
    pub(super) simple_key: bool,
}

/// Writer state, as libyaml keeps it.
pub(crate) struct Emitter<'o> {
    pub(super) out: &'o mut String,
    /// Current column, in characters.
    pub(super) column: usize,
    /// The last character written was whitespace (so an indicator needs no space before it).
    pub(super) whitespace: bool,
    /// Only indentation has been written on the current line.
    pub(super) indention: bool,
    /// Current indentation (-1 before the document's root).
    pub(super) indent: i32,
}

impl<'o> Emitter<'o> {
    pub(crate) fn new(out: &'o mut String) -> Emitter<'o> {
        Emitter {
            out,
            column: 0,
            whitespace: true,
            indention: true,
            indent: -1,
        }
    }

    /// Writes one document (root node and final line break).
    pub(crate) fn document(mut self, value: Value<'_>) {
        self.node(value, Ctx::default());
        self.write_indent();
    }

    pub(super) fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    pub(super) fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    pub(super) fn increase_indent(&mut self, flow: bool, indentless: bool) -> i32 {
        let old = self.indent;
        if self.indent < 0 {
            self.indent = if flow { BEST_INDENT } else { 0 };
        } else if !indentless {
            self.indent += BEST_INDENT;
        }
        old
    }

    pub(super) fn write_indent(&mut self) {
        let indent = self.indent.max(0) as usize;
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    pub(super) fn write_indicator(
        &mut self,
        indicator: &str,
        need_whitespace: bool,
        is_whitespace: bool,
        is_indention: bool,
    ) {
        if need_whitespace && !self.whitespace {
            self.put(' ');
        }
        self.out.push_str(indicator);
        self.column += indicator.chars().count();
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
    }

    fn node(&mut self, value: Value<'_>, ctx: Ctx) {
        match value {
            Value::Seq(items) if items.is_empty() => self.empty_flow("[", "]"),
            Value::Map(entries) if entries.is_empty() => self.empty_flow("{", "}"),
            Value::Seq(items) => self.block_seq(items, ctx),
            Value::Map(entries) => self.block_map(entries),
            Value::Null => self.plain_text("null", ctx),
            Value::Bool(b) => self.plain_text(if b { "true" } else { "false" }, ctx),
            Value::Int(i) => self.plain_text(&i.to_string(), ctx),
            Value::Uint(u) => self.plain_text(&u.to_string(), ctx),
            Value::Float(f) => self.plain_text(&number::format_g(f), ctx),
            Value::Str(s) => self.string(&s, ctx),
        }
    }

    fn empty_flow(&mut self, open: &str, close: &str) {
        self.write_indicator(open, true, true, false);
        self.write_indicator(close, false, false, false);
    }

    fn block_seq(&mut self, items: Vec<Value<'_>>, ctx: Ctx) {
        let old = self.increase_indent(false, ctx.mapping && !self.indention);
        for item in items {
            self.write_indent();
            self.write_indicator("-", true, false, true);
            self.node(item, Ctx::default());
        }
        self.indent = old;
    }

    fn block_map(&mut self, mut entries: Vec<(&str, Value<'_>)>) {
        let old = self.increase_indent(false, false);
        sort_entries(&mut entries);
        let value_ctx = Ctx {
            mapping: true,
            simple_key: false,
        };
        for (key, value) in entries {
            self.write_indent();
            let analysis = analyze(key);
            if !analysis.multiline && key.len() <= MAX_SIMPLE_KEY {
                self.string(
                    key,
                    Ctx {
                        mapping: true,
                        simple_key: true,
                    },
                );
                self.write_indicator(":", false, false, false);
            } else {
                self.write_indicator("?", true, false, true);
                self.string(key, value_ctx);
                self.write_indent();
                self.write_indicator(":", true, false, true);
            }
            self.node(value, value_ctx);
        }
        self.indent = old;
    }

    /// A scalar go-yaml v2 writes plain unless the text forbids it (numbers, bools, null).
    fn plain_text(&mut self, text: &str, ctx: Ctx) {
        self.scalar(text, Style::Plain, ctx);
    }

    /// A string: literal block when it has a newline, double-quoted when plain text would
    /// read back as another type, else plain (subject to the scalar analysis).
    fn string(&mut self, s: &str, ctx: Ctx) {
        let style = if s.contains('\n') {
            Style::Literal
        } else if resolve::v2_needs_quotes(s) {
            Style::DoubleQuoted
        } else {
            Style::Plain
        };
        self.scalar(s, style, ctx);
    }

    fn scalar(&mut self, text: &str, requested: Style, ctx: Ctx) {
        let analysis = analyze(text);
        let style = analysis.select(requested, ctx.simple_key, text.is_empty());
        let old = self.increase_indent(true, false);
        let allow_breaks = !ctx.simple_key;
        match style {
            Style::Plain => self.write_plain(text, allow_breaks),
            Style::SingleQuoted => self.write_single_quoted(text, allow_breaks),
            Style::DoubleQuoted => self.write_double_quoted(text, allow_breaks),
            Style::Literal => self.write_literal(text),
        }
        self.indent = old;
    }
}
