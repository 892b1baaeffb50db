//! Table columns of the less common built-in kinds (RBAC, storage, scheduling, admission,
//! networking policy, controller revisions), and the reference server's default columns for
//! kinds it has no printer for.

use fjord_model::split_api_version;
use serde_json::{json, Value};

use super::s;
use super::text::{label_selector, labels_text, Col, Printers};

fn n(c: &str) -> Col {
    (c.to_string(), "string".to_string(), 0)
}

fn typed(c: &str, ty: &str, priority: u32) -> Col {
    (c.to_string(), ty.to_string(), priority)
}

fn len(obj: &Value, p: &str) -> Value {
    json!(obj.pointer(p).and_then(Value::as_array).map_or(0, Vec::len))
}

/// `Kind.group/name` (lower case kind and group) of the object's controller, or `<none>`.
fn controller(obj: &Value) -> Value {
    let owner = obj
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .and_then(|refs| refs.iter().find(|r| r["controller"] == json!(true)));
    let Some(r) = owner else {
        return json!("<none>");
    };
    let api_version = s(r, "/apiVersion");
    let (group, _) = split_api_version(&api_version);
    let kind = if group.is_empty() {
        s(r, "/kind")
    } else {
        format!("{}.{group}", s(r, "/kind"))
    };
    json!(format!("{}/{}", kind.to_ascii_lowercase(), s(r, "/name")))
}

/// An int-or-string field as text, `N/A` when unset.
fn int_or_string(v: Option<&Value>) -> Value {
    match v {
        Some(Value::String(t)) => json!(t),
        Some(Value::Number(x)) => json!(x.to_string()),
        _ => json!("N/A"),
    }
}

/// `Kind.apiGroup/name` of an IngressClass's parameters, or `<none>`.
fn ingress_class_parameters(obj: &Value) -> Value {
    let Some(p) = obj.pointer("/spec/parameters").filter(|p| p.is_object()) else {
        return json!("<none>");
    };
    let mut text = s(p, "/kind");
    if let Some(g) = p["apiGroup"].as_str() {
        text = format!("{text}.{g}");
    }
    json!(format!("{text}/{}", s(p, "/name")))
}

/// Users, groups and service accounts (`namespace/name`) a binding names, comma-joined.
fn subjects(obj: &Value) -> [Value; 3] {
    let (mut users, mut groups, mut sas) = (Vec::new(), Vec::new(), Vec::new());
    for sub in obj["subjects"].as_array().into_iter().flatten() {
        match sub["kind"].as_str() {
            Some("User") => users.push(s(sub, "/name")),
            Some("Group") => groups.push(s(sub, "/name")),
            Some("ServiceAccount") => {
                sas.push(format!("{}/{}", s(sub, "/namespace"), s(sub, "/name")))
            }
            _ => {}
        }
    }
    [users, groups, sas].map(|v| json!(v.join(", ")))
}

fn binding(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    let [users, groups, sas] = subjects(obj);
    (
        vec![
            n("Name"),
            n("Role"),
            n("Age"),
            typed("Users", "string", 1),
            typed("Groups", "string", 1),
            typed("ServiceAccounts", "string", 1),
        ],
        vec![
            name,
            json!(format!(
                "{}/{}",
                s(obj, "/roleRef/kind"),
                s(obj, "/roleRef/name")
            )),
            age,
            users,
            groups,
            sas,
        ],
    )
}

fn storage_class(obj: &Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    let annotations = obj.pointer("/metadata/annotations");
    let default = [
        "storageclass.kubernetes.io/is-default-class",
        "storageclass.beta.kubernetes.io/is-default-class",
    ]
    .iter()
    .any(|a| annotations.and_then(|m| m.get(*a)) == Some(&json!("true")));
    let mut name = s(obj, "/metadata/name");
    if default {
        name.push_str(" (default)");
    }
    let expansion = obj["allowVolumeExpansion"].as_bool().unwrap_or(false);
    (
        vec![
            n("Name"),
            n("Provisioner"),
            n("ReclaimPolicy"),
            n("VolumeBindingMode"),
            n("AllowVolumeExpansion"),
            n("Age"),
        ],
        vec![
            json!(name),
            json!(s(obj, "/provisioner")),
            json!(s(obj, "/reclaimPolicy")),
            json!(s(obj, "/volumeBindingMode")),
            json!(expansion.to_string()),
            age,
        ],
    )
}

fn pod_template(obj: &Value, name: Value) -> (Vec<Col>, Vec<Value>) {
    let cs: Vec<&Value> = obj
        .pointer("/template/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let names: Vec<String> = cs.iter().map(|c| s(c, "/name")).collect();
    let images: Vec<String> = cs.iter().map(|c| s(c, "/image")).collect();
    (
        vec![n("Name"), n("Containers"), n("Images"), n("Pod Labels")],
        vec![
            name,
            json!(names.join(",")),
            json!(images.join(",")),
            json!(labels_text(obj.pointer("/template/metadata/labels"))),
        ],
    )
}

/// Only when it was made (kinds whose reference printer shows no more).
fn created_at(obj: &Value, name: Value, _age: Value) -> (Vec<Col>, Vec<Value>) {
    (
        vec![n("Name"), typed("Created At", "date", 0)],
        vec![name, json!(s(obj, "/metadata/creationTimestamp"))],
    )
}

fn name_and_age(_obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    (vec![n("Name"), n("Age")], vec![name, age])
}

fn volume_attributes_class(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    (
        vec![n("Name"), n("DriverName"), n("Age")],
        vec![name, json!(s(obj, "/driverName")), age],
    )
}

fn csi_node(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    (
        vec![n("Name"), typed("Drivers", "integer", 0), n("Age")],
        vec![name, len(obj, "/spec/drivers"), age],
    )
}

fn controller_revision(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    (
        vec![n("Name"), n("Controller"), n("Revision"), n("Age")],
        vec![
            name,
            controller(obj),
            json!(obj["revision"].as_i64().unwrap_or(0)),
            age,
        ],
    )
}

fn priority_class(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    (
        vec![
            n("Name"),
            typed("Value", "integer", 0),
            typed("Global-Default", "boolean", 0),
            n("Age"),
            n("PreemptionPolicy"),
        ],
        vec![
            name,
            json!(obj["value"].as_i64().unwrap_or(0)),
            json!(obj["globalDefault"].as_bool().unwrap_or(false)),
            age,
            json!(s(obj, "/preemptionPolicy")),
        ],
    )
}

fn runtime_class(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    (
        vec![n("Name"), n("Handler"), n("Age")],
        vec![name, json!(s(obj, "/handler")), age],
    )
}

fn webhook_configuration(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    (
        vec![n("Name"), typed("Webhooks", "integer", 0), n("Age")],
        vec![name, len(obj, "/webhooks"), age],
    )
}

fn network_policy(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    (
        vec![n("Name"), n("Pod-Selector"), n("Age")],
        vec![
            name,
            json!(label_selector(obj.pointer("/spec/podSelector"))),
            age,
        ],
    )
}

fn pod_disruption_budget(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    (
        vec![
            n("Name"),
            n("Min Available"),
            n("Max Unavailable"),
            typed("Allowed Disruptions", "integer", 0),
            n("Age"),
        ],
        vec![
            name,
            int_or_string(obj.pointer("/spec/minAvailable")),
            int_or_string(obj.pointer("/spec/maxUnavailable")),
            json!(obj
                .pointer("/status/disruptionsAllowed")
                .and_then(Value::as_i64)
                .unwrap_or(0)),
            age,
        ],
    )
}

fn ingress_class(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    (
        vec![n("Name"), n("Controller"), n("Parameters"), n("Age")],
        vec![
            name,
            json!(s(obj, "/spec/controller")),
            ingress_class_parameters(obj),
            age,
        ],
    )
}

const RBAC: &str = "rbac.authorization.k8s.io";
const STORAGE: &str = "storage.k8s.io";
const ADMISSION: &str = "admissionregistration.k8s.io";

/// The kinds this module prints.
pub(super) const PRINTERS: Printers = &[
    (RBAC, "RoleBinding", binding),
    (RBAC, "ClusterRoleBinding", binding),
    (RBAC, "Role", created_at),
    (RBAC, "ClusterRole", created_at),
    ("", "LimitRange", created_at),
    (STORAGE, "CSIStorageCapacity", created_at),
    (
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
        created_at,
    ),
    ("", "PodTemplate", |obj, name, _| pod_template(obj, name)),
    (STORAGE, "StorageClass", |obj, _, age| {
        storage_class(obj, age)
    }),
    (STORAGE, "VolumeAttributesClass", volume_attributes_class),
    (STORAGE, "CSINode", csi_node),
    ("apps", "ControllerRevision", controller_revision),
    ("scheduling.k8s.io", "PriorityClass", priority_class),
    ("node.k8s.io", "RuntimeClass", runtime_class),
    (
        ADMISSION,
        "MutatingWebhookConfiguration",
        webhook_configuration,
    ),
    (
        ADMISSION,
        "ValidatingWebhookConfiguration",
        webhook_configuration,
    ),
    ("networking.k8s.io", "NetworkPolicy", network_policy),
    ("policy", "PodDisruptionBudget", pod_disruption_budget),
    ("networking.k8s.io", "IngressClass", ingress_class),
    ("resource.k8s.io", "DeviceClass", name_and_age),
    ("resource.k8s.io", "ResourceClaimTemplate", name_and_age),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn columns_and_cells(
        group: &str,
        kind: &str,
        obj: &Value,
        name: Value,
        age: Value,
    ) -> Option<(Vec<Col>, Vec<Value>)> {
        let (_, _, print) = PRINTERS
            .iter()
            .find(|(g, k, _)| *g == group && *k == kind)?;
        Some(print(obj, name, age))
    }

    #[test]
    fn revisions_name_their_controller() {
        let rev = json!({"metadata": {"ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "web", "controller": true}]},
            "revision": 3});
        let (cols, cells) =
            columns_and_cells("apps", "ControllerRevision", &rev, json!("r"), json!("1s"))
                .expect("printed");
        assert_eq!(cols[1].0, "Controller");
        assert_eq!(cells[1], "daemonset.apps/web");
        assert_eq!(cells[2], 3);
    }

    #[test]
    fn bindings_list_their_subjects() {
        let rb = json!({"roleRef": {"kind": "ClusterRole", "name": "view"}, "subjects": [
            {"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "name": "sa", "namespace": "ns"}]});
        let (_, cells) = columns_and_cells(
            "rbac.authorization.k8s.io",
            "RoleBinding",
            &rb,
            json!("rb"),
            json!("1s"),
        )
        .expect("printed");
        assert_eq!(cells[1], "ClusterRole/view");
        assert_eq!(cells[3], "alice");
        assert_eq!(cells[5], "ns/sa");
    }
}
