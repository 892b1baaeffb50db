//! Go's string spellings, which Kubernetes and kustomize messages and hashes carry: `%q`
//! ([`quote`]) and `encoding/json` ([`write_json_string`]).

pub use fjord_yaml::write_json_string;

/// The characters `strconv.Quote` writes as a two-character escape.
const QUOTE_SHORT: [(char, &str); 9] = [
    ('"', "\\\""),
    ('\\', "\\\\"),
    ('\u{07}', "\\a"),
    ('\u{08}', "\\b"),
    ('\u{0c}', "\\f"),
    ('\n', "\\n"),
    ('\r', "\\r"),
    ('\t', "\\t"),
    ('\u{0b}', "\\v"),
];

/// Go's `strconv.Quote` (what `%q` prints): `"`-quoted, with `\a \b \f \n \r \t \v` short escapes,
/// `\xNN` for other ASCII control characters and `\uNNNN` for other control characters.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if let Some((_, short)) = QUOTE_SHORT.iter().find(|(k, _)| *k == c) {
            out.push_str(short);
        } else if (c as u32) < 0x20 || c as u32 == 0x7f {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else if c.is_control() {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out.push('"');
    out
}

/// Go's `encoding/json` spelling of a string, quoted (see [`write_json_string`]).
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    write_json_string(&mut out, s);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_escapes_like_strconv_quote() {
        assert_eq!(quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(quote("\n\t\r\u{7}\u{8}\u{c}\u{b}"), r#""\n\t\r\a\b\f\v""#);
        assert_eq!(quote("\u{1}\u{7f}"), r#""\x01\x7f""#);
        assert_eq!(quote("\u{85}é"), "\"\\u0085é\"");
    }

    #[test]
    fn json_escapes_like_encoding_json() {
        assert_eq!(json_string("<a&b>"), r#""\u003ca\u0026b\u003e""#);
        assert_eq!(json_string("\u{0}\u{8}\n"), r#""\u0000\b\n""#);
        assert_eq!(json_string("\u{2028}"), r#""\u2028""#);
    }
}
