//! ClusterExternalSecrets: one child ExternalSecret (v1), named `externalSecretName` or the
//! ClusterExternalSecret's name, in every namespace that `namespaces` names or one of
//! `namespaceSelectors` (matchLabels) matches, with `externalSecretMetadata` labels and
//! annotations and a controller ownerReference to the ClusterExternalSecret. Children in
//! namespaces no longer matched are deleted; an existing ExternalSecret the ClusterExternalSecret
//! does not own is never taken over (its namespace is reported failed). Status as ESO writes it:
//! `externalSecretName`, `provisionedNamespaces`, `failedNamespaces[{namespace, reason}]` and a
//! `Ready` condition ("one or more namespaces failed" when any failed). A finalizer removes the
//! children when the ClusterExternalSecret is deleted.

use std::collections::{BTreeMap, BTreeSet};

use fjord_eso::spec::{parse_cluster_external_secret, ClusterExternalSecretSpec};
use fjord_eso::target::{ANNOTATION_FORCE_SYNC, CES_FINALIZER};
use serde_json::{json, Map, Value};

use crate::api::{now_rfc3339, str_at, v1, ApiError};
use crate::{Shared, COMPONENT};

/// Ready message when a namespace failed (ESO's).
pub(crate) const MESSAGE_FAILED: &str = "one or more namespaces failed";

/// Failures of one child ExternalSecret.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClusterError {
    /// The ExternalSecret exists and another owner (or none) controls it.
    #[error("ExternalSecret {namespace}/{name} already exists and is not owned by ClusterExternalSecret {ces}")]
    NotOwned {
        /// The namespace.
        namespace: String,
        /// The ExternalSecret's name.
        name: String,
        /// The ClusterExternalSecret.
        ces: String,
    },
    /// Creating, updating or deleting the child failed.
    #[error("writing the child ExternalSecret")]
    Write(#[source] ApiError),
}

/// Labels of a namespace object.
fn labels(obj: &Value) -> BTreeMap<String, String> {
    obj.pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// The namespaces a ClusterExternalSecret targets, sorted: existing, not terminating, and named
/// in `namespaces` or matched by a selector.
pub(crate) fn matched_namespaces(
    spec: &ClusterExternalSecretSpec,
    namespaces: &[Value],
) -> Vec<String> {
    let mut out = BTreeSet::new();
    for ns in namespaces {
        if ns.pointer("/metadata/deletionTimestamp").is_some() {
            continue;
        }
        let name = str_at(ns, "/metadata/name");
        if spec.selects(name, &labels(ns)) {
            out.insert(name.to_string());
        }
    }
    out.into_iter().collect()
}

/// The child ExternalSecret's name.
fn child_name<'a>(ces: &'a Value, spec: &'a ClusterExternalSecretSpec) -> &'a str {
    spec.external_secret_name
        .as_deref()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| str_at(ces, "/metadata/name"))
}

/// The child ExternalSecret in `ns`.
pub(crate) fn desired_child(ces: &Value, spec: &ClusterExternalSecretSpec, ns: &str) -> Value {
    let mut annotations: Map<String, Value> = spec
        .annotations
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    if let Some(v) = ces
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(ANNOTATION_FORCE_SYNC))
    {
        annotations.insert(ANNOTATION_FORCE_SYNC.into(), v.clone());
    }
    let labels: Map<String, Value> = spec
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    json!({
        "apiVersion": v1(),
        "kind": fjord_eso::spec::KIND_EXTERNAL_SECRET,
        "metadata": {
            "name": child_name(ces, spec),
            "namespace": ns,
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [{
                "apiVersion": str_at(ces, "/apiVersion"),
                "kind": fjord_eso::spec::KIND_CLUSTER_EXTERNAL_SECRET,
                "name": str_at(ces, "/metadata/name"),
                "uid": str_at(ces, "/metadata/uid"),
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "spec": spec.external_secret_spec,
    })
}

/// Whether `es` has a controller ownerReference to the object with `uid`.
pub(crate) fn owned_by(es: &Value, uid: &str) -> bool {
    !uid.is_empty()
        && es
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .is_some_and(|refs| {
                refs.iter()
                    .any(|r| r["controller"] == true && r["uid"].as_str() == Some(uid))
            })
}

/// The live child updated to `desired` (labels, annotations, ownerReferences, spec), `None`
/// when it already matches.
pub(crate) fn child_update(live: &Value, desired: &Value) -> Option<Value> {
    let mut out = live.clone();
    for (ptr, key) in [
        ("/metadata", "labels"),
        ("/metadata", "annotations"),
        ("/metadata", "ownerReferences"),
        ("", "spec"),
    ] {
        let want = desired
            .pointer(&format!("{ptr}/{key}"))
            .cloned()
            .unwrap_or(Value::Null);
        let empty = matches!(&want, Value::Object(m) if m.is_empty());
        let target = if ptr.is_empty() {
            out.as_object_mut()
        } else {
            out.pointer_mut(ptr).and_then(Value::as_object_mut)
        };
        if let Some(target) = target {
            if empty {
                target.remove(key);
            } else {
                target.insert(key.into(), want);
            }
        }
    }
    let norm = |v: &Value| {
        let mut v = v.clone();
        for key in ["labels", "annotations"] {
            if let Some(m) = v.pointer_mut("/metadata").and_then(Value::as_object_mut) {
                if m.get(key)
                    .is_some_and(|x| x.as_object().is_some_and(Map::is_empty))
                {
                    m.remove(key);
                }
            }
        }
        v
    };
    (norm(&out) != norm(live)).then_some(out)
}

/// Creates or updates the child in `ns`.
async fn provision(
    shared: &Shared,
    ces: &Value,
    desired: &Value,
    live: Option<&Value>,
) -> Result<(), ClusterError> {
    let api = &shared.api;
    let ns = str_at(desired, "/metadata/namespace");
    let uid = str_at(ces, "/metadata/uid");
    match live {
        None => api
            .create(&api.external_secrets, Some(ns), desired, COMPONENT)
            .await
            .map(drop)
            .map_err(ClusterError::Write),
        Some(live) if !owned_by(live, uid) => Err(ClusterError::NotOwned {
            namespace: ns.into(),
            name: str_at(desired, "/metadata/name").into(),
            ces: str_at(ces, "/metadata/name").into(),
        }),
        Some(live) => match child_update(live, desired) {
            None => Ok(()),
            Some(updated) => api
                .replace(&api.external_secrets, Some(ns), &updated, COMPONENT)
                .await
                .map(drop)
                .map_err(ClusterError::Write),
        },
    }
}

/// The `Ready` condition of a ClusterExternalSecret.
fn ready(failed: bool, now: &str) -> Value {
    let mut c = json!({"type": "Ready", "status": if failed { "False" } else { "True" },
                       "lastTransitionTime": now});
    if failed {
        c["message"] = json!(MESSAGE_FAILED);
    }
    c
}

/// The status merge patch for the outcome, `None` when the live status already says it. The
/// condition's `lastTransitionTime` is kept while its status holds.
pub(crate) fn status_patch(
    ces: &Value,
    name: &str,
    provisioned: &[String],
    failed: &[(String, String)],
    now: &str,
) -> Option<Value> {
    let failed_json: Vec<Value> = failed
        .iter()
        .map(|(ns, reason)| json!({"namespace": ns, "reason": reason}))
        .collect();
    let mut condition = ready(!failed.is_empty(), now);
    let live = ces
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"));
    if let Some(t) = live
        .filter(|c| c["status"] == condition["status"])
        .and_then(|c| c.get("lastTransitionTime"))
    {
        condition["lastTransitionTime"] = t.clone();
    }
    let status = json!({
        "externalSecretName": name,
        "provisionedNamespaces": provisioned,
        "failedNamespaces": failed_json,
        "conditions": [condition],
    });
    let same = |k: &str| ces.pointer(&format!("/status/{k}")).unwrap_or(&Value::Null) == &status[k];
    let empty_list = |k: &str| {
        status[k].as_array().is_some_and(Vec::is_empty)
            && ces.pointer(&format!("/status/{k}")).is_none()
    };
    let unchanged = ["externalSecretName", "conditions"].iter().all(|k| same(k))
        && ["provisionedNamespaces", "failedNamespaces"]
            .iter()
            .all(|k| same(k) || empty_list(k));
    (!unchanged).then(|| json!({ "status": status }))
}

/// The ClusterExternalSecret's invalid spec as its status (no namespace provisioned).
fn invalid_patch(ces: &Value, message: &str, now: &str) -> Option<Value> {
    let live = ces
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"));
    if live.is_some_and(|c| c["status"] == "False" && c["message"] == message) {
        return None;
    }
    Some(
        json!({"status": {"conditions": [{"type": "Ready", "status": "False",
        "message": message, "lastTransitionTime": now}]}}),
    )
}

async fn write_status(shared: &Shared, ces: &Value, patch: Option<Value>) {
    let Some(patch) = patch else { return };
    let api = &shared.api;
    let name = str_at(ces, "/metadata/name");
    if let Err(e) = api
        .patch_status(&api.cluster_external_secrets, None, name, &patch)
        .await
    {
        tracing::warn!(error = %e, "ClusterExternalSecret status not written");
    }
}

/// The ExternalSecrets (from `all`) a ClusterExternalSecret controls.
fn children<'a>(ces: &Value, all: &'a [Value]) -> Vec<&'a Value> {
    let uid = str_at(ces, "/metadata/uid");
    all.iter().filter(|es| owned_by(es, uid)).collect()
}

/// Deletes `es`; failures are logged.
async fn delete_child(shared: &Shared, es: &Value) -> Result<(), ApiError> {
    let api = &shared.api;
    let ns = str_at(es, "/metadata/namespace");
    let name = str_at(es, "/metadata/name");
    api.delete(&api.external_secrets, Some(ns), name).await
}

/// Finalizers of `obj` with `add` added or removed; `None` when nothing changes.
fn finalizers(obj: &Value, add: bool) -> Option<Vec<String>> {
    let mut list: Vec<String> = obj
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let has = list.iter().any(|f| f == CES_FINALIZER);
    match (add, has) {
        (true, false) => list.push(CES_FINALIZER.into()),
        (false, true) => list.retain(|f| f != CES_FINALIZER),
        _ => return None,
    }
    Some(list)
}

async fn set_finalizers(shared: &Shared, ces: &Value, list: Vec<String>) -> Result<(), ApiError> {
    let api = &shared.api;
    let patch = json!({"metadata": {"finalizers": list}});
    api.patch_merge(
        &api.cluster_external_secrets,
        None,
        str_at(ces, "/metadata/name"),
        &patch,
    )
    .await
    .map(drop)
}

/// A deleted ClusterExternalSecret: its children go, then its finalizer.
async fn finalize(shared: &Shared, ces: &Value, all: &[Value]) {
    let Some(list) = finalizers(ces, false) else {
        return;
    };
    for es in children(ces, all) {
        if let Err(e) = delete_child(shared, es).await {
            tracing::warn!(error = %e, "child ExternalSecret not deleted");
            return;
        }
    }
    if let Err(e) = set_finalizers(shared, ces, list).await {
        tracing::warn!(error = %e, "ClusterExternalSecret finalizer not removed");
    }
}

/// One ClusterExternalSecret: provision every matched namespace, delete stale children,
/// write the status.
async fn reconcile_one(shared: &Shared, ces: &Value, namespaces: &[Value], all: &[Value]) {
    if ces.pointer("/metadata/deletionTimestamp").is_some() {
        finalize(shared, ces, all).await;
        return;
    }
    if let Some(list) = finalizers(ces, true) {
        if let Err(e) = set_finalizers(shared, ces, list).await {
            tracing::warn!(error = %e, "ClusterExternalSecret finalizer not added");
        }
    }
    let spec = match parse_cluster_external_secret(ces) {
        Ok(s) => s,
        Err(e) => {
            write_status(
                shared,
                ces,
                invalid_patch(ces, &e.to_string(), &now_rfc3339()),
            )
            .await;
            return;
        }
    };
    let name = child_name(ces, &spec).to_string();
    let matched = matched_namespaces(&spec, namespaces);
    let owned = children(ces, all);
    let mut provisioned = Vec::new();
    let mut failed = Vec::new();
    for ns in &matched {
        let desired = desired_child(ces, &spec, ns);
        let live = all.iter().find(|es| {
            str_at(es, "/metadata/namespace") == ns && str_at(es, "/metadata/name") == name
        });
        match provision(shared, ces, &desired, live).await {
            Ok(()) => provisioned.push(ns.clone()),
            Err(e) => {
                tracing::warn!(cluster_external_secret = str_at(ces, "/metadata/name"),
                    namespace = %ns, error = %fjord_model::chain(&e), "namespace failed");
                failed.push((ns.clone(), fjord_model::chain(&e)));
            }
        }
    }
    for es in owned {
        let ns = str_at(es, "/metadata/namespace");
        let stale = !matched.iter().any(|m| m == ns) || str_at(es, "/metadata/name") != name;
        if stale {
            if let Err(e) = delete_child(shared, es).await {
                failed.push((ns.to_string(), e.to_string()));
            }
        }
    }
    let patch = status_patch(ces, &name, &provisioned, &failed, &now_rfc3339());
    write_status(shared, ces, patch).await;
}

/// Reconciles every ClusterExternalSecret.
pub(crate) async fn reconcile_cluster_external_secrets(shared: &Shared) {
    let api = &shared.api;
    let listed: Result<_, ApiError> = async {
        let ces = api.list(&api.cluster_external_secrets).await?;
        if ces.is_empty() {
            return Ok((ces, Vec::new(), Vec::new()));
        }
        Ok((
            ces,
            api.list(&api.namespaces).await?,
            api.list(&api.external_secrets).await?,
        ))
    }
    .await;
    let (list, namespaces, all) = match listed {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "listing ClusterExternalSecrets failed");
            return;
        }
    };
    for ces in &list {
        reconcile_one(shared, ces, &namespaces, &all).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ces() -> Value {
        json!({"apiVersion": "external-secrets.io/v1", "kind": "ClusterExternalSecret",
               "metadata": {"name": "db", "uid": "ces-uid",
                            "annotations": {ANNOTATION_FORCE_SYNC: "t1"}},
               "spec": {"externalSecretName": "db-creds",
                        "externalSecretMetadata": {"labels": {"team": "a"}},
                        "namespaces": ["named"],
                        "namespaceSelectors": [{"matchLabels": {"env": "prod"}}],
                        "externalSecretSpec": {
                            "secretStoreRef": {"name": "vault-backend", "kind": "ClusterSecretStore"},
                            "data": [{"secretKey": "u", "remoteRef": {"key": "k", "property": "p"}}]}}})
    }

    fn ns(name: &str, labels: Value) -> Value {
        json!({"metadata": {"name": name, "labels": labels}})
    }

    #[test]
    fn namespaces_by_name_or_selector_and_never_terminating_ones() {
        let spec = parse_cluster_external_secret(&ces()).unwrap();
        let mut gone = ns("prod-old", json!({"env": "prod"}));
        gone["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        let all = [
            ns("named", json!({})),
            ns("prod-a", json!({"env": "prod"})),
            ns("dev", json!({"env": "dev"})),
            gone,
        ];
        assert_eq!(matched_namespaces(&spec, &all), ["named", "prod-a"]);
        let mut every = spec.clone();
        every.namespaces.clear();
        every.namespace_selectors = vec![BTreeMap::new()];
        assert_eq!(matched_namespaces(&every, &all), ["dev", "named", "prod-a"]);
    }

    #[test]
    fn child_carries_metadata_force_sync_and_a_controller_reference() {
        let c = ces();
        let spec = parse_cluster_external_secret(&c).unwrap();
        let child = desired_child(&c, &spec, "prod-a");
        assert_eq!(child["apiVersion"], "external-secrets.io/v1");
        assert_eq!(child["metadata"]["name"], "db-creds");
        assert_eq!(child["metadata"]["namespace"], "prod-a");
        assert_eq!(child["metadata"]["labels"], json!({"team": "a"}));
        assert_eq!(
            child["metadata"]["annotations"][ANNOTATION_FORCE_SYNC],
            "t1"
        );
        assert!(owned_by(&child, "ces-uid"));
        assert!(!owned_by(&child, "other"));
        assert_eq!(child["spec"], c["spec"]["externalSecretSpec"]);
    }

    #[test]
    fn updates_only_when_the_child_differs() {
        let c = ces();
        let spec = parse_cluster_external_secret(&c).unwrap();
        let desired = desired_child(&c, &spec, "x");
        let mut live = desired.clone();
        live["metadata"]["resourceVersion"] = json!("5");
        live["status"] = json!({"refreshTime": "T"});
        assert_eq!(child_update(&live, &desired), None);
        live["spec"]["refreshInterval"] = json!("1m");
        let updated = child_update(&live, &desired).unwrap();
        assert!(updated["spec"].get("refreshInterval").is_none());
        assert_eq!(updated["metadata"]["resourceVersion"], "5");
        assert_eq!(updated["status"]["refreshTime"], "T");
    }

    #[test]
    fn status_lists_namespaces_and_fails_with_esos_message() {
        let c = ces();
        let ok = status_patch(&c, "db-creds", &["a".into(), "b".into()], &[], "T1").unwrap();
        assert_eq!(ok["status"]["provisionedNamespaces"], json!(["a", "b"]));
        assert_eq!(ok["status"]["conditions"][0]["status"], "True");
        let mut live = c.clone();
        live["status"] = ok["status"].clone();
        assert_eq!(
            status_patch(&live, "db-creds", &["a".into(), "b".into()], &[], "T2"),
            None
        );
        let failed = status_patch(
            &live,
            "db-creds",
            &["a".into()],
            &[("b".into(), "taken".into())],
            "T3",
        )
        .unwrap();
        assert_eq!(
            failed["status"]["failedNamespaces"],
            json!([{"namespace": "b", "reason": "taken"}])
        );
        assert_eq!(failed["status"]["conditions"][0]["message"], MESSAGE_FAILED);
        assert_eq!(failed["status"]["conditions"][0]["status"], "False");
    }

    #[test]
    fn finalizer_is_added_once_and_removed_once() {
        let c = ces();
        assert_eq!(finalizers(&c, true), Some(vec![CES_FINALIZER.to_string()]));
        assert_eq!(finalizers(&c, false), None);
        let mut with = c.clone();
        with["metadata"]["finalizers"] = json!(["other", CES_FINALIZER]);
        assert_eq!(finalizers(&with, true), None);
        assert_eq!(finalizers(&with, false), Some(vec!["other".to_string()]));
    }

    #[test]
    fn refusing_a_foreign_child_names_it() {
        let e = ClusterError::NotOwned {
            namespace: "b".into(),
            name: "db-creds".into(),
            ces: "db".into(),
        };
        assert_eq!(
            e.to_string(),
            "ExternalSecret b/db-creds already exists and is not owned by ClusterExternalSecret db"
        );
    }
}
