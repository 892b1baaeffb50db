//! Deciding, without asking the server, that a server-side apply would change nothing.
//!
//! A no-op diff or sync of N objects would otherwise cost N dry runs. When the live object's
//! `managedFields` show that fjord's last apply (field manager [`crate::FIELD_MANAGER`],
//! operation `Apply`, the same apiVersion) owned only fields the target still sets, and every
//! value the target sets is already the live value, applying the target again (with `force`)
//! leaves the object's content as it is: nothing fjord owned is removed, nothing it sets
//! differs. Anything else — a value in another form than the server stores it (`0.5` for
//! `500m`), a field fjord no longer sets, a reordered list, a `null` — is left to the dry run.

use serde_json::{Map, Value};

/// Whether server-side applying `target` as `manager` (forced) keeps `live`'s content.
/// `false` means "ask the server", never "it changes".
pub(crate) fn apply_keeps_live(live: &Value, target: &Value, manager: &str) -> bool {
    let Some(api_version) = target.get("apiVersion").and_then(Value::as_str) else {
        return false;
    };
    let Some(owned) = own_fields(live, manager, api_version) else {
        return false;
    };
    contained(target, live) && covers(owned, target, live)
}

/// The FieldsV1 set of `manager`'s only `Apply` entry, when it was made with `api_version`
/// on the main resource.
fn own_fields<'a>(
    live: &'a Value,
    manager: &str,
    api_version: &str,
) -> Option<&'a Map<String, Value>> {
    let entries = live.pointer("/metadata/managedFields")?.as_array()?;
    let mut own = entries.iter().filter(|e| {
        e.get("manager").and_then(Value::as_str) == Some(manager)
            && e.get("operation").and_then(Value::as_str) == Some("Apply")
    });
    let entry = own.next()?;
    let main = entry
        .get("subresource")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty);
    let same_version = entry.get("apiVersion").and_then(Value::as_str) == Some(api_version);
    if !main || !same_version || own.next().is_some() {
        return None;
    }
    entry.get("fieldsV1")?.as_object()
}

/// Whether every value `target` sets is `live`'s value there: maps key by key, lists of the
/// same length item by item (maps inside them the same way), anything else equal. A `null`
/// in the target (a request to remove) is never contained.
fn contained(target: &Value, live: &Value) -> bool {
    match (target, live) {
        (Value::Null, _) => false,
        (Value::Object(t), Value::Object(l)) => t
            .iter()
            .all(|(k, v)| l.get(k).is_some_and(|w| contained(v, w))),
        (Value::Array(t), Value::Array(l)) => {
            t.len() == l.len()
                && t.iter().zip(l).all(|(a, b)| match a {
                    Value::Object(_) => contained(a, b),
                    _ => a == b,
                })
        }
        _ => target == live,
    }
}

/// Whether every field of the FieldsV1 tree `owned` (resolved in `live`) is set by `target`
/// too, `target` being [`contained`] in `live` (so list items pair up by position).
fn covers(owned: &Map<String, Value>, target: &Value, live: &Value) -> bool {
    owned.iter().all(|(key, sub)| {
        if key == "." {
            return true;
        }
        let Some((t, l)) = step(key, target, live) else {
            return false;
        };
        match sub.as_object() {
            Some(children) => covers(children, t, l),
            None => true,
        }
    })
}

/// The nodes FieldsV1 key `key` leads to in `target` and in `live`.
fn step<'a>(key: &str, target: &'a Value, live: &'a Value) -> Option<(&'a Value, &'a Value)> {
    if let Some(name) = key.strip_prefix("f:") {
        return Some((target.get(name)?, live.get(name)?));
    }
    let (t_items, l_items) = (target.as_array()?, live.as_array()?);
    let index = if let Some(json) = key.strip_prefix("k:") {
        // The key names the live item; the target's item at the same place must not contradict
        // it. A key field the target leaves out was defaulted by the server (a port's
        // `protocol`): the live item, which contains the target's, has it.
        let keys: Map<String, Value> = serde_json::from_str(json).ok()?;
        let i = l_items.iter().position(|item| {
            keys.iter()
                .all(|(k, v)| item.get(k).is_some_and(|w| fjord_diff::json_eq(v, w)))
        })?;
        let t_item = t_items.get(i)?.as_object()?;
        keys.iter()
            .all(|(k, v)| t_item.get(k).is_none_or(|w| fjord_diff::json_eq(v, w)))
            .then_some(i)?
    } else if let Some(json) = key.strip_prefix("v:") {
        let want: Value = serde_json::from_str(json).ok()?;
        t_items
            .iter()
            .position(|item| fjord_diff::json_eq(item, &want))?
    } else {
        key.strip_prefix("i:")?.parse().ok()?
    };
    Some((t_items.get(index)?, l_items.get(index)?))
}

#[cfg(test)]
#[path = "unchanged_tests.rs"]
mod tests;
