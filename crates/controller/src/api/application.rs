//! The `argoproj.io/v1alpha1` Application: spec, status and operation.

use std::collections::BTreeMap;

use serde_json::Value;

use super::codes::{HealthStatusCode, OperationPhase, ResultCode, SyncStatusCode};
use super::macros::api_object;
use super::meta::ObjectMeta;
use super::retry::RetryStrategy;

api_object! {
    /// An Argo CD Application object.
    pub struct Application {
        /// `apiVersion` (`argoproj.io/v1alpha1`).
        api_version: String,
        /// `kind` (`Application`).
        kind: String,
        /// Object metadata.
        metadata: ObjectMeta,
        /// Desired state.
        spec: ApplicationSpec,
        /// Observed state written by the controller.
        status: ApplicationStatus,
        /// A requested operation, moved into `status.operationState` by the controller.
        operation: Operation,
    }
}

api_object! {
    /// `spec` of an Application.
    pub struct ApplicationSpec {
        /// AppProject name; empty means `default`.
        project: String,
        /// The single source (ignored when `sources` is set).
        source: ApplicationSource,
        /// Multiple sources.
        sources: Vec<ApplicationSource>,
        /// Where to deploy.
        destination: ApplicationDestination,
        /// Sync policy.
        sync_policy: SyncPolicy,
        /// Differences to ignore when comparing.
        ignore_differences: Vec<ResourceIgnoreDifferences>,
        /// Number of history entries to keep (default 10).
        revision_history_limit: i64,
        /// Informational name/value pairs.
        info: Vec<Info>,
        /// Source hydrator configuration (free form).
        source_hydrator: Value,
    }
}

api_object! {
    /// One source of manifests.
    pub struct ApplicationSource {
        /// Repository URL.
        #[serde(rename = "repoURL")]
        repo_url: String,
        /// Directory within the repository.
        path: String,
        /// Revision (branch, tag, commit, HEAD); default HEAD.
        target_revision: String,
        /// Helm chart name (Helm repositories).
        chart: String,
        /// Reference name for multi-source `$ref/...` paths.
        #[serde(rename = "ref")]
        reference: String,
        /// Display name of the source.
        name: String,
        /// Helm options (free form).
        helm: Value,
        /// Kustomize options.
        kustomize: ApplicationSourceKustomize,
        /// Plain-directory options.
        directory: ApplicationSourceDirectory,
        /// Config-management plugin options (free form).
        plugin: Value,
    }
}

api_object! {
    /// `source.directory` options.
    pub struct ApplicationSourceDirectory {
        /// Recurse into subdirectories.
        recurse: bool,
        /// Glob of files to include.
        include: String,
        /// Glob of files to exclude.
        exclude: String,
        /// Jsonnet options (free form).
        jsonnet: Value,
    }
}

api_object! {
    /// `source.kustomize` options.
    pub struct ApplicationSourceKustomize {
        /// Prefix added to resource names.
        name_prefix: String,
        /// Suffix added to resource names.
        name_suffix: String,
        /// Image overrides (`name=newName:tag`, ...).
        images: Vec<String>,
        /// Labels added to all resources.
        common_labels: BTreeMap<String, String>,
        /// Annotations added to all resources.
        common_annotations: BTreeMap<String, String>,
        /// Substitute env vars in common annotations.
        common_annotations_envsubst: bool,
        /// Overwrite existing labels.
        force_common_labels: bool,
        /// Overwrite existing annotations.
        force_common_annotations: bool,
        /// Namespace for all resources.
        namespace: String,
        /// Replica overrides.
        replicas: Vec<KustomizeReplica>,
        /// Kustomize version name.
        version: String,
        /// Patches (free form).
        patches: Vec<Value>,
        /// Components to include.
        components: Vec<String>,
        /// Apply labels without touching selectors.
        label_without_selector: bool,
    }
}

api_object! {
    /// A kustomize replica override.
    pub struct KustomizeReplica {
        /// Workload name.
        name: String,
        /// Replica count (int or string).
        count: Value,
    }
}

api_object! {
    /// `spec.destination`.
    pub struct ApplicationDestination {
        /// API server URL.
        server: String,
        /// Cluster name (alternative to `server`).
        name: String,
        /// Target namespace.
        namespace: String,
    }
}

api_object! {
    /// `spec.syncPolicy`.
    pub struct SyncPolicy {
        /// Automated sync settings; presence enables auto-sync.
        automated: SyncPolicyAutomated,
        /// `Key=Value` sync options.
        sync_options: Vec<String>,
        /// Retry strategy for failed syncs.
        retry: RetryStrategy,
        /// Metadata for a namespace created by `CreateNamespace=true`.
        managed_namespace_metadata: ManagedNamespaceMetadata,
    }
}

api_object! {
    /// `spec.syncPolicy.automated`.
    pub struct SyncPolicyAutomated {
        /// Prune resources that are no longer in git.
        prune: bool,
        /// Re-sync when the live state drifts.
        self_heal: bool,
        /// Allow syncing to an empty set of resources.
        allow_empty: bool,
        /// Explicit on/off switch (absent = on).
        enabled: bool,
    }
}

api_object! {
    /// Labels/annotations for the managed namespace.
    pub struct ManagedNamespaceMetadata {
        /// Labels.
        labels: BTreeMap<String, String>,
        /// Annotations.
        annotations: BTreeMap<String, String>,
    }
}

api_object! {
    /// One `spec.ignoreDifferences` entry.
    pub struct ResourceIgnoreDifferences {
        /// API group (glob).
        group: String,
        /// Kind (glob).
        kind: String,
        /// Object name (exact).
        name: String,
        /// Object namespace (exact).
        namespace: String,
        /// RFC 6901 pointers to ignore.
        json_pointers: Vec<String>,
        /// jq path expressions to ignore.
        jq_path_expressions: Vec<String>,
        /// Field managers whose fields are ignored.
        managed_fields_managers: Vec<String>,
    }
}

api_object! {
    /// A `spec.info` entry.
    pub struct Info {
        /// Name.
        name: String,
        /// Value.
        value: String,
    }
}

api_object! {
    /// `status` of an Application.
    pub struct ApplicationStatus {
        /// Per-resource status.
        resources: Vec<ResourceStatus>,
        /// Sync status.
        sync: SyncStatus,
        /// Aggregated health.
        health: AppHealthStatus,
        /// Deployment history.
        history: Vec<RevisionHistory>,
        /// Conditions (errors and warnings).
        conditions: Vec<ApplicationCondition>,
        /// Time of the last full comparison.
        reconciled_at: String,
        /// Deprecated: time of the last observation.
        observed_at: String,
        /// State of the current or last operation.
        operation_state: OperationState,
        /// Source type (`Kustomize`, `Helm`, `Directory`, `Plugin`).
        source_type: String,
        /// Source types of a multi-source app.
        source_types: Vec<String>,
        /// Summary (images, external URLs).
        summary: ApplicationSummary,
        /// Where resource health is stored (`""` or `appTree`).
        resource_health_source: String,
        /// Namespace of the controller that manages the app.
        controller_namespace: String,
        /// Source hydrator status (free form).
        source_hydrator: Value,
    }
}

api_object! {
    /// `status.sync`.
    pub struct SyncStatus {
        /// `Synced` / `OutOfSync` / `Unknown`.
        status: SyncStatusCode,
        /// What the status was compared to.
        compared_to: ComparedTo,
        /// Resolved revision.
        revision: String,
        /// Resolved revisions (multi-source).
        revisions: Vec<String>,
    }
}

api_object! {
    /// `status.sync.comparedTo`.
    pub struct ComparedTo {
        /// Source compared against.
        source: ApplicationSource,
        /// Sources compared against.
        sources: Vec<ApplicationSource>,
        /// Destination compared against.
        destination: ApplicationDestination,
        /// ignoreDifferences in effect.
        ignore_differences: Vec<ResourceIgnoreDifferences>,
    }
}

api_object! {
    /// Health status of the app or a resource.
    pub struct AppHealthStatus {
        /// Health code (`Healthy`, `Degraded`, ...).
        status: HealthStatusCode,
        /// Human message.
        message: String,
        /// When the status last changed.
        last_transition_time: String,
    }
}

api_object! {
    /// One `status.resources` entry.
    pub struct ResourceStatus {
        /// API group.
        group: String,
        /// API version.
        version: String,
        /// Kind.
        kind: String,
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// Sync status code.
        status: SyncStatusCode,
        /// Health.
        health: AppHealthStatus,
        /// Whether this is a hook.
        hook: bool,
        /// Whether the resource needs pruning.
        requires_pruning: bool,
        /// Sync wave.
        sync_wave: i64,
        /// Whether deletion needs confirmation.
        requires_deletion_confirmation: bool,
    }
}

api_object! {
    /// One `status.conditions` entry.
    pub struct ApplicationCondition {
        /// Condition type (`ComparisonError`, ...).
        #[serde(rename = "type")]
        kind: String,
        /// Message.
        message: String,
        /// When the condition was first observed.
        last_transition_time: String,
    }
}

api_object! {
    /// `status.summary`.
    pub struct ApplicationSummary {
        /// External URLs of the app's resources.
        #[serde(rename = "externalURLs")]
        external_urls: Vec<String>,
        /// Container images used by the app.
        images: Vec<String>,
    }
}

api_object! {
    /// One `status.history` entry.
    pub struct RevisionHistory {
        /// Monotonic id.
        id: i64,
        /// Deployed revision.
        revision: String,
        /// Deployed revisions (multi-source).
        revisions: Vec<String>,
        /// Deployed source.
        source: ApplicationSource,
        /// Deployed sources.
        sources: Vec<ApplicationSource>,
        /// When the deployment finished.
        deployed_at: String,
        /// When the deployment started.
        deploy_started_at: String,
        /// Who initiated it.
        initiated_by: OperationInitiator,
    }
}

api_object! {
    /// A requested operation (top-level `operation`).
    pub struct Operation {
        /// Sync request.
        sync: SyncOperation,
        /// Who initiated the operation.
        initiated_by: OperationInitiator,
        /// Extra info.
        info: Vec<Info>,
        /// Retry strategy.
        retry: RetryStrategy,
    }
}

api_object! {
    /// `operation.sync`.
    pub struct SyncOperation {
        /// Revision to sync to.
        revision: String,
        /// Revisions (multi-source).
        revisions: Vec<String>,
        /// Prune resources.
        prune: bool,
        /// Dry run only.
        dry_run: bool,
        /// Apply or hook strategy (free form).
        sync_strategy: Value,
        /// Selective sync resource list.
        resources: Vec<SyncOperationResource>,
        /// Source override.
        source: ApplicationSource,
        /// Sources override.
        sources: Vec<ApplicationSource>,
        /// Sync options.
        sync_options: Vec<String>,
        /// Local manifests.
        manifests: Vec<String>,
        /// Number of self-heal attempts so far.
        auto_heal_attempts_count: i64,
    }
}

api_object! {
    /// A resource selected for a selective sync.
    pub struct SyncOperationResource {
        /// API group.
        group: String,
        /// Kind.
        kind: String,
        /// Name.
        name: String,
        /// Namespace.
        namespace: String,
    }
}

api_object! {
    /// Who initiated an operation.
    pub struct OperationInitiator {
        /// User name.
        username: String,
        /// Whether the controller initiated it.
        automated: bool,
    }
}

api_object! {
    /// `status.operationState`.
    pub struct OperationState {
        /// Copy of the operation.
        operation: Operation,
        /// Phase.
        phase: OperationPhase,
        /// Message.
        message: String,
        /// Result of the sync.
        sync_result: SyncOperationResult,
        /// Start time.
        started_at: String,
        /// Finish time.
        finished_at: String,
        /// Number of retries so far.
        retry_count: i64,
    }
}

api_object! {
    /// `status.operationState.syncResult`.
    pub struct SyncOperationResult {
        /// Per-resource results.
        resources: Vec<ResourceResult>,
        /// Synced revision.
        revision: String,
        /// Synced revisions.
        revisions: Vec<String>,
        /// Synced source.
        source: ApplicationSource,
        /// Synced sources.
        sources: Vec<ApplicationSource>,
        /// Managed namespace metadata used.
        managed_namespace_metadata: ManagedNamespaceMetadata,
    }
}

api_object! {
    /// One resource result of a sync.
    pub struct ResourceResult {
        /// API group.
        group: String,
        /// API version.
        version: String,
        /// Kind.
        kind: String,
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// `Synced` / `SyncFailed` / `Pruned` / `PruneSkipped`.
        status: ResultCode,
        /// Message.
        message: String,
        /// Hook type.
        hook_type: String,
        /// Hook phase.
        hook_phase: String,
        /// Sync phase.
        sync_phase: String,
        /// Images of the resource.
        images: Vec<String>,
    }
}

impl ApplicationSpec {
    /// The effective project name (`default` when empty or unset).
    pub fn project_name(&self) -> &str {
        match self.project.as_deref() {
            None | Some("") => "default",
            Some(p) => p,
        }
    }

    /// The effective sources: `sources` when non-empty, else `source`.
    pub fn effective_sources(&self) -> Vec<&ApplicationSource> {
        match &self.sources {
            Some(s) if !s.is_empty() => s.iter().collect(),
            _ => self.source.iter().collect(),
        }
    }

    /// Whether automated sync is enabled (`automated` present and `enabled` not false).
    pub fn auto_sync_enabled(&self) -> bool {
        self.automated().is_some_and(|a| a.enabled != Some(false))
    }

    /// The automated policy, if any.
    pub fn automated(&self) -> Option<&SyncPolicyAutomated> {
        self.sync_policy.as_ref().and_then(|p| p.automated.as_ref())
    }

    /// The effective history limit (default 10).
    pub fn history_limit(&self) -> usize {
        match self.revision_history_limit {
            Some(n) if n >= 0 => usize::try_from(n).unwrap_or(usize::MAX),
            _ => 10,
        }
    }

    /// Whether a sync option `Key=Value` is set (case-sensitive, as Argo).
    pub fn has_sync_option(&self, option: &str) -> bool {
        self.sync_policy
            .as_ref()
            .and_then(|p| p.sync_options.as_ref())
            .is_some_and(|o| o.iter().any(|x| x == option))
    }
}

impl ApplicationSource {
    /// The effective target revision (`HEAD` when empty).
    pub fn target_revision(&self) -> &str {
        match self.target_revision.as_deref() {
            None | Some("") => "HEAD",
            Some(r) => r,
        }
    }
}

impl Application {
    /// The spec, or an empty one.
    pub fn spec(&self) -> ApplicationSpec {
        self.spec.clone().unwrap_or_default()
    }

    /// The object name, or `""`.
    pub fn name(&self) -> &str {
        self.metadata
            .as_ref()
            .and_then(|m| m.name.as_deref())
            .unwrap_or("")
    }

    /// The object namespace, or `""`.
    pub fn namespace(&self) -> &str {
        self.metadata
            .as_ref()
            .and_then(|m| m.namespace.as_deref())
            .unwrap_or("")
    }
}
