//! Resource verbs: routing of resource URLs to the handlers, and helpers they share.

mod create;
mod delete;
pub(crate) mod gojson;
pub(crate) mod options;

pub(crate) use gojson::{syntax_error as go_syntax_error, type_name as go_type_name};
pub(crate) mod read;
pub(crate) mod update;

pub(crate) use delete::DeleteOptions;

use std::sync::Arc;

use serde_json::Value;

use crate::engine::{Engine, State};
use crate::errors::ApiError;
use crate::request::{ApiRequest, Query, Reply, ResourcePath, Target};
use fjord_model::ResourceType;

/// Whether the request is a dry run (`dryRun=All`; other values are refused by
/// [`options::check`] before this is asked).
pub(crate) fn dry_run(q: &Query) -> bool {
    q.get("dryRun") == Some("All")
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

/// The one object a request names.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ObjectTarget<'a> {
    /// Its type.
    pub(crate) rt: &'a Arc<ResourceType>,
    /// The URL that names it.
    pub(crate) rp: &'a ResourcePath,
    /// Its namespace (`""` for a cluster-scoped type).
    pub(crate) ns: &'a str,
    /// Its name.
    pub(crate) name: &'a str,
    /// The subresource (`status`, `scale`, ...), if the URL names one.
    pub(crate) sub: Option<&'a str>,
}

impl<'a> ObjectTarget<'a> {
    fn new(
        rt: &'a Arc<ResourceType>,
        rp: &'a ResourcePath,
        name: &'a str,
        sub: Option<&'a str>,
    ) -> Self {
        let ns = rp.namespace.as_deref().unwrap_or("");
        ObjectTarget {
            rt,
            rp,
            ns,
            name,
            sub,
        }
    }
}

/// The stored object `name` in `ns` of `rt`, or the real server's 404 for it.
pub(crate) fn load(
    st: &State,
    rt: &ResourceType,
    ns: &str,
    name: &str,
) -> Result<Arc<Value>, ApiError> {
    st.store
        .get(&crate::store::key(&rt.group, &rt.plural, ns, name))
        .cloned()
        .ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, name))
}

impl Engine {
    /// Whether an API serves the URL `path`: `/api/...`, `/apis` and the served groups under it,
    /// and the server's other endpoints. Anything else is answered with Go's plain-text 404, as
    /// the real server's mux does (a 404 under a served group is a `Status`).
    pub(crate) fn serves_path(&self, path: &str) -> bool {
        let mut segs = path.split('/').filter(|s| !s.is_empty());
        match (segs.next(), segs.next()) {
            (Some("api"), _) | (Some("apis"), None) => true,
            (Some("apis"), Some(group)) => {
                // A group of custom resources only is served by a handler that answers
                // everything it does not know with the plain 404 too.
                let group = percent_encoding::percent_decode_str(group).decode_utf8_lossy();
                let st = self.lock();
                let groups = st.registry.groups();
                groups.iter().filter(|(g, _)| *g == group).any(|(g, vs)| {
                    vs.iter()
                        .any(|v| st.registry.resources(g, v).iter().any(|r| !r.custom))
                })
            }
            _ => !matches!(crate::request::parse_path(path), Target::Unknown),
        }
    }

    /// Routes a resource URL to its verb handler.
    pub(crate) fn handle_resource(
        &self,
        req: &ApiRequest,
        rp: &ResourcePath,
    ) -> Result<Reply, ApiError> {
        let found = {
            let st = self.lock();
            st.registry.lookup(&rp.group, &rp.version, &rp.plural)
        };
        let Some(rt): Option<Arc<ResourceType>> = found else {
            // The create-only review resources are not stored types.
            return crate::reviews::answer(req, rp).unwrap_or_else(|| Err(ApiError::no_route()));
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
            ("GET", Some(name), sub) => self.get(req, &ObjectTarget::new(&rt, rp, name, sub)),
            ("PUT", Some(name), sub) => self.update(req, &ObjectTarget::new(&rt, rp, name, sub)),
            ("PATCH", Some(name), sub) => self.patch(req, &ObjectTarget::new(&rt, rp, name, sub)),
            ("DELETE", Some(name), None) => {
                self.delete(req, &ObjectTarget::new(&rt, rp, name, None))
            }
            _ => Err(ApiError::method_not_allowed(
                "the server does not allow this method on the requested resource",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode_body;

    fn post(body: &str) -> ApiRequest {
        ApiRequest {
            method: "POST".into(),
            target: Target::Unknown,
            query: Query::default(),
            content_type: "application/json".into(),
            accept: String::new(),
            user_agent: String::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn bodies_go_cannot_read_are_refused_with_gos_words() {
        let cm = crate::kinds::builtins()
            .into_iter()
            .find(|r| r.kind == "ConfigMap")
            .expect("ConfigMap");
        let msg = |body: &str| decode_body(&post(body), &cm).expect_err(body).message;
        assert_eq!(
            msg("{\"apiVersion\":"),
            "the object provided is unrecognized (must be of type ConfigMap): couldn't get \
             version/kind; json parse error: unexpected end of JSON input ({\"apiVersion\":)"
        );
        assert_eq!(
            msg("[1]"),
            "the object provided is unrecognized (must be of type ConfigMap): couldn't get \
             version/kind; json parse error: json: cannot unmarshal array into Go value of type \
             struct { APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \
             \"json:\\\"kind,omitempty\\\"\" } (5b315d)"
        );
        assert!(
            msg("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{}} x")
                .ends_with("after top-level value ({\"apiVersion\":\"v1\",\"kind\":\"Con ...)")
        );
        assert!(msg("").ends_with("unexpected end of JSON input (<empty>)"));
    }
}
