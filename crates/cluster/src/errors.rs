//! Kubernetes `Status` error bodies.
//!
//! Every failed API call answers with a `metav1.Status` object whose `code`, `reason`, `message` and
//! `details` follow the real apiserver (see `k8s.io/apimachinery/pkg/api/errors`): `details.kind`
//! holds the *resource* name for NotFound, AlreadyExists and Conflict, and causes serialise their
//! type as `reason`.

use serde_json::{json, Value};

/// One entry of `details.causes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// The cause type, e.g. `FieldValueRequired`.
    pub reason: String,
    /// Human-readable text.
    pub message: String,
    /// The field path the cause concerns, e.g. `spec.selector`.
    pub field: String,
}

impl Cause {
    /// Builds a cause.
    pub fn new(reason: &str, message: impl Into<String>, field: impl Into<String>) -> Cause {
        Cause {
            reason: reason.to_string(),
            message: message.into(),
            field: field.into(),
        }
    }
}

/// The object an error concerns (`details.name` / `group` / `kind`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// `details.name`.
    pub name: String,
    /// `details.group`.
    pub group: String,
    /// `details.kind`.
    pub kind: String,
}

/// An API failure, rendered as a `Status` body with an HTTP code.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// `StatusReason`, e.g. `NotFound`.
    pub reason: String,
    /// The message.
    pub message: String,
    /// `details.name`, `details.group` and `details.kind` (the resource name for most reasons).
    pub subject: Option<Box<Subject>>,
    /// `details.causes`.
    pub causes: Vec<Cause>,
    /// `details.retryAfterSeconds` and the `Retry-After` header.
    pub retry_after: Option<u32>,
    /// Render `details: {}` even when there is nothing to put in it (the real server's generic
    /// responses carry an empty details object).
    pub empty_details: bool,
    /// Answer Go's plain-text `404 page not found` instead of a `Status` (paths no API serves).
    pub plain_text: bool,
}

/// Formats `resource.group` (or `resource` for the core group), as the apiserver names objects.
pub fn qualified(resource: &str, group: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

impl ApiError {
    fn base(code: u16, reason: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason: reason.to_string(),
            message: message.into(),
            subject: None,
            causes: Vec::new(),
            retry_after: None,
            empty_details: false,
            plain_text: false,
        }
    }

    fn with_details(mut self, group: &str, resource: &str, name: &str) -> ApiError {
        self.subject = Some(Box::new(Subject {
            name: name.to_string(),
            group: group.to_string(),
            kind: resource.to_string(),
        }));
        self
    }

    /// 404 `resource.group "name" not found`.
    pub fn not_found(group: &str, resource: &str, name: &str) -> ApiError {
        let msg = format!("{} \"{name}\" not found", qualified(resource, group));
        ApiError::base(404, "NotFound", msg).with_details(group, resource, name)
    }

    /// 404 for a path under a served API group-version that names no resource (or an
    /// unserved version of a served group): a `Status` with empty details.
    pub fn no_route() -> ApiError {
        let mut e = ApiError::base(
            404,
            "NotFound",
            "the server could not find the requested resource",
        );
        e.empty_details = true;
        e
    }

    /// Whether this is [`ApiError::no_route`]'s answer.
    pub fn is_no_route(&self) -> bool {
        self.code == 404 && self.empty_details && self.subject.is_none() && !self.plain_text
    }

    /// 404 for a path outside every API group the server serves: Go's plain-text
    /// `404 page not found`, not a `Status`.
    pub fn page_not_found() -> ApiError {
        let mut e = ApiError::base(404, "NotFound", "404 page not found");
        e.plain_text = true;
        e
    }

    /// A response built the way the real server builds generic ones: the standard message of
    /// the code and empty details (e.g. 422 for a JSON patch that does not apply).
    pub fn generic(code: u16, reason: &str, message: &str) -> ApiError {
        let mut e = ApiError::base(code, reason, message);
        e.empty_details = true;
        e
    }

    /// 422 for a request the server cannot process (a JSON patch whose operations fail).
    pub fn rejected() -> ApiError {
        ApiError::generic(
            422,
            "Invalid",
            "the server rejected our request due to an error in our request",
        )
    }

    /// A failure the real server reports from a plain Go error: no reason, no details
    /// (e.g. 500 for an unparsable resourceVersion).
    pub fn plain(code: u16, message: impl Into<String>) -> ApiError {
        ApiError::base(code, "", message)
    }

    /// 422 for invalid request options (`CreateOptions`, `UpdateOptions`, `PatchOptions`,
    /// `DeleteOptions` of `meta.k8s.io`).
    pub fn invalid_options(kind: &str, causes: Vec<Cause>) -> ApiError {
        ApiError::invalid(kind, "meta.k8s.io", "", causes)
    }

    /// 409 `... already exists`.
    pub fn already_exists(group: &str, resource: &str, name: &str) -> ApiError {
        let msg = format!("{} \"{name}\" already exists", qualified(resource, group));
        ApiError::base(409, "AlreadyExists", msg).with_details(group, resource, name)
    }

    /// 409 optimistic-concurrency conflict.
    pub fn conflict(group: &str, resource: &str, name: &str, why: &str) -> ApiError {
        let msg = format!(
            "Operation cannot be fulfilled on {} \"{name}\": {why}",
            qualified(resource, group)
        );
        ApiError::base(409, "Conflict", msg).with_details(group, resource, name)
    }

    /// 409 stale resourceVersion.
    pub fn stale(group: &str, resource: &str, name: &str) -> ApiError {
        ApiError::conflict(
            group,
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 409 server-side-apply conflict: the details carry only causes.
    pub fn apply_conflict(message: String, causes: Vec<Cause>) -> ApiError {
        let mut e = ApiError::base(409, "Conflict", message);
        e.causes = causes;
        e
    }

    /// 422 `Kind.group "name" is invalid: ...`.
    pub fn invalid(kind: &str, group: &str, name: &str, causes: Vec<Cause>) -> ApiError {
        let parts: Vec<String> = causes
            .iter()
            .map(|c| {
                if c.field.is_empty() {
                    c.message.clone()
                } else {
                    format!("{}: {}", c.field, c.message)
                }
            })
            .collect();
        let joined = if parts.len() == 1 {
            parts[0].clone()
        } else {
            format!("[{}]", parts.join(", "))
        };
        let msg = format!("{} \"{name}\" is invalid: {joined}", qualified(kind, group));
        let mut e = ApiError::base(422, "Invalid", msg).with_details(group, kind, name);
        e.causes = causes;
        // Go's NewInvalid always carries details (`{}` when every member is empty).
        e.empty_details = true;
        e
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::base(400, "BadRequest", message)
    }

    /// 403 Forbidden.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::base(403, "Forbidden", message)
    }

    /// 403 Forbidden for a create in a terminating namespace.
    pub fn namespace_terminating(
        namespace: &str,
        group: &str,
        resource: &str,
        name: &str,
    ) -> ApiError {
        let msg = format!(
            "{} \"{name}\" is forbidden: unable to create new content in namespace {namespace} because it is being terminated",
            qualified(resource, group)
        );
        let mut e = ApiError::base(403, "Forbidden", msg).with_details(group, resource, name);
        e.causes.push(Cause::new(
            "NamespaceTerminating",
            format!("namespace {namespace} is being terminated"),
            "metadata.namespace",
        ));
        e
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed(message: impl Into<String>) -> ApiError {
        let mut e = ApiError::base(405, "MethodNotAllowed", message);
        e.empty_details = true;
        e
    }

    /// 410 Expired.
    pub fn expired(message: impl Into<String>) -> ApiError {
        ApiError::base(410, "Expired", message)
    }

    /// 415 UnsupportedMediaType for a patch body of an unknown type.
    pub fn unsupported_media_type() -> ApiError {
        ApiError::generic(415, "UnsupportedMediaType", "415: Unsupported Media Type")
    }

    /// 415 for a strategic-merge patch of a custom resource (the real server names no type).
    pub fn strategic_patch_of_custom_resource() -> ApiError {
        ApiError::base(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
        )
    }

    /// 500 InternalError.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::base(500, "InternalError", message)
    }

    /// 429 TooManyRequests (fault injection).
    pub fn too_many_requests() -> ApiError {
        let mut e = ApiError::base(
            429,
            "TooManyRequests",
            "the server has received too many requests and has asked us to try again later",
        );
        e.retry_after = Some(1);
        e
    }

    /// 504 Timeout.
    pub fn timeout(message: impl Into<String>) -> ApiError {
        let mut e = ApiError::base(504, "Timeout", message);
        e.retry_after = Some(1);
        e
    }

    /// Renders the `Status` body.
    pub fn to_status(&self) -> Value {
        let mut details = serde_json::Map::new();
        if let Some(sub) = &self.subject {
            if !sub.name.is_empty() {
                details.insert("name".into(), json!(sub.name));
            }
            if !sub.group.is_empty() {
                details.insert("group".into(), json!(sub.group));
            }
            if !sub.kind.is_empty() {
                details.insert("kind".into(), json!(sub.kind));
            }
        }
        if !self.causes.is_empty() {
            let causes: Vec<Value> = self
                .causes
                .iter()
                .map(|c| {
                    let mut m = serde_json::Map::new();
                    m.insert("reason".into(), json!(c.reason));
                    m.insert("message".into(), json!(c.message));
                    if !c.field.is_empty() {
                        m.insert("field".into(), json!(c.field));
                    }
                    Value::Object(m)
                })
                .collect();
            details.insert("causes".into(), Value::Array(causes));
        }
        if let Some(r) = self.retry_after {
            details.insert("retryAfterSeconds".into(), json!(r));
        }
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if self.reason.is_empty() {
            // Go's omitempty: a plain error's Status has no reason.
            status.as_object_mut().map(|m| m.remove("reason"));
        }
        if !details.is_empty() || self.empty_details {
            status["details"] = Value::Object(details);
        }
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_uses_resource_and_group() {
        let e = ApiError::not_found("apps", "deployments", "web");
        let s = e.to_status();
        assert_eq!(s["message"], "deployments.apps \"web\" not found");
        assert_eq!(s["details"]["kind"], "deployments");
        assert_eq!(s["code"], 404);
    }

    #[test]
    fn generic_and_plain_errors_render_as_the_real_server() {
        let s = ApiError::no_route().to_status();
        assert_eq!(s["details"], json!({}));
        let s = ApiError::rejected().to_status();
        assert_eq!(
            (s["code"].clone(), s["details"].clone()),
            (json!(422), json!({}))
        );
        let s =
            ApiError::plain(500, "strconv.ParseUint: parsing \"x\": invalid syntax").to_status();
        assert!(
            s.get("reason").is_none() && s.get("details").is_none(),
            "{s}"
        );
        assert!(ApiError::page_not_found().plain_text);
        let e = ApiError::invalid_options(
            "CreateOptions",
            vec![Cause::new(
                "FieldValueNotSupported",
                "Unsupported value",
                "dryRun",
            )],
        );
        assert_eq!(
            e.message,
            "CreateOptions.meta.k8s.io \"\" is invalid: dryRun: Unsupported value"
        );
        assert!(e.to_status()["details"].get("name").is_none());
    }

    #[test]
    fn invalid_joins_causes() {
        let e = ApiError::invalid(
            "Deployment",
            "apps",
            "web",
            vec![
                Cause::new("FieldValueRequired", "Required value", "spec.selector"),
                Cause::new("FieldValueRequired", "Required value", "spec.template"),
            ],
        );
        assert_eq!(
            e.message,
            "Deployment.apps \"web\" is invalid: [spec.selector: Required value, spec.template: Required value]"
        );
        assert_eq!(
            e.to_status()["details"]["causes"][1]["field"],
            "spec.template"
        );
    }
}
