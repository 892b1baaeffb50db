//! `delete` and `deletecollection`: preconditions, finalizers, propagation policies and the
//! namespace lifecycle's first step.

use std::sync::Arc;

use serde_json::{json, Value};

use super::read::{collection_prefix, Filter};
use super::{output, ObjectTarget};
use crate::engine::{Engine, State, SYSTEM_NAMESPACES};
use crate::errors::{ApiError, Cause};
use crate::meta;
use crate::request::{ApiRequest, Reply, ResourcePath};
use fjord_model::ResourceType;

/// The finalizer that makes the GC delete dependents first.
pub(crate) const FOREGROUND: &str = "foregroundDeletion";
/// The finalizer that makes the GC orphan dependents.
pub(crate) const ORPHAN: &str = "orphan";

/// Parsed `DeleteOptions`.
#[derive(Debug, Clone, Default)]
pub(crate) struct DeleteOptions {
    /// `propagationPolicy`.
    pub propagation: Option<String>,
    /// `preconditions.uid`.
    pub uid: Option<String>,
    /// `preconditions.resourceVersion`.
    pub rv: Option<String>,
    /// `dryRun: [All]`.
    pub dry: bool,
}

impl DeleteOptions {
    /// Reads the DELETE body (and query) of a request; bad options are one 422, as the real
    /// server's `DeleteOptions` validation answers.
    pub(crate) fn from_request(req: &ApiRequest) -> Result<DeleteOptions, ApiError> {
        let mut o = DeleteOptions::default();
        let mut dry: Vec<String> = req
            .query
            .get("dryRun")
            .map(str::to_string)
            .into_iter()
            .collect();
        let mut propagation = req.query.get("propagationPolicy").map(str::to_string);
        let mut orphan = req.query.get("orphanDependents").map(|v| v == "true");
        if !req.body.is_empty() {
            let body = if is_protobuf(&req.content_type) {
                crate::protobuf::decode_delete_options(&req.body).map_err(|e| {
                    ApiError::bad_request(format!("unable to decode the DeleteOptions body: {e}"))
                })?
            } else {
                decode_options_body(&req.body)?
            };
            if let Some(p) = body["propagationPolicy"].as_str() {
                propagation = Some(p.to_string());
            }
            if let Some(b) = body["orphanDependents"].as_bool() {
                orphan = Some(b);
            }
            o.uid = body
                .pointer("/preconditions/uid")
                .and_then(Value::as_str)
                .map(str::to_string);
            o.rv = body
                .pointer("/preconditions/resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_string);
            if let Some(a) = body["dryRun"].as_array() {
                dry = a
                    .iter()
                    .map(|d| d.as_str().unwrap_or("").to_string())
                    .collect();
            }
        }
        let mut causes = Vec::new();
        if let (Some(p), Some(_)) = (&propagation, orphan) {
            causes.push(Cause::new(
                "FieldValueInvalid",
                format!(
                    "Invalid value: {}: orphanDependents and deletionPropagation cannot be both set",
                    fjord_model::go::quote(p)
                ),
                "propagationPolicy",
            ));
        }
        if let Some(p) = &propagation {
            if !matches!(p.as_str(), "Background" | "Foreground" | "Orphan") {
                causes.push(Cause::new(
                    "FieldValueNotSupported",
                    format!(
                        "Unsupported value: {}: supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\"",
                        fjord_model::go::quote(p)
                    ),
                    "propagationPolicy",
                ));
            }
        }
        let dry_refs: Vec<&str> = dry.iter().map(String::as_str).collect();
        causes.extend(super::options::dry_run_causes(&dry_refs));
        if !causes.is_empty() {
            return Err(ApiError::invalid_options("DeleteOptions", causes));
        }
        o.dry = !dry.is_empty();
        o.propagation = match (propagation, orphan) {
            (Some(p), _) => Some(p),
            (None, Some(true)) => Some("Orphan".into()),
            (None, _) => None,
        };
        Ok(o)
    }
}

/// Whether a body is in the Kubernetes protobuf encoding.
fn is_protobuf(content_type: &str) -> bool {
    content_type.starts_with("application/vnd.kubernetes.protobuf")
}

/// Reads a DELETE body as the real server does; what Go cannot read is a plain 500 in its words.
fn decode_options_body(body: &[u8]) -> Result<Value, ApiError> {
    let fail = |why: String| ApiError::plain(500, why);
    if let Some(why) = super::go_syntax_error(body) {
        return Err(fail(format!(
            "couldn't get version/kind; json parse error: {why}"
        )));
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| fail(e.to_string()))?;
    if !v.is_object() {
        return Err(fail(format!(
            "couldn't get version/kind; json parse error: json: cannot unmarshal {} into Go \
             value of type {}",
            super::go_type_name(&v),
            crate::decode::TYPE_META_STRUCT
        )));
    }
    if let Some(p) = v
        .get("propagationPolicy")
        .filter(|p| !p.is_string() && !p.is_null())
    {
        return Err(fail(format!(
            "json: cannot unmarshal {} into Go struct field DeleteOptions.propagationPolicy of \
             type v1.DeletionPropagation",
            super::go_type_name(p)
        )));
    }
    Ok(v)
}

/// What a delete did.
#[derive(Debug, Clone)]
pub(crate) enum DeleteOutcome {
    /// The object is gone (its last state).
    Gone(Value),
    /// The object got (or already had) a deletionTimestamp and waits for finalizers.
    Pending(Value),
}

impl Engine {
    /// DELETE of one object.
    pub(crate) fn delete(
        &self,
        req: &ApiRequest,
        target: &ObjectTarget<'_>,
    ) -> Result<Reply, ApiError> {
        let (rt, ns, name) = (target.rt, target.ns, target.name);
        let opts = DeleteOptions::from_request(req)?;
        let mut st = self.lock();
        match self.delete_object(&mut st, rt, ns, name, &opts)? {
            DeleteOutcome::Pending(obj) => Ok(Reply::json(200, output(rt, &obj))),
            DeleteOutcome::Gone(obj) => {
                let mut details = json!({"name": name, "group": rt.group, "kind": rt.plural,
                    "uid": meta::uid(&obj)});
                if rt.group.is_empty() {
                    // As the real server: an empty group is left out.
                    details.as_object_mut().map(|d| d.remove("group"));
                }
                Ok(Reply::json(
                    200,
                    json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
                        "status": "Success", "details": details}),
                ))
            }
        }
    }

    /// DELETE of a collection (selectors honoured); answers the list of deleted objects.
    pub(crate) fn delete_collection(
        &self,
        req: &ApiRequest,
        rt: &Arc<ResourceType>,
        rp: &ResourcePath,
    ) -> Result<Reply, ApiError> {
        let opts = DeleteOptions::from_request(req)?;
        let filter = Filter::from_request(req)?;
        let prefix = collection_prefix(rt, rp.namespace.as_deref());
        let mut st = self.lock();
        let targets: Vec<(String, String)> = st
            .store
            .scan(&prefix)
            .filter(|(_, v)| filter.matches(v))
            .map(|(_, v)| (meta::namespace(v).to_string(), meta::name(v).to_string()))
            .collect();
        let mut items = Vec::new();
        for (ns, name) in targets {
            match self.delete_object(&mut st, rt, &ns, &name, &opts)? {
                DeleteOutcome::Gone(o) | DeleteOutcome::Pending(o) => items.push(output(rt, &o)),
            }
        }
        Ok(Reply::json(
            200,
            json!({
                "kind": format!("{}List", rt.kind), "apiVersion": rt.api_version(),
                "metadata": {"resourceVersion": st.store.rv().to_string()}, "items": items,
            }),
        ))
    }

    /// Deletes (or starts deleting) one object.
    pub(crate) fn delete_object(
        &self,
        st: &mut State,
        rt: &Arc<ResourceType>,
        ns: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<DeleteOutcome, ApiError> {
        let old = super::load(st, rt, ns, name)?;
        // As the real server's BeforeDelete: the conflict names the kind, not the resource.
        if let Some(uid) = &opts.uid {
            if uid != meta::uid(&old) {
                return Err(ApiError::conflict(
                    &rt.group,
                    &rt.kind,
                    name,
                    &format!(
                        "the UID in the precondition ({uid}) does not match the UID in record ({}). \
                         The object might have been deleted and then recreated",
                        meta::uid(&old)
                    ),
                ));
            }
        }
        if let Some(rv) = &opts.rv {
            let current = old["metadata"]["resourceVersion"].as_str().unwrap_or("");
            if rv != current {
                return Err(ApiError::conflict(
                    &rt.group,
                    &rt.kind,
                    name,
                    &format!(
                        "the ResourceVersion in the precondition ({rv}) does not match the \
                         ResourceVersion in record ({current}). The object might have been modified"
                    ),
                ));
            }
        }
        if rt.group.is_empty() && rt.plural == "namespaces" {
            return self.delete_namespace(st, rt, old, opts.dry);
        }
        let mut fins = meta::finalizers(&old);
        match opts.propagation.as_deref() {
            Some("Foreground") => {
                fins.retain(|f| f != ORPHAN);
                if !fins.iter().any(|f| f == FOREGROUND) {
                    fins.push(FOREGROUND.into());
                }
            }
            Some("Orphan") => {
                fins.retain(|f| f != FOREGROUND);
                if !fins.iter().any(|f| f == ORPHAN) {
                    fins.push(ORPHAN.into());
                }
            }
            Some(_) => fins.retain(|f| f != ORPHAN && f != FOREGROUND),
            None => {}
        }
        // An orphan/foreground finalizer with no dependents to process would block for nothing.
        let uid = meta::uid(&old).to_string();
        let has_dependents = st.store.all().any(|(_, v)| {
            v.pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .is_some_and(|refs| refs.iter().any(|r| r["uid"] == uid.as_str()))
        });
        if !has_dependents {
            fins.retain(|f| f != ORPHAN && f != FOREGROUND);
        }
        if fins.is_empty() {
            if opts.dry {
                return Ok(DeleteOutcome::Gone(old.as_ref().clone()));
            }
            let last = self.persist(st, rt, ns, name, None, Some(old))?;
            return Ok(DeleteOutcome::Gone(last.as_ref().clone()));
        }
        let mut obj = old.as_ref().clone();
        meta::set_finalizers(&mut obj, &fins);
        if !meta::deleting(&old) {
            let m = meta::metadata_mut(&mut obj);
            m.insert("deletionTimestamp".into(), json!(meta::now()));
            m.insert("deletionGracePeriodSeconds".into(), json!(0));
            if let Some(g) = m.get("generation").and_then(Value::as_i64) {
                m.insert("generation".into(), json!(g + 1));
            }
        }
        if obj == *old || opts.dry {
            return Ok(DeleteOutcome::Pending(obj));
        }
        let stored = self.persist(st, rt, ns, name, Some(obj), Some(old))?;
        Ok(DeleteOutcome::Pending(stored.as_ref().clone()))
    }

    fn delete_namespace(
        &self,
        st: &mut State,
        rt: &Arc<ResourceType>,
        old: Arc<Value>,
        dry: bool,
    ) -> Result<DeleteOutcome, ApiError> {
        let name = meta::name(&old).to_string();
        if SYSTEM_NAMESPACES[..3].contains(&name.as_str()) {
            let mut e = ApiError::forbidden(format!(
                "namespaces \"{name}\" is forbidden: this namespace may not be deleted"
            ));
            // As the real server's admission error: details name the object, kind "namespaces".
            e.subject = Some(Box::new(crate::errors::Subject {
                name: name.clone(),
                group: String::new(),
                kind: "namespaces".into(),
            }));
            return Err(e);
        }
        if meta::deleting(&old) {
            return Ok(DeleteOutcome::Pending(old.as_ref().clone()));
        }
        let mut obj = old.as_ref().clone();
        meta::metadata_mut(&mut obj).insert("deletionTimestamp".into(), json!(meta::now()));
        obj["status"]["phase"] = json!("Terminating");
        if dry {
            return Ok(DeleteOutcome::Pending(obj));
        }
        let stored = self.persist(st, rt, "", &name, Some(obj), Some(old))?;
        Ok(DeleteOutcome::Pending(stored.as_ref().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_bodies_go_cannot_read_are_plain_500s() {
        let e = decode_options_body(b"{bad").expect_err("syntax");
        assert_eq!(
            (e.code, e.reason.as_str(), e.message.as_str()),
            (
                500,
                "",
                "couldn't get version/kind; json parse error: invalid character 'b' looking for \
                 beginning of object key string"
            )
        );
        let e = decode_options_body(b"{\"propagationPolicy\":5}").expect_err("type");
        assert!(
            e.message.ends_with("of type v1.DeletionPropagation"),
            "{}",
            e.message
        );
        assert!(decode_options_body(b"{\"kind\":\"DeleteOptions\"}").is_ok());
    }
}
