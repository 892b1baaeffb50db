//! `vars:` and `$(VAR)` substitution.
//!
//! As kustomize v5.5 does it: each kustomization's vars are merged into the build's
//! build's vars after its resources and generators are accumulated ([`bind`]);
//! there each var is bound to the object its `objref` names (exact group/version/kind and
//! name, matched against current and earlier ids; namespace compared only when given).
//! A child kustomization's vars are added with [`merge`]; a name seen twice is an
//! error. At the end of the top-level build [`resolve`] reads each var's
//! `fieldref.fieldpath` (default `metadata.name`) from its object and substitutes `$(NAME)`
//! in the var-reference fields: a field that is exactly `$(NAME)` takes the value's type,
//! otherwise the value is spliced in as text; `$$` escapes `$`; unknown names and vars
//! whose value is a mapping or list are left as written.

use crate::fieldspec::{split_path, walk, FieldSpec};
use crate::generate::decode::{parse_bool, parse_int, DecodeError, Field};
use crate::replacements::split_field_path;
use crate::resource::{ResMap, Resource};
use fjord_model::{Gvk, ResId};
use fjord_yaml::{Node, Tag};

/// Why merging or resolving vars failed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum VarError {
    /// A `vars:` entry has a field of the wrong type.
    #[error(transparent)]
    Decode(DecodeError),
    /// A var name is defined twice (here or in a base).
    #[error("merging vars [{list}]: var '{name}' already encountered")]
    Duplicate {
        /// The kustomization's vars, as kustomize prints them.
        list: String,
        /// The repeated name.
        name: String,
    },
    /// A base's var collides with one already merged.
    #[error("var '{name}' already encountered")]
    DuplicateFromBase {
        /// The repeated name.
        name: String,
    },
    /// The objref matches several objects.
    #[error("found {count} resId matches for var {var} (unable to disambiguate)")]
    Ambiguous {
        /// How many.
        count: usize,
        /// The var.
        var: String,
    },
    /// No object was bound to the var.
    #[error("var '{0}' cannot be mapped to a field in the set of known resources")]
    Unmapped(String),
    /// The bound object lacks the field.
    #[error("field specified in var '{0}' not found in corresponding resource")]
    FieldMissing(String),
    /// A var-reference list holds a non-string.
    #[error("invalid value type expect a string")]
    NonStringItem,
}

/// `objref:` of a var, resolved once: kustomize's `Target` (its embedded GVK, an optional
/// `apiVersion` that overrides group and version, name and namespace).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjRef {
    /// The GVK objects must have: `apiVersion` split, when set, else `group`/`version`.
    pub gvk: Gvk,
    /// The GVK as written in `group`/`version`/`kind` (kustomize prints this one for the var
    /// as written, even when `apiVersion` decides what matches).
    pub written: Gvk,
    /// `name:`.
    pub name: String,
    /// `namespace:`.
    pub namespace: String,
}

impl ObjRef {
    /// Parses an `objref:` mapping.
    fn parse(objref: &Node) -> Result<ObjRef, DecodeError> {
        let o = Field::new("Target", "vars.objref");
        let api_version = o.string(objref, "apiVersion")?;
        let written = Gvk::new(
            &o.string(objref, "group")?,
            &o.string(objref, "version")?,
            &o.string(objref, "kind")?,
        );
        Ok(ObjRef {
            gvk: if api_version.is_empty() {
                written.clone()
            } else {
                Gvk::from_api_version(&api_version, &written.kind)
            },
            written,
            name: o.string(objref, "name")?,
            namespace: o.string(objref, "namespace")?,
        })
    }
}

/// One `vars:` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Var {
    /// `name:`.
    pub name: String,
    /// `objref:`.
    pub objref: ObjRef,
    /// `fieldref.fieldpath:` as written (empty means `metadata.name`).
    pub fieldpath: String,
    /// The id (at binding time) of the object the objref matched; set by [`bind`].
    pub bound: Option<ResId>,
    /// Whether [`bind`] ran for this var (an unbound var that was never bound is matched
    /// against the final objects by [`resolve`] instead).
    pub bind_attempted: bool,
}

impl Var {
    /// Parses one `vars:` entry.
    pub fn parse(node: &Node) -> Result<Var, VarError> {
        let dec = VarError::Decode;
        let f = Field::new("Var", "vars");
        let empty = Node::map();
        let objref = f
            .object(node, "objref", "types.Target")
            .map_err(dec)?
            .unwrap_or(&empty);
        let fieldref = f
            .object(node, "fieldref", "types.FieldSelector")
            .map_err(dec)?
            .unwrap_or(&empty);
        Ok(Var {
            name: f.string(node, "name").map_err(dec)?,
            objref: ObjRef::parse(objref).map_err(dec)?,
            fieldpath: Field::new("FieldSelector", "vars.fieldref")
                .string(fieldref, "fieldpath")
                .map_err(dec)?,
            bound: None,
            bind_attempted: false,
        })
    }

    /// kustomize's `%v` of the var as written: `{NAME Kind.version.group {fieldpath}}`.
    fn raw_string(&self) -> String {
        format!(
            "{{{} {} {{{}}}}}",
            self.name,
            self.objref.written.dotted(),
            self.fieldpath
        )
    }

    /// The same after defaulting (apiVersion folded in, fieldpath defaulted).
    fn defaulted_string(&self) -> String {
        format!(
            "{{{} {} {{{}}}}}",
            self.name,
            self.objref.gvk.dotted(),
            self.path()
        )
    }

    fn path(&self) -> &str {
        if self.fieldpath.is_empty() {
            "metadata.name"
        } else {
            &self.fieldpath
        }
    }
}

fn ids_of(r: &Resource) -> impl Iterator<Item = ResId> + '_ {
    std::iter::once(r.id()).chain(r.prev_ids.iter().cloned())
}

fn eff_ns(s: &str) -> &str {
    if s.is_empty() {
        "default"
    } else {
        s
    }
}

/// The objects whose current or earlier id the var's objref names (exact GVK and name;
/// namespace compared only when the objref gives one).
fn matching<'r>(v: &Var, res: &'r ResMap) -> Vec<&'r Resource> {
    let want = &v.objref.gvk;
    res.iter()
        .filter(|r| {
            ids_of(r).any(|id| {
                id.gvk == *want
                    && id.name == v.objref.name
                    && (v.objref.namespace.is_empty()
                        || eff_ns(&id.namespace) == eff_ns(&v.objref.namespace))
            })
        })
        .collect()
}

/// Reads a kustomization's `vars:` list.
pub fn parse_list(list: &Node) -> Result<Vec<Var>, VarError> {
    Field::new("Kustomization", "")
        .objects_of(list, "vars", "types.Var")
        .map_err(VarError::Decode)?
        .into_iter()
        .map(Var::parse)
        .collect()
}

/// Binds a kustomization's own `vars:` to the objects accumulated so far (its resources,
/// bases and generated objects) and appends them to the build's `vars`. A name already
/// present is an error, as is an objref matching several objects.
pub fn bind(vars: &mut Vec<Var>, incoming: &[Var], res: &ResMap) -> Result<(), VarError> {
    let mut bound = Vec::new();
    for v in incoming {
        let matched = matching(v, res);
        if matched.len() > 1 {
            return Err(VarError::Ambiguous {
                count: matched.len(),
                var: v.raw_string(),
            });
        }
        let mut b = v.clone();
        b.bound = matched.first().map(|r| r.id());
        b.bind_attempted = true;
        bound.push(b);
    }
    for b in bound {
        if vars.iter().any(|x| x.name == b.name) {
            let list: Vec<String> = incoming.iter().map(Var::raw_string).collect();
            return Err(VarError::Duplicate {
                list: list.join(" "),
                name: b.name,
            });
        }
        vars.push(b);
    }
    Ok(())
}

/// Adds the vars of a base (a child kustomization's collected vars) to `vars`.
pub fn merge(vars: &mut Vec<Var>, child: Vec<Var>) -> Result<(), VarError> {
    for b in child {
        if vars.iter().any(|x| x.name == b.name) {
            return Err(VarError::DuplicateFromBase { name: b.name });
        }
        vars.push(b);
    }
    Ok(())
}

/// Substitutes `$(NAME)` in the fields named by `specs` (the var-reference field specs) of
/// every object, at the end of the top-level build. Returns the names of vars that were
/// never substituted (kustomize logs them as "well-defined vars that were never replaced").
pub fn resolve(
    res: &mut ResMap,
    vars: &[Var],
    specs: &[FieldSpec],
) -> Result<Vec<String>, VarError> {
    let mut sorted: Vec<&Var> = vars.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut values: Vec<(String, Value)> = Vec::new();
    for v in sorted {
        let target = match (&v.bound, v.bind_attempted) {
            (Some(t), _) => res.iter().find(|r| r.id() == *t || r.prev_ids.contains(t)),
            (None, true) => None,
            (None, false) => {
                let matched = matching(v, res);
                if matched.len() > 1 {
                    return Err(VarError::Ambiguous {
                        count: matched.len(),
                        var: v.raw_string(),
                    });
                }
                matched.first().copied()
            }
        };
        let r = target.ok_or_else(|| VarError::Unmapped(v.defaulted_string()))?;
        let segs = slice_indexes(&split_field_path(v.path()));
        let node = crate::replacements::lookup(&r.obj, &segs)
            .ok_or_else(|| VarError::FieldMissing(v.defaulted_string()))?;
        values.push((v.name.clone(), Value::of(node)));
    }
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let mut used = vec![false; values.len()];
    for r in res.iter_mut() {
        let gvk = Gvk::of(&r.obj);
        for fs in specs.iter().filter(|s| s.selects(&gvk)) {
            walk(&mut r.obj, &split_path(&fs.path), None, &mut |n| {
                substitute(n, &values, &mut used)
            })?;
        }
    }
    Ok(values
        .iter()
        .zip(used)
        .filter(|(_, u)| !u)
        .map(|((n, _), _)| n.clone())
        .collect())
}

/// kyaml's `convertSliceIndex`: `a[0]` becomes `a`, `0`.
fn slice_indexes(segs: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for s in segs {
        if let Some((head, idx)) = s.strip_suffix(']').and_then(|x| x.rsplit_once('[')) {
            if !idx.is_empty() && idx.bytes().all(|b| b.is_ascii_digit()) {
                if !head.is_empty() {
                    out.push(head.to_string());
                }
                out.push(idx.to_string());
                continue;
            }
        }
        out.push(s.clone());
    }
    out
}

/// A var's value with the type kustomize gives it.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A mapping or list: never substituted.
    Bad,
}

impl Value {
    fn of(n: &Node) -> Value {
        match n {
            Node::Scalar(s) => match s.tag {
                Tag::Int => parse_int(&s.value)
                    .map(Value::Int)
                    .unwrap_or(Value::Str(s.value.clone())),
                Tag::Float => s
                    .value
                    .parse()
                    .map(Value::Float)
                    .unwrap_or(Value::Str(s.value.clone())),
                Tag::Bool => Value::Bool(parse_bool(&s.value)),
                _ => Value::Str(s.value.clone()),
            },
            _ => Value::Bad,
        }
    }

    /// Go's `%v`.
    fn text(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => format!("{f}"),
            Value::Bool(b) => b.to_string(),
            Value::Bad => String::new(),
        }
    }

    fn node(&self) -> Node {
        match self {
            Value::Str(s) => Node::string(s),
            Value::Int(i) => Node::int(*i),
            Value::Float(f) => Node::scalar(format!("{f}"), Tag::Float),
            Value::Bool(b) => Node::bool(*b),
            Value::Bad => Node::null(),
        }
    }
}

/// Substitutes in one var-reference field: a string, every string value of a mapping, or
/// every item of a list (which must all be strings).
fn substitute(n: &mut Node, values: &[(String, Value)], used: &mut [bool]) -> Result<(), VarError> {
    let is_str = |n: &Node| matches!(n, Node::Scalar(s) if s.tag == Tag::Str);
    match n {
        Node::Scalar(_) if is_str(n) => expand_node(n, values, used),
        Node::Scalar(_) => {}
        Node::Map(m) => {
            for v in m.values_mut().filter(|v| is_str(v)) {
                expand_node(v, values, used);
            }
        }
        Node::Seq(items) => {
            for it in items.iter_mut() {
                if !is_str(it) {
                    return Err(VarError::NonStringItem);
                }
                expand_node(it, values, used);
            }
        }
    }
    Ok(())
}

fn expand_node(n: &mut Node, values: &[(String, Value)], used: &mut [bool]) {
    let Some(text) = n.as_str().map(str::to_string) else {
        return;
    };
    let mut lookup = |name: &str| -> Option<Value> {
        let i = values
            .iter()
            .position(|(k, v)| k == name && *v != Value::Bad)?;
        used[i] = true;
        Some(values[i].1.clone())
    };
    if let Some(name) = text.strip_prefix("$(").and_then(|t| t.strip_suffix(')')) {
        if !name.contains(')') {
            if let Some(v) = lookup(name) {
                *n = v.node();
            }
            return;
        }
    }
    let expanded = expand(&text, &mut |name| lookup(name).map(|v| v.text()));
    if expanded != text {
        *n = Node::string(expanded);
    }
}

/// The Kubernetes `$(VAR)` expansion: `$$` gives `$`; `$(NAME)` is looked up (unknown names
/// are kept as written); an unterminated `$(` is kept.
pub fn expand(input: &str, mapping: &mut dyn FnMut(&str) -> Option<String>) -> String {
    let b = input.as_bytes();
    let mut out = String::new();
    let mut checkpoint = 0;
    let mut cursor = 0;
    while cursor < b.len() {
        if b[cursor] == b'$' && cursor + 1 < b.len() {
            out.push_str(&input[checkpoint..cursor]);
            let rest = &input[cursor + 1..];
            let advance = match rest.as_bytes()[0] {
                b'$' => {
                    out.push('$');
                    1
                }
                b'(' => match rest.find(')') {
                    Some(end) => {
                        let name = &rest[1..end];
                        match mapping(name) {
                            Some(v) => out.push_str(&v),
                            None => out.push_str(&format!("$({name})")),
                        }
                        end + 1
                    }
                    None => {
                        out.push_str("$(");
                        1
                    }
                },
                _ => {
                    let c = rest.chars().next().unwrap_or_default();
                    out.push('$');
                    out.push(c);
                    c.len_utf8()
                }
            };
            cursor += advance;
            checkpoint = cursor + 1;
        }
        cursor += 1;
    }
    if checkpoint < input.len() {
        out.push_str(&input[checkpoint..]);
    }
    out
}

#[cfg(test)]
mod tests;
