//! Which Applications a list or a stream keeps: Kubernetes label selectors (`=`, `==`, `!=`,
//! `in`, `notin`, `key`, `!key`), projects, name, repository, namespace and fjord's server-side
//! `search` (a case-insensitive substring of the name, namespace, project or repository URL).

use serde_json::Value;

/// A label selector that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("label selector {selector:?}: {reason}")]
pub struct SelectorError {
    /// The whole selector.
    pub selector: String,
    /// What is wrong.
    pub reason: String,
}

/// One requirement of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Req {
    Exists(String),
    NotExists(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

/// A parsed label selector (every requirement must hold).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector(Vec<Req>);

impl Selector {
    /// Parses `text` (Kubernetes' selector syntax).
    pub fn parse(text: &str) -> Result<Selector, SelectorError> {
        let err = |reason: &str| SelectorError {
            selector: text.to_string(),
            reason: reason.to_string(),
        };
        let mut reqs = Vec::new();
        for part in split_top(text) {
            let p = part.trim();
            if p.is_empty() {
                continue;
            }
            reqs.push(parse_req(p).ok_or_else(|| err(&format!("cannot parse {p:?}")))?);
        }
        Ok(Selector(reqs))
    }

    /// Whether `labels` (an object of strings, or null) satisfies the selector.
    pub fn matches(&self, labels: Option<&Value>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            Req::Exists(k) => get(k).is_some(),
            Req::NotExists(k) => get(k).is_none(),
            Req::In(k, vs) => get(k).is_some_and(|v| vs.iter().any(|x| x == v)),
            Req::NotIn(k, vs) => get(k).is_none_or(|v| !vs.iter().any(|x| x == v)),
        })
    }
}

/// Splits at commas outside parentheses.
fn split_top(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

/// Whether `s` is a plausible label key or value (no spaces or operators).
fn plain(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

fn parse_req(p: &str) -> Option<Req> {
    if let Some(k) = p.strip_prefix('!') {
        let k = k.trim();
        return plain(k).then(|| Req::NotExists(k.to_string()));
    }
    for (op, neg) in [("!=", true), ("==", false), ("=", false)] {
        if let Some((k, v)) = p.split_once(op) {
            let (k, v) = (k.trim(), v.trim());
            if !plain(k) || !(v.is_empty() || plain(v)) {
                return None;
            }
            let vs = vec![v.to_string()];
            return Some(if neg {
                Req::NotIn(k.to_string(), vs)
            } else {
                Req::In(k.to_string(), vs)
            });
        }
    }
    let mut words = p.splitn(2, char::is_whitespace);
    let k = words.next()?.trim();
    let Some(rest) = words.next().map(str::trim) else {
        return plain(k).then(|| Req::Exists(k.to_string()));
    };
    let (neg, list) = if let Some(l) = rest.strip_prefix("notin") {
        (true, l)
    } else if let Some(l) = rest.strip_prefix("in") {
        (false, l)
    } else {
        return None;
    };
    let inner = list.trim().strip_prefix('(')?.strip_suffix(')')?;
    let vs: Vec<String> = inner.split(',').map(|v| v.trim().to_string()).collect();
    if !plain(k) || vs.iter().any(|v| !v.is_empty() && !plain(v)) {
        return None;
    }
    Some(if neg {
        Req::NotIn(k.to_string(), vs)
    } else {
        Req::In(k.to_string(), vs)
    })
}

/// What a list or stream keeps (every set criterion must hold).
#[derive(Debug, Clone, Default)]
pub struct AppFilter {
    /// Projects (any of them); empty = all.
    pub projects: Vec<String>,
    /// The label selector.
    pub selector: Selector,
    /// One app name.
    pub name: Option<String>,
    /// The repository URL (any source).
    pub repo: Option<String>,
    /// The app's namespace.
    pub namespace: Option<String>,
    /// Lower-cased substring of name, namespace, project or repository URL.
    pub search: Option<String>,
}

/// An app's project (`default` when unset).
pub fn project_of(app: &Value) -> &str {
    app.pointer("/spec/project")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .unwrap_or("default")
}

/// The repository URLs of an app's sources.
pub fn repos_of(app: &Value) -> Vec<&str> {
    let mut out = Vec::new();
    if let Some(r) = app.pointer("/spec/source/repoURL").and_then(Value::as_str) {
        out.push(r);
    }
    if let Some(list) = app.pointer("/spec/sources").and_then(Value::as_array) {
        out.extend(
            list.iter()
                .filter_map(|s| s.get("repoURL").and_then(Value::as_str)),
        );
    }
    out
}

/// A repository URL compared loosely: case, a trailing `/` and `.git` ignored.
fn normal_repo(r: &str) -> String {
    let r = r.trim().trim_end_matches('/').to_ascii_lowercase();
    r.strip_suffix(".git").map(str::to_string).unwrap_or(r)
}

impl AppFilter {
    /// Whether `app` passes.
    pub fn matches(&self, app: &Value) -> bool {
        let s = |p: &str| app.pointer(p).and_then(Value::as_str).unwrap_or("");
        let name = s("/metadata/name");
        if self.name.as_deref().is_some_and(|n| n != name) {
            return false;
        }
        if self
            .namespace
            .as_deref()
            .is_some_and(|n| n != s("/metadata/namespace"))
        {
            return false;
        }
        let project = project_of(app);
        if !self.projects.is_empty() && !self.projects.iter().any(|p| p == project) {
            return false;
        }
        if let Some(want) = &self.repo {
            let want = normal_repo(want);
            if !repos_of(app).iter().any(|r| normal_repo(r) == want) {
                return false;
            }
        }
        if !self.selector.matches(app.pointer("/metadata/labels")) {
            return false;
        }
        if let Some(q) = &self.search {
            let hit = |t: &str| t.to_lowercase().contains(q.as_str());
            if !(hit(name)
                || hit(s("/metadata/namespace"))
                || hit(project)
                || repos_of(app).into_iter().any(hit))
            {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectors_follow_kubernetes_syntax() {
        let l = json!({"team": "a", "tier": "web"});
        let m = |s: &str| Selector::parse(s).unwrap().matches(Some(&l));
        assert!(m("team=a"));
        assert!(m("team==a,tier"));
        assert!(!m("team!=a"));
        assert!(m("team in (a, b),tier notin (db)"));
        assert!(!m("team notin (a)"));
        assert!(m("!owner"));
        assert!(!m("!team"));
        assert!(m("owner!=x"));
        assert!(m(""));
        assert!(Selector::parse("team in a").is_err());
        assert!(Selector::parse("a b c").is_err());
        assert!(Selector::parse("=x").is_err());
    }

    #[test]
    fn filters_by_project_repo_and_search() {
        let app = json!({
            "metadata": {"name": "Guestbook", "namespace": "argocd"},
            "spec": {"project": "team-a", "source": {"repoURL": "https://git.example/Org/Repo.git"}}
        });
        let f = |f: AppFilter| f.matches(&app);
        assert!(f(AppFilter::default()));
        assert!(f(AppFilter {
            projects: vec!["x".into(), "team-a".into()],
            ..Default::default()
        }));
        assert!(!f(AppFilter {
            projects: vec!["x".into()],
            ..Default::default()
        }));
        assert!(f(AppFilter {
            repo: Some("https://git.example/org/repo/".into()),
            ..Default::default()
        }));
        for q in ["guest", "argo", "team", "org/repo"] {
            assert!(f(AppFilter {
                search: Some(q.into()),
                ..Default::default()
            }));
        }
        assert!(!f(AppFilter {
            search: Some("nothing".into()),
            ..Default::default()
        }));
    }
}
