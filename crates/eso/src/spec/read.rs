//! A small typed reader over `serde_json` objects that names the field path in every error.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::SpecError;

/// Builds a [`SpecError`].
pub(crate) fn err(field: impl Into<String>, reason: impl Into<String>) -> SpecError {
    SpecError {
        field: field.into(),
        reason: reason.into(),
    }
}

/// A JSON object together with its field path (`spec.data[1].remoteRef`).
#[derive(Clone)]
pub(crate) struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

/// The name of a JSON value's type, for "must be a string" style messages.
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

/// Whether a value counts as "set" (fields fjord refuses may be present but empty).
fn is_set(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Number(_) => true,
    }
}

/// Joins a path and a key.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl<'a> Obj<'a> {
    /// `v` as an object at `path`.
    pub(crate) fn new(v: &'a Value, path: impl Into<String>) -> Result<Obj<'a>, SpecError> {
        let path = path.into();
        match v {
            Value::Object(map) => Ok(Obj { map, path }),
            other => Err(err(
                path,
                format!("must be an object, not {}", type_name(other)),
            )),
        }
    }

    /// The field path of `key` inside this object.
    pub(crate) fn field(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// This object's path.
    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    /// The raw value of `key` (`null` counts as absent).
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// The object's keys.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &'a str> {
        self.map.keys().map(String::as_str)
    }

    /// Whether `key` is present and non-empty.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.map.get(key).is_some_and(is_set)
    }

    /// Refuses any key not in `known`.
    pub(crate) fn only(&self, known: &[&str]) -> Result<(), SpecError> {
        match self.map.keys().find(|k| !known.contains(&k.as_str())) {
            Some(k) => Err(err(self.field(k), "unknown field")),
            None => Ok(()),
        }
    }

    /// Refuses every key of `unsupported` that is set: ESO fields fjord does not implement.
    pub(crate) fn refuse(&self, unsupported: &[&str]) -> Result<(), SpecError> {
        match unsupported.iter().find(|k| self.has(k)) {
            Some(k) => Err(err(self.field(k), "not supported by fjord")),
            None => Ok(()),
        }
    }

    /// An optional object field.
    pub(crate) fn obj(&self, key: &str) -> Result<Option<Obj<'a>>, SpecError> {
        self.get(key)
            .map(|v| Obj::new(v, self.field(key)))
            .transpose()
    }

    /// A required object field.
    pub(crate) fn req_obj(&self, key: &str) -> Result<Obj<'a>, SpecError> {
        self.obj(key)?
            .ok_or_else(|| err(self.field(key), "is required"))
    }

    /// An optional list of objects, each with its indexed path (`data[1]`).
    pub(crate) fn items(&self, key: &str) -> Result<Vec<Obj<'a>>, SpecError> {
        let field = self.field(key);
        self.list(key)?
            .iter()
            .enumerate()
            .map(|(i, v)| Obj::new(v, format!("{field}[{i}]")))
            .collect()
    }

    /// An optional string field (an empty string counts as absent).
    pub(crate) fn str(&self, key: &str) -> Result<Option<&'a str>, SpecError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(err(
                self.field(key),
                format!("must be a string, not {}", type_name(other)),
            )),
        }
    }

    /// A required, non-empty string field.
    pub(crate) fn req_str(&self, key: &str) -> Result<&'a str, SpecError> {
        self.str(key)?
            .ok_or_else(|| err(self.field(key), "is required"))
    }

    /// An optional string field with a default.
    pub(crate) fn str_or(&self, key: &str, default: &str) -> Result<String, SpecError> {
        Ok(self.str(key)?.unwrap_or(default).to_string())
    }

    /// An optional boolean field.
    pub(crate) fn bool(&self, key: &str) -> Result<bool, SpecError> {
        match self.get(key) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(err(
                self.field(key),
                format!("must be a boolean, not {}", type_name(other)),
            )),
        }
    }

    /// An optional integer field.
    pub(crate) fn int(&self, key: &str) -> Result<Option<i64>, SpecError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| err(self.field(key), "must be an integer")),
            Some(other) => Err(err(
                self.field(key),
                format!("must be an integer, not {}", type_name(other)),
            )),
        }
    }

    /// An optional list field (absent: empty).
    pub(crate) fn list(&self, key: &str) -> Result<&'a [Value], SpecError> {
        match self.get(key) {
            None => Ok(&[]),
            Some(Value::Array(a)) => Ok(a),
            Some(other) => Err(err(
                self.field(key),
                format!("must be a list, not {}", type_name(other)),
            )),
        }
    }

    /// An optional list of strings.
    pub(crate) fn strings(&self, key: &str) -> Result<Vec<String>, SpecError> {
        let list = self.list(key)?;
        list.iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s.clone()),
                other => Err(err(
                    format!("{}[{i}]", self.field(key)),
                    format!("must be a string, not {}", type_name(other)),
                )),
            })
            .collect()
    }

    /// An optional map of strings (labels, annotations, template data).
    pub(crate) fn string_map(&self, key: &str) -> Result<BTreeMap<String, String>, SpecError> {
        let Some(v) = self.get(key) else {
            return Ok(BTreeMap::new());
        };
        let path = self.field(key);
        let Value::Object(map) = v else {
            return Err(err(
                path,
                format!("must be an object, not {}", type_name(v)),
            ));
        };
        map.iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                other => Err(err(
                    join(&path, k),
                    format!("must be a string, not {}", type_name(other)),
                )),
            })
            .collect()
    }

    /// An optional enum field: `table` maps its spellings to values; absent or empty: `default`.
    pub(crate) fn enumeration<T: Copy>(
        &self,
        key: &str,
        table: &[(&str, T)],
        default: T,
    ) -> Result<T, SpecError> {
        let Some(s) = self.str(key)? else {
            return Ok(default);
        };
        table
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                let names: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
                err(
                    self.field(key),
                    format!("unknown value {s:?} (one of {})", names.join(", ")),
                )
            })
    }
}
