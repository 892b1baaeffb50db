//! The parser: tokens → a tree, checking syntax, variables and function names as Go's
//! `text/template/parse` does.

use super::lex::{lex, Item, Tok};
use super::val::Value;
use super::{Failure, FUNCTIONS, MAX_DEPTH};

/// A node of the template tree.
#[derive(Debug)]
pub(crate) enum Node {
    /// Text and where it starts.
    Text(usize, String),
    /// `{{ pipeline }}` at a byte offset.
    Action(Pipe),
    If(Branch),
    With(Branch),
    Range(Branch),
    Break,
    Continue,
}

/// `if`, `with` or `range`: the pipeline, the body and the `else` body.
#[derive(Debug)]
pub(crate) struct Branch {
    pub(crate) pipe: Pipe,
    pub(crate) list: Vec<Node>,
    pub(crate) else_list: Vec<Node>,
}

/// A pipeline: optional variable declarations (`:=`) or assignment (`=`), and commands.
#[derive(Debug)]
pub(crate) struct Pipe {
    pub(crate) at: usize,
    pub(crate) decl: Vec<String>,
    pub(crate) assign: bool,
    pub(crate) cmds: Vec<Cmd>,
}

/// A command: a function and its arguments, or one operand.
#[derive(Debug)]
pub(crate) struct Cmd {
    pub(crate) at: usize,
    pub(crate) args: Vec<Arg>,
}

/// An operand and where it is.
#[derive(Debug)]
pub(crate) struct Arg {
    pub(crate) at: usize,
    pub(crate) kind: ArgKind,
}

/// The kinds of operands.
#[derive(Debug)]
pub(crate) enum ArgKind {
    Dot,
    Nil,
    Lit(Value),
    Func(String),
    /// Fields of `.`.
    Field(Vec<String>),
    /// A variable and the fields read from it.
    Var(String, Vec<String>),
    /// A parenthesized pipeline and the fields read from its value.
    Sub(Box<Pipe>, Vec<String>),
}

/// How a list of nodes ended.
enum Stop {
    Eof,
    End(usize),
    Else(usize),
}

/// Keywords that cannot be operands.
const KEYWORDS: &[&str] = &[
    "if", "else", "end", "range", "with", "define", "template", "block", "break", "continue",
];

struct Parser {
    items: Vec<Item>,
    next: usize,
    vars: Vec<String>,
    depth: usize,
    ranges: usize,
}

fn fail(at: usize, reason: impl Into<String>) -> Failure {
    Failure::Parse {
        at,
        reason: reason.into(),
    }
}

/// Parses a template.
pub(crate) fn parse(src: &str) -> Result<Vec<Node>, Failure> {
    let items = lex(src)?;
    let mut p = Parser {
        items,
        next: 0,
        vars: vec!["$".to_string()],
        depth: 0,
        ranges: 0,
    };
    let (list, end) = p.list()?;
    match end {
        Stop::Eof => Ok(list),
        Stop::End(at) => Err(fail(at, "unexpected {{end}}")),
        Stop::Else(at) => Err(fail(at, "unexpected {{else}}")),
    }
}

impl Parser {
    fn peek(&self) -> Option<&Item> {
        self.items.get(self.next)
    }

    fn prev_at(&self) -> usize {
        self.items
            .get(self.next.saturating_sub(1))
            .map_or(0, |i| i.at)
    }

    fn take(&mut self) -> Option<Item> {
        let item = self.items.get(self.next).cloned();
        self.next += 1;
        item
    }

    fn expect_close(&mut self, what: &str) -> Result<(), Failure> {
        match self.take() {
            Some(Item {
                tok: Tok::Close, ..
            }) => Ok(()),
            Some(item) => Err(fail(
                item.at,
                format!("unexpected {} in {what}", describe(&item.tok)),
            )),
            None => Err(fail(self.prev_at(), format!("unclosed {what}"))),
        }
    }

    /// Nodes up to `{{end}}`, `{{else}}` or the end of the text.
    fn list(&mut self) -> Result<(Vec<Node>, Stop), Failure> {
        let mut nodes = Vec::new();
        while let Some(item) = self.take() {
            match item.tok {
                Tok::Text(t) => nodes.push(Node::Text(item.at, t)),
                Tok::Open => {
                    if let Some(end) = self.action(&mut nodes)? {
                        return Ok((nodes, end));
                    }
                }
                other => return Err(fail(item.at, format!("unexpected {}", describe(&other)))),
            }
        }
        Ok((nodes, Stop::Eof))
    }

    /// An action after `{{`: pushes its node, or returns how the enclosing list ends.
    fn action(&mut self, nodes: &mut Vec<Node>) -> Result<Option<Stop>, Failure> {
        let (at, word) = match self.peek() {
            Some(Item {
                tok: Tok::Ident(w),
                at,
                ..
            }) => (*at, w.clone()),
            _ => {
                let pipe = self.pipeline("command", false)?;
                self.expect_close("command")?;
                nodes.push(Node::Action(pipe));
                return Ok(None);
            }
        };
        match word.as_str() {
            "end" | "else" => {
                self.next += 1;
                if word == "end" {
                    self.expect_close("end")?;
                    return Ok(Some(Stop::End(at)));
                }
                return Ok(Some(Stop::Else(at)));
            }
            "if" | "with" | "range" => {
                self.next += 1;
                let node = self.control(&word, at)?;
                nodes.push(node);
            }
            "break" | "continue" => {
                self.next += 1;
                if self.ranges == 0 {
                    return Err(fail(at, format!("{{{{{word}}}}} outside {{{{range}}}}")));
                }
                self.expect_close(&word)?;
                nodes.push(if word == "break" {
                    Node::Break
                } else {
                    Node::Continue
                });
            }
            "define" | "template" | "block" => {
                return Err(fail(
                    at,
                    format!("{{{{{word}}}}} is not supported by fjord"),
                ));
            }
            _ => {
                let pipe = self.pipeline("command", false)?;
                self.expect_close("command")?;
                nodes.push(Node::Action(pipe));
            }
        }
        Ok(None)
    }

    /// `if`, `with` or `range` after its keyword, up to and including its `{{end}}`.
    fn control(&mut self, word: &str, at: usize) -> Result<Node, Failure> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(fail(at, format!("nesting deeper than {MAX_DEPTH}")));
        }
        let mark = self.vars.len();
        let is_range = word == "range";
        let pipe = self.pipeline(word, is_range)?;
        self.expect_close(word)?;
        self.ranges += usize::from(is_range);
        let (list, end) = self.list()?;
        self.ranges -= usize::from(is_range);
        let else_list = match end {
            Stop::Eof => {
                return Err(fail(
                    at,
                    format!("unclosed {{{{{word}}}}}: missing {{{{end}}}}"),
                ))
            }
            Stop::End(_) => Vec::new(),
            Stop::Else(else_at) => self.else_list(word, else_at)?,
        };
        self.vars.truncate(mark);
        self.depth -= 1;
        let branch = Branch {
            pipe,
            list,
            else_list,
        };
        Ok(match word {
            "if" => Node::If(branch),
            "with" => Node::With(branch),
            _ => Node::Range(branch),
        })
    }

    /// After `{{else`: `{{else}} … {{end}}`, or `{{else if …}}` / `{{else with …}}` chains.
    fn else_list(&mut self, word: &str, else_at: usize) -> Result<Vec<Node>, Failure> {
        if let Some(Item {
            tok: Tok::Ident(w),
            at,
            ..
        }) = self.peek()
        {
            if (w == "if" || w == "with") && w == word {
                let at = *at;
                self.next += 1;
                return Ok(vec![self.control(word, at)?]);
            }
        }
        self.expect_close("else")?;
        let (list, end) = self.list()?;
        match end {
            Stop::End(_) => Ok(list),
            Stop::Else(at) => Err(fail(at, "expected {{end}}; found {{else}}")),
            Stop::Eof => Err(fail(
                else_at,
                format!("unclosed {{{{{word}}}}}: missing {{{{end}}}}"),
            )),
        }
    }

    /// A pipeline, ending before `}}` or `)`.
    fn pipeline(&mut self, context: &str, is_range: bool) -> Result<Pipe, Failure> {
        let at = self.peek().map_or(self.prev_at(), |i| i.at);
        let (decl, assign) = self.declarations(is_range)?;
        let mut cmds = Vec::new();
        loop {
            match self.peek().map(|i| &i.tok) {
                Some(Tok::Close | Tok::RParen) | None => break,
                Some(Tok::Pipe) if !cmds.is_empty() => self.next += 1,
                _ if !cmds.is_empty() => {
                    let at = self.peek().map_or(at, |i| i.at);
                    return Err(fail(at, "expected | or end of pipeline"));
                }
                _ => {}
            }
            cmds.push(self.command()?);
        }
        if cmds.is_empty() {
            return Err(fail(at, format!("missing value for {context}")));
        }
        for (i, cmd) in cmds.iter().enumerate().skip(1) {
            if let Some(ArgKind::Dot | ArgKind::Nil | ArgKind::Lit(_)) =
                cmd.args.first().map(|a| &a.kind)
            {
                return Err(fail(
                    cmd.at,
                    format!("non executable command in pipeline stage {}", i + 1),
                ));
            }
        }
        if !assign {
            self.vars.extend(decl.iter().cloned());
        }
        Ok(Pipe {
            at,
            decl,
            assign,
            cmds,
        })
    }

    /// `$x :=`, `$x =`, or (in `range`) `$k, $v :=` at the start of a pipeline.
    fn declarations(&mut self, is_range: bool) -> Result<(Vec<String>, bool), Failure> {
        let toks: Vec<&Tok> = self.items[self.next..]
            .iter()
            .take(4)
            .map(|i| &i.tok)
            .collect();
        let (names, assign, used) = match toks.as_slice() {
            [Tok::Var(a), Tok::Declare, ..] => (vec![a.clone()], false, 2),
            [Tok::Var(a), Tok::Assign, ..] => (vec![a.clone()], true, 2),
            [Tok::Var(a), Tok::Comma, Tok::Var(b), Tok::Declare | Tok::Assign] if is_range => (
                vec![a.clone(), b.clone()],
                matches!(toks[3], Tok::Assign),
                4,
            ),
            [Tok::Var(_), Tok::Comma, ..] => {
                return Err(fail(self.items[self.next].at, "too many declarations"));
            }
            _ => return Ok((Vec::new(), false)),
        };
        if assign {
            for name in &names {
                if !self.vars.contains(name) {
                    return Err(fail(
                        self.items[self.next].at,
                        format!("undefined variable {name:?}"),
                    ));
                }
            }
        }
        self.next += used;
        Ok((names, assign))
    }

    /// One command: operands separated by spaces.
    fn command(&mut self) -> Result<Cmd, Failure> {
        let at = self.peek().map_or(self.prev_at(), |i| i.at);
        let mut args = Vec::new();
        while let Some(item) = self.peek() {
            if matches!(item.tok, Tok::Close | Tok::RParen | Tok::Pipe) {
                break;
            }
            if !args.is_empty() && !item.space {
                return Err(fail(item.at, "missing space?"));
            }
            args.push(self.operand()?);
        }
        if args.is_empty() {
            return Err(fail(at, "empty command"));
        }
        Ok(Cmd { at, args })
    }

    /// A term and the fields chained onto it.
    fn operand(&mut self) -> Result<Arg, Failure> {
        let mut arg = self.term()?;
        while let Some(Item {
            tok: Tok::Field(names),
            space: false,
            at,
        }) = self.peek()
        {
            let (names, at) = (names.clone(), *at);
            self.next += 1;
            match &mut arg.kind {
                ArgKind::Field(chain) | ArgKind::Var(_, chain) | ArgKind::Sub(_, chain) => {
                    chain.extend(names);
                }
                ArgKind::Dot => arg.kind = ArgKind::Field(names),
                _ => return Err(fail(at, "unexpected . after term")),
            }
        }
        Ok(arg)
    }

    fn term(&mut self) -> Result<Arg, Failure> {
        let Some(item) = self.take() else {
            return Err(fail(self.prev_at(), "unexpected end of template"));
        };
        let at = item.at;
        let kind = match item.tok {
            Tok::Ident(name) if KEYWORDS.contains(&name.as_str()) => {
                return Err(fail(at, format!("unexpected {name:?} in operand")));
            }
            Tok::Ident(name) if FUNCTIONS.contains(&name.as_str()) => ArgKind::Func(name),
            Tok::Ident(name) => return Err(Failure::Unknown { at, name }),
            Tok::Dot => ArgKind::Dot,
            Tok::Nil => ArgKind::Nil,
            Tok::Bool(b) => ArgKind::Lit(Value::Bool(b)),
            Tok::Str(s) => ArgKind::Lit(Value::str(s)),
            Tok::Char(c) => ArgKind::Lit(Value::Int(i64::from(u32::from(c)))),
            Tok::Number(n) => {
                ArgKind::Lit(number(&n).ok_or_else(|| fail(at, "bad number syntax"))?)
            }
            Tok::Field(names) => ArgKind::Field(names),
            Tok::Var(name) if self.vars.contains(&name) => ArgKind::Var(name, Vec::new()),
            Tok::Var(name) => return Err(fail(at, format!("undefined variable {name:?}"))),
            Tok::LParen => self.parenthesized(at)?,
            other => {
                return Err(fail(
                    at,
                    format!("unexpected {} in operand", describe(&other)),
                ))
            }
        };
        Ok(Arg { at, kind })
    }

    fn parenthesized(&mut self, at: usize) -> Result<ArgKind, Failure> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(fail(at, format!("nesting deeper than {MAX_DEPTH}")));
        }
        let pipe = self.pipeline("parenthesized pipeline", false)?;
        match self.take() {
            Some(Item {
                tok: Tok::RParen, ..
            }) => {}
            _ => return Err(fail(at, "unclosed left paren")),
        }
        self.depth -= 1;
        Ok(ArgKind::Sub(Box::new(pipe), Vec::new()))
    }
}

/// A number constant: an int (decimal, `0x`, `0o`, `0b`, leading-`0` octal) or a float.
fn number(text: &str) -> Option<Value> {
    let clean = text.replace('_', "");
    let (neg, body) = match clean.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, clean.strip_prefix('+').unwrap_or(&clean)),
    };
    let radix = [
        ("0x", 16),
        ("0X", 16),
        ("0o", 8),
        ("0O", 8),
        ("0b", 2),
        ("0B", 2),
    ]
    .iter()
    .find_map(|(p, r)| body.strip_prefix(p).map(|rest| (rest, *r)));
    let int = match radix {
        Some((rest, r)) => i64::from_str_radix(rest, r).ok(),
        None if body.len() > 1
            && body.starts_with('0')
            && body.bytes().all(|b| b.is_ascii_digit()) =>
        {
            i64::from_str_radix(&body[1..], 8).ok()
        }
        None if body.bytes().all(|b| b.is_ascii_digit()) => body.parse::<i64>().ok(),
        None => None,
    };
    if let Some(i) = int {
        return Some(Value::Int(if neg { -i } else { i }));
    }
    if radix.is_some() || !body.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let f: f64 = body.parse().ok()?;
    f.is_finite()
        .then_some(Value::Float(if neg { -f } else { f }))
}

/// A token as messages name it.
fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Text(_) => "text".to_string(),
        Tok::Open => "\"{{\"".to_string(),
        Tok::Close => "\"}}\"".to_string(),
        Tok::Ident(w) => format!("{w:?}"),
        Tok::Field(names) => format!("\".{}\"", names.join(".")),
        Tok::Dot => "\".\"".to_string(),
        Tok::Var(v) => format!("{v:?}"),
        Tok::Declare => "\":=\"".to_string(),
        Tok::Assign => "\"=\"".to_string(),
        Tok::Pipe => "\"|\"".to_string(),
        Tok::LParen => "\"(\"".to_string(),
        Tok::RParen => "\")\"".to_string(),
        Tok::Comma => "\",\"".to_string(),
        Tok::Str(_) => "string".to_string(),
        Tok::Number(_) => "number".to_string(),
        Tok::Char(_) => "character constant".to_string(),
        Tok::Bool(_) => "bool".to_string(),
        Tok::Nil => "nil".to_string(),
    }
}
