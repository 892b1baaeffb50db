//! The corpus format (`corpus.txt`):
//!
//! ```text
//! # a comment
//! === area
//! > step-name: METHOD /path?query [ct=json|merge|strategic|jsonpatch|apply] [accept=table|meta]
//!       [capture=NAME] [until=CODE] [pick=/json/pointer]
//! body lines (JSON, or YAML for ct=apply) up to the next `>`, `===` or `#` line
//! ```
//!
//! `{{NAME.rv}}` and `{{NAME.uid}}` in a path or body are the resourceVersion and uid captured
//! (per server) by an earlier step's `capture=NAME`. `until=CODE` repeats the request (up to
//! 60 s) until the status is CODE: for asynchronous work (garbage collection, namespace
//! deletion). `pick=` compares only that part of the response.

/// One request of the corpus.
#[derive(Debug, Clone, Default)]
pub struct Step {
    /// The area (`=== area`).
    pub area: String,
    /// Unique name.
    pub name: String,
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Content-Type.
    pub content_type: Option<String>,
    /// Accept.
    pub accept: Option<String>,
    /// Capture the response's resourceVersion and uid under this name.
    pub capture: Option<String>,
    /// Poll until this status.
    pub until: Option<u16>,
    /// Compare only this JSON pointer.
    pub pick: Option<String>,
    /// The body.
    pub body: Option<String>,
}

fn content_type(short: &str) -> String {
    match short {
        "json" => "application/json",
        "merge" => "application/merge-patch+json",
        "strategic" => "application/strategic-merge-patch+json",
        "jsonpatch" => "application/json-patch+json",
        "apply" => "application/apply-patch+yaml",
        other => other,
    }
    .to_string()
}

fn accept(short: &str) -> String {
    match short {
        "table" => "application/json;as=Table;v=v1;g=meta.k8s.io",
        "meta" => "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io",
        "metaobj" => "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io",
        other => other,
    }
    .to_string()
}

fn header(area: &str, line: &str, lineno: usize) -> Result<Step, String> {
    let rest = line.trim_start_matches('>').trim();
    let (name, rest) = rest
        .split_once(':')
        .ok_or_else(|| format!("line {lineno}: expected `> name: METHOD /path`"))?;
    let mut words = rest.split_whitespace();
    let method = words.next().ok_or(format!("line {lineno}: no method"))?;
    let path = words.next().ok_or(format!("line {lineno}: no path"))?;
    let mut step = Step {
        area: area.to_string(),
        name: name.trim().to_string(),
        method: method.to_string(),
        path: path.to_string(),
        ..Step::default()
    };
    for w in words {
        let (k, v) = w
            .split_once('=')
            .ok_or_else(|| format!("line {lineno}: option {w:?} is not key=value"))?;
        match k {
            "ct" => step.content_type = Some(content_type(v)),
            "accept" => step.accept = Some(accept(v)),
            "capture" => step.capture = Some(v.to_string()),
            "until" => {
                step.until = Some(
                    v.parse()
                        .map_err(|_| format!("line {lineno}: until={v} is no status code"))?,
                )
            }
            "pick" => step.pick = Some(v.to_string()),
            other => return Err(format!("line {lineno}: unknown option {other}")),
        }
    }
    Ok(step)
}

/// Parses the corpus text.
pub fn parse(text: &str) -> Result<Vec<Step>, String> {
    let mut steps: Vec<Step> = Vec::new();
    let mut area = String::from("none");
    let mut body: Vec<&str> = Vec::new();
    let flush = |steps: &mut Vec<Step>, body: &mut Vec<&str>| {
        if let Some(last) = steps.last_mut() {
            let text = body.join("\n").trim().to_string();
            if !text.is_empty() {
                last.body = Some(text);
            }
        }
        body.clear();
    };
    for (i, line) in text.lines().enumerate() {
        if line.starts_with('#') {
            flush(&mut steps, &mut body);
        } else if let Some(a) = line.strip_prefix("===") {
            flush(&mut steps, &mut body);
            area = a.trim().to_string();
        } else if line.starts_with('>') {
            flush(&mut steps, &mut body);
            let step = header(&area, line, i + 1)?;
            if steps.iter().any(|s| s.name == step.name) {
                return Err(format!(
                    "line {}: step name {} used twice",
                    i + 1,
                    step.name
                ));
            }
            steps.push(step);
        } else if !steps.is_empty() {
            body.push(line);
        }
    }
    flush(&mut steps, &mut body);
    Ok(steps)
}

/// A deliberate difference from `docs/local-api-differences.md`'s table.
#[derive(Debug, Clone)]
pub struct Deliberate {
    /// The identifier.
    pub id: String,
    /// Which steps (glob over step names).
    pub steps: String,
    /// Which paths (glob over difference paths).
    pub paths: String,
    /// Listed under "Open differences" (a local-API bug not fixed yet), not deliberate.
    pub open: bool,
}

/// Parses the table rows `` | `id` | `steps` | `paths` | reason | ``; rows under a heading
/// `## Open…` are open bugs, the others deliberate differences.
pub fn deliberate(doc: &str) -> Result<Vec<Deliberate>, String> {
    let mut out = Vec::new();
    let mut open = false;
    for (i, line) in doc.lines().enumerate() {
        if let Some(h) = line.strip_prefix("## ") {
            open = h.starts_with("Open");
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 5 || !cells[1].starts_with('`') {
            continue;
        }
        let strip = |c: &str| -> Result<String, String> {
            c.strip_prefix('`')
                .and_then(|c| c.strip_suffix('`'))
                .map(str::to_string)
                .ok_or_else(|| format!("docs line {}: cell {c:?} is not `code`", i + 1))
        };
        out.push(Deliberate {
            id: strip(cells[1])?,
            steps: strip(cells[2])?,
            paths: strip(cells[3])?,
            open,
        });
    }
    Ok(out)
}
