//! `update` (PUT) and `patch` (PATCH), the status / scale / finalize subresources, and the
//! update pipeline both end in.

use std::sync::Arc;

use serde_json::{json, Value};

use super::create::{check_namespace, check_type, has_generation};
use super::options::field_manager;
use super::options::{self, Options};
use super::{dry_run, load, output, ObjectTarget};
use crate::decode::decode_body;
use crate::engine::{Engine, State};
use crate::errors::{ApiError, Cause};
use crate::meta;
use crate::request::{ApiRequest, Reply};
use crate::store;
use fjord_model::ResourceType;

/// The autoscaling/v1 Scale view of an object.
pub(crate) fn scale_of(rt: &ResourceType, obj: &Value) -> Value {
    let replicas = obj
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let status_replicas = obj
        .pointer("/status/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let selector = obj
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",")
        });
    let md = &obj["metadata"];
    let mut status = json!({"replicas": status_replicas});
    if let Some(s) = selector {
        status["selector"] = json!(s);
    }
    let _ = rt;
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {"name": md["name"], "namespace": md["namespace"], "uid": md["uid"],
                     "resourceVersion": md["resourceVersion"], "creationTimestamp": md["creationTimestamp"]},
        "spec": {"replicas": replicas},
        "status": status,
    })
}

/// An apply configuration must name exactly the served type (`invalid object type: …`, 400).
fn check_apply_type(rt: &ResourceType, config: &Value) -> Result<(), ApiError> {
    let av = config["apiVersion"].as_str().unwrap_or("");
    let kind = config["kind"].as_str().unwrap_or("");
    if av == rt.api_version() && kind == rt.kind {
        return Ok(());
    }
    // Go's GroupVersionKind.String(): `/v1, Kind=ConfigMap` for the core group.
    let gv = if av.contains('/') {
        av.to_string()
    } else {
        format!("/{av}")
    };
    Err(ApiError::bad_request(format!(
        "invalid object type: {gv}, Kind={kind}"
    )))
}

fn content_kind(ct: &str) -> &str {
    ct.split(';').next().unwrap_or("").trim()
}

impl Engine {
    /// PUT an object or one of its subresources.
    pub(crate) fn update(
        &self,
        req: &ApiRequest,
        target: &ObjectTarget<'_>,
    ) -> Result<Reply, ApiError> {
        let (rt, rp, ns, name, sub) = (target.rt, target.rp, target.ns, target.name, target.sub);
        options::check(req, Options::Update)?;
        let dry = dry_run(&req.query);
        let manager = field_manager(req);
        let mut body = decode_body(req, rt)?;
        let mut warnings = Vec::new();
        if !rt.custom && matches!(sub, None | Some("status")) {
            // The body is decoded as the type (and unknown fields handled) before anything else.
            check_type(rt, &mut body)?;
            crate::decode::check_body(rt, &body)?;
            let mode = req.query.get("fieldValidation");
            crate::unknown_fields::check(rt, &mut body, mode, &mut warnings)?;
        }
        let body_ns = meta::namespace(&body);
        if rt.namespaced && !body_ns.is_empty() && Some(body_ns) != rp.namespace.as_deref() {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the \
                 request",
            ));
        }
        let body_name = meta::name(&body).to_string();
        if !body_name.is_empty() && body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let mut st = self.lock();
        let old = load(&st, rt, ns, name)?;
        let (new, sub) = match sub {
            Some("scale") if rt.has_scale => {
                let mut new = old.as_ref().clone();
                if let Some(r) = body.pointer("/metadata/resourceVersion").cloned() {
                    meta::metadata_mut(&mut new).insert("resourceVersion".into(), r);
                }
                new["spec"]["replicas"] =
                    body.pointer("/spec/replicas").cloned().unwrap_or(json!(0));
                // The real API server records a write through /scale under subresource "scale".
                (new, "scale")
            }
            Some(s @ ("status" | "finalize")) => {
                if (s == "status" && !rt.has_status)
                    || (s == "finalize" && rt.plural != "namespaces")
                {
                    return Err(ApiError::no_route());
                }
                check_type(rt, &mut body)?;
                (body, s)
            }
            None => {
                check_type(rt, &mut body)?;
                if rt.custom && meta::rv(&body).is_none() {
                    return Err(ApiError::invalid(
                        &rt.kind,
                        &rt.group,
                        name,
                        vec![Cause::new(
                            "FieldValueInvalid",
                            "Invalid value: 0x0: must be specified for an update",
                            "metadata.resourceVersion",
                        )],
                    ));
                }
                (body, "")
            }
            Some(_) => return Err(ApiError::no_route()),
        };
        let (code, out) = self.finish_update(&mut st, rt, old, new, Some(&manager), sub, dry)?;
        let out = if rp.sub.as_deref() == Some("scale") {
            scale_of(rt, &out)
        } else {
            output(rt, &out)
        };
        let mut reply = Reply::json(code, out);
        reply.headers = warnings;
        Ok(reply)
    }

    /// PATCH an object or one of its subresources with any of the four patch types.
    pub(crate) fn patch(
        &self,
        req: &ApiRequest,
        target: &ObjectTarget<'_>,
    ) -> Result<Reply, ApiError> {
        let (rt, ns, name, sub) = (target.rt, target.ns, target.name, target.sub);
        let ct = content_kind(&req.content_type).to_string();
        // As the real server: the patch type first, then the options, the object, the body.
        match ct.as_str() {
            "application/merge-patch+json"
            | "application/json-patch+json"
            | "application/apply-patch+yaml" => {}
            "application/strategic-merge-patch+json" if !rt.custom => {}
            "application/strategic-merge-patch+json" => {
                return Err(ApiError::strategic_patch_of_custom_resource())
            }
            // The custom-resource handler words it as for a strategic merge patch.
            _ if rt.custom => return Err(ApiError::strategic_patch_of_custom_resource()),
            _ => return Err(ApiError::unsupported_media_type()),
        }
        let apply = ct == "application/apply-patch+yaml";
        options::check(req, Options::Patch { apply })?;
        let dry = dry_run(&req.query);
        if apply {
            return self.apply_patch(req, target, dry);
        }
        let manager = field_manager(req);
        let mut st = self.lock();
        let old = load(&st, rt, ns, name)?;
        let patch = crate::patch::decode(&ct, &req.body)?;
        let apply = |base: &Value| -> Result<Value, ApiError> {
            match ct.as_str() {
                "application/merge-patch+json" => Ok(crate::patch::merge_patch(base, &patch)),
                "application/json-patch+json" => {
                    crate::patch::json_patch(base, &patch).map_err(ApiError::from)
                }
                _ => crate::patch::strategic(rt, base, &patch),
            }
        };
        let (new, eff_sub) = match sub {
            Some("scale") if rt.has_scale => {
                let patched = apply(&scale_of(rt, &old))?;
                let mut new = old.as_ref().clone();
                new["spec"]["replicas"] = patched
                    .pointer("/spec/replicas")
                    .cloned()
                    .unwrap_or(json!(0));
                if let Some(r) = patched.pointer("/metadata/resourceVersion").cloned() {
                    meta::metadata_mut(&mut new).insert("resourceVersion".into(), r);
                }
                (new, "scale")
            }
            Some("status") if rt.has_status => (apply(&output(rt, &old))?, "status"),
            None => (apply(&output(rt, &old))?, ""),
            Some(_) => return Err(ApiError::no_route()),
        };
        let strategic = ct == "application/strategic-merge-patch+json";
        crate::decode::check_patched(rt, &patch, &new, strategic)?;
        let (code, out) =
            self.finish_update(&mut st, rt, old, new, Some(&manager), eff_sub, dry)?;
        let out = if sub == Some("scale") {
            scale_of(rt, &out)
        } else {
            output(rt, &out)
        };
        Ok(Reply::json(code, out))
    }

    /// Server-side apply (`application/apply-patch+yaml`).
    fn apply_patch(
        &self,
        req: &ApiRequest,
        target: &ObjectTarget<'_>,
        dry: bool,
    ) -> Result<Reply, ApiError> {
        let (rt, rp, ns, name, sub) = (target.rt, target.rp, target.ns, target.name, target.sub);
        let manager = field_manager(req);
        let force = req.query.flag("force");
        let mut config = decode_body(req, rt)?;
        if !config.is_object() {
            return Err(ApiError::bad_request(format!(
                "error decoding YAML: error unmarshaling JSON: while decoding JSON: json: cannot \
                 unmarshal {} into Go value of type map[string]interface {{}}",
                super::go_type_name(&config)
            )));
        }
        check_apply_type(rt, &config)?;
        // The store parses a resourceVersion the configuration sets (garbage: 500).
        let config_rv = match config["metadata"]["resourceVersion"].as_str() {
            Some(rv) if !rv.is_empty() => Some((rv.to_string(), meta::parse_rv(rv)?)),
            _ => None,
        };
        check_type(rt, &mut config)?;
        crate::decode::check_apply(rt, &config)?;
        if !config
            .pointer("/metadata/managedFields")
            .is_none_or(Value::is_null)
        {
            return Err(ApiError::bad_request("metadata.managedFields must be nil"));
        }
        let cfg_name = meta::name(&config);
        if cfg_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({cfg_name}) does not match the name on the URL ({name})"
            )));
        }
        let sub = match sub {
            None => "",
            Some("status") if rt.has_status => "status",
            Some(_) => return Err(ApiError::no_route()),
        };
        let mut st = self.lock();
        crate::ssa::check_duplicates(&self.schema_for(&st, rt), rt, &config, ns)?;
        let key = store::key(&rt.group, &rt.plural, ns, name);
        match st.store.get(&key).cloned() {
            None => {
                if !sub.is_empty() {
                    return Err(ApiError::not_found(&rt.group, &rt.plural, name));
                }
                crate::quantity::check_applied(rt, &config, &config)?;
                super::create::settle_namespace(rt, &mut config, rp.namespace.as_deref())?;
                let schema = self.schema_for(&st, rt);
                let obj = crate::ssa::apply_new(&schema, rt, &config, &manager)?;
                let created = self.create_object(&mut st, rt, obj, "", dry)?;
                Ok(Reply::json(201, output(rt, &created)))
            }
            Some(old) => {
                if let Some((rv, n)) = &config_rv {
                    if *n != 0 && Some(rv.as_str()) != old["metadata"]["resourceVersion"].as_str() {
                        return Err(ApiError::stale(&rt.group, &rt.plural, name));
                    }
                }
                let schema = self.schema_for(&st, rt);
                let merged = crate::ssa::apply(&schema, rt, &old, &config, &manager, force, sub)?;
                crate::quantity::check_applied(rt, &config, &merged)?;
                let (code, out) = self.finish_update(&mut st, rt, old, merged, None, sub, dry)?;
                Ok(Reply::json(code, output(rt, &out)))
            }
        }
    }

    /// The common end of every update: subresource rules, immutable metadata, generation,
    /// managedFields, validation, no-op detection, finalizer-driven removal, then the write.
    /// `manager` is `None` when the caller already computed managedFields (apply).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn finish_update(
        &self,
        st: &mut State,
        rt: &Arc<ResourceType>,
        old: Arc<Value>,
        mut new: Value,
        manager: Option<&str>,
        sub: &str,
        dry: bool,
    ) -> Result<(u16, Value), ApiError> {
        check_type(rt, &mut new)?;
        crate::decode::check_body(rt, &new)?;
        crate::defaults::on_write(rt, &mut new);
        let name = meta::name(&old).to_string();
        let ns = meta::namespace(&old).to_string();
        check_resource_version(rt, &old, &new, &name)?;
        let mut new = scope_to_subresource(rt, &old, new, manager.is_none(), sub);
        let explicit_managed = carry_server_metadata(&old, &mut new, manager.is_some());
        if has_generation(rt) && meta::spec_changed(&old, &new, rt.has_status) {
            bump_generation(&old, &mut new);
        }
        if let (Some(mgr), false) = (manager, explicit_managed) {
            let schema = self.schema_for(st, rt);
            crate::ssa::record_update(&schema, rt, Some(&old), &mut new, mgr, sub);
        }
        crate::defaults::after_tracking_update(rt, &old, &mut new);
        crate::validate::validate(rt, &new, Some(&old))?;
        if meta::deleting(&old) {
            check_no_new_finalizers(rt, &old, &new, &name)?;
        }
        if meta::comparable(&new) == meta::comparable(&old) {
            return Ok((200, old.as_ref().clone()));
        }
        if rt.namespaced {
            check_namespace_exists(st, &ns, rt, &name)?;
        }
        if dry {
            return Ok((200, new));
        }
        if meta::deleting(&new) && meta::finalizers(&new).is_empty() && rt.plural != "namespaces" {
            // As the real server: the update is stored (MODIFIED), then the object goes (DELETED
            // with that last state); the reply is the updated object.
            let last = self.persist(st, rt, &ns, &name, Some(new), Some(old))?;
            self.persist(st, rt, &ns, &name, None, Some(last.clone()))?;
            return Ok((200, last.as_ref().clone()));
        }
        let stored = self.persist(st, rt, &ns, &name, Some(new), Some(old))?;
        Ok((200, stored.as_ref().clone()))
    }
}

/// A `metadata.resourceVersion` in the body must be the stored one (the store parses it first:
/// garbage is a plain 500, and "0" means unconditional).
fn check_resource_version(
    rt: &ResourceType,
    old: &Value,
    new: &Value,
    name: &str,
) -> Result<(), ApiError> {
    let Some(rv) = new
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    else {
        return Ok(());
    };
    let parsed = crate::meta::parse_rv(rv)?;
    if parsed != 0
        && Some(rv)
            != old
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
    {
        return Err(ApiError::stale(&rt.group, &rt.plural, name));
    }
    Ok(())
}

/// What a write through `sub` may change: only `status` (and the body's managedFields when
/// `take_managed`), only `spec.finalizers`, or everything but `status`.
fn scope_to_subresource(
    rt: &ResourceType,
    old: &Value,
    mut new: Value,
    take_managed: bool,
    sub: &str,
) -> Value {
    match sub {
        "status" => {
            let mut o = old.clone();
            o["status"] = new.get("status").cloned().unwrap_or(Value::Null);
            if o["status"].is_null() {
                o.as_object_mut().map(|m| m.remove("status"));
            }
            if take_managed {
                o["metadata"]["managedFields"] = new["metadata"]["managedFields"].clone();
            }
            o
        }
        "finalize" => {
            let mut o = old.clone();
            o["spec"]["finalizers"] = new
                .pointer("/spec/finalizers")
                .cloned()
                .unwrap_or(json!([]));
            o
        }
        _ => {
            if rt.has_status {
                match old.get("status") {
                    Some(s) => new["status"] = s.clone(),
                    None => {
                        new.as_object_mut().map(|m| m.remove("status"));
                    }
                }
            }
            new
        }
    }
}

/// The metadata an update cannot change, copied back from `old`; managedFields kept unless the
/// body sets them explicitly (only a caller with a `manager` may). Returns whether it did.
fn carry_server_metadata(old: &Value, new: &mut Value, has_manager: bool) -> bool {
    // An empty list means "not set"; `[{}]` (or any explicit change) replaces the entries.
    if new
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty)
    {
        meta::metadata_mut(new).remove("managedFields");
    }
    let explicit_managed = has_manager
        && new.pointer("/metadata/managedFields").is_some()
        && new.pointer("/metadata/managedFields") != old.pointer("/metadata/managedFields");
    if explicit_managed {
        crate::ssa::normalize_managed(new);
    }
    let m = meta::metadata_mut(new);
    for k in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "name",
        "namespace",
        "generation",
    ] {
        match old["metadata"].get(k) {
            Some(v) => {
                m.insert(k.to_string(), v.clone());
            }
            None => {
                m.remove(k);
            }
        }
    }
    if !m.contains_key("managedFields") && !explicit_managed {
        if let Some(mf) = old["metadata"].get("managedFields") {
            m.insert("managedFields".into(), mf.clone());
        }
    }
    m.insert(
        "resourceVersion".into(),
        old["metadata"]["resourceVersion"].clone(),
    );
    explicit_managed
}

/// Sets `new`'s generation to one past `old`'s.
fn bump_generation(old: &Value, new: &mut Value) {
    let g = old
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0)
        + 1;
    meta::metadata_mut(new).insert("generation".into(), json!(g));
}

/// An object being deleted may lose finalizers but not gain any.
fn check_no_new_finalizers(
    rt: &ResourceType,
    old: &Value,
    new: &Value,
    name: &str,
) -> Result<(), ApiError> {
    let before = meta::finalizers(old);
    let added: Vec<String> = meta::finalizers(new)
        .into_iter()
        .filter(|f| !before.contains(f))
        .map(|f| format!("{f:?}"))
        .collect();
    if added.is_empty() {
        return Ok(());
    }
    // As the real server: a field error on metadata.finalizers (422 Invalid).
    let cause = crate::errors::Cause::new(
        "FieldValueForbidden",
        format!(
            "Forbidden: no new finalizers can be added if the object is being \
             deleted, found new finalizers []string{{{}}}",
            added.join(", ")
        ),
        "metadata.finalizers",
    );
    // The real server validates object metadata twice here, so its Status lists the cause
    // twice (its message once).
    let mut e = ApiError::invalid(&rt.kind, &rt.group, name, vec![cause.clone()]);
    e.causes.push(cause);
    Err(e)
}

fn check_namespace_exists(
    st: &State,
    ns: &str,
    rt: &ResourceType,
    name: &str,
) -> Result<(), ApiError> {
    match check_namespace(st, rt, ns, name) {
        Err(e) if e.code == 404 => Err(e),
        _ => Ok(()),
    }
}
