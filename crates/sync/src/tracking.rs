//! Annotation tracking: `argocd.argoproj.io/tracking-id: <app>:<group>/<kind>:<namespace>/<name>`.

use serde_json::Value;

/// The tracking annotation.
pub const ANNOTATION_TRACKING_ID: &str = "argocd.argoproj.io/tracking-id";

/// A parsed tracking id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingId {
    /// The owning application.
    pub app: String,
    /// API group (empty for core).
    pub group: String,
    /// Kind.
    pub kind: String,
    /// Namespace (empty for cluster-scoped objects).
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl TrackingId {
    /// The id for an object of `app`.
    pub fn new(app: &str, group: &str, kind: &str, namespace: &str, name: &str) -> TrackingId {
        TrackingId {
            app: app.into(),
            group: group.into(),
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// Parses an annotation value; `None` when malformed.
    pub fn parse(value: &str) -> Option<TrackingId> {
        let (app, rest) = value.split_once(':')?;
        let (gk, nsname) = rest.split_once(':')?;
        let (group, kind) = gk.split_once('/')?;
        let (namespace, name) = nsname.split_once('/')?;
        if app.is_empty() || kind.is_empty() || name.is_empty() {
            return None;
        }
        Some(TrackingId::new(app, group, kind, namespace, name))
    }

    /// The tracking id an object carries, if any (and well-formed).
    pub fn of(obj: &Value) -> Option<TrackingId> {
        let v = obj
            .pointer("/metadata/annotations")?
            .get(ANNOTATION_TRACKING_ID)?
            .as_str()?;
        TrackingId::parse(v)
    }

    /// Whether the id names exactly this object (Argo's self-reference check: a copied object
    /// carrying another object's id is not tracked).
    pub fn refers_to(&self, group: &str, kind: &str, namespace: &str, name: &str) -> bool {
        self.group == group && self.kind == kind && self.namespace == namespace && self.name == name
    }
}

impl std::fmt::Display for TrackingId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}/{}:{}/{}",
            self.app, self.group, self.kind, self.namespace, self.name
        )
    }
}

/// Sets the tracking annotation on `obj`.
pub fn set_tracking(obj: &mut Value, id: &TrackingId) {
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let ann = meta
        .entry("annotations")
        .or_insert_with(|| Value::Object(Default::default()));
    if !ann.is_object() {
        *ann = Value::Object(Default::default());
    }
    if let Some(a) = ann.as_object_mut() {
        a.insert(ANNOTATION_TRACKING_ID.into(), Value::String(id.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip_and_self_reference() {
        let id = TrackingId::new("shop", "apps", "Deployment", "web", "front");
        assert_eq!(id.to_string(), "shop:apps/Deployment:web/front");
        assert_eq!(
            TrackingId::parse("shop:apps/Deployment:web/front"),
            Some(id.clone())
        );
        let ns = TrackingId::parse("shop:/Namespace:/web").unwrap();
        assert_eq!(
            (ns.group.as_str(), ns.namespace.as_str(), ns.name.as_str()),
            ("", "", "web")
        );
        assert_eq!(TrackingId::parse("garbage"), None);
        let mut obj = json!({"metadata": {"name": "front"}});
        set_tracking(&mut obj, &id);
        assert_eq!(TrackingId::of(&obj), Some(id.clone()));
        assert!(id.refers_to("apps", "Deployment", "web", "front"));
        assert!(!id.refers_to("apps", "Deployment", "web", "copy"));
    }
}
