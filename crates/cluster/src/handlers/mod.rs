//! Resource verbs: routing of resource URLs to the handlers, and helpers they share.

mod create;
mod delete;
pub(crate) mod read;
pub(crate) mod update;

pub(crate) use delete::DeleteOptions;

use std::sync::Arc;

use serde_json::Value;

use crate::engine::Engine;
use crate::errors::ApiError;
use crate::kinds::ResourceType;
use crate::request::{ApiRequest, Query, Reply, ResourcePath};

/// Whether the request is a dry run (`dryRun=All`; any other value is a 400).
pub(crate) fn dry_run(q: &Query) -> Result<bool, ApiError> {
    match q.get("dryRun") {
        None | Some("") => Ok(false),
        Some("All") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!(
            "Invalid dry run value: {other}"
        ))),
    }
}

/// The field manager of a write: `fieldManager`, else the User-Agent's program name.
pub(crate) fn field_manager(req: &ApiRequest) -> Result<String, ApiError> {
    if let Some(m) = req.query.get("fieldManager").filter(|m| !m.is_empty()) {
        if m.len() > 128 || m.chars().any(|c| c.is_control()) {
            return Err(ApiError::invalid(
                "PatchOptions",
                "meta.k8s.io",
                "",
                vec![crate::errors::Cause::new(
                    "FieldValueInvalid",
                    format!("Invalid value: {m:?}: must be at most 128 printable characters"),
                    "fieldManager",
                )],
            ));
        }
        return Ok(m.to_string());
    }
    let ua = req.user_agent.split('/').next().unwrap_or("").trim();
    Ok(if ua.is_empty() {
        "unknown".to_string()
    } else {
        ua.to_string()
    })
}

/// Decodes a request body: JSON, YAML for an apply-patch+yaml body that is not JSON, or
/// the Kubernetes protobuf envelope.
pub(crate) fn decode_body(req: &ApiRequest) -> Result<Value, ApiError> {
    if req
        .content_type
        .starts_with("application/vnd.kubernetes.protobuf")
    {
        return crate::protobuf::decode(&req.body)
            .map_err(|e| ApiError::bad_request(e.to_string()));
    }
    if req.body.is_empty() {
        return Err(ApiError::bad_request("the request body is empty"));
    }
    let json = serde_json::from_slice(&req.body);
    if json.is_err() && req.content_type.starts_with("application/apply-patch+yaml") {
        // An apply configuration may be YAML (kubectl sends JSON, which is YAML too).
        let node = fjord_yaml::parse_document(&req.body)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
        return fjord_yaml::to_json_value(&node)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")));
    }
    json.map_err(|e| ApiError::bad_request(format!("error decoding request body: {e}")))
}

/// The object as served at `rt`'s version (`apiVersion` and `kind` set).
pub(crate) fn output(rt: &ResourceType, obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        m.insert("apiVersion".into(), Value::String(rt.api_version()));
        m.insert("kind".into(), Value::String(rt.kind.clone()));
    }
    o
}

impl Engine {
    /// Routes a resource URL to its verb handler.
    pub(crate) fn handle_resource(
        &self,
        req: &ApiRequest,
        rp: &ResourcePath,
    ) -> Result<Reply, ApiError> {
        let rt: Arc<ResourceType> = {
            let st = self.lock();
            st.registry
                .lookup(&rp.group, &rp.version, &rp.plural)
                .ok_or_else(ApiError::no_route)?
        };
        if !rt.namespaced && rp.namespace.is_some() {
            return Err(ApiError::no_route());
        }
        if rt.namespaced && rp.namespace.is_none() && rp.name.is_some() {
            return Err(ApiError::no_route());
        }
        match (req.method.as_str(), rp.name.as_deref(), rp.sub.as_deref()) {
            ("GET", None, None) => self.list(req, &rt, rp),
            ("POST", None, None) => self.create(req, &rt, rp),
            ("DELETE", None, None) => self.delete_collection(req, &rt, rp),
            ("GET", Some(name), sub) => self.get(req, &rt, rp, name, sub),
            ("PUT", Some(name), sub) => self.update(req, &rt, rp, name, sub),
            ("PATCH", Some(name), sub) => self.patch(req, &rt, rp, name, sub),
            ("DELETE", Some(name), None) => self.delete(req, &rt, rp, name),
            (m, _, _) => Err(ApiError::method_not_allowed(format!(
                "the server does not allow this method on the requested resource ({m})"
            ))),
        }
    }
}
