//! ESO's template engine v2 (`spec.target.template` with `engineVersion: v2`): a subset of Go's
//! `text/template`, written for fjord, with the sprig functions ESO users rely on most.
//!
//! - **Syntax**: text and `{{ }}` actions, trim markers `{{- ` and ` -}}`, comments `{{/* */}}`,
//!   pipelines (`|`), `.`, `.key` (chained `.a.b`), `$`, variables (`$x := …`, `$x = …`),
//!   literals (`"…"` with Go escapes, raw `` `…` ``, `'c'`, numbers, `true`, `false`, `nil`),
//!   parenthesized pipelines with field access (`(fromJson .config).host`), `if`/`else if`/
//!   `else`/`end`, `range` (lists, maps sorted by key, integers; `$k, $v :=`; `else`; `break`,
//!   `continue`), `with`/`else with`. Truthiness is Go's. `define`, `template` and `block` are
//!   refused when parsing.
//! - **Context**: `.` is the flat map of fetched keys to values, strings of bytes as in Go:
//!   values that are not UTF-8 pass through unchanged ([`render_map`] returns bytes; `b64enc`,
//!   `b64dec`, `len`, `index`, `%x`, `quote` see the bytes; [`render`] replaces invalid UTF-8
//!   with U+FFFD). It runs with `missingkey=error`: `.nokey` is an error naming
//!   the key. `index . "my-key"` returns `""` for a missing key, as in Go.
//! - **Functions**: exactly [`FUNCTIONS`]. Any other name is refused when parsing, with
//!   [`TemplateError::UnknownFunction`].
//! - **Limits**: output and every intermediate string are limited to [`MAX_OUTPUT_BYTES`]; actions
//!   and parentheses nest at most [`MAX_DEPTH`] deep, values at most [`MAX_VALUE_DEPTH`]; a
//!   template executes at most [`MAX_STEPS`] steps (actions, commands, range iterations, and
//!   the elements `list` and `dict` take in).
//!
//! No error carries a value from the context: messages name the template, the position, the key
//! or function, and types.

use std::collections::BTreeMap;

mod exec;
mod funcs;
mod lex;
mod parse;
mod printf;
mod val;

#[cfg(test)]
mod syntax_tests;
#[cfg(test)]
mod tests;

/// The most bytes one template may produce (and the longest string it may build on the way).
pub const MAX_OUTPUT_BYTES: usize = 1 << 20;
/// The deepest nesting of control structures (`if`, `range`, `with`) and parentheses.
pub const MAX_DEPTH: usize = 64;
/// The deepest nesting of lists and maps built with `list` and `dict` (`fromJson` stops at
/// 128 levels).
pub const MAX_VALUE_DEPTH: usize = 200;
/// The most execution steps (actions, commands, range iterations) one template may take.
pub const MAX_STEPS: usize = 1_000_000;

/// The supported function names: Go's builtins and the sprig functions fjord implements, with
/// sprig's argument order (the piped value comes last), e.g. `replace "old" "new" .s`.
///
/// - Go builtins: `and`, `or`, `not`, `len`, `index`, `print`, `printf` (verbs `%s %v %d %q %t
///   %f %x %X %%`, flags `-`, `0`, width and precision), `println`, `eq`, `ne`, `lt`, `le`,
///   `gt`, `ge`;
/// - encoding: `b64enc`, `b64dec` (sprig: an invalid input renders Go's error text),
///   `toJson`, `toPrettyJson`, `fromJson` (a map or list usable with `index`, `range` and fields;
///   numbers are float64 as in Go; invalid JSON gives nil), `toString`;
/// - strings: `upper`, `lower`, `title`, `trim`, `trimAll`, `trimPrefix`, `trimSuffix`,
///   `replace`, `quote`, `squote`, `contains`, `hasPrefix`, `hasSuffix`, `split` (a map `_0`,
///   `_1`, …), `splitList`, `join`, `indent`, `nindent`, `cat`, `nospace`;
/// - lists and maps: `list`, `dict`, `get`, `hasKey` (on `fromJson`/`dict` maps);
/// - defaults: `default`, `empty`, `coalesce`, `ternary`.
pub const FUNCTIONS: &[&str] = &[
    "and",
    "b64dec",
    "b64enc",
    "cat",
    "coalesce",
    "contains",
    "default",
    "dict",
    "empty",
    "eq",
    "fromJson",
    "ge",
    "get",
    "gt",
    "hasKey",
    "hasPrefix",
    "hasSuffix",
    "indent",
    "index",
    "join",
    "le",
    "len",
    "list",
    "lower",
    "lt",
    "ne",
    "nindent",
    "nospace",
    "not",
    "or",
    "print",
    "printf",
    "println",
    "quote",
    "replace",
    "split",
    "splitList",
    "squote",
    "ternary",
    "title",
    "toJson",
    "toPrettyJson",
    "toString",
    "trim",
    "trimAll",
    "trimPrefix",
    "trimSuffix",
    "upper",
];

/// A template that fjord cannot parse or execute. `key` is the template's field path (for
/// [`render_map`], [`render`] and [`check`]: `data.<key>`; for [`render_at`] and [`check_at`]
/// the path given). No variant holds a value from the context.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The template text does not parse.
    #[error("template {key}: line {line}, column {col}: {reason}")]
    Parse {
        /// The template's field path, e.g. `data.tls.crt`.
        key: String,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column (in characters) of the error.
        col: usize,
        /// What is wrong.
        reason: String,
    },
    /// The template calls a function fjord does not implement.
    #[error(
        "template {key}: function {name:?} is not supported by fjord (supported: {})",
        FUNCTIONS.join(", ")
    )]
    UnknownFunction {
        /// The template's field path, e.g. `data.tls.crt`.
        key: String,
        /// The function's name as written.
        name: String,
        /// 1-based line of the call.
        line: usize,
        /// 1-based column of the call.
        col: usize,
    },
    /// Executing the template failed (a missing key, a wrong type, a limit).
    #[error("template {key}: line {line}, column {col}: {reason}")]
    Exec {
        /// The template's field path, e.g. `data.tls.crt`.
        key: String,
        /// 1-based line of the failing action.
        line: usize,
        /// 1-based column of the failing action.
        col: usize,
        /// What failed (never a value).
        reason: String,
    },
}

/// A failure inside the engine, at a byte offset of the template text.
#[derive(Debug)]
pub(crate) enum Failure {
    Parse { at: usize, reason: String },
    Unknown { at: usize, name: String },
    Exec { at: usize, reason: String },
}

impl Failure {
    fn into_error(self, key: &str, text: &str) -> TemplateError {
        let key = key.to_string();
        match self {
            Failure::Parse { at, reason } => {
                let (line, col) = line_col(text, at);
                TemplateError::Parse {
                    key,
                    line,
                    col,
                    reason,
                }
            }
            Failure::Unknown { at, name } => {
                let (line, col) = line_col(text, at);
                TemplateError::UnknownFunction {
                    key,
                    name,
                    line,
                    col,
                }
            }
            Failure::Exec { at, reason } => {
                let (line, col) = line_col(text, at);
                TemplateError::Exec {
                    key,
                    line,
                    col,
                    reason,
                }
            }
        }
    }
}

/// The 1-based line and column (in characters) of byte offset `at` in `text`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Renders every template in `templates` (key → template text) with context `ctx` (fetched key →
/// value bytes; strings in templates). Returns key → rendered bytes. Every template is parsed
/// before any is executed.
pub fn render_map(
    templates: &BTreeMap<String, String>,
    ctx: &BTreeMap<String, Vec<u8>>,
) -> Result<BTreeMap<String, Vec<u8>>, TemplateError> {
    let mut parsed = Vec::with_capacity(templates.len());
    for (key, text) in templates {
        let path = format!("data.{key}");
        let tree = parse::parse(text).map_err(|f| f.into_error(&path, text))?;
        parsed.push((key, path, text, tree));
    }
    let root = val::context(ctx);
    let mut out = BTreeMap::new();
    for (key, path, text, tree) in parsed {
        let rendered = exec::execute(&tree, &root).map_err(|f| f.into_error(&path, text))?;
        out.insert(key.clone(), val::to_bytes(&rendered));
    }
    Ok(out)
}

/// The field path of template `name`: `data.<name>`, except that names starting with
/// `metadata.labels.` or `metadata.annotations.` are already paths (the template's metadata).
fn field_path(name: &str) -> String {
    if name.starts_with("metadata.labels.") || name.starts_with("metadata.annotations.") {
        name.to_string()
    } else {
        format!("data.{name}")
    }
}

/// Renders one template, the one at `template.data.<name>` (errors say `data.<name>`; a name
/// `metadata.labels.<k>` or `metadata.annotations.<k>` is the path itself), as UTF-8 text
/// (for labels and annotations; bytes that are not UTF-8 become U+FFFD).
pub fn render(
    name: &str,
    text: &str,
    ctx: &BTreeMap<String, Vec<u8>>,
) -> Result<String, TemplateError> {
    render_at(&field_path(name), text, ctx)
}

/// Renders one template found at field path `path` (used verbatim in errors, e.g.
/// `metadata.labels.app`).
pub fn render_at(
    path: &str,
    text: &str,
    ctx: &BTreeMap<String, Vec<u8>>,
) -> Result<String, TemplateError> {
    let tree = parse::parse(text).map_err(|f| f.into_error(path, text))?;
    let rendered =
        exec::execute(&tree, &val::context(ctx)).map_err(|f| f.into_error(path, text))?;
    Ok(val::lossy(&rendered))
}

/// Parses the template at `template.data.<name>` without running it (errors say
/// `data.<name>`, or the name itself for `metadata.labels.<k>` and `metadata.annotations.<k>`):
/// syntax, variables and function names.
pub fn check(name: &str, text: &str) -> Result<(), TemplateError> {
    check_at(&field_path(name), text)
}

/// Parses the template found at field path `path` without running it.
pub fn check_at(path: &str, text: &str) -> Result<(), TemplateError> {
    parse::parse(text)
        .map(|_| ())
        .map_err(|f| f.into_error(path, text))
}
