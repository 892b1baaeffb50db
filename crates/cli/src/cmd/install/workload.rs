//! The controller Deployment and its Services (metrics, webhook). Sealed Secrets has its own
//! Deployment (install/sealed.rs).

use serde_json::{json, Value};

use super::{Object, Spec, CONTROLLER};

/// Where the repository mirrors live in the Pod (an emptyDir).
pub const CACHE_DIR: &str = "/var/cache/fjord";
/// Size limit of the cache volume.
pub const CACHE_SIZE: &str = "10Gi";
/// /metrics, /healthz, /readyz.
pub const METRICS_PORT: u16 = 8082;
/// POST /api/webhook.
pub const WEBHOOK_PORT: u16 = 8083;
/// The non-root user and group of the container.
pub const USER_ID: u32 = 65532;

/// `app.kubernetes.io/name` (`app`) and `part-of`.
pub fn labels_of(app: &str) -> Value {
    json!({
        "app.kubernetes.io/name": app,
        "app.kubernetes.io/part-of": "fjord",
    })
}

/// The selector of the Pods of `app`.
pub fn selector_of(app: &str) -> Value {
    json!({"app.kubernetes.io/name": app})
}

/// What differs between the containers of the install (controller, Sealed Secrets); the
/// probes, environment and security settings are shared.
pub struct ContainerSpec<'a> {
    /// Container name.
    pub name: &'a str,
    /// Image reference.
    pub image: &'a str,
    /// Command line after the `fjord` entrypoint.
    pub args: Vec<String>,
    /// The `ports` list.
    pub ports: Value,
    /// Named port the probes hit.
    pub probe_port: &'a str,
    /// Path of the liveness probe (`/healthz` but for the API server).
    pub liveness_path: &'a str,
    /// Path of the readiness probe.
    pub readiness_path: &'a str,
    /// Requests and limits.
    pub resources: Value,
    /// The `volumeMounts` list.
    pub mounts: Value,
}

/// A container: `POD_NAME` from the downward API, HTTP probes, non-root, read-only root
/// filesystem, no capabilities.
pub fn container_of(c: ContainerSpec<'_>) -> Value {
    let probe = |path: &str, period: u32| {
        json!({
            "httpGet": {"path": path, "port": c.probe_port},
            "initialDelaySeconds": 5,
            "periodSeconds": period,
            "failureThreshold": 3,
        })
    };
    json!({
        "name": c.name,
        "image": c.image,
        "imagePullPolicy": "IfNotPresent",
        "args": c.args,
        "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "ports": c.ports,
        "livenessProbe": probe(c.liveness_path, 10),
        "readinessProbe": probe(c.readiness_path, 5),
        "resources": c.resources,
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "readOnlyRootFilesystem": true,
            "runAsNonRoot": true,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": c.mounts,
    })
}

/// A one-replica Deployment of `app` (also its ServiceAccount name) running `container` as
/// [`USER_ID`] with the RuntimeDefault seccomp profile.
pub fn deployment_of(app: &str, namespace: &str, container: Value, volumes: Value) -> Object {
    Object::plain(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": app, "namespace": namespace, "labels": labels_of(app)},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": selector_of(app)},
            "template": {
                "metadata": {"labels": labels_of(app)},
                "spec": {
                    "serviceAccountName": app,
                    "securityContext": {
                        "runAsNonRoot": true,
                        "runAsUser": USER_ID,
                        "runAsGroup": USER_ID,
                        "fsGroup": USER_ID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
    }))
}

/// A Service `name` selecting the Pods of `app`, one TCP port targeting the named port.
pub fn service_of(app: &str, name: &str, namespace: &str, port: u16, port_name: &str) -> Object {
    Object::plain(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": labels_of(app)},
        "spec": {
            "selector": selector_of(app),
            "ports": [{"name": port_name, "port": port, "targetPort": port_name, "protocol": "TCP"}],
        },
    }))
}

/// The container's command line (after the image's `fjord` entrypoint).
pub fn args(spec: &Spec) -> Vec<String> {
    let ns = &spec.namespace;
    let mut args = vec![
        "controller".to_string(),
        "--leader-elect".to_string(),
        format!("--namespace={ns}"),
        format!("--cache-dir={CACHE_DIR}"),
        format!("--metrics-addr=0.0.0.0:{METRICS_PORT}"),
        format!("--webhook-addr=0.0.0.0:{WEBHOOK_PORT}"),
    ];
    if spec.namespaced {
        // Sealed Secrets and External Secrets list their objects cluster-wide: a Role cannot
        // grant that, so the namespace install leaves them to a cluster install.
        args.extend([
            "--namespaced".to_string(),
            "--sealed-secrets=false".to_string(),
            "--external-secrets=false".to_string(),
        ]);
    } else {
        // Sealed Secrets runs as its own Deployment in kube-system (install/sealed.rs): a
        // Service reaches only Pods of its own namespace.
        args.push("--sealed-secrets=false".to_string());
    }
    args
}

fn container(spec: &Spec) -> Value {
    container_of(ContainerSpec {
        name: "controller",
        image: &spec.image,
        args: args(spec),
        ports: json!([
            {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
            {"name": "webhook", "containerPort": WEBHOOK_PORT, "protocol": "TCP"},
        ]),
        probe_port: "metrics",
        liveness_path: "/healthz",
        readiness_path: "/readyz",
        resources: json!({
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
        }),
        mounts: json!([
            {"name": "cache", "mountPath": CACHE_DIR},
            {"name": "tmp", "mountPath": "/tmp"},
        ]),
    })
}

/// The controller Deployment.
pub fn deployment(spec: &Spec) -> Object {
    deployment_of(
        CONTROLLER,
        &spec.namespace,
        container(spec),
        json!([
            {"name": "cache", "emptyDir": {"sizeLimit": CACHE_SIZE}},
            {"name": "tmp", "emptyDir": {}},
        ]),
    )
}

/// The Services: metrics and webhook.
pub fn services(spec: &Spec) -> Vec<Object> {
    let ns = &spec.namespace;
    vec![
        service_of(
            CONTROLLER,
            "fjord-controller-metrics",
            ns,
            METRICS_PORT,
            "metrics",
        ),
        service_of(CONTROLLER, "fjord-webhook", ns, WEBHOOK_PORT, "webhook"),
    ]
}
