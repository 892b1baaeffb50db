//! The subset of Go's `text/template` that Image Updater's templates use: text, `{{.Field}}`,
//! `{{range .List}}...{{end}}` (inside, `.` is the element), comments `{{/* ... */}}` and the
//! whitespace trim markers `{{- ` and ` -}}`. Every other action (`if`, `with`, pipes, functions,
//! variables, `{{.}}`, `else`, nested fields) is refused with an error naming it.

/// A template that does not parse or does not render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// An action outside the supported subset.
    #[error("template action {{{{{construct}}}}} is not supported (supported: text, {{{{.Field}}}}, {{{{range .List}}}}...{{{{end}}}}, {{{{/* comment */}}}}, trim markers)")]
    Unsupported {
        /// The action's text.
        construct: String,
    },
    /// `{{` without its `}}`.
    #[error("template action {{{{{text}... is not closed with }}}}")]
    Unclosed {
        /// The start of the unclosed action.
        text: String,
    },
    /// `{{end}}` with no open `range`.
    #[error("template has {{{{end}}}} without {{{{range}}}}")]
    UnexpectedEnd,
    /// `{{range .X}}` with no `{{end}}`.
    #[error("template action {{{{range .{field}}}}} has no {{{{end}}}}")]
    MissingEnd {
        /// The ranged field.
        field: String,
    },
    /// A field the data does not have.
    #[error("template field .{field} does not exist here (fields: {known})")]
    UnknownField {
        /// The field.
        field: String,
        /// The fields that exist at that place.
        known: String,
    },
    /// A list printed as text, or text ranged over.
    #[error("template field .{field} is {what}")]
    WrongType {
        /// The field.
        field: String,
        /// What it is and what the action needs.
        what: &'static str,
    },
    /// A branch-name template rendered a name git refuses.
    #[error("branch name {name:?} rendered from the template {problem}")]
    BadBranch {
        /// The rendered name.
        name: String,
        /// What is wrong with it.
        problem: &'static str,
    },
}

/// A value the template can reach.
#[derive(Debug, Clone)]
pub(crate) enum Value<'a> {
    /// Text.
    Str(&'a str),
    /// A list of records.
    List(Vec<Record<'a>>),
}

/// Named fields.
pub(crate) type Record<'a> = Vec<(&'static str, Value<'a>)>;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Text(String),
    Field(String),
    Range(String, Vec<Node>),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    nodes: Vec<Node>,
}

fn trim_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

enum Action {
    Field(String),
    Range(String),
    End,
    Comment,
}

fn field_name(s: &str) -> Option<&str> {
    let name = s.strip_prefix('.')?;
    let mut chars = name.chars();
    let first = chars.next()?;
    ((first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_'))
    .then_some(name)
}

fn action(inner: &str) -> Result<Action, MessageError> {
    let t = inner.trim_matches(trim_ws);
    let unsupported = || MessageError::Unsupported {
        construct: inner.to_string(),
    };
    if t.starts_with("/*") && t.ends_with("*/") && t.len() >= 4 {
        return Ok(Action::Comment);
    }
    if t == "end" {
        return Ok(Action::End);
    }
    if let Some(rest) = t.strip_prefix("range") {
        if rest.starts_with(trim_ws) {
            return field_name(rest.trim_matches(trim_ws))
                .map(|f| Action::Range(f.into()))
                .ok_or_else(unsupported);
        }
    }
    field_name(t)
        .map(|f| Action::Field(f.into()))
        .ok_or_else(unsupported)
}

impl Template {
    /// Parses `text`.
    pub(crate) fn parse(text: &str) -> Result<Template, MessageError> {
        let mut root: Vec<Node> = Vec::new();
        let mut stack: Vec<(String, Vec<Node>)> = Vec::new();
        let mut rest = text;
        let mut trim_next = false;
        loop {
            let (before, after) = match rest.find("{{") {
                Some(i) => (&rest[..i], Some(&rest[i + 2..])),
                None => (rest, None),
            };
            let mut lit = if trim_next {
                before.trim_start_matches(trim_ws)
            } else {
                before
            };
            let Some(after) = after else {
                push_text(top(&mut root, &mut stack), lit);
                break;
            };
            let left_trim = after.starts_with('-') && after[1..].starts_with(trim_ws);
            if left_trim {
                lit = lit.trim_end_matches(trim_ws);
            }
            push_text(top(&mut root, &mut stack), lit);
            let body = if left_trim { &after[1..] } else { after };
            let close = body.find("}}").ok_or_else(|| MessageError::Unclosed {
                text: body.chars().take(30).collect(),
            })?;
            let mut inner = &body[..close];
            trim_next = inner.ends_with('-') && inner[..inner.len() - 1].ends_with(trim_ws);
            if trim_next {
                inner = &inner[..inner.len() - 1];
            }
            rest = &body[close + 2..];
            match action(inner)? {
                Action::Comment => {}
                Action::Field(f) => top(&mut root, &mut stack).push(Node::Field(f)),
                Action::Range(f) => stack.push((f, Vec::new())),
                Action::End => {
                    let (field, body) = stack.pop().ok_or(MessageError::UnexpectedEnd)?;
                    top(&mut root, &mut stack).push(Node::Range(field, body));
                }
            }
        }
        if let Some((field, _)) = stack.pop() {
            return Err(MessageError::MissingEnd { field });
        }
        Ok(Template { nodes: root })
    }

    /// Renders with `data` as `.`.
    pub(crate) fn render(&self, data: &Record<'_>) -> Result<String, MessageError> {
        let mut out = String::new();
        render_nodes(&self.nodes, data, &mut out)?;
        Ok(out)
    }
}

/// The node list of the innermost open `range`, or the root.
fn top<'s>(root: &'s mut Vec<Node>, stack: &'s mut [(String, Vec<Node>)]) -> &'s mut Vec<Node> {
    match stack.last_mut() {
        Some(frame) => &mut frame.1,
        None => root,
    }
}

fn push_text(nodes: &mut Vec<Node>, text: &str) {
    if !text.is_empty() {
        nodes.push(Node::Text(text.to_string()));
    }
}

fn lookup<'r, 'a>(data: &'r Record<'a>, field: &str) -> Result<&'r Value<'a>, MessageError> {
    data.iter()
        .find(|(k, _)| *k == field)
        .map(|(_, v)| v)
        .ok_or_else(|| MessageError::UnknownField {
            field: field.to_string(),
            known: data
                .iter()
                .map(|(k, _)| format!(".{k}"))
                .collect::<Vec<_>>()
                .join(" "),
        })
}

fn render_nodes(nodes: &[Node], data: &Record<'_>, out: &mut String) -> Result<(), MessageError> {
    for node in nodes {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Field(f) => match lookup(data, f)? {
                Value::Str(s) => out.push_str(s),
                Value::List(_) => {
                    return Err(MessageError::WrongType {
                        field: f.clone(),
                        what: "a list: use {{range}}",
                    })
                }
            },
            Node::Range(f, body) => match lookup(data, f)? {
                Value::List(items) => {
                    for item in items {
                        render_nodes(body, item, out)?;
                    }
                }
                Value::Str(_) => {
                    return Err(MessageError::WrongType {
                        field: f.clone(),
                        what: "text, not a list to range over",
                    })
                }
            },
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> Record<'static> {
        vec![
            ("AppName", Value::Str("app")),
            (
                "AppChanges",
                Value::List(vec![
                    vec![("Image", Value::Str("a"))],
                    vec![("Image", Value::Str("b"))],
                ]),
            ),
        ]
    }

    fn run(t: &str) -> Result<String, MessageError> {
        Template::parse(t)?.render(&data())
    }

    #[test]
    fn renders_subset() {
        assert_eq!(run("x {{.AppName}} y").unwrap(), "x app y");
        assert_eq!(run("{{ .AppName }}").unwrap(), "app");
        assert_eq!(
            run("{{range .AppChanges}}[{{.Image}}]{{end}}").unwrap(),
            "[a][b]"
        );
        assert_eq!(run("a  \n {{- .AppName -}} \n b").unwrap(), "aappb");
        assert_eq!(
            run("{{range .AppChanges -}}\n{{.Image}}\n{{end -}}\n").unwrap(),
            "a\nb\n"
        );
        assert_eq!(run("a{{/* note */}}b").unwrap(), "ab");
        assert_eq!(run("no actions").unwrap(), "no actions");
    }

    #[test]
    fn refuses_the_rest() {
        for (t, needle) in [
            ("{{if .AppName}}x{{end}}", "if .AppName"),
            ("{{.AppName | printf \"%s\"}}", "printf"),
            ("{{.}}", "{{.}}"),
            ("{{$x := 1}}", "$x"),
            ("{{range .AppChanges}}{{else}}{{end}}", "else"),
            ("{{.A.B}}", ".A.B"),
            ("{{-.AppName}}", "-.AppName"),
        ] {
            let e = run(t).unwrap_err().to_string();
            assert!(e.contains(needle), "{t}: {e}");
        }
        assert!(matches!(
            run("{{.AppName"),
            Err(MessageError::Unclosed { .. })
        ));
        assert!(matches!(run("{{end}}"), Err(MessageError::UnexpectedEnd)));
        assert!(matches!(
            run("{{range .AppChanges}}"),
            Err(MessageError::MissingEnd { .. })
        ));
        let e = run("{{.Nope}}").unwrap_err().to_string();
        assert!(e.contains(".Nope") && e.contains(".AppName"), "{e}");
        assert!(matches!(
            run("{{.AppChanges}}"),
            Err(MessageError::WrongType { .. })
        ));
        assert!(matches!(
            run("{{range .AppName}}{{end}}"),
            Err(MessageError::WrongType { .. })
        ));
        assert!(run("{{range .AppChanges}}{{.AppName}}{{end}}").is_err());
    }
}
