//! Every type a server serves, in two requests: aggregated discovery (`apidiscovery.k8s.io/v2`,
//! what kubectl asks first) answers `/api` and `/apis` with all groups, versions and resources.
//! A server without it gets legacy discovery (one request per group version).

use kube::discovery::{verbs, Scope};
use serde::Deserialize;

use crate::objects::null_as_default;
use crate::{Client, ClientError, ResourceType};

/// The `Accept` header of an aggregated discovery request (the one kubectl sends).
const AGGREGATED: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";

#[derive(Deserialize)]
struct GroupList {
    kind: String,
    #[serde(default, deserialize_with = "null_as_default")]
    items: Vec<Group>,
}

#[derive(Deserialize)]
struct Group {
    #[serde(default)]
    metadata: GroupMeta,
    #[serde(default, deserialize_with = "null_as_default")]
    versions: Vec<Version>,
}

#[derive(Deserialize, Default)]
struct GroupMeta {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct Version {
    version: String,
    #[serde(default, deserialize_with = "null_as_default")]
    resources: Vec<Resource>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Resource {
    resource: String,
    response_kind: Option<Kind>,
    #[serde(default)]
    scope: String,
    #[serde(default, deserialize_with = "null_as_default")]
    verbs: Vec<String>,
}

#[derive(Deserialize)]
struct Kind {
    kind: String,
}

/// The listable and deletable types of aggregated discovery answers: per group, each kind at
/// the first (preferred) version that serves it. `None` when an answer is not aggregated.
fn from_aggregated(answers: &[&str]) -> Option<Vec<ResourceType>> {
    let mut out = Vec::new();
    for text in answers {
        let list: GroupList = serde_json::from_str(text).ok()?;
        if list.kind != "APIGroupDiscoveryList" {
            return None;
        }
        for group in list.items {
            let mut kinds: Vec<String> = Vec::new();
            for version in &group.versions {
                for r in &version.resources {
                    let Some(kind) = &r.response_kind else {
                        continue;
                    };
                    let can = |verb: &str| r.verbs.iter().any(|v| v == verb);
                    if kinds.contains(&kind.kind) || !can(verbs::LIST) || !can(verbs::DELETE) {
                        continue;
                    }
                    kinds.push(kind.kind.clone());
                    out.push(ResourceType::new(
                        &group.metadata.name,
                        &version.version,
                        &kind.kind,
                        &r.resource,
                        r.scope == "Namespaced",
                    ));
                }
            }
        }
    }
    Some(out)
}

impl Client {
    /// Every listable and deletable type the server serves (preferred versions only).
    pub async fn resource_types(&self) -> Result<Vec<ResourceType>, ClientError> {
        let discover_err = |source| ClientError::Discover {
            api_version: "*".into(),
            kind: "*".into(),
            source: crate::Foreign::new(source),
        };
        let get = |path: &'static str| async move {
            let req = http::Request::get(path)
                .header(http::header::ACCEPT, AGGREGATED)
                .body(Vec::new())
                .map_err(|e| {
                    kube::Error::BuildRequest(kube::core::request::Error::BuildRequest(e))
                })?;
            self.inner.request_text(req).await
        };
        let (core, groups) = futures::join!(
            self.retry.run(|| get("/api")),
            self.retry.run(|| get("/apis"))
        );
        let (core, groups) = (core.map_err(discover_err)?, groups.map_err(discover_err)?);
        if let Some(types) = from_aggregated(&[&core, &groups]) {
            return Ok(types);
        }
        let disc = self
            .retry
            .run(|| kube::Discovery::new(self.inner.clone()).run())
            .await
            .map_err(discover_err)?;
        let mut out = Vec::new();
        for group in disc.groups() {
            for (ar, caps) in group.recommended_resources() {
                if !caps.supports_operation(verbs::LIST) || !caps.supports_operation(verbs::DELETE)
                {
                    continue;
                }
                out.push(ResourceType::new(
                    &ar.group,
                    &ar.version,
                    &ar.kind,
                    &ar.plural,
                    caps.scope == Scope::Namespaced,
                ));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregated_answers_give_preferred_listable_types() {
        let core = r#"{"kind":"APIGroupDiscoveryList","apiVersion":"apidiscovery.k8s.io/v2","items":[
          {"metadata":{"name":""},"versions":[{"version":"v1","resources":[
            {"resource":"configmaps","responseKind":{"group":"","version":"v1","kind":"ConfigMap"},
             "scope":"Namespaced","verbs":["create","delete","get","list","patch","update","watch"]},
            {"resource":"bindings","responseKind":{"group":"","version":"v1","kind":"Binding"},
             "scope":"Namespaced","verbs":["create"]},
            {"resource":"namespaces","responseKind":{"group":"","version":"v1","kind":"Namespace"},
             "scope":"Cluster","verbs":["create","delete","get","list"]}]}]}]}"#;
        let groups = r#"{"kind":"APIGroupDiscoveryList","apiVersion":"apidiscovery.k8s.io/v2","items":[
          {"metadata":{"name":"autoscaling"},"versions":[
            {"version":"v2","resources":[{"resource":"horizontalpodautoscalers",
              "responseKind":{"group":"autoscaling","version":"v2","kind":"HorizontalPodAutoscaler"},
              "scope":"Namespaced","verbs":["delete","list"]}]},
            {"version":"v1","resources":[{"resource":"horizontalpodautoscalers",
              "responseKind":{"group":"autoscaling","version":"v1","kind":"HorizontalPodAutoscaler"},
              "scope":"Namespaced","verbs":["delete","list"]}]}]}]}"#;
        let types = from_aggregated(&[core, groups]).expect("aggregated");
        let names: Vec<String> = types
            .iter()
            .map(|t| {
                format!(
                    "{}/{} {} {} {}",
                    t.group, t.version, t.kind, t.plural, t.namespaced
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                "/v1 ConfigMap configmaps true",
                "/v1 Namespace namespaces false",
                "autoscaling/v2 HorizontalPodAutoscaler horizontalpodautoscalers true",
            ]
        );
    }

    #[test]
    fn null_lists_in_aggregated_answers_are_empty() {
        // Go nil slices: a group version with no resources, a resource with no verbs.
        let groups = r#"{"kind":"APIGroupDiscoveryList","apiVersion":"apidiscovery.k8s.io/v2","items":[
          {"metadata":{"name":"empty.example.com"},"versions":[{"version":"v1","resources":null}]},
          {"metadata":{"name":"apps"},"versions":[{"version":"v1","resources":[
            {"resource":"deployments","responseKind":{"group":"apps","version":"v1","kind":"Deployment"},
             "scope":"Namespaced","verbs":["delete","list"]},
            {"resource":"odd","responseKind":{"group":"apps","version":"v1","kind":"Odd"},
             "scope":"Namespaced","verbs":null}]}]},
          {"metadata":{"name":"none.example.com"},"versions":null}]}"#;
        let empty = r#"{"kind":"APIGroupDiscoveryList","apiVersion":"apidiscovery.k8s.io/v2","items":null}"#;
        let types = from_aggregated(&[empty, groups]).expect("aggregated");
        let kinds: Vec<&str> = types.iter().map(|t| t.kind.as_str()).collect();
        assert_eq!(kinds, ["Deployment"]);
    }

    #[test]
    fn legacy_answers_are_not_taken_for_aggregated_ones() {
        let legacy = r#"{"kind":"APIGroupList","apiVersion":"v1","groups":[]}"#;
        assert!(from_aggregated(&[legacy]).is_none());
        assert!(from_aggregated(&["not json"]).is_none());
    }
}
