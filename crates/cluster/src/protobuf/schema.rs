//! Field tables of the built-in messages kubectl's generator commands send (field numbers from
//! the upstream `generated.proto` files), keyed by the envelope's kind.

/// How a field's payload is decoded.
#[derive(Debug, Clone, Copy)]
pub enum Ty {
    /// A UTF-8 string.
    Str,
    /// A varint integer (int32/int64; negative values are two's complement).
    Int,
    /// A varint boolean.
    Bool,
    /// A nested message.
    Msg(&'static Msg),
    /// `map<string,string>`.
    MapStr,
    /// `map<string,bytes>` (base64 values).
    MapBytes,
    /// `map<string,Quantity>`.
    MapQuantity,
    /// `IntOrString` (type, intVal, strVal).
    IntOrString,
    /// `Time` (seconds, nanos) rendered RFC 3339.
    Time,
}

/// One field of a message.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// Protobuf field number.
    pub num: u32,
    /// JSON name; empty means the message is inlined into its parent.
    pub name: &'static str,
    /// Payload type.
    pub ty: Ty,
    /// Repeated (a JSON list).
    pub rep: bool,
    /// Kept even when zero-valued (pointer or non-omitempty fields).
    pub keep: bool,
}

/// A message: its known fields (unknown ones are skipped).
#[derive(Debug)]
pub struct Msg(pub &'static [Field]);

const fn f(num: u32, name: &'static str, ty: Ty) -> Field {
    Field {
        num,
        name,
        ty,
        rep: false,
        keep: false,
    }
}

const fn rep(num: u32, name: &'static str, ty: Ty) -> Field {
    Field {
        num,
        name,
        ty,
        rep: true,
        keep: false,
    }
}

const fn keep(num: u32, name: &'static str, ty: Ty) -> Field {
    Field {
        num,
        name,
        ty,
        rep: false,
        keep: true,
    }
}

use Ty::{Bool, Int, IntOrString, MapBytes, MapQuantity, MapStr, Str, Time};

static OWNER_REF: Msg = Msg(&[
    f(1, "kind", Str),
    f(3, "name", Str),
    f(4, "uid", Str),
    f(5, "apiVersion", Str),
    keep(6, "controller", Bool),
    keep(7, "blockOwnerDeletion", Bool),
]);

static OBJECT_META: Msg = Msg(&[
    f(1, "name", Str),
    f(2, "generateName", Str),
    f(3, "namespace", Str),
    f(5, "uid", Str),
    f(6, "resourceVersion", Str),
    f(7, "generation", Int),
    f(8, "creationTimestamp", Time),
    f(9, "deletionTimestamp", Time),
    keep(10, "deletionGracePeriodSeconds", Int),
    f(11, "labels", MapStr),
    f(12, "annotations", MapStr),
    rep(13, "ownerReferences", Ty::Msg(&OWNER_REF)),
    rep(14, "finalizers", Str),
]);

const META: Field = f(1, "metadata", Ty::Msg(&OBJECT_META));

static LOCAL_REF: Msg = Msg(&[f(1, "name", Str)]);
static OBJECT_REF: Msg = Msg(&[
    f(1, "kind", Str),
    f(2, "namespace", Str),
    f(3, "name", Str),
    f(4, "uid", Str),
    f(5, "apiVersion", Str),
    f(6, "resourceVersion", Str),
    f(7, "fieldPath", Str),
]);

static SELECTOR_REQ: Msg = Msg(&[
    f(1, "key", Str),
    f(2, "operator", Str),
    rep(3, "values", Str),
]);
static LABEL_SELECTOR: Msg = Msg(&[
    f(1, "matchLabels", MapStr),
    rep(2, "matchExpressions", Ty::Msg(&SELECTOR_REQ)),
]);

static CONTAINER_PORT: Msg = Msg(&[
    f(1, "name", Str),
    f(2, "hostPort", Int),
    f(3, "containerPort", Int),
    f(4, "protocol", Str),
    f(5, "hostIP", Str),
]);
static ENV_VAR: Msg = Msg(&[f(1, "name", Str), f(2, "value", Str)]);
static RESOURCES: Msg = Msg(&[f(1, "limits", MapQuantity), f(2, "requests", MapQuantity)]);
static CONTAINER: Msg = Msg(&[
    f(1, "name", Str),
    f(2, "image", Str),
    rep(3, "command", Str),
    rep(4, "args", Str),
    f(5, "workingDir", Str),
    rep(6, "ports", Ty::Msg(&CONTAINER_PORT)),
    rep(7, "env", Ty::Msg(&ENV_VAR)),
    f(8, "resources", Ty::Msg(&RESOURCES)),
    f(13, "terminationMessagePath", Str),
    f(14, "imagePullPolicy", Str),
    f(16, "stdin", Bool),
    f(17, "stdinOnce", Bool),
    f(18, "tty", Bool),
    f(20, "terminationMessagePolicy", Str),
    keep(24, "restartPolicy", Str),
]);
static POD_SPEC: Msg = Msg(&[
    rep(2, "containers", Ty::Msg(&CONTAINER)),
    f(3, "restartPolicy", Str),
    keep(4, "terminationGracePeriodSeconds", Int),
    keep(5, "activeDeadlineSeconds", Int),
    f(6, "dnsPolicy", Str),
    f(7, "nodeSelector", MapStr),
    f(8, "serviceAccountName", Str),
    f(9, "serviceAccount", Str),
    f(10, "nodeName", Str),
    f(11, "hostNetwork", Bool),
    f(12, "hostPID", Bool),
    f(13, "hostIPC", Bool),
    rep(15, "imagePullSecrets", Ty::Msg(&LOCAL_REF)),
    f(16, "hostname", Str),
    f(17, "subdomain", Str),
    f(19, "schedulerName", Str),
    rep(20, "initContainers", Ty::Msg(&CONTAINER)),
    keep(21, "automountServiceAccountToken", Bool),
    f(24, "priorityClassName", Str),
    keep(25, "priority", Int),
]);
static POD_TEMPLATE: Msg = Msg(&[META, f(2, "spec", Ty::Msg(&POD_SPEC))]);

static ROLLING_UPDATE: Msg = Msg(&[
    keep(1, "maxUnavailable", IntOrString),
    keep(2, "maxSurge", IntOrString),
]);
static DEPLOY_STRATEGY: Msg = Msg(&[
    f(1, "type", Str),
    f(2, "rollingUpdate", Ty::Msg(&ROLLING_UPDATE)),
]);
static DEPLOYMENT_SPEC: Msg = Msg(&[
    keep(1, "replicas", Int),
    f(2, "selector", Ty::Msg(&LABEL_SELECTOR)),
    f(3, "template", Ty::Msg(&POD_TEMPLATE)),
    f(4, "strategy", Ty::Msg(&DEPLOY_STRATEGY)),
    f(5, "minReadySeconds", Int),
    keep(6, "revisionHistoryLimit", Int),
    f(7, "paused", Bool),
    keep(9, "progressDeadlineSeconds", Int),
]);

static JOB_SPEC: Msg = Msg(&[
    keep(1, "parallelism", Int),
    keep(2, "completions", Int),
    keep(3, "activeDeadlineSeconds", Int),
    f(4, "selector", Ty::Msg(&LABEL_SELECTOR)),
    keep(5, "manualSelector", Bool),
    f(6, "template", Ty::Msg(&POD_TEMPLATE)),
    keep(7, "backoffLimit", Int),
    keep(8, "ttlSecondsAfterFinished", Int),
    keep(9, "completionMode", Str),
    keep(10, "suspend", Bool),
]);
static JOB_TEMPLATE: Msg = Msg(&[META, f(2, "spec", Ty::Msg(&JOB_SPEC))]);
static CRONJOB_SPEC: Msg = Msg(&[
    f(1, "schedule", Str),
    keep(2, "startingDeadlineSeconds", Int),
    f(3, "concurrencyPolicy", Str),
    keep(4, "suspend", Bool),
    f(5, "jobTemplate", Ty::Msg(&JOB_TEMPLATE)),
    keep(6, "successfulJobsHistoryLimit", Int),
    keep(7, "failedJobsHistoryLimit", Int),
    keep(8, "timeZone", Str),
]);

static SERVICE_PORT: Msg = Msg(&[
    f(1, "name", Str),
    f(2, "protocol", Str),
    keep(3, "port", Int),
    f(4, "targetPort", IntOrString),
    f(5, "nodePort", Int),
    keep(6, "appProtocol", Str),
]);
static SERVICE_SPEC: Msg = Msg(&[
    rep(1, "ports", Ty::Msg(&SERVICE_PORT)),
    f(2, "selector", MapStr),
    f(3, "clusterIP", Str),
    f(4, "type", Str),
    rep(5, "externalIPs", Str),
    f(7, "sessionAffinity", Str),
    f(8, "loadBalancerIP", Str),
    rep(9, "loadBalancerSourceRanges", Str),
    f(10, "externalName", Str),
    f(11, "externalTrafficPolicy", Str),
    f(12, "healthCheckNodePort", Int),
    f(13, "publishNotReadyAddresses", Bool),
    rep(18, "clusterIPs", Str),
    rep(19, "ipFamilies", Str),
    keep(20, "ipFamilyPolicy", Str),
    keep(21, "allocateLoadBalancerNodePorts", Bool),
    keep(22, "loadBalancerClass", Str),
    keep(23, "internalTrafficPolicy", Str),
]);

static POLICY_RULE: Msg = Msg(&[
    rep(1, "verbs", Str),
    rep(2, "apiGroups", Str),
    rep(3, "resources", Str),
    rep(4, "resourceNames", Str),
    rep(5, "nonResourceURLs", Str),
]);
static AGGREGATION_RULE: Msg = Msg(&[rep(1, "clusterRoleSelectors", Ty::Msg(&LABEL_SELECTOR))]);
static SUBJECT: Msg = Msg(&[
    f(1, "kind", Str),
    f(2, "apiGroup", Str),
    f(3, "name", Str),
    f(4, "namespace", Str),
]);
static ROLE_REF: Msg = Msg(&[f(1, "apiGroup", Str), f(2, "kind", Str), f(3, "name", Str)]);

static PDB_SPEC: Msg = Msg(&[
    keep(1, "minAvailable", IntOrString),
    f(2, "selector", Ty::Msg(&LABEL_SELECTOR)),
    keep(3, "maxUnavailable", IntOrString),
    keep(4, "unhealthyPodEvictionPolicy", Str),
]);

static SERVICE_BACKEND_PORT: Msg = Msg(&[f(1, "name", Str), f(2, "number", Int)]);
static SERVICE_BACKEND: Msg = Msg(&[
    f(1, "name", Str),
    f(2, "port", Ty::Msg(&SERVICE_BACKEND_PORT)),
]);
static TYPED_LOCAL_REF: Msg = Msg(&[
    keep(1, "apiGroup", Str),
    f(2, "kind", Str),
    f(3, "name", Str),
]);
static INGRESS_BACKEND: Msg = Msg(&[
    f(3, "resource", Ty::Msg(&TYPED_LOCAL_REF)),
    f(4, "service", Ty::Msg(&SERVICE_BACKEND)),
]);
static HTTP_PATH: Msg = Msg(&[
    f(1, "path", Str),
    f(2, "backend", Ty::Msg(&INGRESS_BACKEND)),
    keep(3, "pathType", Str),
]);
static HTTP_RULE: Msg = Msg(&[rep(1, "paths", Ty::Msg(&HTTP_PATH))]);
static INGRESS_RULE_VALUE: Msg = Msg(&[f(1, "http", Ty::Msg(&HTTP_RULE))]);
static INGRESS_RULE: Msg = Msg(&[f(1, "host", Str), f(2, "", Ty::Msg(&INGRESS_RULE_VALUE))]);
static INGRESS_TLS: Msg = Msg(&[rep(1, "hosts", Str), f(2, "secretName", Str)]);
static INGRESS_SPEC: Msg = Msg(&[
    f(1, "defaultBackend", Ty::Msg(&INGRESS_BACKEND)),
    rep(2, "tls", Ty::Msg(&INGRESS_TLS)),
    rep(3, "rules", Ty::Msg(&INGRESS_RULE)),
    keep(4, "ingressClassName", Str),
]);

static SCOPED_REQ: Msg = Msg(&[
    f(1, "scopeName", Str),
    f(2, "operator", Str),
    rep(3, "values", Str),
]);
static SCOPE_SELECTOR: Msg = Msg(&[rep(1, "matchExpressions", Ty::Msg(&SCOPED_REQ))]);
static QUOTA_SPEC: Msg = Msg(&[
    f(1, "hard", MapQuantity),
    rep(2, "scopes", Str),
    f(3, "scopeSelector", Ty::Msg(&SCOPE_SELECTOR)),
]);

static NAMESPACE_SPEC: Msg = Msg(&[rep(1, "finalizers", Str)]);

static NAMESPACE: Msg = Msg(&[META, f(2, "spec", Ty::Msg(&NAMESPACE_SPEC))]);
static CONFIG_MAP: Msg = Msg(&[
    META,
    f(2, "data", MapStr),
    f(3, "binaryData", MapBytes),
    keep(4, "immutable", Bool),
]);
static SECRET: Msg = Msg(&[
    META,
    f(2, "data", MapBytes),
    f(3, "type", Str),
    f(4, "stringData", MapStr),
    keep(5, "immutable", Bool),
]);
static SERVICE_ACCOUNT: Msg = Msg(&[
    META,
    rep(2, "secrets", Ty::Msg(&OBJECT_REF)),
    rep(3, "imagePullSecrets", Ty::Msg(&LOCAL_REF)),
    keep(4, "automountServiceAccountToken", Bool),
]);
static SERVICE: Msg = Msg(&[META, f(2, "spec", Ty::Msg(&SERVICE_SPEC))]);
static DEPLOYMENT: Msg = Msg(&[META, f(2, "spec", Ty::Msg(&DEPLOYMENT_SPEC))]);
static JOB: Msg = Msg(&[META, f(2, "spec", Ty::Msg(&JOB_SPEC))]);
static CRONJOB: Msg = Msg(&[META, f(2, "spec", Ty::Msg(&CRONJOB_SPEC))]);
static ROLE: Msg = Msg(&[META, rep(2, "rules", Ty::Msg(&POLICY_RULE))]);
static CLUSTER_ROLE: Msg = Msg(&[
    META,
    rep(2, "rules", Ty::Msg(&POLICY_RULE)),
    f(3, "aggregationRule", Ty::Msg(&AGGREGATION_RULE)),
]);
static BINDING: Msg = Msg(&[
    META,
    rep(2, "subjects", Ty::Msg(&SUBJECT)),
    f(3, "roleRef", Ty::Msg(&ROLE_REF)),
]);
static PRIORITY_CLASS: Msg = Msg(&[
    META,
    keep(2, "value", Int),
    f(3, "globalDefault", Bool),
    f(4, "description", Str),
    keep(5, "preemptionPolicy", Str),
]);
static PDB: Msg = Msg(&[META, f(2, "spec", Ty::Msg(&PDB_SPEC))]);
static INGRESS: Msg = Msg(&[META, f(2, "spec", Ty::Msg(&INGRESS_SPEC))]);
static QUOTA: Msg = Msg(&[META, f(2, "spec", Ty::Msg(&QUOTA_SPEC))]);
static RESOURCE_ATTRIBUTES: Msg = Msg(&[
    f(1, "namespace", Str),
    f(2, "verb", Str),
    f(3, "group", Str),
    f(4, "version", Str),
    f(5, "resource", Str),
    f(6, "subresource", Str),
    f(7, "name", Str),
]);
static NON_RESOURCE_ATTRIBUTES: Msg = Msg(&[f(1, "path", Str), f(2, "verb", Str)]);
static SSAR_SPEC: Msg = Msg(&[
    f(1, "resourceAttributes", Ty::Msg(&RESOURCE_ATTRIBUTES)),
    f(
        2,
        "nonResourceAttributes",
        Ty::Msg(&NON_RESOURCE_ATTRIBUTES),
    ),
]);
static SSAR: Msg = Msg(&[META, f(2, "spec", Ty::Msg(&SSAR_SPEC))]);
static SSRR_SPEC: Msg = Msg(&[f(1, "namespace", Str)]);
static SSRR: Msg = Msg(&[META, f(2, "spec", Ty::Msg(&SSRR_SPEC))]);
static SELF_SUBJECT_REVIEW: Msg = Msg(&[META]);

/// The message table of a top-level object, by `apiVersion` and `kind`.
pub fn object(api_version: &str, kind: &str) -> Option<&'static Msg> {
    Some(match (api_version, kind) {
        ("v1", "Namespace") => &NAMESPACE,
        ("v1", "ConfigMap") => &CONFIG_MAP,
        ("v1", "Secret") => &SECRET,
        ("v1", "ServiceAccount") => &SERVICE_ACCOUNT,
        ("v1", "Service") => &SERVICE,
        ("v1", "ResourceQuota") => &QUOTA,
        ("apps/v1", "Deployment") => &DEPLOYMENT,
        ("batch/v1", "Job") => &JOB,
        ("batch/v1", "CronJob") => &CRONJOB,
        ("rbac.authorization.k8s.io/v1", "Role") => &ROLE,
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => &CLUSTER_ROLE,
        ("rbac.authorization.k8s.io/v1", "RoleBinding" | "ClusterRoleBinding") => &BINDING,
        ("scheduling.k8s.io/v1", "PriorityClass") => &PRIORITY_CLASS,
        ("policy/v1", "PodDisruptionBudget") => &PDB,
        ("networking.k8s.io/v1", "Ingress") => &INGRESS,
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview") => &SSAR,
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview") => &SSRR,
        ("authentication.k8s.io/v1", "SelfSubjectReview") => &SELF_SUBJECT_REVIEW,
        _ => return None,
    })
}
