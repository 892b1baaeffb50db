//! Normalizing a response so that two servers' answers compare: values that differ by nature
//! (uids, resourceVersions, timestamps, generated names' suffixes, cluster IPs, OpenAPI hashes,
//! ages in tables) become placeholders. Equal values within one response keep equal
//! placeholders (ordinals in order of appearance), so "this RV equals that RV" still compares.

use std::collections::HashMap;

use serde_json::Value;

/// Parses a body: one JSON document, or a stream of them (watch), or text.
pub fn parse_body(body: &str) -> Value {
    let trimmed = body.trim();
    if trimmed.is_empty() {
        return Value::Null;
    }
    if let Ok(v) = serde_json::from_str::<Value>(trimmed) {
        return v;
    }
    let docs: Result<Vec<Value>, _> = serde_json::Deserializer::from_str(trimmed)
        .into_iter::<Value>()
        .collect();
    match docs {
        Ok(d) => Value::Array(d),
        Err(_) => Value::String(trimmed.to_string()),
    }
}

#[derive(Default)]
struct Ordinals {
    rv: HashMap<String, usize>,
    uid: HashMap<String, usize>,
}

impl Ordinals {
    fn rv(&mut self, v: &str) -> String {
        let n = self.rv.len() + 1;
        format!("<rv{}>", self.rv.entry(v.to_string()).or_insert(n))
    }
    fn uid(&mut self, v: &str) -> String {
        let n = self.uid.len() + 1;
        format!("<uid{}>", self.uid.entry(v.to_string()).or_insert(n))
    }
}

/// Normalizes a parsed response in place.
pub fn normalize(v: &mut Value) {
    let mut ord = Ordinals::default();
    walk(v, &mut ord);
}

fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && s.ends_with('Z')
        && b[..4].iter().all(u8::is_ascii_digit)
}

fn is_uuid(b: &[u8]) -> bool {
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn has_uuid(s: &str) -> bool {
    s.as_bytes().windows(36).any(is_uuid)
}

/// Replaces every uuid inside `s` by its ordinal placeholder.
fn uuids_out(s: &str, ord: &mut Ordinals) -> String {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        if i + 36 <= b.len() && is_uuid(&b[i..i + 36]) {
            out.push_str(&ord.uid(&s[i..i + 36]));
            i += 36;
        } else {
            let c = s[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

fn digits_out(s: &str) -> String {
    let mut out = String::new();
    let mut in_digits = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('N');
            }
            in_digits = true;
        } else {
            in_digits = false;
            out.push(c);
        }
    }
    out
}

/// Orders `managedFields` entries as the server does but without their times: by operation,
/// manager, apiVersion and subresource. Both servers sort same-operation entries by the second
/// each was written in, and whether two steps of the corpus fall in one second differs by nature
/// (a loaded machine slows the real server); within a second both sort by manager name.
fn managed_fields_by_name(map: &mut serde_json::Map<String, Value>) {
    let Some(Value::Array(entries)) = map.get_mut("managedFields") else {
        return;
    };
    let key = |e: &Value| {
        ["operation", "manager", "apiVersion", "subresource"]
            .map(|f| e.get(f).and_then(Value::as_str).unwrap_or("").to_string())
    };
    entries.sort_by_key(key);
}

fn walk(v: &mut Value, ord: &mut Ordinals) {
    match v {
        Value::Object(map) => {
            if map.get("kind").and_then(Value::as_str) == Some("Table") {
                blank_age_cells(map);
            }
            generated_name(map);
            managed_fields_by_name(map);
            // A list's own resourceVersion is the store's revision when it was read, which
            // background writes on the real server move: it keeps no relation to the items'.
            if map.contains_key("items") || map.contains_key("rows") {
                if let Some(Value::String(rv)) = map
                    .get_mut("metadata")
                    .and_then(|m| m.get_mut("resourceVersion"))
                {
                    *rv = "<list-rv>".into();
                }
            }
            // Likewise a bookmark's resourceVersion: the store's revision when it was sent.
            if map.get("type").and_then(Value::as_str) == Some("BOOKMARK") {
                if let Some(Value::String(rv)) = map
                    .get_mut("object")
                    .and_then(|o| o.get_mut("metadata"))
                    .and_then(|m| m.get_mut("resourceVersion"))
                {
                    *rv = "<list-rv>".into();
                }
            }
            if map.keys().any(|k| has_uuid(k)) {
                let old = std::mem::take(map);
                for (k, val) in old {
                    let k = if has_uuid(&k) { uuids_out(&k, ord) } else { k };
                    map.insert(k, val);
                }
            }
            for (k, val) in map.iter_mut() {
                match (k.as_str(), &*val) {
                    ("resourceVersion", Value::String(s)) if !s.is_empty() && s != "<list-rv>" => {
                        *val = Value::String(ord.rv(s))
                    }
                    ("uid", Value::String(s)) if !has_uuid(s) => *val = Value::String(ord.uid(s)),
                    ("continue", Value::String(s)) if !s.is_empty() => {
                        *val = Value::String("<continue>".into())
                    }
                    ("clusterIP", Value::String(s)) if s != "None" => {
                        *val = Value::String("<ip>".into())
                    }
                    ("clusterIPs", Value::Array(_)) => *val = Value::String("<ips>".into()),
                    ("serverRelativeURL", Value::String(s)) => {
                        let base = s.split('?').next().unwrap_or_default().to_string();
                        *val = Value::String(base)
                    }
                    ("message", Value::String(s)) if s.contains("resource version") => {
                        *val = Value::String(digits_out(s))
                    }
                    ("serverAddress", Value::String(_)) => *val = Value::String("<addr>".into()),
                    (_, Value::String(s)) if is_timestamp(s) => {
                        *val = Value::String("<time>".into())
                    }
                    (_, Value::String(s)) if has_uuid(s) => *val = Value::String(uuids_out(s, ord)),
                    _ => walk(val, ord),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| walk(i, ord)),
        _ => {}
    }
}

/// `metadata.name` made from `generateName` keeps the prefix only.
fn generated_name(map: &mut serde_json::Map<String, Value>) {
    let Some(prefix) = map
        .get("generateName")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return;
    };
    if let Some(Value::String(name)) = map.get_mut("name") {
        if name.starts_with(&prefix) && name.len() > prefix.len() {
            *name = format!("{prefix}<suffix>");
        }
    }
}

/// The `Age` column of a Table is a duration that depends on timing.
fn blank_age_cells(map: &mut serde_json::Map<String, Value>) {
    let Some(cols) = map.get("columnDefinitions").and_then(Value::as_array) else {
        return;
    };
    let ages: Vec<usize> = cols
        .iter()
        .enumerate()
        .filter(|(_, c)| c["name"] == "Age")
        .map(|(i, _)| i)
        .collect();
    if let Some(Value::Array(rows)) = map.get_mut("rows") {
        for row in rows {
            if let Some(Value::Array(cells)) = row.get_mut("cells") {
                for &i in &ages {
                    if let Some(c) = cells.get_mut(i) {
                        *c = Value::String("<age>".into());
                    }
                }
            }
        }
    }
}

/// One difference between two normalized responses, at a path
/// (`/a/b/0`, list elements with a name as `/items/[name]`).
#[derive(Debug, Clone)]
pub struct Difference {
    /// Where.
    pub path: String,
    /// The real server's value (`<absent>` when missing).
    pub real: String,
    /// The local server's value.
    pub local: String,
}

fn show(v: Option<&Value>) -> String {
    match v {
        None => "<absent>".into(),
        Some(v) => {
            let s = v.to_string();
            if s.chars().count() > 240 {
                format!("{}…", s.chars().take(240).collect::<String>())
            } else {
                s
            }
        }
    }
}

fn element_key(v: &Value) -> Option<String> {
    let o = v.as_object()?;
    if let Some(n) = o.get("name").and_then(Value::as_str) {
        return Some(n.to_string());
    }
    o.get("metadata")?.get("name")?.as_str().map(str::to_string)
}

fn keyed(items: &[Value]) -> Option<Vec<(String, &Value)>> {
    let keys: Option<Vec<(String, &Value)>> = items
        .iter()
        .map(|i| element_key(i).map(|k| (k, i)))
        .collect();
    let keys = keys?;
    let mut seen = std::collections::HashSet::new();
    keys.iter()
        .all(|(k, _)| seen.insert(k.clone()))
        .then_some(keys)
}

/// Every difference between `real` and `local`.
pub fn differences(real: &Value, local: &Value) -> Vec<Difference> {
    let mut out = Vec::new();
    diff_at("", Some(real), Some(local), &mut out);
    out
}

fn diff_at(path: &str, real: Option<&Value>, local: Option<&Value>, out: &mut Vec<Difference>) {
    match (real, local) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                diff_at(&format!("{path}/{k}"), a.get(k), b.get(k), out);
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) => diff_arrays(path, a, b, out),
        (a, b) if a == b => {}
        (a, b) => out.push(Difference {
            path: if path.is_empty() {
                "/".into()
            } else {
                path.into()
            },
            real: show(a),
            local: show(b),
        }),
    }
}

fn diff_arrays(path: &str, a: &[Value], b: &[Value], out: &mut Vec<Difference>) {
    if let (Some(ka), Some(kb)) = (keyed(a), keyed(b)) {
        let order_a: Vec<&String> = ka.iter().map(|(k, _)| k).collect();
        let order_b: Vec<&String> = kb.iter().map(|(k, _)| k).collect();
        let mut names: Vec<&String> = order_a.iter().chain(order_b.iter()).copied().collect();
        names.sort();
        names.dedup();
        for n in &names {
            let x = ka.iter().find(|(k, _)| k == *n).map(|(_, v)| *v);
            let y = kb.iter().find(|(k, _)| k == *n).map(|(_, v)| *v);
            diff_at(&format!("{path}/[{n}]"), x, y, out);
        }
        let common_a: Vec<&&String> = order_a.iter().filter(|k| order_b.contains(k)).collect();
        let common_b: Vec<&&String> = order_b.iter().filter(|k| order_a.contains(k)).collect();
        if common_a != common_b {
            out.push(Difference {
                path: format!("{path}/<order>"),
                real: format!("{order_a:?}"),
                local: format!("{order_b:?}"),
            });
        }
        return;
    }
    for i in 0..a.len().max(b.len()) {
        diff_at(&format!("{path}/{i}"), a.get(i), b.get(i), out);
    }
}

/// `*` matches any run of characters (including `/`); everything else literally.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}
