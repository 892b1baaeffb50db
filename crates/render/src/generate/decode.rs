//! Typed reading of kustomization fields, with the type errors kustomize reports.
//!
//! kustomize turns a kustomization into JSON and unmarshals it into Go structs, so a field of
//! the wrong type fails with Go's `json: cannot unmarshal number into Go struct field
//! ConfigMapArgs.configMapGenerator.literals of type string`. [`Field`] reproduces those
//! checks (and the message) for the handful of field types the generators, images, replicas,
//! replacements and vars entries use. A missing field or an explicit `null` reads as the
//! zero value, as in Go.

use fjord_yaml::{Node, Tag};
use indexmap::IndexMap;

/// A field whose value has the wrong type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("json: cannot unmarshal {found} into Go struct field {strukt}.{path} of type {expected}")]
pub struct DecodeError {
    /// What the value was, in JSON terms (`number`, `string`, `bool`, `array`, `object`).
    pub found: String,
    /// The Go struct the field belongs to, e.g. `ConfigMapArgs`.
    pub strukt: String,
    /// The JSON path of the field from the document root, e.g. `configMapGenerator.name`.
    pub path: String,
    /// The Go type expected, e.g. `string`, `[]string`, `bool`, `int64`.
    pub expected: &'static str,
}

/// Where a field lives: the Go struct that declares it and the JSON path to it.
#[derive(Clone, Debug)]
pub(crate) struct Field<'a> {
    /// The struct name Go reports.
    pub strukt: &'a str,
    /// The JSON path of the struct within the document (e.g. `configMapGenerator`).
    pub at: &'a str,
}

/// The JSON kind of a node, as Go's decoder names it in errors.
fn json_kind(n: &Node) -> String {
    match n {
        Node::Scalar(s) => match s.tag {
            Tag::Int | Tag::Float => "number".into(),
            Tag::Bool => "bool".into(),
            Tag::Null => "null".into(),
            Tag::Str | Tag::Timestamp | Tag::Binary => "string".into(),
        },
        Node::Seq(_) => "array".into(),
        Node::Map(_) => "object".into(),
    }
}

impl<'a> Field<'a> {
    /// A field context for struct `strukt` found at JSON path `at`.
    pub fn new(strukt: &'a str, at: &'a str) -> Field<'a> {
        Field { strukt, at }
    }

    fn err(&self, key: &str, n: &Node, expected: &'static str) -> DecodeError {
        let path = if self.at.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.at)
        };
        let mut found = json_kind(n);
        if expected == "int64" || expected == "int" {
            if let Some(s) = n.as_scalar().filter(|s| s.tag == Tag::Float) {
                found = format!("number {}", s.value);
            }
        }
        DecodeError {
            found,
            strukt: self.strukt.to_string(),
            path,
            expected,
        }
    }

    /// A `string` field of mapping `obj`; missing or null reads as empty.
    pub fn string(&self, obj: &Node, key: &str) -> Result<String, DecodeError> {
        match obj.get(key) {
            None => Ok(String::new()),
            Some(n) => self.as_string(key, n),
        }
    }

    /// A string value met at `key` (a scalar that JSON would carry as a string).
    fn as_string(&self, key: &str, n: &Node) -> Result<String, DecodeError> {
        match n {
            Node::Scalar(s) => match s.tag {
                Tag::Null => Ok(String::new()),
                Tag::Str | Tag::Timestamp | Tag::Binary => Ok(s.value.clone()),
                _ => Err(self.err(key, n, "string")),
            },
            _ => Err(self.err(key, n, "string")),
        }
    }

    /// A `[]string` field; missing or null reads as empty.
    pub fn strings(&self, obj: &Node, key: &str) -> Result<Vec<String>, DecodeError> {
        match obj.get(key) {
            None => Ok(Vec::new()),
            Some(n) if n.is_null() => Ok(Vec::new()),
            Some(Node::Seq(items)) => items
                .iter()
                .map(|i| match i {
                    Node::Scalar(_) => self.as_string(key, i),
                    _ => Err(self.err(key, i, "string")),
                })
                .collect(),
            Some(n) => Err(self.err(key, n, "[]string")),
        }
    }

    /// A `map[string]string` field; missing or null reads as empty.
    pub fn string_map(
        &self,
        obj: &Node,
        key: &str,
    ) -> Result<IndexMap<String, String>, DecodeError> {
        match obj.get(key) {
            None => Ok(IndexMap::new()),
            Some(n) if n.is_null() => Ok(IndexMap::new()),
            Some(Node::Map(m)) => {
                let mut out = IndexMap::new();
                for (k, v) in m {
                    out.insert(k.clone(), self.as_string(key, v)?);
                }
                Ok(out)
            }
            Some(n) => Err(self.err(key, n, "map[string]string")),
        }
    }

    /// A `bool` field; missing or null reads as false.
    pub fn bool(&self, obj: &Node, key: &str) -> Result<bool, DecodeError> {
        match obj.get(key) {
            None => Ok(false),
            Some(n) if n.is_null() => Ok(false),
            Some(Node::Scalar(s)) if s.tag == Tag::Bool => Ok(parse_bool(&s.value)),
            Some(n) => Err(self.err(key, n, "bool")),
        }
    }

    /// An integer field of Go type `expected` (`int64` or `int`); missing or null reads as 0.
    pub fn int(&self, obj: &Node, key: &str, expected: &'static str) -> Result<i64, DecodeError> {
        match obj.get(key) {
            None => Ok(0),
            Some(n) if n.is_null() => Ok(0),
            Some(Node::Scalar(s)) if s.tag == Tag::Int => {
                parse_int(&s.value).ok_or_else(|| self.err(key, &Node::null(), expected))
            }
            Some(n) => Err(self.err(key, n, expected)),
        }
    }

    /// A nested struct field: `Some(mapping)` when present and a mapping, `None` when missing
    /// or null, an error for any other type.
    pub fn object<'n>(
        &self,
        obj: &'n Node,
        key: &str,
        go_type: &'static str,
    ) -> Result<Option<&'n Node>, DecodeError> {
        match obj.get(key) {
            None => Ok(None),
            Some(n) if n.is_null() => Ok(None),
            Some(n @ Node::Map(_)) => Ok(Some(n)),
            Some(n) => Err(self.err(key, n, go_type)),
        }
    }

    /// The value of list field `key` given directly (not looked up in a mapping): its
    /// elements, each a mapping or null.
    pub fn objects_of<'n>(
        &self,
        list: &'n Node,
        key: &str,
        go_type: &'static str,
    ) -> Result<Vec<&'n Node>, DecodeError> {
        match list {
            n if n.is_null() => Ok(Vec::new()),
            Node::Seq(items) => items
                .iter()
                .map(|i| match i {
                    Node::Map(_) => Ok(i),
                    _ if i.is_null() => Ok(i),
                    _ => Err(self.err(key, i, go_type)),
                })
                .collect(),
            n => Err(self.err(key, n, go_type)),
        }
    }

    /// A list-of-structs field: its elements (each must be a mapping or null).
    pub fn objects<'n>(
        &self,
        obj: &'n Node,
        key: &str,
        go_type: &'static str,
    ) -> Result<Vec<&'n Node>, DecodeError> {
        match obj.get(key) {
            None => Ok(Vec::new()),
            Some(list) => self.objects_of(list, key, go_type),
        }
    }
}

/// go-yaml v3's reading of a `!!bool` scalar.
pub(crate) fn parse_bool(v: &str) -> bool {
    matches!(
        v,
        "true" | "True" | "TRUE" | "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON"
    )
}

/// go-yaml v3's reading of an `!!int` scalar (decimal, `0x`, `0o`, `0b`, leading-zero octal,
/// `_` separators, sign).
pub(crate) fn parse_int(v: &str) -> Option<i64> {
    let cleaned: String = v.chars().filter(|c| *c != '_').collect();
    let (neg, digits) = match cleaned.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, cleaned.strip_prefix('+').unwrap_or(&cleaned)),
    };
    let (radix, body) = if let Some(b) = digits.strip_prefix("0x") {
        (16, b)
    } else if let Some(b) = digits.strip_prefix("0o") {
        (8, b)
    } else if let Some(b) = digits.strip_prefix("0b") {
        (2, b)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    let n = i128::from_str_radix(body, radix).ok()?;
    i64::try_from(if neg { -n } else { n }).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(pairs: &[(&str, Node)]) -> Node {
        let mut n = Node::map();
        for (k, v) in pairs {
            n.as_map_mut().unwrap().insert((*k).into(), v.clone());
        }
        n
    }

    #[test]
    fn wrong_types_name_the_field_like_go() {
        let f = Field::new("ConfigMapArgs", "configMapGenerator");
        let o = obj(&[("name", Node::int(12)), ("literals", Node::string("a=1"))]);
        assert_eq!(
            f.string(&o, "name").unwrap_err().to_string(),
            "json: cannot unmarshal number into Go struct field ConfigMapArgs.configMapGenerator.name of type string"
        );
        assert_eq!(
            f.strings(&o, "literals").unwrap_err().to_string(),
            "json: cannot unmarshal string into Go struct field ConfigMapArgs.configMapGenerator.literals of type []string"
        );
        let o = obj(&[("literals", Node::Seq(vec![Node::int(1)]))]);
        assert_eq!(
            f.strings(&o, "literals").unwrap_err().to_string(),
            "json: cannot unmarshal number into Go struct field ConfigMapArgs.configMapGenerator.literals of type string"
        );
    }

    #[test]
    fn missing_and_null_are_zero_values() {
        let f = Field::new("X", "");
        let o = obj(&[("n", Node::null())]);
        assert_eq!(f.string(&o, "n").unwrap(), "");
        assert_eq!(f.string(&o, "absent").unwrap(), "");
        assert!(!f.bool(&o, "n").unwrap());
        assert_eq!(f.int(&o, "n", "int64").unwrap(), 0);
    }

    #[test]
    fn ints_in_every_base() {
        assert_eq!(parse_int("0x1F"), Some(31));
        assert_eq!(parse_int("0o17"), Some(15));
        assert_eq!(parse_int("017"), Some(15));
        assert_eq!(parse_int("-1_000"), Some(-1000));
        assert_eq!(parse_int("abc"), None);
    }
}
