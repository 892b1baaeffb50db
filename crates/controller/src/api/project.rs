//! The `argoproj.io/v1alpha1` AppProject and its permission checks (pure functions).

use globset::GlobBuilder;
use serde_json::Value;

use super::application::{ApplicationDestination, ApplicationSource};
use super::macros::api_object;
use super::meta::ObjectMeta;

api_object! {
    /// An Argo CD AppProject object.
    pub struct AppProject {
        /// `apiVersion`.
        api_version: String,
        /// `kind`.
        kind: String,
        /// Metadata.
        metadata: ObjectMeta,
        /// Spec.
        spec: AppProjectSpec,
        /// Status (free form).
        status: Value,
    }
}

api_object! {
    /// `spec` of an AppProject.
    pub struct AppProjectSpec {
        /// Description.
        description: String,
        /// Allowed source repository globs (`!` denies).
        source_repos: Vec<String>,
        /// Allowed destinations.
        destinations: Vec<ApplicationDestination>,
        /// Namespaces where Applications of this project may live.
        source_namespaces: Vec<String>,
        /// Allowed cluster-scoped kinds (empty ⇒ none).
        cluster_resource_whitelist: Vec<GroupKindPattern>,
        /// Denied cluster-scoped kinds.
        cluster_resource_blacklist: Vec<GroupKindPattern>,
        /// Allowed namespaced kinds (absent ⇒ all, empty ⇒ none).
        namespace_resource_whitelist: Vec<GroupKindPattern>,
        /// Denied namespaced kinds.
        namespace_resource_blacklist: Vec<GroupKindPattern>,
        /// Sync windows (free form).
        sync_windows: Vec<Value>,
        /// RBAC roles (free form; ignored by the engine).
        roles: Vec<Value>,
        /// Orphaned-resource monitoring (free form).
        orphaned_resources: Value,
        /// Impersonation service accounts (free form).
        destination_service_accounts: Vec<Value>,
        /// Destinations must be project-scoped clusters.
        permit_only_project_scoped_clusters: bool,
        /// Deprecated signature keys (free form).
        signature_keys: Vec<Value>,
        /// Commit-signature policy (free form).
        source_integrity: Value,
    }
}

api_object! {
    /// A `{group, kind, name?}` entry of a resource white/blacklist.
    pub struct GroupKindPattern {
        /// API group pattern (`filepath.Match` style).
        group: String,
        /// Kind pattern.
        kind: String,
        /// Optional name pattern.
        name: String,
    }
}

/// Matches `text` against an Argo glob (`*`, `?`, `[..]`, `{a,b}`); with `separator`, `*`
/// does not cross `/` while `**` does. A bare `*` matches everything. A pattern that does
/// not compile matches nothing.
pub fn glob_match(pattern: &str, text: &str, separator: bool) -> bool {
    if pattern == "*" || pattern == text {
        return true;
    }
    GlobBuilder::new(pattern)
        .literal_separator(separator)
        .backslash_escape(true)
        .build()
        .map(|g| g.compile_matcher().is_match(text))
        .unwrap_or(false)
}

fn is_deny(pattern: &str) -> bool {
    pattern.starts_with('!')
}

/// Argo's `globMatch` with negation: `!p` matches every value that `p` does not.
fn glob_match_neg(pattern: &str, text: &str, separator: bool) -> bool {
    match pattern.strip_prefix('!') {
        Some(p) => !glob_match(p, text, separator),
        None => glob_match(pattern, text, separator),
    }
}

/// Normalises a git URL the way Argo compares repositories: trimmed, lower-cased,
/// scp-style `user@host:path` turned into `user@host/path`, `ssh://` and `.git` removed.
pub fn normalize_git_url(url: &str) -> String {
    let mut repo = url.trim().to_lowercase();
    let scp_like = !repo.contains("://")
        && repo.contains('@')
        && repo
            .find(':')
            .is_some_and(|c| repo.find('/').is_none_or(|s| c < s));
    if scp_like {
        repo = repo.replacen(':', "/", 1);
    }
    if let Some(r) = repo.strip_prefix("ssh://") {
        repo = r.to_string();
    }
    if let Some(r) = repo.strip_suffix(".git") {
        repo = r.to_string();
    }
    repo
}

fn in_list(list: &[GroupKindPattern], group: &str, kind: &str, name: &str) -> bool {
    list.iter().any(|p| {
        glob_match(p.group.as_deref().unwrap_or(""), group, true)
            && glob_match(p.kind.as_deref().unwrap_or(""), kind, true)
            && p.name
                .as_deref()
                .filter(|n| !n.is_empty())
                .is_none_or(|n| glob_match(n, name, true))
    })
}

impl AppProjectSpec {
    /// Whether the source's repository is permitted (`IsSourcePermitted`): at least one
    /// positive match and no matching `!` pattern.
    pub fn is_source_permitted(&self, source: &ApplicationSource) -> bool {
        let src = normalize_git_url(source.repo_url.as_deref().unwrap_or(""));
        let mut any = false;
        for pattern in self.source_repos.iter().flatten() {
            let normalized = match pattern.strip_prefix('!') {
                Some(p) => format!("!{}", normalize_git_url(p)),
                None => normalize_git_url(pattern),
            };
            let matched = glob_match_neg(&normalized, &src, true);
            if matched {
                any = true;
            } else if is_deny(&normalized) {
                return false;
            }
        }
        any
    }

    /// Whether the destination is permitted: (server OR name glob) AND namespace glob in
    /// some entry, and no `!` entry excludes it.
    pub fn is_destination_permitted(&self, dest: &ApplicationDestination) -> bool {
        let server = dest.server.as_deref().unwrap_or("");
        let name = dest.name.as_deref().unwrap_or("");
        let namespace = dest.namespace.as_deref().unwrap_or("");
        let mut any = false;
        let mut no_deny = true;
        for item in self.destinations.iter().flatten() {
            let item_server = item.server.as_deref().unwrap_or("");
            let item_name = item.name.as_deref().unwrap_or("");
            let item_ns = item.namespace.as_deref().unwrap_or("");
            let name_ok = !name.is_empty() && glob_match_neg(item_name, name, false);
            let server_ok = !server.is_empty() && glob_match_neg(item_server, server, false);
            let ns_ok = glob_match_neg(item_ns, namespace, false);
            if (server_ok || name_ok) && ns_ok {
                any = true;
            } else if (!name_ok && is_deny(item_name))
                || (!server_ok && is_deny(item_server))
                || (!ns_ok && is_deny(item_ns))
            {
                no_deny = false;
            }
        }
        any && no_deny
    }

    /// Whether a group/kind (and object name) may be deployed (`IsGroupKindPermitted`):
    /// cluster-scoped kinds need a whitelist entry; namespaced kinds are allowed when the
    /// whitelist is absent; blacklists always win.
    pub fn is_group_kind_permitted(
        &self,
        group: &str,
        kind: &str,
        name: &str,
        namespaced: bool,
    ) -> bool {
        let (white, black) = if namespaced {
            (
                &self.namespace_resource_whitelist,
                &self.namespace_resource_blacklist,
            )
        } else {
            (
                &self.cluster_resource_whitelist,
                &self.cluster_resource_blacklist,
            )
        };
        let whitelisted = match white {
            None => namespaced,
            Some(list) => !list.is_empty() && in_list(list, group, kind, name),
        };
        let blacklisted = black
            .as_deref()
            .is_some_and(|l| in_list(l, group, kind, name));
        whitelisted && !blacklisted
    }

    /// Whether a resource is permitted: its kind, and for namespaced objects the
    /// destination with the object's namespace.
    pub fn is_resource_permitted(
        &self,
        group: &str,
        kind: &str,
        name: &str,
        namespace: &str,
        dest: &ApplicationDestination,
    ) -> bool {
        if !self.is_group_kind_permitted(group, kind, name, !namespace.is_empty()) {
            return false;
        }
        if namespace.is_empty() {
            return true;
        }
        let d = ApplicationDestination {
            server: dest.server.clone(),
            name: dest.name.clone(),
            namespace: Some(namespace.to_string()),
            ..Default::default()
        };
        self.is_destination_permitted(&d)
    }

    /// Whether an Application living in `app_namespace` may use this project. Apps in the
    /// controller namespace (or with no namespace) always may; others need a
    /// `sourceNamespaces` glob match.
    pub fn is_app_namespace_permitted(
        &self,
        app_namespace: &str,
        controller_namespace: &str,
    ) -> bool {
        if app_namespace.is_empty() || app_namespace == controller_namespace {
            return true;
        }
        self.source_namespaces
            .iter()
            .flatten()
            .any(|p| glob_match(p, app_namespace, false))
    }
}

/// The built-in `default` AppProject (everything allowed), as Argo creates it.
pub fn default_project(namespace: &str) -> Value {
    serde_json::json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": "default", "namespace": namespace},
        "spec": {
            "sourceRepos": ["*"],
            "destinations": [{"server": "*", "namespace": "*"}],
            "clusterResourceWhitelist": [{"group": "*", "kind": "*"}]
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: Value) -> AppProjectSpec {
        serde_json::from_value(v).unwrap()
    }
    fn src(url: &str) -> ApplicationSource {
        ApplicationSource {
            repo_url: Some(url.into()),
            ..Default::default()
        }
    }
    fn dest(server: &str, name: &str, ns: &str) -> ApplicationDestination {
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        ApplicationDestination {
            server: opt(server),
            name: opt(name),
            namespace: opt(ns),
            ..Default::default()
        }
    }

    #[test]
    fn sources() {
        let p = spec(
            json!({"sourceRepos": ["https://github.com/org/*", "!https://github.com/org/secret"]}),
        );
        assert!(p.is_source_permitted(&src("https://github.com/org/app.git")));
        assert!(p.is_source_permitted(&src("https://GitHub.com/org/App")));
        assert!(!p.is_source_permitted(&src("https://github.com/org/secret.git")));
        // As in Argo, a `!` entry also counts as a positive match for everything else.
        assert!(p.is_source_permitted(&src("https://gitlab.com/org/app")));
        let plain = spec(json!({"sourceRepos": ["https://github.com/org/*"]}));
        assert!(
            !plain.is_source_permitted(&src("https://github.com/org/sub/app")),
            "* must not cross /"
        );
        assert!(!plain.is_source_permitted(&src("https://gitlab.com/org/app")));
        let deep = spec(json!({"sourceRepos": ["https://github.com/org/**"]}));
        assert!(deep.is_source_permitted(&src("https://github.com/org/sub/app")));
        let star = spec(json!({"sourceRepos": ["*"]}));
        assert!(star.is_source_permitted(&src("git@github.com:x/y.git")));
        assert!(!spec(json!({})).is_source_permitted(&src("https://a/b")));
        let scp = spec(json!({"sourceRepos": ["git@github.com:org/*"]}));
        assert!(scp.is_source_permitted(&src("git@github.com:org/repo.git")));
    }

    #[test]
    fn git_url_normalisation() {
        assert_eq!(
            normalize_git_url(" git@GitHub.com:Org/Repo.git "),
            "git@github.com/org/repo"
        );
        assert_eq!(normalize_git_url("ssh://git@host/x.git"), "git@host/x");
        assert_eq!(normalize_git_url("https://h/x"), "https://h/x");
    }

    #[test]
    fn destinations() {
        let p = spec(json!({"destinations": [
            {"server": "https://kubernetes.default.svc", "namespace": "team-*"},
            {"name": "prod", "namespace": "*"},
            {"server": "*", "namespace": "!kube-system"}
        ]}));
        assert!(p.is_destination_permitted(&dest("https://kubernetes.default.svc", "", "team-a")));
        assert!(p.is_destination_permitted(&dest("", "prod", "anything")));
        assert!(!p.is_destination_permitted(&dest(
            "https://kubernetes.default.svc",
            "",
            "kube-system"
        )));
        assert!(p.is_destination_permitted(&dest("https://other", "", "default")));
        assert!(!spec(json!({})).is_destination_permitted(&dest("s", "", "n")));
    }

    #[test]
    fn group_kinds() {
        let absent = spec(json!({}));
        assert!(absent.is_group_kind_permitted("apps", "Deployment", "x", true));
        assert!(
            !absent.is_group_kind_permitted("", "Namespace", "x", false),
            "empty cluster whitelist denies"
        );
        let empty = spec(json!({"namespaceResourceWhitelist": []}));
        assert!(!empty.is_group_kind_permitted("apps", "Deployment", "x", true));
        let p = spec(json!({
            "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
            "clusterResourceBlacklist": [{"group": "rbac.authorization.k8s.io", "kind": "Cluster*"}],
            "namespaceResourceWhitelist": [{"group": "apps", "kind": "*"}, {"group": "", "kind": "ConfigMap", "name": "cm-*"}],
            "namespaceResourceBlacklist": [{"group": "apps", "kind": "DaemonSet"}]
        }));
        assert!(p.is_group_kind_permitted("", "Namespace", "ns", false));
        assert!(!p.is_group_kind_permitted("rbac.authorization.k8s.io", "ClusterRole", "r", false));
        assert!(p.is_group_kind_permitted("apps", "Deployment", "d", true));
        assert!(!p.is_group_kind_permitted("apps", "DaemonSet", "d", true));
        assert!(p.is_group_kind_permitted("", "ConfigMap", "cm-a", true));
        assert!(!p.is_group_kind_permitted("", "ConfigMap", "other", true));
        let d = dest("https://kubernetes.default.svc", "", "");
        let q = spec(json!({"destinations": [{"server": "*", "namespace": "web"}]}));
        assert!(q.is_resource_permitted("apps", "Deployment", "d", "web", &d));
        assert!(!q.is_resource_permitted("apps", "Deployment", "d", "db", &d));
    }

    #[test]
    fn app_namespaces_and_default() {
        let p = spec(json!({"sourceNamespaces": ["team-*"]}));
        assert!(p.is_app_namespace_permitted("argocd", "argocd"));
        assert!(p.is_app_namespace_permitted("team-x", "argocd"));
        assert!(!p.is_app_namespace_permitted("other", "argocd"));
        let def: AppProject = serde_json::from_value(default_project("argocd")).unwrap();
        let s = def.spec.unwrap();
        assert!(s.is_source_permitted(&src("https://x/y")));
        assert!(s.is_destination_permitted(&dest("https://k", "", "ns")));
        assert!(s.is_group_kind_permitted("", "Namespace", "n", false));
    }
}
