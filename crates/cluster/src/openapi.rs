//! `/openapi/v3`: the index of group-version documents and the documents themselves; `/openapi/v2`
//! (see [`v2`]) built from the same schema components.
//!
//! Each group-version document lists, per resource, the item path with a PATCH operation carrying
//! `x-kubernetes-group-version-kind` and a `fieldValidation` query parameter (kubectl's
//! server-side field-validation probe), and a schema component per kind (see [`schema`]). The
//! strategic-merge content type is deliberately absent so kubectl builds client-side-apply
//! patches from its compiled-in types rather than from these (prose-free, partial) schemas.

mod schema;
mod v2;

use std::sync::OnceLock;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::errors::ApiError;
use crate::registry::Registry;
use crate::request::{Reply, Target};
use fjord_model::ResourceType;

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
    let mut schemas = schema::builtin_components(group, version);
    for rt in reg.custom_resources(group, version) {
        let s = reg.crd_schema(group, version, &rt.plural);
        schema::custom_components(group, version, &rt.kind, s, &mut schemas);
    }
    json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.34.2"}, "paths": paths, "components": {"schemas": schemas}})
}

fn hash(doc: &Value) -> String {
    let digest = Sha256::digest(doc.to_string().as_bytes());
    digest.iter().take(32).map(|b| format!("{b:02X}")).collect()
}

/// The document hash of a built-in group-version that no CRD adds to (computed once).
fn builtin_hash(group: &str, version: &str) -> Option<String> {
    static HASHES: OnceLock<Vec<(String, String, String)>> = OnceLock::new();
    let all = HASHES.get_or_init(|| {
        let reg = Registry::new();
        crate::discovery::catalog::builtin()
            .iter()
            .map(|gv| {
                let h = hash(&gv_doc(&reg, &gv.group, &gv.version));
                (gv.group.clone(), gv.version.clone(), h)
            })
            .collect()
    });
    all.iter()
        .find(|(g, v, _)| g == group && v == version)
        .map(|(_, _, h)| h.clone())
}

/// The reference server's answer for a group-version it does not serve: 404 with no body.
fn empty_not_found() -> Reply {
    Reply {
        status: 404,
        body: Value::Null,
        content_type: "text/plain; charset=utf-8".into(),
        headers: Vec::new(),
        raw: Some(Vec::new()),
    }
}

/// Every served group-version: the core one, then each group's versions.
fn served_group_versions(reg: &Registry) -> Vec<(String, String)> {
    let mut gvs = vec![(String::new(), "v1".to_string())];
    for (g, vs) in reg.groups() {
        gvs.extend(vs.into_iter().map(|v| (g.clone(), v)));
    }
    gvs
}

/// Answers `/openapi/v2`: Swagger 2.0 as protobuf when `accept` asks for it, else JSON.
pub fn answer_v2(reg: &Registry, accept: &str) -> Reply {
    let mut definitions = Map::new();
    for (g, v) in served_group_versions(reg) {
        let doc = gv_doc(reg, &g, &v);
        for (name, schema) in doc["components"]["schemas"]
            .as_object()
            .into_iter()
            .flatten()
        {
            definitions
                .entry(name.clone())
                .or_insert_with(|| v2::to_v2(schema));
        }
    }
    let doc = v2::document(definitions);
    if accept.contains(v2::PROTOBUF_ACCEPT) {
        return Reply {
            status: 200,
            body: Value::Null,
            content_type: v2::PROTOBUF_CONTENT_TYPE.into(),
            headers: Vec::new(),
            raw: Some(v2::protobuf(&doc)),
        };
    }
    Reply::json(200, doc)
}

/// Answers `/openapi/v3` and `/openapi/v3/<gv>`.
pub fn answer(reg: &Registry, target: &Target) -> Result<Reply, ApiError> {
    match target {
        Target::OpenApiRoot => {
            let mut paths = Map::new();
            for (g, v) in served_group_versions(reg) {
                let p = gv_path(&g, &v);
                let cached = if reg.custom_resources(&g, &v).is_empty() {
                    builtin_hash(&g, &v)
                } else {
                    None
                };
                let h = cached.unwrap_or_else(|| hash(&gv_doc(reg, &g, &v)));
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
                _ => return Ok(empty_not_found()),
            };
            if !reg.serves_group_version(g, v) {
                return Ok(empty_not_found());
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
        assert!(doc.body["components"]["schemas"]
            .get("io.k8s.api.apps.v1.Deployment")
            .is_some());
    }

    #[test]
    fn unknown_group_version_is_an_empty_404() {
        let reg = Registry::new();
        let r = answer(&reg, &Target::OpenApiDoc("apis/nope/v1".into())).expect("reply");
        assert_eq!(r.status, 404);
        assert_eq!(r.raw.as_deref(), Some(&[][..]));
    }
}
