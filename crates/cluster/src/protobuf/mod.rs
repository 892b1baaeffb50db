//! Decoding of Kubernetes protobuf request bodies: the `k8s\0` envelope (`runtime.Unknown`:
//! typeMeta, raw, contentEncoding, contentType) around a built-in object, decoded by hand from
//! the wire format into the JSON object the rest of the server uses.
//!
//! The Go encoder writes every non-pointer field, zero values included; those are dropped unless
//! the field table marks them as kept (pointer or non-omitempty fields), which matches the JSON
//! a client would have sent.

mod delete_options;
mod schema;

pub use delete_options::decode_delete_options;

use base64::Engine as _;
use serde_json::{Map, Value};

use schema::{Field, Msg, Ty};

/// Failures decoding a protobuf body.
#[derive(Debug, thiserror::Error)]
pub enum ProtobufError {
    /// The body lacks the `k8s\0` magic prefix.
    #[error("protobuf body lacks the k8s envelope magic")]
    Magic,
    /// The wire data ended inside a field or carried a bad tag.
    #[error("malformed protobuf data in {context}: {why}")]
    Wire {
        /// The message or field being decoded.
        context: String,
        /// What was wrong.
        why: &'static str,
    },
    /// A string field was not UTF-8.
    #[error("protobuf field {context} is not valid UTF-8")]
    Utf8 {
        /// The field.
        context: String,
    },
    /// The envelope named a kind this server cannot decode from protobuf.
    #[error("no protobuf decoder for {api_version}, Kind={kind}; send application/json")]
    UnknownKind {
        /// Envelope apiVersion.
        api_version: String,
        /// Envelope kind.
        kind: String,
    },
    /// The envelope carries an encoded (compressed) payload.
    #[error("unsupported protobuf content encoding {0:?}")]
    Encoding(String),
}

/// A cursor over protobuf wire data.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    context: &'a str,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], context: &'a str) -> Reader<'a> {
        Reader {
            buf,
            pos: 0,
            context,
        }
    }

    fn err(&self, why: &'static str) -> ProtobufError {
        ProtobufError::Wire {
            context: self.context.to_string(),
            why,
        }
    }

    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn varint(&mut self) -> Result<u64, ProtobufError> {
        let mut v: u64 = 0;
        for shift in (0..70).step_by(7) {
            let b = *self
                .buf
                .get(self.pos)
                .ok_or_else(|| self.err("truncated varint"))?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(self.err("varint longer than 10 bytes"))
    }

    fn bytes(&mut self) -> Result<&'a [u8], ProtobufError> {
        let len = usize::try_from(self.varint()?).map_err(|_| self.err("length overflow"))?;
        let end = self
            .pos
            .checked_add(len)
            .filter(|e| *e <= self.buf.len())
            .ok_or_else(|| self.err("length past the end"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// The next (field number, wire type).
    fn tag(&mut self) -> Result<(u32, u8), ProtobufError> {
        let t = self.varint()?;
        let num = u32::try_from(t >> 3).map_err(|_| self.err("field number overflow"))?;
        Ok((num, (t & 7) as u8))
    }

    fn skip(&mut self, wire: u8) -> Result<(), ProtobufError> {
        let n = match wire {
            0 => return self.varint().map(|_| ()),
            1 => 8,
            2 => return self.bytes().map(|_| ()),
            5 => 4,
            _ => return Err(self.err("unsupported wire type")),
        };
        if self.pos + n > self.buf.len() {
            return Err(self.err("truncated fixed field"));
        }
        self.pos += n;
        Ok(())
    }
}

fn utf8(b: &[u8], context: &str) -> Result<String, ProtobufError> {
    String::from_utf8(b.to_vec()).map_err(|_| ProtobufError::Utf8 {
        context: context.to_string(),
    })
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_i64() == Some(0),
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
    }
}

/// Decodes a map entry (key = 1, value = 2).
fn map_entry(data: &[u8], ty: Ty, context: &str) -> Result<(String, Value), ProtobufError> {
    let mut r = Reader::new(data, context);
    let (mut key, mut value) = (String::new(), None);
    while !r.done() {
        let (num, wire) = r.tag()?;
        match (num, wire) {
            (1, 2) => key = utf8(r.bytes()?, context)?,
            (2, 2) => {
                let b = r.bytes()?;
                value = Some(match ty {
                    Ty::MapBytes => {
                        Value::String(base64::engine::general_purpose::STANDARD.encode(b))
                    }
                    Ty::MapQuantity => quantity(b, context)?,
                    _ => Value::String(utf8(b, context)?),
                });
            }
            (_, w) => r.skip(w)?,
        }
    }
    Ok((key, value.unwrap_or_else(|| Value::String(String::new()))))
}

fn quantity(data: &[u8], context: &str) -> Result<Value, ProtobufError> {
    let mut r = Reader::new(data, context);
    let mut s = String::new();
    while !r.done() {
        match r.tag()? {
            (1, 2) => s = utf8(r.bytes()?, context)?,
            (_, w) => r.skip(w)?,
        }
    }
    Ok(Value::String(s))
}

fn int_or_string(data: &[u8], context: &str) -> Result<Value, ProtobufError> {
    let mut r = Reader::new(data, context);
    let (mut ty, mut int, mut text) = (0u64, 0i64, String::new());
    while !r.done() {
        match r.tag()? {
            (1, 0) => ty = r.varint()?,
            (2, 0) => int = i64::from(r.varint()? as i32),
            (3, 2) => text = utf8(r.bytes()?, context)?,
            (_, w) => r.skip(w)?,
        }
    }
    Ok(if ty == 1 {
        Value::String(text)
    } else {
        Value::from(int)
    })
}

fn time(data: &[u8], context: &str) -> Result<Value, ProtobufError> {
    let mut r = Reader::new(data, context);
    let mut secs = 0i64;
    while !r.done() {
        match r.tag()? {
            (1, 0) => secs = r.varint()? as i64,
            (_, w) => r.skip(w)?,
        }
    }
    if secs == 0 {
        return Ok(Value::Null);
    }
    Ok(chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| Value::String(t.format("%Y-%m-%dT%H:%M:%SZ").to_string()))
        .unwrap_or(Value::Null))
}

/// Decodes one field payload.
fn field_value(r: &mut Reader<'_>, field: &Field, wire: u8) -> Result<Value, ProtobufError> {
    let ctx = field.name;
    match (field.ty, wire) {
        (Ty::Int, 0) => Ok(Value::from(r.varint()? as i64)),
        (Ty::Bool, 0) => Ok(Value::Bool(r.varint()? != 0)),
        (Ty::Str, 2) => Ok(Value::String(utf8(r.bytes()?, ctx)?)),
        (Ty::Msg(m), 2) => message(r.bytes()?, m, ctx).map(Value::Object),
        (Ty::IntOrString, 2) => int_or_string(r.bytes()?, ctx),
        (Ty::Time, 2) => time(r.bytes()?, ctx),
        _ => Err(ProtobufError::Wire {
            context: ctx.to_string(),
            why: "wire type does not match the field",
        }),
    }
}

/// Decodes a message into a JSON object using its field table.
fn message(data: &[u8], msg: &Msg, context: &str) -> Result<Map<String, Value>, ProtobufError> {
    let mut r = Reader::new(data, context);
    let mut out = Map::new();
    while !r.done() {
        let (num, wire) = r.tag()?;
        let Some(field) = msg.0.iter().find(|f| f.num == num) else {
            r.skip(wire)?;
            continue;
        };
        match field.ty {
            Ty::MapStr | Ty::MapBytes | Ty::MapQuantity if wire == 2 => {
                let (k, v) = map_entry(r.bytes()?, field.ty, field.name)?;
                let entry = out
                    .entry(field.name)
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(m) = entry {
                    m.insert(k, v);
                }
            }
            _ if field.rep => {
                let v = field_value(&mut r, field, wire)?;
                let entry = out
                    .entry(field.name)
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(a) = entry {
                    a.push(v);
                }
            }
            _ => {
                let v = field_value(&mut r, field, wire)?;
                if field.name.is_empty() {
                    if let Value::Object(inner) = v {
                        out.extend(inner);
                    }
                } else if field.keep || !is_zero(&v) {
                    out.insert(field.name.to_string(), v);
                } else {
                    out.remove(field.name);
                }
            }
        }
    }
    Ok(out)
}

/// The parsed `runtime.Unknown` envelope.
struct Envelope<'a> {
    api_version: String,
    kind: String,
    raw: &'a [u8],
    encoding: String,
}

fn envelope(data: &[u8]) -> Result<Envelope<'_>, ProtobufError> {
    let mut r = Reader::new(data, "runtime.Unknown");
    let mut env = Envelope {
        api_version: String::new(),
        kind: String::new(),
        raw: &[],
        encoding: String::new(),
    };
    while !r.done() {
        match r.tag()? {
            (1, 2) => {
                let mut t = Reader::new(r.bytes()?, "typeMeta");
                while !t.done() {
                    match t.tag()? {
                        (1, 2) => env.api_version = utf8(t.bytes()?, "typeMeta.apiVersion")?,
                        (2, 2) => env.kind = utf8(t.bytes()?, "typeMeta.kind")?,
                        (_, w) => t.skip(w)?,
                    }
                }
            }
            (2, 2) => env.raw = r.bytes()?,
            (3, 2) => env.encoding = utf8(r.bytes()?, "contentEncoding")?,
            (_, w) => r.skip(w)?,
        }
    }
    Ok(env)
}

/// Decodes a protobuf-encoded object into its JSON form (`apiVersion` and `kind` from the
/// envelope).
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    let data = body.strip_prefix(b"k8s\0").ok_or(ProtobufError::Magic)?;
    let env = envelope(data)?;
    if !env.encoding.is_empty() {
        return Err(ProtobufError::Encoding(env.encoding));
    }
    let msg =
        schema::object(&env.api_version, &env.kind).ok_or_else(|| ProtobufError::UnknownKind {
            api_version: env.api_version.clone(),
            kind: env.kind.clone(),
        })?;
    let mut obj = Map::new();
    obj.insert("apiVersion".into(), Value::String(env.api_version));
    obj.insert("kind".into(), Value::String(env.kind.clone()));
    obj.extend(message(env.raw, msg, &env.kind)?);
    Ok(Value::Object(obj))
}

#[cfg(test)]
mod tests;
