//! `metadata.managedFields` entries: reading, finding or creating one, writing back.

use serde_json::{json, Value};

use super::path::{self, FieldSet};

/// `operation` of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Server-side apply.
    Apply,
    /// Any other write.
    Update,
}

/// One managedFields entry.
#[derive(Debug, Clone)]
pub struct Entry {
    /// `manager`.
    pub manager: String,
    /// `operation`.
    pub operation: Operation,
    /// `apiVersion`.
    pub api_version: String,
    /// `time`.
    pub time: String,
    /// `subresource` (empty for the main resource).
    pub subresource: String,
    /// The owned fields.
    pub fields: FieldSet,
}

impl Entry {
    /// How conflict messages name the manager.
    pub fn describe(&self) -> String {
        let mut s = format!("\"{}\"", self.manager);
        if self.operation == Operation::Update {
            s.push_str(&format!(" using {}", self.api_version));
        }
        if !self.subresource.is_empty() {
            s.push_str(&format!(" with subresource \"{}\"", self.subresource));
        }
        s
    }
}

/// Reads an object's managedFields.
pub fn read(obj: &Value) -> Vec<Entry> {
    obj.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|e| {
                    Some(Entry {
                        manager: e["manager"].as_str()?.to_string(),
                        operation: if e["operation"] == "Apply" {
                            Operation::Apply
                        } else {
                            Operation::Update
                        },
                        api_version: e["apiVersion"].as_str().unwrap_or("").to_string(),
                        time: e["time"].as_str().unwrap_or("").to_string(),
                        subresource: e["subresource"].as_str().unwrap_or("").to_string(),
                        fields: path::decode(&e["fieldsV1"]),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The entry for (manager, operation, subresource[, apiVersion for updates]), created if missing.
pub fn entry_mut<'a>(
    entries: &'a mut Vec<Entry>,
    manager: &str,
    op: Operation,
    api_version: &str,
    sub: &str,
) -> &'a mut Entry {
    let pos = entries.iter().position(|e| {
        e.manager == manager
            && e.operation == op
            && e.subresource == sub
            && (op == Operation::Apply || e.api_version == api_version)
    });
    let idx = match pos {
        Some(i) => i,
        None => {
            entries.push(Entry {
                manager: manager.to_string(),
                operation: op,
                api_version: api_version.to_string(),
                time: String::new(),
                subresource: sub.to_string(),
                fields: FieldSet::new(),
            });
            entries.len() - 1
        }
    };
    entries[idx].api_version = api_version.to_string();
    &mut entries[idx]
}

/// Orders entries as the real server encodes them: Apply before Update, then by time (to the
/// second), manager, apiVersion and subresource.
pub fn sort(entries: &mut [Entry]) {
    entries.sort_by(|a, b| {
        let op = |e: &Entry| e.operation == Operation::Update;
        op(a)
            .cmp(&op(b))
            .then_with(|| a.time.cmp(&b.time))
            .then_with(|| a.manager.cmp(&b.manager))
            .then_with(|| a.api_version.cmp(&b.api_version))
            .then_with(|| a.subresource.cmp(&b.subresource))
    });
}

/// Writes entries back (dropping empty ones; removing the key when none remain), in the real
/// server's order ([`sort`]), and puts the metadata keys in the real server's order.
pub fn write(obj: &mut Value, mut entries: Vec<Entry>) {
    sort(&mut entries);
    let list: Vec<Value> = entries
        .into_iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            let mut v = json!({
                "manager": e.manager,
                "operation": if e.operation == Operation::Apply { "Apply" } else { "Update" },
                "apiVersion": e.api_version,
                "time": e.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": path::encode(&e.fields),
            });
            if !e.subresource.is_empty() {
                v["subresource"] = json!(e.subresource);
            }
            v
        })
        .collect();
    let md = crate::meta::metadata_mut(obj);
    if list.is_empty() {
        md.remove("managedFields");
    } else {
        md.insert("managedFields".into(), Value::Array(list));
    }
    crate::metadata_json::canonical_order(obj);
}

/// The manager older Update entries are merged into once there are too many.
pub const ANCIENT_CHANGES: &str = "ancient-changes";

/// Caps the number of Update entries at `max`: the oldest ones (by time, then position) are
/// merged into one `ancient-changes` Update entry per apiVersion, keeping the newer time.
pub fn cap_updates(entries: &mut Vec<Entry>, max: usize) {
    loop {
        let updates = entries
            .iter()
            .filter(|e| e.operation == Operation::Update)
            .count();
        if updates <= max {
            return;
        }
        let oldest = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.operation == Operation::Update && e.manager != ANCIENT_CHANGES)
            .min_by(|(i, a), (j, b)| a.time.cmp(&b.time).then(i.cmp(j)))
            .map(|(i, _)| i);
        let Some(idx) = oldest else { return };
        let old = entries.remove(idx);
        let bucket = entries.iter_mut().find(|e| {
            e.manager == ANCIENT_CHANGES
                && e.operation == Operation::Update
                && e.api_version == old.api_version
                && e.subresource == old.subresource
        });
        match bucket {
            Some(b) => {
                b.fields.extend(old.fields);
                if old.time > b.time {
                    b.time = old.time;
                }
            }
            None => entries.push(Entry {
                manager: ANCIENT_CHANGES.to_string(),
                ..old
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(manager: &str, time: &str, field: &str) -> Entry {
        Entry {
            manager: manager.into(),
            operation: Operation::Update,
            api_version: "v1".into(),
            time: time.into(),
            subresource: String::new(),
            fields: [vec![format!("f:{field}")]].into_iter().collect(),
        }
    }

    #[test]
    fn oldest_updates_merge_into_ancient_changes() {
        let mut entries: Vec<Entry> = (0..12)
            .map(|i| {
                update(
                    &format!("m{i}"),
                    &format!("2026-01-01T00:00:{i:02}Z"),
                    &format!("x{i}"),
                )
            })
            .collect();
        entries.push(Entry {
            operation: Operation::Apply,
            ..update("applier", "2025-01-01T00:00:00Z", "a")
        });
        cap_updates(&mut entries, 10);
        let updates: Vec<&Entry> = entries
            .iter()
            .filter(|e| e.operation == Operation::Update)
            .collect();
        assert_eq!(updates.len(), 10);
        let ancient = updates
            .iter()
            .find(|e| e.manager == ANCIENT_CHANGES)
            .expect("bucket");
        // m0, m1 and m2 went into the bucket (creating it does not lower the count).
        assert_eq!(ancient.fields.len(), 3);
        assert_eq!(ancient.time, "2026-01-01T00:00:02Z");
        assert!(!entries.iter().any(|e| e.manager == "m2"));
        assert!(entries.iter().any(|e| e.manager == "m3"));
        assert!(entries.iter().any(|e| e.manager == "applier"));
    }

    #[test]
    fn entries_are_written_apply_first_then_by_time_and_manager() {
        let mut obj = serde_json::json!({"metadata": {}});
        let entries = vec![
            update("b", "2026-01-01T00:00:01Z", "x"),
            update("a", "2026-01-01T00:00:01Z", "y"),
            update("c", "2026-01-01T00:00:00Z", "z"),
            Entry {
                operation: Operation::Apply,
                ..update("dry", "2026-01-01T00:00:09Z", "w")
            },
        ];
        write(&mut obj, entries);
        let order: Vec<&str> = obj["metadata"]["managedFields"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["manager"].as_str())
            .collect();
        assert_eq!(order, ["dry", "c", "a", "b"]);
    }
}
