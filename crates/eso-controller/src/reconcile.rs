//! The ExternalSecret reconcile pass: list every ExternalSecret, and for each one keep the
//! finalizer, decide whether it is due (§2: `refreshInterval`/`refreshPolicy`, a changed
//! `syncedResourceVersion`, a missing or edited target Secret; failures back off from 5 s,
//! doubling, to 5 min), validate the spec and its templates before anything else, fetch
//! ([`crate::fetch`]), render and write ([`crate::write`]), then record the `Ready` condition,
//! `refreshTime`, `syncedResourceVersion` and `binding` (§3) when they change, and events.
//! A deleted ExternalSecret is cleaned up per its policies before its finalizer goes.

mod backoff;
mod status;

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use serde_json::{json, Value};

pub(super) use crate::api::str_at;
use crate::fetch::{self, FetchError};
use crate::write::{self, WriteError, Written};
use crate::Shared;
pub(crate) use backoff::Backoffs;
use fjord_eso::spec::{parse_external_secret, ExternalSecretSpec, SpecError};
use fjord_eso::target::{synced_resource_version, REASON_SYNC_ERROR};
use fjord_eso::template::{self, TemplateError};
use status::{
    finalizers_with, refresh_due, status_patch, success_condition, target_state, Report,
    TargetState,
};

/// ExternalSecrets handled at the same time in one pass.
const CONCURRENCY: usize = 16;
/// Event reasons and messages (§3).
const EVENT_CREATED: (&str, &str) = ("Created", "secret created");
const EVENT_UPDATED: (&str, &str) = ("Updated", "secret updated");
const EVENT_DELETED: (&str, &str) = ("Deleted", "secret deleted due to DeletionPolicy=Delete");
const EVENT_UPDATE_FAILED: &str = "UpdateFailed";
const EVENT_MISSING_PROVIDER_SECRET: &str = "MissingProviderSecret";

fn now_rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Why one sync failed; Display is the status message.
#[derive(Debug, thiserror::Error)]
enum SyncError {
    /// The spec does not validate.
    #[error("invalid ExternalSecret")]
    Spec(#[source] SpecError),
    /// A template does not parse.
    #[error("invalid ExternalSecret: spec.target.template")]
    Template(#[source] TemplateError),
    /// The provider could not give the data.
    #[error("could not get secret data from provider")]
    Fetch(#[source] FetchError),
    /// The Secret could not be written.
    #[error("{}", write_prefix(.0))]
    Write(#[source] WriteError),
}

fn write_prefix(e: &WriteError) -> &'static str {
    match e {
        WriteError::Template(_) => "could not apply the template",
        _ => "could not write the target secret",
    }
}

impl SyncError {
    fn is_transient(&self) -> bool {
        match self {
            SyncError::Fetch(e) => e.is_transient(),
            SyncError::Write(e) => e.is_transient(),
            SyncError::Spec(_) | SyncError::Template(_) => false,
        }
    }
}

/// Parses the ExternalSecret and parses every template it holds (nothing is fetched first).
fn validate(es: &Value) -> Result<ExternalSecretSpec, SyncError> {
    let spec = parse_external_secret(es).map_err(SyncError::Spec)?;
    if let Some(t) = &spec.target.template {
        let metadata = t
            .metadata
            .labels
            .iter()
            .map(|(k, v)| (format!("metadata.labels.{k}"), v))
            .chain(
                t.metadata
                    .annotations
                    .iter()
                    .map(|(k, v)| (format!("metadata.annotations.{k}"), v)),
            );
        for (name, text) in t.data.iter().map(|(k, v)| (k.clone(), v)).chain(metadata) {
            template::check(&name, text).map_err(SyncError::Template)?;
        }
    }
    Ok(spec)
}

fn es_id(es: &Value) -> String {
    format!(
        "{}/{}",
        str_at(es, "/metadata/namespace"),
        str_at(es, "/metadata/name")
    )
}

async fn write_status(shared: &Shared, es: &Value, report: &Report<'_>, now: &str) {
    let Some(patch) = status_patch(es, report, now) else {
        return;
    };
    let api = &shared.api;
    let ns = str_at(es, "/metadata/namespace");
    let name = str_at(es, "/metadata/name");
    if let Err(e) = api
        .patch_status(&api.external_secrets, Some(ns), name, &patch)
        .await
    {
        tracing::warn!(external_secret = %es_id(es), error = %fjord_model::chain(&e), "status not written");
    }
}

/// The outcome of a sync on a valid spec.
struct Synced {
    written: Written,
    missing_data_from: Vec<usize>,
}

/// Fetch, render, write.
async fn sync(shared: &Shared, es: &Value, spec: &ExternalSecretSpec) -> Result<Synced, SyncError> {
    let ns = str_at(es, "/metadata/namespace");
    let fetched = fetch::fetch(shared, ns, spec)
        .await
        .map_err(SyncError::Fetch)?;
    let written = if fetched.data.is_empty() {
        write::on_empty(shared, es, spec)
            .await
            .map_err(SyncError::Write)?
    } else {
        let content = write::content(spec, fetched.data)
            .map_err(|e| SyncError::Write(WriteError::Template(e)))?;
        write::sync_target(shared, es, spec, &content)
            .await
            .map_err(SyncError::Write)?
    };
    Ok(Synced {
        written,
        missing_data_from: fetched.missing_data_from,
    })
}

/// Reports a failed sync: Ready=False, a Warning event, and the backoff.
async fn report_failure(shared: &Shared, es: &Value, version: &str, err: &SyncError) {
    let message = fjord_model::chain(err);
    tracing::warn!(external_secret = %es_id(es), transient = err.is_transient(), error = %message, "sync failed");
    shared
        .backoff
        .record_failure(str_at(es, "/metadata/uid"), version, Instant::now());
    shared
        .api
        .event(es, true, EVENT_UPDATE_FAILED, &message)
        .await;
    let report = Report {
        ready: false,
        reason: REASON_SYNC_ERROR,
        message: &message,
        synced: None,
    };
    write_status(shared, es, &report, &now_rfc3339(Utc::now())).await;
}

/// Reports a successful sync: events, then the status.
async fn report_success(
    shared: &Shared,
    es: &Value,
    spec: &ExternalSecretSpec,
    synced: &Synced,
    version: String,
    started: DateTime<Utc>,
) {
    shared.backoff.clear_failure(str_at(es, "/metadata/uid"));
    for j in &synced.missing_data_from {
        let message = format!("secret does not exist at provider using spec.dataFrom[{j}]");
        shared
            .api
            .event(es, false, EVENT_MISSING_PROVIDER_SECRET, &message)
            .await;
    }
    let event = match synced.written {
        Written::Created => Some(EVENT_CREATED),
        Written::Updated => Some(EVENT_UPDATED),
        Written::Deleted => Some(EVENT_DELETED),
        _ => None,
    };
    if let Some((reason, message)) = event {
        tracing::info!(external_secret = %es_id(es), reason, "target secret written");
        shared.api.event(es, false, reason, message).await;
    }
    let (reason, message) = success_condition(synced.written);
    let report = Report {
        ready: true,
        reason,
        message,
        synced: Some((now_rfc3339(started), version, spec.target.name.clone())),
    };
    write_status(shared, es, &report, &now_rfc3339(Utc::now())).await;
}

/// Adds or removes the finalizer with a merge patch (guarded by the resourceVersion).
async fn set_finalizer(shared: &Shared, es: &Value, add: bool) -> bool {
    let Some(finalizers) = finalizers_with(es, add) else {
        return true;
    };
    let api = &shared.api;
    let patch = json!({"metadata": {
        "finalizers": finalizers,
        "resourceVersion": str_at(es, "/metadata/resourceVersion"),
    }});
    let ns = str_at(es, "/metadata/namespace");
    match api
        .patch_merge(
            &api.external_secrets,
            Some(ns),
            str_at(es, "/metadata/name"),
            &patch,
        )
        .await
    {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(external_secret = %es_id(es), error = %fjord_model::chain(&e), "finalizer not updated");
            false
        }
    }
}

/// A deleted ExternalSecret: clean up per its policies, then let it go.
async fn finalize_es(shared: &Shared, es: &Value) {
    if finalizers_with(es, false).is_none() {
        return;
    }
    let uid = str_at(es, "/metadata/uid");
    if let Ok(spec) = parse_external_secret(es) {
        match write::finalize(shared, es, &spec).await {
            Ok(Some(Written::Deleted)) => {
                let (reason, message) = EVENT_DELETED;
                shared.api.event(es, false, reason, message).await;
            }
            Ok(_) => {}
            Err(e) if e.is_transient() => {
                let message = fjord_model::chain(&e);
                tracing::warn!(external_secret = %es_id(es), error = %message, "clean-up failed; retrying");
                shared
                    .api
                    .event(es, true, EVENT_UPDATE_FAILED, &message)
                    .await;
                return;
            }
            Err(e) => {
                tracing::warn!(external_secret = %es_id(es), error = %fjord_model::chain(&e), "clean-up skipped");
            }
        }
    }
    if set_finalizer(shared, es, false).await {
        shared.backoff.clear_failure(uid);
    }
}

/// One ExternalSecret, one pass.
async fn handle(shared: &Shared, es: &Value, targets: Option<&HashMap<(String, String), Value>>) {
    if es.pointer("/metadata/deletionTimestamp").is_some() {
        finalize_es(shared, es).await;
        return;
    }
    if !set_finalizer(shared, es, true).await {
        return;
    }
    let uid = str_at(es, "/metadata/uid");
    let version = synced_resource_version(es);
    if shared.backoff.backing_off(uid, &version, Instant::now()) {
        return;
    }
    let spec = match validate(es) {
        Ok(spec) => spec,
        Err(e) => return report_failure(shared, es, &version, &e).await,
    };
    let ns = str_at(es, "/metadata/namespace");
    let live = targets
        .map(|t| t.get(&(ns.to_string(), spec.target.name.clone())))
        .unwrap_or_else(|| None);
    let state = match targets {
        Some(_) => target_state(spec.target.creation_policy, live),
        None => TargetState::Intact,
    };
    let status = es.get("status").cloned().unwrap_or(Value::Null);
    let started = Utc::now();
    if !refresh_due(
        &status,
        spec.refresh_interval,
        spec.refresh_policy,
        &version,
        state,
        started,
    ) {
        return;
    }
    match sync(shared, es, &spec).await {
        Ok(synced) => report_success(shared, es, &spec, &synced, version, started).await,
        Err(e) => report_failure(shared, es, &version, &e).await,
    }
}

/// Every Secret by `(namespace, name)`; `None` when the list failed (targets not checked).
async fn secrets_by_name(shared: &Shared) -> Option<HashMap<(String, String), Value>> {
    match shared.api.list(&shared.api.secrets).await {
        Ok(list) => Some(
            list.into_iter()
                .map(|s| {
                    let key = (
                        str_at(&s, "/metadata/namespace").to_string(),
                        str_at(&s, "/metadata/name").to_string(),
                    );
                    (key, s)
                })
                .collect(),
        ),
        Err(e) => {
            tracing::warn!(error = %fjord_model::chain(&e), "listing Secrets failed; targets not checked this pass");
            None
        }
    }
}

/// One pass over every ExternalSecret (called by the controller loop every resync and on
/// watch wake-ups).
pub(crate) async fn reconcile_external_secrets(shared: &Shared) {
    let list = match shared.api.list(&shared.api.external_secrets).await {
        Ok(list) => list,
        Err(e) => {
            tracing::warn!(error = %fjord_model::chain(&e), "listing ExternalSecrets failed");
            return;
        }
    };
    let uids: Vec<String> = list
        .iter()
        .map(|es| str_at(es, "/metadata/uid").to_string())
        .collect();
    shared.backoff.prune_failures(&uids);
    if list.is_empty() {
        return;
    }
    let targets = secrets_by_name(shared).await;
    let targets = targets.as_ref();
    futures::stream::iter(&list)
        .for_each_concurrent(CONCURRENCY, |es| handle(shared, es, targets))
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn es(spec: Value) -> Value {
        json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
            "metadata": {"name": "es", "namespace": "ns", "uid": "u1", "generation": 1},
            "spec": spec})
    }

    #[test]
    fn validation_names_the_field_before_anything_is_fetched() {
        let bad_template = es(
            json!({"secretStoreRef": {"name": "s", "kind": "ClusterSecretStore"},
            "target": {"template": {"data": {"x": "{{ .a "}}},
            "data": [{"secretKey": "a", "remoteRef": {"key": "k"}}]}),
        );
        let err = validate(&bad_template).unwrap_err();
        assert!(!err.is_transient());
        let text = fjord_model::chain(&err);
        assert!(
            text.starts_with("invalid ExternalSecret: spec.target.template"),
            "{text}"
        );
        let no_data = es(json!({"secretStoreRef": {"name": "s"}}));
        let text = fjord_model::chain(&validate(&no_data).unwrap_err());
        assert!(text.starts_with("invalid ExternalSecret: spec"), "{text}");
        let good = es(json!({"secretStoreRef": {"name": "s"},
            "target": {"template": {"data": {"x": "{{ .a | upper }}"}}},
            "data": [{"secretKey": "a", "remoteRef": {"key": "k"}}]}));
        assert_eq!(validate(&good).unwrap().target.name, "es");
    }
}
