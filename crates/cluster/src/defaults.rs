//! Server-side defaulting at create time (the handful of defaults clients rely on).

use serde_json::{json, Value};

use crate::kinds::ResourceType;

/// The finalizer a CRD carries until its custom resources are gone.
pub const CRD_CLEANUP: &str = "customresourcecleanup.apiextensions.k8s.io";

fn cluster_ip(obj: &Value) -> String {
    let uid_bytes: u32 = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .bytes()
        .fold(7u32, |a, b| a.wrapping_mul(31).wrapping_add(b as u32));
    format!(
        "10.96.{}.{}",
        (uid_bytes >> 8) % 254 + 1,
        uid_bytes % 254 + 1
    )
}

/// Normalisation every write of a built-in kind gets: a Secret's write-only `stringData` is
/// folded into `data` (base64), as the API server does, and is never stored.
pub fn on_write(rt: &ResourceType, obj: &mut Value) {
    if rt.custom || !rt.group.is_empty() || rt.kind != "Secret" {
        return;
    }
    use base64::Engine as _;
    let Some(m) = obj.as_object_mut() else {
        return;
    };
    let Some(Value::Object(strings)) = m.remove("stringData") else {
        return;
    };
    let data = m
        .entry("data")
        .or_insert_with(|| Value::Object(Default::default()));
    if !data.is_object() {
        *data = Value::Object(Default::default());
    }
    if let Some(d) = data.as_object_mut() {
        for (k, v) in strings {
            let text = v.as_str().unwrap_or_default();
            d.insert(
                k,
                Value::String(base64::engine::general_purpose::STANDARD.encode(text)),
            );
        }
    }
}

/// Applies create-time defaults.
pub fn on_create(rt: &ResourceType, obj: &mut Value) {
    if rt.custom {
        return;
    }
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Namespace") => {
            obj["spec"]["finalizers"] = json!(["kubernetes"]);
            obj["status"] = json!({"phase": "Active"});
        }
        ("", "Service") => {
            if obj.pointer("/spec/type").is_none() {
                obj["spec"]["type"] = json!("ClusterIP");
            }
            let external = obj["spec"]["type"] == "ExternalName";
            if !external && obj.pointer("/spec/clusterIP").is_none() {
                let ip = cluster_ip(obj);
                obj["spec"]["clusterIP"] = json!(ip);
                obj["spec"]["clusterIPs"] = json!([ip]);
            }
            if let Some(ports) = obj.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
                for p in ports.iter_mut().filter(|p| p.is_object()) {
                    if p.get("protocol").is_none() {
                        p["protocol"] = json!("TCP");
                    }
                    if p.get("targetPort").is_none() {
                        p["targetPort"] = p["port"].clone();
                    }
                }
            }
        }
        ("apps", "Deployment" | "StatefulSet" | "ReplicaSet")
            if obj.get("spec").is_some_and(Value::is_object)
                && obj.pointer("/spec/replicas").is_none() =>
        {
            obj["spec"]["replicas"] = json!(1);
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            let fins = obj["metadata"]["finalizers"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if !fins.iter().any(|f| f == CRD_CLEANUP) {
                let mut fins = fins;
                fins.push(json!(CRD_CLEANUP));
                obj["metadata"]["finalizers"] = Value::Array(fins);
            }
            establish_crd(obj);
        }
        _ => {}
    }
}

/// Sets a CRD's status to NamesAccepted + Established (synchronously, as the embedded server does).
pub fn establish_crd(obj: &mut Value) {
    let now = crate::meta::now();
    let names = obj.pointer("/spec/names").cloned().unwrap_or(json!({}));
    let mut accepted = names.clone();
    if accepted.get("singular").is_none() {
        if let Some(k) = names["kind"].as_str() {
            accepted["singular"] = json!(k.to_ascii_lowercase());
        }
    }
    if accepted.get("listKind").is_none() {
        if let Some(k) = names["kind"].as_str() {
            accepted["listKind"] = json!(format!("{k}List"));
        }
    }
    let stored: Vec<Value> = obj
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|vs| {
            vs.iter()
                .filter(|v| v["storage"] == json!(true))
                .map(|v| v["name"].clone())
                .collect()
        })
        .unwrap_or_default();
    obj["status"] = json!({
        "acceptedNames": accepted,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "lastTransitionTime": now, "reason": "NoConflicts", "message": "no conflicts found"},
            {"type": "Established", "status": "True", "lastTransitionTime": now, "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"}
        ],
        "storedVersions": stored,
    });
}

#[cfg(test)]
mod write_tests {
    use super::*;

    fn secret_type() -> ResourceType {
        crate::kinds::builtins()
            .into_iter()
            .find(|t| t.group.is_empty() && t.kind == "Secret")
            .map(|t| t.as_ref().clone())
            .expect("Secret is built in")
    }

    #[test]
    fn string_data_is_folded_into_data() {
        let mut s = json!({"metadata": {"name": "s"}, "data": {"a": "eA=="},
            "stringData": {"b": "hello", "a": "over"}});
        on_write(&secret_type(), &mut s);
        assert_eq!(s.get("stringData"), None);
        assert_eq!(s["data"], json!({"a": "b3Zlcg==", "b": "aGVsbG8="}));
    }
}
