//! The `argoproj.io/v1alpha1` AppProject and its permission checks (pure functions).

use globset::GlobBuilder;
use serde_json::Value;

use super::application::{ApplicationDestination, ApplicationSource};
use super::macros::api_object;
use super::meta::ObjectMeta;
use super::pathmatch::path_match;

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
    /// A `{group, kind, name?}` entry of a resource white/blacklist. `name` is honoured in the
    /// cluster-scoped lists only (Argo CD's namespaced lists are plain `GroupKind`s).
    pub struct GroupKindPattern {
        /// API group pattern (Go's `filepath.Match`).
        group: String,
        /// Kind pattern.
        kind: String,
        /// Optional name pattern (cluster-scoped lists).
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

/// Argo CD's `isResourceInList` (namespaced lists: group and kind) and `isNamedResourceInList`
/// (cluster lists: also the optional name pattern).
fn in_list(list: &[GroupKindPattern], group: &str, kind: &str, name: Option<&str>) -> bool {
    list.iter().any(|p| {
        path_match(p.kind.as_deref().unwrap_or(""), kind)
            && path_match(p.group.as_deref().unwrap_or(""), group)
            && match (name, p.name.as_deref().filter(|n| !n.is_empty())) {
                (Some(name), Some(pattern)) => path_match(pattern, name),
                _ => true,
            }
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

    /// Whether the destination is permitted (`isDestinationMatched`): some entry matches by
    /// (server OR name glob) AND namespace glob, and no `!` entry excludes it: a `!` name, or a
    /// `!` server with the namespace matching, or a `!` namespace with the server matching.
    pub fn is_destination_permitted(&self, dest: &ApplicationDestination) -> bool {
        let server = dest.server.as_deref().unwrap_or("");
        let name = dest.name.as_deref().unwrap_or("");
        let namespace = dest.namespace.as_deref().unwrap_or("");
        let mut any = false;
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
                || (!server_ok && is_deny(item_server) && ns_ok)
                || (!ns_ok && is_deny(item_ns) && server_ok)
            {
                return false;
            }
        }
        any
    }

    /// Whether a group/kind (and, for cluster-scoped kinds, the object's name) may be
    /// deployed (`IsGroupKindNamePermitted`): cluster-scoped kinds need a
    /// `clusterResourceWhitelist` entry; namespaced kinds are allowed when
    /// `namespaceResourceWhitelist` is absent and denied when it is present but empty; a
    /// blacklist entry always wins.
    pub fn is_group_kind_permitted(
        &self,
        group: &str,
        kind: &str,
        name: &str,
        namespaced: bool,
    ) -> bool {
        if namespaced {
            let whitelisted = match &self.namespace_resource_whitelist {
                None => true,
                Some(list) => in_list(list, group, kind, None),
            };
            let blacklisted = self
                .namespace_resource_blacklist
                .as_deref()
                .is_some_and(|l| in_list(l, group, kind, None));
            return whitelisted && !blacklisted;
        }
        let whitelisted = self
            .cluster_resource_whitelist
            .as_deref()
            .is_some_and(|l| in_list(l, group, kind, Some(name)));
        let blacklisted = self
            .cluster_resource_blacklist
            .as_deref()
            .is_some_and(|l| in_list(l, group, kind, Some(name)));
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
        let cluster = Cluster {
            server: dest.server.as_deref().unwrap_or(""),
            name: dest.name.as_deref().unwrap_or(""),
        };
        let object = ObjectKey {
            group,
            kind,
            namespace,
            name,
            namespaced: !namespace.is_empty(),
        };
        self.check_object("", &object, &cluster).is_ok()
    }

    /// The one predicate every object the controller compares, syncs or prunes goes through
    /// (Argo CD's `validateSyncPermissions`): `Err` carries Argo CD's message naming the
    /// rule, `resource <group>:<kind> is not permitted in project <p>` or
    /// `namespace <ns> is not permitted in project '<p>'`. Cluster-scoped objects are judged
    /// by the cluster resource lists only; namespaced ones by the namespaced lists and by the
    /// project's destinations with the object's own namespace on `cluster`.
    pub fn check_object(
        &self,
        project: &str,
        object: &ObjectKey<'_>,
        cluster: &Cluster<'_>,
    ) -> Result<(), String> {
        if !self.is_group_kind_permitted(object.group, object.kind, object.name, object.namespaced)
        {
            return Err(format!(
                "resource {}:{} is not permitted in project {project}",
                object.group, object.kind
            ));
        }
        if object.namespaced {
            let dest = ApplicationDestination {
                server: Some(cluster.server.to_string()).filter(|s| !s.is_empty()),
                name: Some(cluster.name.to_string()).filter(|s| !s.is_empty()),
                namespace: Some(object.namespace.to_string()),
                ..Default::default()
            };
            if !self.is_destination_permitted(&dest) {
                return Err(format!(
                    "namespace {} is not permitted in project '{project}'",
                    object.namespace
                ));
            }
        }
        Ok(())
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

/// The destination cluster an object is judged on: its server URL and its name (Argo CD
/// matches destinations by either).
#[derive(Debug, Clone, Copy)]
pub struct Cluster<'a> {
    /// The API server URL.
    pub server: &'a str,
    /// The cluster's name (`in-cluster` for the controller's own).
    pub name: &'a str,
}

/// The identity of an object being judged.
#[derive(Debug, Clone, Copy)]
pub struct ObjectKey<'a> {
    /// API group (`""` for core).
    pub group: &'a str,
    /// Kind.
    pub kind: &'a str,
    /// Namespace (`""` for cluster-scoped objects).
    pub namespace: &'a str,
    /// Name.
    pub name: &'a str,
    /// Whether the kind is namespaced.
    pub namespaced: bool,
}

impl AppProject {
    /// The project's name.
    pub fn name(&self) -> &str {
        self.metadata
            .as_ref()
            .and_then(|m| m.name.as_deref())
            .unwrap_or_default()
    }

    /// Whether `source` may be deployed from: Argo CD's message when not (credentials in the
    /// URL redacted).
    pub fn check_source(&self, source: &ApplicationSource) -> Result<(), String> {
        if self
            .spec
            .clone()
            .unwrap_or_default()
            .is_source_permitted(source)
        {
            return Ok(());
        }
        Err(format!(
            "application repo {} is not permitted in project '{}'",
            fjord_source::redact_url(source.repo_url.as_deref().unwrap_or("")),
            self.name()
        ))
    }

    /// The permissions a sync of an app of this project to `cluster` runs with: every object
    /// the engine would read, apply or prune goes through [`AppProjectSpec::check_object`].
    pub fn sync_permissions(&self, cluster: &Cluster<'_>) -> fjord_sync::Permissions {
        let spec = self.spec.clone().unwrap_or_default();
        let project = self.name().to_string();
        let (server, name) = (cluster.server.to_string(), cluster.name.to_string());
        fjord_sync::Permissions::new(move |id, namespaced| {
            let object = ObjectKey {
                group: &id.group,
                kind: &id.kind,
                namespace: &id.namespace,
                name: &id.name,
                namespaced,
            };
            let cluster = Cluster {
                server: &server,
                name: &name,
            };
            spec.check_object(&project, &object, &cluster)
        })
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
        // Argo CD's namespaced lists are GroupKinds: a name pattern there is ignored.
        assert!(p.is_group_kind_permitted("", "ConfigMap", "other", true));
        assert!(!p.is_group_kind_permitted("", "Secret", "cm-a", true));
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

    #[test]
    fn cluster_lists_honour_names_and_blacklists_win() {
        let p = spec(json!({
            "clusterResourceWhitelist": [{"group": "", "kind": "Namespace", "name": "team-*"},
                {"group": "rbac.authorization.k8s.io", "kind": "*"}],
            "clusterResourceBlacklist": [{"group": "rbac.authorization.k8s.io", "kind": "ClusterRoleBinding"}]
        }));
        assert!(p.is_group_kind_permitted("", "Namespace", "team-a", false));
        assert!(!p.is_group_kind_permitted("", "Namespace", "kube-system", false));
        assert!(p.is_group_kind_permitted("rbac.authorization.k8s.io", "ClusterRole", "r", false));
        assert!(!p.is_group_kind_permitted(
            "rbac.authorization.k8s.io",
            "ClusterRoleBinding",
            "admin",
            false
        ));
        let empty = spec(json!({"clusterResourceWhitelist": []}));
        assert!(!empty.is_group_kind_permitted("", "Namespace", "x", false));
        let only_black =
            spec(json!({"namespaceResourceBlacklist": [{"group": "", "kind": "Secret"}]}));
        assert!(only_black.is_group_kind_permitted("apps", "Deployment", "d", true));
        assert!(!only_black.is_group_kind_permitted("", "Secret", "s", true));
    }

    #[test]
    fn destination_negation_as_argo() {
        let p = spec(json!({"destinations": [
            {"server": "*", "namespace": "*"},
            {"server": "*", "namespace": "!kube-*"}
        ]}));
        assert!(p.is_destination_permitted(&dest("https://k", "", "team-a")));
        assert!(!p.is_destination_permitted(&dest("https://k", "", "kube-system")));
        let by_name = spec(json!({"destinations": [
            {"name": "*", "namespace": "*"},
            {"name": "!prod", "namespace": "*"}
        ]}));
        assert!(by_name.is_destination_permitted(&dest("https://k", "staging", "a")));
        assert!(!by_name.is_destination_permitted(&dest("https://k", "prod", "a")));
        let deny_server = spec(json!({"destinations": [
            {"server": "*", "namespace": "*"},
            {"server": "!https://prod", "namespace": "web"}
        ]}));
        assert!(!deny_server.is_destination_permitted(&dest("https://prod", "", "web")));
        // The `!` server entry only applies where its namespace matches.
        assert!(deny_server.is_destination_permitted(&dest("https://prod", "", "db")));
    }

    #[test]
    fn check_object_gives_argo_messages() {
        let p = spec(json!({
            "destinations": [{"server": "https://kubernetes.default.svc", "namespace": "team-a"}],
            "namespaceResourceBlacklist": [{"group": "", "kind": "ResourceQuota"}]
        }));
        let cluster = Cluster {
            server: "https://kubernetes.default.svc",
            name: "in-cluster",
        };
        let obj = |group, kind, namespace, namespaced| ObjectKey {
            group,
            kind,
            namespace,
            name: "x",
            namespaced,
        };
        assert_eq!(
            p.check_object(
                "restricted",
                &obj("rbac.authorization.k8s.io", "ClusterRoleBinding", "", false),
                &cluster
            ),
            Err("resource rbac.authorization.k8s.io:ClusterRoleBinding is not permitted in project restricted".to_string())
        );
        assert_eq!(
            p.check_object("restricted", &obj("", "Namespace", "", false), &cluster),
            Err("resource :Namespace is not permitted in project restricted".to_string())
        );
        assert_eq!(
            p.check_object(
                "restricted",
                &obj("", "ConfigMap", "kube-system", true),
                &cluster
            ),
            Err("namespace kube-system is not permitted in project 'restricted'".to_string())
        );
        assert_eq!(
            p.check_object(
                "restricted",
                &obj("", "ResourceQuota", "team-a", true),
                &cluster
            ),
            Err("resource :ResourceQuota is not permitted in project restricted".to_string())
        );
        assert!(p
            .check_object(
                "restricted",
                &obj("apps", "Deployment", "team-a", true),
                &cluster
            )
            .is_ok());
        let other = Cluster {
            server: "https://elsewhere",
            name: "remote",
        };
        assert!(p
            .check_object("restricted", &obj("", "ConfigMap", "team-a", true), &other)
            .is_err());
    }

    #[test]
    fn sync_permissions_use_the_same_predicate() {
        let project: AppProject = serde_json::from_value(json!({
            "metadata": {"name": "restricted"},
            "spec": {"destinations": [{"name": "in-cluster", "namespace": "team-a"}]}
        }))
        .unwrap();
        let perms = project.sync_permissions(&Cluster {
            server: "https://kubernetes.default.svc",
            name: "in-cluster",
        });
        let id = |kind: &str, ns: &str| fjord_sync::ObjectRef::new("", "v1", kind, ns, "x");
        assert!(perms.check(&id("ConfigMap", "team-a"), true).is_ok());
        assert_eq!(
            perms.check(&id("ConfigMap", "team-b"), true),
            Err("namespace team-b is not permitted in project 'restricted'".to_string())
        );
        assert!(perms.check(&id("Namespace", ""), false).is_err());
    }
}
