//! `create` (POST), also used by apply-create and by boot.

use std::sync::Arc;

use serde_json::{json, Value};

use super::{decode_body, dry_run, field_manager, output};
use crate::engine::{Engine, State};
use crate::errors::ApiError;
use crate::kinds::ResourceType;
use crate::meta;
use crate::request::{ApiRequest, Reply, ResourcePath};
use crate::store;

/// Checks `apiVersion` / `kind` of a body against the served type and fills them in.
pub(crate) fn check_type(rt: &ResourceType, obj: &mut Value) -> Result<(), ApiError> {
    let Some(m) = obj.as_object_mut() else {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    };
    if let Some(av) = m.get("apiVersion").and_then(Value::as_str) {
        if av != rt.api_version() {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({av}) does not match the expected API version ({})",
                rt.api_version()
            )));
        }
    }
    if let Some(k) = m.get("kind").and_then(Value::as_str) {
        if k != rt.kind {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                rt.kind
            )));
        }
    }
    m.insert("apiVersion".into(), Value::String(rt.api_version()));
    m.insert("kind".into(), Value::String(rt.kind.clone()));
    Ok(())
}

/// Reconciles the body's namespace with the URL's (mismatch → 400; cluster-scoped → cleared).
pub(crate) fn settle_namespace(
    rt: &ResourceType,
    obj: &mut Value,
    url_ns: Option<&str>,
) -> Result<(), ApiError> {
    let m = meta::metadata_mut(obj);
    if !rt.namespaced {
        m.remove("namespace");
        return Ok(());
    }
    let body_ns = m
        .get("namespace")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    match (body_ns, url_ns) {
        (Some(b), Some(u)) if b != u => Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
        (None, Some(u)) => {
            m.insert("namespace".into(), json!(u));
            Ok(())
        }
        (None, None) => {
            m.insert("namespace".into(), json!("default"));
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Whether objects of this type carry `metadata.generation`.
pub(crate) fn has_generation(rt: &ResourceType) -> bool {
    rt.custom
        || matches!(
            rt.kind.as_str(),
            "Deployment"
                | "StatefulSet"
                | "DaemonSet"
                | "ReplicaSet"
                | "Job"
                | "CronJob"
                | "Ingress"
                | "NetworkPolicy"
                | "PodDisruptionBudget"
                | "HorizontalPodAutoscaler"
                | "CustomResourceDefinition"
                | "ValidatingWebhookConfiguration"
                | "MutatingWebhookConfiguration"
                | "IngressClass"
                | "PriorityClass"
                | "StorageClass"
        )
}

/// Refuses writes into a missing namespace (404) and creates into a terminating one (403).
pub(crate) fn check_namespace(
    st: &State,
    rt: &ResourceType,
    ns: &str,
    name: &str,
) -> Result<(), ApiError> {
    if !rt.namespaced {
        return Ok(());
    }
    match st.store.get(&store::key("", "namespaces", "", ns)) {
        None => Err(ApiError::not_found("", "namespaces", ns)),
        Some(n) if meta::deleting(n) => Err(ApiError::namespace_terminating(
            ns, &rt.group, &rt.plural, name,
        )),
        Some(_) => Ok(()),
    }
}

impl Engine {
    /// POST a new object.
    pub(crate) fn create(
        &self,
        req: &ApiRequest,
        rt: &Arc<ResourceType>,
        rp: &ResourcePath,
    ) -> Result<Reply, ApiError> {
        let dry = dry_run(&req.query)?;
        let manager = field_manager(req)?;
        let mut obj = decode_body(req)?;
        check_type(rt, &mut obj)?;
        settle_namespace(rt, &mut obj, rp.namespace.as_deref())?;
        let mut warnings = Vec::new();
        crate::validate::unknown_fields(rt, &obj, req.query.get("fieldValidation"), &mut warnings)?;
        let mut st = self.lock();
        let created = self.create_object(&mut st, rt, obj, &manager, dry)?;
        let mut reply = Reply::json(201, output(rt, &created));
        reply.headers = warnings;
        Ok(reply)
    }

    /// Creates an object: server-set metadata, defaults, validation, namespace checks, managedFields
    /// (an Update entry for `manager`, unless the object already carries managedFields), then stores it.
    pub(crate) fn create_object(
        &self,
        st: &mut State,
        rt: &Arc<ResourceType>,
        mut obj: Value,
        manager: &str,
        dry: bool,
    ) -> Result<Value, ApiError> {
        check_type(rt, &mut obj)?;
        settle_namespace(rt, &mut obj, None)?;
        let m = meta::metadata_mut(&mut obj);
        for k in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
            "resourceVersion",
            "generation",
        ] {
            m.remove(k);
        }
        let has_name = m
            .get("name")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty());
        if !has_name {
            if let Some(gen) = m
                .get("generateName")
                .and_then(Value::as_str)
                .filter(|g| !g.is_empty())
            {
                let suffix: String = meta::new_uid()
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .take(5)
                    .collect();
                m.insert("name".into(), json!(format!("{gen}{suffix}")));
            }
        }
        let preset_managed = m.contains_key("managedFields") && manager.is_empty();
        if !preset_managed {
            m.remove("managedFields");
        }
        if rt.has_status {
            if let Some(o) = obj.as_object_mut() {
                o.remove("status");
            }
        }
        crate::decode::check_body(rt, &obj)?;
        crate::defaults::on_create(rt, &mut obj);
        crate::defaults::on_write(rt, &mut obj);
        crate::validate::validate(rt, &obj, None)?;
        let ns = meta::namespace(&obj).to_string();
        let name = meta::name(&obj).to_string();
        check_namespace(st, rt, &ns, &name)?;
        let key = store::key(&rt.group, &rt.plural, &ns, &name);
        if st.store.get(&key).is_some() {
            return Err(ApiError::already_exists(&rt.group, &rt.plural, &name));
        }
        let m = meta::metadata_mut(&mut obj);
        m.entry("uid").or_insert_with(|| json!(meta::new_uid()));
        m.insert("creationTimestamp".into(), json!(meta::now()));
        if has_generation(rt) {
            m.insert("generation".into(), json!(1));
        }
        if !preset_managed {
            let schema = self.schema_for(st, rt);
            crate::ssa::record_update(&schema, rt, None, &mut obj, manager, "");
        }
        crate::defaults::after_tracking_create(rt, &mut obj);
        if dry {
            return Ok(obj);
        }
        let stored = self.persist(st, rt, &ns, &name, Some(obj), None)?;
        Ok(stored.as_ref().clone())
    }
}
