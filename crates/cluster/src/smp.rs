//! Strategic merge patch for built-in kinds, delegated to fjord-merge's API-server flavor over its
//! built-in schema table.

use fjord_merge::smp::{self, Flavor, Outcome};
use fjord_merge::Schema;
use serde_json::Value;

use crate::errors::ApiError;
use fjord_model::ResourceType;

/// Applies a strategic merge patch to `target` (which carries `apiVersion` and `kind`).
pub fn apply(rt: &ResourceType, target: &Value, patch: &Value) -> Result<Value, ApiError> {
    let mut node = fjord_yaml::from_json_value(target);
    let patch_node = fjord_yaml::from_json_value(patch);
    match smp::apply(
        &mut node,
        &patch_node,
        Schema::builtin(),
        Flavor::ApiMachinery,
    ) {
        Ok(Outcome::Patched) => {}
        Ok(Outcome::Deleted) => {
            return Err(ApiError::bad_request(format!(
                "a strategic merge patch may not delete the whole {}",
                rt.kind
            )))
        }
        Err(e) => return Err(ApiError::unprocessable_patch(e.to_string())),
    }
    fjord_yaml::to_json_value(&node)
        .map_err(|e| ApiError::internal(format!("re-encoding patched object: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::builtins;
    use serde_json::json;

    fn env_after(patch: Value) -> Vec<String> {
        let rt = builtins()
            .into_iter()
            .find(|r| r.kind == "Deployment")
            .expect("d");
        let live = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "smp"},
            "spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx",
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}]}}}});
        let out = apply(&rt, &live, &patch).expect("smp");
        out["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .expect("env")
            .iter()
            .map(|e| e["name"].as_str().unwrap_or("").to_string())
            .collect()
    }

    fn env_patch(env: Value, order: Option<Value>) -> Value {
        let mut c = json!({"name": "nginx", "env": env});
        if let Some(o) = order {
            c["$setElementOrder/env"] = o;
        }
        json!({"spec": {"template": {"spec": {"containers": [c]}}}})
    }

    #[test]
    fn merge_key_list_order_matches_kube_apiserver() {
        // Each case was run with `kubectl patch --type strategic --dry-run=server` against a
        // real v1.34.2 server whose Deployment had env [A, B].
        let e = |n: &str| json!({"name": n, "value": "9"});
        assert_eq!(env_after(env_patch(json!([e("C")]), None)), ["C", "A", "B"]);
        assert_eq!(
            env_after(env_patch(json!([e("B"), e("C")]), None)),
            ["A", "B", "C"]
        );
        assert_eq!(
            env_after(env_patch(json!([e("C"), e("A")]), None)),
            ["C", "A", "B"]
        );
        assert_eq!(
            env_after(env_patch(json!([e("D"), e("C")]), None)),
            ["D", "C", "A", "B"]
        );
        let order = |ns: &[&str]| Value::Array(ns.iter().map(|n| json!({"name": n})).collect());
        assert_eq!(
            env_after(env_patch(json!([e("C")]), Some(order(&["B", "C", "A"])))),
            ["B", "C", "A"]
        );
        assert_eq!(
            env_after(env_patch(json!([e("C")]), Some(order(&["C", "A"])))),
            ["C", "A", "B"]
        );
        let del = json!([{"name": "A", "$patch": "delete"}, e("C")]);
        assert_eq!(env_after(env_patch(del, None)), ["C", "B"]);
        let replace = json!([e("C"), {"$patch": "replace"}]);
        assert_eq!(env_after(env_patch(replace, None)), ["C"]);
    }

    #[test]
    fn kubectl_client_side_apply_patch() {
        let rt = builtins()
            .into_iter()
            .find(|r| r.kind == "Deployment")
            .expect("d");
        let live = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"template": {"spec": {"containers": [
                {"name": "nginx", "image": "nginx:1.25", "env": [{"name": "A", "value": "1"}],
                 "ports": [{"containerPort": 80}, {"containerPort": 443}]}]}}}});
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
            "containers": [
                {"name": "nginx", "image": "nginx:1.26", "env": null,
                 "$setElementOrder/ports": [{"containerPort": 8080}, {"containerPort": 443}],
                 "ports": [{"containerPort": 8080}, {"$patch": "delete", "containerPort": 80}]},
                {"name": "sidecar", "image": "busybox"}]}}}});
        let out = apply(&rt, &live, &patch).expect("smp");
        let cs = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(cs[0]["image"], "nginx:1.26");
        assert!(cs[0].get("env").is_none());
        assert_eq!(
            cs[0]["ports"],
            json!([{"containerPort": 8080}, {"containerPort": 443}])
        );
        assert_eq!(cs[1]["name"], "sidecar");
    }
}
