//! The executor: runs a parsed template over the context, with `missingkey=error` and limits.

use super::funcs;
use super::parse::{Arg, ArgKind, Branch, Cmd, Node, Pipe};
use super::val::Value;
use super::{Failure, MAX_OUTPUT_BYTES, MAX_STEPS, MAX_VALUE_DEPTH};

/// What a list of nodes asks of the enclosing `range`.
enum Flow {
    Normal,
    Break,
    Continue,
}

struct Exec {
    out: String,
    vars: Vec<(String, Value)>,
    steps: usize,
}

fn fail(at: usize, reason: impl Into<String>) -> Failure {
    Failure::Exec {
        at,
        reason: reason.into(),
    }
}

/// Runs `tree` with `.` and `$` set to `root`.
pub(crate) fn execute(tree: &[Node], root: &Value) -> Result<String, Failure> {
    let mut exec = Exec {
        out: String::new(),
        vars: vec![("$".to_string(), root.clone())],
        steps: 0,
    };
    exec.list(tree, root)?;
    Ok(exec.out)
}

impl Exec {
    fn step(&mut self, at: usize) -> Result<(), Failure> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(fail(
                at,
                format!("template takes more than {MAX_STEPS} steps"),
            ));
        }
        Ok(())
    }

    fn write(&mut self, at: usize, s: &str) -> Result<(), Failure> {
        if self.out.len() + s.len() > MAX_OUTPUT_BYTES {
            return Err(fail(at, format!("output exceeds {MAX_OUTPUT_BYTES} bytes")));
        }
        self.out.push_str(s);
        Ok(())
    }

    fn list(&mut self, nodes: &[Node], dot: &Value) -> Result<Flow, Failure> {
        for node in nodes {
            match node {
                Node::Text(at, t) => self.write(*at, t)?,
                Node::Action(pipe) => {
                    self.step(pipe.at)?;
                    let v = self.pipe(pipe, dot)?;
                    if pipe.decl.is_empty() {
                        self.write(pipe.at, &v.to_output())?;
                    }
                }
                Node::If(b) | Node::With(b) => {
                    let with = matches!(node, Node::With(_));
                    let flow = self.branch(b, dot, with)?;
                    if !matches!(flow, Flow::Normal) {
                        return Ok(flow);
                    }
                }
                Node::Range(b) => self.range(b, dot)?,
                Node::Break => return Ok(Flow::Break),
                Node::Continue => return Ok(Flow::Continue),
            }
        }
        Ok(Flow::Normal)
    }

    /// `if` (and `with` when `with`, which sets `.`).
    fn branch(&mut self, b: &Branch, dot: &Value, with: bool) -> Result<Flow, Failure> {
        self.step(b.pipe.at)?;
        let mark = self.vars.len();
        let v = self.pipe(&b.pipe, dot)?;
        let flow = if v.truth() {
            let inner = if with { &v } else { dot };
            self.list(&b.list, inner)?
        } else {
            self.list(&b.else_list, dot)?
        };
        self.vars.truncate(mark);
        Ok(flow)
    }

    fn range(&mut self, b: &Branch, dot: &Value) -> Result<(), Failure> {
        self.step(b.pipe.at)?;
        let at = b.pipe.at;
        let v = self.commands(&b.pipe, dot)?;
        let pairs: Vec<(Value, Value)> = match &v {
            Value::List(l) => l
                .iter()
                .enumerate()
                .map(|(i, e)| (Value::Int(i as i64), e.clone()))
                .collect(),
            Value::Map(m) => m
                .entries
                .iter()
                .map(|(k, e)| (Value::str(k.as_str()), e.clone()))
                .collect(),
            Value::Int(n) => {
                if b.pipe.decl.len() > 1 {
                    return Err(fail(
                        at,
                        "can't use two variables when ranging over an integer",
                    ));
                }
                let n = usize::try_from(*n).unwrap_or(0);
                if n > MAX_STEPS {
                    return Err(fail(
                        at,
                        format!("template takes more than {MAX_STEPS} steps"),
                    ));
                }
                (0..n as i64)
                    .map(|i| (Value::Int(i), Value::Int(i)))
                    .collect()
            }
            Value::Nil => Vec::new(),
            other => {
                return Err(fail(
                    at,
                    format!("range can't iterate over a {}", other.type_name()),
                ));
            }
        };
        if pairs.is_empty() {
            let mark = self.vars.len();
            self.list(&b.else_list, dot)?;
            self.vars.truncate(mark);
            return Ok(());
        }
        for (key, elem) in pairs {
            self.step(at)?;
            let mark = self.vars.len();
            match b.pipe.decl.as_slice() {
                [] => {}
                [v] => self.bind(v, elem.clone(), b.pipe.assign),
                [k, v, ..] => {
                    self.bind(k, key, b.pipe.assign);
                    self.bind(v, elem.clone(), b.pipe.assign);
                }
            }
            let flow = self.list(&b.list, &elem)?;
            self.vars.truncate(mark);
            if matches!(flow, Flow::Break) {
                break;
            }
        }
        Ok(())
    }

    /// Declares (`:=`) or assigns (`=`) a variable.
    fn bind(&mut self, name: &str, v: Value, assign: bool) {
        if assign {
            if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                slot.1 = v;
                return;
            }
        }
        self.vars.push((name.to_string(), v));
    }

    /// A pipeline's value, with its declarations applied.
    fn pipe(&mut self, pipe: &Pipe, dot: &Value) -> Result<Value, Failure> {
        let v = self.commands(pipe, dot)?;
        for name in &pipe.decl {
            self.bind(name, v.clone(), pipe.assign);
        }
        Ok(v)
    }

    /// A pipeline's value: each command's value is the last argument of the next.
    fn commands(&mut self, pipe: &Pipe, dot: &Value) -> Result<Value, Failure> {
        let mut value = None;
        for cmd in &pipe.cmds {
            value = Some(self.command(cmd, dot, value)?);
        }
        Ok(value.unwrap_or(Value::Nil))
    }

    fn command(&mut self, cmd: &Cmd, dot: &Value, last: Option<Value>) -> Result<Value, Failure> {
        self.step(cmd.at)?;
        let Some(first) = cmd.args.first() else {
            return Err(fail(cmd.at, "empty command"));
        };
        let ArgKind::Func(name) = &first.kind else {
            if cmd.args.len() > 1 || last.is_some() {
                return Err(fail(first.at, "can't give argument to non-function"));
            }
            if let ArgKind::Nil = first.kind {
                return Err(fail(first.at, "nil is not a command"));
            }
            return self.arg(first, dot);
        };
        if name == "and" || name == "or" {
            return self.and_or(name == "and", cmd, dot, last);
        }
        let mut args = Vec::with_capacity(cmd.args.len());
        for arg in &cmd.args[1..] {
            args.push(self.arg(arg, dot)?);
        }
        args.extend(last);
        self.call(first.at, name, args)
    }

    fn call(&mut self, at: usize, name: &str, args: Vec<Value>) -> Result<Value, Failure> {
        if name == "list" || name == "dict" {
            for arg in &args {
                self.charge_nesting(at, arg, 1)?;
            }
        }
        let v =
            funcs::call(name, args).map_err(|r| fail(at, format!("error calling {name}: {r}")))?;
        if let Value::Str(s) = &v {
            if s.len() > MAX_OUTPUT_BYTES {
                return Err(fail(
                    at,
                    format!("{name} built a string over {MAX_OUTPUT_BYTES} bytes"),
                ));
            }
        }
        Ok(v)
    }

    /// `list` and `dict` nest values: every element of their arguments costs a step (so values
    /// built up in a loop stay small), and nesting is limited (deep values would exhaust the
    /// stack when printed or dropped).
    fn charge_nesting(&mut self, at: usize, v: &Value, depth: usize) -> Result<(), Failure> {
        let items: Box<dyn Iterator<Item = &Value>> = match v {
            Value::List(l) => Box::new(l.iter()),
            Value::Map(m) => Box::new(m.entries.values()),
            _ => return Ok(()),
        };
        if depth > MAX_VALUE_DEPTH {
            return Err(fail(
                at,
                format!("value nested deeper than {MAX_VALUE_DEPTH}"),
            ));
        }
        for item in items {
            self.step(at)?;
            self.charge_nesting(at, item, depth + 1)?;
        }
        Ok(())
    }

    /// `and` / `or`: evaluate arguments in order, stopping at the first false / true one.
    fn and_or(
        &mut self,
        and: bool,
        cmd: &Cmd,
        dot: &Value,
        last: Option<Value>,
    ) -> Result<Value, Failure> {
        let n = cmd.args.len() - 1 + usize::from(last.is_some());
        if n == 0 {
            let name = if and { "and" } else { "or" };
            return Err(fail(
                cmd.at,
                format!("wrong number of args for {name}: want at least 1 got 0"),
            ));
        }
        let mut v = Value::Nil;
        for arg in &cmd.args[1..] {
            v = self.arg(arg, dot)?;
            if v.truth() != and {
                return Ok(v);
            }
        }
        Ok(last.unwrap_or(v))
    }

    fn arg(&mut self, arg: &Arg, dot: &Value) -> Result<Value, Failure> {
        match &arg.kind {
            ArgKind::Dot => Ok(dot.clone()),
            ArgKind::Nil => Ok(Value::Nil),
            ArgKind::Lit(v) => Ok(v.clone()),
            ArgKind::Func(name) => self.call(arg.at, name, Vec::new()),
            ArgKind::Field(chain) => fields(arg.at, dot.clone(), chain),
            ArgKind::Var(name, chain) => {
                let v = self
                    .vars
                    .iter()
                    .rev()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone());
                let v = v.ok_or_else(|| fail(arg.at, format!("undefined variable {name:?}")))?;
                fields(arg.at, v, chain)
            }
            ArgKind::Sub(pipe, chain) => {
                let v = self.pipe(pipe, dot)?;
                fields(arg.at, v, chain)
            }
        }
    }
}

/// Reads the fields `chain` from `v`; a missing map key is an error (`missingkey=error`).
fn fields(at: usize, mut v: Value, chain: &[String]) -> Result<Value, Failure> {
    for name in chain {
        v = match &v {
            Value::Map(m) => match m.entries.get(name) {
                Some(next) => next.clone(),
                None => return Err(fail(at, format!("map has no entry for key {name:?}"))),
            },
            Value::Nil => {
                return Err(fail(
                    at,
                    format!("nil pointer evaluating interface {{}}.{name}"),
                ));
            }
            other => {
                let t = other.type_name();
                return Err(fail(at, format!("can't evaluate field {name} in type {t}")));
            }
        };
    }
    Ok(v)
}
