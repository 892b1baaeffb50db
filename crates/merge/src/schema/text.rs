//! The parser of fjord's compact schema text format (documented at the top of
//! `data/builtin-schema.txt`).

use super::{FieldInfo, ListType, PatchStrategy, Schema, TypeId};
use fjord_model::Gvk;
use std::collections::HashSet;

/// Why a schema text could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TextError {
    /// A statement is malformed.
    #[error("line {line}: {message}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A type is used but never declared with `type`.
    #[error("type {name} is used but not declared")]
    UndeclaredType {
        /// The type's name.
        name: String,
    },
    /// `like=` names a type not declared before it.
    #[error("line {line}: like={name} names a type not declared above")]
    UnknownLike {
        /// 1-based line number.
        line: usize,
        /// The missing type.
        name: String,
    },
}

/// Names of scalar shapes: fields of these types have no struct type.
const SCALARS: &[&str] = &[
    "string", "int", "bool", "number", "quantity", "intstr", "time", "any",
];

/// Parses `text` into `schema`.
pub(super) fn parse_into(schema: &mut Schema, text: &str) -> Result<(), TextError> {
    let mut current: Option<TypeId> = None;
    let mut declared: HashSet<String> = HashSet::new();
    let mut used: Vec<String> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let content = raw.split('#').next().unwrap_or_default().trim();
        if content.is_empty() {
            continue;
        }
        let words: Vec<&str> = content.split_whitespace().collect();
        let syntax = |message: &str| TextError::Syntax {
            line,
            message: message.to_string(),
        };
        match words[0] {
            "kind" => {
                let [_, api_version, kind, ty, rest @ ..] = words.as_slice() else {
                    return Err(syntax("expected `kind <apiVersion> <Kind> <Type>`"));
                };
                let mut since = 0;
                for attr in rest {
                    since = parse_since(attr).ok_or_else(|| syntax("unknown kind attribute"))?;
                }
                let id = schema.intern(ty);
                used.push((*ty).to_string());
                schema.set_root(Gvk::from_api_version(api_version, kind), id, since);
            }
            "type" => {
                let Some(name) = words.get(1) else {
                    return Err(syntax("expected `type <Name>`"));
                };
                if !declared.insert((*name).to_string()) {
                    return Err(syntax("type declared twice"));
                }
                let id = schema.intern(name);
                for attr in &words[2..] {
                    if *attr == "atomic" {
                        schema.def_mut(id).atomic = true;
                    } else if let Some(other) = attr.strip_prefix("like=") {
                        let src = schema
                            .type_named(other)
                            .filter(|_| declared.contains(other))
                            .ok_or_else(|| TextError::UnknownLike {
                                line,
                                name: other.into(),
                            })?;
                        let fields = schema.def_mut(src).fields.clone();
                        schema.def_mut(id).fields.extend(fields);
                    } else {
                        return Err(syntax("unknown type attribute"));
                    }
                }
                current = Some(id);
            }
            field => {
                let Some(owner) = current else {
                    return Err(syntax("field outside a `type`"));
                };
                let Some(shape) = words.get(1) else {
                    return Err(syntax("expected `<field> <shape>`"));
                };
                let info = parse_field(schema, shape, &words[2..], &mut used)
                    .map_err(|m| TextError::Syntax { line, message: m })?;
                schema.def_mut(owner).fields.insert(field.to_string(), info);
            }
        }
    }
    if let Some(name) = used.into_iter().find(|n| !declared.contains(n)) {
        return Err(TextError::UndeclaredType { name });
    }
    Ok(())
}

/// `since=1.N` → N.
fn parse_since(attr: &str) -> Option<u16> {
    attr.strip_prefix("since=1.")?.parse().ok()
}

/// Parses a field's shape and attributes.
fn parse_field(
    schema: &mut Schema,
    shape: &str,
    attrs: &[&str],
    used: &mut Vec<String>,
) -> Result<FieldInfo, String> {
    let mut info = FieldInfo::default();
    if let Some(elem) = shape.strip_prefix("[]") {
        info.is_list = true;
        info.ty = type_of(schema, elem, used)?;
    } else if let Some(value) = shape.strip_prefix("{}") {
        let value_ty = type_of(schema, value, used)?;
        let map_name = format!("{{}}{value}");
        let id = schema.intern(&map_name);
        schema.def_mut(id).additional = Some(FieldInfo {
            ty: value_ty,
            ..FieldInfo::default()
        });
        info.ty = Some(id);
    } else {
        info.ty = type_of(schema, shape, used)?;
    }
    let mut keys: Vec<String> = Vec::new();
    let mut defaults: Vec<(String, String)> = Vec::new();
    let mut list_kind = "atomic";
    for attr in attrs {
        let (k, v) = attr.split_once('=').unwrap_or((attr, ""));
        match k {
            "smp" => {
                info.smp.strategy =
                    PatchStrategy::parse(v).ok_or_else(|| format!("bad patch strategy {v:?}"))?;
            }
            "key" => info.smp.merge_key = Some(v.to_string()),
            "list" => list_kind = v,
            "keys" => keys = v.split(',').map(str::to_string).collect(),
            "defaults" => {
                for pair in v.split(',') {
                    let (dk, dv) = pair
                        .split_once(':')
                        .ok_or_else(|| format!("bad default {pair:?}"))?;
                    defaults.push((dk.to_string(), dv.to_string()));
                }
            }
            "atomic" => info.map_atomic = true,
            "since" => info.since = parse_since(attr).ok_or_else(|| format!("bad {attr:?}"))?,
            _ => return Err(format!("unknown field attribute {attr:?}")),
        }
    }
    info.list = match list_kind {
        "atomic" => ListType::Atomic,
        "set" => ListType::Set,
        "map" if !keys.is_empty() => ListType::Map { keys, defaults },
        "map" => return Err("list=map needs keys=".into()),
        other => return Err(format!("unknown list type {other:?}")),
    };
    let list_only =
        info.list != ListType::Atomic || info.smp.merge_key.is_some() || info.smp.strategy.merges();
    if !info.is_list && list_only {
        return Err("list attributes on a field that is not a list".into());
    }
    Ok(info)
}

/// The struct type named `name`, or `None` for a scalar shape.
fn type_of(
    schema: &mut Schema,
    name: &str,
    used: &mut Vec<String>,
) -> Result<Option<TypeId>, String> {
    if SCALARS.contains(&name) {
        return Ok(None);
    }
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(format!("bad type name {name:?}"));
    }
    used.push(name.to_string());
    Ok(Some(schema.intern(name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_small_table() {
        let s = Schema::from_text(
            "kind example.com/v1 Foo Foo\n\
             type Foo\n  items []Item smp=merge key=id list=map keys=id,zone defaults=zone:a\n  \
             tags {}string atomic\ntype Item atomic\n",
        )
        .unwrap();
        let foo = s.root(&Gvk::new("example.com", "v1", "Foo")).unwrap();
        let items = s.field(foo, "items").unwrap();
        assert_eq!(items.smp.merge_key.as_deref(), Some("id"));
        assert!(matches!(&items.list, ListType::Map { defaults, .. } if defaults[0].1 == "a"));
        assert!(s.field(foo, "tags").unwrap().map_atomic);
        assert!(s.field(foo, "missing").is_none());
    }

    #[test]
    fn reports_undeclared_types_and_bad_attributes() {
        assert_eq!(
            Schema::from_text("type A\n  b B\n").unwrap_err(),
            TextError::UndeclaredType { name: "B".into() }
        );
        let e = Schema::from_text("type A\n  b []string list=weird\n").unwrap_err();
        assert!(matches!(e, TextError::Syntax { line: 2, .. }), "{e}");
        let e = Schema::from_text("  b string\n").unwrap_err();
        assert!(matches!(e, TextError::Syntax { line: 1, .. }));
        let e = Schema::from_text("type A like=Z\n").unwrap_err();
        assert!(matches!(e, TextError::UnknownLike { line: 1, .. }));
    }
}
