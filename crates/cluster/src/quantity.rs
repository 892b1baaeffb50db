//! Resource quantities as kube-apiserver v1.34 stores them.
//!
//! The real server decodes every `resource.Quantity` field of a built-in kind and writes it back
//! in its own spelling: `0.5` becomes `500m`, `1024Mi` becomes `1Gi`, `12000` becomes `12k`.
//! A value already in canonical form keeps its text (so `1e3`, `+1` and `01` stay as sent), and
//! every entry of a resource list (requests, limits, quota, capacity) is rounded up to a
//! thousandth (`1n` becomes `1m`). Values it cannot decode refuse the whole request.
//!
//! [`parse`] and [`Quantity`] reproduce the decoding and the spelling; [`canonicalize`] rewrites
//! the quantity fields of a built-in object in place and [`decode_error`] names the first value
//! that does not decode. Custom resources are never touched.

use std::cmp::Ordering;

use serde_json::Value;

use crate::errors::ApiError;
use fjord_model::ResourceType;

/// Why a quantity does not decode; the texts are the real server's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// Scanning the text: it is not a number followed by a suffix.
    #[error(
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )]
    Scanning {
        /// The text as sent.
        text: String,
    },
    /// Reading the suffix: it is not a known unit or exponent.
    #[error("unable to parse quantity's suffix")]
    Suffix {
        /// The text as sent.
        text: String,
    },
}

/// How a quantity is spelled: the family of its suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Decimal SI suffixes (`n u m "" k M G T P E`).
    DecimalSi,
    /// A decimal exponent (`1e3`).
    DecimalExponent,
    /// Binary suffixes (`Ki Mi Gi Ti Pi Ei`).
    BinarySi,
}

/// A decoded quantity: an exact decimal value, its spelling family, and the text the server keeps
/// when the input was already canonical.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quantity {
    negative: bool,
    /// Decimal digits of the magnitude, most significant first, without leading zeros
    /// (empty for zero).
    digits: Vec<u8>,
    /// The magnitude is `digits × 10^exp`.
    exp: i64,
    format: Format,
    /// The text kept as sent (already canonical).
    kept: Option<String>,
}

/// The finest resolution a quantity keeps (nano).
const NANO: i64 = -9;
/// The resolution resource-list entries are rounded up to (milli).
const MILLI: i64 = -3;
/// The largest magnitude a binary-suffixed quantity may have.
const MAX_BINARY: u128 = i64::MAX as u128;

/// The parts of a quantity's text.
struct Parts<'a> {
    negative: bool,
    /// Integer digits without leading zeros (`"0"` when there are none).
    num: &'a str,
    /// Fraction digits.
    denom: &'a str,
    suffix: &'a str,
}

fn digits_end(s: &[u8], from: usize) -> usize {
    let mut i = from;
    while i < s.len() && s[i].is_ascii_digit() {
        i += 1;
    }
    i
}

/// Splits a quantity's text into sign, integer digits, fraction digits and suffix.
fn scan(s: &str) -> Result<Parts<'_>, QuantityError> {
    let b = s.as_bytes();
    let wrong = || QuantityError::Scanning { text: s.into() };
    if b.is_empty() {
        return Err(wrong());
    }
    let mut pos = 0;
    let negative = b[0] == b'-';
    if b[0] == b'-' || b[0] == b'+' {
        pos = 1;
    }
    while pos < b.len() && b[pos] == b'0' {
        pos += 1;
    }
    let num_end = digits_end(b, pos);
    let num = if num_end == pos {
        "0"
    } else {
        &s[pos..num_end]
    };
    pos = num_end;
    let mut denom = "";
    if pos < b.len() && b[pos] == b'.' {
        let end = digits_end(b, pos + 1);
        denom = &s[pos + 1..end];
        pos = end;
    }
    let suffix_start = pos;
    while pos < b.len() && b"eEinumkKMGTP".contains(&b[pos]) {
        pos += 1;
    }
    if pos < b.len() && (b[pos] == b'+' || b[pos] == b'-') {
        pos += 1;
    }
    if digits_end(b, pos) != b.len() {
        return Err(wrong());
    }
    Ok(Parts {
        negative,
        num,
        denom,
        suffix: &s[suffix_start..],
    })
}

/// What a suffix means: (base, exponent, format).
fn interpret_suffix(suffix: &str) -> Option<(u32, i64, Format)> {
    const DECIMAL: [(&str, i64); 10] = [
        ("n", -9),
        ("u", -6),
        ("m", -3),
        ("", 0),
        ("k", 3),
        ("M", 6),
        ("G", 9),
        ("T", 12),
        ("P", 15),
        ("E", 18),
    ];
    const BINARY: [(&str, i64); 6] = [
        ("Ki", 10),
        ("Mi", 20),
        ("Gi", 30),
        ("Ti", 40),
        ("Pi", 50),
        ("Ei", 60),
    ];
    if let Some((_, e)) = DECIMAL.iter().find(|(s, _)| *s == suffix) {
        return Some((10, *e, Format::DecimalSi));
    }
    if let Some((_, e)) = BINARY.iter().find(|(s, _)| *s == suffix) {
        return Some((2, *e, Format::BinarySi));
    }
    let rest = suffix.strip_prefix(['e', 'E'])?;
    // The exponent is read as a 64-bit integer and kept as a 32-bit one.
    let e: i64 = rest.parse().ok()?;
    Some((10, i64::from(e as i32), Format::DecimalExponent))
}

/// `digits × m` (digits most significant first).
fn mul_small(digits: &mut Vec<u8>, m: u32) {
    let mut carry: u64 = 0;
    for d in digits.iter_mut().rev() {
        let v = u64::from(*d) * u64::from(m) + carry;
        *d = (v % 10) as u8;
        carry = v / 10;
    }
    while carry > 0 {
        digits.insert(0, (carry % 10) as u8);
        carry /= 10;
    }
}

/// `digits + 1`.
fn increment(digits: &mut Vec<u8>) {
    for d in digits.iter_mut().rev() {
        if *d < 9 {
            *d += 1;
            return;
        }
        *d = 0;
    }
    digits.insert(0, 1);
}

fn strip_leading_zeros(digits: &mut Vec<u8>) {
    let lead = digits.iter().take_while(|d| **d == 0).count();
    digits.drain(..lead);
}

/// The digits of `v`.
fn digits_of(mut v: u128) -> Vec<u8> {
    let mut out = Vec::new();
    while v > 0 {
        out.insert(0, (v % 10) as u8);
        v /= 10;
    }
    out
}

/// Whether the server keeps the text as sent (it is already in canonical form).
fn keeps_text(p: &Parts<'_>, base: u32, exp: i64) -> bool {
    let shifted_len = p.num.len() + p.denom.len();
    if base == 2 {
        // Only whole numbers that fit after the shift, and not a multiple of 8.
        let precision = 14 - p.num.len() as i64 - exp * 3 / 10;
        if !p.denom.is_empty() || precision < 0 {
            return false;
        }
        let Ok(value) = p.num.parse::<i64>() else {
            return false;
        };
        return value.checked_mul(1i64 << exp).is_some() && value & 7 != 0;
    }
    let scale = exp - p.denom.len() as i64;
    shifted_len <= 18
        && scale >= NANO
        && scale % 3 == 0
        && !format!("{}{}", p.num, p.denom).ends_with("000")
        && !p.num.starts_with('0')
}

/// Decodes a quantity's text as the real server does (surrounding white space ignored).
pub fn parse(text: &str) -> Result<Quantity, QuantityError> {
    let s = text.trim();
    let p = scan(s)?;
    let (base, exp, mut format) =
        interpret_suffix(p.suffix).ok_or_else(|| QuantityError::Suffix { text: s.into() })?;
    let mut digits: Vec<u8> = p
        .num
        .bytes()
        .chain(p.denom.bytes())
        .map(|b| b - b'0')
        .collect();
    let mut q_exp = -(p.denom.len() as i64);
    if base == 10 {
        q_exp += exp;
    } else {
        for _ in 0..exp / 10 {
            mul_small(&mut digits, 1024);
        }
    }
    strip_leading_zeros(&mut digits);
    let kept = keeps_text(&p, base, exp).then(|| s.to_string());
    let mut q = Quantity {
        negative: p.negative,
        digits,
        exp: q_exp,
        format,
        kept,
    };
    if q.kept.is_none() {
        q.round_up(NANO);
        if format == Format::BinarySi {
            if q.cmp_magnitude(MAX_BINARY) == Ordering::Greater {
                q.digits = digits_of(MAX_BINARY);
                q.exp = 0;
            }
            if !q.is_zero() && q.cmp_magnitude(1) == Ordering::Less {
                format = Format::DecimalSi;
            }
        }
        q.format = format;
    }
    Ok(q)
}

impl Quantity {
    /// Whether the value is zero.
    pub fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// Rounds the magnitude up (away from zero) to a multiple of `10^min_exp`.
    fn round_up(&mut self, min_exp: i64) {
        if self.exp >= min_exp {
            return;
        }
        let drop = usize::try_from(min_exp - self.exp).unwrap_or(usize::MAX);
        let keep = self.digits.len().saturating_sub(drop);
        let inexact = self.digits[keep..].iter().any(|d| *d != 0);
        self.digits.truncate(keep);
        if inexact {
            increment(&mut self.digits);
        }
        strip_leading_zeros(&mut self.digits);
        self.exp = min_exp;
    }

    /// What a resource-list entry becomes: rounded up to a thousandth; the kept text goes when
    /// the value had finer digits.
    pub fn round_up_milli(&mut self) {
        if self.exp < MILLI {
            self.kept = None;
            self.round_up(MILLI);
        }
    }

    /// The magnitude's digits without trailing zeros, and the matching exponent.
    fn normalized(&self) -> (Vec<u8>, i64) {
        let trailing = self.digits.iter().rev().take_while(|d| **d == 0).count();
        let digits = self.digits[..self.digits.len() - trailing].to_vec();
        (digits, self.exp + trailing as i64)
    }

    /// Compares the magnitude with `n`.
    fn cmp_magnitude(&self, n: u128) -> Ordering {
        let (digits, exp) = self.normalized();
        let int_len = digits.len() as i64 + exp;
        if int_len > 39 {
            return Ordering::Greater;
        }
        let (int_digits, has_fraction) = if exp >= 0 {
            (digits.clone(), false)
        } else {
            let cut = usize::try_from(int_len.max(0)).unwrap_or(0);
            (digits[..cut].to_vec(), true)
        };
        let zeros = usize::try_from(exp.max(0)).unwrap_or(0);
        let mut int: u128 = 0;
        for d in int_digits.iter().chain(std::iter::repeat_n(&0u8, zeros)) {
            let Some(v) = int
                .checked_mul(10)
                .and_then(|v| v.checked_add(u128::from(*d)))
            else {
                return Ordering::Greater;
            };
            int = v;
        }
        match int.cmp(&n) {
            Ordering::Equal if has_fraction => Ordering::Greater,
            o => o,
        }
    }

    /// The whole magnitude, when it is a whole number that fits.
    fn whole(&self) -> Option<u128> {
        let (digits, exp) = self.normalized();
        if exp < 0 || digits.len() as i64 + exp > 38 {
            return None;
        }
        let mut v: u128 = 0;
        for d in digits.iter().chain(std::iter::repeat_n(&0u8, exp as usize)) {
            v = v * 10 + u128::from(*d);
        }
        Some(v)
    }

    /// The canonical spelling, ignoring any kept text.
    pub fn canonical(&self) -> String {
        if self.is_zero() {
            return "0".into();
        }
        let sign = if self.negative { "-" } else { "" };
        if self.format == Format::BinarySi && self.cmp_magnitude(1024) != Ordering::Less {
            if let Some(mut v) = self.whole() {
                const SUFFIXES: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
                let mut i = 0;
                while i + 1 < SUFFIXES.len() && v % 1024 == 0 {
                    v /= 1024;
                    i += 1;
                }
                return format!("{sign}{v}{}", SUFFIXES[i]);
            }
        }
        let (mut digits, exp) = self.normalized();
        // The exponent goes down to a multiple of three.
        let e3 = exp.div_euclid(3) * 3;
        digits.extend(std::iter::repeat_n(0, (exp - e3) as usize));
        let number: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
        let suffix = match (self.format, e3) {
            (_, 0) => String::new(),
            (Format::DecimalExponent, e) => format!("e{e}"),
            (_, -9) => "n".into(),
            (_, -6) => "u".into(),
            (_, -3) => "m".into(),
            (_, 3) => "k".into(),
            (_, 6) => "M".into(),
            (_, 9) => "G".into(),
            (_, 12) => "T".into(),
            (_, 15) => "P".into(),
            (_, 18) => "E".into(),
            // The real server writes no suffix for an exponent it has no SI letter for.
            _ => String::new(),
        };
        format!("{sign}{number}{suffix}")
    }

    /// The text the server stores: the kept text, else the canonical spelling.
    pub fn to_text(&self) -> String {
        self.kept.clone().unwrap_or_else(|| self.canonical())
    }
}

/// What happens to a quantity field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    /// A single quantity (`emptyDir.sizeLimit`): decoded and respelled.
    Single,
    /// An entry of a resource list: also rounded up to a thousandth.
    ListEntry,
}

mod fields;

/// The text a quantity field's JSON value decodes to, as the server would store it; `None` for
/// a value it leaves alone (a single quantity's `null`).
fn decoded(v: &Value, field: Field) -> Option<Result<String, QuantityError>> {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        // A null list entry decodes to zero.
        Value::Null if field == Field::ListEntry => return Some(Ok("0".into())),
        Value::Null => return None,
        other => other.to_string(),
    };
    Some(parse(&text).map(|mut q| {
        if field == Field::ListEntry {
            q.round_up_milli();
        }
        q.to_text()
    }))
}

/// Rewrites every quantity field of a built-in object in the real server's spelling; values
/// that do not decode are left as they are (see [`decode_error`]). Resource lists come out with
/// their keys sorted, as the real server encodes maps.
pub fn canonicalize(rt: &ResourceType, obj: &mut Value) {
    if rt.custom {
        return;
    }
    let mut lists: Vec<String> = Vec::new();
    for (pointer, field) in fields::quantity_fields(&rt.group, &rt.kind, obj) {
        if field == Field::ListEntry {
            if let Some((list, _)) = pointer.rsplit_once('/') {
                if lists.last().map(String::as_str) != Some(list) {
                    lists.push(list.to_string());
                }
            }
        }
        let Some(v) = obj.pointer_mut(&pointer) else {
            continue;
        };
        if let Some(Ok(text)) = decoded(v, field) {
            *v = Value::String(text);
        }
    }
    for list in lists {
        if let Some(Value::Object(m)) = obj.pointer_mut(&list) {
            m.sort_keys();
        }
    }
}

/// The decoder's message for the first quantity field of a built-in object that does not
/// decode, if any.
pub fn decode_error(rt: &ResourceType, obj: &Value) -> Option<String> {
    if rt.custom {
        return None;
    }
    fields::quantity_fields(&rt.group, &rt.kind, obj)
        .into_iter()
        .find_map(
            |(pointer, field)| match decoded(obj.pointer(&pointer)?, field)? {
                Ok(_) => None,
                Err(e) => Some(e.to_string()),
            },
        )
}

/// A server-side apply whose merged object holds a quantity that does not decode: 500, as
/// kube-apiserver answers (`failed to convert new object (ns/name; apps/v1, Kind=Deployment) to
/// proper version: …`). The message names the object as the apply body does (no namespace
/// when the body has none).
pub fn check_applied(rt: &ResourceType, body: &Value, merged: &Value) -> Result<(), ApiError> {
    let Some(why) = decode_error(rt, merged) else {
        return Ok(());
    };
    // Go's GroupVersionKind.String(): `/v1, Kind=Pod` for the core group.
    let gvk = format!("{}/{}, Kind={}", rt.group, rt.version, rt.kind);
    let md = &body["metadata"];
    let mut e = ApiError::internal(format!(
        "failed to convert new object ({}/{}; {gvk}) to proper version: unable to convert \
         unstructured object to {gvk}: {why}",
        md["namespace"].as_str().unwrap_or(""),
        md["name"].as_str().unwrap_or(""),
    ));
    e.reason = String::new();
    Err(e)
}

#[cfg(test)]
mod tests;
