//! `get` and `list`.

use std::sync::Arc;

use base64::Engine as _;
use serde_json::{json, Value};

use super::{output, ObjectTarget};
use crate::engine::Engine;
use crate::errors::ApiError;
use crate::request::{ApiRequest, Reply, ResourcePath};
use crate::selectors::{FieldSelector, LabelSelector};
use fjord_model::ResourceType;

/// Label and field selectors of a list or watch.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    /// Label selector.
    pub labels: LabelSelector,
    /// Field selector.
    pub fields: FieldSelector,
}

impl Filter {
    /// Parses the selectors of a request.
    pub(crate) fn from_request(req: &ApiRequest) -> Result<Filter, ApiError> {
        Ok(Filter {
            labels: LabelSelector::parse(req.query.get("labelSelector").unwrap_or(""))?,
            fields: FieldSelector::parse(req.query.get("fieldSelector").unwrap_or(""))?,
        })
    }

    /// Whether an object passes both selectors.
    pub(crate) fn matches(&self, obj: &Value) -> bool {
        self.labels.matches(obj) && self.fields.matches(obj)
    }
}

/// The storage prefix of a collection (optionally one namespace).
pub(crate) fn collection_prefix(rt: &ResourceType, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) if rt.namespaced => format!("{}{ns}/", crate::kinds::store_prefix(rt)),
        _ => crate::kinds::store_prefix(rt),
    }
}

/// The requested list/watch RV, if any (a non-number → 400).
pub(crate) fn requested_rv(req: &ApiRequest) -> Result<Option<u64>, ApiError> {
    let Some(raw) = req.query.get("resourceVersion").filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    raw.parse()
        .map(Some)
        .map_err(|_| ApiError::bad_request(format!("invalid resource version: {raw}")))
}

/// The real server's answer to a list at an RV it has not reached within its wait: 504 with
/// `Timeout: Too large resource version: N, current: M` and one `ResourceVersionTooLarge` cause.
pub(crate) fn too_large_rv(rv: u64, current: u64) -> ApiError {
    let mut e = ApiError::timeout(format!(
        "Timeout: Too large resource version: {rv}, current: {current}"
    ));
    e.causes.push(crate::errors::Cause::new(
        "ResourceVersionTooLarge",
        "Too large resource version",
        "",
    ));
    e
}

/// How long a list at a future RV waits for it, as the real watch cache (3 s).
const FUTURE_RV_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// The `apiVersion` of `PartialObjectMetadata` and its list.
const META_API_VERSION: &str = "meta.k8s.io/v1";

/// Whether the client asked for metadata only (`Accept: application/json;as=PartialObjectMetadata…`,
/// as kube-rs' `get_metadata`/`list_metadata` and client-go's metadata client send).
fn wants_metadata(accept: &str) -> bool {
    accept.contains("as=PartialObjectMetadata")
}

/// How list items are written.
enum Items<'a> {
    /// Whole objects, with the served `apiVersion` and `kind`.
    Objects(&'a [(String, Arc<Value>)]),
    /// `PartialObjectMetadata` items: each object's serialized `metadata`.
    Metadata(Vec<Arc<[u8]>>),
}

/// Serializes a list reply without cloning the stored objects: each item is written with the
/// served `apiVersion` and `kind` followed by its other fields — or, for a metadata-only list,
/// as a `PartialObjectMetadataList` whose items carry only `metadata`.
fn list_bytes(rt: &ResourceType, metadata: &Value, items: &Items) -> Vec<u8> {
    let (list_kind, api_version, kind, count) = match items {
        Items::Objects(objs) => (
            format!("{}List", rt.kind),
            Value::String(rt.api_version()),
            Value::String(rt.kind.clone()),
            objs.len(),
        ),
        Items::Metadata(metas) => (
            "PartialObjectMetadataList".to_string(),
            Value::from(META_API_VERSION),
            Value::from("PartialObjectMetadata"),
            metas.len(),
        ),
    };
    let mut out = Vec::with_capacity(64 + count * 512);
    out.extend_from_slice(b"{\"kind\":");
    let _ = serde_json::to_writer(&mut out, &list_kind);
    out.extend_from_slice(b",\"apiVersion\":");
    let _ = serde_json::to_writer(&mut out, &api_version);
    out.extend_from_slice(b",\"metadata\":");
    let _ = serde_json::to_writer(&mut out, metadata);
    out.extend_from_slice(b",\"items\":[");
    for i in 0..count {
        if i > 0 {
            out.push(b',');
        }
        // As the real server: the items of a built-in kind's list carry no apiVersion/kind
        // (typed lists); custom resources' and metadata-only lists' items do.
        let typed = matches!(items, Items::Objects(_)) && !rt.custom;
        out.push(b'{');
        let mut first = typed;
        if !typed {
            out.extend_from_slice(b"\"apiVersion\":");
            let _ = serde_json::to_writer(&mut out, &api_version);
            out.extend_from_slice(b",\"kind\":");
            let _ = serde_json::to_writer(&mut out, &kind);
        }
        match items {
            Items::Objects(objs) => {
                if let Some(m) = objs[i].1.as_object() {
                    for (k, v) in m.iter().filter(|(k, _)| *k != "apiVersion" && *k != "kind") {
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        let _ = serde_json::to_writer(&mut out, k);
                        out.push(b':');
                        let _ = serde_json::to_writer(&mut out, v);
                    }
                }
            }
            Items::Metadata(metas) => {
                out.extend_from_slice(b",\"metadata\":");
                out.extend_from_slice(&metas[i]);
            }
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    out
}

/// The Content-Type of a metadata-only reply (`kind` is `PartialObjectMetadata` or its list).
fn metadata_content_type(kind: &str) -> String {
    format!("application/json;as={kind};g=meta.k8s.io;v=v1")
}

impl Engine {
    /// Waits (up to [`FUTURE_RV_WAIT`]) until the store reaches `rv`; 504 when it does not.
    /// Runs on a blocking worker (lists are handled in `spawn_blocking`).
    fn wait_for_rv(&self, rv: u64) -> Result<(), ApiError> {
        let deadline = std::time::Instant::now() + FUTURE_RV_WAIT;
        loop {
            let current = self.lock().store.rv();
            if rv <= current {
                return Ok(());
            }
            if std::time::Instant::now() >= deadline {
                return Err(too_large_rv(rv, current));
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// GET of one object (or its status / scale subresource).
    pub(crate) fn get(
        &self,
        req: &ApiRequest,
        target: &ObjectTarget<'_>,
    ) -> Result<Reply, ApiError> {
        let (rt, ns, name, sub) = (target.rt, target.ns, target.name, target.sub);
        let st = self.lock();
        let obj = super::load(&st, rt, ns, name)?;
        drop(st);
        match sub {
            None | Some("status") => {
                if sub.is_some() && !rt.has_status {
                    return Err(ApiError::no_route());
                }
                let out = output(rt, &obj);
                if req.accept.contains("as=Table") {
                    return Ok(crate::table::table_reply(
                        rt,
                        std::slice::from_ref(&out),
                        &out["metadata"]["resourceVersion"],
                        None,
                    ));
                }
                if wants_metadata(&req.accept) {
                    let mut reply = Reply::json(200, crate::table::partial(&out));
                    reply.content_type = metadata_content_type("PartialObjectMetadata");
                    return Ok(reply);
                }
                Ok(Reply::json(200, out))
            }
            Some("scale") if rt.has_scale => Ok(Reply::json(
                200,
                crate::handlers::update::scale_of(rt, &obj),
            )),
            _ => Err(ApiError::no_route()),
        }
    }

    /// GET of a collection: selectors, `limit` / `continue`, Table output.
    pub(crate) fn list(
        &self,
        req: &ApiRequest,
        rt: &Arc<ResourceType>,
        rp: &ResourcePath,
    ) -> Result<Reply, ApiError> {
        let filter = Filter::from_request(req)?;
        filter
            .fields
            .check_supported(&rt.group, &rt.plural, rt.custom)?;
        let limit: usize = req
            .query
            .get("limit")
            .and_then(|l| l.parse().ok())
            .filter(|l| *l > 0)
            .unwrap_or(usize::MAX);
        let start_after = match req.query.get("continue").filter(|c| !c.is_empty()) {
            Some(tok) => Some(decode_continue(tok)?),
            None => None,
        };
        let prefix = collection_prefix(rt, rp.namespace.as_deref());
        if let Some(rv) = requested_rv(req)? {
            self.wait_for_rv(rv)?;
        }
        let st = self.lock();
        let list_rv = st.store.rv();
        let mut picked: Vec<(String, Arc<Value>)> = Vec::new();
        let mut last_key: Option<&String> = None;
        let mut next = None;
        for (k, v) in st.store.scan(&prefix) {
            if start_after.as_deref().is_some_and(|s| k.as_str() <= s) {
                continue;
            }
            if !filter.matches(v) {
                continue;
            }
            if picked.len() == limit {
                next = last_key.cloned();
                break;
            }
            picked.push((k.clone(), v.clone()));
            last_key = Some(k);
        }
        drop(st);
        let cont = next.map(|k| {
            base64::engine::general_purpose::STANDARD
                .encode(json!({"k": k, "rv": list_rv}).to_string())
        });
        if req.accept.contains("as=Table") {
            let items: Vec<Value> = picked.iter().map(|(_, v)| output(rt, v)).collect();
            return Ok(crate::table::table_reply(
                rt,
                &items,
                &json!(list_rv.to_string()),
                cont,
            ));
        }
        let mut metadata = json!({"resourceVersion": list_rv.to_string()});
        if let Some(c) = cont {
            metadata["continue"] = json!(c);
        } else if rt.custom && !wants_metadata(&req.accept) {
            // A custom resource list is unstructured on the real server: `continue` is always
            // written, empty on the last page.
            metadata["continue"] = json!("");
        }
        let mut reply = Reply::json(200, Value::Null);
        if wants_metadata(&req.accept) {
            let items = Items::Metadata(self.metadata_json.of(&picked));
            reply.raw = Some(list_bytes(rt, &metadata, &items));
            reply.content_type = metadata_content_type("PartialObjectMetadataList");
        } else {
            reply.raw = Some(list_bytes(rt, &metadata, &Items::Objects(&picked)));
        }
        Ok(reply)
    }
}

fn decode_continue(tok: &str) -> Result<String, ApiError> {
    let bad = || ApiError::bad_request(format!("continue key is not valid: {tok}"));
    let raw = base64::engine::general_purpose::STANDARD
        .decode(tok)
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    v["k"].as_str().map(str::to_string).ok_or_else(bad)
}
