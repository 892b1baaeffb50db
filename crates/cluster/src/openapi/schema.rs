//! OpenAPI v3 schema components for one group-version: every kind (and its list kind) with
//! `x-kubernetes-group-version-kind`, `type`, and the field structure fjord's built-in schema
//! table knows (struct fields, lists with their merge and list-type markers, maps). Kubernetes'
//! documentation prose (`description`) is not carried.

use std::collections::HashSet;
use std::sync::OnceLock;

use fjord_merge::{FieldInfo, ListType, PatchStrategy, Schema, TypeId};
use fjord_model::Gvk;
use serde_json::{json, Map, Value};

use crate::discovery::catalog;

/// The component holding `ObjectMeta`.
pub const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
/// The component holding `ListMeta`.
pub const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";

/// The reference server's component name of a kind: Go package path, reversed domain for CRDs.
pub fn component_name(group: &str, version: &str, kind: &str, custom: bool) -> String {
    if custom {
        let reversed: Vec<&str> = group.split('.').rev().collect();
        return format!("{}.{version}.{kind}", reversed.join("."));
    }
    match group {
        "" => format!("io.k8s.api.core.{version}.{kind}"),
        "apiextensions.k8s.io" => {
            format!("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.{version}.{kind}")
        }
        "apiregistration.k8s.io" => {
            format!("io.k8s.kube-aggregator.pkg.apis.apiregistration.{version}.{kind}")
        }
        g => {
            let package = g
                .strip_suffix(".k8s.io")
                .map_or(g, |p| p.split('.').next().unwrap_or(p));
            format!("io.k8s.api.{package}.{version}.{kind}")
        }
    }
}

fn reference(name: &str) -> Value {
    json!({"default": {}, "allOf": [{"$ref": format!("#/components/schemas/{name}")}]})
}

fn scalar(name: &str) -> Option<Value> {
    Some(match name {
        "string" => json!({"type": "string", "default": ""}),
        "int" => json!({"type": "integer", "format": "int32", "default": 0}),
        "bool" => json!({"type": "boolean", "default": false}),
        "number" => json!({"type": "number", "format": "double", "default": 0}),
        "quantity" | "intstr" => json!({"x-kubernetes-int-or-string": true}),
        "time" => json!({"type": "string", "format": "date-time"}),
        _ => return None,
    })
}

struct Builder<'a> {
    schema: &'a Schema,
    /// Types being expanded (a recursive type stops at its second occurrence).
    stack: HashSet<TypeId>,
}

impl Builder<'_> {
    fn object(&mut self, ty: TypeId) -> Value {
        let Some(def) = self.schema.type_def(ty) else {
            return json!({"type": "object"});
        };
        if def.name == "ObjectMeta" {
            return reference(OBJECT_META);
        }
        if let Some(value) = def.name.strip_prefix("{}") {
            let items = match def.additional.as_ref().and_then(|a| a.ty) {
                Some(t) => self.object(t),
                None => scalar(value).unwrap_or_else(|| json!({})),
            };
            return json!({"type": "object", "additionalProperties": items});
        }
        let mut out = json!({"type": "object"});
        if def.atomic {
            out["x-kubernetes-map-type"] = json!("atomic");
        }
        if !self.stack.insert(ty) {
            return out;
        }
        let mut names: Vec<&String> = def.fields.keys().collect();
        names.sort();
        let mut props = Map::new();
        for name in names {
            if let Some(f) = def.fields.get(name) {
                if let Some(v) = self.field(f) {
                    props.insert(name.clone(), v);
                }
            }
        }
        self.stack.remove(&ty);
        if !props.is_empty() {
            out["properties"] = Value::Object(props);
        }
        out
    }

    fn field(&mut self, f: &FieldInfo) -> Option<Value> {
        let elem = f.ty.map(|t| self.object(t));
        if !f.is_list {
            let mut v = elem?;
            if f.map_atomic && v.get("x-kubernetes-map-type").is_none() {
                v["x-kubernetes-map-type"] = json!("atomic");
            }
            return Some(v);
        }
        let mut v = json!({"type": "array"});
        if let Some(e) = elem {
            v["items"] = e;
        }
        match &f.list {
            ListType::Atomic => v["x-kubernetes-list-type"] = json!("atomic"),
            ListType::Set => v["x-kubernetes-list-type"] = json!("set"),
            ListType::Map { keys, .. } => {
                v["x-kubernetes-list-type"] = json!("map");
                v["x-kubernetes-list-map-keys"] = json!(keys);
            }
        }
        let strategy = match f.smp.strategy {
            PatchStrategy::Replace => None,
            PatchStrategy::Merge => Some("merge"),
            PatchStrategy::RetainKeys => Some("retainKeys"),
            PatchStrategy::MergeRetainKeys => Some("merge,retainKeys"),
        };
        if let Some(s) = strategy {
            v["x-kubernetes-patch-strategy"] = json!(s);
        }
        if let Some(k) = &f.smp.merge_key {
            v["x-kubernetes-patch-merge-key"] = json!(k);
        }
        Some(v)
    }
}

fn with_gvk(mut body: Value, group: &str, version: &str, kind: &str) -> Value {
    body["type"] = json!("object");
    body["x-kubernetes-group-version-kind"] =
        json!([{"group": group, "kind": kind, "version": version}]);
    let props = body
        .as_object_mut()
        .map(|o| o.entry("properties").or_insert_with(|| json!({})));
    if let Some(Value::Object(p)) = props {
        p.insert("apiVersion".into(), json!({"type": "string"}));
        p.insert("kind".into(), json!({"type": "string"}));
    }
    body
}

fn kind_body(group: &str, version: &str, kind: &str) -> Value {
    let schema = Schema::builtin();
    let body = schema
        .root(&Gvk::new(group, version, kind))
        .map(|ty| {
            Builder {
                schema,
                stack: HashSet::new(),
            }
            .object(ty)
        })
        .unwrap_or_else(
            || json!({"type": "object", "properties": {"metadata": reference(OBJECT_META)}}),
        );
    with_gvk(body, group, version, kind)
}

/// The list kind of `kind` (`items` of references to the kind's component).
pub fn list_body(group: &str, version: &str, kind: &str, item_component: &str) -> Value {
    let body = json!({"required": ["items"], "properties": {
        "items": {"type": "array", "items": reference(item_component)},
        "metadata": reference(LIST_META),
    }});
    with_gvk(body, group, version, &format!("{kind}List"))
}

fn meta_components(out: &mut Map<String, Value>) {
    let s = || json!({"type": "string"});
    let map =
        || json!({"type": "object", "additionalProperties": {"type": "string", "default": ""}});
    out.insert(
        OBJECT_META.into(),
        json!({"type": "object", "properties": {
            "annotations": map(), "labels": map(),
            "creationTimestamp": {"type": "string", "format": "date-time"},
            "deletionGracePeriodSeconds": {"type": "integer", "format": "int64"},
            "deletionTimestamp": {"type": "string", "format": "date-time"},
            "finalizers": {"type": "array", "items": {"type": "string", "default": ""},
                "x-kubernetes-list-type": "set", "x-kubernetes-patch-strategy": "merge"},
            "generateName": s(), "generation": {"type": "integer", "format": "int64"},
            "managedFields": {"type": "array", "items": {"type": "object"}, "x-kubernetes-list-type": "atomic"},
            "name": s(), "namespace": s(),
            "ownerReferences": {"type": "array", "items": {"type": "object", "x-kubernetes-map-type": "atomic"},
                "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["uid"],
                "x-kubernetes-patch-merge-key": "uid", "x-kubernetes-patch-strategy": "merge"},
            "resourceVersion": s(), "selfLink": s(), "uid": s(),
        }}),
    );
    out.insert(
        LIST_META.into(),
        json!({"type": "object", "properties": {
            "continue": s(), "remainingItemCount": {"type": "integer", "format": "int64"},
            "resourceVersion": s(), "selfLink": s(),
        }}),
    );
}

/// One built-in group-version's components: ((group, version), schemas).
type Components = ((String, String), Map<String, Value>);

/// The components of a built-in group-version's document (empty when it is not built in),
/// built once per group-version.
pub fn builtin_components(group: &str, version: &str) -> Map<String, Value> {
    static CACHE: OnceLock<Vec<Components>> = OnceLock::new();
    let all = CACHE.get_or_init(|| {
        catalog::builtin()
            .iter()
            .map(|gv| {
                let key = (gv.group.clone(), gv.version.clone());
                (key, build_components(&gv.group, &gv.version))
            })
            .collect()
    });
    all.iter()
        .find(|((g, v), _)| g == group && v == version)
        .map(|(_, c)| c.clone())
        .unwrap_or_default()
}

fn build_components(group: &str, version: &str) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(gv) = catalog::find(group, version) else {
        return out;
    };
    meta_components(&mut out);
    for e in gv.entries.iter().filter(|e| e.split_sub().is_none()) {
        let name = component_name(group, version, &e.kind, false);
        if e.verbs.iter().any(|v| v == "list") {
            out.insert(
                format!("{name}List"),
                list_body(group, version, &e.kind, &name),
            );
        }
        out.insert(name, kind_body(group, version, &e.kind));
    }
    out
}

/// The components of a CRD-defined kind: its published schema plus the kind's markers.
pub fn custom_components(
    group: &str,
    version: &str,
    kind: &str,
    schema: Option<&Value>,
    out: &mut Map<String, Value>,
) {
    meta_components(out);
    let name = component_name(group, version, kind, true);
    let mut body = schema.cloned().unwrap_or_else(|| json!({}));
    if let Some(Value::Object(p)) = body.get_mut("properties") {
        p.insert("metadata".into(), reference(OBJECT_META));
    } else {
        body["properties"] = json!({"metadata": reference(OBJECT_META)});
    }
    out.insert(
        format!("{name}List"),
        list_body(group, version, kind, &name),
    );
    out.insert(name, with_gvk(body, group, version, kind));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_reference_packages() {
        assert_eq!(
            component_name("", "v1", "ConfigMap", false),
            "io.k8s.api.core.v1.ConfigMap"
        );
        assert_eq!(
            component_name("rbac.authorization.k8s.io", "v1", "Role", false),
            "io.k8s.api.rbac.v1.Role"
        );
        assert_eq!(
            component_name("diff.example.com", "v1", "Widget", true),
            "com.example.diff.v1.Widget"
        );
    }

    #[test]
    fn kinds_carry_gvk_type_and_known_structure() {
        let c = builtin_components("apps", "v1");
        let dep = &c["io.k8s.api.apps.v1.Deployment"];
        assert_eq!(dep["type"], "object");
        assert_eq!(
            dep["x-kubernetes-group-version-kind"][0]["kind"],
            "Deployment"
        );
        assert_eq!(
            c["io.k8s.api.apps.v1.DeploymentList"]["x-kubernetes-group-version-kind"][0]["kind"],
            "DeploymentList"
        );
        let core = builtin_components("", "v1");
        assert_eq!(
            core["io.k8s.api.core.v1.ConfigMap"]["properties"]["data"],
            json!({"type": "object", "additionalProperties": {"type": "string", "default": ""}})
        );
        let ports =
            &core["io.k8s.api.core.v1.Service"]["properties"]["spec"]["properties"]["ports"];
        assert_eq!(
            ports["x-kubernetes-list-map-keys"],
            json!(["port", "protocol"])
        );
        assert!(builtin_components("nope", "v1").is_empty());
    }
}
