//! The input encodings YAML streams arrive in, as kubectl reads them: UTF-8 (with or without a
//! byte-order mark) and UTF-16 with a byte-order mark (little or big endian), transcoded to
//! UTF-8. UTF-16 without a mark is not recognised (kubectl refuses it too).

use super::ParseError;
use std::borrow::Cow;

/// The UTF-8 text of `bytes`, without a leading byte-order mark.
pub(crate) fn decode(bytes: &[u8]) -> Result<Cow<'_, str>, ParseError> {
    let text = match bytes {
        [0xFF, 0xFE, rest @ ..] => Cow::Owned(utf16(rest, u16::from_le_bytes)?),
        [0xFE, 0xFF, rest @ ..] => Cow::Owned(utf16(rest, u16::from_be_bytes)?),
        _ => Cow::Borrowed(std::str::from_utf8(bytes).map_err(|e| {
            let (line, column) = super::position_of(bytes, e.valid_up_to());
            ParseError::InvalidUtf8 { line, column }
        })?),
    };
    Ok(match text {
        Cow::Borrowed(t) => Cow::Borrowed(t.strip_prefix('\u{feff}').unwrap_or(t)),
        Cow::Owned(t) => match t.strip_prefix('\u{feff}') {
            Some(rest) => Cow::Owned(rest.to_string()),
            None => Cow::Owned(t),
        },
    })
}

/// Decodes UTF-16 code units (after the mark); an odd byte count or an unpaired surrogate is
/// an error at the position reached.
fn utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> Result<String, ParseError> {
    let units = bytes.chunks(2).map(|c| match c {
        [a, b] => Some(unit([*a, *b])),
        _ => None,
    });
    let mut out = String::with_capacity(bytes.len() / 2);
    let mut pending: Option<u16> = None;
    for u in units {
        let Some(u) = u else {
            return Err(invalid(&out, "an odd number of bytes"));
        };
        match (pending.take(), u) {
            (None, 0xD800..=0xDBFF) => pending = Some(u),
            (None, 0xDC00..=0xDFFF) => return Err(invalid(&out, "an unpaired surrogate")),
            (None, u) => out.push(char::from_u32(u32::from(u)).unwrap_or('\u{fffd}')),
            (Some(hi), 0xDC00..=0xDFFF) => {
                let c = 0x10000 + ((u32::from(hi) - 0xD800) << 10) + (u32::from(u) - 0xDC00);
                out.push(char::from_u32(c).unwrap_or('\u{fffd}'));
            }
            (Some(_), _) => return Err(invalid(&out, "an unpaired surrogate")),
        }
    }
    if pending.is_some() {
        return Err(invalid(&out, "an unpaired surrogate"));
    }
    Ok(out)
}

fn invalid(decoded: &str, problem: &'static str) -> ParseError {
    let (line, column) = super::position_of(decoded.as_bytes(), decoded.len());
    ParseError::InvalidUtf16 {
        line,
        column,
        problem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le(s: &str) -> Vec<u8> {
        let mut v = vec![0xFF, 0xFE];
        v.extend(s.encode_utf16().flat_map(u16::to_le_bytes));
        v
    }

    fn utf16be(s: &str) -> Vec<u8> {
        let mut v = vec![0xFE, 0xFF];
        v.extend(s.encode_utf16().flat_map(u16::to_be_bytes));
        v
    }

    #[test]
    fn utf16_with_a_mark_is_transcoded() {
        let text = "a: é😀\nb: 2\n";
        assert_eq!(decode(&utf16le(text)).unwrap(), text);
        assert_eq!(decode(&utf16be(text)).unwrap(), text);
        assert_eq!(decode("\u{feff}x: 1".as_bytes()).unwrap(), "x: 1");
        assert_eq!(decode(b"x: 1").unwrap(), "x: 1");
    }

    #[test]
    fn broken_utf16_is_an_error_with_a_position() {
        let mut odd = utf16le("a: 1\nb");
        odd.push(0x20);
        let err = decode(&odd).unwrap_err();
        assert!(
            matches!(
                err,
                ParseError::InvalidUtf16 {
                    line: 2,
                    column: 2,
                    ..
                }
            ),
            "{err:?}"
        );
        let mut lone = vec![0xFF, 0xFE];
        lone.extend(0xD800u16.to_le_bytes());
        lone.extend(u16::from(b'a').to_le_bytes());
        assert!(decode(&lone)
            .unwrap_err()
            .to_string()
            .contains("unpaired surrogate"));
        // UTF-16 without a mark is not guessed: its NUL bytes are valid UTF-8 control text.
        let no_mark: Vec<u8> = "a: 1".encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert!(matches!(decode(&no_mark), Ok(Cow::Borrowed(_))));
    }
}
