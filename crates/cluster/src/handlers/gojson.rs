//! The syntax errors of Go's `encoding/json`, which the real server puts in its messages
//! (`unexpected end of JSON input`, `invalid character 'x' looking for beginning of value`, …):
//! a small iterative scanner that finds the first byte Go would refuse and says what Go says.

/// What the scanner expects next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// The start of a value.
    Value,
    /// A value or `]` right after `[`.
    FirstElement,
    /// A key or `}` right after `{`.
    FirstKey,
    /// A key after `,` in an object.
    Key,
    /// `:` after a key.
    Colon,
    /// `,` or `}` after a member.
    AfterMember,
    /// `,` or `]` after an element.
    AfterElement,
    /// Only whitespace after the top-level value.
    End,
}

/// An open container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    Object,
    Array,
}

/// Go's `quoteChar`: how a refused byte is shown.
fn quote_char(c: u8) -> String {
    match c {
        b'\'' => "'\\''".into(),
        b'"' => "'\"'".into(),
        b'\n' => "'\\n'".into(),
        b'\r' => "'\\r'".into(),
        b'\t' => "'\\t'".into(),
        0x07 => "'\\a'".into(),
        0x08 => "'\\b'".into(),
        0x0c => "'\\f'".into(),
        0x0b => "'\\v'".into(),
        b'\\' => "'\\\\'".into(),
        c if c < 0x20 || c == 0x7f => format!("'\\x{c:02x}'"),
        c if c < 0x80 => format!("'{}'", c as char),
        c if c < 0xa0 => format!("'\\u{:04x}'", c),
        c => format!("'{}'", char::from(c)),
    }
}

fn invalid(c: u8, context: &str) -> String {
    format!("invalid character {} {context}", quote_char(c))
}

const EOF: &str = "unexpected end of JSON input";

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// Scans a string starting after its opening quote; returns the index after the closing quote.
fn string_end(data: &[u8], mut i: usize) -> Result<usize, String> {
    while i < data.len() {
        match data[i] {
            b'"' => return Ok(i + 1),
            b'\\' => {
                let Some(&e) = data.get(i + 1) else {
                    return Err(EOF.into());
                };
                match e {
                    b'b' | b'f' | b'n' | b'r' | b't' | b'\\' | b'/' | b'"' => i += 2,
                    b'u' => {
                        for k in 0..4 {
                            let Some(&h) = data.get(i + 2 + k) else {
                                return Err(EOF.into());
                            };
                            if !h.is_ascii_hexdigit() {
                                return Err(invalid(h, "in \\u hexadecimal character escape"));
                            }
                        }
                        i += 6;
                    }
                    other => return Err(invalid(other, "in string escape code")),
                }
            }
            c if c < 0x20 => return Err(invalid(c, "in string literal")),
            _ => i += 1,
        }
    }
    Err(EOF.into())
}

/// Scans a number starting at `i`; returns the index after it. A number may end the input.
fn number_end(data: &[u8], mut i: usize) -> Result<usize, String> {
    let digits = |data: &[u8], mut i: usize| {
        while data.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    if data[i] == b'-' {
        i += 1;
        match data.get(i) {
            None => return Err(EOF.into()),
            Some(c) if !c.is_ascii_digit() => return Err(invalid(*c, "in numeric literal")),
            _ => {}
        }
    }
    i = if data[i] == b'0' {
        i + 1
    } else {
        digits(data, i)
    };
    if data.get(i) == Some(&b'.') {
        i += 1;
        match data.get(i) {
            None => return Err(EOF.into()),
            Some(c) if !c.is_ascii_digit() => {
                return Err(invalid(*c, "after decimal point in numeric literal"))
            }
            _ => i = digits(data, i),
        }
    }
    if matches!(data.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(data.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        match data.get(i) {
            None => return Err(EOF.into()),
            Some(c) if !c.is_ascii_digit() => {
                return Err(invalid(*c, "in exponent of numeric literal"))
            }
            _ => i = digits(data, i),
        }
    }
    Ok(i)
}

/// Scans `true`, `false` or `null` starting at `i`.
fn literal_end(data: &[u8], i: usize) -> Result<usize, String> {
    let word: &[u8] = match data[i] {
        b't' => b"true",
        b'f' => b"false",
        _ => b"null",
    };
    let name = std::str::from_utf8(word).unwrap_or("");
    for (k, want) in word.iter().enumerate().skip(1) {
        match data.get(i + k) {
            None => return Err(EOF.into()),
            Some(c) if c != want => {
                return Err(invalid(
                    *c,
                    &format!("in literal {name} (expecting {})", quote_char(*want)),
                ))
            }
            _ => {}
        }
    }
    Ok(i + word.len())
}

/// What follows a complete value inside `stack`'s innermost container.
fn after_value(stack: &[Frame]) -> Expect {
    match stack.last() {
        None => Expect::End,
        Some(Frame::Object) => Expect::AfterMember,
        Some(Frame::Array) => Expect::AfterElement,
    }
}

/// Go's error for `data`, or `None` when Go's `encoding/json` accepts its syntax.
pub(crate) fn syntax_error(data: &[u8]) -> Option<String> {
    scan(data).err()
}

fn scan(data: &[u8]) -> Result<(), String> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut expect = Expect::Value;
    let mut i = 0;
    loop {
        while data.get(i).copied().is_some_and(is_space) {
            i += 1;
        }
        let Some(&c) = data.get(i) else {
            return if expect == Expect::End {
                Ok(())
            } else {
                Err(EOF.into())
            };
        };
        match expect {
            Expect::End => return Err(invalid(c, "after top-level value")),
            Expect::Colon if c == b':' => {
                i += 1;
                expect = Expect::Value;
            }
            Expect::Colon => return Err(invalid(c, "after object key")),
            Expect::AfterMember | Expect::AfterElement => {
                let (close, context) = if expect == Expect::AfterMember {
                    (b'}', "after object key:value pair")
                } else {
                    (b']', "after array element")
                };
                i += 1;
                if c == b',' {
                    expect = if expect == Expect::AfterMember {
                        Expect::Key
                    } else {
                        Expect::Value
                    };
                } else if c == close {
                    stack.pop();
                    expect = after_value(&stack);
                } else {
                    return Err(invalid(c, context));
                }
            }
            Expect::FirstKey | Expect::Key => {
                if c == b'}' && expect == Expect::FirstKey {
                    i += 1;
                    stack.pop();
                    expect = after_value(&stack);
                } else if c == b'"' {
                    i = string_end(data, i + 1)?;
                    expect = Expect::Colon;
                } else {
                    return Err(invalid(c, "looking for beginning of object key string"));
                }
            }
            Expect::Value | Expect::FirstElement => {
                if c == b']' && expect == Expect::FirstElement {
                    i += 1;
                    stack.pop();
                    expect = after_value(&stack);
                    continue;
                }
                match c {
                    b'{' => {
                        stack.push(Frame::Object);
                        i += 1;
                        expect = Expect::FirstKey;
                        continue;
                    }
                    b'[' => {
                        stack.push(Frame::Array);
                        i += 1;
                        expect = Expect::FirstElement;
                        continue;
                    }
                    b'"' => i = string_end(data, i + 1)?,
                    b'-' | b'0'..=b'9' => i = number_end(data, i)?,
                    b't' | b'f' | b'n' => i = literal_end(data, i)?,
                    _ => return Err(invalid(c, "looking for beginning of value")),
                }
                expect = after_value(&stack);
            }
        }
    }
}

/// Go's name for the JSON type of a value, as `json: cannot unmarshal <type> into …` says it.
pub(crate) fn type_name(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_gos() {
        let cases: &[(&str, Option<&str>)] = &[
            ("", Some(EOF)),
            ("{\"data\":", Some(EOF)),
            ("{\"apiVersion\":", Some(EOF)),
            (
                "x",
                Some("invalid character 'x' looking for beginning of value"),
            ),
            ("[1] x", Some("invalid character 'x' after top-level value")),
            ("{\"a\" 1}", Some("invalid character '1' after object key")),
            (
                "[1,]",
                Some("invalid character ']' looking for beginning of value"),
            ),
            (
                "[{\"op\":\"add\",}]",
                Some("invalid character '}' looking for beginning of object key string"),
            ),
            (
                "{\"a\":\"\\q\"}",
                Some("invalid character 'q' in string escape code"),
            ),
            (
                "{\"a\":tru}",
                Some("invalid character '}' in literal true (expecting 'e')"),
            ),
            (
                "{\"a\":1.}",
                Some("invalid character '}' after decimal point in numeric literal"),
            ),
            (
                "{\"a\":-}",
                Some("invalid character '}' in numeric literal"),
            ),
            (
                "{\"a\":1e}",
                Some("invalid character '}' in exponent of numeric literal"),
            ),
            (
                "{\"a\":1 2}",
                Some("invalid character '2' after object key:value pair"),
            ),
            ("[1 2]", Some("invalid character '2' after array element")),
            (
                "{\"a\":\"\n\"}",
                Some("invalid character '\\n' in string literal"),
            ),
            ("{\"a\":[1,{\"b\":null}],\"c\":-0.5e+3} ", None),
            ("[]", None),
            ("12", None),
        ];
        for (input, want) in cases {
            assert_eq!(
                syntax_error(input.as_bytes()).as_deref(),
                *want,
                "{input:?}"
            );
        }
    }
}
