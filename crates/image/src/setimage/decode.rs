//! A parsed kustomization decoded into its typed shape as Go's `encoding/json` decodes the
//! JSON that `sigs.k8s.io/yaml` makes of the YAML: object keys in sorted order (the JSON comes
//! from a Go map), field names matched exactly and then case-insensitively, unknown fields
//! refused, `null` a no-op for scalars and nil for slices/maps/pointers, and the first error
//! reported with `encoding/json`'s wording.

use fjord_yaml::{Node, Tag};
use serde_json::{Map as JsonMap, Value};

use super::schema::{go_name, zero, zero_struct, StructTy, Ty};

/// Where the decoder is, for messages: the innermost struct and the JSON path from the root.
#[derive(Clone)]
struct Ctx {
    strukt: &'static str,
    path: Vec<String>,
}

impl Ctx {
    fn type_error(&self, what: &str, ty: &Ty) -> String {
        if self.path.is_empty() {
            return format!(
                "json: cannot unmarshal {what} into Go value of type {}",
                go_name(ty)
            );
        }
        format!(
            "json: cannot unmarshal {what} into Go struct field {}.{} of type {}",
            self.strukt,
            self.path.join("."),
            go_name(ty)
        )
    }
}

/// Decodes a whole document into the Kustomization struct (`Err` holds the `json: …` text).
pub(super) fn decode_kustomization(root: &Node, ty: &'static Ty) -> Result<Value, String> {
    let ctx = Ctx {
        strukt: "",
        path: Vec::new(),
    };
    decode(root, ty, zero(ty), &ctx)
}

/// What `encoding/json` calls a JSON value's kind in a type error.
fn kind(n: &Node) -> &'static str {
    match n {
        Node::Map(_) => "object",
        Node::Seq(_) => "array",
        Node::Scalar(s) => match s.tag {
            Tag::Null => "null",
            Tag::Bool => "bool",
            Tag::Int | Tag::Float => "number",
            Tag::Str | Tag::Timestamp | Tag::Binary => "string",
        },
    }
}

/// A scalar's value as a JSON value, with go-yaml v2's typing where it matters: a
/// timestamp-looking plain scalar stays the text it was written as.
fn scalar_json(n: &Node) -> Value {
    match n {
        Node::Scalar(s) if matches!(s.tag, Tag::Str | Tag::Timestamp | Tag::Binary) => {
            Value::String(s.value.clone())
        }
        _ => fjord_yaml::to_json_value(n).unwrap_or(Value::Null),
    }
}

fn decode(n: &Node, ty: &Ty, cur: Value, ctx: &Ctx) -> Result<Value, String> {
    if n.is_null() {
        return Ok(match ty {
            Ty::Str | Ty::Bool | Ty::Int(_) | Ty::Struct(_) => cur,
            _ => Value::Null,
        });
    }
    match ty {
        Ty::Str => match n {
            Node::Scalar(_) if kind(n) == "string" => Ok(scalar_json(n)),
            _ => Err(ctx.type_error(kind(n), ty)),
        },
        Ty::Bool => match n {
            Node::Scalar(s) if s.tag == Tag::Bool => Ok(scalar_json(n)),
            _ => Err(ctx.type_error(kind(n), ty)),
        },
        Ty::Int(_) => decode_int(n, ty, ctx),
        Ty::Any => Ok(any_json(n)),
        Ty::List(inner) => match n {
            Node::Seq(items) => items
                .iter()
                .map(|i| decode(i, inner, zero(inner), ctx))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            _ => Err(ctx.type_error(kind(n), ty)),
        },
        Ty::Map(inner) => match n {
            Node::Map(m) => {
                let mut out = match cur {
                    Value::Object(o) => o,
                    _ => JsonMap::new(),
                };
                for (k, v) in sorted(m) {
                    let value = decode(v, inner, zero(inner), ctx)?;
                    out.insert(k.clone(), value);
                }
                Ok(Value::Object(out))
            }
            _ => Err(ctx.type_error(kind(n), ty)),
        },
        Ty::Ptr(inner) => {
            let base = if cur.is_null() { zero(inner) } else { cur };
            decode(n, inner, base, ctx)
        }
        Ty::Struct(s) => decode_struct(n, s, ty, cur, ctx),
    }
}

fn decode_int(n: &Node, ty: &Ty, ctx: &Ctx) -> Result<Value, String> {
    if kind(n) != "number" {
        return Err(ctx.type_error(kind(n), ty));
    }
    let v = scalar_json(n);
    match &v {
        Value::Number(num) if num.as_i64().is_some() => Ok(v),
        Value::Number(num) => Err(ctx.type_error(&format!("number {num}"), ty)),
        _ => Err(ctx.type_error("number", ty)),
    }
}

/// Any value (`interface{}`), as JSON.
fn any_json(n: &Node) -> Value {
    match n {
        Node::Scalar(_) => scalar_json(n),
        Node::Seq(items) => Value::Array(items.iter().map(any_json).collect()),
        Node::Map(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), any_json(v))).collect()),
    }
}

fn sorted(m: &fjord_yaml::Map) -> Vec<(&String, &Node)> {
    let mut entries: Vec<(&String, &Node)> = m.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

fn decode_struct(
    n: &Node,
    s: &'static StructTy,
    ty: &Ty,
    cur: Value,
    ctx: &Ctx,
) -> Result<Value, String> {
    let Node::Map(m) = n else {
        return Err(ctx.type_error(kind(n), ty));
    };
    let mut out = match cur {
        Value::Object(o) => o,
        _ => match zero_struct(s) {
            Value::Object(o) => o,
            _ => JsonMap::new(),
        },
    };
    for (key, value) in sorted(m) {
        let field = s
            .fields
            .iter()
            .find(|f| f.json == key.as_str())
            .or_else(|| s.fields.iter().find(|f| f.json.eq_ignore_ascii_case(key)));
        let Some(field) = field else {
            return Err(format!("json: unknown field {}", go_quote(key)));
        };
        let mut inner = ctx.clone();
        inner.strukt = s.name;
        inner.path.push(field.json.to_string());
        let old = out.remove(field.json).unwrap_or_else(|| zero(field.ty));
        let new = decode(value, field.ty, old, &inner)?;
        out.insert(field.json.to_string(), new);
    }
    // Keep declaration order (decoding may have reinserted fields at the end).
    let mut ordered = JsonMap::with_capacity(s.fields.len());
    for field in s.fields {
        let v = out.remove(field.json).unwrap_or_else(|| zero(field.ty));
        ordered.insert(field.json.to_string(), v);
    }
    Ok(Value::Object(ordered))
}

/// Go's `%q` of a string, close enough for field names.
fn go_quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}
