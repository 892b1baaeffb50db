//! `spec.template.data` rendering: the subset of Go `text/template` + Sprig that templated
//! Secret data uses. The dot is the map of decrypted items (`{{ .user }}`,
//! `{{ index . "a-b" }}`, `{{ .pass | toJson }}`). Supported: text, `{{- -}}` trimming,
//! comments, pipelines, parenthesised pipelines, string/number/bool literals, and the
//! functions listed in [`FUNCTIONS`]. Control actions (`if`, `range`, `with`, variables) are
//! refused with an error rather than mis-rendered.

use indexmap::IndexMap;
use sha2::{Digest, Sha256};

use crate::docs::{decode_base64_go, encode_base64};

/// Functions this renderer implements.
pub const FUNCTIONS: &[&str] = &[
    "index",
    "toJson",
    "quote",
    "squote",
    "b64enc",
    "b64dec",
    "upper",
    "lower",
    "trim",
    "trimPrefix",
    "trimSuffix",
    "trimAll",
    "replace",
    "default",
    "print",
    "printf",
    "println",
    "toString",
    "indent",
    "nindent",
    "sha256sum",
    "cat",
    "len",
];

/// Failures parsing or executing a template.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// The template source is malformed.
    #[error("template: {key}: {message}")]
    Parse {
        /// The data key whose template failed.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// Execution failed (unknown function, wrong arguments).
    #[error("template: {key}: executing: {message}")]
    Exec {
        /// The data key whose template failed.
        key: String,
        /// What is wrong.
        message: String,
    },
}

#[derive(Clone, Debug, PartialEq)]
enum Val {
    Str(String),
    Missing,
    Bool(bool),
    Int(i64),
    Dot,
}

#[derive(Debug, Clone)]
enum Operand {
    Dot,
    Field(String),
    Lit(Val),
    Ident(String),
    Sub(Vec<Vec<Operand>>),
}

/// Renders `source` (the template stored under `key`) against the decrypted items.
pub fn render(
    key: &str,
    source: &str,
    items: &IndexMap<String, Vec<u8>>,
) -> Result<Vec<u8>, TemplateError> {
    let perr = |m: String| TemplateError::Parse {
        key: key.to_string(),
        message: m,
    };
    let mut out = String::new();
    let mut rest = source;
    let mut trim_next = false;
    while let Some(start) = rest.find("{{") {
        let mut text = &rest[..start];
        if trim_next {
            text = text.trim_start();
        }
        let after = &rest[start + 2..];
        let trim_left =
            after.starts_with("- ") || after.starts_with("-\t") || after.starts_with("-\n");
        if trim_left {
            text = text.trim_end();
        }
        out.push_str(text);
        let end = after
            .find("}}")
            .ok_or_else(|| perr("unclosed action".into()))?;
        let mut inner = &after[..end];
        if trim_left {
            inner = &inner[1..];
        }
        trim_next = inner.ends_with(" -") || inner.ends_with("\t-") || inner.ends_with("\n-");
        if trim_next {
            inner = &inner[..inner.len() - 1];
        }
        let inner = inner.trim();
        if !(inner.starts_with("/*") && inner.ends_with("*/")) {
            let tokens = tokenize(inner).map_err(perr)?;
            let (pipeline, used) = parse_pipeline(&tokens, 0).map_err(perr)?;
            if used != tokens.len() {
                return Err(perr(format!("unexpected {:?} in command", tokens[used])));
            }
            let v = eval_pipeline(&pipeline, items).map_err(|m| TemplateError::Exec {
                key: key.to_string(),
                message: m,
            })?;
            out.push_str(&print_val(&v, items));
        }
        rest = &after[end + 2..];
    }
    out.push_str(if trim_next { rest.trim_start() } else { rest });
    Ok(out.into_bytes())
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Dot,
    Field(String),
    Str(String),
    Num(i64),
    Ident(String),
    Pipe,
    Open,
    Close,
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut toks = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '|' => {
                toks.push(Tok::Pipe);
                i += 1;
            }
            '(' => {
                toks.push(Tok::Open);
                i += 1;
            }
            ')' => {
                toks.push(Tok::Close);
                i += 1;
            }
            '.' => {
                let start = i + 1;
                let mut j = start;
                while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                    j += 1;
                }
                if j < chars.len() && chars[j] == '.' && j > start {
                    return Err("nested field access is not supported on secret items".into());
                }
                toks.push(if j == start {
                    Tok::Dot
                } else {
                    Tok::Field(chars[start..j].iter().collect())
                });
                i = j;
            }
            '"' => {
                let mut j = i + 1;
                let mut lit = String::new();
                loop {
                    let Some(&d) = chars.get(j) else {
                        return Err("unterminated quoted string".into());
                    };
                    match d {
                        '"' => break,
                        '\\' => {
                            let e = chars.get(j + 1).ok_or("unterminated quoted string")?;
                            lit.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                'r' => '\r',
                                '\\' => '\\',
                                '"' => '"',
                                other => return Err(format!("unsupported escape \\{other}")),
                            });
                            j += 2;
                        }
                        d => {
                            lit.push(d);
                            j += 1;
                        }
                    }
                }
                toks.push(Tok::Str(lit));
                i = j + 1;
            }
            '`' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&d| d == '`')
                    .ok_or("unterminated raw quoted string")?;
                toks.push(Tok::Str(chars[i + 1..i + 1 + end].iter().collect()));
                i += end + 2;
            }
            '$' => return Err("template variables are not supported".into()),
            c if c.is_ascii_digit() || c == '-' => {
                let mut j = i + 1;
                while j < chars.len() && chars[j].is_ascii_digit() {
                    j += 1;
                }
                let text: String = chars[i..j].iter().collect();
                toks.push(Tok::Num(
                    text.parse().map_err(|_| format!("bad number {text}"))?,
                ));
                i = j;
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut j = i;
                while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                    j += 1;
                }
                toks.push(Tok::Ident(chars[i..j].iter().collect()));
                i = j;
            }
            other => return Err(format!("unexpected {other:?} in command")),
        }
    }
    Ok(toks)
}

fn parse_pipeline(toks: &[Tok], mut i: usize) -> Result<(Vec<Vec<Operand>>, usize), String> {
    let mut cmds = Vec::new();
    let mut cmd = Vec::new();
    while i < toks.len() {
        match &toks[i] {
            Tok::Close => break,
            Tok::Pipe => {
                if cmd.is_empty() {
                    return Err("missing command before |".into());
                }
                cmds.push(std::mem::take(&mut cmd));
            }
            Tok::Open => {
                let (sub, j) = parse_pipeline(toks, i + 1)?;
                if toks.get(j) != Some(&Tok::Close) {
                    return Err("unclosed left paren".into());
                }
                cmd.push(Operand::Sub(sub));
                i = j;
            }
            Tok::Dot => cmd.push(Operand::Dot),
            Tok::Field(f) => cmd.push(Operand::Field(f.clone())),
            Tok::Str(s) => cmd.push(Operand::Lit(Val::Str(s.clone()))),
            Tok::Num(n) => cmd.push(Operand::Lit(Val::Int(*n))),
            Tok::Ident(id) => match id.as_str() {
                "true" => cmd.push(Operand::Lit(Val::Bool(true))),
                "false" => cmd.push(Operand::Lit(Val::Bool(false))),
                "nil" => cmd.push(Operand::Lit(Val::Missing)),
                "if" | "else" | "end" | "range" | "with" | "define" | "template" | "block"
                | "break" | "continue" => {
                    return Err(format!(
                        "the {id:?} action is not supported in sealed secret templates"
                    ))
                }
                _ => cmd.push(Operand::Ident(id.clone())),
            },
        }
        i += 1;
    }
    if cmd.is_empty() {
        return Err("missing value for command".into());
    }
    cmds.push(cmd);
    Ok((cmds, i))
}

fn eval_pipeline(cmds: &[Vec<Operand>], items: &IndexMap<String, Vec<u8>>) -> Result<Val, String> {
    let mut piped: Option<Val> = None;
    for cmd in cmds {
        piped = Some(eval_command(cmd, piped.take(), items)?);
    }
    piped.ok_or_else(|| "empty pipeline".into())
}

fn eval_operand(op: &Operand, items: &IndexMap<String, Vec<u8>>) -> Result<Val, String> {
    Ok(match op {
        Operand::Dot => Val::Dot,
        Operand::Field(f) => lookup(items, f),
        Operand::Lit(v) => v.clone(),
        Operand::Sub(p) => eval_pipeline(p, items)?,
        Operand::Ident(id) => call(id, Vec::new(), items)?,
    })
}

fn lookup(items: &IndexMap<String, Vec<u8>>, key: &str) -> Val {
    items.get(key).map_or(Val::Missing, |v| {
        Val::Str(String::from_utf8_lossy(v).into_owned())
    })
}

fn eval_command(
    cmd: &[Operand],
    piped: Option<Val>,
    items: &IndexMap<String, Vec<u8>>,
) -> Result<Val, String> {
    match &cmd[0] {
        Operand::Ident(id) => {
            let mut args = cmd[1..]
                .iter()
                .map(|o| eval_operand(o, items))
                .collect::<Result<Vec<_>, _>>()?;
            args.extend(piped);
            call(id, args, items)
        }
        op => {
            if cmd.len() > 1 || piped.is_some() {
                return Err(format!("can't give argument to non-function {op:?}"));
            }
            eval_operand(op, items)
        }
    }
}

fn text(v: &Val, items: &IndexMap<String, Vec<u8>>) -> String {
    print_val(v, items)
}

fn print_val(v: &Val, items: &IndexMap<String, Vec<u8>>) -> String {
    match v {
        Val::Str(s) => s.clone(),
        Val::Missing => "<no value>".into(),
        Val::Bool(b) => b.to_string(),
        Val::Int(i) => i.to_string(),
        Val::Dot => {
            let mut keys: Vec<_> = items.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{k}:{}", String::from_utf8_lossy(&items[k.as_str()])))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

fn json_string(s: &str) -> String {
    crate::docs::to_go_json_compact(&serde_json::Value::String(s.to_string()))
}

/// Checks a function's argument count as Go's template engine words it.
fn want(name: &str, got: usize, k: usize) -> Result<(), String> {
    if got == k {
        Ok(())
    } else {
        Err(format!(
            "wrong number of args for {name}: want {k} got {got}"
        ))
    }
}

/// Calls the template function `name` (Go's builtins and the Sprig subset upstream offers).
fn call(name: &str, args: Vec<Val>, items: &IndexMap<String, Vec<u8>>) -> Result<Val, String> {
    let n = args.len();
    let s = |i: usize| text(&args[i], items);
    if let Some(f) = unary_string_fn(name) {
        want(name, n, 1)?;
        return Ok(Val::Str(f(&s(0))));
    }
    if let Some(f) = binary_string_fn(name) {
        want(name, n, 2)?;
        return Ok(Val::Str(f(&s(0), &s(1))));
    }
    if let Some(joined) = join_fn(name, &args, items) {
        return Ok(Val::Str(joined));
    }
    Ok(match name {
        "index" => {
            want(name, n, 2)?;
            if args[0] != Val::Dot {
                return Err("index of non-map".into());
            }
            lookup(items, &s(1))
        }
        "toJson" => {
            want(name, n, 1)?;
            Val::Str(to_json(&args[0], items))
        }
        "replace" => {
            want(name, n, 3)?;
            Val::Str(s(2).replace(&s(0), &s(1)))
        }
        "default" => {
            want(name, n, 2)?;
            let empty = matches!(&args[1], Val::Missing | Val::Bool(false) | Val::Int(0))
                || matches!(&args[1], Val::Str(v) if v.is_empty());
            if empty {
                args[0].clone()
            } else {
                args[1].clone()
            }
        }
        "printf" => {
            if n == 0 {
                return Err("wrong number of args for printf: want at least 1 got 0".into());
            }
            Val::Str(printf(&s(0), &args[1..], items))
        }
        "indent" | "nindent" => {
            want(name, n, 2)?;
            let Val::Int(width) = args[0] else {
                return Err(format!("{name}: width must be a number"));
            };
            Val::Str(indent(name == "nindent", width, &s(1)))
        }
        "len" => {
            want(name, n, 1)?;
            Val::Int(match &args[0] {
                Val::Dot => items.len() as i64,
                other => text(other, items).len() as i64,
            })
        }
        "env" | "expandenv" | "getHostByName" => {
            return Err(format!("function {name:?} not defined"))
        }
        other => return Err(format!("function {other:?} not defined")),
    })
}

/// The functions of one string argument.
fn unary_string_fn(name: &str) -> Option<fn(&str) -> String> {
    let f: fn(&str) -> String = match name {
        "b64enc" => |v| encode_base64(v.as_bytes()),
        "b64dec" => |v| match decode_base64_go(v) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => e.to_string(),
        },
        "upper" => str::to_uppercase,
        "lower" => str::to_lowercase,
        "trim" => |v| v.trim().to_string(),
        "sha256sum" => |v| {
            Sha256::digest(v.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        },
        _ => return None,
    };
    Some(f)
}

/// The functions of two string arguments: what to cut, then the text.
fn binary_string_fn(name: &str) -> Option<fn(&str, &str) -> String> {
    let f: fn(&str, &str) -> String = match name {
        "trimPrefix" => |cut, v| v.strip_prefix(cut).unwrap_or(v).to_string(),
        "trimSuffix" => |cut, v| v.strip_suffix(cut).unwrap_or(v).to_string(),
        "trimAll" => |cut, v| {
            let cut: Vec<char> = cut.chars().collect();
            v.trim_matches(|c| cut.contains(&c)).to_string()
        },
        _ => return None,
    };
    Some(f)
}

/// The functions that join their arguments' texts, whatever their number.
fn join_fn(name: &str, args: &[Val], items: &IndexMap<String, Vec<u8>>) -> Option<String> {
    let present = || args.iter().filter(|a| **a != Val::Missing);
    let joined =
        |args: &mut dyn Iterator<Item = String>, sep: &str| args.collect::<Vec<_>>().join(sep);
    Some(match name {
        "quote" => joined(&mut present().map(|a| format!("{:?}", text(a, items))), " "),
        "squote" => joined(&mut present().map(|a| format!("'{}'", text(a, items))), " "),
        "cat" => joined(&mut present().map(|a| text(a, items)), " "),
        "print" | "toString" => joined(&mut args.iter().map(|a| text(a, items)), ""),
        "println" => format!(
            "{}\n",
            joined(&mut args.iter().map(|a| text(a, items)), " ")
        ),
        _ => return None,
    })
}

/// `toJson`: the value as compact JSON with Go's escaping (`.` is the map of items).
fn to_json(v: &Val, items: &IndexMap<String, Vec<u8>>) -> String {
    match v {
        Val::Missing => "null".into(),
        Val::Bool(b) => b.to_string(),
        Val::Int(i) => i.to_string(),
        Val::Dot => {
            let m: serde_json::Map<String, serde_json::Value> = items
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        serde_json::Value::String(String::from_utf8_lossy(v).into()),
                    )
                })
                .collect();
            crate::docs::to_go_json_compact(&serde_json::Value::Object(m))
        }
        Val::Str(v) => json_string(v),
    }
}

/// `indent`/`nindent`: every line of `text` indented by `width` spaces (`nindent` starts
/// with a newline).
fn indent(newline_first: bool, width: i64, text: &str) -> String {
    let pad = " ".repeat(usize::try_from(width).unwrap_or(0));
    let body = text
        .split('\n')
        .map(|l| format!("{pad}{l}"))
        .collect::<Vec<_>>()
        .join("\n");
    if newline_first {
        format!("\n{body}")
    } else {
        body
    }
}

fn printf(format: &str, args: &[Val], items: &IndexMap<String, Vec<u8>>) -> String {
    let mut out = String::new();
    let mut it = format.chars().peekable();
    let mut next = 0;
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('%') => out.push('%'),
            Some(verb) => {
                let arg = args.get(next);
                next += 1;
                match (verb, arg) {
                    (_, None) => out.push_str(&format!("%!{verb}(MISSING)")),
                    ('q', Some(a)) => out.push_str(&format!("{:?}", text(a, items))),
                    (_, Some(a)) => out.push_str(&text(a, items)),
                }
            }
            None => out.push_str("%!(NOVERB)"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items() -> IndexMap<String, Vec<u8>> {
        let mut m = IndexMap::new();
        m.insert("user".to_string(), b"admin".to_vec());
        m.insert("pass".to_string(), b"p\"w<1>".to_vec());
        m.insert("a-b".to_string(), b"dash".to_vec());
        m
    }

    fn r(src: &str) -> String {
        String::from_utf8(render("k", src, &items()).unwrap()).unwrap()
    }

    #[test]
    fn upstream_vector_template() {
        assert_eq!(
            r(r#"{"user": {{ toJson .user }}, "pass": {{ .pass | toJson }}}"#),
            r#"{"user": "admin", "pass": "p\"w\u003c1\u003e"}"#
        );
        assert_eq!(r("u={{ .user }}"), "u=admin");
    }

    #[test]
    fn functions_and_trimming() {
        assert_eq!(r(r#"{{ index . "a-b" }}"#), "dash");
        assert_eq!(r("{{ .missing }}"), "<no value>");
        assert_eq!(r("a  {{- .user -}}  b"), "aadminb");
        assert_eq!(r("{{ .user | upper | quote }}"), "\"ADMIN\"");
        assert_eq!(
            r(r#"{{ printf "%s:%s" .user (.pass | b64enc) }}"#),
            "admin:cCJ3PDE+"
        );
        assert_eq!(r(r#"{{ .nope | default "x" }}"#), "x");
        assert_eq!(r("{{/* comment */}}z"), "z");
    }

    #[test]
    fn refusals() {
        assert!(matches!(
            render("k", "{{ if .user }}x{{ end }}", &items()),
            Err(TemplateError::Parse { .. })
        ));
        assert!(matches!(
            render("k", "{{ env \"HOME\" }}", &items()),
            Err(TemplateError::Exec { .. })
        ));
        assert!(matches!(
            render("k", "{{ .user ", &items()),
            Err(TemplateError::Parse { .. })
        ));
    }
}
