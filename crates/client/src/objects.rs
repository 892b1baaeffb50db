//! The object verbs: get, list (whole objects or metadata only), server-side apply, create,
//! replace, delete and merge patch.
//!
//! Requests are built with kube's request builder and their JSON bodies are read straight into
//! `serde_json::Value`, the form the rest of fjord works with (going through kube's
//! `DynamicObject` cost a second conversion of every object).

use kube::api::{
    DeleteParams, GetParams, ListParams, Patch, PatchParams, PostParams, PropagationPolicy,
};
use serde_json::Value;

use crate::{str_field, target, ApplyOptions, Client, ClientError, Propagation, ResourceType};

/// A list's items, unparsed. A real kube-apiserver answers an empty list with `"items": null`
/// (a Go nil slice), so a missing or `null` `items` is an empty list.
#[derive(serde::Deserialize)]
struct RawList<'a> {
    #[serde(borrow, default)]
    items: Option<Vec<&'a serde_json::value::RawValue>>,
}

/// Deserializes `null` (a Go nil slice or map) as the type's default, as the real API server
/// sends empty lists.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de> + Default,
{
    let v: Option<T> = serde::Deserialize::deserialize(deserializer)?;
    Ok(v.unwrap_or_default())
}

/// Builds one HTTP request (called again for each retry).
type Build<'a> = dyn Fn(&kube::core::Request) -> Result<http::Request<Vec<u8>>, kube::core::request::Error>
    + Send
    + Sync
    + 'a;

impl Client {
    /// The request builder of a type's collection (in `ns`, or across namespaces).
    fn request_for(&self, t: &ResourceType, ns: Option<&str>) -> kube::core::Request {
        kube::core::Request::new(self.api(t, ns).resource_url())
    }

    /// Sends the request `build` makes (retrying transient failures) and parses its JSON body.
    async fn send(
        &self,
        t: &ResourceType,
        ns: Option<&str>,
        build: &Build<'_>,
    ) -> Result<Value, kube::Error> {
        let builder = self.request_for(t, ns);
        self.retry
            .run(|| {
                let req = build(&builder).map_err(kube::Error::BuildRequest);
                async move { self.inner.request::<Value>(req?).await }
            })
            .await
    }

    /// Gives a returned object the type's `apiVersion` and `kind` when the server left them out
    /// (list items of built-in types).
    fn typed(t: &ResourceType, mut obj: Value) -> Value {
        if let Some(m) = obj.as_object_mut() {
            m.entry("apiVersion")
                .or_insert_with(|| Value::String(t.api_version()));
            m.entry("kind")
                .or_insert_with(|| Value::String(t.kind.clone()));
        }
        obj
    }

    /// The live object, `None` when it does not exist.
    pub async fn get(
        &self,
        t: &ResourceType,
        ns: Option<&str>,
        name: &str,
    ) -> Result<Option<Value>, ClientError> {
        let gp = GetParams::default();
        let got = self.send(t, ns, &|r| r.get(name, &gp)).await;
        self.observe("get", &t.kind, ns, false, &got, 200);
        match got {
            Ok(obj) => Ok(Some(Self::typed(t, obj))),
            Err(kube::Error::Api(resp)) if resp.code == 404 => Ok(None),
            Err(source) => Err(Self::failed("get", t, target(ns, name), source)),
        }
    }

    /// Objects of a type, in one namespace or (`None`) all of them.
    pub async fn list(
        &self,
        t: &ResourceType,
        ns: Option<&str>,
    ) -> Result<Vec<Value>, ClientError> {
        let lp = ListParams::default();
        let list = self.send(t, ns, &|r| r.list(&lp)).await;
        self.observe("list", &t.kind, ns, false, &list, 200);
        let mut list =
            list.map_err(|source| Self::failed("list", t, ns.unwrap_or("*").to_string(), source))?;
        let items = match list.get_mut("items").map(Value::take) {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        };
        Ok(items.into_iter().map(|o| Self::typed(t, o)).collect())
    }

    /// The `apiVersion`, `kind` and `metadata` of the objects of a type (in one namespace or,
    /// with `None`, all of them) whose JSON text contains `needle` (every object when it is
    /// empty). A `PartialObjectMetadataList` request, so the server sends no spec or status;
    /// items without `needle` are skipped unparsed. Finding the few objects that carry an
    /// annotation value in a large cluster costs a text search, not a parse of every object.
    pub async fn list_metadata(
        &self,
        t: &ResourceType,
        ns: Option<&str>,
        needle: &str,
    ) -> Result<Vec<Value>, ClientError> {
        let lp = ListParams::default();
        let builder = self.request_for(t, ns);
        let text = self
            .retry
            .run(|| {
                let req = builder
                    .list_metadata(&lp)
                    .map_err(kube::Error::BuildRequest);
                async move { self.inner.request_text(req?).await }
            })
            .await;
        self.observe("list", &t.kind, ns, false, &text, 200);
        let text =
            text.map_err(|source| Self::failed("list", t, ns.unwrap_or("*").to_string(), source))?;
        let decode = |source| ClientError::Decode {
            kind: t.kind.clone(),
            target: ns.unwrap_or("*").to_string(),
            source,
        };
        let list: RawList = serde_json::from_str(&text).map_err(decode)?;
        let mut out = Vec::new();
        for raw in list.items.unwrap_or_default() {
            if !raw.get().contains(needle) {
                continue;
            }
            let mut item: Value = serde_json::from_str(raw.get()).map_err(decode)?;
            // PartialObjectMetadata → the object's own type, metadata only.
            if let Some(m) = item.as_object_mut() {
                m.remove("apiVersion");
                m.remove("kind");
            }
            out.push(Self::typed(t, item));
        }
        Ok(out)
    }

    /// The error of a request that failed: its verb, the object's kind and `target`.
    fn failed(
        verb: &'static str,
        t: &ResourceType,
        target: String,
        source: kube::Error,
    ) -> ClientError {
        ClientError::Request {
            verb,
            kind: t.kind.clone(),
            target,
            source: crate::Foreign::new(source),
        }
    }

    /// Server-side applies `obj` (its namespace is `metadata.namespace`); returns the result.
    pub async fn apply(
        &self,
        t: &ResourceType,
        obj: &Value,
        opts: &ApplyOptions,
    ) -> Result<Value, ClientError> {
        let name = str_field(obj, &["metadata", "name"], "metadata.name")?;
        let ns = obj.pointer("/metadata/namespace").and_then(Value::as_str);
        let pp = PatchParams {
            dry_run: opts.dry_run,
            force: opts.force,
            field_manager: Some(opts.field_manager.clone()),
            field_validation: Some(if opts.validate {
                kube::api::ValidationDirective::Strict
            } else {
                kube::api::ValidationDirective::Ignore
            }),
        };
        let patch = Patch::Apply(obj);
        let out = self.send(t, ns, &|r| r.patch(name, &pp, &patch)).await;
        self.observe("apply", &t.kind, ns, opts.dry_run, &out, 200);
        let out = out.map_err(|source| Self::failed("apply", t, target(ns, name), source))?;
        Ok(Self::typed(t, out))
    }

    fn post_params(dry_run: bool, field_manager: &str) -> PostParams {
        PostParams {
            dry_run,
            field_manager: Some(field_manager.to_string()),
        }
    }

    fn body(
        t: &ResourceType,
        ns: Option<&str>,
        name: &str,
        obj: &Value,
    ) -> Result<Vec<u8>, ClientError> {
        serde_json::to_vec(obj).map_err(|source| ClientError::Decode {
            kind: t.kind.clone(),
            target: target(ns, name),
            source,
        })
    }

    /// Creates `obj`.
    pub async fn create(
        &self,
        t: &ResourceType,
        obj: &Value,
        dry_run: bool,
        field_manager: &str,
    ) -> Result<Value, ClientError> {
        let name = str_field(obj, &["metadata", "name"], "metadata.name")?;
        let ns = obj.pointer("/metadata/namespace").and_then(Value::as_str);
        let pp = Self::post_params(dry_run, field_manager);
        let body = Self::body(t, ns, name, obj)?;
        let out = self.send(t, ns, &|r| r.create(&pp, body.clone())).await;
        self.observe("create", &t.kind, ns, dry_run, &out, 201);
        let out = out.map_err(|source| Self::failed("create", t, target(ns, name), source))?;
        Ok(Self::typed(t, out))
    }

    /// Replaces `obj` (an update with the live `resourceVersion` when `obj` has none).
    pub async fn replace(
        &self,
        t: &ResourceType,
        obj: &Value,
        dry_run: bool,
        field_manager: &str,
    ) -> Result<Value, ClientError> {
        let name = str_field(obj, &["metadata", "name"], "metadata.name")?;
        let ns = obj.pointer("/metadata/namespace").and_then(Value::as_str);
        let mut obj = obj.clone();
        if obj.pointer("/metadata/resourceVersion").is_none() {
            if let Some(live) = self.get(t, ns, name).await? {
                if let (Some(rv), Some(meta)) = (
                    live.pointer("/metadata/resourceVersion").cloned(),
                    obj.get_mut("metadata").and_then(Value::as_object_mut),
                ) {
                    meta.insert("resourceVersion".into(), rv);
                }
            }
        }
        let pp = Self::post_params(dry_run, field_manager);
        let body = Self::body(t, ns, name, &obj)?;
        let out = self
            .send(t, ns, &|r| r.replace(name, &pp, body.clone()))
            .await;
        self.observe("replace", &t.kind, ns, dry_run, &out, 200);
        let out = out.map_err(|source| Self::failed("replace", t, target(ns, name), source))?;
        Ok(Self::typed(t, out))
    }

    /// Deletes an object; `Ok(false)` when it was already gone.
    pub async fn delete(
        &self,
        t: &ResourceType,
        ns: Option<&str>,
        name: &str,
        propagation: Propagation,
        dry_run: bool,
    ) -> Result<bool, ClientError> {
        let dp = DeleteParams {
            dry_run,
            propagation_policy: Some(match propagation {
                Propagation::Foreground => PropagationPolicy::Foreground,
                Propagation::Background => PropagationPolicy::Background,
                Propagation::Orphan => PropagationPolicy::Orphan,
            }),
            ..Default::default()
        };
        let result = self.send(t, ns, &|r| r.delete(name, &dp)).await;
        self.observe("delete", &t.kind, ns, dry_run, &result, 200);
        match result {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(resp)) if resp.code == 404 => Ok(false),
            Err(source) => Err(Self::failed("delete", t, target(ns, name), source)),
        }
    }

    /// Applies a JSON merge patch (RFC 7386) to an object, or to its `status` subresource.
    ///
    /// A type served without a `status` subresource (Argo CD's own Application CRD) answers 404
    /// there while the object exists; its `status` is then merge-patched through the main
    /// resource, and the type is remembered (until [`Client::invalidate`]) so later status
    /// writes go there directly.
    pub async fn merge_patch(
        &self,
        t: &ResourceType,
        ns: Option<&str>,
        name: &str,
        patch: &Value,
        status: bool,
        field_manager: &str,
    ) -> Result<Value, ClientError> {
        let pp = PatchParams {
            field_manager: Some(field_manager.to_string()),
            ..PatchParams::default()
        };
        let key = (t.group.clone(), t.kind.clone());
        let via_main = status
            && self
                .no_status
                .lock()
                .map(|s| s.contains(&key))
                .unwrap_or(false);
        let out = if status && !via_main {
            let p = Patch::Merge(patch);
            let out = self
                .send(t, ns, &|r| r.patch_subresource("status", name, &pp, &p))
                .await;
            self.observe("patch", &t.kind, ns, false, &out, 200);
            match out {
                Err(kube::Error::Api(resp))
                    if resp.code == 404 && self.get(t, ns, name).await?.is_some() =>
                {
                    if let Ok(mut s) = self.no_status.lock() {
                        s.insert(key);
                    }
                    self.patch_main(t, ns, name, &status_only(patch), &pp).await
                }
                out => out,
            }
        } else if via_main {
            self.patch_main(t, ns, name, &status_only(patch), &pp).await
        } else {
            self.patch_main(t, ns, name, patch, &pp).await
        };
        let out = out.map_err(|source| {
            Self::failed(
                if status { "patch status" } else { "patch" },
                t,
                target(ns, name),
                source,
            )
        })?;
        Ok(Self::typed(t, out))
    }

    /// A merge patch of the main resource (observed).
    async fn patch_main(
        &self,
        t: &ResourceType,
        ns: Option<&str>,
        name: &str,
        patch: &Value,
        pp: &PatchParams,
    ) -> Result<Value, kube::Error> {
        let p = Patch::Merge(patch);
        let out = self.send(t, ns, &|r| r.patch(name, pp, &p)).await;
        self.observe("patch", &t.kind, ns, false, &out, 200);
        out
    }
}

/// The `status` part of a status patch: what the status subresource would have taken, so a
/// status write through the main resource changes nothing else.
fn status_only(patch: &Value) -> Value {
    match patch.get("status") {
        Some(s) => serde_json::json!({ "status": s }),
        None => serde_json::json!({}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The body a real kube-apiserver 1.34 sends for an empty `PartialObjectMetadataList`.
    const EMPTY_METADATA_LIST: &str = r#"{"kind":"PartialObjectMetadataList","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"1234"},"items":null}"#;

    #[test]
    fn null_items_are_an_empty_list() {
        let list: RawList = serde_json::from_str(EMPTY_METADATA_LIST).expect("decodes");
        assert!(list.items.unwrap_or_default().is_empty());
        let list: RawList =
            serde_json::from_str(r#"{"kind":"PartialObjectMetadataList","metadata":{}}"#)
                .expect("decodes");
        assert!(list.items.unwrap_or_default().is_empty());
    }

    #[test]
    fn present_items_are_kept() {
        let body = r#"{"kind":"PartialObjectMetadataList","items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]}"#;
        let list: RawList = serde_json::from_str(body).expect("decodes");
        let items = list.items.expect("items");
        assert_eq!(items.len(), 2);
        assert!(items[1].get().contains("\"b\""));
    }

    #[test]
    fn items_of_the_wrong_type_are_an_error() {
        assert!(serde_json::from_str::<RawList>(r#"{"items":{}}"#).is_err());
    }

    #[test]
    fn a_status_write_through_the_main_resource_carries_only_status() {
        let patch = serde_json::json!({"metadata": {"labels": {"x": "y"}}, "spec": {"a": 1},
            "status": {"sync": {"status": "Synced"}}});
        assert_eq!(
            status_only(&patch),
            serde_json::json!({"status": {"sync": {"status": "Synced"}}})
        );
        assert_eq!(
            status_only(&serde_json::json!({"spec": {}})),
            serde_json::json!({})
        );
    }

    #[test]
    fn null_as_default_reads_null_and_values() {
        #[derive(serde::Deserialize)]
        struct L {
            #[serde(default, deserialize_with = "null_as_default")]
            items: Vec<u8>,
        }
        let l: L = serde_json::from_str(r#"{"items":null}"#).expect("null");
        assert!(l.items.is_empty());
        let l: L = serde_json::from_str(r#"{}"#).expect("missing");
        assert!(l.items.is_empty());
        let l: L = serde_json::from_str(r#"{"items":[1,2]}"#).expect("values");
        assert_eq!(l.items, vec![1, 2]);
    }
}
