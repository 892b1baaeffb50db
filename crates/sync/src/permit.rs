//! Permissions: the caller's verdict on every object a sync would read, dry-run, apply or prune
//! (Argo CD's `WithPermissionValidator`: the AppProject's resource lists and destinations). An
//! object the verdict refuses never becomes a task: it is not read, dry-run, applied or pruned,
//! and the plan lists it in [`crate::Plan::denied`].

use std::sync::Arc;

use fjord_model::ObjectRef;

use crate::plan::SyncPhase;

/// The check itself: `Err(rule)` names the rule the object breaks. The flag tells whether the
/// object's kind is namespaced.
pub type Check = dyn Fn(&ObjectRef, bool) -> Result<(), String> + Send + Sync;

/// Which objects a sync may touch; the default permits everything (`fjord sync`, `fjord diff`).
#[derive(Clone, Default)]
pub struct Permissions(Option<Arc<Check>>);

impl Permissions {
    /// Everything is permitted.
    pub fn all() -> Permissions {
        Permissions(None)
    }

    /// Objects are checked by `check`.
    pub fn new(
        check: impl Fn(&ObjectRef, bool) -> Result<(), String> + Send + Sync + 'static,
    ) -> Permissions {
        Permissions(Some(Arc::new(check)))
    }

    /// The verdict on `id` (of a namespaced kind when `namespaced`): `Err` names the rule.
    pub fn check(&self, id: &ObjectRef, namespaced: bool) -> Result<(), String> {
        match &self.0 {
            None => Ok(()),
            Some(f) => f(id, namespaced),
        }
    }
}

impl std::fmt::Debug for Permissions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Permissions(checked)"
        } else {
            "Permissions(all)"
        })
    }
}

/// An object the permissions refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// The object.
    pub id: ObjectRef,
    /// The phase it would have run in.
    pub phase: SyncPhase,
    /// The wave it would have run in.
    pub wave: i64,
    /// Whether it is a hook.
    pub hook: bool,
    /// `true` for a rendered object (not applied); `false` for a live object the application
    /// tracks and no longer renders (left in place: not pruned).
    pub rendered: bool,
    /// The rule it breaks.
    pub message: String,
}

impl Denied {
    /// A rendered object that is not applied.
    pub fn rendered(
        id: &ObjectRef,
        phase: SyncPhase,
        wave: i64,
        hook: bool,
        message: String,
    ) -> Denied {
        Denied {
            id: id.clone(),
            phase,
            wave,
            hook,
            rendered: true,
            message,
        }
    }

    /// A tracked live object that is not pruned.
    pub fn live(id: &ObjectRef, wave: i64, message: String) -> Denied {
        Denied {
            id: id.clone(),
            phase: SyncPhase::Sync,
            wave,
            hook: false,
            rendered: false,
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(kind: &str, ns: &str) -> ObjectRef {
        ObjectRef::new("", "v1", kind, ns, "x")
    }

    #[test]
    fn default_permits_everything_and_a_check_decides() {
        assert!(Permissions::default()
            .check(&id("Namespace", ""), false)
            .is_ok());
        let p = Permissions::new(|id, namespaced| {
            if namespaced && id.namespace == "team-a" {
                Ok(())
            } else {
                Err(format!("namespace {} is not permitted", id.namespace))
            }
        });
        assert!(p.check(&id("ConfigMap", "team-a"), true).is_ok());
        assert_eq!(
            p.check(&id("ConfigMap", "kube-system"), true),
            Err("namespace kube-system is not permitted".to_string())
        );
        assert!(p.check(&id("Namespace", ""), false).is_err());
        assert_eq!(format!("{p:?}"), "Permissions(checked)");
    }
}
