//! Server-side apply: managedFields (FieldsV1) bookkeeping for every write and the apply
//! operation itself — merge, pruning of fields a manager stopped applying, conflicts with other
//! managers (409 with causes), `force`, and shared ownership of equal values.
//!
//! List and map semantics come from fjord-merge's schema table (built-ins) or from the CRD's
//! OpenAPI schema (custom resources).

mod managers;
mod nodes;
pub mod path;
mod walk;

use std::collections::BTreeMap;
use std::sync::Arc;

use fjord_merge::{Schema, TypeId};
use fjord_model::Gvk;
use serde_json::Value;

use crate::errors::{ApiError, Cause};
use fjord_model::ResourceType;
use managers::{Entry, Operation};
use path::{FieldSet, Path};
use walk::Walker;

/// The schema an object is typed with.
#[derive(Clone)]
pub enum SchemaRef {
    /// The built-in table.
    Builtin,
    /// The built-in table plus one CRD's kinds.
    Custom(Arc<Schema>),
}

impl SchemaRef {
    /// The schema.
    pub fn get(&self) -> &Schema {
        match self {
            SchemaRef::Builtin => Schema::builtin(),
            SchemaRef::Custom(s) => s,
        }
    }
}

/// Metadata fields nobody owns.
const STRIPPED_META: &[&str] = &[
    "name",
    "namespace",
    "creationTimestamp",
    "selfLink",
    "uid",
    "clusterName",
    "generation",
    "managedFields",
    "resourceVersion",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// The part of an object field ownership is tracked on, for a write to `sub`.
fn tracked(rt: &ResourceType, obj: &Value, sub: &str) -> Value {
    let mut o = obj.clone();
    let Some(m) = o.as_object_mut() else { return o };
    m.remove("apiVersion");
    m.remove("kind");
    if let Some(md) = m.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in STRIPPED_META {
            md.remove(*k);
        }
    }
    if m.get("metadata")
        .and_then(Value::as_object)
        .is_some_and(|md| md.is_empty())
    {
        m.remove("metadata");
    }
    if sub == "status" {
        m.retain(|k, _| k == "status");
    } else if rt.has_status {
        m.remove("status");
    }
    o
}

fn root_type(schema: &Schema, rt: &ResourceType) -> Option<TypeId> {
    schema.root(&Gvk::new(&rt.group, &rt.version, &rt.kind))
}

/// Records an Update by `manager` (non-apply writes): the fields it added or changed move to its
/// Update entry; fields removed from the object leave every entry.
pub fn record_update(
    schema: &SchemaRef,
    rt: &ResourceType,
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    sub: &str,
) {
    // As the real server (its skip-non-applied manager): an Update of an object that tracks no
    // managedFields does not start tracking; only a create or an apply does.
    if old.is_some() && managers::read(new).is_empty() {
        return;
    }
    let walker = Walker {
        schema: schema.get(),
    };
    let root = root_type(schema.get(), rt);
    let after = walker.leaves(&tracked(rt, new, sub), root);
    let before = old
        .map(|o| walker.leaves(&tracked(rt, o, sub), root))
        .unwrap_or_default();
    let new_tracked = tracked(rt, new, sub);
    let old_tracked = old.map(|o| tracked(rt, o, sub));
    let nodes_after = walker.nodes(&new_tracked, root);
    let nodes_before = old_tracked
        .as_ref()
        .map(|o| walker.nodes(o, root))
        .unwrap_or_default();
    let created = walker.created(&new_tracked, old_tracked.as_ref(), root, !rt.custom);
    let mut changed: FieldSet = after
        .iter()
        .filter(|(p, v)| before.get(*p) != Some(*v) && !created.zero.contains(*p))
        .map(|(p, _)| p.clone())
        .collect();
    // A map or list the write creates is a member itself ("." in FieldsV1), as the real
    // server records it; one it removes leaves every entry.
    changed.extend(created.nodes);
    // A leaf that became a map or list (an empty struct now filled) is still there: its owners
    // keep it.
    let mut removed: FieldSet = before
        .keys()
        .filter(|p| !after.contains_key(*p) && !nodes_after.contains(*p))
        .cloned()
        .collect();
    removed.extend(nodes_before.difference(&nodes_after).cloned());
    if changed.is_empty() && removed.is_empty() {
        return;
    }
    let mut entries = managers::read(new);
    for e in entries.iter_mut() {
        e.fields
            .retain(|p| !changed.contains(p) && !removed.iter().any(|r| path::under(p, r)));
    }
    let me = managers::entry_mut(
        &mut entries,
        manager,
        Operation::Update,
        &rt.api_version(),
        sub,
    );
    me.fields.extend(changed);
    me.time = crate::meta::now();
    managers::cap_updates(&mut entries, MAX_UPDATE_MANAGERS);
    managers::write(new, entries);
}

/// Rewrites explicitly sent managedFields in canonical form: entries without a manager or
/// fields are dropped, so `[{}]` clears them.
pub fn normalize_managed(obj: &mut Value) {
    let entries = managers::read(obj);
    managers::write(obj, entries);
}

/// How many Update entries an object keeps before the oldest merge into `ancient-changes`.
pub const MAX_UPDATE_MANAGERS: usize = 10;

/// The manager owning the fields an object had before its first apply (when it carried no
/// managedFields).
const BEFORE_FIRST_APPLY: &str = "before-first-apply";

/// Refuses an apply configuration with duplicate keys in an associative list, with the message
/// (and 500 status) the upstream apiserver gives.
pub fn check_duplicates(
    schema: &SchemaRef,
    rt: &ResourceType,
    config: &Value,
    namespace: &str,
) -> Result<(), ApiError> {
    let walker = Walker {
        schema: schema.get(),
    };
    let errs = walker.duplicates(config, root_type(schema.get(), rt));
    if errs.is_empty() {
        return Ok(());
    }
    let detail = if errs.len() == 1 {
        errs[0].clone()
    } else {
        let lines: Vec<String> = errs.iter().map(|e| format!("  {e}")).collect();
        format!("errors:\n{}", lines.join("\n"))
    };
    Err(ApiError::internal(format!(
        "failed to create typed patch object ({namespace}/{}; {}): {detail}",
        crate::meta::name(config),
        crate::kinds::go_gvk(rt)
    )))
}

/// The object an apply creates: the configuration with an Apply entry owning its fields.
pub fn apply_new(
    schema: &SchemaRef,
    rt: &ResourceType,
    config: &Value,
    manager: &str,
) -> Result<Value, ApiError> {
    let walker = Walker {
        schema: schema.get(),
    };
    let root = root_type(schema.get(), rt);
    let mut obj = config.clone();
    if rt.has_status {
        obj.as_object_mut().map(|m| m.remove("status"));
    }
    let set: FieldSet = walker
        .leaves(&tracked(rt, &obj, ""), root)
        .into_keys()
        .collect();
    let mut entries = Vec::new();
    let me = managers::entry_mut(
        &mut entries,
        manager,
        Operation::Apply,
        &rt.api_version(),
        "",
    );
    me.fields = set;
    me.time = crate::meta::now();
    managers::write(&mut obj, entries);
    Ok(obj)
}

fn conflict_error(conflicts: &BTreeMap<String, Vec<Path>>) -> ApiError {
    let total: usize = conflicts.values().map(Vec::len).sum();
    let mut causes = Vec::new();
    let mut parts = Vec::new();
    for (who, paths) in conflicts {
        for p in paths {
            causes.push(Cause::new(
                "FieldManagerConflict",
                format!("conflict with {who}"),
                path::display(p),
            ));
        }
        let list: Vec<String> = paths
            .iter()
            .map(|p| format!("- {}", path::display(p)))
            .collect();
        parts.push(format!("conflicts with {who}:\n{}", list.join("\n")));
    }
    let message = if total == 1 {
        let (who, paths) = conflicts
            .iter()
            .next()
            .map(|(w, p)| (w.clone(), p.clone()))
            .unwrap_or_default();
        format!(
            "Apply failed with 1 conflict: conflict with {who}: {}",
            paths.first().map(path::display).unwrap_or_default()
        )
    } else {
        format!("Apply failed with {total} conflicts: {}", parts.join("\n"))
    };
    ApiError::apply_conflict(message, causes)
}

/// Applies `config` for `manager` onto `live` and returns the new object with its managedFields.
pub fn apply(
    schema: &SchemaRef,
    rt: &ResourceType,
    live: &Value,
    config: &Value,
    manager: &str,
    force: bool,
    sub: &str,
) -> Result<Value, ApiError> {
    let walker = Walker {
        schema: schema.get(),
    };
    let root = root_type(schema.get(), rt);
    let cfg = tracked(rt, config, sub);
    let new_set: FieldSet = walker.leaves(&cfg, root).into_keys().collect();
    let mut entries = managers::read(live);
    if entries.is_empty() {
        let fields: FieldSet = walker
            .leaves(&tracked(rt, live, sub), root)
            .into_keys()
            .collect();
        if !fields.is_empty() {
            entries.push(Entry {
                manager: BEFORE_FIRST_APPLY.to_string(),
                operation: Operation::Update,
                api_version: rt.api_version(),
                time: crate::meta::now(),
                subresource: sub.to_string(),
                fields,
            });
        }
    }
    let last_set: FieldSet = entries
        .iter()
        .find(|e| e.manager == manager && e.operation == Operation::Apply && e.subresource == sub)
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let mut merged = walker.merge(live, &cfg, root);
    // Prune what this manager applied before but no longer does, unless someone else owns it.
    let others_own = |p: &Path, entries: &[Entry]| {
        entries.iter().any(|e| {
            !(e.manager == manager && e.operation == Operation::Apply && e.subresource == sub)
                && e.fields.contains(p)
        })
    };
    let dropped: Vec<Path> = last_set
        .difference(&new_set)
        .filter(|p| !others_own(p, &entries))
        .cloned()
        .collect();
    for p in &dropped {
        walker.remove(&mut merged, p, root);
    }
    let before = walker.leaves(&tracked(rt, live, sub), root);
    let after = walker.leaves(&tracked(rt, &merged, sub), root);
    let changed: FieldSet = after
        .iter()
        .filter(|(p, v)| before.get(*p) != Some(*v))
        .map(|(p, _)| p.clone())
        .collect();
    let removed: FieldSet = before
        .keys()
        .filter(|p| !after.contains_key(*p))
        .cloned()
        .collect();
    let mut conflicts: BTreeMap<String, Vec<Path>> = BTreeMap::new();
    for e in &entries {
        if e.manager == manager && e.operation == Operation::Apply && e.subresource == sub {
            continue;
        }
        let hits: Vec<Path> = e.fields.intersection(&changed).cloned().collect();
        if !hits.is_empty() {
            conflicts.entry(e.describe()).or_default().extend(hits);
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflict_error(&conflicts));
    }
    for e in entries.iter_mut() {
        if e.manager == manager && e.operation == Operation::Apply && e.subresource == sub {
            continue;
        }
        e.fields.retain(|p| {
            !(removed.iter().any(|r| path::under(p, r)) || (force && changed.contains(p)))
        });
    }
    let me = managers::entry_mut(
        &mut entries,
        manager,
        Operation::Apply,
        &rt.api_version(),
        sub,
    );
    let unchanged_entry = me.fields == new_set;
    me.fields = new_set;
    if !unchanged_entry || !changed.is_empty() || !removed.is_empty() {
        me.time = crate::meta::now();
    }
    let mut out = merged;
    managers::write(&mut out, entries);
    Ok(out)
}
