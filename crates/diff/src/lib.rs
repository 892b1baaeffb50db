//! Desired-versus-live comparison of one Kubernetes object, the way Argo CD does it.
//!
//! fjord's sync engine asks the API server for a server-side dry-run apply of its configuration
//! (field manager `fjord`) and hands the answer to [`compare`] as the *desired* object, together
//! with the *live* object read from the cluster. Both sides go through Argo CD's normalisation
//! (`gitops-engine/pkg/diff` and `util/argo/normalizers`):
//!
//! - server-populated metadata (`managedFields`, `resourceVersion`, `generation`, `uid`,
//!   `creationTimestamp`, `selfLink`) and, unless asked to keep it, the
//!   `kubectl.kubernetes.io/last-applied-configuration` annotation are dropped;
//! - `/status` is ignored per `resource.compareoptions.ignoreResourceStatusField` (default `all`);
//! - Secrets: `stringData` is folded into `data` (base64), `null` values become `""`;
//! - Role/ClusterRole: empty `rules` is the same as none (and aggregated roles' rules are ignored
//!   when asked); Endpoints: ports default to `TCP`, subsets are sorted;
//! - empty `annotations`/`labels` maps are the same as none;
//! - `ignoreDifferences` rules (Application spec and argocd-cm) remove JSON pointers and jq paths
//!   from both sides, after which empty maps and lists are pruned like Argo CD does; fields owned
//!   by a trusted manager (`managedFieldsManagers`) that differ are removed from both sides.
//!
//! The objects returned in [`ObjectDiff`] are normalised and, for Secrets, masked with Argo CD's
//! `+` runs ([`mask`]), so they are safe to print. [`unified`] renders a `kubectl diff`-style
//! unified diff and [`DiffReport`] is the `-o json` shape.
//!
//! ```
//! use fjord_diff::{compare, CompareOptions, DiffStatus};
//! use serde_json::json;
//!
//! let desired = json!({"apiVersion": "v1", "kind": "ConfigMap",
//!     "metadata": {"name": "c", "namespace": "a"}, "data": {"k": "2"}});
//! let live = json!({"apiVersion": "v1", "kind": "ConfigMap",
//!     "metadata": {"name": "c", "namespace": "a", "uid": "u1", "resourceVersion": "7"},
//!     "data": {"k": "1"}});
//! let d = compare(Some(&desired), Some(&live), &CompareOptions::default()).unwrap();
//! assert_eq!(d.status, DiffStatus::Modified);
//! assert_eq!(d.id.to_string(), "ConfigMap a/c");
//! ```

pub mod forensics;
mod jq;
mod managed;
pub mod mask;
mod normalize;
mod options;
mod pointer;
mod render;

use serde::Serialize;
use serde_json::Value;

/// Which object a diff is about, read from the desired object (or the live one when there is
/// no desired object): fjord's one object reference.
pub use fjord_model::ObjectRef;
pub use options::{CompareOptions, IgnoreRule, OptionsError, StatusIgnore, DEFAULT_JQ_TIMEOUT};
pub use render::{unified, DiffReport};

/// The verdict on one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DiffStatus {
    /// Both exist and are equal after normalisation.
    InSync,
    /// Both exist and differ after normalisation.
    Modified,
    /// Only the desired object exists: it would be created.
    Missing,
    /// Only the live object exists: it is not in the desired state (a prune candidate).
    Extra,
}

impl DiffStatus {
    /// Whether the object needs attention (anything but [`DiffStatus::InSync`]).
    pub fn differs(self) -> bool {
        self != DiffStatus::InSync
    }
}

/// The result of [`compare`]: the verdict plus both objects, normalised and secret-masked.
///
/// Nothing in here holds a Secret value: `desired`/`live` are masked and `notes` only name rules
/// and failure kinds, so the `Debug` output and any rendering are safe to print.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectDiff {
    /// The object the diff is about.
    pub id: ObjectRef,
    /// The verdict.
    pub status: DiffStatus,
    /// The normalised, masked desired object (absent for [`DiffStatus::Extra`]).
    pub desired: Option<Value>,
    /// The normalised, masked live object (absent for [`DiffStatus::Missing`]).
    pub live: Option<Value>,
    /// Ignore rules that could not be applied and were skipped, as Argo CD skips (and logs)
    /// them: e.g. "jq path expression `.a[` timed out after 1s".
    pub notes: Vec<String>,
}

/// Which of the two compared objects an input error concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The desired (dry-run) object.
    Desired,
    /// The live object.
    Live,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Side::Desired => "desired",
            Side::Live => "live",
        })
    }
}

/// Why [`compare`] could not compare two objects. Messages never quote object values.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// Neither a desired nor a live object was given.
    #[error("nothing to compare: both the desired and the live object are absent")]
    NothingToCompare,
    /// An input is not a JSON object.
    #[error("the {side} object is not a JSON object (found {found})")]
    NotAnObject {
        /// Which input.
        side: Side,
        /// The JSON type found instead.
        found: &'static str,
    },
    /// The ignore rules of the options are invalid.
    #[error(transparent)]
    Options(#[from] OptionsError),
}

/// Compares the desired object (the server-side dry-run result) with the live one.
///
/// `None` on one side means the object does not exist there. Both sides are normalised as Argo
/// CD does (see the crate docs), the ignore rules of `opts` that match the object's group, kind,
/// name and namespace are applied, and the verdict is taken on the normalised objects. The
/// returned objects are masked when the object is a Secret.
pub fn compare(
    desired: Option<&Value>,
    live: Option<&Value>,
    opts: &CompareOptions,
) -> Result<ObjectDiff, DiffError> {
    check_object(desired, Side::Desired)?;
    check_object(live, Side::Live)?;
    let id = match (desired, live) {
        (Some(d), _) => ObjectRef::of(d),
        (None, Some(l)) => ObjectRef::of(l),
        (None, None) => return Err(DiffError::NothingToCompare),
    };
    let mut desired = desired.cloned();
    let mut live = live.cloned();
    let mut notes = Vec::new();
    let rules = opts.matching_rules(&id);

    if let (Some(d), Some(l)) = (desired.as_mut(), live.as_mut()) {
        let managers: Vec<&str> = rules
            .iter()
            .flat_map(|r| r.managed_fields_managers.iter().map(String::as_str))
            .collect();
        managed::normalize(l, d, &managers);
    }
    for obj in desired.iter_mut().chain(live.iter_mut()) {
        normalize::builtin(obj, &id, opts);
        normalize::apply_ignore_rules(obj, &id, &rules, opts, &mut notes);
        normalize::drop_empty_metadata_maps(obj);
    }
    let mut seen = std::collections::HashSet::new();
    notes.retain(|n| seen.insert(n.clone()));

    let status = match (&desired, &live) {
        (Some(d), Some(l)) if json_eq(d, l) => DiffStatus::InSync,
        (Some(_), Some(_)) => DiffStatus::Modified,
        (Some(_), None) => DiffStatus::Missing,
        (None, _) => DiffStatus::Extra,
    };
    if id.is_secret() {
        mask::hide_secret_data(desired.as_mut(), live.as_mut(), &opts.hide_annotations);
    }
    Ok(ObjectDiff {
        id,
        status,
        desired,
        live,
        notes,
    })
}

fn check_object(v: Option<&Value>, side: Side) -> Result<(), DiffError> {
    match v {
        None | Some(Value::Object(_)) => Ok(()),
        Some(other) => Err(DiffError::NotAnObject {
            side,
            found: json_type(other),
        }),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Equality as Go's `encoding/json` round trip sees it: object key order does not matter and
/// numbers compare by value (`1` equals `1.0`).
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if x == y {
                return true;
            }
            match (x.as_f64(), y.as_f64()) {
                (Some(p), Some(q)) => p == q,
                _ => false,
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests;
