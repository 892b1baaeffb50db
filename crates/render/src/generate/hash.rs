//! The content-hash name suffix of generated ConfigMaps and Secrets.
//!
//! Facts about kustomize's hasher (api/hasher) that this reproduces: it builds a small JSON
//! object from the resource — for a ConfigMap `kind`, `name`, `data` and, when it is a
//! mapping, `binaryData`; for a Secret `kind`, `type`, `name`, `data` and, when a mapping,
//! `stringData` — encodes it as Go's `encoding/json` does (keys sorted, HTML-safe escapes),
//! takes the SHA-256 of that, and keeps the first ten hex digits with `0 1 3 a e` mapped to
//! `g h k m t`. The name it looks up is the literal field `metadata/name`, which does not
//! exist, so the name always hashes as an empty string; a missing `data` hashes as `""`.

use super::decode::{parse_bool, parse_int};
use super::GenerateError;
use fjord_model::go::write_json_string;
use fjord_yaml::{Node, Tag};
use sha2::{Digest, Sha256};
use std::fmt::Write;

/// The ten-character suffix for a generated ConfigMap or Secret.
pub fn content_hash(obj: &Node) -> Result<String, GenerateError> {
    let kind = obj.str_at(&["kind"]).unwrap_or_default();
    let field = |k: &str| match obj.get(k) {
        None => Json::Str(String::new()),
        Some(n) => Json::from_node(n),
    };
    let mut entries: Vec<(String, Json)> = match kind {
        "ConfigMap" => {
            let mut e = vec![
                ("kind".to_string(), Json::Str("ConfigMap".into())),
                ("name".to_string(), Json::Str(String::new())),
                ("data".to_string(), field("data")),
            ];
            if let Some(b) = obj.get("binaryData").filter(|b| b.as_map().is_some()) {
                e.push(("binaryData".into(), Json::from_node(b)));
            }
            e
        }
        "Secret" => {
            let mut e = vec![
                ("kind".to_string(), Json::Str("Secret".into())),
                ("type".to_string(), field("type")),
                ("name".to_string(), Json::Str(String::new())),
                ("data".to_string(), field("data")),
            ];
            if let Some(s) = obj.get("stringData").filter(|s| s.as_map().is_some()) {
                e.push(("stringData".into(), Json::from_node(s)));
            }
            e
        }
        other => {
            return Err(GenerateError::HashKind {
                kind: other.to_string(),
            })
        }
    };
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut encoded = String::new();
    Json::Obj(entries).write(&mut encoded);
    Ok(encode_hex(&Sha256::digest(encoded.as_bytes())))
}

/// First ten hex digits of the digest, with kustomize's vowel-free substitutions.
fn encode_hex(digest: &[u8]) -> String {
    let mut hex = String::with_capacity(64);
    for b in digest {
        let _ = write!(hex, "{b:02x}");
    }
    hex.chars()
        .take(10)
        .map(|c| match c {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            c => c,
        })
        .collect()
}

/// A JSON value as Go's `interface{}` holds one after a YAML-to-JSON round trip.
enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    /// Keys sorted when written.
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn from_node(n: &Node) -> Json {
        match n {
            Node::Scalar(s) => match s.tag {
                Tag::Null => Json::Null,
                Tag::Bool => Json::Bool(parse_bool(&s.value)),
                Tag::Int => parse_int(&s.value)
                    .map(|i| Json::Num(i as f64))
                    .unwrap_or_else(|| Json::Str(s.value.clone())),
                Tag::Float => s
                    .value
                    .replace('_', "")
                    .parse::<f64>()
                    .map(Json::Num)
                    .unwrap_or_else(|_| Json::Str(s.value.clone())),
                _ => Json::Str(s.value.clone()),
            },
            Node::Seq(items) => Json::Arr(items.iter().map(Json::from_node).collect()),
            Node::Map(m) => {
                let mut e: Vec<(String, Json)> = m
                    .iter()
                    .map(|(k, v)| (k.clone(), Json::from_node(v)))
                    .collect();
                e.sort_by(|a, b| a.0.cmp(&b.0));
                Json::Obj(e)
            }
        }
    }

    fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Num(f) => out.push_str(&go_float(*f)),
            Json::Str(s) => write_json_string(out, s),
            Json::Arr(items) => {
                out.push('[');
                for (i, it) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    it.write(out);
                }
                out.push(']');
            }
            Json::Obj(entries) => {
                out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json_string(out, k);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// Go's JSON spelling of a float64: plain digits, exponent form outside [1e-6, 1e21).
fn go_float(f: f64) -> String {
    let a = f.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((m, e)) if e.starts_with('-') => format!("{m}e-{:0>2}", &e[1..]),
            Some((m, e)) => format!("{m}e+{e:0>2}"),
            None => s,
        }
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(kind: &str, data: &[(&str, &str)], extra: &[(&str, Node)]) -> Node {
        let mut n = Node::map();
        let m = n.as_map_mut().unwrap();
        m.insert("apiVersion".into(), Node::string("v1"));
        m.insert("kind".into(), Node::string(kind));
        let mut md = Node::map();
        md.as_map_mut()
            .unwrap()
            .insert("name".into(), Node::string("whatever"));
        m.insert("metadata".into(), md);
        if !data.is_empty() {
            let mut d = Node::map();
            for (k, v) in data {
                d.as_map_mut()
                    .unwrap()
                    .insert((*k).into(), Node::string(*v));
            }
            m.insert("data".into(), d);
        }
        for (k, v) in extra {
            m.insert((*k).into(), v.clone());
        }
        n
    }

    // Expected suffixes captured from `kubectl kustomize` (kustomize v5.5.0).
    #[test]
    fn configmap_hashes_match_kubectl() {
        assert_eq!(
            content_hash(&obj("ConfigMap", &[("x", "1")], &[])).unwrap(),
            "hmg6f82fh6"
        );
        assert_eq!(
            content_hash(&obj("ConfigMap", &[], &[])).unwrap(),
            "6ct58987ht"
        );
        // immutable does not take part in the hash.
        let imm = obj(
            "ConfigMap",
            &[("x", "1")],
            &[("immutable", Node::bool(true))],
        );
        assert_eq!(content_hash(&imm).unwrap(), "hmg6f82fh6");
    }

    #[test]
    fn binary_data_and_escapes_match_kubectl() {
        let mut bin = Node::map();
        bin.as_map_mut()
            .unwrap()
            .insert("b.bin".into(), Node::string("/w=="));
        let o = obj(
            "ConfigMap",
            &[
                ("A", "1"),
                ("B", "2"),
                ("L", "1"),
                ("s.txt", "x<>&\u{2028}\u{8}\u{c}\u{1}\"\\\n"),
            ],
            &[("binaryData", bin)],
        );
        assert_eq!(content_hash(&o).unwrap(), "9g7m9kfk4c");
    }

    #[test]
    fn secret_hashes_match_kubectl() {
        let t = |ty: &str| ("type", Node::string(ty));
        assert_eq!(
            content_hash(&obj("Secret", &[("x", "MQ==")], &[t("Opaque")])).unwrap(),
            "bf2648c599"
        );
        assert_eq!(
            content_hash(&obj("Secret", &[("x", "MQ==")], &[t("kubernetes.io/tls")])).unwrap(),
            "79cg2k2tfk"
        );
        let empty = obj("Secret", &[], &[t("Opaque"), ("data", Node::map())]);
        assert_eq!(content_hash(&empty).unwrap(), "46f8b28mk5");
    }

    #[test]
    fn go_float_spelling() {
        assert_eq!(go_float(42.0), "42");
        assert_eq!(go_float(1.5), "1.5");
        assert_eq!(go_float(1e21), "1e+21");
        assert_eq!(go_float(1e-7), "1e-07");
    }

    #[test]
    fn other_kinds_are_refused() {
        assert!(content_hash(&obj("Deployment", &[], &[])).is_err());
    }
}
