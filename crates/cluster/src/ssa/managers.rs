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

/// Writes entries back (dropping empty ones; removing the key when none remain).
pub fn write(obj: &mut Value, entries: Vec<Entry>) {
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
}
