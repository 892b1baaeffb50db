//! The controller's ServiceAccount and its permissions: a ClusterRole (cluster install) or a
//! Role in the install namespace (namespace install), each rule with the reason it exists
//! (printed as a YAML comment above the rule, and listed in docs/install.md).

use serde_json::{json, Value};

use super::{Object, Spec, CONTROLLER};

/// One RBAC rule and why the controller needs it.
pub struct Rule {
    /// Why the rule exists (one line; the YAML comment above it).
    pub why: &'static str,
    /// `apiGroups`.
    pub groups: &'static [&'static str],
    /// `resources`.
    pub resources: &'static [&'static str],
    /// `verbs`.
    pub verbs: &'static [&'static str],
}

/// Every verb an app's objects need: read and watch (compare, live-state cache, health),
/// write (sync, self-heal) and delete (prune, hooks' delete policies). Never `escalate`,
/// `bind` or `impersonate`.
const OBJECT_VERBS: &[&str] = &[
    "get", "list", "watch", "create", "update", "patch", "delete",
];

/// The rule that lets the controller deploy whatever an Application renders.
const APP_OBJECTS: Rule = Rule {
    why: "Applications deploy, compare, self-heal and prune objects of any kind; the live-state cache watches every type. This also covers the Secrets External Secrets writes, the settings ConfigMaps/Secrets and serviceaccounts/token (External Secrets' Kubernetes auth). No escalate, bind or impersonate: an app cannot ship a Role granting more than this (docs/install.md tells how to add them).",
    groups: &["*"],
    resources: &["*"],
    verbs: OBJECT_VERBS,
};

/// The controller's own API and the rest of what it needs even if the first rule is narrowed
/// to the kinds the apps deploy.
const OWN_RULES: &[Rule] = &[
    Rule {
        why: "The controller's own API: it reads Applications and AppProjects, writes their status and finalizers, and creates the default AppProject when missing.",
        groups: &["argoproj.io"],
        resources: &["applications", "applications/status", "appprojects"],
        verbs: &["get", "list", "watch", "create", "update", "patch"],
    },
    Rule {
        why: "Leader election and sharding: one Lease for the leader, one member Lease per replica when sharding.",
        groups: &["coordination.k8s.io"],
        resources: &["leases"],
        verbs: &["get", "list", "watch", "create", "update"],
    },
    Rule {
        why: "Kubernetes Events about syncs, health changes and secret refreshes.",
        groups: &[""],
        resources: &["events"],
        verbs: &["create", "patch"],
    },
    Rule {
        why: "Settings (argocd-cm, argocd-secret, repository and cluster Secrets) are read and watched.",
        groups: &[""],
        resources: &["configmaps", "secrets"],
        verbs: &["get", "list", "watch"],
    },
];

/// Cluster install only: cluster-scoped reads at start.
const CLUSTER_RULES: &[Rule] = &[
    Rule {
        why: "At start the controller checks that its CRDs are Established (the manifests install them; it creates only a missing one, which the first rule allows).",
        groups: &["apiextensions.k8s.io"],
        resources: &["customresourcedefinitions"],
        verbs: &["get", "list", "watch"],
    },
    Rule {
        why: "Namespaces: CreateNamespace=true sync option, the app namespaces' existence checks, External Secrets' ClusterExternalSecret namespace selectors.",
        groups: &[""],
        resources: &["namespaces"],
        verbs: &["get", "list", "watch", "create"],
    },
];

/// The rules of the controller's (Cluster)Role.
pub fn rules(namespaced: bool) -> Vec<&'static Rule> {
    let mut out = vec![&APP_OBJECTS];
    out.extend(OWN_RULES.iter());
    if !namespaced {
        out.extend(CLUSTER_RULES.iter());
    }
    out
}

fn labels() -> Value {
    json!({
        "app.kubernetes.io/name": CONTROLLER,
        "app.kubernetes.io/part-of": "fjord",
    })
}

/// The ServiceAccount, the (Cluster)Role and its binding.
pub fn objects(spec: &Spec) -> Vec<Object> {
    let ns = spec.namespace.as_str();
    let account = Object::plain(json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": CONTROLLER, "namespace": ns, "labels": labels()},
    }));
    let rules = rules(spec.namespaced);
    let rule_json: Vec<Value> = rules
        .iter()
        .map(|r| json!({"apiGroups": r.groups, "resources": r.resources, "verbs": r.verbs}))
        .collect();
    let (role_kind, binding_kind) = if spec.namespaced {
        ("Role", "RoleBinding")
    } else {
        ("ClusterRole", "ClusterRoleBinding")
    };
    let mut role_meta = json!({"name": CONTROLLER, "labels": labels()});
    let mut binding_meta = role_meta.clone();
    if spec.namespaced {
        role_meta["namespace"] = json!(ns);
        binding_meta["namespace"] = json!(ns);
    }
    let role = Object {
        value: json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": role_kind,
            "metadata": role_meta,
            "rules": rule_json,
        }),
        rule_notes: rules.iter().map(|r| r.why).collect(),
    };
    let binding = Object::plain(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": binding_kind,
        "metadata": binding_meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": CONTROLLER},
        "subjects": [{"kind": "ServiceAccount", "name": CONTROLLER, "namespace": ns}],
    }));
    vec![account, role, binding]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_rule_grants_escalate_bind_or_impersonate() {
        for namespaced in [false, true] {
            for r in rules(namespaced) {
                for v in ["escalate", "bind", "impersonate", "*"] {
                    assert!(!r.verbs.contains(&v), "{v} in {:?}", r.resources);
                }
                assert!(!r.why.is_empty());
            }
        }
    }

    #[test]
    fn the_namespace_install_has_only_namespaced_rules() {
        let narrow = rules(true);
        assert!(narrow.iter().all(|r| !r
            .resources
            .iter()
            .any(|x| *x == "customresourcedefinitions" || *x == "namespaces")));
        assert!(rules(false).len() > narrow.len());
    }
}
