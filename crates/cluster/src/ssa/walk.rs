//! Schema-driven walks over objects: the leaf values of an object (its field set with values),
//! the apply merge, and removal of one path.

use std::collections::BTreeMap;

use fjord_merge::{FieldInfo, ListType, Schema, TypeId};
use serde_json::{Map, Value};

use super::path::Path;

/// A walker over one schema.
pub struct Walker<'a> {
    /// The schema table.
    pub schema: &'a Schema,
}

/// What is known about a value's position.
#[derive(Clone, Copy)]
pub(super) struct Slot<'a> {
    /// The field facts, if the schema knows the field.
    info: Option<&'a FieldInfo>,
    /// The struct type of the value itself (list items: the element type).
    pub(super) ty: Option<TypeId>,
    /// Whether this value is a list element (so list facts do not apply to it).
    element: bool,
}

fn key_elem(item: &Value, keys: &[String], defaults: &[(String, String)]) -> Option<String> {
    let obj = item.as_object()?;
    let mut sorted: Vec<&String> = keys.iter().collect();
    sorted.sort();
    let mut m = Map::new();
    for k in sorted {
        let v = match obj.get(k) {
            Some(v) => v.clone(),
            None => Value::String(defaults.iter().find(|(dk, _)| dk == k)?.1.clone()),
        };
        m.insert(k.clone(), v);
    }
    Some(format!("k:{}", Value::Object(m)))
}

/// A list item's key as structured-merge-diff prints it: `[name="c"]`,
/// `[containerPort=80,protocol="TCP"]` (fields sorted).
fn key_label(item: &Value, keys: &[String], defaults: &[(String, String)]) -> Option<String> {
    let obj = item.as_object()?;
    let mut sorted: Vec<&String> = keys.iter().collect();
    sorted.sort();
    let mut parts = Vec::new();
    for k in sorted {
        let v = match obj.get(k) {
            Some(v) => v.clone(),
            None => Value::String(defaults.iter().find(|(dk, _)| dk == k)?.1.clone()),
        };
        parts.push(format!("{k}={v}"));
    }
    Some(format!("[{}]", parts.join(",")))
}

impl<'a> Walker<'a> {
    pub(super) fn field_slot(&self, ty: Option<TypeId>, name: &str) -> Slot<'a> {
        let info = ty.and_then(|t| self.schema.field(t, name));
        Slot {
            info,
            ty: info.and_then(|i| i.ty),
            element: false,
        }
    }

    pub(super) fn atomic_map(&self, slot: Slot<'a>) -> bool {
        (!slot.element && slot.info.is_some_and(|i| i.map_atomic))
            || slot
                .ty
                .and_then(|t| self.schema.type_def(t))
                .is_some_and(|d| d.atomic)
    }

    pub(super) fn list_type(&self, slot: Slot<'a>) -> ListType {
        match slot.info {
            Some(i) if i.is_list && !slot.element => i.list.clone(),
            _ => ListType::Atomic,
        }
    }

    pub(super) fn item_slot(&self, slot: Slot<'a>) -> Slot<'a> {
        Slot {
            info: slot.info,
            ty: slot.ty,
            element: true,
        }
    }

    /// The key element of each item of a keyed list (None if an item lacks a key: treat atomic).
    pub(super) fn item_keys(&self, items: &[Value], lt: &ListType) -> Option<Vec<String>> {
        match lt {
            ListType::Map { keys, defaults } => {
                items.iter().map(|i| key_elem(i, keys, defaults)).collect()
            }
            ListType::Set => Some(items.iter().map(|i| format!("v:{i}")).collect()),
            ListType::Atomic => None,
        }
    }

    /// Every member path of `obj` (a root object of type `root`) with its value; list-map items
    /// are members too (with a `null` marker value).
    pub fn leaves(&self, obj: &Value, root: Option<TypeId>) -> BTreeMap<Path, Value> {
        let mut out = BTreeMap::new();
        if let Some(m) = obj.as_object() {
            self.walk_map(m, root, &mut Vec::new(), &mut out);
        }
        out
    }

    /// The paths of `obj`'s nodes below `metadata` and the other top-level fields: non-empty
    /// maps and associative lists and their items (what an update removes with everything
    /// under it when they go).
    pub fn nodes(&self, obj: &Value, root: Option<TypeId>) -> std::collections::BTreeSet<Path> {
        let mut out = std::collections::BTreeSet::new();
        if let Some(m) = obj.as_object() {
            for (k, v) in m.iter().filter(|(k, _)| *k != "metadata") {
                let mut path = vec![format!("f:{k}")];
                self.nodes_value(v, self.field_slot(root, k), &mut path, &mut out);
            }
            if let Some(meta) = m.get("metadata").and_then(Value::as_object) {
                let mty = self.field_slot(root, "metadata").ty;
                for (k, v) in meta {
                    let mut path = vec!["f:metadata".to_string(), format!("f:{k}")];
                    self.nodes_value(v, self.field_slot(mty, k), &mut path, &mut out);
                }
            }
        }
        out
    }

    fn nodes_value(
        &self,
        v: &Value,
        slot: Slot<'a>,
        path: &mut Path,
        out: &mut std::collections::BTreeSet<Path>,
    ) {
        match v {
            Value::Object(m) if !m.is_empty() && !self.atomic_map(slot) => {
                out.insert(path.clone());
                for (k, child) in m {
                    path.push(format!("f:{k}"));
                    self.nodes_value(child, self.field_slot(slot.ty, k), path, out);
                    path.pop();
                }
            }
            Value::Array(items) => {
                let lt = self.list_type(slot);
                let Some(keys) = self.item_keys(items, &lt) else {
                    return;
                };
                if !items.is_empty() {
                    out.insert(path.clone());
                }
                let islot = self.item_slot(slot);
                for (item, key) in items.iter().zip(keys) {
                    if let (Value::Object(m), false) = (item, self.atomic_map(islot)) {
                        path.push(key);
                        for (k, child) in m {
                            path.push(format!("f:{k}"));
                            self.nodes_value(child, self.field_slot(islot.ty, k), path, out);
                            path.pop();
                        }
                        path.pop();
                    }
                }
            }
            _ => {}
        }
    }

    fn walk_map(
        &self,
        m: &Map<String, Value>,
        ty: Option<TypeId>,
        path: &mut Path,
        out: &mut BTreeMap<Path, Value>,
    ) {
        for (k, v) in m {
            path.push(format!("f:{k}"));
            self.walk_value(v, self.field_slot(ty, k), path, out);
            path.pop();
        }
    }

    fn walk_value(
        &self,
        v: &Value,
        slot: Slot<'a>,
        path: &mut Path,
        out: &mut BTreeMap<Path, Value>,
    ) {
        match v {
            Value::Object(m) if !m.is_empty() && !self.atomic_map(slot) => {
                self.walk_map(m, slot.ty, path, out)
            }
            Value::Array(items) => {
                let lt = self.list_type(slot);
                match self.item_keys(items, &lt) {
                    Some(keys) => {
                        for (item, key) in items.iter().zip(keys) {
                            path.push(key);
                            if matches!(lt, ListType::Set) {
                                out.insert(path.clone(), item.clone());
                            } else {
                                out.insert(path.clone(), Value::Null);
                                let islot = self.item_slot(slot);
                                if let (Value::Object(m), false) = (item, self.atomic_map(islot)) {
                                    self.walk_map(m, islot.ty, path, out);
                                } else {
                                    out.insert(path.clone(), item.clone());
                                }
                            }
                            path.pop();
                        }
                    }
                    None => {
                        out.insert(path.clone(), v.clone());
                    }
                }
            }
            _ => {
                out.insert(path.clone(), v.clone());
            }
        }
    }

    /// Duplicate keys in the associative lists of `obj`, as structured-merge-diff reports them
    /// (`.spec.containers[name="c"].env: duplicate entries for key [name="A"]`).
    pub fn duplicates(&self, obj: &Value, root: Option<TypeId>) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(m) = obj.as_object() {
            self.dups_map(m, root, "", &mut out);
        }
        out
    }

    fn dups_map(
        &self,
        m: &Map<String, Value>,
        ty: Option<TypeId>,
        at: &str,
        out: &mut Vec<String>,
    ) {
        for (k, v) in m {
            self.dups_value(v, self.field_slot(ty, k), &format!("{at}.{k}"), out);
        }
    }

    fn dups_value(&self, v: &Value, slot: Slot<'a>, at: &str, out: &mut Vec<String>) {
        match v {
            Value::Object(m) if !self.atomic_map(slot) => self.dups_map(m, slot.ty, at, out),
            Value::Array(items) => {
                let ListType::Map { keys, defaults } = self.list_type(slot) else {
                    return;
                };
                let islot = self.item_slot(slot);
                let mut seen: Vec<String> = Vec::new();
                let mut reported: Vec<String> = Vec::new();
                for item in items {
                    let Some(label) = key_label(item, &keys, &defaults) else {
                        continue;
                    };
                    if seen.contains(&label) {
                        if !reported.contains(&label) {
                            out.push(format!("{at}: duplicate entries for key {label}"));
                            reported.push(label);
                        }
                        continue;
                    }
                    if let Value::Object(m) = item {
                        if !self.atomic_map(islot) {
                            self.dups_map(m, islot.ty, &format!("{at}{label}"), out);
                        }
                    }
                    seen.push(label);
                }
            }
            _ => {}
        }
    }

    /// Merges an apply configuration into the live object: the configuration wins for every field
    /// it mentions; maps merge per key, list-maps per item, sets by union, the rest is replaced.
    pub fn merge(&self, live: &Value, config: &Value, root: Option<TypeId>) -> Value {
        self.merge_value(
            Some(live),
            config,
            Slot {
                info: None,
                ty: root,
                element: true,
            },
        )
    }

    fn merge_value(&self, live: Option<&Value>, cfg: &Value, slot: Slot<'a>) -> Value {
        match cfg {
            Value::Object(cm) if !self.atomic_map(slot) => {
                let mut out = match live {
                    Some(Value::Object(lm)) => lm.clone(),
                    _ => Map::new(),
                };
                for (k, cv) in cm {
                    let merged = self.merge_value(out.get(k), cv, self.field_slot(slot.ty, k));
                    out.insert(k.clone(), merged);
                }
                Value::Object(out)
            }
            Value::Array(citems) => {
                let lt = self.list_type(slot);
                let litems = match live {
                    Some(Value::Array(l)) => l.clone(),
                    _ => Vec::new(),
                };
                let (Some(ckeys), Some(lkeys)) =
                    (self.item_keys(citems, &lt), self.item_keys(&litems, &lt))
                else {
                    return cfg.clone();
                };
                let islot = self.item_slot(slot);
                let mut out: Vec<Value> = Vec::new();
                for (li, lk) in litems.iter().zip(&lkeys) {
                    match ckeys.iter().position(|ck| ck == lk) {
                        Some(ci) if !matches!(lt, ListType::Set) => {
                            out.push(self.merge_value(Some(li), &citems[ci], islot))
                        }
                        _ => out.push(li.clone()),
                    }
                }
                for (ci, ck) in citems.iter().zip(&ckeys) {
                    if !lkeys.contains(ck) {
                        out.push(ci.clone());
                    }
                }
                Value::Array(out)
            }
            _ => cfg.clone(),
        }
    }

    /// Removes the value at `path` from `obj`; maps emptied by the removal are removed too.
    pub fn remove(&self, obj: &mut Value, path: &[String], root: Option<TypeId>) {
        self.remove_in(
            obj,
            path,
            Slot {
                info: None,
                ty: root,
                element: true,
            },
        );
    }

    fn remove_in(&self, v: &mut Value, path: &[String], slot: Slot<'a>) -> bool {
        let Some((head, rest)) = path.split_first() else {
            return false;
        };
        match v {
            Value::Object(m) => {
                let Some(name) = head.strip_prefix("f:") else {
                    return false;
                };
                if rest.is_empty() {
                    return m.remove(name).is_some();
                }
                let cslot = self.field_slot(slot.ty, name);
                let Some(child) = m.get_mut(name) else {
                    return false;
                };
                let removed = self.remove_in(child, rest, cslot);
                if removed && child.as_object().is_some_and(Map::is_empty) {
                    m.remove(name);
                }
                removed
            }
            Value::Array(items) => {
                let lt = self.list_type(slot);
                let Some(keys) = self.item_keys(items, &lt) else {
                    return false;
                };
                let Some(idx) = keys.iter().position(|k| k == head) else {
                    return false;
                };
                if rest.is_empty() {
                    items.remove(idx);
                    return true;
                }
                self.remove_in(&mut items[idx], rest, self.item_slot(slot))
            }
            _ => false,
        }
    }
}
