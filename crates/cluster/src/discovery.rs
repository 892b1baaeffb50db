//! `/version` and API discovery, legacy (`APIVersions`, `APIGroupList`, `APIResourceList`) and
//! aggregated (`apidiscovery.k8s.io/v2` `APIGroupDiscoveryList`).

use serde_json::{json, Value};

pub mod catalog;

use catalog::Entry;

use crate::errors::ApiError;
use crate::registry::Registry;
use crate::request::{Reply, Target};
use fjord_model::ResourceType;

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

/// The verbs of a CRD-defined resource, in the reference server's order.
const CRD_VERBS: &[&str] = &[
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "create",
    "update",
    "watch",
];

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Catalog entries for a CRD-defined resource: the resource, then `status` and `scale`.
fn crd_entries(reg: &Registry, rt: &ResourceType) -> Vec<Entry> {
    let own = Some((rt.group.clone(), rt.version.clone()));
    let storage = reg
        .crd_storage_version(&rt.group, &rt.plural)
        .map(|v| (rt.group.clone(), v.to_string()));
    let mut out = vec![Entry {
        name: rt.plural.clone(),
        singular: rt.singular.clone(),
        kind: rt.kind.clone(),
        namespaced: rt.namespaced,
        verbs: strings(CRD_VERBS),
        short_names: rt.short_names.clone(),
        categories: rt.categories.clone(),
        storage,
        response_gv: own.clone(),
    }];
    let sub = |name: &str, kind: &str, response_gv| Entry {
        name: format!("{}/{name}", rt.plural),
        singular: String::new(),
        kind: kind.to_string(),
        namespaced: rt.namespaced,
        verbs: strings(&["get", "patch", "update"]),
        short_names: Vec::new(),
        categories: Vec::new(),
        storage: None,
        response_gv,
    };
    if rt.has_scale {
        out.push(sub(
            "scale",
            "Scale",
            Some(("autoscaling".to_string(), "v1".to_string())),
        ));
    }
    if rt.has_status {
        out.push(sub("status", &rt.kind, own));
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Every entry of one group-version: the built-in catalog's, then CRD-defined ones.
fn entries(reg: &Registry, group: &str, version: &str) -> Vec<Entry> {
    let mut out: Vec<Entry> = catalog::find(group, version)
        .map(|gv| gv.entries.clone())
        .unwrap_or_default();
    for rt in reg.custom_resources(group, version) {
        out.extend(crd_entries(reg, &rt));
    }
    out
}

fn legacy_entry(e: &Entry, own: &(String, String)) -> Value {
    let mut r = json!({
        "name": e.name, "singularName": e.singular, "namespaced": e.namespaced, "kind": e.kind, "verbs": e.verbs,
    });
    if !e.short_names.is_empty() {
        r["shortNames"] = json!(e.short_names);
    }
    if !e.categories.is_empty() {
        r["categories"] = json!(e.categories);
    }
    if let Some(h) = e.storage_hash() {
        r["storageVersionHash"] = json!(h);
    }
    if let Some((g, v)) = e.response_gv.as_ref().filter(|gv| *gv != own) {
        if !g.is_empty() {
            r["group"] = json!(g);
        }
        r["version"] = json!(v);
    }
    r
}

fn response_kind(e: &Entry) -> Value {
    let (g, v) = e.response_gv.clone().unwrap_or_default();
    json!({"group": g, "version": v, "kind": e.kind})
}

fn aggregated_resources(list: &[Entry]) -> Vec<Value> {
    let mut out: Vec<(String, Value)> = Vec::new();
    for e in list {
        if let Some((parent, sub)) = e.split_sub() {
            let Some((_, p)) = out.iter_mut().find(|(n, _)| n == parent) else {
                continue;
            };
            let s = json!({"subresource": sub, "responseKind": response_kind(e), "verbs": e.verbs});
            match p["subresources"].as_array_mut() {
                Some(subs) => subs.push(s),
                None => p["subresources"] = json!([s]),
            }
            continue;
        }
        let mut r = json!({
            "resource": e.name,
            "responseKind": response_kind(e),
            "scope": if e.namespaced { "Namespaced" } else { "Cluster" },
            "singularResource": e.singular,
            "verbs": e.verbs,
        });
        if !e.short_names.is_empty() {
            r["shortNames"] = json!(e.short_names);
        }
        if !e.categories.is_empty() {
            r["categories"] = json!(e.categories);
        }
        out.push((e.name.clone(), r));
    }
    out.into_iter().map(|(_, r)| r).collect()
}

fn aggregated_group(reg: &Registry, group: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| {
            let res = aggregated_resources(&entries(reg, group, v));
            json!({"version": v, "resources": res, "freshness": "Current"})
        })
        .collect();
    let metadata = if group.is_empty() {
        json!({})
    } else {
        json!({"name": group})
    };
    json!({"metadata": metadata, "versions": vs})
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

fn resource_list(reg: &Registry, g: &str, v: &str) -> Value {
    let own = (g.to_string(), v.to_string());
    let resources: Vec<Value> = entries(reg, g, v)
        .iter()
        .map(|e| legacy_entry(e, &own))
        .collect();
    if g.is_empty() {
        json!({"kind": "APIResourceList", "groupVersion": v, "resources": resources})
    } else {
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": format!("{g}/{v}"), "resources": resources})
    }
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
            Ok(Reply::json(200, resource_list(reg, g, v)))
        }
        _ => Err(ApiError::no_route()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Target::GroupVersion;

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
        assert_eq!(dep["subresources"][0]["subresource"], "scale");
        assert_eq!(dep["responseKind"]["group"], "");
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

    #[test]
    fn crd_resources_follow_the_reference_layout() {
        let crd = json!({"spec": {"group": "diff.example.com", "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}, "scale": {}}}]},
            "status": {"conditions": [{"type": "Established", "status": "True"}]}});
        let mut reg = Registry::new();
        reg.set_crds(std::iter::once(&crd));
        let gv = GroupVersion("diff.example.com".into(), "v1".into());
        let list = answer(&reg, &gv, "", "x").expect("served");
        let res = &list.body["resources"];
        assert_eq!(res[0]["verbs"][5], "create");
        assert_eq!(res[0]["storageVersionHash"], "ttSe6q+QNj8=");
        assert_eq!(res[1]["name"], "widgets/scale");
        assert_eq!(res[1]["group"], "autoscaling");
        assert!(res[2].get("group").is_none());
        let agg = answer(&reg, &Target::Apis, AGGREGATED, "x").expect("ok");
        let items = agg.body["items"].as_array().expect("items");
        assert_eq!(items[0]["metadata"]["name"], "apiregistration.k8s.io");
        let last = items.last().expect("crd group");
        let widget = &last["versions"][0]["resources"][0];
        assert_eq!(widget["responseKind"]["group"], "diff.example.com");
        assert_eq!(widget["subresources"][1]["subresource"], "status");
    }
}
