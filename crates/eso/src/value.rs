//! Values out of a fetched secret: picking a `property`, converting to bytes as ESO does,
//! decoding (`decodingStrategy`), key conversion (`conversionStrategy`), key rewrites and the
//! size limit. No error ever carries a value: only keys, properties and sizes.
//!
//! Order for `dataFrom[].extract`/`find`, as ESO: [`all_properties`] → [`rewrite_keys`] (if
//! any rules; otherwise [`convert_key`] on every key) → [`decode`] of every value.

use std::collections::BTreeMap;

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use serde_json::Value;

use crate::spec::{ConversionStrategy, DecodingStrategy, KvVersion, Rewrite};

/// The largest value fjord writes into a Secret (1 MiB).
pub const MAX_VALUE_BYTES: usize = 1 << 20;

/// A value that cannot be produced. Names keys and properties, never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// The secret body is not a JSON object.
    #[error("secret data is {found}, not an object")]
    NotAnObject {
        /// The JSON type found.
        found: &'static str,
    },
    /// `property` is neither a top-level key nor a dotted path in the secret.
    #[error("property {property:?} does not exist in the secret")]
    MissingProperty {
        /// The property asked for.
        property: String,
    },
    /// A value is over [`MAX_VALUE_BYTES`].
    #[error("value of {key:?} is {size} bytes, over the 1 MiB limit")]
    TooLarge {
        /// The Secret key (or property) the value is for.
        key: String,
        /// Its size in bytes.
        size: usize,
    },
    /// A value does not decode with its `decodingStrategy`.
    #[error("value is not valid {strategy}")]
    Decode {
        /// `Base64` or `Base64URL`.
        strategy: &'static str,
    },
    /// A value of a map does not decode with its `decodingStrategy`.
    #[error("value of {key:?} is not valid {strategy}")]
    DecodeKey {
        /// The key whose value failed.
        key: String,
        /// `Base64` or `Base64URL`.
        strategy: &'static str,
    },
    /// Two keys became the same key after a rewrite.
    #[error("rewrite {pattern:?} turns {first:?} and {second:?} into the same key {key:?}")]
    RewriteCollision {
        /// The rule's source pattern.
        pattern: String,
        /// One original key.
        first: String,
        /// The other original key.
        second: String,
        /// The key both became.
        key: String,
    },
    /// A rewrite produced an empty key.
    #[error("rewrite {pattern:?} turns {original:?} into an empty key")]
    RewriteEmpty {
        /// The rule's source pattern.
        pattern: String,
        /// The original key.
        original: String,
    },
}

/// The name of a JSON type, for messages.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Go `encoding/json` of `v`: object keys sorted, `<>&` escaped.
pub fn go_json(v: &Value) -> String {
    let mut out = String::new();
    write_go_json(&mut out, v);
    out
}

fn write_go_json(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => fjord_model::go::write_json_string(out, s),
        Value::Array(a) => {
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json(out, item);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                fjord_model::go::write_json_string(out, k);
                out.push(':');
                write_go_json(out, &m[k]);
            }
            out.push('}');
        }
    }
}

/// ESO's `GetByteValue` for a top-level value: strings as is, a list of strings joined with
/// `"\n"`, `null` empty, numbers and booleans as JSON text, other objects/lists as JSON.
fn byte_value(v: &Value) -> Vec<u8> {
    match v {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Null => Vec::new(),
        Value::Array(a) if a.iter().all(Value::is_string) => a
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("\n")
            .into_bytes(),
        other => go_json(other).into_bytes(),
    }
}

/// gjson's `String()` of a value found by a path: strings as is, `null` empty, the rest as JSON.
fn path_value(v: &Value) -> Vec<u8> {
    match v {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Null => Vec::new(),
        other => go_json(other).into_bytes(),
    }
}

/// Splits a gjson path on unescaped dots (`a\.b.c` → `a.b`, `c`).
fn split_path(path: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    parts.last_mut().expect("non-empty").push(next);
                }
            }
            '.' => parts.push(String::new()),
            c => parts.last_mut().expect("non-empty").push(c),
        }
    }
    parts
}

/// Follows a dotted path (`a.b.0.c`): object keys, and list indexes by number.
fn lookup<'a>(secret: &'a Value, path: &str) -> Option<&'a Value> {
    split_path(path).iter().try_fold(secret, |v, seg| match v {
        Value::Object(m) => m.get(seg),
        Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

/// Fails when `bytes` is over [`MAX_VALUE_BYTES`]; `key` names it in the error.
pub fn check_size(key: &str, bytes: &[u8]) -> Result<(), ValueError> {
    if bytes.len() > MAX_VALUE_BYTES {
        return Err(ValueError::TooLarge {
            key: key.to_string(),
            size: bytes.len(),
        });
    }
    Ok(())
}

/// The secret body: KV v2 `data.data` / v1 `data` object as returned by Vault (Value::Object).
/// `property` None: the whole map as JSON bytes (Go encoding/json, keys sorted);
/// Some(p): exact top-level key first, else a dotted path (gjson-like a.b.c);
/// strings as-is, numbers/bools as JSON text, nested objects/arrays JSON-encoded
/// (a top-level list of strings is joined with "\n", as ESO's `GetByteValue`).
/// Missing property -> ValueError::MissingProperty{property}; over 1 MiB -> TooLarge naming
/// the property (`"<whole secret>"` for None).
pub fn get_property(secret: &Value, property: Option<&str>) -> Result<Vec<u8>, ValueError> {
    let map = secret.as_object().ok_or(ValueError::NotAnObject {
        found: type_name(secret),
    })?;
    let (name, bytes) = match property {
        None | Some("") => ("<whole secret>", go_json(secret).into_bytes()),
        Some(p) => match map.get(p) {
            Some(v) => (p, byte_value(v)),
            None => (
                p,
                lookup(secret, p)
                    .map(path_value)
                    .ok_or_else(|| ValueError::MissingProperty {
                        property: p.to_string(),
                    })?,
            ),
        },
    };
    check_size(name, &bytes)?;
    Ok(bytes)
}

/// Every top-level key → bytes (dataFrom.extract/find), same conversion as a top-level property.
pub fn all_properties(secret: &Value) -> Result<BTreeMap<String, Vec<u8>>, ValueError> {
    let map = secret.as_object().ok_or(ValueError::NotAnObject {
        found: type_name(secret),
    })?;
    map.iter()
        .map(|(k, v)| {
            let bytes = byte_value(v);
            check_size(k, &bytes)?;
            Ok((k.clone(), bytes))
        })
        .collect()
}

/// A base64 engine that, like Go's, ignores non-zero trailing bits; `padding` says whether
/// `=` padding is optional (`Indifferent`) or required (`RequireCanonical`, Go's `StdEncoding`).
const fn engine(
    alphabet: &base64::alphabet::Alphabet,
    padding: DecodePaddingMode,
) -> GeneralPurpose {
    GeneralPurpose::new(
        alphabet,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(padding)
            .with_decode_allow_trailing_bits(true),
    )
}

const STD: GeneralPurpose = engine(&base64::alphabet::STANDARD, DecodePaddingMode::Indifferent);
const URL: GeneralPurpose = engine(&base64::alphabet::URL_SAFE, DecodePaddingMode::Indifferent);
const STD_STRICT: GeneralPurpose = engine(
    &base64::alphabet::STANDARD,
    DecodePaddingMode::RequireCanonical,
);
const URL_STRICT: GeneralPurpose = engine(
    &base64::alphabet::URL_SAFE,
    DecodePaddingMode::RequireCanonical,
);

/// Decodes with `engine`, ignoring `\r` and `\n` as Go does. The error never holds input.
fn b64(engine: &GeneralPurpose, bytes: &[u8]) -> Option<Vec<u8>> {
    let compact: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|b| !matches!(b, b'\r' | b'\n'))
        .collect();
    engine.decode(compact).ok()
}

/// Decodes a fetched value (`decodingStrategy`): `Base64`, `Base64URL` (padding optional,
/// line breaks ignored), `Auto` (padded standard base64, then padded URL-safe, else the bytes
/// unchanged — padding is required there, as in ESO, so that short plain values stay as is).
pub fn decode(bytes: Vec<u8>, strategy: DecodingStrategy) -> Result<Vec<u8>, ValueError> {
    match strategy {
        DecodingStrategy::None => Ok(bytes),
        DecodingStrategy::Base64 => {
            b64(&STD, &bytes).ok_or(ValueError::Decode { strategy: "Base64" })
        }
        DecodingStrategy::Base64Url => b64(&URL, &bytes).ok_or(ValueError::Decode {
            strategy: "Base64URL",
        }),
        DecodingStrategy::Auto => Ok(b64(&STD_STRICT, &bytes)
            .or_else(|| b64(&URL_STRICT, &bytes))
            .unwrap_or(bytes)),
    }
}

/// [`decode`] of every value of a map; errors name the key.
pub fn decode_map(
    map: BTreeMap<String, Vec<u8>>,
    strategy: DecodingStrategy,
) -> Result<BTreeMap<String, Vec<u8>>, ValueError> {
    map.into_iter()
        .map(|(k, v)| match decode(v, strategy) {
            Ok(v) => Ok((k, v)),
            Err(ValueError::Decode { strategy }) => Err(ValueError::DecodeKey { key: k, strategy }),
            Err(e) => Err(e),
        })
        .collect()
}

/// Converts a key (`conversionStrategy`) as ESO does: every character that is not a letter, a
/// digit, `-`, `.` or `_` becomes `_` (`Default`: `a/b` → `a_b`) or `_U` + its code point in (at
/// least 4) lowercase hex digits + `_` (`Unicode`: `a/b` → `a_U002f_b`).
pub fn convert_key(key: &str, strategy: ConversionStrategy) -> String {
    key.chars()
        .map(|c| {
            if c.is_alphabetic() || c.is_numeric() || matches!(c, '-' | '.' | '_') {
                c.to_string()
            } else {
                match strategy {
                    ConversionStrategy::Default => "_".to_string(),
                    ConversionStrategy::Unicode => format!("_U{:04x}_", c as u32),
                }
            }
        })
        .collect()
}

/// Applies `rewrite[].regexp` rules in order to every key (Go `ReplaceAllString`; `$1`,
/// `${name}`). Two keys becoming one, or an empty key, is an error.
pub fn rewrite_keys(
    map: BTreeMap<String, Vec<u8>>,
    rules: &[Rewrite],
) -> Result<BTreeMap<String, Vec<u8>>, ValueError> {
    rules.iter().try_fold(map, |map, rule| {
        let mut out = BTreeMap::new();
        let mut from: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in map {
            let new = rule
                .source
                .replace_all(&k, rule.target.as_str())
                .into_owned();
            if new.is_empty() {
                return Err(ValueError::RewriteEmpty {
                    pattern: rule.source.as_str().to_string(),
                    original: k,
                });
            }
            if let Some(first) = from.get(&new) {
                return Err(ValueError::RewriteCollision {
                    pattern: rule.source.as_str().to_string(),
                    first: first.clone(),
                    second: k,
                    key: new,
                });
            }
            from.insert(new.clone(), k);
            out.insert(new, v);
        }
        Ok(out)
    })
}

/// The secret body of a KV read response (`/v1/<mount>/data/…` for v2: `data.data`; v1:
/// `data`). `None` when there is none, e.g. a soft-deleted v2 version (`data.data: null`),
/// which ESO treats as "no secret".
pub fn secret_data(response: &Value, kv: KvVersion) -> Option<&Value> {
    let data = response.get("data")?;
    let body = match kv {
        KvVersion::V2 => data.get("data")?,
        KvVersion::V1 => data,
    };
    body.is_object().then_some(body)
}

/// The map a `metadataPolicy: Fetch` read exposes, from a KV v2 metadata response
/// (`/v1/<mount>/metadata/…`): the `custom_metadata` entries plus `created_time`,
/// `current_version` and `delete_version_after` (custom entries win on a name clash).
pub fn metadata_data(response: &Value) -> Value {
    let mut out = serde_json::Map::new();
    if let Some(data) = response.get("data") {
        for field in ["created_time", "current_version", "delete_version_after"] {
            if let Some(v) = data.get(field).filter(|v| !v.is_null()) {
                out.insert(field.to_string(), v.clone());
            }
        }
        if let Some(Value::Object(custom)) = data.get("custom_metadata") {
            for (k, v) in custom {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests;
