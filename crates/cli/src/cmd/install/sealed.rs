//! The Sealed Secrets controller of the cluster install, laid out as upstream's: its own
//! Deployment (`fjord sealed-secrets-controller`, same image) in `kube-system`, its own
//! ServiceAccount and least-privilege RBAC, and the Service `sealed-secrets-controller` (port
//! `http`) selecting those Pods, which `kubeseal` and `fjord seal` reach through the API
//! server's service proxy (a Service only selects Pods of its own namespace).

use serde_json::{json, Value};

use super::rbac::Rule;
use super::workload::{container_of, deployment_of, labels_of, service_of, ContainerSpec};
use super::{Object, Spec};

/// Where upstream Sealed Secrets runs, and so where `kubeseal` looks for its Service; also the
/// namespace of the sealing keys and of the Lease.
pub const SEALED_NAMESPACE: &str = "kube-system";
/// Name of the Deployment, ServiceAccount, Service and Lease (`kubeseal --controller-name`'s
/// default).
pub const SEALED_NAME: &str = "sealed-secrets-controller";
/// Name of its ClusterRole, Role and bindings.
pub const SEALED_ROLE: &str = "fjord-sealed-secrets";
/// The Sealed Secrets HTTP API (/v1/cert.pem …).
pub const SEALED_PORT: u16 = 8080;

/// Cluster-wide rules of the Sealed Secrets controller.
pub const CLUSTER_RULES: &[Rule] = &[
    Rule {
        why: "SealedSecrets in every namespace are listed and watched (each change starts an unseal pass).",
        groups: &["bitnami.com"],
        resources: &["sealedsecrets"],
        verbs: &["list", "watch"],
    },
    Rule {
        why: "The Synced condition and observedGeneration are written to each SealedSecret's status (merge patch).",
        groups: &["bitnami.com"],
        resources: &["sealedsecrets/status"],
        verbs: &["patch"],
    },
    Rule {
        why: "Secrets: the unsealed Secrets are created and updated in the SealedSecret's namespace (any namespace), Secrets are watched and listed to recreate a deleted one, and the sealing keys are listed and created in kube-system (key renewal, /v1/rotate). No delete: a Secret goes with its SealedSecret through its ownerReference (garbage collector).",
        groups: &[""],
        resources: &["secrets"],
        verbs: &["get", "list", "watch", "create", "update"],
    },
    Rule {
        why: "Events on SealedSecrets (Unsealed, ErrUnsealFailed, ErrUpdateFailed).",
        groups: &[""],
        resources: &["events"],
        verbs: &["create"],
    },
];

/// Rules in kube-system only.
pub const LEASE_RULES: &[Rule] = &[Rule {
    why: "Leader election (--leader-elect): the Lease sealed-secrets-controller in kube-system is read, created and renewed.",
    groups: &["coordination.k8s.io"],
    resources: &["leases"],
    verbs: &["get", "create", "update"],
}];

fn labels() -> Value {
    labels_of(SEALED_NAME)
}

fn role(kind: &str, namespace: Option<&str>, rules: &[Rule]) -> Object {
    let mut meta = json!({"name": SEALED_ROLE, "labels": labels()});
    if let Some(ns) = namespace {
        meta["namespace"] = json!(ns);
    }
    let rule_json: Vec<Value> = rules
        .iter()
        .map(|r| json!({"apiGroups": r.groups, "resources": r.resources, "verbs": r.verbs}))
        .collect();
    Object {
        value: json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": kind,
            "metadata": meta,
            "rules": rule_json,
        }),
        rule_notes: rules.iter().map(|r| r.why).collect(),
    }
}

fn binding(kind: &str, role_kind: &str, namespace: Option<&str>) -> Object {
    let mut meta = json!({"name": SEALED_ROLE, "labels": labels()});
    if let Some(ns) = namespace {
        meta["namespace"] = json!(ns);
    }
    Object::plain(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": SEALED_ROLE},
        "subjects": [{"kind": "ServiceAccount", "name": SEALED_NAME, "namespace": SEALED_NAMESPACE}],
    }))
}

/// The container's command line (after the image's `fjord` entrypoint).
pub fn args() -> Vec<String> {
    vec![
        "sealed-secrets-controller".to_string(),
        "--leader-elect".to_string(),
        format!("--sealed-secrets-key-namespace={SEALED_NAMESPACE}"),
        format!("--sealed-secrets-addr=0.0.0.0:{SEALED_PORT}"),
    ]
}

fn container(spec: &Spec) -> Value {
    container_of(ContainerSpec {
        name: "sealed-secrets",
        image: &spec.image,
        args: args(),
        ports: json!([{"name": "http", "containerPort": SEALED_PORT, "protocol": "TCP"}]),
        probe_port: "http",
        liveness_path: "/healthz",
        // A standby serves /healthz but not the certificate: only the leader gets traffic.
        readiness_path: "/v1/cert.pem",
        resources: json!({
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        }),
        mounts: json!([{"name": "tmp", "mountPath": "/tmp"}]),
    })
}

/// Every Sealed Secrets object, in apply order: ServiceAccount, ClusterRole and binding, the
/// Lease Role and binding, the Deployment and the Service.
pub fn objects(spec: &Spec) -> Vec<Object> {
    let ns = Some(SEALED_NAMESPACE);
    vec![
        Object::plain(json!({
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": SEALED_NAME, "namespace": SEALED_NAMESPACE, "labels": labels()},
        })),
        role("ClusterRole", None, CLUSTER_RULES),
        binding("ClusterRoleBinding", "ClusterRole", None),
        role("Role", ns, LEASE_RULES),
        binding("RoleBinding", "Role", ns),
        deployment_of(
            SEALED_NAME,
            SEALED_NAMESPACE,
            container(spec),
            json!([{"name": "tmp", "emptyDir": {}}]),
        ),
        service_of(
            SEALED_NAME,
            SEALED_NAME,
            SEALED_NAMESPACE,
            SEALED_PORT,
            "http",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_selects_the_sealed_secrets_pods_of_its_own_namespace() {
        let spec = Spec {
            namespace: "argocd".into(),
            image: "fjord:test".into(),
            namespaced: false,
        };
        let objs = objects(&spec);
        let find = |kind: &str| {
            objs.iter()
                .find(|o| o.value["kind"] == kind)
                .map(|o| o.value.clone())
                .unwrap()
        };
        let (svc, dep) = (find("Service"), find("Deployment"));
        assert_eq!(svc["metadata"]["namespace"], dep["metadata"]["namespace"]);
        let pod_labels = &dep["spec"]["template"]["metadata"]["labels"];
        for (k, v) in svc["spec"]["selector"].as_object().unwrap() {
            assert_eq!(&pod_labels[k], v);
        }
        for r in CLUSTER_RULES.iter().chain(LEASE_RULES) {
            for v in ["escalate", "bind", "impersonate", "delete", "*"] {
                assert!(!r.verbs.contains(&v), "{v} in {:?}", r.resources);
            }
        }
    }
}
