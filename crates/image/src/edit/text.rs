//! Text helpers shared by the editors: scalar spelling, splicing and the read-back check.

use std::ops::Range;

use fjord_yaml::{Node, Tag};

use super::block::{Line, Style};
use super::EditError;

/// The line ending the text uses (`\r\n` when its first line ends so, else `\n`).
pub(crate) fn eol(text: &str) -> &'static str {
    match text.find('\n') {
        Some(i) if i > 0 && text.as_bytes()[i - 1] == b'\r' => "\r\n",
        _ => "\n",
    }
}

/// Whether `v` can be written as a plain scalar and read back as the same string.
pub(crate) fn plain_ok(v: &str) -> bool {
    let Some(first) = v.chars().next() else {
        return false;
    };
    !"-?:,[]{}#&*!|>'\"%@`".contains(first)
        && !v.starts_with(char::is_whitespace)
        && !v.ends_with(char::is_whitespace)
        && !v.ends_with(':')
        && !v.contains(": ")
        && !v.contains(" #")
        && !v.contains(":\t")
        && !v.contains("\t#")
        && !v.chars().any(char::is_control)
        && Tag::resolve_plain(v) == Tag::Str
}

/// `v` in double quotes with YAML escapes.
pub(crate) fn double_quoted(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `v` spelled in `style`, or double-quoted when `style` cannot hold it.
pub(crate) fn scalar(v: &str, style: Style) -> String {
    match style {
        Style::Plain if plain_ok(v) => v.to_string(),
        Style::Single if !v.chars().any(char::is_control) => format!("'{}'", v.replace('\'', "''")),
        _ => double_quoted(v),
    }
}

/// A string value spelled plainly when possible.
pub(crate) fn value(v: &str) -> String {
    scalar(v, Style::Plain)
}

/// Replaces the `edits` (byte ranges, non-overlapping) in `text`. Insertions are empty ranges;
/// several at one offset keep their order.
pub(crate) fn splice(text: &str, mut edits: Vec<(Range<usize>, String)>) -> String {
    edits.sort_by_key(|(r, _)| (r.start, r.end));
    let mut out = String::with_capacity(text.len() + 64);
    let mut at = 0;
    for (range, new) in edits {
        out.push_str(&text[at..range.start]);
        out.push_str(&new);
        at = range.end;
    }
    out.push_str(&text[at..]);
    out
}

/// Where text inserted after line `i` goes, and the line ending to put in front of it when
/// that line has none (the last line of a file without a final newline).
pub(crate) fn after_line(text: &str, lines: &[Line<'_>], i: usize) -> (usize, &'static str) {
    let l = &lines[i];
    if l.end == l.start + l.text.len() {
        (l.end, eol(text))
    } else {
        (l.end, "")
    }
}

/// Where text appended to the file goes, and what must come first (a line ending when the
/// last line has none).
pub(crate) fn at_end(text: &str) -> (usize, &'static str) {
    if text.is_empty() || text.ends_with('\n') {
        (text.len(), "")
    } else {
        (text.len(), eol(text))
    }
}

/// Checks that `new_text` parses to `expected` (one node per document).
pub(crate) fn verify(
    file: &'static str,
    new_text: &str,
    expected: &[Node],
) -> Result<(), EditError> {
    let docs = fjord_yaml::parse_documents(new_text.as_bytes()).map_err(|e| EditError::Verify {
        file,
        detail: "the edited text is not valid YAML".to_string(),
        source: Some(e),
    })?;
    if docs.len() != expected.len() {
        return Err(EditError::Verify {
            file,
            detail: format!("{} documents instead of {}", docs.len(), expected.len()),
            source: None,
        });
    }
    for (i, (got, want)) in docs.iter().zip(expected).enumerate() {
        if got != want {
            return Err(EditError::Verify {
                file,
                detail: format!("document {} differs from the intended result", i + 1),
                source: None,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_when_safe() {
        assert_eq!(value("nginx:1.2"), "nginx:1.2");
        assert_eq!(value("reg:5000/a@sha256:ab"), "reg:5000/a@sha256:ab");
        assert_eq!(value("1234"), "\"1234\"");
        assert_eq!(value("3.2e2"), "\"3.2e2\"");
        assert_eq!(value("true"), "\"true\"");
        assert_eq!(value("~"), "\"~\"");
        assert_eq!(value(""), "\"\"");
        assert_eq!(value("*x"), "\"*x\"");
        assert_eq!(value("a #b"), "\"a #b\"");
        // Quotes and backslashes inside a plain scalar are fine; at its start they are not.
        assert_eq!(value("a\"b\\"), "a\"b\\");
        assert_eq!(value("\"a\\"), "\"\\\"a\\\\\"");
        assert_eq!(scalar("it's", Style::Single), "'it''s'");
        assert_eq!(scalar("x", Style::Double), "\"x\"");
    }

    #[test]
    fn splices_in_order() {
        let out = splice(
            "abcdef",
            vec![(4..4, "Y".into()), (1..2, "X".into()), (4..4, "Z".into())],
        );
        assert_eq!(out, "aXcdYZef");
    }

    #[test]
    fn endings() {
        assert_eq!(eol("a\r\nb"), "\r\n");
        assert_eq!(eol("a\nb\r\n"), "\n");
        assert_eq!(at_end("a"), (1, "\n"));
        assert_eq!(at_end("a\n"), (2, ""));
    }
}
