//! YAML output as kubeseal prints it (`sigs.k8s.io/yaml`, i.e. go-yaml v2 over the JSON form):
//! keys sorted, 2-space indentation, sequences not indented under their key, strings plain when
//! they would read back as strings, double-quoted when they would not (`"true"`, `"1"`, `""`),
//! literal blocks for multi-line text, plain/single-quoted text folded past column 80.
//!
//! This is a local emitter until fjord-yaml exposes one (`from_json_value` + `emit`).

use serde_json::Value;

const BEST_WIDTH: usize = 80;

/// Emits one document (no leading `---`).
pub fn emit(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(m) if !m.is_empty() => emit_map(&mut out, value, 0),
        Value::Array(a) if !a.is_empty() => emit_seq(&mut out, value, 0),
        other => {
            out.push_str(&scalar_inline(other, 0, 0));
            out.push('\n');
        }
    }
    out
}

fn sorted_entries(value: &Value) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = value
        .as_object()
        .map(|m| m.iter().collect())
        .unwrap_or_default();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

fn emit_map(out: &mut String, value: &Value, indent: usize) {
    for (i, (k, v)) in sorted_entries(value).into_iter().enumerate() {
        if i > 0 {
            push_indent(out, indent);
        }
        let key = scalar_inline(&Value::String(k.clone()), indent, usize::MAX);
        out.push_str(&key);
        out.push(':');
        emit_value_after_key(out, v, indent, indent + key.chars().count() + 2);
    }
}

fn emit_value_after_key(out: &mut String, v: &Value, indent: usize, column: usize) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            push_indent(out, indent + 2);
            emit_map(out, v, indent + 2);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            push_indent(out, indent);
            emit_seq(out, v, indent);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar_inline(other, indent + 2, column));
            out.push('\n');
        }
    }
}

fn emit_seq(out: &mut String, value: &Value, indent: usize) {
    let items = value.as_array().map(Vec::as_slice).unwrap_or_default();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            push_indent(out, indent);
        }
        out.push_str("- ");
        match item {
            Value::Object(m) if !m.is_empty() => emit_map(out, item, indent + 2),
            Value::Array(a) if !a.is_empty() => emit_seq(out, item, indent + 2),
            other => {
                out.push_str(&scalar_inline(other, indent + 2, indent + 2));
                out.push('\n');
            }
        }
    }
}

fn push_indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// A scalar as it follows `key: ` (or `- `): `indent` is the indentation of continuation
/// lines, `column` where the scalar starts (for folding; `usize::MAX` disables folding).
fn scalar_inline(v: &Value, indent: usize, column: usize) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
        Value::String(s) => string_scalar(s, indent, column),
    }
}

fn string_scalar(s: &str, indent: usize, column: usize) -> String {
    let a = analyze(s);
    if s.contains('\n') {
        if a.block_allowed && column != usize::MAX {
            return literal(s, indent);
        }
        return double_quoted(s);
    }
    if !resolves_as_string(s) {
        return double_quoted(s);
    }
    if a.plain_allowed {
        return fold(s, indent, column, false);
    }
    if a.single_allowed {
        return fold(s, indent, column, true);
    }
    double_quoted(s)
}

struct Analysis {
    plain_allowed: bool,
    single_allowed: bool,
    block_allowed: bool,
}

fn is_printable(c: char) -> bool {
    matches!(c, '\n' | '\u{20}'..='\u{7e}' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..='\u{10ffff}')
        && c != '\u{feff}'
}

/// go-yaml's `yaml_emitter_analyze_scalar`, block context.
fn analyze(s: &str) -> Analysis {
    let mut a = Analysis {
        plain_allowed: true,
        single_allowed: true,
        block_allowed: true,
    };
    if s.is_empty() {
        a.block_allowed = false;
        return a;
    }
    if s.starts_with("---") || s.starts_with("...") {
        a.plain_allowed = false;
    }
    let chars: Vec<char> = s.chars().collect();
    let (mut special, mut space_break, mut break_space) = (false, false, false);
    let mut previous_space = false;
    let mut previous_break = false;
    let mut trailing_space = false;
    let mut trailing_break = false;
    let leading_space = chars[0] == ' ';
    let leading_break = chars[0] == '\n';
    let preceded_by_ws = |i: usize| i == 0 || matches!(chars[i - 1], ' ' | '\t' | '\n');
    let followed_by_ws =
        |i: usize| i + 1 >= chars.len() || matches!(chars[i + 1], ' ' | '\t' | '\n');
    for (i, &c) in chars.iter().enumerate() {
        if i == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(c) {
                a.plain_allowed = false;
            }
            if (c == '?' || c == ':' || c == '-') && followed_by_ws(i) {
                a.plain_allowed = false;
            }
        } else {
            if c == ':' && followed_by_ws(i) {
                a.plain_allowed = false;
            }
            if c == '#' && preceded_by_ws(i) {
                a.plain_allowed = false;
            }
        }
        if !is_printable(c) {
            special = true;
        }
        if c == ' ' {
            if i == chars.len() - 1 {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if c == '\n' {
            if i == chars.len() - 1 {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_break = true;
            previous_space = false;
        } else {
            previous_space = false;
            previous_break = false;
        }
    }
    if leading_space || leading_break || trailing_space || trailing_break {
        a.plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.plain_allowed = false;
        a.single_allowed = false;
    }
    if space_break || special {
        a.plain_allowed = false;
        a.single_allowed = false;
        a.block_allowed = false;
    }
    if s.contains('\n') {
        a.plain_allowed = false;
    }
    a
}

/// Whether go-yaml v2 (YAML 1.1 rules) reads the plain text back as a string.
fn resolves_as_string(s: &str) -> bool {
    const NON_STRINGS: &[&str] = &[
        "", "~", "null", "Null", "NULL", "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
        "true", "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
        ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan",
        ".NaN", ".NAN", "<<",
    ];
    if NON_STRINGS.contains(&s) {
        return false;
    }
    let first = s.as_bytes()[0];
    if !(first.is_ascii_digit() || b"+-.".contains(&first)) {
        return true;
    }
    let plain: String = s.chars().filter(|&c| c != '_').collect();
    let body = plain.trim_start_matches(['+', '-']);
    let numeric = if let Some(h) = body.strip_prefix("0x") {
        !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit())
    } else if let Some(b) = body.strip_prefix("0b") {
        !b.is_empty() && b.bytes().all(|c| c == b'0' || c == b'1')
    } else {
        body.parse::<f64>().is_ok() && !body.contains(['i', 'I', 'n', 'N'])
    };
    // Base-60 numbers such as 1:20 also resolve to numbers in YAML 1.1.
    let base60 = body.contains(':')
        && body
            .split(':')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit() || b == b'.'));
    !(numeric || base60)
}

/// Plain or single-quoted text, breaking at a single space once past the width.
fn fold(s: &str, indent: usize, column: usize, quoted: bool) -> String {
    let mut out = String::new();
    let mut col = column;
    if quoted {
        out.push('\'');
        col = col.saturating_add(1);
    }
    let chars: Vec<char> = s.chars().collect();
    let mut spaces = false;
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            let next_is_space = chars.get(i + 1) == Some(&' ');
            let inner = !quoted || (i != 0 && i != chars.len() - 1);
            if column != usize::MAX && !spaces && col > BEST_WIDTH && !next_is_space && inner {
                out.push('\n');
                push_indent(&mut out, indent);
                col = indent;
            } else {
                out.push(' ');
                col = col.saturating_add(1);
            }
            spaces = true;
        } else {
            if quoted && c == '\'' {
                out.push('\'');
                col = col.saturating_add(1);
            }
            out.push(c);
            col = col.saturating_add(1);
            spaces = false;
        }
    }
    if quoted {
        out.push('\'');
    }
    out
}

fn literal(s: &str, indent: usize) -> String {
    let mut out = String::from("|");
    if s.starts_with(' ') || s.starts_with('\n') {
        out.push('2');
    }
    if !s.ends_with('\n') {
        out.push('-');
    } else if s.ends_with("\n\n") || s == "\n" {
        out.push('+');
    }
    let body = s.strip_suffix('\n').unwrap_or(s);
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            push_indent(&mut out, indent);
            out.push_str(line);
        }
    }
    out
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '\u{1b}' => out.push_str("\\e"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{85}' => out.push_str("\\N"),
            '\u{a0}' => out.push_str("\\_"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if !is_printable(c) => {
                let v = c as u32;
                if v <= 0xff {
                    out.push_str(&format!("\\x{v:02X}"));
                } else if v <= 0xffff {
                    out.push_str(&format!("\\u{v:04X}"));
                } else {
                    out.push_str(&format!("\\U{v:08X}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn layout() {
        let v =
            json!({"b": {"y": "1", "x": true}, "a": ["p", {"k": "v", "j": ""}], "c": {}, "d": []});
        assert_eq!(
            emit(&v),
            "a:\n- p\n- j: \"\"\n  k: v\nb:\n  x: true\n  \"y\": \"1\"\nc: {}\nd: []\n"
        );
    }

    #[test]
    fn quoting() {
        let e = |s: &str| emit(&json!({ "k": s }));
        assert_eq!(e("true"), "k: \"true\"\n");
        assert_eq!(e("plain text"), "k: plain text\n");
        assert_eq!(e("a: b"), "k: 'a: b'\n");
        assert_eq!(e("it's: x"), "k: 'it''s: x'\n");
        assert_eq!(e("#x"), "k: '#x'\n");
        assert_eq!(e("tab\there"), "k: \"tab\\there\"\n");
        assert_eq!(e("line1\nline2\n"), "k: |\n  line1\n  line2\n");
        assert_eq!(e("line1\nline2"), "k: |-\n  line1\n  line2\n");
        assert_eq!(e("12"), "k: \"12\"\n");
        assert_eq!(e("1.5e3"), "k: \"1.5e3\"\n");
        assert_eq!(e("AgBx+/="), "k: AgBx+/=\n");
        assert_eq!(e("{{ .x }}"), "k: '{{ .x }}'\n");
    }

    #[test]
    fn folding_long_text() {
        let long = "word ".repeat(30);
        let long = long.trim_end();
        let out = emit(&json!({ "k": long }));
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines.len() > 1);
        assert!(lines[1].starts_with("  word"));
        assert_eq!(
            lines.join(" ").replace("   ", " ").replace("  ", " "),
            format!("k: {long}")
        );
    }
}
