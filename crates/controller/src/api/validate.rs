//! Spec validation producing `InvalidSpecError` condition messages worded as Argo CD's.

use super::application::{ApplicationSource, ApplicationSpec};
use super::project::{AppProject, Cluster};

/// Message when neither `server` nor `name` is set (Argo's `errDestinationMissing`).
pub const DESTINATION_MISSING: &str = "Destination server missing from app spec";

fn source_complete(s: &ApplicationSource) -> bool {
    let set = |v: &Option<String>| v.as_deref().is_some_and(|x| !x.is_empty());
    set(&s.repo_url) && (set(&s.path) || set(&s.chart) || set(&s.reference))
}

/// Validates an Application spec against its project (if found) and returns the
/// `InvalidSpecError` messages; an empty vector means the spec is valid.
/// `project` is `None` when the named AppProject does not exist.
pub fn validate(spec: &ApplicationSpec, project: Option<&AppProject>) -> Vec<String> {
    validate_resolved(spec, project, None)
}

/// [`validate`] for a destination given by name whose cluster is known: the project's
/// destinations are checked against `resolved_server`, as Argo CD resolves the name first.
pub fn validate_resolved(
    spec: &ApplicationSpec,
    project: Option<&AppProject>,
    resolved_server: Option<&str>,
) -> Vec<String> {
    let cluster = resolved_server.map(|server| Cluster { server, name: "" });
    validate_on(spec, project, cluster)
}

/// [`validate`] with the destination's cluster resolved: the project's destinations are
/// checked against its server and its name, as Argo CD checks the cluster it resolved.
pub fn validate_on(
    spec: &ApplicationSpec,
    project: Option<&AppProject>,
    cluster: Option<Cluster<'_>>,
) -> Vec<String> {
    let mut errs = Vec::new();
    let proj_name = spec.project_name();
    let sources = spec.effective_sources();
    if sources.is_empty() {
        errs.push("spec.source or spec.sources must be specified".to_string());
    }
    for s in &sources {
        if !source_complete(s) {
            errs.push(
                "spec.source.repoURL and either spec.source.path, spec.source.chart, or spec.source.ref are required"
                    .to_string(),
            );
        }
        if [
            s.helm.is_some(),
            s.kustomize.is_some(),
            s.directory.is_some(),
            s.plugin.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count()
            > 1
        {
            errs.push("multiple application sources defined".to_string());
        }
    }
    let dest = spec.destination.clone().unwrap_or_default();
    let server = dest.server.as_deref().unwrap_or("");
    let name = dest.name.as_deref().unwrap_or("");
    if server.is_empty() && name.is_empty() {
        errs.push(DESTINATION_MISSING.to_string());
    } else if !server.is_empty() && !name.is_empty() {
        errs.push(format!(
            "application destination can't have both name and server defined: {name} {server}"
        ));
    }
    if let Some(retry) = spec.sync_policy.as_ref().and_then(|p| p.retry.as_ref()) {
        if let Err(e) = retry.backoff_for(0) {
            errs.push(fjord_model::chain(&e));
        }
    }
    let Some(project) = project else {
        errs.push(format!(
            "Application referencing project {proj_name} which does not exist"
        ));
        return errs;
    };
    let pspec = project.spec.clone().unwrap_or_default();
    for s in &sources {
        if source_complete(s) && !pspec.is_source_permitted(s) {
            errs.push(format!(
                "application repo {} is not permitted in project '{proj_name}'",
                fjord_source::redact_url(s.repo_url.as_deref().unwrap_or(""))
            ));
        }
    }
    let mut checked = dest.clone();
    if let Some(c) = cluster {
        let set = |v: &str| Some(v.to_string()).filter(|v| !v.is_empty());
        checked.server = set(c.server).or(checked.server);
        checked.name = set(c.name).or(checked.name);
    }
    if (!server.is_empty() || !name.is_empty()) && !pspec.is_destination_permitted(&checked) {
        errs.push(format!(
            "application destination server '{server}' and namespace '{}' do not match any of the allowed destinations in project '{proj_name}'",
            dest.namespace.as_deref().unwrap_or("")
        ));
    }
    errs
}

/// [`validate`] as `InvalidSpecError` conditions (timestamps left for
/// [`crate::status::set_conditions`]).
pub fn invalid_spec_conditions(
    spec: &ApplicationSpec,
    project: Option<&AppProject>,
) -> Vec<super::application::ApplicationCondition> {
    validate(spec, project)
        .into_iter()
        .map(|m| crate::status::condition(crate::status::condition::INVALID_SPEC_ERROR, m))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::project::default_project;
    use serde_json::json;

    fn spec(v: serde_json::Value) -> ApplicationSpec {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn valid_with_default_project() {
        let p: AppProject = serde_json::from_value(default_project("argocd")).unwrap();
        let s = spec(json!({"source": {"repoURL": "https://g/x", "path": "."},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "a"}}));
        assert!(validate(&s, Some(&p)).is_empty());
    }

    #[test]
    fn destination_by_name_is_checked_by_its_resolved_server() {
        let p: AppProject = serde_json::from_value(default_project("argocd")).unwrap();
        let s = spec(json!({"source": {"repoURL": "https://g/x", "path": "."},
            "destination": {"name": "remote", "namespace": "a"}}));
        assert_eq!(validate(&s, Some(&p)).len(), 1, "unresolved: not permitted");
        assert!(validate_resolved(&s, Some(&p), Some("https://10.0.0.1:6443")).is_empty());
    }

    #[test]
    fn error_messages() {
        let s = spec(
            json!({"project": "team", "source": {"repoURL": "https://g/x"}, "destination": {}}),
        );
        assert_eq!(
            validate(&s, None),
            vec![
                "spec.source.repoURL and either spec.source.path, spec.source.chart, or spec.source.ref are required".to_string(),
                DESTINATION_MISSING.to_string(),
                "Application referencing project team which does not exist".to_string(),
            ]
        );
        let conds = invalid_spec_conditions(&s, None);
        assert_eq!(conds.len(), 3);
        assert_eq!(conds[0].kind.as_deref(), Some("InvalidSpecError"));
        let both = spec(
            json!({"source": {"repoURL": "r", "path": "p"}, "destination": {"server": "s", "name": "n"}}),
        );
        assert!(validate(&both, None)[0]
            .starts_with("application destination can't have both name and server defined: n s"));
        let p: AppProject =
            serde_json::from_value(json!({"spec": {"sourceRepos": ["https://ok/*"],
            "destinations": [{"server": "*", "namespace": "web"}]}}))
            .unwrap();
        let s = spec(json!({"source": {"repoURL": "https://bad/x", "path": "."},
            "destination": {"server": "https://k", "namespace": "db"}}));
        assert_eq!(
            validate(&s, Some(&p)),
            vec![
                "application repo https://bad/x is not permitted in project 'default'".to_string(),
                "application destination server 'https://k' and namespace 'db' do not match any of the allowed destinations in project 'default'".to_string(),
            ]
        );
    }

    #[test]
    fn destinations_are_checked_on_the_resolved_cluster_name_too() {
        let p: AppProject = serde_json::from_value(json!({"metadata": {"name": "p"},
            "spec": {"sourceRepos": ["*"], "destinations": [
                {"server": "*", "namespace": "*"}, {"name": "!prod", "namespace": "*"}]}}))
        .unwrap();
        let s = spec(
            json!({"project": "p", "source": {"repoURL": "https://g/x", "path": "."},
            "destination": {"server": "https://k", "namespace": "a"}}),
        );
        let on = |name| {
            validate_on(
                &s,
                Some(&p),
                Some(Cluster {
                    server: "https://k",
                    name,
                }),
            )
        };
        assert!(on("in-cluster").is_empty(), "{:?}", on("in-cluster"));
        assert_eq!(on("prod").len(), 1, "the `!prod` entry denies cluster prod");
    }
}
