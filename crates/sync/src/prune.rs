//! Finding the live objects an application tracks (prune candidates) and deleting them.

use fjord_client::{Client, ClientError, ResourceType};
use fjord_model::ObjectRef;
use futures::StreamExt;
use serde_json::Value;

use crate::plan;
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

/// Every live object whose tracking id names `app` and the object itself (hooks excluded), as
/// its `apiVersion`, `kind` and `metadata`: the scan reads metadata-only lists of every type,
/// so a cluster's specs and statuses never cross the wire. [`full_objects`] reads the whole
/// objects of the few that need them.
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
    let needle = tracking_needle(app);
    let mut out = Vec::new();
    let lists: Vec<_> = types
        .iter()
        .filter(|t| !excluded(t))
        .map(|t| {
            let needle = &needle;
            async move { (t, client.list_metadata(t, None, needle).await) }
        })
        .collect();
    let lists: Vec<_> = futures::stream::iter(lists)
        .buffered(crate::concurrency::CONCURRENCY)
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

/// Text that the JSON of every object tracked by `app` contains: the start of its tracking-id
/// value (`"app:`) when the name needs no JSON escaping (Kubernetes names never do), else
/// `tracking-id` (part of the annotation's name that no encoder escapes). A pre-filter only:
/// [`tracked_by`] decides.
fn tracking_needle(app: &str) -> String {
    let plain = app
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    if plain {
        format!("\"{app}:")
    } else {
        "tracking-id".to_string()
    }
}

/// The whole live objects of `refs` (from [`tracked_objects`]); objects deleted meanwhile are
/// left out.
pub async fn full_objects(
    client: &Client,
    refs: Vec<ObjectRef>,
) -> Result<Vec<(ObjectRef, Value)>, SyncError> {
    let reads: Vec<_> = refs
        .into_iter()
        .map(|id| async move {
            let av = id.api_version();
            let t = client.resolve(&av, &id.kind).await?;
            let ns = Some(id.namespace.as_str()).filter(|n| !n.is_empty());
            let live = client.get(&t, ns, &id.name).await?;
            Ok::<_, ClientError>(live.map(|obj| (id, obj)))
        })
        .collect();
    let read: Vec<_> = futures::stream::iter(reads)
        .buffered(crate::concurrency::CONCURRENCY)
        .collect()
        .await;
    let mut out = Vec::new();
    for r in read {
        let found = r.map_err(|source| SyncError::Client {
            step: "reading tracked objects",
            source,
        })?;
        out.extend(found);
    }
    Ok(out)
}

/// The application that tracks `obj` (a live object of type `t`) and the object's reference:
/// its tracking id must name the object itself, and hooks are not tracked resources.
pub fn tracked_by(t: &ResourceType, obj: &Value) -> Option<(String, ObjectRef)> {
    let id = TrackingId::of(obj)?;
    let r = ObjectRef::of_typed(t, obj);
    if !id.refers_to(&t.group, &t.kind, &r.namespace, &r.name) || plan::hook_phases(obj).is_some() {
        return None;
    }
    Some((id.app, r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_needle_is_the_start_of_the_tracking_id_value() {
        assert_eq!(tracking_needle("guestbook"), "\"guestbook:");
        assert_eq!(tracking_needle("team-a.web_1"), "\"team-a.web_1:");
        // A name JSON might escape falls back to a part of the annotation's name.
        assert_eq!(tracking_needle("odd\"name"), "tracking-id");
        assert_eq!(tracking_needle("a/b"), "tracking-id");
        let live = serde_json::json!({"metadata": {"annotations": {
            "argocd.argoproj.io/tracking-id": "guestbook:apps/Deployment:ns/web"}}});
        let text = serde_json::to_string(&live).expect("json");
        assert!(text.contains(&tracking_needle("guestbook")));
        assert!(!text.contains(&tracking_needle("guest")));
    }
}
