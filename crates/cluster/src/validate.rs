//! Object validation: names, labels, annotations and the required fields of the common kinds.
//! Failures are 422 Invalid with one cause per problem, as the apiserver reports them.

use serde_json::Value;

use crate::errors::{ApiError, Cause};
use fjord_model::ResourceType;

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

const QUALIFIED_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

/// The problems of a qualified name (label or annotation key), one message each, in the
/// server's order: the prefix, then the name part's length and characters.
fn qualified_name_errors(s: &str) -> Vec<String> {
    let parts: Vec<&str> = s.split('/').collect();
    let mut errs = Vec::new();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else if prefix.len() > 253 {
                errs.push("prefix part must be no more than 253 characters".to_string());
            } else if !is_dns_subdomain(prefix) {
                errs.push(format!("prefix part {SUBDOMAIN_MSG}"));
            }
            name
        }
        _ => {
            return vec![format!(
                "a qualified name {QUALIFIED_MSG} with an optional DNS subdomain prefix and '/' \
                 (e.g. 'example.com/MyName')"
            )]
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errs.push("name part must be no more than 63 characters".to_string());
    }
    if name.is_empty() || !label_value_chars(name) {
        errs.push(format!("name part {QUALIFIED_MSG}"));
    }
    errs
}

/// The problems of a label value.
fn label_value_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push("must be no more than 63 characters".to_string());
    }
    if !s.is_empty() && !label_value_chars(s) {
        errs.push(LABEL_VALUE_MSG.to_string());
    }
    errs
}

/// The label-value regex alone (no length limit; a non-empty string).
fn label_value_chars(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric()
}

fn required(causes: &mut Vec<Cause>, field: &str) {
    causes.push(Cause::new("FieldValueRequired", "Required value", field));
}

fn invalid(causes: &mut Vec<Cause>, field: &str, value: &str, why: &str) {
    causes.push(Cause::new(
        "FieldValueInvalid",
        format!("Invalid value: {}: {why}", fjord_model::go::quote(value)),
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
            for why in qualified_name_errors(k) {
                invalid(causes, "metadata.labels", k, &why);
            }
            let value = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            for why in label_value_errors(&value) {
                invalid(causes, "metadata.labels", &value, &why);
            }
        }
    }
    if let Some(ann) = obj
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
    {
        for (k, v) in ann {
            for why in qualified_name_errors(&k.to_ascii_lowercase()) {
                invalid(causes, "metadata.annotations", k, &why);
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

/// Go's JSON of a value as a field error shows it (`{"app":"web"}`, `null`), keys sorted.
fn shown(v: Option<&Value>) -> String {
    match v {
        None => "null".into(),
        Some(Value::Object(m)) => {
            let sorted: std::collections::BTreeMap<&String, &Value> = m.iter().collect();
            serde_json::to_string(&sorted).unwrap_or_default()
        }
        Some(v) => v.to_string(),
    }
}

/// Whether a label selector (`matchLabels` and `matchExpressions`) matches `labels`; `None` for
/// an empty selector, which matches everything.
fn selector_matches(selector: &Value, labels: Option<&Value>) -> Option<bool> {
    let label = |k: &str| labels.and_then(|l| l.get(k));
    let ml = selector["matchLabels"].as_object();
    let exprs = selector["matchExpressions"].as_array();
    if ml.is_none_or(|m| m.is_empty()) && exprs.is_none_or(|e| e.is_empty()) {
        return None;
    }
    let labels_ok = ml.into_iter().flatten().all(|(k, v)| label(k) == Some(v));
    let exprs_ok = exprs.into_iter().flatten().all(|e| {
        let have = label(e["key"].as_str().unwrap_or(""));
        let listed = || {
            e["values"]
                .as_array()
                .is_some_and(|vs| have.is_some_and(|h| vs.contains(h)))
        };
        match e["operator"].as_str() {
            Some("In") => listed(),
            Some("NotIn") => !listed(),
            Some("Exists") => have.is_some(),
            Some("DoesNotExist") => have.is_none(),
            _ => false,
        }
    });
    Some(labels_ok && exprs_ok)
}

fn check_workload(rt: &ResourceType, obj: &Value, causes: &mut Vec<Cause>, needs_selector: bool) {
    let spec = obj.get("spec");
    let replicas = spec.and_then(|s| s.get("replicas")).and_then(Value::as_i64);
    if let Some(n) = replicas.filter(|n| *n < 0) {
        let why = format!("Invalid value: {n}: must be greater than or equal to 0");
        causes.push(Cause::new("FieldValueInvalid", why, "spec.replicas"));
    }
    let selector = spec
        .and_then(|s| s.get("selector"))
        .filter(|s| !s.is_null());
    let template = spec.and_then(|s| s.get("template"));
    // A missing selector matches nothing; an empty one everything (and is refused itself).
    let matches = match selector {
        None if needs_selector => {
            // A DaemonSet's missing selector is only reported as the mismatch.
            if rt.kind != "DaemonSet" {
                required(causes, "spec.selector");
            }
            Some(false)
        }
        None => None,
        Some(sel) => {
            let m = selector_matches(sel, template.and_then(|t| t.pointer("/metadata/labels")));
            if m.is_none() && needs_selector {
                causes.push(Cause::new(
                    "FieldValueInvalid",
                    format!(
                        "Invalid value: {{}}: empty selector is invalid for {}",
                        // The ReplicaSet validation shares the Deployment's words.
                        if rt.kind == "ReplicaSet" {
                            "deployment".to_string()
                        } else {
                            rt.kind.to_ascii_lowercase()
                        }
                    ),
                    "spec.selector",
                ));
            }
            m
        }
    };
    if template.is_none_or(Value::is_null) {
        required(causes, "spec.template");
        return;
    }
    if matches == Some(false) {
        let labels = template.and_then(|t| t.pointer("/metadata/labels"));
        causes.push(Cause::new(
            "FieldValueInvalid",
            format!(
                "Invalid value: {}: `selector` does not match template `labels`",
                shown(labels)
            ),
            "spec.template.metadata.labels",
        ));
    }
    check_pod_spec(
        template.and_then(|t| t.get("spec")),
        "spec.template.spec",
        causes,
    );
}

/// A Service's ports: present unless headless, and each port and target port in range.
fn check_service(obj: &Value, causes: &mut Vec<Cause>) {
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
        // The target port defaults to the port (also when it is 0).
        let target = match &p["targetPort"] {
            Value::Number(n) if n.as_i64() != Some(0) => n.as_i64(),
            Value::String(_) => None,
            _ => p["port"].as_i64(),
        };
        if let Some(n) = target.filter(|n| !(1..=65535).contains(n)) {
            causes.push(Cause::new(
                "FieldValueInvalid",
                format!("Invalid value: {n}: must be between 1 and 65535, inclusive"),
                format!("spec.ports[{i}].targetPort"),
            ));
        }
    }
}

fn check_kind(rt: &ResourceType, obj: &Value, causes: &mut Vec<Cause>) {
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet") => {
            check_workload(rt, obj, causes, true)
        }
        ("batch", "Job") => check_workload(rt, obj, causes, false),
        ("", "Pod") => check_pod_spec(obj.get("spec"), "spec", causes),
        ("", "Service") => check_service(obj, causes),
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
    causes.extend(crate::lifecycle::owner_reference_causes(obj));
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rt(kind: &str) -> ResourceType {
        crate::kinds::builtin_type(kind)
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
    fn label_and_selector_messages_are_the_servers() {
        let e = validate(
            &rt("ConfigMap"),
            &json!({"metadata": {"name": "v2", "labels": {"bad key": "x"}}}),
            None,
        )
        .expect_err("label");
        assert_eq!(
            e.causes[0].message,
            format!("Invalid value: \"bad key\": name part {QUALIFIED_MSG}")
        );
        let dep = |spec: Value| {
            validate(
                &rt("Deployment"),
                &json!({"metadata": {"name": "d"}, "spec": spec}),
                None,
            )
            .expect_err("invalid")
        };
        let tpl = json!({"metadata": {"labels": {"b": "2", "app": "y"}},
            "spec": {"containers": [{"name": "c", "image": "i"}]}});
        let e = dep(json!({"template": tpl}));
        assert_eq!(
            e.message,
            "Deployment.apps \"d\" is invalid: [spec.selector: Required value, \
             spec.template.metadata.labels: Invalid value: {\"app\":\"y\",\"b\":\"2\"}: \
             `selector` does not match template `labels`]"
        );
        let e = dep(json!({"selector": {"matchLabels": {}}, "template": tpl}));
        assert_eq!(
            e.causes[0].message,
            "Invalid value: {}: empty selector is invalid for deployment"
        );
        let sel = json!({"matchExpressions": [{"key": "app", "operator": "In", "values": ["y"]}]});
        assert!(validate(
            &rt("Deployment"),
            &json!({"metadata": {"name": "d"}, "spec": {"selector": sel, "template": tpl}}),
            None
        )
        .is_ok());
        let svc = json!({"metadata": {"name": "s"}, "spec": {"ports": [{"port": 70000}]}});
        let e = validate(&rt("Service"), &svc, None).expect_err("port");
        let fields: Vec<_> = e.causes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(
            fields,
            vec!["spec.ports[0].port", "spec.ports[0].targetPort"]
        );
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
}
