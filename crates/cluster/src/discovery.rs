//! `/version` and API discovery, legacy (`APIVersions`, `APIGroupList`, `APIResourceList`) and
//! aggregated (`apidiscovery.k8s.io/v2` `APIGroupDiscoveryList`).

use serde_json::{json, Value};

use crate::errors::ApiError;
use crate::kinds::{ResourceType, ALL_VERBS};
use crate::registry::Registry;
use crate::request::{Reply, Target};

/// The aggregated discovery media type (the *response* Content-Type decides how clients parse it).
pub const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// The `/version` body: the release of the reference kube-apiserver (v1.34.2), so that kubectl
/// (and the gcloud kubectl dispatcher, which picks its binary from it) treats both alike.
pub fn version() -> Value {
    json!({
        "major": "1", "minor": "34", "gitVersion": "v1.34.2", "gitCommit": "fjord", "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23.8", "compiler": "gc", "platform": "linux/amd64",
    })
}

fn subresources(rt: &ResourceType) -> Vec<(&'static str, Value, Vec<&'static str>)> {
    let own = json!({"group": rt.group, "version": rt.version, "kind": rt.kind});
    let mut out = Vec::new();
    if rt.has_status {
        out.push(("status", own.clone(), vec!["get", "patch", "update"]));
    }
    if rt.has_scale {
        out.push((
            "scale",
            json!({"group": "autoscaling", "version": "v1", "kind": "Scale"}),
            vec!["get", "patch", "update"],
        ));
    }
    if rt.group.is_empty() && rt.plural == "namespaces" {
        out.push(("finalize", own, vec!["update"]));
    }
    out
}

fn legacy_resources(rt: &ResourceType) -> Vec<Value> {
    let mut main = json!({
        "name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced, "kind": rt.kind, "verbs": ALL_VERBS,
    });
    if !rt.short_names.is_empty() {
        main["shortNames"] = json!(rt.short_names);
    }
    if !rt.categories.is_empty() {
        main["categories"] = json!(rt.categories);
    }
    let mut out = vec![main];
    for (sub, kind, verbs) in subresources(rt) {
        let mut e = json!({"name": format!("{}/{sub}", rt.plural), "singularName": "", "namespaced": rt.namespaced, "kind": kind["kind"], "verbs": verbs});
        if sub == "scale" {
            e["group"] = json!("autoscaling");
            e["version"] = json!("v1");
        }
        out.push(e);
    }
    out
}

fn aggregated_resource(rt: &ResourceType) -> Value {
    let mut r = json!({
        "resource": rt.plural,
        "responseKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
        "scope": if rt.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": rt.singular,
        "verbs": ALL_VERBS,
    });
    if !rt.short_names.is_empty() {
        r["shortNames"] = json!(rt.short_names);
    }
    if !rt.categories.is_empty() {
        r["categories"] = json!(rt.categories);
    }
    let subs: Vec<Value> = subresources(rt)
        .into_iter()
        .map(|(s, kind, verbs)| json!({"subresource": s, "responseKind": kind, "verbs": verbs}))
        .collect();
    if !subs.is_empty() {
        r["subresources"] = Value::Array(subs);
    }
    r
}

fn aggregated_group(reg: &Registry, group: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| {
            let res: Vec<Value> = reg
                .resources(group, v)
                .iter()
                .map(|r| aggregated_resource(r))
                .collect();
            json!({"version": v, "resources": res, "freshness": "Current"})
        })
        .collect();
    json!({"metadata": {"name": group, "creationTimestamp": null}, "versions": vs})
}

fn aggregated(items: Vec<Value>) -> Reply {
    Reply {
        status: 200,
        body: json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items}),
        content_type: AGGREGATED.into(),
        headers: Vec::new(),
        raw: None,
    }
}

fn group_entry(group: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    json!({"name": group, "versions": vs, "preferredVersion": vs.first().cloned().unwrap_or(Value::Null)})
}

/// Answers a discovery request.
pub fn answer(
    reg: &Registry,
    target: &Target,
    accept: &str,
    address: &str,
) -> Result<Reply, ApiError> {
    let wants_aggregated =
        accept.contains("g=apidiscovery.k8s.io") && accept.contains("as=APIGroupDiscoveryList");
    match target {
        Target::Api if wants_aggregated => Ok(aggregated(vec![aggregated_group(
            reg,
            "",
            &["v1".to_string()],
        )])),
        Target::Api => Ok(Reply::json(
            200,
            json!({
                "kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
            }),
        )),
        Target::Apis if wants_aggregated => Ok(aggregated(
            reg.groups()
                .iter()
                .map(|(g, vs)| aggregated_group(reg, g, vs))
                .collect(),
        )),
        Target::Apis => {
            let groups: Vec<Value> = reg
                .groups()
                .iter()
                .map(|(g, vs)| group_entry(g, vs))
                .collect();
            Ok(Reply::json(
                200,
                json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
            ))
        }
        Target::Group(g) => {
            let groups = reg.groups();
            let (_, vs) = groups
                .iter()
                .find(|(name, _)| name == g)
                .ok_or_else(ApiError::no_route)?;
            let mut body = group_entry(g, vs);
            body["kind"] = json!("APIGroup");
            body["apiVersion"] = json!("v1");
            Ok(Reply::json(200, body))
        }
        Target::GroupVersion(g, v) => {
            if !reg.serves_group_version(g, v) {
                return Err(ApiError::no_route());
            }
            let gv = if g.is_empty() {
                v.clone()
            } else {
                format!("{g}/{v}")
            };
            let resources: Vec<Value> = reg
                .resources(g, v)
                .iter()
                .flat_map(|r| legacy_resources(r))
                .collect();
            Ok(Reply::json(
                200,
                json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
            ))
        }
        _ => Err(ApiError::no_route()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregated_when_asked() {
        let reg = Registry::new();
        let r = answer(
            &reg,
            &Target::Apis,
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
            "x",
        )
        .expect("ok");
        assert_eq!(r.content_type, AGGREGATED);
        let apps = r.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|i| i["metadata"]["name"] == "apps")
            .cloned()
            .expect("apps");
        let dep = apps["versions"][0]["resources"]
            .as_array()
            .expect("res")
            .iter()
            .find(|r| r["resource"] == "deployments")
            .cloned()
            .expect("deploy");
        assert_eq!(dep["scope"], "Namespaced");
        assert_eq!(dep["subresources"][1]["subresource"], "scale");
        let legacy = answer(&reg, &Target::Apis, "application/json", "x").expect("ok");
        assert_eq!(legacy.body["kind"], "APIGroupList");
    }

    #[test]
    fn legacy_resource_list_has_subresources() {
        let reg = Registry::new();
        let r = answer(
            &reg,
            &Target::GroupVersion(String::new(), "v1".into()),
            "",
            "x",
        )
        .expect("ok");
        let names: Vec<&str> = r.body["resources"]
            .as_array()
            .expect("r")
            .iter()
            .filter_map(|x| x["name"].as_str())
            .collect();
        assert!(names.contains(&"namespaces/finalize") && names.contains(&"pods/status"));
        assert!(answer(
            &reg,
            &Target::GroupVersion("nope".into(), "v1".into()),
            "",
            "x"
        )
        .is_err());
    }
}
