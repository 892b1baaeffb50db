//! Go's `fmt.Sprint`, `Sprintln` and a `Sprintf` subset (`%s %v %d %q %t %f %F %g %x %X %%`,
//! flags `-`, `+`, `0`, width and precision), with Go's `%!` spellings of misuse.

use super::val::{go_float_g, go_quote, to_bytes, Value};

/// `fmt.Sprint`: operands as `%v`, with a space between two operands when neither is a string.
pub(crate) fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    let mut prev_string = false;
    for (i, a) in args.iter().enumerate() {
        let is_string = matches!(a, Value::Str(_));
        if i > 0 && !is_string && !prev_string {
            out.push(' ');
        }
        out.push_str(&a.to_v());
        prev_string = is_string;
    }
    out
}

/// `fmt.Sprintln`: operands as `%v`, space-separated, and a newline.
pub(crate) fn sprintln(args: &[Value]) -> String {
    let parts: Vec<String> = args.iter().map(Value::to_v).collect();
    format!("{}\n", parts.join(" "))
}

/// A verb's flags, width and precision.
#[derive(Default)]
struct Spec {
    minus: bool,
    plus: bool,
    zero: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

/// `fmt.Sprintf` for the verbs above.
pub(crate) fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::with_capacity(format.len());
    let mut next = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '0' => spec.zero = true,
                ' ' | '#' => {}
                _ => break,
            }
            chars.next();
        }
        spec.width = digits(&mut chars);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.precision = Some(digits(&mut chars).unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(next) {
            Some(arg) => out.push_str(&pad(&spec, verb, one(&spec, verb, arg))),
            None => out.push_str(&format!("%!{verb}(MISSING)")),
        }
        next += 1;
        if out.len() > super::MAX_OUTPUT_BYTES {
            // The caller refuses the result; stop building it.
            return out;
        }
    }
    if next < args.len() {
        let extra: Vec<String> = args[next..].iter().map(described).collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

fn digits(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<usize> {
    let mut n: Option<usize> = None;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        // Go caps widths at 1e6; so does fjord (output is limited anyway).
        n = Some((n.unwrap_or(0) * 10 + d as usize).min(1_000_000));
        chars.next();
    }
    n
}

/// `type=value` as Go prints a misused or extra argument.
fn described(v: &Value) -> String {
    match v {
        Value::Nil => "<nil>".to_string(),
        other => format!("{}={}", other.type_name(), other.to_v()),
    }
}

fn bad(verb: char, v: &Value) -> String {
    format!("%!{verb}({})", described(v))
}

/// One verb applied to one argument, before padding.
fn one(spec: &Spec, verb: char, v: &Value) -> String {
    match (verb, v) {
        ('v', _) => match v {
            Value::Int(i) if spec.plus => format!("{i:+}"),
            _ => v.to_v(),
        },
        ('s', Value::Str(s)) => match spec.precision {
            Some(p) => s.chars().take(p).collect(),
            None => s.to_string(),
        },
        ('s', Value::List(_) | Value::Map(_)) => v.to_v(),
        ('d', Value::Int(i)) if spec.plus => format!("{i:+}"),
        ('d', Value::Int(i)) => i.to_string(),
        ('q', Value::Str(s)) => go_quote(s),
        ('q', Value::Int(i)) => quote_rune(*i),
        ('t', Value::Bool(b)) => b.to_string(),
        ('f' | 'F', Value::Float(f)) => {
            let p = spec.precision.unwrap_or(6).min(64);
            if spec.plus {
                format!("{f:+.p$}")
            } else {
                format!("{f:.p$}")
            }
        }
        ('g', Value::Float(f)) if spec.precision.is_none() => go_float_g(*f),
        ('x', Value::Str(s)) => hex::encode(to_bytes(s)),
        ('X', Value::Str(s)) => hex::encode_upper(to_bytes(s)),
        ('x', Value::Int(i)) => signed_hex(*i, false),
        ('X', Value::Int(i)) => signed_hex(*i, true),
        _ => bad(verb, v),
    }
}

fn signed_hex(i: i64, upper: bool) -> String {
    let sign = if i < 0 { "-" } else { "" };
    let abs = i.unsigned_abs();
    if upper {
        format!("{sign}{abs:X}")
    } else {
        format!("{sign}{abs:x}")
    }
}

/// `%q` of an integer: Go's `strconv.QuoteRune`.
fn quote_rune(i: i64) -> String {
    let c = u32::try_from(i)
        .ok()
        .and_then(char::from_u32)
        .unwrap_or('\u{fffd}');
    let quoted = match c {
        '\'' => "\\'".to_string(),
        '"' => "\"".to_string(),
        c => {
            let q = fjord_model::go::quote(&c.to_string());
            q[1..q.len() - 1].to_string()
        }
    };
    format!("'{quoted}'")
}

/// Pads `body` to the spec's width: spaces on the left (right with `-`), or zeros after the
/// sign for numbers with `0`.
fn pad(spec: &Spec, verb: char, body: String) -> String {
    let Some(width) = spec.width else { return body };
    let len = body.chars().count();
    if len >= width || body.starts_with("%!") {
        return body;
    }
    let fill = width - len;
    if spec.minus {
        return format!("{body}{}", " ".repeat(fill));
    }
    if spec.zero && matches!(verb, 'd' | 'f' | 'F' | 'x' | 'X' | 'v') {
        let (sign, digits) = match body.strip_prefix(['-', '+']) {
            Some(rest) => (&body[..1], rest),
            None => ("", body.as_str()),
        };
        if digits.bytes().all(|b| b.is_ascii_hexdigit() || b == b'.') {
            return format!("{sign}{}{digits}", "0".repeat(fill));
        }
    }
    format!("{}{body}", " ".repeat(fill))
}
