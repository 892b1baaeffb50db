//! Text helpers the Table printers share: the column tuple, label maps and label selectors.

use serde_json::{json, Value};

use super::s;

/// One column: name, OpenAPI type, priority (0 = always shown, 1 = `-o wide`).
pub(super) type Col = (String, String, u32);

/// Prints one kind's Table row: its columns and `obj`'s cells, given the object's name and age
/// cells.
pub(super) type Printer = fn(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>);

/// The kinds a module prints: (group, kind, printer).
pub(super) type Printers = &'static [(&'static str, &'static str, Printer)];

fn labels(map: Option<&Value>) -> Vec<(String, String)> {
    map.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), format!("{k}={v}"))))
                .collect()
        })
        .unwrap_or_default()
}

fn none_if_empty(mut parts: Vec<(String, String)>) -> String {
    if parts.is_empty() {
        return "<none>".into();
    }
    parts.sort();
    parts
        .into_iter()
        .map(|(_, p)| p)
        .collect::<Vec<_>>()
        .join(",")
}

/// Labels as `k=v,...` sorted by key, or `<none>`.
pub(super) fn labels_text(map: Option<&Value>) -> String {
    none_if_empty(labels(map))
}

/// A label selector (`matchLabels` and `matchExpressions`) as `k=v,k in (a,b)`, sorted by key.
pub(super) fn label_selector(sel: Option<&Value>) -> String {
    let Some(sel) = sel else {
        return "<none>".into();
    };
    let mut parts = labels(sel.get("matchLabels"));
    for e in sel["matchExpressions"].as_array().into_iter().flatten() {
        let key = s(e, "/key");
        let values: Vec<String> = e["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        let text = match e["operator"].as_str() {
            Some("In") => format!("{key} in ({})", values.join(",")),
            Some("NotIn") => format!("{key} notin ({})", values.join(",")),
            Some("DoesNotExist") => format!("!{key}"),
            _ => key.clone(),
        };
        parts.push((key, text));
    }
    none_if_empty(parts)
}

/// Access modes in their short spelling (`RWO,ROX`).
pub(super) fn access_modes(modes: Option<&Value>) -> Value {
    let short: Vec<&str> = modes
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|m| match m {
            "ReadWriteOnce" => "RWO",
            "ReadOnlyMany" => "ROX",
            "ReadWriteMany" => "RWX",
            "ReadWriteOncePod" => "RWOP",
            other => other,
        })
        .collect();
    json!(short.join(","))
}

/// A kind as object references print it (lower case).
pub(super) fn lowered_kind(kind: &str) -> String {
    kind.to_ascii_lowercase()
}
