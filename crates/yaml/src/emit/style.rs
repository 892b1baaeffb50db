//! Scalar analysis and style choice: what a scalar's text allows and which of the four styles
//! (plain, single-quoted, double-quoted, literal block) libyaml, as ported by go-yaml v2, picks.

/// A scalar style.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
}

/// What a scalar's text allows (libyaml's `scalar_data`; flow context never arises here).
#[derive(Clone, Copy, Debug)]
pub(super) struct Analysis {
    pub(super) multiline: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

/// libyaml's printable set as go-yaml v2 tests it (by UTF-8 bytes): no C0/C1 controls other
/// than LF, no BOM, no U+FFFE/U+FFFF, and nothing outside the Basic Multilingual Plane.
pub(super) fn is_printable(c: char) -> bool {
    matches!(c, '\n' | '\x20'..='\x7e' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}')
        && c != '\u{feff}'
}

pub(super) fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blank(c: Option<char>) -> bool {
    matches!(c, Some(' ' | '\t'))
}

/// Examines `value` as libyaml's `yaml_emitter_analyze_scalar` does.
pub(super) fn analyze(value: &str) -> Analysis {
    if value.is_empty() {
        return Analysis {
            multiline: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let mut scan = Scan {
        block_indicator: value.starts_with("---") || value.starts_with("..."),
        ..Scan::default()
    };
    let mut preceded_by_ws = true;
    let mut chars = value.chars().peekable();
    let mut first = true;
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        let last = next.is_none();
        let followed_by_ws = last || is_blank(next);
        if first {
            scan.leading_indicator(c, followed_by_ws);
        } else {
            scan.inner_indicator(c, preceded_by_ws, followed_by_ws);
        }
        scan.spacing(c, first, last);
        preceded_by_ws = c == ' ' || c == '\t' || is_break(c);
        first = false;
    }
    scan.analysis()
}

/// The facts `analyze` gathers in its one pass over a non-empty scalar. Flow indicators, which
/// libyaml also tracks, only matter in flow context and are not recorded.
#[derive(Default)]
struct Scan {
    /// An indicator that makes a plain scalar ambiguous in block context.
    block_indicator: bool,
    line_breaks: bool,
    /// A character outside the printable set.
    special: bool,
    leading_space: bool,
    leading_break: bool,
    trailing_space: bool,
    trailing_break: bool,
    /// A space right after a line break.
    break_space: bool,
    /// A line break right after a space.
    space_break: bool,
    prev_space: bool,
    prev_break: bool,
}

impl Scan {
    /// The first character: most indicators are only ambiguous there.
    fn leading_indicator(&mut self, c: char, followed_by_ws: bool) {
        match c {
            '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"' | '%'
            | '@' | '`' => self.block_indicator = true,
            '?' | ':' => self.block_indicator |= followed_by_ws,
            '-' if followed_by_ws => self.block_indicator = true,
            _ => {}
        }
    }

    /// Any later character: `: ` and ` #` start a mapping value or a comment.
    fn inner_indicator(&mut self, c: char, preceded_by_ws: bool, followed_by_ws: bool) {
        match c {
            ':' => self.block_indicator |= followed_by_ws,
            '#' if preceded_by_ws => self.block_indicator = true,
            _ => {}
        }
    }

    /// Printability, spaces and line breaks, and how they sit next to each other.
    fn spacing(&mut self, c: char, first: bool, last: bool) {
        if !is_printable(c) {
            self.special = true;
        }
        if c == ' ' {
            self.leading_space |= first;
            self.trailing_space |= last;
            self.break_space |= self.prev_break;
            self.prev_space = true;
            self.prev_break = false;
        } else if is_break(c) {
            self.line_breaks = true;
            self.leading_break |= first;
            self.trailing_break |= last;
            self.space_break |= self.prev_space;
            self.prev_space = false;
            self.prev_break = true;
        } else {
            self.prev_space = false;
            self.prev_break = false;
        }
    }

    /// The styles the gathered facts allow.
    fn analysis(&self) -> Analysis {
        let mut a = Analysis {
            multiline: self.line_breaks,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: true,
        };
        if self.leading_space || self.leading_break || self.trailing_space || self.trailing_break {
            a.block_plain_allowed = false;
        }
        if self.trailing_space {
            a.block_allowed = false;
        }
        if self.break_space {
            a.block_plain_allowed = false;
            a.single_quoted_allowed = false;
        }
        if self.space_break || self.special {
            a.block_plain_allowed = false;
            a.single_quoted_allowed = false;
            a.block_allowed = false;
        }
        if self.line_breaks || self.block_indicator {
            a.block_plain_allowed = false;
        }
        a
    }
}

impl Analysis {
    /// libyaml's `select_scalar_style` in block context.
    pub(super) fn select(&self, requested: Style, simple_key: bool, empty: bool) -> Style {
        let mut style = requested;
        if simple_key && self.multiline {
            style = Style::DoubleQuoted;
        }
        if style == Style::Plain && (!self.block_plain_allowed || (empty && simple_key)) {
            style = Style::SingleQuoted;
        }
        if style == Style::SingleQuoted && !self.single_quoted_allowed {
            style = Style::DoubleQuoted;
        }
        if style == Style::Literal && (!self.block_allowed || simple_key) {
            style = Style::DoubleQuoted;
        }
        style
    }
}
