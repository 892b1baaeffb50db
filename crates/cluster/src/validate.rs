//! Object validation: names, labels, annotations and the required fields of the common kinds.
//! Failures are 422 Invalid with one cause per problem, as the apiserver reports them.

use serde_json::Value;

use crate::errors::{ApiError, Cause};
use crate::kinds::ResourceType;

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// RFC 1123 subdomain.
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

fn is_label_value(s: &str) -> bool {
    s.is_empty()
        || (s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && s.as_bytes()[0].is_ascii_alphanumeric()
            && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric())
}

fn is_qualified_name(s: &str) -> bool {
    let (prefix, name) = match s.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    prefix.is_none_or(is_dns_subdomain) && !name.is_empty() && is_label_value(name)
}

fn required(causes: &mut Vec<Cause>, field: &str) {
    causes.push(Cause::new("FieldValueRequired", "Required value", field));
}

fn invalid(causes: &mut Vec<Cause>, field: &str, value: &str, why: &str) {
    causes.push(Cause::new(
        "FieldValueInvalid",
        format!("Invalid value: \"{value}\": {why}"),
        field,
    ));
}

fn check_meta(rt: &ResourceType, obj: &Value, causes: &mut Vec<Cause>) {
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let label_names = matches!(rt.kind.as_str(), "Namespace" | "Service");
    if name.is_empty() {
        causes.push(Cause::new(
            "FieldValueRequired",
            "Required value: name or generateName is required",
            "metadata.name",
        ));
    } else if label_names && !is_dns_label(name) {
        invalid(causes, "metadata.name", name, LABEL_MSG);
    } else if !label_names
        && !rt.kind.starts_with("Cluster")
        && !matches!(rt.kind.as_str(), "Role" | "RoleBinding")
        && !is_dns_subdomain(name)
    {
        invalid(causes, "metadata.name", name, SUBDOMAIN_MSG);
    }
    if let Some(labels) = obj.pointer("/metadata/labels").and_then(Value::as_object) {
        for (k, v) in labels {
            if !is_qualified_name(k) {
                invalid(causes, "metadata.labels", k, "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character");
            }
            match v.as_str() {
                Some(s) if is_label_value(s) => {}
                _ => invalid(causes, "metadata.labels", v.to_string().trim_matches('"'), "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"),
            }
        }
    }
    if let Some(ann) = obj
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
    {
        for (k, v) in ann {
            if !is_qualified_name(k) {
                invalid(causes, "metadata.annotations", k, "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character");
            }
            if !v.is_string() {
                invalid(
                    causes,
                    &format!("metadata.annotations[{k}]"),
                    &v.to_string(),
                    "annotation values must be strings",
                );
            }
        }
    }
}

fn check_pod_spec(spec: Option<&Value>, path: &str, causes: &mut Vec<Cause>) {
    let containers = spec
        .and_then(|s| s.get("containers"))
        .and_then(Value::as_array);
    match containers {
        None => required(causes, &format!("{path}.containers")),
        Some(cs) if cs.is_empty() => required(causes, &format!("{path}.containers")),
        Some(cs) => {
            for (i, c) in cs.iter().enumerate() {
                if c["name"].as_str().is_none_or(str::is_empty) {
                    required(causes, &format!("{path}.containers[{i}].name"));
                }
                if c["image"].as_str().is_none_or(str::is_empty) {
                    required(causes, &format!("{path}.containers[{i}].image"));
                }
            }
        }
    }
}

fn check_workload(obj: &Value, causes: &mut Vec<Cause>, needs_selector: bool) {
    let spec = obj.get("spec");
    let selector = spec.and_then(|s| s.get("selector"));
    if needs_selector && selector.is_none_or(Value::is_null) {
        required(causes, "spec.selector");
    }
    let template = spec.and_then(|s| s.get("template"));
    if template.is_none_or(Value::is_null) {
        required(causes, "spec.template");
        return;
    }
    if let Some(ml) = selector
        .and_then(|s| s.get("matchLabels"))
        .and_then(Value::as_object)
    {
        let labels = template
            .and_then(|t| t.pointer("/metadata/labels"))
            .and_then(Value::as_object);
        let ok = ml
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v));
        if !ok {
            causes.push(Cause::new(
                "FieldValueInvalid",
                "Invalid value: map[string]string(nil): `selector` does not match template `labels`",
                "spec.template.metadata.labels",
            ));
        }
    }
    check_pod_spec(
        template.and_then(|t| t.get("spec")),
        "spec.template.spec",
        causes,
    );
}

fn check_kind(rt: &ResourceType, obj: &Value, causes: &mut Vec<Cause>) {
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet") => {
            check_workload(obj, causes, true)
        }
        ("batch", "Job") => check_workload(obj, causes, false),
        ("", "Pod") => check_pod_spec(obj.get("spec"), "spec", causes),
        ("", "Service") => {
            let spec = &obj["spec"];
            let headless = spec["clusterIP"] == "None" || spec["type"] == "ExternalName";
            let ports = spec["ports"].as_array();
            if !headless && ports.is_none_or(Vec::is_empty) {
                required(causes, "spec.ports");
            }
            for (i, p) in ports.into_iter().flatten().enumerate() {
                match p["port"].as_i64() {
                    Some(n) if (1..=65535).contains(&n) => {}
                    Some(n) => causes.push(Cause::new(
                        "FieldValueInvalid",
                        format!("Invalid value: {n}: must be between 1 and 65535, inclusive"),
                        format!("spec.ports[{i}].port"),
                    )),
                    None => required(causes, &format!("spec.ports[{i}].port")),
                }
            }
        }
        ("", "ResourceQuota") => quota_scopes(obj, causes),
        ("", "ConfigMap" | "Secret") => {
            for field in ["data", "binaryData", "stringData"] {
                for k in obj[field].as_object().into_iter().flat_map(|m| m.keys()) {
                    if k.is_empty()
                        || !k
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
                    {
                        invalid(causes, &format!("{field}[{k}]"), k, "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')");
                    }
                }
            }
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            let spec = &obj["spec"];
            let group = spec["group"].as_str().unwrap_or("");
            let plural = spec
                .pointer("/names/plural")
                .and_then(Value::as_str)
                .unwrap_or("");
            if group.is_empty() {
                required(causes, "spec.group");
            }
            if plural.is_empty() {
                required(causes, "spec.names.plural");
            }
            if spec
                .pointer("/names/kind")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                required(causes, "spec.names.kind");
            }
            let name = obj
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            if !group.is_empty() && !plural.is_empty() && name != format!("{plural}.{group}") {
                invalid(
                    causes,
                    "metadata.name",
                    name,
                    "must be spec.names.plural+\".\"+spec.group",
                );
            }
            let versions = spec["versions"].as_array();
            if versions.is_none_or(Vec::is_empty) {
                required(causes, "spec.versions");
            } else if versions
                .into_iter()
                .flatten()
                .filter(|v| v["storage"] == Value::Bool(true))
                .count()
                != 1
            {
                causes.push(Cause::new(
                    "FieldValueInvalid",
                    "Invalid value: must have exactly one version marked as storage version",
                    "spec.versions",
                ));
            }
            if !matches!(spec["scope"].as_str(), Some("Namespaced" | "Cluster")) {
                causes.push(Cause::new(
                    "FieldValueNotSupported",
                    "Unsupported value: supported values: \"Cluster\", \"Namespaced\"",
                    "spec.scope",
                ));
            }
        }
        _ => {}
    }
}

/// Quota resource names the API server calls standard (`IsStandardQuotaResourceName`).
const STANDARD_QUOTA: &[&str] = &[
    "pods",
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.storage",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "persistentvolumeclaims",
    "services",
    "services.nodeports",
    "services.loadbalancers",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "configmaps",
];
/// What a pod-scoped quota (Terminating, NotBestEffort, …) may limit.
const POD_QUOTA: &[&str] = &[
    "pods",
    "cpu",
    "memory",
    "requests.cpu",
    "requests.memory",
    "limits.cpu",
    "limits.memory",
];

/// `validateResourceQuotaScopes`: each scope must be known and fit every standard resource in
/// `hard` (BestEffort only `pods`), and opposite scopes may not be combined.
fn quota_scopes(obj: &Value, causes: &mut Vec<Cause>) {
    let Some(scopes) = obj.pointer("/spec/scopes").and_then(Value::as_array) else {
        return;
    };
    let shown = Value::Array(scopes.clone()).to_string();
    let mut hard: Vec<&String> = obj
        .pointer("/spec/hard")
        .and_then(Value::as_object)
        .map(|h| h.keys().collect())
        .unwrap_or_default();
    hard.sort();
    let mut bad = |why: &str| {
        causes.push(Cause::new(
            "FieldValueInvalid",
            format!("Invalid value: {shown}: {why}"),
            "spec.scopes",
        ))
    };
    let names: Vec<&str> = scopes.iter().filter_map(Value::as_str).collect();
    for scope in &names {
        let allowed: &[&str] = match *scope {
            "BestEffort" => &["pods"],
            "Terminating"
            | "NotTerminating"
            | "NotBestEffort"
            | "PriorityClass"
            | "CrossNamespacePodAffinity" => POD_QUOTA,
            "VolumeAttributesClass" => &["persistentvolumeclaims", "requests.storage"],
            _ => {
                bad("unsupported scope");
                continue;
            }
        };
        for k in &hard {
            let standard = STANDARD_QUOTA.contains(&k.as_str())
                || k.starts_with("hugepages-")
                || k.starts_with("requests.hugepages-");
            if standard && !allowed.contains(&k.as_str()) {
                bad("unsupported scope applied to resource");
            }
        }
    }
    for (a, b) in [
        ("BestEffort", "NotBestEffort"),
        ("Terminating", "NotTerminating"),
    ] {
        if names.contains(&a) && names.contains(&b) {
            bad("conflicting scopes");
        }
    }
}

/// Validates an object about to be stored (`old` is the live object for updates).
pub fn validate(rt: &ResourceType, obj: &Value, old: Option<&Value>) -> Result<(), ApiError> {
    let mut causes = Vec::new();
    check_meta(rt, obj, &mut causes);
    check_kind(rt, obj, &mut causes);
    if let Some(old) = old {
        if rt.kind == "Deployment"
            && old.pointer("/spec/selector") != obj.pointer("/spec/selector")
            && obj.pointer("/spec/selector").is_some()
        {
            causes.push(Cause::new(
                "FieldValueInvalid",
                "Invalid value: field is immutable",
                "spec.selector",
            ));
        }
    }
    if causes.is_empty() {
        return Ok(());
    }
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    Err(ApiError::invalid(&rt.kind, &rt.group, name, causes))
}

/// Top-level fields any built-in kind may carry.
const KNOWN_TOP: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "spec",
    "status",
    "data",
    "binaryData",
    "stringData",
    "type",
    "immutable",
    "rules",
    "subjects",
    "roleRef",
    "aggregationRule",
    "webhooks",
    "provisioner",
    "parameters",
    "reclaimPolicy",
    "mountOptions",
    "allowVolumeExpansion",
    "volumeBindingMode",
    "allowedTopologies",
    "value",
    "globalDefault",
    "description",
    "preemptionPolicy",
    "involvedObject",
    "reason",
    "message",
    "source",
    "firstTimestamp",
    "lastTimestamp",
    "count",
    "eventTime",
    "series",
    "action",
    "related",
    "reportingComponent",
    "reportingInstance",
    "subsets",
    "secrets",
    "imagePullSecrets",
    "automountServiceAccountToken",
];

/// Checks top-level fields of a built-in object against `fieldValidation` (Strict → 400, Warn →
/// `Warning` headers pushed to `warnings`).
pub fn unknown_fields(
    rt: &ResourceType,
    obj: &Value,
    mode: Option<&str>,
    warnings: &mut Vec<(String, String)>,
) -> Result<(), ApiError> {
    if rt.custom {
        return Ok(());
    }
    let unknown: Vec<String> = obj
        .as_object()
        .into_iter()
        .flat_map(|m| m.keys())
        .filter(|k| !KNOWN_TOP.contains(&k.as_str()))
        .map(|k| format!("unknown field \"{k}\""))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    match mode {
        Some("Strict") => Err(ApiError::bad_request(format!(
            "strict decoding error: {}",
            unknown.join(", ")
        ))),
        Some("Warn") => {
            warnings.extend(
                unknown
                    .into_iter()
                    .map(|u| ("Warning".to_string(), format!("299 - \"{u}\""))),
            );
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::builtins;
    use serde_json::json;

    fn rt(kind: &str) -> ResourceType {
        builtins()
            .into_iter()
            .find(|r| r.kind == kind)
            .map(|r| r.as_ref().clone())
            .expect("kind")
    }

    #[test]
    fn deployment_requires_selector_and_template() {
        let e = validate(
            &rt("Deployment"),
            &json!({"metadata": {"name": "web"}, "spec": {}}),
            None,
        )
        .expect_err("invalid");
        assert_eq!(e.code, 422);
        let fields: Vec<_> = e.causes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, vec!["spec.selector", "spec.template"]);
        assert!(e
            .message
            .starts_with("Deployment.apps \"web\" is invalid: [spec.selector: Required value"));
    }

    #[test]
    fn names_and_labels() {
        let e = validate(
            &rt("ConfigMap"),
            &json!({"metadata": {"name": "Bad_Name", "labels": {"ok": "-bad"}}}),
            None,
        )
        .expect_err("bad");
        assert_eq!(e.causes.len(), 2);
        assert!(validate(
            &rt("ConfigMap"),
            &json!({"metadata": {"name": "a.b-c", "labels": {"app.kubernetes.io/name": "x"}}}),
            None
        )
        .is_ok());
        assert!(validate(
            &rt("Namespace"),
            &json!({"metadata": {"name": "a.b"}}),
            None
        )
        .is_err());
    }

    #[test]
    fn quota_scopes_must_fit_the_hard_limits() {
        // kube-apiserver v1.34: `kubectl create quota q2 --hard=cpu=1,pods=2 --scopes=BestEffort`.
        let q = json!({"metadata": {"name": "q2"},
            "spec": {"hard": {"pods": "2", "cpu": "1"}, "scopes": ["BestEffort"]}});
        let e = validate(&rt("ResourceQuota"), &q, None).expect_err("invalid");
        assert_eq!(
            e.message,
            "ResourceQuota \"q2\" is invalid: spec.scopes: Invalid value: [\"BestEffort\"]: unsupported scope applied to resource"
        );
        let ok = json!({"metadata": {"name": "q"}, "spec": {"hard": {"pods": "2"}, "scopes": ["BestEffort"]}});
        assert!(validate(&rt("ResourceQuota"), &ok, None).is_ok());
    }

    #[test]
    fn strict_unknown_top_level_field() {
        let mut w = Vec::new();
        let obj = json!({"metadata": {"name": "x"}, "dta": {}});
        assert_eq!(
            unknown_fields(&rt("ConfigMap"), &obj, Some("Strict"), &mut w)
                .err()
                .map(|e| e.code),
            Some(400)
        );
        unknown_fields(&rt("ConfigMap"), &obj, Some("Warn"), &mut w).expect("warn");
        assert_eq!(w.len(), 1);
    }
}
