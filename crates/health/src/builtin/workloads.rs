//! apps/v1 Deployment, StatefulSet, ReplicaSet and DaemonSet (gitops-engine
//! `health_deployment.go`, `health_statefulset.go`, `health_replicaset.go`, `health_daemonset.go`).

use fjord_model::go::quote;
use serde_json::Value;

use super::{convert, health, unsupported, CheckError};
use crate::object::{self, boolean, conditions, has_object, int, int_opt, string};
use crate::status::{Health, HealthStatus};

fn require_apps_v1(obj: &Value, what: &'static str) -> Result<(), CheckError> {
    match object::group_version(obj) {
        ("apps", "v1") => Ok(()),
        _ => Err(unsupported(what, obj)),
    }
}

/// Deployment: paused, generation, progress deadline, then the rollout counters (the logic of
/// `kubectl rollout status`).
pub(super) fn deployment(obj: &Value) -> Result<Health, CheckError> {
    require_apps_v1(obj, "Deployment")?;
    let c = convert("Deployment");
    // Read every field first: Argo CD converts the whole object before deciding anything.
    let paused = boolean(obj, &["spec", "paused"]).map_err(&c)?;
    let generation = int(obj, &["metadata", "generation"]).map_err(&c)?;
    let observed = int(obj, &["status", "observedGeneration"]).map_err(&c)?;
    let conds = conditions(obj, &["status", "conditions"]).map_err(&c)?;
    let replicas = int_opt(obj, &["spec", "replicas"]).map_err(&c)?;
    let status_replicas = int(obj, &["status", "replicas"]).map_err(&c)?;
    let updated = int(obj, &["status", "updatedReplicas"]).map_err(&c)?;
    let available = int(obj, &["status", "availableReplicas"]).map_err(&c)?;

    if paused {
        return health(HealthStatus::Suspended, "Deployment is paused");
    }
    if generation > observed {
        return health(
            HealthStatus::Progressing,
            "Waiting for rollout to finish: observed deployment generation less than desired generation",
        );
    }

    let progressing = conds.iter().find(|c| c.kind == "Progressing");
    if progressing.is_some_and(|c| c.reason == "ProgressDeadlineExceeded") {
        return health(
            HealthStatus::Degraded,
            format!(
                "Deployment {} exceeded its progress deadline",
                quote(object::name(obj))
            ),
        );
    }
    if let Some(want) = replicas {
        if updated < want {
            return health(
                HealthStatus::Progressing,
                format!("Waiting for rollout to finish: {updated} out of {want} new replicas have been updated..."),
            );
        }
    }
    if status_replicas > updated {
        return health(
            HealthStatus::Progressing,
            format!(
                "Waiting for rollout to finish: {} old replicas are pending termination...",
                status_replicas - updated
            ),
        );
    }
    if available < updated {
        return health(
            HealthStatus::Progressing,
            format!("Waiting for rollout to finish: {available} of {updated} updated replicas are available..."),
        );
    }
    health(HealthStatus::Healthy, "")
}

/// StatefulSet: observed generation, ready pods, then the update strategy (partitioned rolling
/// update, OnDelete, or revision comparison).
pub(super) fn statefulset(obj: &Value) -> Result<Health, CheckError> {
    require_apps_v1(obj, "StatefulSet")?;
    let c = convert("StatefulSet");
    let generation = int(obj, &["metadata", "generation"]).map_err(&c)?;
    let observed = int(obj, &["status", "observedGeneration"]).map_err(&c)?;
    let replicas = int_opt(obj, &["spec", "replicas"]).map_err(&c)?;
    let ready = int(obj, &["status", "readyReplicas"]).map_err(&c)?;
    let updated = int(obj, &["status", "updatedReplicas"]).map_err(&c)?;
    let current = int(obj, &["status", "currentReplicas"]).map_err(&c)?;
    let strategy = string(obj, &["spec", "updateStrategy", "type"]).map_err(&c)?;
    let has_rolling = has_object(obj, &["spec", "updateStrategy", "rollingUpdate"]).map_err(&c)?;
    let partition = int_opt(
        obj,
        &["spec", "updateStrategy", "rollingUpdate", "partition"],
    )
    .map_err(&c)?;
    let update_revision = string(obj, &["status", "updateRevision"]).map_err(&c)?;
    let current_revision = string(obj, &["status", "currentRevision"]).map_err(&c)?;

    if observed == 0 || generation > observed {
        return health(
            HealthStatus::Progressing,
            "Waiting for statefulset spec update to be observed...",
        );
    }
    if let Some(want) = replicas {
        if ready < want {
            return health(
                HealthStatus::Progressing,
                format!("Waiting for {} pods to be ready...", want - ready),
            );
        }
    }
    if strategy == "RollingUpdate" && has_rolling {
        if let (Some(want), Some(partition)) = (replicas, partition) {
            if updated < want - partition {
                return health(
                    HealthStatus::Progressing,
                    format!(
                        "Waiting for partitioned roll out to finish: {updated} out of {} new pods have been updated...",
                        want - partition
                    ),
                );
            }
        }
        return health(
            HealthStatus::Healthy,
            format!("partitioned roll out complete: {updated} new pods have been updated..."),
        );
    }
    if strategy == "OnDelete" {
        return health(
            HealthStatus::Healthy,
            format!("statefulset has {ready} ready pods"),
        );
    }
    if update_revision != current_revision {
        return health(
            HealthStatus::Progressing,
            format!("waiting for statefulset rolling update to complete {updated} pods at revision {update_revision}..."),
        );
    }
    health(
        HealthStatus::Healthy,
        format!(
            "statefulset rolling update complete {current} pods at revision {current_revision}..."
        ),
    )
}

/// ReplicaSet: observed generation, `ReplicaFailure` condition, available replicas.
pub(super) fn replicaset(obj: &Value) -> Result<Health, CheckError> {
    require_apps_v1(obj, "ReplicaSet")?;
    let c = convert("ReplicaSet");
    let generation = int(obj, &["metadata", "generation"]).map_err(&c)?;
    let observed = int(obj, &["status", "observedGeneration"]).map_err(&c)?;
    let conds = conditions(obj, &["status", "conditions"]).map_err(&c)?;
    let replicas = int_opt(obj, &["spec", "replicas"]).map_err(&c)?;
    let available = int(obj, &["status", "availableReplicas"]).map_err(&c)?;
    if generation > observed {
        return health(
            HealthStatus::Progressing,
            "Waiting for rollout to finish: observed replica set generation less than desired generation",
        );
    }
    if let Some(failure) = conds.iter().find(|c| c.kind == "ReplicaFailure") {
        if failure.status == "True" {
            return health(HealthStatus::Degraded, failure.message.clone());
        }
    }
    if let Some(want) = replicas {
        if available < want {
            return health(
                HealthStatus::Progressing,
                format!("Waiting for rollout to finish: {available} out of {want} new replicas are available..."),
            );
        }
    }
    health(HealthStatus::Healthy, "")
}

/// DaemonSet: observed generation, OnDelete, then scheduled and available pods.
pub(super) fn daemonset(obj: &Value) -> Result<Health, CheckError> {
    require_apps_v1(obj, "DaemonSet")?;
    let c = convert("DaemonSet");
    let generation = int(obj, &["metadata", "generation"]).map_err(&c)?;
    let observed = int(obj, &["status", "observedGeneration"]).map_err(&c)?;
    let strategy = string(obj, &["spec", "updateStrategy", "type"]).map_err(&c)?;
    let updated = int(obj, &["status", "updatedNumberScheduled"]).map_err(&c)?;
    let desired = int(obj, &["status", "desiredNumberScheduled"]).map_err(&c)?;
    let available = int(obj, &["status", "numberAvailable"]).map_err(&c)?;
    if generation > observed {
        return health(
            HealthStatus::Progressing,
            "Waiting for rollout to finish: observed daemon set generation less than desired generation",
        );
    }
    if strategy == "OnDelete" {
        return health(
            HealthStatus::Healthy,
            format!("daemon set {updated} out of {desired} new pods have been updated"),
        );
    }
    let name = quote(object::name(obj));
    if updated < desired {
        return health(
            HealthStatus::Progressing,
            format!("Waiting for daemon set {name} rollout to finish: {updated} out of {desired} new pods have been updated..."),
        );
    }
    if available < desired {
        return health(
            HealthStatus::Progressing,
            format!("Waiting for daemon set {name} rollout to finish: {available} of {desired} updated pods are available..."),
        );
    }
    health(HealthStatus::Healthy, "")
}
