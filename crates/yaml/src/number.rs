//! Go's float formatting: `strconv.FormatFloat(f, 'g', -1, 64)` (go-yaml v2's output) and
//! `encoding/json`'s float text. Both use the shortest digits that round-trip, which Rust's
//! `{:e}` formatting also produces.

/// The shortest round-trip decimal digits of a finite, non-zero `f`, and its decimal point
/// position (`digits × 10^(dp - len)`).
fn shortest(f: f64) -> (String, i32) {
    let e = format!("{:e}", f.abs());
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    (digits, exp + 1)
}

fn push_exp(out: &mut String, digits: &str, dp: i32, min_exp_digits: usize) {
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    let exp = dp - 1;
    out.push('e');
    out.push(if exp < 0 { '-' } else { '+' });
    let mag = exp.unsigned_abs().to_string();
    for _ in mag.len()..min_exp_digits {
        out.push('0');
    }
    out.push_str(&mag);
}

fn push_fixed(out: &mut String, digits: &str, dp: i32) {
    let nd = digits.len() as i32;
    if dp <= 0 {
        out.push_str("0.");
        for _ in 0..-dp {
            out.push('0');
        }
        out.push_str(digits);
    } else if dp >= nd {
        out.push_str(digits);
        for _ in 0..dp - nd {
            out.push('0');
        }
    } else {
        out.push_str(&digits[..dp as usize]);
        out.push('.');
        out.push_str(&digits[dp as usize..]);
    }
}

/// `strconv.FormatFloat(f, 'g', -1, 64)`, with go-yaml's `.inf`/`.nan` spellings.
pub(crate) fn format_g(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            ".inf".into()
        } else {
            "-.inf".into()
        };
    }
    let mut out = String::new();
    if f.is_sign_negative() {
        out.push('-');
    }
    if f == 0.0 {
        out.push('0');
        return out;
    }
    let (digits, dp) = shortest(f);
    let exp = dp - 1;
    // Shortest `%g` switches to exponent form below 1e-4 or from 1e6 (`eprec` 6).
    if !(-4..6).contains(&exp) {
        push_exp(&mut out, &digits, dp, 2);
    } else {
        push_fixed(&mut out, &digits, dp);
    }
    out
}

/// The text Go's `encoding/json` writes for a finite float.
pub(crate) fn format_json(f: f64) -> String {
    let abs = f.abs();
    let mut out = String::new();
    if f.is_sign_negative() {
        out.push('-');
    }
    if f == 0.0 {
        out.push('0');
        return out;
    }
    let (digits, dp) = shortest(f);
    if !(1e-6..1e21).contains(&abs) {
        push_exp(&mut out, &digits, dp, 1);
    } else {
        push_fixed(&mut out, &digits, dp);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_g_format() {
        let cases = [
            (1.5e-7, "1.5e-07"),
            (1234567.5, "1.2345675e+06"),
            (123456.75, "123456.75"),
            (1e21, "1e+21"),
            (1e20, "1e+20"),
            (1e-6, "1e-06"),
            (0.5, "0.5"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.8446744073709552e19, "1.8446744073709552e+19"),
            (-2.5, "-2.5"),
            (100000.0, "100000"),
            (1000000.0, "1e+06"),
        ];
        for (f, s) in cases {
            assert_eq!(format_g(f), s, "{f}");
        }
    }

    #[test]
    fn go_json_format() {
        assert_eq!(format_json(1e-7), "1e-7");
        assert_eq!(format_json(1e21), "1e+21");
        assert_eq!(format_json(1e20), "100000000000000000000");
        assert_eq!(format_json(0.000001), "0.000001");
        assert_eq!(format_json(1.5), "1.5");
        assert_eq!(format_json(-0.0), "-0");
    }
}
