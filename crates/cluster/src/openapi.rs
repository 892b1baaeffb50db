//! A minimal `/openapi/v3`: enough for kubectl's server-side field-validation probe.
//!
//! Each group-version document lists, per resource, the item path with a PATCH operation carrying
//! `x-kubernetes-group-version-kind` and a `fieldValidation` query parameter. The strategic-merge
//! content type is deliberately absent so kubectl builds client-side-apply patches from its
//! compiled-in types.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::errors::ApiError;
use crate::kinds::ResourceType;
use crate::registry::Registry;
use crate::request::{Reply, Target};

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn gv_doc(reg: &Registry, group: &str, version: &str) -> Value {
    let mut paths = Map::new();
    let resources: Vec<std::sync::Arc<ResourceType>> = reg.resources(group, version);
    for rt in &resources {
        let prefix = format!("/{}", gv_path(group, version));
        let item = if rt.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", rt.plural)
        } else {
            format!("{prefix}/{}/{{name}}", rt.plural)
        };
        let gvk = json!({"group": rt.group, "version": rt.version, "kind": rt.kind});
        let op = json!({
            "operationId": format!("patch{}", rt.kind),
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": gvk,
            "parameters": [
                {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
                {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
                {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
                {"name": "force", "in": "query", "schema": {"type": "boolean"}}
            ],
            "requestBody": {"content": {
                "application/apply-patch+yaml": {"schema": {"type": "object"}},
                "application/json-patch+json": {"schema": {"type": "object"}},
                "application/merge-patch+json": {"schema": {"type": "object"}}
            }},
            "responses": {"200": {"description": "OK"}}
        });
        paths.insert(item, json!({"patch": op}));
    }
    json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.34.2"}, "paths": paths, "components": {"schemas": {}}})
}

fn hash(doc: &Value) -> String {
    let digest = Sha256::digest(doc.to_string().as_bytes());
    digest.iter().take(32).map(|b| format!("{b:02X}")).collect()
}

/// Answers `/openapi/v3` and `/openapi/v3/<gv>`.
pub fn answer(reg: &Registry, target: &Target) -> Result<Reply, ApiError> {
    match target {
        Target::OpenApiRoot => {
            let mut paths = Map::new();
            let mut gvs = vec![(String::new(), "v1".to_string())];
            for (g, vs) in reg.groups() {
                gvs.extend(vs.into_iter().map(|v| (g.clone(), v)));
            }
            for (g, v) in gvs {
                let p = gv_path(&g, &v);
                let h = hash(&gv_doc(reg, &g, &v));
                paths.insert(
                    p.clone(),
                    json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={h}")}),
                );
            }
            Ok(Reply::json(200, json!({"paths": paths})))
        }
        Target::OpenApiDoc(p) => {
            let parts: Vec<&str> = p.split('/').collect();
            let (g, v) = match parts.as_slice() {
                ["api", v] => ("", *v),
                ["apis", g, v] => (*g, *v),
                _ => return Err(ApiError::no_route()),
            };
            if !reg.serves_group_version(g, v) {
                return Err(ApiError::no_route());
            }
            Ok(Reply::json(200, gv_doc(reg, g, v)))
        }
        _ => Err(ApiError::no_route()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_has_patch_with_gvk_and_field_validation() {
        let reg = Registry::new();
        let root = answer(&reg, &Target::OpenApiRoot).expect("root");
        assert!(root.body["paths"]["apis/apps/v1"]["serverRelativeURL"]
            .as_str()
            .expect("url")
            .starts_with("/openapi/v3/apis/apps/v1?hash="));
        let doc = answer(&reg, &Target::OpenApiDoc("apis/apps/v1".into())).expect("doc");
        let op =
            &doc.body["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(op["x-kubernetes-group-version-kind"]["kind"], "Deployment");
        assert!(op["parameters"]
            .as_array()
            .expect("p")
            .iter()
            .any(|p| p["name"] == "fieldValidation"));
        assert!(op["requestBody"]["content"]
            .get("application/strategic-merge-patch+json")
            .is_none());
    }
}
