//! The Application and AppProject CustomResourceDefinitions and the `default` AppProject,
//! shipped as YAML data files under `crates/controller/crds/`.

use serde_json::Value;

/// YAML of the `applications.argoproj.io` CRD.
pub const APPLICATION_CRD_YAML: &str = include_str!("../crds/application-crd.yaml");
/// YAML of the `appprojects.argoproj.io` CRD.
pub const APPPROJECT_CRD_YAML: &str = include_str!("../crds/appproject-crd.yaml");
/// YAML of the `default` AppProject (namespace filled in by [`default_appproject`]).
pub const DEFAULT_APPPROJECT_YAML: &str = include_str!("../crds/default-appproject.yaml");

/// Converts one of the embedded YAML files to JSON. The files are part of the crate and
/// covered by tests, so a failure here is a build defect, not a user error.
fn embedded(yaml: &str, what: &str) -> Value {
    fjord_yaml::parse_document(yaml.as_bytes())
        .ok()
        .and_then(|n| fjord_yaml::to_json_value(&n).ok())
        .unwrap_or_else(|| panic!("embedded {what} YAML is invalid"))
}

/// The Application and AppProject CRDs, in that order.
pub fn crds() -> Vec<Value> {
    vec![
        embedded(APPLICATION_CRD_YAML, "Application CRD"),
        embedded(APPPROJECT_CRD_YAML, "AppProject CRD"),
    ]
}

/// The `default` AppProject in `namespace` (all sources, destinations and kinds allowed).
pub fn default_appproject(namespace: &str) -> Value {
    let mut v = embedded(DEFAULT_APPPROJECT_YAML, "default AppProject");
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("namespace".into(), Value::String(namespace.to_string()));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{default_project, AppProject};

    fn ptr<'a>(v: &'a Value, p: &str) -> &'a Value {
        v.pointer(p).unwrap_or_else(|| panic!("missing {p}"))
    }

    #[test]
    fn application_crd_shape() {
        let c = &crds()[0];
        assert_eq!(ptr(c, "/apiVersion"), "apiextensions.k8s.io/v1");
        assert_eq!(ptr(c, "/metadata/name"), "applications.argoproj.io");
        assert_eq!(ptr(c, "/spec/group"), "argoproj.io");
        assert_eq!(ptr(c, "/spec/scope"), "Namespaced");
        assert_eq!(
            ptr(c, "/spec/names/shortNames"),
            &serde_json::json!(["app", "apps"])
        );
        let v = ptr(c, "/spec/versions/0");
        assert_eq!(ptr(v, "/name"), "v1alpha1");
        assert!(ptr(v, "/subresources/status").is_object());
        let cols = ptr(v, "/additionalPrinterColumns").as_array().unwrap();
        assert_eq!(ptr(&cols[0], "/name"), "Sync Status");
        assert_eq!(ptr(&cols[0], "/jsonPath"), ".status.sync.status");
        assert_eq!(ptr(&cols[1], "/name"), "Health Status");
        assert_eq!(ptr(&cols[1], "/jsonPath"), ".status.health.status");
        let spec = ptr(v, "/schema/openAPIV3Schema/properties/spec/properties");
        for f in [
            "project",
            "source",
            "sources",
            "destination",
            "syncPolicy",
            "ignoreDifferences",
            "revisionHistoryLimit",
            "info",
        ] {
            assert!(spec.get(f).is_some(), "spec.{f} in schema");
        }
        assert_eq!(
            ptr(
                spec,
                "/source/properties/helm/x-kubernetes-preserve-unknown-fields"
            ),
            true
        );
        assert_eq!(
            ptr(
                spec,
                "/sources/items/properties/kustomize/properties/namePrefix/type"
            ),
            "string"
        );
        assert_eq!(
            ptr(
                v,
                "/schema/openAPIV3Schema/properties/status/x-kubernetes-preserve-unknown-fields"
            ),
            true
        );
    }

    #[test]
    fn appproject_crd_shape() {
        let c = &crds()[1];
        assert_eq!(ptr(c, "/metadata/name"), "appprojects.argoproj.io");
        assert_eq!(ptr(c, "/spec/names/kind"), "AppProject");
        assert_eq!(
            ptr(c, "/spec/names/shortNames"),
            &serde_json::json!(["appproj", "appprojs"])
        );
        let spec = ptr(
            c,
            "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties",
        );
        assert_eq!(
            ptr(spec, "/clusterResourceWhitelist/items/properties/kind/type"),
            "string"
        );
        assert_eq!(
            ptr(
                spec,
                "/syncWindows/items/x-kubernetes-preserve-unknown-fields"
            ),
            true
        );
    }

    #[test]
    fn default_project_matches_builtin() {
        let p = default_appproject("argocd");
        assert_eq!(p, default_project("argocd"));
        let parsed: AppProject = serde_json::from_value(p).unwrap();
        assert_eq!(
            parsed.spec.unwrap().source_repos,
            Some(vec!["*".to_string()])
        );
    }

    /// Every field of `value` must be declared by `schema` (unless it preserves unknown
    /// fields); returns the undeclared paths.
    fn undeclared(value: &Value, schema: &Value, path: &str, out: &mut Vec<String>) {
        if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
            return;
        }
        match value {
            Value::Object(map) => {
                let props = schema.get("properties").and_then(Value::as_object);
                let additional = schema.get("additionalProperties");
                for (k, v) in map {
                    let p = format!("{path}.{k}");
                    match (props.and_then(|p| p.get(k)), additional) {
                        (Some(s), _) | (None, Some(s)) => undeclared(v, s, &p, out),
                        // `metadata: {type: object}` is validated by the API server itself.
                        (None, None) if props.is_none() => {}
                        (None, None) => out.push(p),
                    }
                }
            }
            Value::Array(items) => {
                if let Some(s) = schema.get("items") {
                    for (i, v) in items.iter().enumerate() {
                        undeclared(v, s, &format!("{path}[{i}]"), out);
                    }
                }
            }
            _ => {}
        }
    }

    #[test]
    fn schema_covers_seed_applications() {
        let schema = crds()[0]["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone();
        for yaml in [
            include_str!("../testdata/seed_002_application.yaml"),
            include_str!("../testdata/seed_003_application.yaml"),
        ] {
            let node = fjord_yaml::parse_document(yaml.as_bytes()).unwrap();
            let app = fjord_yaml::to_json_value(&node).unwrap();
            let mut out = Vec::new();
            undeclared(&app, &schema, "", &mut out);
            assert!(
                out.is_empty(),
                "fields missing from the CRD schema: {out:?}"
            );
        }
        let mut out = Vec::new();
        undeclared(
            &serde_json::json!({"spec": {"bogus": 1}}),
            &schema,
            "",
            &mut out,
        );
        assert_eq!(out, [".spec.bogus"]);
    }
}
