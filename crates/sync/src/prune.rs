//! Finding the live objects an application tracks (prune candidates) and deleting them.

use fjord_client::{Client, ClientError, ResourceType};
use futures::StreamExt;
use serde_json::Value;

use crate::plan::{self, ObjectRef};
use crate::tracking::TrackingId;
use crate::SyncError;

/// Kinds never considered for pruning (not managed objects).
const EXCLUDED_KINDS: &[(&str, &str)] = &[
    ("", "Event"),
    ("events.k8s.io", "Event"),
    ("", "Endpoints"),
    ("discovery.k8s.io", "EndpointSlice"),
    ("coordination.k8s.io", "Lease"),
];

/// Whether objects of type `t` are never managed (events, endpoints, leases, metrics).
pub fn excluded(t: &ResourceType) -> bool {
    EXCLUDED_KINDS
        .iter()
        .any(|(g, k)| t.group == *g && t.kind == *k)
        || t.group == "metrics.k8s.io"
}

/// Whether a status code means "this type cannot be listed here" rather than a failure.
fn unlistable(err: &ClientError) -> bool {
    matches!(err.status_code(), Some(403) | Some(404) | Some(405))
}

/// Every live object whose tracking id names `app` and the object itself (hooks excluded).
pub async fn tracked_objects(
    client: &Client,
    app: &str,
) -> Result<Vec<(ObjectRef, Value)>, SyncError> {
    let types = client
        .resource_types()
        .await
        .map_err(|source| SyncError::Client {
            step: "discovering resource types",
            source,
        })?;
    let mut out = Vec::new();
    let lists: Vec<_> = types
        .iter()
        .filter(|t| !excluded(t))
        .map(|t| async move { (t, client.list(t, None).await) })
        .collect();
    let lists: Vec<_> = futures::stream::iter(lists)
        .buffered(crate::execute::CONCURRENCY)
        .collect()
        .await;
    for (t, listed) in lists {
        let items = match listed {
            Ok(items) => items,
            Err(e) if unlistable(&e) => continue,
            Err(source) => {
                return Err(SyncError::Client {
                    step: "listing tracked objects",
                    source,
                })
            }
        };
        for obj in items {
            match tracked_by(t, &obj) {
                Some((owner, r)) if owner == app => out.push((r, obj)),
                _ => {}
            }
        }
    }
    Ok(out)
}

/// The reference of `obj`, a live object of type `t`.
pub fn object_ref(t: &ResourceType, obj: &Value) -> ObjectRef {
    let meta = |f: &str| {
        obj.pointer(&format!("/metadata/{f}"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    ObjectRef {
        group: t.group.clone(),
        version: t.version.clone(),
        kind: t.kind.clone(),
        namespace: meta("namespace"),
        name: meta("name"),
    }
}

/// The application that tracks `obj` (a live object of type `t`) and the object's reference:
/// its tracking id must name the object itself, and hooks are not tracked resources.
pub fn tracked_by(t: &ResourceType, obj: &Value) -> Option<(String, ObjectRef)> {
    let id = TrackingId::of(obj)?;
    let r = object_ref(t, obj);
    if !id.refers_to(&t.group, &t.kind, &r.namespace, &r.name) || plan::hook_phases(obj).is_some() {
        return None;
    }
    Some((id.app, r))
}
