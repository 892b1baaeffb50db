//! Test fixtures: objects from YAML text and output in kubectl's form, so the transformer tests
//! can compare with what `kubectl kustomize` printed for the same input.

use crate::resource::{ResMap, Resource};

/// The objects of a multi-document YAML text, as resources.
pub(crate) fn load(yaml: &str) -> ResMap {
    fjord_yaml::parse_documents(yaml.as_bytes())
        .expect("test YAML parses")
        .into_iter()
        .filter(|d| !d.is_null())
        .map(|d| Resource::new(d, "r.yaml"))
        .collect()
}

/// The objects as `kubectl kustomize` prints them (after its end-of-build metadata rule),
/// in their current order.
pub(crate) fn emit(res: &ResMap) -> String {
    let docs: Vec<fjord_yaml::Node> = res
        .iter()
        .map(|r| {
            let mut r = r.clone();
            crate::metadata::finish(&mut r, Default::default());
            r.obj
        })
        .collect();
    fjord_yaml::emit_documents(&docs).expect("emits")
}
