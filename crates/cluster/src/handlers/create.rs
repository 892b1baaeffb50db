//! `create` (POST), also used by apply-create and by boot.

use std::sync::Arc;

use serde_json::{json, Value};

use super::options::field_manager;
use super::options::{self, Options};
use super::{dry_run, output};
use crate::decode::decode_body;
use crate::engine::{Engine, State};
use crate::errors::ApiError;
use crate::meta;
use crate::request::{ApiRequest, Reply, ResourcePath};
use crate::store;
use fjord_model::{split_api_version, ResourceType};

/// Checks `apiVersion` / `kind` of a body against the served type and fills them in.
pub(crate) fn check_type(rt: &ResourceType, obj: &mut Value) -> Result<(), ApiError> {
    let Some(m) = obj.as_object_mut() else {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    };
    let av = m.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = m.get("kind").and_then(Value::as_str).unwrap_or("");
    let av_ok = av.is_empty() || av == rt.api_version();
    let kind_ok = kind.is_empty() || kind == rt.kind;
    if rt.custom && (av.is_empty() || !kind_ok) {
        return Err(custom_type_mismatch(rt, m, av, kind));
    }
    if !(av_ok && kind_ok) {
        // Another version of the same kind in the same group is a version mismatch; anything
        // else is a type the built-in decoder cannot turn into this one.
        let (body_group, body_version) = split_api_version(av);
        let other_version = kind_ok
            && body_group == rt.group
            && crate::kinds::builtins()
                .iter()
                .any(|t| t.group == body_group && t.version == body_version && t.kind == rt.kind);
        if !rt.custom && !other_version {
            return Err(undecodable_type(rt, av, kind));
        }
        if !av_ok {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({av}) does not match the expected API version ({})",
                rt.api_version()
            )));
        }
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind ({})",
            rt.kind
        )));
    }
    m.insert("apiVersion".into(), Value::String(rt.api_version()));
    m.insert("kind".into(), Value::String(rt.kind.clone()));
    Ok(())
}

/// A custom resource body without apiVersion (400) or of another kind (422 on `kind`, as the
/// real server's custom-resource validation reports it).
fn custom_type_mismatch(
    rt: &ResourceType,
    m: &serde_json::Map<String, Value>,
    av: &str,
    kind: &str,
) -> ApiError {
    if av.is_empty() {
        return ApiError::bad_request(format!(
            "the API version in the data () does not match the expected API version ({})",
            rt.api_version()
        ));
    }
    let name = m
        .get("metadata")
        .and_then(|md| md.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let cause = crate::errors::Cause::new(
        "FieldValueInvalid",
        format!("Invalid value: \"{kind}\": must be {}", rt.kind),
        "kind",
    );
    ApiError::invalid(kind, &rt.group, name, vec![cause])
}

/// The 400 of a built-in type's decoder for a body of another type: a registered type cannot be
/// converted, an unknown one is not registered (messages as the real server's scheme words them).
fn undecodable_type(rt: &ResourceType, av: &str, kind: &str) -> ApiError {
    let av = if av.is_empty() {
        rt.api_version()
    } else {
        av.to_string()
    };
    let kind = if kind.is_empty() { &rt.kind } else { kind };
    let (group, version) = split_api_version(&av);
    let registered = crate::kinds::builtins()
        .iter()
        .any(|t| t.group == group && t.version == version && t.kind == kind);
    let why = if registered {
        let internal = match rt.group.split('.').next() {
            Some("") | None => "core",
            Some(g) => g,
        };
        format!(
            "converting ({version}.{kind}) to ({internal}.{}): unknown conversion",
            rt.kind
        )
    } else {
        format!(
            "no kind \"{kind}\" is registered for version \"{av}\" in scheme \
             \"pkg/runtime/scheme.go:110\""
        )
    };
    ApiError::bad_request(format!(
        "{kind} in version \"{version}\" cannot be handled as a {}: {why}",
        rt.kind
    ))
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
                | "Pod"
                | "PodTemplate"
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
        options::check(req, Options::Create)?;
        let dry = dry_run(&req.query);
        let manager = field_manager(req);
        let mut obj = decode_body(req, rt)?;
        check_type(rt, &mut obj)?;
        crate::decode::check_body(rt, &obj)?;
        let mut warnings = Vec::new();
        crate::unknown_fields::check(
            rt,
            &mut obj,
            req.query.get("fieldValidation"),
            &mut warnings,
        )?;
        settle_namespace(rt, &mut obj, rp.namespace.as_deref())?;
        let preset_rv = obj
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .filter(|rv| !rv.is_empty())
            .map(str::to_string);
        let mut st = self.lock();
        let created = self.create_checked(&mut st, rt, obj, &manager, dry, preset_rv.as_deref())?;
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
        obj: Value,
        manager: &str,
        dry: bool,
    ) -> Result<Value, ApiError> {
        self.create_checked(st, rt, obj, manager, dry, None)
    }

    /// [`Engine::create_object`] for a POST whose body set `metadata.resourceVersion`: the real
    /// store refuses a numeric, non-zero one (500, after validation, before the name is checked);
    /// a dry run answers it unchanged.
    fn create_checked(
        &self,
        st: &mut State,
        rt: &Arc<ResourceType>,
        mut obj: Value,
        manager: &str,
        dry: bool,
        preset_rv: Option<&str>,
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
        ] {
            m.remove(k);
        }
        if has_generation(rt) {
            // Other types keep a generation the client sets (their strategies leave it alone).
            m.remove("generation");
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
        let numeric_rv = preset_rv.and_then(|rv| rv.parse::<u64>().ok());
        if !dry && numeric_rv.is_some_and(|rv| rv != 0) {
            return Err(ApiError::plain(
                500,
                "resourceVersion should not be set on objects to be created",
            ));
        }
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
            if let Some(rv) = preset_rv {
                meta::metadata_mut(&mut obj).insert("resourceVersion".into(), json!(rv));
            }
            return Ok(obj);
        }
        let stored = self.persist(st, rt, &ns, &name, Some(obj), None)?;
        Ok(stored.as_ref().clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(kind: &str) -> ResourceType {
        crate::kinds::builtin_type(kind)
    }

    #[test]
    fn another_type_in_the_body_is_refused_as_the_decoder_words_it() {
        let cm = rt("ConfigMap");
        let msg = |body: Value| {
            check_type(&cm, &mut body.clone())
                .expect_err("type")
                .message
        };
        assert_eq!(
            msg(json!({"apiVersion": "v1", "kind": "Secret"})),
            "Secret in version \"v1\" cannot be handled as a ConfigMap: converting (v1.Secret) \
             to (core.ConfigMap): unknown conversion"
        );
        assert_eq!(
            msg(json!({"apiVersion": "apps/v1", "kind": "ConfigMap"})),
            "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: no kind \"ConfigMap\" \
             is registered for version \"apps/v1\" in scheme \"pkg/runtime/scheme.go:110\""
        );
        let mut widget = rt("ConfigMap");
        (widget.group, widget.kind, widget.custom) =
            ("h.example.com".into(), "Widget".into(), true);
        let e = check_type(
            &widget,
            &mut json!({"apiVersion": "h.example.com/v1", "kind": "Gadget",
                "metadata": {"name": "w"}}),
        )
        .expect_err("kind");
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                422,
                "Gadget.h.example.com \"w\" is invalid: kind: Invalid value: \"Gadget\": must be Widget"
            )
        );
        let e = check_type(&widget, &mut json!({"kind": "Widget"})).expect_err("apiVersion");
        assert!(e
            .message
            .starts_with("the API version in the data () does not match"));
        let mut ok = json!({"kind": "ConfigMap"});
        check_type(&cm, &mut ok).expect("apiVersion may be left out");
        assert_eq!(ok["apiVersion"], "v1");
    }
}
