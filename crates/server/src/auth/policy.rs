//! Argo CD's RBAC model: `p, <subject>, <resource>, <action>, <object>[, allow|deny]` and
//! `g, <member>, <role>` lines; a request is allowed when some line of the subject (or of a role
//! it inherits) allows it and none denies it; whatever `policy.default` allows is allowed.
//! Resource, action and object patterns are globs (`*` also matches `/`) or, with
//! `policy.matchMode: regex`, regular expressions (unanchored, as Casbin's `regexMatch`).
//! Decisions are cached per (subject, resource, action, object); a new policy is a new cache.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use globset::{GlobBuilder, GlobMatcher};
use regex::Regex;
use serde_json::Value;

/// The built-in roles, as Argo CD defines them (written out here).
pub const BUILTIN_POLICY: &str = "\
p, role:readonly, applications, get, */*, allow
p, role:readonly, applicationsets, get, */*, allow
p, role:readonly, logs, get, */*, allow
p, role:readonly, clusters, get, *, allow
p, role:readonly, repositories, get, *, allow
p, role:readonly, write-repositories, get, *, allow
p, role:readonly, projects, get, *, allow
p, role:readonly, accounts, get, *, allow
p, role:readonly, certificates, get, *, allow
p, role:readonly, gpgkeys, get, *, allow
p, role:admin, applications, create, */*, allow
p, role:admin, applications, update, */*, allow
p, role:admin, applications, update/*, */*, allow
p, role:admin, applications, delete, */*, allow
p, role:admin, applications, delete/*, */*, allow
p, role:admin, applications, sync, */*, allow
p, role:admin, applications, rollback, */*, allow
p, role:admin, applications, override, */*, allow
p, role:admin, applications, action/*, */*, allow
p, role:admin, applicationsets, create, */*, allow
p, role:admin, applicationsets, update, */*, allow
p, role:admin, applicationsets, delete, */*, allow
p, role:admin, exec, create, */*, allow
p, role:admin, clusters, create, *, allow
p, role:admin, clusters, update, *, allow
p, role:admin, clusters, delete, *, allow
p, role:admin, repositories, create, *, allow
p, role:admin, repositories, update, *, allow
p, role:admin, repositories, delete, *, allow
p, role:admin, write-repositories, create, *, allow
p, role:admin, write-repositories, update, *, allow
p, role:admin, write-repositories, delete, *, allow
p, role:admin, projects, create, *, allow
p, role:admin, projects, update, *, allow
p, role:admin, projects, delete, *, allow
p, role:admin, accounts, update, *, allow
p, role:admin, certificates, create, *, allow
p, role:admin, certificates, update, *, allow
p, role:admin, certificates, delete, *, allow
p, role:admin, gpgkeys, create, *, allow
p, role:admin, gpgkeys, delete, *, allow
g, role:admin, role:readonly
g, admin, role:admin
";

/// The most decisions kept before the cache starts over.
const CACHE_LIMIT: usize = 200_000;

/// How resource, action and object patterns match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MatchMode {
    /// Globs; `*` matches across `/`. (The built-in roles are always globs, and a lone `*`
    /// matches everything in both modes.)
    #[default]
    Glob,
    /// Regular expressions (unanchored).
    Regex,
}

/// One compiled pattern.
#[derive(Debug, Clone)]
enum Pattern {
    Any,
    Literal(String),
    Glob(GlobMatcher),
    Regex(Regex),
}

impl Pattern {
    fn compile(raw: &str, mode: MatchMode) -> Result<Pattern, String> {
        match mode {
            _ if raw == "*" => Ok(Pattern::Any),
            MatchMode::Glob if !raw.contains(['*', '?', '[', '{', '\\']) => {
                Ok(Pattern::Literal(raw.to_string()))
            }
            MatchMode::Glob => GlobBuilder::new(raw)
                .literal_separator(false)
                .backslash_escape(true)
                .build()
                .map(|g| Pattern::Glob(g.compile_matcher()))
                .map_err(|e| format!("glob {raw:?}: {e}")),
            MatchMode::Regex => Regex::new(raw)
                .map(Pattern::Regex)
                .map_err(|e| format!("regular expression {raw:?}: {e}")),
        }
    }

    fn matches(&self, value: &str) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Literal(l) => l == value,
            Pattern::Glob(g) => g.is_match(value),
            Pattern::Regex(r) => r.is_match(value),
        }
    }
}

/// One `p` line.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The subject (user, group, `role:x`, `proj:P:R`).
    pub subject: String,
    resource: Pattern,
    action: Pattern,
    object: Pattern,
    /// The raw object pattern (project roles check it names their project).
    pub object_raw: String,
    /// A `deny` line.
    pub deny: bool,
}

impl Rule {
    fn matches(&self, resource: &str, action: &str, object: &str) -> bool {
        self.resource.matches(resource)
            && self.action.matches(action)
            && self.object.matches(object)
    }
}

/// Whether matching lines allow and whether any denies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Some line allows.
    pub allow: bool,
    /// Some line denies.
    pub deny: bool,
}

impl Verdict {
    /// Allowed: some allow, no deny.
    pub fn allowed(self) -> bool {
        self.allow && !self.deny
    }
    fn add(&mut self, rules: &[Rule], resource: &str, action: &str, object: &str) {
        for r in rules.iter().filter(|r| r.matches(resource, action, object)) {
            if r.deny {
                self.deny = true;
            } else {
                self.allow = true;
            }
        }
    }
}

/// A parsed CSV policy: `p` lines and `g` lines.
#[derive(Debug, Default, Clone)]
pub struct Lines {
    /// The `p` lines.
    pub rules: Vec<Rule>,
    /// The `g` lines: (member, role).
    pub grouping: Vec<(String, String)>,
    /// Lines that were skipped, each with its reason (for a warning).
    pub problems: Vec<String>,
}

/// Splits one CSV line into trimmed fields (double quotes around a field are removed).
fn fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur).trim().to_string()),
            c => cur.push(c),
        }
    }
    out.push(cur.trim().to_string());
    out
}

/// Parses policy CSV text (`source` names it in problems).
pub fn parse(text: &str, source: &str, mode: MatchMode) -> Lines {
    let mut out = Lines::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f = fields(line);
        let at = format!("{source} line {}", n + 1);
        match f[0].as_str() {
            "p" if f.len() == 5 || f.len() == 6 => {
                let deny = match f.get(5).map(String::as_str) {
                    None | Some("allow") | Some("") => false,
                    Some("deny") => true,
                    Some(other) => {
                        out.problems
                            .push(format!("{at}: effect {other:?} is not allow or deny"));
                        continue;
                    }
                };
                let compiled = (|| {
                    Ok::<_, String>(Rule {
                        subject: f[1].clone(),
                        resource: Pattern::compile(&f[2], mode)?,
                        action: Pattern::compile(&f[3], mode)?,
                        object: Pattern::compile(&f[4], mode)?,
                        object_raw: f[4].clone(),
                        deny,
                    })
                })();
                match compiled {
                    Ok(r) => out.rules.push(r),
                    Err(e) => out.problems.push(format!("{at}: {e}")),
                }
            }
            "g" if f.len() == 3 => out.grouping.push((f[1].clone(), f[2].clone())),
            _ => out.problems.push(format!(
                "{at}: expected `p, subject, resource, action, object[, effect]` or `g, member, role`"
            )),
        }
    }
    out
}

/// The site policy: built-in roles, `policy.csv` (+ `policy.*.csv`), `policy.default`,
/// `policy.matchMode` and `scopes` from `argocd-rbac-cm`, with its decision cache.
#[derive(Debug, Default)]
pub struct Policy {
    rules: HashMap<String, Vec<Rule>>,
    roles_of: HashMap<String, Vec<String>>,
    /// The role every authenticated user has.
    pub default_role: Option<String>,
    /// How patterns match.
    pub mode: MatchMode,
    /// The token claims whose values are the caller's groups.
    pub scopes: Vec<String>,
    /// Skipped lines and bad settings, each with its reason.
    pub problems: Vec<String>,
    cache: Mutex<HashMap<String, bool>>,
}

impl Policy {
    /// The policy of an `argocd-rbac-cm` (`None`: it does not exist, built-in roles only).
    pub fn from_config_map(cm: Option<&Value>) -> Policy {
        let data = cm
            .and_then(|c| c.get("data"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let s = |k: &str| data.get(k).and_then(Value::as_str).map(str::trim);
        let mut problems = Vec::new();
        let mode = match s("policy.matchMode") {
            None | Some("") | Some("glob") => MatchMode::Glob,
            Some("regex") => MatchMode::Regex,
            Some(other) => {
                problems.push(format!(
                    "policy.matchMode {other:?} is not glob or regex; using glob"
                ));
                MatchMode::Glob
            }
        };
        let mut texts = vec![("built-in policy".to_string(), BUILTIN_POLICY.to_string())];
        if let Some(csv) = s("policy.csv") {
            texts.push(("policy.csv".into(), csv.to_string()));
        }
        let mut extra: Vec<&String> = data
            .keys()
            .filter(|k| k.starts_with("policy.") && k.ends_with(".csv") && *k != "policy.csv")
            .collect();
        extra.sort();
        for k in extra {
            if let Some(v) = data.get(k).and_then(Value::as_str) {
                texts.push((k.clone(), v.to_string()));
            }
        }
        let mut lines = Lines::default();
        for (source, text) in &texts {
            // The built-in lines are globs whatever the mode.
            let m = if source == "built-in policy" {
                MatchMode::Glob
            } else {
                mode
            };
            let l = parse(text, source, m);
            lines.rules.extend(l.rules);
            lines.grouping.extend(l.grouping);
            problems.extend(l.problems);
        }
        let scopes = match s("scopes") {
            None | Some("") => vec!["groups".to_string()],
            Some(v) => v
                .trim_matches(|c| c == '[' || c == ']')
                .split(',')
                .map(|x| x.trim().trim_matches('"').trim_matches('\'').to_string())
                .filter(|x| !x.is_empty())
                .collect(),
        };
        Policy::new(
            lines,
            s("policy.default")
                .filter(|d| !d.is_empty())
                .map(String::from),
            mode,
            scopes,
            problems,
        )
    }

    /// A policy from parsed lines.
    pub fn new(
        lines: Lines,
        default_role: Option<String>,
        mode: MatchMode,
        scopes: Vec<String>,
        problems: Vec<String>,
    ) -> Policy {
        let mut rules: HashMap<String, Vec<Rule>> = HashMap::new();
        for r in lines.rules {
            rules.entry(r.subject.clone()).or_default().push(r);
        }
        let mut roles_of: HashMap<String, Vec<String>> = HashMap::new();
        for (member, role) in lines.grouping {
            roles_of.entry(member).or_default().push(role);
        }
        Policy {
            rules,
            roles_of,
            default_role,
            mode,
            scopes,
            problems,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// `subject` and every role it inherits through `g` lines.
    fn closure(&self, subject: &str) -> Vec<String> {
        let mut seen: HashSet<String> = HashSet::new();
        let mut todo = vec![subject.to_string()];
        let mut out = Vec::new();
        while let Some(s) = todo.pop() {
            if !seen.insert(s.clone()) {
                continue;
            }
            if let Some(roles) = self.roles_of.get(&s) {
                todo.extend(roles.iter().cloned());
            }
            out.push(s);
        }
        out
    }

    /// The allow/deny verdict of one subject (with its roles), uncached.
    pub fn verdict(&self, subject: &str, resource: &str, action: &str, object: &str) -> Verdict {
        let mut v = Verdict::default();
        for s in self.closure(subject) {
            if let Some(rules) = self.rules.get(&s) {
                v.add(rules, resource, action, object);
            }
        }
        v
    }

    /// Whether one subject is allowed (cached).
    fn allowed(&self, subject: &str, resource: &str, action: &str, object: &str) -> bool {
        let key = format!("{subject}\0{resource}\0{action}\0{object}");
        if let Some(v) = self.cache.lock().ok().and_then(|c| c.get(&key).copied()) {
            return v;
        }
        let v = self.verdict(subject, resource, action, object).allowed();
        if let Ok(mut c) = self.cache.lock() {
            if c.len() >= CACHE_LIMIT {
                c.clear();
            }
            c.insert(key, v);
        }
        v
    }

    /// Whether a group takes part in checks: it is the member of some `g` line.
    pub fn knows_group(&self, group: &str) -> bool {
        self.roles_of.contains_key(group)
    }

    /// The site decision for a user and its groups: the default role (which no deny takes
    /// away), then the user, then each group that some `g` line names.
    pub fn enforce(
        &self,
        subject: &str,
        groups: &[String],
        resource: &str,
        action: &str,
        object: &str,
    ) -> bool {
        if let Some(d) = &self.default_role {
            if self.allowed(d, resource, action, object) {
                return true;
            }
        }
        if self.allowed(subject, resource, action, object) {
            return true;
        }
        groups
            .iter()
            .filter(|g| self.knows_group(g))
            .any(|g| self.allowed(g, resource, action, object))
    }

    /// How many decisions are cached (for tests).
    pub fn cached(&self) -> usize {
        self.cache.lock().map(|c| c.len()).unwrap_or(0)
    }
}

/// One AppProject role, compiled: its policy lines (only those naming the role as subject and
/// an object in the project) and its groups.
#[derive(Debug, Default, Clone)]
pub struct ProjectRole {
    /// The role's rules.
    pub rules: Vec<Rule>,
    /// The groups whose members have the role.
    pub groups: Vec<String>,
}

/// The roles of one AppProject, compiled (cached by the project's resourceVersion).
#[derive(Debug, Default, Clone)]
pub struct ProjectRoles {
    /// The project's `metadata.resourceVersion` when compiled.
    pub version: String,
    /// Roles by name.
    pub roles: HashMap<String, ProjectRole>,
    /// Skipped policy lines with their reasons.
    pub problems: Vec<String>,
}

impl ProjectRoles {
    /// Compiles `spec.roles` of an AppProject.
    pub fn compile(project: &Value, mode: MatchMode) -> ProjectRoles {
        let name = project
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let mut out = ProjectRoles {
            version: project
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            ..Default::default()
        };
        let roles = project
            .pointer("/spec/roles")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for role in &roles {
            let Some(rname) = role.get("name").and_then(Value::as_str) else {
                continue;
            };
            let subject = format!("proj:{name}:{rname}");
            let strs = |k: &str| -> Vec<String> {
                role.get(k)
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let text = strs("policies").join("\n");
            let lines = parse(&text, &format!("AppProject {name} role {rname}"), mode);
            out.problems.extend(lines.problems);
            let prefix = format!("{name}/");
            let mut rules = Vec::new();
            for r in lines.rules {
                if r.subject != subject {
                    out.problems.push(format!(
                        "AppProject {name} role {rname}: a policy's subject must be {subject}"
                    ));
                } else if !(r.object_raw.starts_with(&prefix) || r.object_raw == name) {
                    out.problems.push(format!(
                        "AppProject {name} role {rname}: object {:?} is outside the project",
                        r.object_raw
                    ));
                } else {
                    rules.push(r);
                }
            }
            out.roles.insert(
                rname.to_string(),
                ProjectRole {
                    rules,
                    groups: strs("groups"),
                },
            );
        }
        out
    }

    /// The verdict of one role.
    pub fn verdict(&self, role: &str, resource: &str, action: &str, object: &str) -> Verdict {
        let mut v = Verdict::default();
        if let Some(r) = self.roles.get(role) {
            v.add(&r.rules, resource, action, object);
        }
        v
    }

    /// Whether some role bound to one of `groups` allows (and none of them denies).
    pub fn groups_allow(
        &self,
        groups: &[String],
        resource: &str,
        action: &str,
        object: &str,
    ) -> bool {
        if groups.is_empty() {
            return false;
        }
        let mut v = Verdict::default();
        for r in self.roles.values() {
            if r.groups.iter().any(|g| groups.contains(g)) {
                v.add(&r.rules, resource, action, object);
            }
        }
        v.allowed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(data: Value) -> Policy {
        Policy::from_config_map(Some(&json!({ "data": data })))
    }

    #[test]
    fn builtin_roles() {
        let p = Policy::from_config_map(None);
        assert!(p.enforce("admin", &[], "applications", "sync", "default/guestbook"));
        assert!(p.enforce("admin", &[], "projects", "get", "default"));
        assert!(!p.enforce("alice", &[], "applications", "get", "default/guestbook"));
        assert_eq!(p.scopes, vec!["groups"]);
        assert!(p.problems.is_empty(), "{:?}", p.problems);
    }

    #[test]
    fn allow_deny_default_and_glob_across_slashes() {
        let p = policy(json!({
            "policy.csv": "p, role:dev, applications, *, team-*/*, allow\n\
                           p, alice, applications, delete, team-a/*, deny\n\
                           g, alice, role:dev\n\
                           g, my-org:ops, role:admin\n",
            "policy.extra.csv": "p, bob, applications, sync, */prod-*, allow",
            "policy.default": "role:readonly",
        }));
        assert!(p.enforce("alice", &[], "applications", "sync", "team-a/web"));
        assert!(p.enforce("alice", &[], "applications", "sync", "team-b/ns/web"));
        assert!(!p.enforce("alice", &[], "applications", "delete", "team-a/web"));
        assert!(p.enforce("alice", &[], "applications", "delete", "team-b/web"));
        assert!(!p.enforce("alice", &[], "applications", "sync", "other/web"));
        // The default role allows get everywhere, and a deny cannot take it away.
        assert!(p.enforce("carol", &[], "applications", "get", "other/web"));
        assert!(p.enforce("bob", &[], "applications", "sync", "x/prod-1"));
        assert!(!p.enforce("bob", &[], "applications", "sync", "x/dev-1"));
        // Groups from g lines.
        let ops = vec!["my-org:ops".to_string()];
        assert!(p.enforce("dave", &ops, "clusters", "delete", "https://k"));
        assert!(!p.enforce(
            "dave",
            &["unknown".into()],
            "clusters",
            "delete",
            "https://k"
        ));
        assert!(p.cached() > 0);
    }

    #[test]
    fn deny_overrides_default_free_allows() {
        let p = policy(json!({
            "policy.csv": "p, role:ro, applications, get, *, allow\n\
                           p, role:ro, applications, get, secret/*, deny\n\
                           g, eve, role:ro",
        }));
        assert!(p.enforce("eve", &[], "applications", "get", "public/a"));
        assert!(!p.enforce("eve", &[], "applications", "get", "secret/a"));
        let d = policy(json!({
            "policy.csv": "p, role:readonly, applications, get, secret/*, deny",
            "policy.default": "role:readonly",
        }));
        // The default role's own deny applies to the default role.
        assert!(!d.enforce("x", &[], "applications", "get", "secret/a"));
    }

    #[test]
    fn regex_mode_and_bad_lines() {
        let p = policy(json!({
            "policy.matchMode": "regex",
            "policy.csv": "p, frank, applications, (get|sync), ^team-[0-9]+/.*$, allow\n\
                           p, frank, applications, get, (unclosed, allow\n\
                           nonsense line",
            "scopes": "[groups, email]",
        }));
        assert!(p.enforce("frank", &[], "applications", "sync", "team-7/web"));
        assert!(!p.enforce("frank", &[], "applications", "sync", "team-x/web"));
        assert_eq!(p.problems.len(), 2, "{:?}", p.problems);
        assert_eq!(p.scopes, vec!["groups", "email"]);
        // The built-in roles still work in regex mode.
        assert!(p.enforce("admin", &[], "applications", "sync", "a/b"));
    }

    #[test]
    fn project_roles() {
        let proj = json!({
            "metadata": {"name": "team-a", "resourceVersion": "7"},
            "spec": {"roles": [
                {"name": "ci", "groups": ["ci-bots"], "policies": [
                    "p, proj:team-a:ci, applications, sync, team-a/*, allow",
                    "p, proj:team-a:ci, applications, get, team-a/*, allow",
                    "p, proj:team-a:ci, applications, sync, team-a/frozen, deny",
                    "p, proj:team-a:ci, applications, get, team-b/*, allow",
                    "p, proj:team-b:ci, applications, get, team-a/*, allow"
                ]}
            ]}
        });
        let r = ProjectRoles::compile(&proj, MatchMode::Glob);
        assert_eq!(r.version, "7");
        assert_eq!(r.problems.len(), 2, "{:?}", r.problems);
        assert!(r
            .verdict("ci", "applications", "sync", "team-a/web")
            .allowed());
        assert!(!r
            .verdict("ci", "applications", "sync", "team-a/frozen")
            .allowed());
        assert!(!r
            .verdict("ci", "applications", "get", "team-b/web")
            .allowed());
        assert!(!r
            .verdict("other", "applications", "get", "team-a/web")
            .allowed());
        assert!(r.groups_allow(&["ci-bots".into()], "applications", "get", "team-a/x"));
        assert!(!r.groups_allow(&["devs".into()], "applications", "get", "team-a/x"));
    }

    #[test]
    fn ten_thousand_checks_are_fast() {
        let p = policy(json!({
            "policy.csv": "p, role:dev, applications, get, team-*/*, allow\ng, alice, role:dev",
        }));
        let objs: Vec<String> = (0..10_000)
            .map(|i| format!("team-{}/app-{i}", i % 50))
            .collect();
        let t = std::time::Instant::now();
        for _ in 0..2 {
            for o in &objs {
                assert!(p.enforce("alice", &[], "applications", "get", o));
            }
        }
        eprintln!(
            "20,000 checks (10,000 uncached, 10,000 cached): {:?}",
            t.elapsed()
        );
        assert!(
            t.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            t.elapsed()
        );
    }
}
