//! Unknown fields of built-in objects at every depth, as Go's strict decoder finds them, and
//! what `fieldValidation` makes of them ([`check`]: Strict refuses, Warn warns, both Warn and
//! Ignore drop them).
//!
//! The structure comes from fjord-merge's built-in schema table (which field holds which type);
//! the complete field set of each type from `known_fields.txt`. A field is unknown only when
//! its type's complete set is known and lacks it: a type missing from either table is unknown
//! structure and kept whole.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use fjord_merge::{Schema, TypeId};
use fjord_model::Gvk;
use serde_json::Value;

use crate::errors::ApiError;
use fjord_model::ResourceType;

/// Every field of each built-in type, by the schema table's type name.
fn known_fields() -> &'static HashMap<&'static str, HashSet<&'static str>> {
    static KNOWN: OnceLock<HashMap<&'static str, HashSet<&'static str>>> = OnceLock::new();
    KNOWN.get_or_init(|| parse(include_str!("known_fields.txt")))
}

fn parse(text: &str) -> HashMap<&str, HashSet<&str>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            Some((words.next()?, words.collect()))
        })
        .collect()
}

/// Whether the kind's root type is in the schema table (its unknown fields can be found).
pub(crate) fn covers(group: &str, version: &str, kind: &str) -> bool {
    root(Schema::builtin(), group, version, kind).is_some()
}

fn root(schema: &Schema, group: &str, version: &str, kind: &str) -> Option<TypeId> {
    schema.root(&Gvk {
        group: group.to_string(),
        version: version.to_string(),
        kind: kind.to_string(),
    })
}

/// Removes the unknown fields of a built-in object and returns their paths
/// (`spec.template.spec.containers[0].bogus`) in document order. Nothing is removed when the
/// kind is not in the schema table.
pub(crate) fn prune(group: &str, version: &str, kind: &str, obj: &mut Value) -> Vec<String> {
    let schema = Schema::builtin();
    let mut found = Vec::new();
    if let Some(ty) = root(schema, group, version, kind) {
        Walker {
            schema,
            known: known_fields(),
            found: &mut found,
            depth: 0,
        }
        .object(ty, obj, "");
    }
    found
}

/// Depth past which a body is not searched (Go's decoder refuses far shallower nesting).
const MAX_DEPTH: usize = 256;

struct Walker<'a> {
    schema: &'a Schema,
    known: &'a HashMap<&'static str, HashSet<&'static str>>,
    found: &'a mut Vec<String>,
    depth: usize,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl Walker<'_> {
    /// Searches `value` as an instance of the struct or map type `ty`.
    fn object(&mut self, ty: TypeId, value: &mut Value, path: &str) {
        let Some(def) = self.schema.type_def(ty) else {
            return;
        };
        let Some(map) = value.as_object_mut() else {
            return;
        };
        if self.depth >= MAX_DEPTH {
            return;
        }
        self.depth += 1;
        if def.name.starts_with("{}") {
            if let Some(item) = def.additional.as_ref().and_then(|a| a.ty) {
                let is_list = def.additional.as_ref().is_some_and(|a| a.is_list);
                for (k, v) in map.iter_mut() {
                    self.field(item, is_list, v, &format!("{path}[{k}]"));
                }
            }
            self.depth -= 1;
            return;
        }
        let complete = self.known.get(def.name.as_str());
        let mut unknown = Vec::new();
        for (k, v) in map.iter_mut() {
            let here = join(path, k);
            if complete.is_some_and(|c| !c.contains(k.as_str())) {
                self.found.push(here);
                unknown.push(k.clone());
            } else if let Some(f) = def.fields.get(k) {
                if let Some(t) = f.ty {
                    self.field(t, f.is_list, v, &here);
                }
            }
        }
        for k in unknown {
            map.shift_remove(&k);
        }
        self.depth -= 1;
    }

    /// Searches a field's value: one instance of `ty`, or a list of them.
    fn field(&mut self, ty: TypeId, is_list: bool, value: &mut Value, path: &str) {
        if !is_list {
            self.object(ty, value, path);
            return;
        }
        if let Some(items) = value.as_array_mut() {
            for (i, item) in items.iter_mut().enumerate() {
                self.object(ty, item, &format!("{path}[{i}]"));
            }
        }
    }
}

/// Top-level fields any built-in kind may carry.
const KNOWN_TOP: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "spec",
    "status",
    "data",
    "binaryData",
    "stringData",
    "type",
    "immutable",
    "rules",
    "subjects",
    "roleRef",
    "aggregationRule",
    "webhooks",
    "provisioner",
    "parameters",
    "reclaimPolicy",
    "mountOptions",
    "allowVolumeExpansion",
    "volumeBindingMode",
    "allowedTopologies",
    "value",
    "globalDefault",
    "description",
    "preemptionPolicy",
    "involvedObject",
    "reason",
    "message",
    "source",
    "firstTimestamp",
    "lastTimestamp",
    "count",
    "eventTime",
    "series",
    "action",
    "related",
    "reportingComponent",
    "reportingInstance",
    "subsets",
    "secrets",
    "imagePullSecrets",
    "automountServiceAccountToken",
    // Plain stored kinds served from the discovery catalog (ControllerRevision, PodTemplate,
    // RuntimeClass, EndpointSlice, events.k8s.io Event, VolumeAttributesClass, CSIStorageCapacity).
    "revision",
    "template",
    "handler",
    "overhead",
    "scheduling",
    "addressType",
    "endpoints",
    "ports",
    "regarding",
    "note",
    "reportingController",
    "deprecatedSource",
    "deprecatedFirstTimestamp",
    "deprecatedLastTimestamp",
    "deprecatedCount",
    "driverName",
    "nodeTopology",
    "storageClassName",
    "capacity",
    "maximumVolumeSize",
];

/// Removes the unknown fields of a built-in object and returns their paths: at every depth
/// where the schema tables know the kind's structure, else at the top level.
fn drop_unknown(rt: &ResourceType, obj: &mut Value) -> Vec<String> {
    if covers(&rt.group, &rt.version, &rt.kind) {
        return prune(&rt.group, &rt.version, &rt.kind, obj);
    }
    let Some(m) = obj.as_object_mut() else {
        return Vec::new();
    };
    let top: Vec<String> = m
        .keys()
        .filter(|k| !KNOWN_TOP.contains(&k.as_str()))
        .cloned()
        .collect();
    for k in &top {
        m.shift_remove(k);
    }
    top
}

/// A `Warning` header value (RFC 7234 warn-code 299, the text a quoted string).
fn warning_value(text: &str) -> String {
    let quoted = text.replace('\\', "\\\\").replace('"', "\\\"");
    format!("299 - \"{quoted}\"")
}

/// Checks the fields of a built-in object (at every depth where the schema tables know its
/// structure, else the top level) against `fieldValidation` (Strict → 400, Warn →
/// `Warning` headers pushed to `warnings`). Unless Strict refuses them, unknown fields are
/// dropped, as Go's decoder drops what its types do not have.
pub(crate) fn check(
    rt: &ResourceType,
    obj: &mut Value,
    mode: Option<&str>,
    warnings: &mut Vec<(String, String)>,
) -> Result<(), ApiError> {
    if rt.custom {
        return Ok(());
    }
    // A refused body is left as it came.
    let mut refused = None;
    let target = if mode == Some("Strict") {
        refused.insert(obj.clone())
    } else {
        obj
    };
    let unknown = drop_unknown(rt, target);
    if unknown.is_empty() {
        return Ok(());
    }
    let texts: Vec<String> = unknown
        .iter()
        .map(|k| format!("unknown field \"{k}\""))
        .collect();
    match mode {
        Some("Strict") => {
            return Err(ApiError::bad_request(format!(
            "{kind} in version \"{v}\" cannot be handled as a {kind}: strict decoding error: {}",
            texts.join(", "),
            kind = rt.kind,
            v = rt.version
        )))
        }
        Some("Ignore") => {}
        _ => warnings.extend(
            texts
                .into_iter()
                .map(|u| ("Warning".to_string(), warning_value(&u))),
        ),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "bogusm": 1, "labels": {"bogus": "label values stay"}},
            "spec": {
                "bogus": 1, "replicas": 2,
                "selector": {"matchLabels": {"a": "b"}, "zz": 2},
                "template": {
                    "metadata": {"labels": {"a": "b"}},
                    "spec": {
                        "containers": [{
                            "name": "c", "image": "nginx", "bogus": true,
                            "ports": [{"containerPort": 80, "xx": 1}],
                            "resources": {"limits": {"cpu": "1"}}
                        }],
                        "bogus2": 1
                    }
                },
                "aaa": 3
            },
            "top": 1
        })
    }

    #[test]
    fn nested_unknown_fields_are_found_in_document_order_and_removed() {
        let mut obj = deployment();
        let found = prune("apps", "v1", "Deployment", &mut obj);
        assert_eq!(
            found,
            [
                "metadata.bogusm",
                "spec.bogus",
                "spec.selector.zz",
                "spec.template.spec.containers[0].bogus",
                "spec.template.spec.containers[0].ports[0].xx",
                "spec.template.spec.bogus2",
                "spec.aaa",
                "top",
            ]
        );
        let mut want = deployment();
        for p in [
            "/metadata",
            "/spec",
            "/spec/selector",
            "/spec/template/spec",
        ] {
            let m = want.pointer_mut(p).and_then(Value::as_object_mut).expect(p);
            for k in ["bogusm", "bogus", "zz", "bogus2", "aaa"] {
                m.shift_remove(k);
            }
        }
        want.as_object_mut().expect("object").shift_remove("top");
        let c = want
            .pointer_mut("/spec/template/spec/containers/0")
            .and_then(Value::as_object_mut)
            .expect("container");
        c.shift_remove("bogus");
        c["ports"][0]
            .as_object_mut()
            .expect("port")
            .shift_remove("xx");
        assert_eq!(obj, want);
    }

    #[test]
    fn known_objects_are_untouched() {
        let mut obj = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "annotations": {"x": "y"}},
            "data": {"anything": "goes"}, "immutable": false
        });
        let before = obj.clone();
        assert!(prune("", "v1", "ConfigMap", &mut obj).is_empty());
        assert_eq!(obj, before);
    }

    #[test]
    fn kinds_outside_the_table_are_kept_whole() {
        let mut obj = json!({"spec": {"bogus": 1}, "top": 1});
        assert!(!covers("example.com", "v1", "Widget"));
        assert!(prune("example.com", "v1", "Widget", &mut obj).is_empty());
        assert_eq!(obj, json!({"spec": {"bogus": 1}, "top": 1}));
    }

    #[test]
    fn types_without_a_complete_field_set_are_kept() {
        let known = parse("# comment\nDeployment apiVersion kind metadata spec status\n");
        let schema = Schema::builtin();
        let ty = root(schema, "apps", "v1", "Deployment").expect("root");
        let mut obj = json!({"spec": {"bogus": 1}, "nope": 1});
        let mut found = Vec::new();
        Walker {
            schema,
            known: &known,
            found: &mut found,
            depth: 0,
        }
        .object(ty, &mut obj, "");
        assert_eq!(found, ["nope"]);
        assert_eq!(obj, json!({"spec": {"bogus": 1}}));
    }

    #[test]
    fn wrong_shapes_do_not_panic() {
        let mut obj = json!({"spec": {"template": {"spec": {"containers": {"a": 1}}}}});
        assert!(prune("apps", "v1", "Deployment", &mut obj).is_empty());
        let mut obj = json!([1, 2]);
        assert!(prune("apps", "v1", "Deployment", &mut obj).is_empty());
    }

    fn rt(kind: &str) -> ResourceType {
        crate::kinds::builtin_type(kind)
    }

    #[test]
    fn strict_unknown_top_level_field() {
        let mut w = Vec::new();
        let mut obj = json!({"metadata": {"name": "x"}, "dta": {}});
        let e = check(&rt("ConfigMap"), &mut obj, Some("Strict"), &mut w).expect_err("strict");
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                400,
                "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding \
                 error: unknown field \"dta\""
            )
        );
        check(&rt("ConfigMap"), &mut obj, Some("Warn"), &mut w).expect("warn");
        assert_eq!(w.len(), 1);
        assert_eq!(obj, json!({"metadata": {"name": "x"}}), "dropped");
        assert_eq!(w[0].1, "299 - \"unknown field \\\"dta\\\"\"");
    }

    #[test]
    fn nested_unknown_fields_follow_field_validation() {
        let body = json!({
            "metadata": {"name": "d"},
            "spec": {"bogus": 1, "template": {"spec": {"containers": [{"name": "c", "x": 1}]}}}
        });
        let (mut obj, mut w) = (body.clone(), Vec::new());
        let e = check(&rt("Deployment"), &mut obj, Some("Strict"), &mut w).expect_err("strict");
        assert_eq!(
            e.message,
            "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding \
             error: unknown field \"spec.bogus\", unknown field \
             \"spec.template.spec.containers[0].x\""
        );
        assert_eq!(obj, body, "a refused body is unchanged");
        check(&rt("Deployment"), &mut obj, Some("Ignore"), &mut w).expect("ignore");
        assert!(w.is_empty());
        let pruned = json!({
            "metadata": {"name": "d"},
            "spec": {"template": {"spec": {"containers": [{"name": "c"}]}}}
        });
        assert_eq!(obj, pruned);
        let mut obj = body.clone();
        check(&rt("Deployment"), &mut obj, None, &mut w).expect("warn");
        assert_eq!(obj, pruned);
        let texts: Vec<&str> = w.iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(
            texts,
            [
                "299 - \"unknown field \\\"spec.bogus\\\"\"",
                "299 - \"unknown field \\\"spec.template.spec.containers[0].x\\\"\"",
            ]
        );
    }
}
