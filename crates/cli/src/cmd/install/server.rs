//! The API server and web UI of the install (`fjord server`, the same image): its
//! ServiceAccount, least-privilege RBAC (each rule with its reason), Deployment and the Service
//! `fjord-server` (port `http` 80 -> 8088).
//!
//! Cluster install: a ClusterRole for what it reads and writes in any namespace, and a Role in
//! the install namespace for its settings (it creates `argocd-secret` and
//! `argocd-initial-admin-secret`). Namespace install: one Role in the install namespace with
//! both.

use serde_json::{json, Value};

use super::workload::{container_of, deployment_of, labels_of, service_of, ContainerSpec};
use super::{Object, Spec};

/// Name of the Deployment, ServiceAccount, (Cluster)Roles, bindings and Service.
pub const SERVER: &str = "fjord-server";
/// The port the server listens on in the Pod.
pub const SERVER_PORT: u16 = 8088;
/// The port of the Service (`http`).
pub const SERVICE_PORT: u16 = 80;
/// Where the server's repository cache lives in the Pod (an emptyDir).
pub const CACHE_DIR: &str = "/var/cache/fjord";
/// Size limit of its cache volume (renders for managed-resources and manifests).
pub const CACHE_SIZE: &str = "5Gi";
/// The path the probes ask (answers without a session, and without the cluster).
pub const PROBE_PATH: &str = "/api/version";

/// One RBAC rule of the server and why it exists.
pub struct ServerRule {
    /// Why the rule exists (the YAML comment above it, and docs/install.md).
    pub why: &'static str,
    /// `apiGroups`.
    pub groups: &'static [&'static str],
    /// `resources`.
    pub resources: &'static [&'static str],
    /// `resourceNames` (empty: any name).
    pub names: &'static [&'static str],
    /// `verbs`.
    pub verbs: &'static [&'static str],
}

/// What the API reads and writes wherever the Applications and their objects are.
pub const API_RULES: &[ServerRule] = &[
    ServerRule {
        why: "The application and project lists, gets and streams (SSE) read and watch Applications and AppProjects (one shared watch cache, never a LIST per request).",
        groups: &["argoproj.io"],
        resources: &["applications", "appprojects"],
        names: &[],
        verbs: &["get", "list", "watch"],
    },
    ServerRule {
        why: "Actions of the API and UI: sync and rollback write the Application's operation field, refresh sets the argocd.argoproj.io/refresh annotation, terminate removes the operation, delete removes the Application (the controller prunes its objects through the finalizer). The server never writes an app's objects itself.",
        groups: &["argoproj.io"],
        resources: &["applications"],
        names: &[],
        verbs: &["patch", "update", "delete"],
    },
    ServerRule {
        why: "Project role tokens: creating or deleting one records or removes its id and issue time in the AppProject's spec.roles[].jwtTokens. Never create or delete an AppProject.",
        groups: &["argoproj.io"],
        resources: &["appprojects"],
        names: &[],
        verbs: &["patch", "update"],
    },
    ServerRule {
        why: "Resource tree, live manifests, managed-resources and diffs: the live objects of every app's tree (and their children: ReplicaSets, Pods...) are read and watched, of any kind. Read only; Secret values are masked before they leave the server.",
        groups: &["*"],
        resources: &["*"],
        names: &[],
        verbs: &["get", "list", "watch"],
    },
    ServerRule {
        why: "The Events of an Application and of its resources (the UI's events tab); kept even if the rule above is narrowed to the kinds the apps deploy.",
        groups: &[""],
        resources: &["events"],
        names: &[],
        verbs: &["get", "list", "watch"],
    },
];

/// The server's settings, in the install namespace only.
pub const SETTINGS_RULES: &[ServerRule] = &[
    ServerRule {
        why: "Sessions and accounts: argocd-secret (the token signing key, password hashes) is read and watched; at first start argocd-secret and argocd-initial-admin-secret are created when missing (create cannot be limited to names).",
        groups: &[""],
        resources: &["secrets"],
        names: &[],
        verbs: &["get", "list", "watch", "create"],
    },
    ServerRule {
        why: "Only these two Secrets are ever written: admin.password, admin.passwordMtime and server.secretkey in argocd-secret, the generated password in argocd-initial-admin-secret.",
        groups: &[""],
        resources: &["secrets"],
        names: &["argocd-secret", "argocd-initial-admin-secret"],
        verbs: &["update", "patch"],
    },
    ServerRule {
        why: "Settings: argocd-cm (local accounts, URL) and argocd-rbac-cm (policy.csv, policy.default, scopes) are read and watched, so a change applies without a restart.",
        groups: &[""],
        resources: &["configmaps"],
        names: &[],
        verbs: &["get", "list", "watch"],
    },
];

fn labels() -> Value {
    labels_of(SERVER)
}

fn rule_json(r: &ServerRule) -> Value {
    let mut rule = json!({"apiGroups": r.groups, "resources": r.resources, "verbs": r.verbs});
    if !r.names.is_empty() {
        rule["resourceNames"] = json!(r.names);
    }
    rule
}

/// A Role (`namespace` set) or ClusterRole `fjord-server` with `rules`, and its binding to the
/// ServiceAccount.
fn role_and_binding(
    namespace: Option<&str>,
    sa_namespace: &str,
    rules: &[&ServerRule],
) -> [Object; 2] {
    let (kind, binding_kind) = match namespace {
        Some(_) => ("Role", "RoleBinding"),
        None => ("ClusterRole", "ClusterRoleBinding"),
    };
    let mut meta = json!({"name": SERVER, "labels": labels()});
    if let Some(ns) = namespace {
        meta["namespace"] = json!(ns);
    }
    let role = Object {
        value: json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": kind,
            "metadata": meta.clone(),
            "rules": rules.iter().map(|r| rule_json(r)).collect::<Vec<_>>(),
        }),
        rule_notes: rules.iter().map(|r| r.why).collect(),
    };
    let binding = Object::plain(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": binding_kind,
        "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": SERVER},
        "subjects": [{"kind": "ServiceAccount", "name": SERVER, "namespace": sa_namespace}],
    }));
    [role, binding]
}

/// The container's command line (after the image's `fjord` entrypoint).
pub fn args(spec: &Spec) -> Vec<String> {
    let mut args = vec![
        "server".to_string(),
        format!("--addr=0.0.0.0:{SERVER_PORT}"),
        format!("--namespace={}", spec.namespace),
        format!("--cache-dir={CACHE_DIR}"),
    ];
    if spec.namespaced {
        args.push("--namespaced".to_string());
    }
    args
}

fn container(spec: &Spec) -> Value {
    container_of(ContainerSpec {
        name: "server",
        image: &spec.image,
        args: args(spec),
        ports: json!([{"name": "http", "containerPort": SERVER_PORT, "protocol": "TCP"}]),
        probe_port: "http",
        liveness_path: PROBE_PATH,
        readiness_path: PROBE_PATH,
        resources: json!({
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        }),
        mounts: json!([
            {"name": "cache", "mountPath": CACHE_DIR},
            {"name": "tmp", "mountPath": "/tmp"},
        ]),
    })
}

/// Every object of the server, in apply order: ServiceAccount, RBAC, Deployment, Service.
pub fn objects(spec: &Spec) -> Vec<Object> {
    let ns = spec.namespace.as_str();
    let mut out = vec![Object::plain(json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": SERVER, "namespace": ns, "labels": labels()},
    }))];
    if spec.namespaced {
        let all: Vec<&ServerRule> = API_RULES.iter().chain(SETTINGS_RULES).collect();
        out.extend(role_and_binding(Some(ns), ns, &all));
    } else {
        let api: Vec<&ServerRule> = API_RULES.iter().collect();
        let settings: Vec<&ServerRule> = SETTINGS_RULES.iter().collect();
        out.extend(role_and_binding(None, ns, &api));
        out.extend(role_and_binding(Some(ns), ns, &settings));
    }
    out.push(deployment_of(
        SERVER,
        ns,
        container(spec),
        json!([
            {"name": "cache", "emptyDir": {"sizeLimit": CACHE_SIZE}},
            {"name": "tmp", "emptyDir": {}},
        ]),
    ));
    out.push(service_of(SERVER, SERVER, ns, SERVICE_PORT, "http"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(namespaced: bool) -> Spec {
        Spec {
            namespace: "team".into(),
            image: "fjord:test".into(),
            namespaced,
        }
    }

    #[test]
    fn the_server_writes_only_applications_projects_and_its_two_secrets() {
        for r in API_RULES.iter().chain(SETTINGS_RULES) {
            assert!(!r.why.is_empty());
            for v in ["escalate", "bind", "impersonate", "*", "deletecollection"] {
                assert!(!r.verbs.contains(&v), "{v} in {:?}", r.resources);
            }
            let writes = r
                .verbs
                .iter()
                .any(|v| !["get", "list", "watch"].contains(v));
            if r.resources.contains(&"*") || r.resources.contains(&"events") {
                assert!(!writes, "{:?} written", r.resources);
            }
            if r.resources.contains(&"secrets") && r.verbs.contains(&"update") {
                assert_eq!(r.names, ["argocd-secret", "argocd-initial-admin-secret"]);
            }
        }
    }

    #[test]
    fn cluster_and_namespace_installs_bind_the_server_account() {
        let cluster = objects(&spec(false));
        let kinds: Vec<&str> = cluster
            .iter()
            .filter_map(|o| o.value["kind"].as_str())
            .collect();
        assert_eq!(
            kinds,
            [
                "ServiceAccount",
                "ClusterRole",
                "ClusterRoleBinding",
                "Role",
                "RoleBinding",
                "Deployment",
                "Service"
            ]
        );
        let narrow = objects(&spec(true));
        assert!(narrow
            .iter()
            .all(|o| o.value["metadata"]["namespace"] == "team"));
        let role = narrow.iter().find(|o| o.value["kind"] == "Role").unwrap();
        assert_eq!(
            role.rule_notes.len(),
            API_RULES.len() + SETTINGS_RULES.len()
        );
        let svc = narrow
            .iter()
            .find(|o| o.value["kind"] == "Service")
            .unwrap();
        assert_eq!(svc.value["spec"]["ports"][0]["port"], 80);
        assert_eq!(svc.value["spec"]["ports"][0]["targetPort"], "http");
        let dep = narrow
            .iter()
            .find(|o| o.value["kind"] == "Deployment")
            .unwrap();
        let c = &dep.value["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["args"][0], "server");
        assert_eq!(c["args"][2], "--namespace=team");
        assert_eq!(c["livenessProbe"]["httpGet"]["path"], PROBE_PATH);
        assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    }
}
