//! The application controller's Prometheus registry, with Argo CD's metric names and
//! label sets (`controller/metrics/metrics.go`, `clustercollector.go`).

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::api::Application;
use crate::queue::WorkqueueMetrics;

/// Buckets of `argocd_app_reconcile` (seconds).
pub const RECONCILE_BUCKETS: [f64; 7] = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0];

/// HTTP `Content-Type` for [`ControllerMetrics::encode`] output (OpenMetrics text; counters
/// carry the `_total` suffix on their samples).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Metric families a component running beside the controller (the image updater) adds to
/// `/metrics`: OpenMetrics text without the closing `# EOF`, rendered at each scrape.
#[derive(Clone)]
pub struct ExtraMetrics(std::sync::Arc<dyn Fn() -> String + Send + Sync>);

impl ExtraMetrics {
    /// Families rendered by `render` at each scrape.
    pub fn new(render: impl Fn() -> String + Send + Sync + 'static) -> ExtraMetrics {
        ExtraMetrics(std::sync::Arc::new(render))
    }

    /// The families' text now.
    pub fn render(&self) -> String {
        (self.0)()
    }
}

impl std::fmt::Debug for ExtraMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExtraMetrics")
    }
}

/// `text` (an OpenMetrics exposition ending in `# EOF`) with `extra` families added before
/// the end marker.
pub fn with_extra(mut text: String, extra: &[ExtraMetrics]) -> String {
    if extra.is_empty() {
        return text;
    }
    let eof = text.rfind("# EOF").unwrap_or(text.len());
    text.truncate(eof);
    for e in extra {
        text.push_str(&e.render());
    }
    text.push_str("# EOF\n");
    text
}

/// Errors from metrics encoding.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// Text exposition failed.
    #[error("encoding metrics as text")]
    Encode(#[from] std::fmt::Error),
}

/// Labels of `argocd_app_info`.
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AppInfoLabels {
    /// App namespace.
    pub namespace: String,
    /// App name.
    pub name: String,
    /// Project.
    pub project: String,
    /// `"true"`/`"false"`.
    pub autosync_enabled: String,
    /// Repo URL of the (first) source, credentials removed.
    pub repo: String,
    /// Destination server.
    pub dest_server: String,
    /// Destination namespace.
    pub dest_namespace: String,
    /// Sync status code.
    pub sync_status: String,
    /// Health status code.
    pub health_status: String,
    /// `sync`, `delete` or empty.
    pub operation: String,
}

impl AppInfoLabels {
    /// Derives the label set from an Application, as Argo's collector does.
    pub fn from_app(app: &Application) -> Self {
        let spec = app.spec();
        let status = app.status.clone().unwrap_or_default();
        let dest = spec.destination.clone().unwrap_or_default();
        let operation = if app.operation.is_some() {
            "sync"
        } else if app
            .metadata
            .as_ref()
            .is_some_and(|m| m.deletion_timestamp.is_some())
        {
            "delete"
        } else {
            ""
        };
        AppInfoLabels {
            namespace: app.namespace().to_string(),
            name: app.name().to_string(),
            project: spec.project.clone().unwrap_or_default(),
            autosync_enabled: spec.auto_sync_enabled().to_string(),
            repo: spec
                .effective_sources()
                .first()
                .and_then(|s| s.repo_url.as_deref())
                .map(fjord_source::redact_url)
                .unwrap_or_default(),
            dest_server: dest.server.unwrap_or_default(),
            dest_namespace: dest.namespace.unwrap_or_default(),
            sync_status: code_label(status.sync.and_then(|s| s.status)),
            health_status: code_label(status.health.and_then(|h| h.status)),
            operation: operation.to_string(),
        }
    }
}

/// A status code as a label value (`""` when unset).
fn code_label(code: Option<impl std::ops::Deref<Target = str>>) -> String {
    code.as_deref().unwrap_or_default().to_string()
}

/// Labels of `argocd_app_sync_total`.
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AppSyncLabels {
    /// App namespace.
    pub namespace: String,
    /// App name.
    pub name: String,
    /// Project.
    pub project: String,
    /// Destination server.
    pub dest_server: String,
    /// Operation phase.
    pub phase: String,
    /// `"true"`/`"false"`.
    pub dry_run: String,
}

/// Labels of `argocd_app_sync_duration_seconds_total` and `argocd_app_orphaned_resources_count`.
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AppLabels {
    /// App namespace.
    pub namespace: String,
    /// App name.
    pub name: String,
    /// Project.
    pub project: String,
}

/// Labels of `argocd_app_sync_duration_seconds_total`.
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AppDestLabels {
    /// App namespace.
    pub namespace: String,
    /// App name.
    pub name: String,
    /// Project.
    pub project: String,
    /// Destination server.
    pub dest_server: String,
}

/// Labels of `argocd_app_reconcile`.
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileLabels {
    /// App namespace.
    pub namespace: String,
    /// Destination server.
    pub dest_server: String,
}

/// Labels of `argocd_app_k8s_request_total`.
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct K8sRequestLabels {
    /// App namespace.
    pub namespace: String,
    /// App name.
    pub name: String,
    /// Project.
    pub project: String,
    /// API server.
    pub server: String,
    /// HTTP response code.
    pub response_code: String,
    /// Request verb.
    pub verb: String,
    /// Kind of the resource.
    pub resource_kind: String,
    /// Namespace of the resource.
    pub resource_namespace: String,
    /// `"true"`/`"false"`.
    pub dry_run: String,
}

/// Labels of `argocd_cluster_info`.
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClusterInfoLabels {
    /// API server.
    pub server: String,
    /// Kubernetes version.
    pub k8s_version: String,
    /// Cluster name.
    pub name: String,
}

/// Labels of `argocd_cluster_connection_status`.
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClusterConnectionLabels {
    /// API server.
    pub server: String,
    /// Kubernetes version.
    pub k8s_version: String,
}

/// Labels of per-server cluster gauges.
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServerLabels {
    /// API server.
    pub server: String,
}

/// Labels of `argocd_cluster_events_total`.
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClusterEventLabels {
    /// API server.
    pub server: String,
    /// API group.
    pub group: String,
    /// Kind.
    pub kind: String,
}

fn reconcile_histogram() -> Histogram {
    Histogram::new(RECONCILE_BUCKETS)
}

/// The controller's metric registry and families.
pub struct ControllerMetrics {
    registry: Registry,
    /// `workqueue_*` families for the controller's queues.
    pub workqueue: WorkqueueMetrics,
    /// `argocd_app_info`.
    pub app_info: Family<AppInfoLabels, Gauge>,
    /// `argocd_app_sync_total`.
    pub app_sync: Family<AppSyncLabels, Counter>,
    /// `argocd_app_sync_duration_seconds_total`.
    pub app_sync_duration: Family<AppDestLabels, Counter<f64, AtomicU64>>,
    /// `argocd_app_reconcile`.
    pub app_reconcile: Family<ReconcileLabels, Histogram>,
    /// `argocd_app_k8s_request_total`.
    pub app_k8s_request: Family<K8sRequestLabels, Counter>,
    /// `argocd_app_orphaned_resources_count`.
    pub app_orphaned: Family<AppLabels, Gauge>,
    /// `argocd_cluster_info`.
    pub cluster_info: Family<ClusterInfoLabels, Gauge>,
    /// `argocd_cluster_api_resource_objects`.
    pub cluster_api_resource_objects: Family<ServerLabels, Gauge>,
    /// `argocd_cluster_api_resources`.
    pub cluster_api_resources: Family<ServerLabels, Gauge>,
    /// `argocd_cluster_cache_age_seconds` (-1 if never synced).
    pub cluster_cache_age: Family<ServerLabels, Gauge>,
    /// `argocd_cluster_connection_status` (1 = ok).
    pub cluster_connection_status: Family<ClusterConnectionLabels, Gauge>,
    /// `argocd_cluster_events_total`.
    pub cluster_events: Family<ClusterEventLabels, Counter>,
    /// The current `argocd_app_info` labels of each app, by (namespace, name).
    app_info_current: std::sync::Mutex<std::collections::HashMap<(String, String), AppInfoLabels>>,
}

impl Default for ControllerMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl ControllerMetrics {
    /// Creates and registers all families.
    pub fn new() -> Self {
        let mut r = Registry::default();
        let workqueue = WorkqueueMetrics::register(&mut r);
        let m = ControllerMetrics {
            workqueue,
            app_info: Family::default(),
            app_sync: Family::default(),
            app_sync_duration: Family::default(),
            app_reconcile: Family::new_with_constructor(reconcile_histogram),
            app_k8s_request: Family::default(),
            app_orphaned: Family::default(),
            cluster_info: Family::default(),
            cluster_api_resource_objects: Family::default(),
            cluster_api_resources: Family::default(),
            cluster_cache_age: Family::default(),
            cluster_connection_status: Family::default(),
            cluster_events: Family::default(),
            app_info_current: Default::default(),
            registry: Registry::default(),
        };
        r.register(
            "argocd_app_info",
            "Information about application",
            m.app_info.clone(),
        );
        r.register(
            "argocd_app_sync",
            "Number of application syncs",
            m.app_sync.clone(),
        );
        r.register(
            "argocd_app_sync_duration_seconds",
            "Application sync performance in seconds total",
            m.app_sync_duration.clone(),
        );
        r.register(
            "argocd_app_reconcile",
            "Application reconciliation performance in seconds",
            m.app_reconcile.clone(),
        );
        r.register(
            "argocd_app_k8s_request",
            "Number of kubernetes requests executed during application reconciliation",
            m.app_k8s_request.clone(),
        );
        r.register(
            "argocd_app_orphaned_resources_count",
            "Number of orphaned resources per application",
            m.app_orphaned.clone(),
        );
        r.register(
            "argocd_cluster_info",
            "Information about cluster",
            m.cluster_info.clone(),
        );
        r.register(
            "argocd_cluster_api_resource_objects",
            "Number of k8s resource objects in the cache",
            m.cluster_api_resource_objects.clone(),
        );
        r.register(
            "argocd_cluster_api_resources",
            "Number of monitored kubernetes API resources",
            m.cluster_api_resources.clone(),
        );
        r.register(
            "argocd_cluster_cache_age_seconds",
            "Cluster cache age in seconds",
            m.cluster_cache_age.clone(),
        );
        r.register(
            "argocd_cluster_connection_status",
            "The k8s cluster current connection status",
            m.cluster_connection_status.clone(),
        );
        r.register(
            "argocd_cluster_events",
            "Number of processes k8s resource events",
            m.cluster_events.clone(),
        );
        ControllerMetrics { registry: r, ..m }
    }

    /// Replaces every `argocd_app_info` series with one per given app (stale label
    /// combinations from earlier states disappear).
    pub fn set_app_infos<'a>(&self, apps: impl IntoIterator<Item = &'a Application>) {
        self.app_info.clear();
        for app in apps {
            self.app_info
                .get_or_create(&AppInfoLabels::from_app(app))
                .set(1);
        }
    }

    /// Replaces the `argocd_app_info` series of one app with its current labels.
    pub fn set_app_info(&self, app: &Application) {
        let labels = AppInfoLabels::from_app(app);
        let key = (labels.namespace.clone(), labels.name.clone());
        let mut current = self
            .app_info_current
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(old) = current.insert(key, labels.clone()) {
            if old != labels {
                self.app_info.remove(&old);
            }
        }
        self.app_info.get_or_create(&labels).set(1);
    }

    /// Drops the `argocd_app_info` series of a deleted app.
    pub fn remove_app(&self, namespace: &str, name: &str) {
        let mut current = self
            .app_info_current
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(old) = current.remove(&(namespace.to_string(), name.to_string())) {
            self.app_info.remove(&old);
        }
    }

    /// Counts a finished sync operation of `app` in `phase`.
    pub fn inc_sync(&self, app: &Application, phase: &str, dry_run: bool) {
        let info = AppInfoLabels::from_app(app);
        self.app_sync
            .get_or_create(&AppSyncLabels {
                namespace: info.namespace,
                name: info.name,
                project: info.project,
                dest_server: info.dest_server,
                phase: phase.to_string(),
                dry_run: dry_run.to_string(),
            })
            .inc();
    }

    /// Records the duration of one reconciliation of `app`.
    pub fn observe_reconcile(&self, app: &Application, seconds: f64) {
        let info = AppInfoLabels::from_app(app);
        self.app_reconcile
            .get_or_create(&ReconcileLabels {
                namespace: info.namespace,
                dest_server: info.dest_server,
            })
            .observe(seconds);
    }

    /// Renders the registry in the Prometheus/OpenMetrics text format.
    pub fn encode(&self) -> Result<String, MetricsError> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> Application {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "guestbook", "namespace": "argocd"},
            "spec": {"project": "default", "source": {"repoURL": "https://g/r", "path": "p"},
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "gb"},
                "syncPolicy": {"automated": {}}},
            "status": {"sync": {"status": "Synced"}, "health": {"status": "Healthy"}}
        }))
        .unwrap()
    }

    #[test]
    fn app_info_never_carries_repository_credentials() {
        let m = ControllerMetrics::new();
        let mut v = serde_json::to_value(app()).unwrap();
        v["spec"]["source"]["repoURL"] =
            serde_json::json!("https://bob:hunter2@g/r.git?access_token=tok3n");
        let a: Application = serde_json::from_value(v).unwrap();
        m.set_app_infos([&a]);
        let out = m.encode().unwrap();
        assert!(
            out.contains(r#"repo="https://bob@g/r.git?access_token=***""#),
            "{out}"
        );
        assert!(!out.contains("hunter2") && !out.contains("tok3n"), "{out}");
    }

    #[test]
    fn encodes_names_and_labels() {
        let m = ControllerMetrics::new();
        let a = app();
        m.set_app_infos([&a]);
        m.inc_sync(&a, "Succeeded", false);
        m.observe_reconcile(&a, 0.3);
        m.app_k8s_request
            .get_or_create(&K8sRequestLabels {
                namespace: "argocd".into(),
                name: "guestbook".into(),
                project: "default".into(),
                server: "https://kubernetes.default.svc".into(),
                response_code: "200".into(),
                verb: "Get".into(),
                resource_kind: "Deployment".into(),
                resource_namespace: "gb".into(),
                dry_run: "false".into(),
            })
            .inc();
        m.cluster_connection_status
            .get_or_create(&ClusterConnectionLabels {
                server: "s".into(),
                k8s_version: "1.30".into(),
            })
            .set(1);
        m.cluster_cache_age
            .get_or_create(&ServerLabels { server: "s".into() })
            .set(-1);
        let out = m.encode().unwrap();
        assert!(out.contains(r#"argocd_app_info{namespace="argocd",name="guestbook",project="default",autosync_enabled="true",repo="https://g/r",dest_server="https://kubernetes.default.svc",dest_namespace="gb",sync_status="Synced",health_status="Healthy",operation=""} 1"#), "{out}");
        assert!(out.contains(r#"argocd_app_sync_total{namespace="argocd",name="guestbook",project="default",dest_server="https://kubernetes.default.svc",phase="Succeeded",dry_run="false"} 1"#));
        let bucket = |le: &str, n: u32| {
            format!(
                r#"argocd_app_reconcile_bucket{{le="{le}",namespace="argocd",dest_server="https://kubernetes.default.svc"}} {n}"#
            )
        };
        assert!(out.contains(&bucket("0.25", 0)), "{out}");
        assert!(out.contains(&bucket("0.5", 1)));
        assert!(out.contains(&bucket("16.0", 1)));
        assert!(
            !out.contains(".."),
            "help texts must not end in a doubled period"
        );
        assert!(out.contains(r#"argocd_app_k8s_request_total{namespace="argocd",name="guestbook",project="default",server="https://kubernetes.default.svc",response_code="200",verb="Get",resource_kind="Deployment",resource_namespace="gb",dry_run="false"} 1"#));
        assert!(
            out.contains(r#"argocd_cluster_connection_status{server="s",k8s_version="1.30"} 1"#)
        );
        assert!(out.contains(r#"argocd_cluster_cache_age_seconds{server="s"} -1"#));
        assert!(out.contains("# TYPE argocd_app_reconcile histogram"));
        assert!(out.contains("# TYPE workqueue_depth gauge"));
    }

    #[test]
    fn app_info_replaces_stale_series() {
        let m = ControllerMetrics::new();
        let mut a = app();
        m.set_app_infos([&a]);
        if let Some(s) = a.status.as_mut().and_then(|s| s.sync.as_mut()) {
            s.status = Some("OutOfSync".into());
        }
        m.set_app_infos([&a]);
        let out = m.encode().unwrap();
        assert!(out.contains(r#"sync_status="OutOfSync""#));
        assert!(!out.contains(r#"sync_status="Synced""#));
    }
}
