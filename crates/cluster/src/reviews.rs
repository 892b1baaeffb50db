//! The create-only review resources of `authentication.k8s.io` and `authorization.k8s.io`.
//!
//! The local API authenticates nobody and authorizes everything, so it answers as kube-apiserver
//! does with anonymous authentication, no token authenticator and the `AlwaysAllow` authorizer:
//! every access review is allowed, the rules review grants `*`, the self review names
//! `system:anonymous`, and a token review carries no verdict.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::errors::{ApiError, Cause};
use crate::request::{ApiRequest, Reply, ResourcePath};
use crate::ssa::SchemaRef;
use fjord_model::ResourceType;

/// The review kinds: (group, plural, kind, namespaced, internal Go package).
const REVIEWS: &[(&str, &str, &str, bool, &str)] = &[
    (
        "authentication.k8s.io",
        "tokenreviews",
        "TokenReview",
        false,
        "authentication",
    ),
    (
        "authentication.k8s.io",
        "selfsubjectreviews",
        "SelfSubjectReview",
        false,
        "authentication",
    ),
    (
        "authorization.k8s.io",
        "subjectaccessreviews",
        "SubjectAccessReview",
        false,
        "authorization",
    ),
    (
        "authorization.k8s.io",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        false,
        "authorization",
    ),
    (
        "authorization.k8s.io",
        "localsubjectaccessreviews",
        "LocalSubjectAccessReview",
        true,
        "authorization",
    ),
    (
        "authorization.k8s.io",
        "selfsubjectrulesreviews",
        "SelfSubjectRulesReview",
        false,
        "authorization",
    ),
];

fn review_type(rp: &ResourcePath) -> Option<(Arc<ResourceType>, &'static str)> {
    if rp.version != "v1" {
        return None;
    }
    let (group, plural, kind, namespaced, package) = REVIEWS
        .iter()
        .find(|(g, p, ..)| *g == rp.group && *p == rp.plural)?;
    let rt = ResourceType {
        group: group.to_string(),
        version: "v1".to_string(),
        kind: kind.to_string(),
        plural: plural.to_string(),
        singular: kind.to_ascii_lowercase(),
        namespaced: *namespaced,
        short_names: Vec::new(),
        categories: Vec::new(),
        has_status: false,
        has_scale: false,
        custom: false,
        printer_columns: Vec::new(),
    };
    Some((Arc::new(rt), package))
}

/// The body's apiVersion/kind, which must name the review (an absent one is filled in).
fn check_kind(rt: &ResourceType, package: &str, obj: &mut Value) -> Result<(), ApiError> {
    let api_version = rt.api_version();
    let kind = obj["kind"].as_str().unwrap_or_default().to_string();
    let version = obj["apiVersion"].as_str().unwrap_or_default().to_string();
    let kind_ok = kind.is_empty() || kind == rt.kind;
    let version_ok = version.is_empty() || version == api_version;
    if !(kind_ok && version_ok) {
        let short = version.rsplit('/').next().unwrap_or_default();
        return Err(ApiError::bad_request(format!(
            "{kind} in version \"{short}\" cannot be handled as a {want}: converting ({short}.{kind}) \
             to ({package}.{want}): unknown conversion",
            want = rt.kind
        )));
    }
    obj["apiVersion"] = json!(api_version);
    obj["kind"] = json!(rt.kind);
    if !obj["metadata"].is_object() {
        obj["metadata"] = json!({});
    }
    Ok(())
}

fn invalid(rt: &ResourceType, field: &str, value: &str, why: &str) -> ApiError {
    let message = format!("Invalid value: \"{value}\": {why}");
    ApiError::invalid(
        "",
        &rt.group,
        "",
        vec![Cause::new("FieldValueInvalid", message, field)],
    )
}

/// Validation and the `status` the review is answered with.
fn verdict(rt: &ResourceType, obj: &Value) -> Result<Value, ApiError> {
    let spec = &obj["spec"];
    let has_subject = || {
        spec["user"].as_str().is_some_and(|u| !u.is_empty())
            || spec["groups"].as_array().is_some_and(|g| !g.is_empty())
    };
    match rt.kind.as_str() {
        "TokenReview" => {
            if spec["token"].as_str().unwrap_or_default().is_empty() {
                return Err(ApiError::bad_request(
                    "token is required for TokenReview in authentication",
                ));
            }
            Ok(json!({"user": {}}))
        }
        "SelfSubjectReview" => Ok(json!({"userInfo": {
            "username": "system:anonymous", "groups": ["system:unauthenticated"],
        }})),
        "SelfSubjectRulesReview" => Ok(json!({
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": false,
        })),
        "SubjectAccessReview" | "LocalSubjectAccessReview" if !has_subject() => Err(invalid(
            rt,
            "spec.user",
            "",
            "at least one of user or group must be specified",
        )),
        "LocalSubjectAccessReview" => {
            let ns = obj.pointer("/metadata/namespace").and_then(Value::as_str);
            let asked = spec
                .pointer("/resourceAttributes/namespace")
                .and_then(Value::as_str);
            match (ns, asked) {
                (Some(ns), Some(asked)) if ns != asked => Err(invalid(
                    rt,
                    "spec.resourceAttributes.namespace",
                    asked,
                    "must match metadata.namespace",
                )),
                _ => Ok(json!({"allowed": true})),
            }
        }
        _ => Ok(json!({"allowed": true})),
    }
}

/// The refusal of any verb but create on a review resource.
fn method_not_allowed() -> ApiError {
    let mut e = ApiError::method_not_allowed(
        "the server does not allow this method on the requested resource",
    );
    e.empty_details = true;
    e
}

/// The answer to a watch on `rp` when no stored type serves it: 405 for a review resource
/// (create-only, never watchable) in its own scope, else the plain 404 of an unknown route.
pub(crate) fn unwatchable(rp: &ResourcePath) -> ApiError {
    match review_type(rp) {
        Some((rt, _)) if rt.namespaced == rp.namespace.is_some() && rp.name.is_none() => {
            method_not_allowed()
        }
        _ => ApiError::no_route(),
    }
}

/// Answers a request for a review resource, or `None` when the path names no review.
pub(crate) fn answer(req: &ApiRequest, rp: &ResourcePath) -> Option<Result<Reply, ApiError>> {
    let (rt, package) = review_type(rp)?;
    Some(create(req, rp, &rt, package))
}

fn create(
    req: &ApiRequest,
    rp: &ResourcePath,
    rt: &ResourceType,
    package: &str,
) -> Result<Reply, ApiError> {
    if rt.namespaced != rp.namespace.is_some() || rp.name.is_some() {
        return Err(ApiError::no_route());
    }
    if req.method != "POST" {
        return Err(method_not_allowed());
    }
    let mut obj = crate::decode::decode_body(req, rt)?;
    check_kind(rt, package, &mut obj)?;
    if let Some(ns) = &rp.namespace {
        obj["metadata"]["namespace"] = json!(ns);
    }
    let status = verdict(rt, &obj)?;
    match rt.kind.as_str() {
        "SelfSubjectReview" => {
            let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
            obj["metadata"]["creationTimestamp"] = json!(now);
        }
        "SelfSubjectRulesReview" => {}
        _ => {
            let manager = crate::handlers::options::field_manager(req);
            crate::ssa::record_update(&SchemaRef::Builtin, rt, None, &mut obj, &manager, "");
        }
    }
    obj["status"] = status;
    Ok(Reply::json(201, obj))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Query;

    fn post(path: (&str, Option<&str>, &str), body: Value) -> Result<Reply, ApiError> {
        let (group, namespace, plural) = path;
        let rp = ResourcePath {
            group: group.into(),
            version: "v1".into(),
            namespace: namespace.map(str::to_string),
            plural: plural.into(),
            name: None,
            sub: None,
        };
        let req = ApiRequest {
            method: "POST".into(),
            target: crate::request::Target::Resource(rp.clone()),
            query: Query::parse(""),
            content_type: "application/json".into(),
            accept: String::new(),
            user_agent: "kubectl/v1.34".into(),
            body: body.to_string().into_bytes(),
        };
        answer(&req, &rp).expect("a review")
    }

    #[test]
    fn access_reviews_are_allowed() {
        let r = post(
            ("authorization.k8s.io", None, "selfsubjectaccessreviews"),
            json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": {"verb": "get", "resource": "pods"}}}),
        )
        .expect("created");
        assert_eq!(r.status, 201);
        assert_eq!(r.body["status"], json!({"allowed": true}));
        assert_eq!(r.body["metadata"]["managedFields"][0]["manager"], "kubectl");
        let e = post(
            ("authorization.k8s.io", None, "subjectaccessreviews"),
            json!({"spec": {"resourceAttributes": {"verb": "get"}}}),
        )
        .expect_err("no subject");
        assert_eq!(e.to_status()["code"], 422);
        let e = post(
            (
                "authorization.k8s.io",
                Some("a"),
                "localsubjectaccessreviews",
            ),
            json!({"spec": {"user": "bob", "resourceAttributes": {"namespace": "b"}}}),
        )
        .expect_err("namespace mismatch");
        assert_eq!(e.to_status()["code"], 422);
    }

    #[test]
    fn identity_reviews_answer_for_an_anonymous_all_allowed_client() {
        let r = post(
            ("authentication.k8s.io", None, "selfsubjectreviews"),
            json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}),
        )
        .expect("created");
        assert_eq!(r.body["status"]["userInfo"]["username"], "system:anonymous");
        let e = post(
            ("authentication.k8s.io", None, "tokenreviews"),
            json!({"spec": {}}),
        )
        .expect_err("no token");
        assert_eq!(e.to_status()["code"], 400);
        let rules = post(
            ("authorization.k8s.io", None, "selfsubjectrulesreviews"),
            json!({"spec": {"namespace": "default"}}),
        )
        .expect("created");
        assert_eq!(
            rules.body["status"]["resourceRules"][0]["verbs"],
            json!(["*"])
        );
    }

    #[test]
    fn review_watches_are_refused_with_405() {
        let rp = |plural: &str, namespace: Option<&str>| ResourcePath {
            group: "authorization.k8s.io".into(),
            version: "v1".into(),
            namespace: namespace.map(str::to_string),
            plural: plural.into(),
            name: None,
            sub: None,
        };
        let e = unwatchable(&rp("selfsubjectaccessreviews", None));
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                405,
                "the server does not allow this method on the requested resource"
            )
        );
        assert_eq!(
            unwatchable(&rp("localsubjectaccessreviews", Some("d"))).code,
            405
        );
        assert!(unwatchable(&rp("localsubjectaccessreviews", None)).is_no_route());
        assert!(unwatchable(&rp("widgets", None)).is_no_route());
    }
}
