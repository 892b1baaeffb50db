//! Argo CD's built-in normalisation of one object (`gitops-engine/pkg/diff` `Normalize`) plus
//! the server-populated metadata a dry-run result and a live object carry, and the application
//! of `ignoreDifferences` rules (`util/argo/normalizers` `ignoreNormalizer`).

use std::borrow::Cow;
use std::cmp::Ordering;

use base64::Engine;
use serde_json::{Map, Value};

use crate::options::{CompareOptions, IgnoreRule};
use crate::{jq, pointer, ObjectRef};

/// The annotation `kubectl apply` (client-side) records the applied configuration in.
pub(crate) const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

use fjord_model::meta::SERVER_SET_FIELDS;

/// The built-in, rule-independent normalisation.
pub(crate) fn builtin(obj: &mut Value, id: &ObjectRef, opts: &CompareOptions) {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        for key in SERVER_SET_FIELDS {
            meta.shift_remove(key);
        }
        if !opts.keep_last_applied {
            if let Some(ann) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
                ann.shift_remove(LAST_APPLIED);
            }
        }
    }
    match (id.group.as_str(), id.kind.as_str()) {
        ("", "Secret") => normalize_secret(obj),
        ("rbac.authorization.k8s.io", "Role" | "ClusterRole") => {
            normalize_role(obj, opts.ignore_aggregated_roles)
        }
        ("", "Endpoints") => normalize_endpoints(obj),
        _ => {}
    }
}

/// Empty (or null) `metadata.annotations` / `metadata.labels` are the same as none.
pub(crate) fn drop_empty_metadata_maps(obj: &mut Value) {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        for key in ["annotations", "labels"] {
            let empty = match meta.get(key) {
                Some(Value::Null) => true,
                Some(Value::Object(m)) => m.is_empty(),
                _ => false,
            };
            if empty {
                meta.shift_remove(key);
            }
        }
    }
}

/// `stringData` folded into `data` (base64), and `null` data values made `""` when every value
/// is valid base64 (Argo CD leaves an undecodable Secret alone).
pub(crate) fn normalize_secret(obj: &mut Value) {
    let Some(o) = obj.as_object_mut() else {
        return;
    };
    if let Some(Value::Object(string_data)) = o.get("stringData") {
        let mut data = match o.get("data") {
            Some(Value::Object(d)) => d.clone(),
            _ => Map::new(),
        };
        for (k, v) in string_data {
            let encoded = match v {
                Value::String(s) => {
                    Value::String(base64::engine::general_purpose::STANDARD.encode(s))
                }
                other => other.clone(),
            };
            data.insert(k.clone(), encoded);
        }
        o.insert("data".to_string(), Value::Object(data));
        o.shift_remove("stringData");
    }
    let Some(Value::Object(data)) = o.get_mut("data") else {
        return;
    };
    let decodable = data.values().all(|v| match v {
        Value::Null => true,
        Value::String(s) => base64::engine::general_purpose::STANDARD.decode(s).is_ok(),
        _ => false,
    });
    if decodable {
        for v in data.values_mut() {
            if v.is_null() {
                *v = Value::String(String::new());
            }
        }
    }
}

/// Empty `rules` is the same as none; aggregated roles' rules are ignored when asked.
fn normalize_role(obj: &mut Value, ignore_aggregated: bool) {
    let Some(o) = obj.as_object_mut() else {
        return;
    };
    if ignore_aggregated && matches!(o.get("aggregationRule"), Some(Value::Object(_))) {
        o.shift_remove("rules");
    }
    let empty = match o.get("rules") {
        Some(Value::Null) => true,
        Some(Value::Array(a)) => a.is_empty(),
        _ => false,
    };
    if empty {
        o.shift_remove("rules");
    }
}

/// Ports default to `TCP`; addresses, ports and subsets are put in a canonical order.
fn normalize_endpoints(obj: &mut Value) {
    let Some(Value::Array(subsets)) = obj.get_mut("subsets") else {
        return;
    };
    for subset in subsets.iter_mut() {
        let Some(s) = subset.as_object_mut() else {
            continue;
        };
        if let Some(Value::Array(ports)) = s.get_mut("ports") {
            for port in ports.iter_mut() {
                if let Some(p) = port.as_object_mut() {
                    let unset = matches!(p.get("protocol"), None | Some(Value::Null))
                        || p.get("protocol").and_then(Value::as_str) == Some("");
                    if unset {
                        p.insert("protocol".into(), Value::String("TCP".into()));
                    }
                }
            }
            ports.sort_by_key(canonical);
        }
        for key in ["addresses", "notReadyAddresses"] {
            if let Some(Value::Array(addrs)) = s.get_mut(key) {
                addrs.sort_by(address_order);
            }
        }
    }
    subsets.sort_by_key(canonical);
}

/// Addresses by IP, then by the UID of their target (Kubernetes' `addrsByIPAndUID`).
fn address_order(a: &Value, b: &Value) -> Ordering {
    let ip = |v: &Value| {
        v.get("ip")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let uid = |v: &Value| {
        v.get("targetRef")
            .and_then(|t| t.get("uid"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    ip(a).cmp(&ip(b)).then_with(|| uid(a).cmp(&uid(b)))
}

/// A key-order-independent text of `v`, for sorting list items canonically.
fn canonical(v: &Value) -> String {
    serde_json::to_string(&sorted(v)).unwrap_or_default()
}

/// `v` with every object's keys in byte order.
pub(crate) fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = Map::with_capacity(m.len());
            for k in keys {
                out.insert(k.clone(), sorted(&m[k]));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Applies the matching rules' JSON pointers and jq paths, in order; a step that fails is
/// skipped with a note (never quoting the object), as Argo CD skips it. When any rule matched,
/// empty maps and lists are pruned afterwards.
pub(crate) fn apply_ignore_rules(
    obj: &mut Value,
    id: &ObjectRef,
    rules: &[Cow<'_, IgnoreRule>],
    opts: &CompareOptions,
    notes: &mut Vec<String>,
) {
    let mut any = false;
    for rule in rules {
        for p in &rule.json_pointers {
            any = true;
            // A pointer that names nothing is the common case; Argo CD does not even log it.
            let _ = pointer::remove(obj, p);
        }
        for expr in &rule.jq_path_expressions {
            any = true;
            match jq::delete(expr, obj, opts.jq_timeout) {
                Ok(v @ Value::Object(_)) => *obj = v,
                Ok(_) => notes.push(format!(
                    "{}: jq path expression `{expr}` on {} {}/{} did not return an object; skipped",
                    rule.source(),
                    id.kind,
                    id.namespace,
                    id.name
                )),
                Err(e) => notes.push(format!(
                    "{}: jq path expression `{expr}` on {} {}/{} {e}; skipped",
                    rule.source(),
                    id.kind,
                    id.namespace,
                    id.name
                )),
            }
        }
    }
    if any {
        if let Some(m) = obj.as_object_mut() {
            pointer::remove_empty_objects(m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id_of(v: &Value) -> ObjectRef {
        ObjectRef::of(v)
    }

    #[test]
    fn server_metadata_and_last_applied_are_dropped() {
        let mut v = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
            "name": "a", "namespace": "n", "uid": "u", "resourceVersion": "5", "generation": 2,
            "creationTimestamp": "2024-01-01T00:00:00Z", "selfLink": "/x",
            "managedFields": [{"manager": "m"}],
            "annotations": {LAST_APPLIED: "{}", "keep": "me"}}});
        let id = id_of(&v);
        builtin(&mut v, &id, &CompareOptions::default());
        assert_eq!(
            v["metadata"],
            json!({"name": "a", "namespace": "n", "annotations": {"keep": "me"}})
        );
        let mut v = json!({"metadata": {"annotations": {LAST_APPLIED: "{}"}}});
        let opts = CompareOptions {
            keep_last_applied: true,
            ..CompareOptions::default()
        };
        builtin(&mut v, &ObjectRef::default(), &opts);
        assert_eq!(v["metadata"]["annotations"][LAST_APPLIED], "{}");
    }

    #[test]
    fn secret_string_data_merges_into_data() {
        let mut v = json!({"data": {"a": "YQ==", "b": "b2xk"}, "stringData": {"b": "new", "c": 3}});
        normalize_secret(&mut v);
        assert_eq!(v, json!({"data": {"a": "YQ==", "b": "bmV3", "c": 3}}));
    }

    #[test]
    fn secret_null_values_become_empty_only_when_decodable() {
        let mut v = json!({"data": {"a": null, "b": "YQ=="}});
        normalize_secret(&mut v);
        assert_eq!(v, json!({"data": {"a": "", "b": "YQ=="}}));
        let mut v = json!({"data": {"a": null, "b": "not base64!"}});
        normalize_secret(&mut v);
        assert_eq!(v, json!({"data": {"a": null, "b": "not base64!"}}));
    }

    #[test]
    fn role_rules_empty_or_aggregated() {
        let mut v = json!({"rules": []});
        normalize_role(&mut v, false);
        assert_eq!(v, json!({}));
        let mut v =
            json!({"aggregationRule": {"clusterRoleSelectors": []}, "rules": [{"verbs": ["get"]}]});
        normalize_role(&mut v, false);
        assert!(v.get("rules").is_some());
        normalize_role(&mut v, true);
        assert!(v.get("rules").is_none());
    }

    #[test]
    fn endpoints_default_protocol_and_order() {
        let mut a = json!({"subsets": [
            {"addresses": [{"ip": "10.0.0.2"}, {"ip": "10.0.0.1"}], "ports": [{"port": 80}]},
            {"addresses": [{"ip": "10.0.0.9"}], "ports": [{"port": 81, "protocol": "UDP"}]}
        ]});
        let mut b = json!({"subsets": [
            {"ports": [{"protocol": "UDP", "port": 81}], "addresses": [{"ip": "10.0.0.9"}]},
            {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80, "protocol": "TCP"}]}
        ]});
        normalize_endpoints(&mut a);
        normalize_endpoints(&mut b);
        assert!(crate::json_eq(&a, &b), "{a}\n{b}");
        assert_eq!(a["subsets"][0]["addresses"][0]["ip"], "10.0.0.1");
    }

    #[test]
    fn empty_metadata_maps_dropped() {
        let mut v = json!({"metadata": {"name": "x", "labels": {}, "annotations": null}});
        drop_empty_metadata_maps(&mut v);
        assert_eq!(v, json!({"metadata": {"name": "x"}}));
    }
}
