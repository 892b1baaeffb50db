//! Applying parsed patches to a [`ResMap`].

use super::{PatchBody, PatchError, PatchField, PatchSpec};
use crate::resource::{ResMap, Resource};
use fjord_merge::json_patch::{self, Mode};
use fjord_merge::smp::{self, Flavor, Outcome};
use fjord_merge::Schema;
use fjord_model::ResId;
use fjord_yaml::{Node, Tag};

/// Namespaces compare equal when both are unset or `default`.
fn same_ns(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        if s.is_empty() {
            "default".to_string()
        } else {
            s.to_string()
        }
    };
    norm(a) == norm(b)
}

/// Whether resource `r` has id `id` now or had it before.
fn has_id(r: &Resource, id: &ResId) -> bool {
    std::iter::once(r.id())
        .chain(r.prev_ids.iter().cloned())
        .any(|x| x.gvk == id.gvk && x.name == id.name && same_ns(&x.namespace, &id.namespace))
}

/// Applies `patches` in order to `res`.
pub fn apply_patches(
    res: &mut ResMap,
    patches: &[PatchSpec],
    schema: &Schema,
) -> Result<(), PatchError> {
    for p in patches {
        match &p.body {
            PatchBody::StrategicMerge(docs) => {
                for doc in docs {
                    apply_smp(res, p, doc, schema)?;
                }
            }
            PatchBody::Json6902(ops) => apply_json(res, p, ops)?,
        }
    }
    Ok(())
}

/// One strategic-merge document of an entry.
fn apply_smp(
    res: &mut ResMap,
    p: &PatchSpec,
    doc: &Node,
    schema: &Schema,
) -> Result<(), PatchError> {
    let selected: Vec<usize> = match &p.target {
        Some(sel) => (0..res.len()).filter(|&i| sel.matches(&res[i])).collect(),
        None => {
            let id = ResId::of(doc);
            let hits: Vec<usize> = (0..res.len()).filter(|&i| has_id(&res[i], &id)).collect();
            let legacy = p.field == PatchField::StrategicMerge;
            match hits.len() {
                0 => {
                    return Err(PatchError::NoMatch {
                        patch: p.label(),
                        id: id.dotted(),
                        legacy,
                    })
                }
                1 => hits,
                _ => {
                    return Err(PatchError::MultipleMatches {
                        patch: p.label(),
                        id: id.dotted(),
                        legacy,
                    })
                }
            }
        }
    };
    let mut deleted = Vec::new();
    for i in selected {
        if smp_one(&mut res[i], p, doc, schema)? == Outcome::Deleted {
            deleted.push(i);
        }
    }
    for i in deleted.into_iter().rev() {
        res.remove(i);
    }
    Ok(())
}

/// Applies one strategic-merge document to one resource, keeping its name, kind and
/// namespace unless the entry allows the change.
fn smp_one(
    r: &mut Resource,
    p: &PatchSpec,
    doc: &Node,
    schema: &Schema,
) -> Result<Outcome, PatchError> {
    let before = r.id();
    let mut patch = doc.clone();
    if let Some(m) = patch.as_map_mut() {
        // The patch takes the target's apiVersion; its kind only with allowKindChange.
        m.insert("apiVersion".into(), Node::string(before.gvk.api_version()));
        if !m.contains_key("kind") {
            m.insert("kind".into(), Node::string(before.gvk.kind.clone()));
        }
    }
    let outcome = smp::apply(&mut r.obj, &patch, schema, Flavor::Kustomize).map_err(|source| {
        PatchError::Smp {
            patch: ResId::of(doc).dotted(),
            resource: before.dotted(),
            source,
        }
    })?;
    if outcome == Outcome::Deleted {
        return Ok(outcome);
    }
    let after = r.id();
    restore(r, "namespace", &before.namespace);
    if !p.allow_kind_change || after.gvk.kind.is_empty() {
        if let Some(m) = r.obj.as_map_mut() {
            m.insert("kind".into(), Node::string(before.gvk.kind.clone()));
        }
    }
    restore(r, "name", &before.name);
    if p.allow_name_change || p.allow_kind_change {
        // kustomize stores the id from before the patch whenever a change is allowed (its
        // previous-id annotations keep kind, name and namespace; group/version are current),
        // so name references to the old kind and name follow the object.
        let mut gvk = r.id().gvk;
        gvk.kind = before.gvk.kind.clone();
        r.prev_ids.push(ResId { gvk, ..before });
        if p.allow_name_change && !after.name.is_empty() && after.name != r.name() {
            if let Some(meta) = r.obj.get_mut("metadata").and_then(Node::as_map_mut) {
                meta.insert("name".into(), Node::string(after.name.clone()));
            }
        }
    }
    Ok(outcome)
}

/// Puts back `metadata.<field>` as it was (`""`: unset).
fn restore(r: &mut Resource, field: &str, value: &str) {
    let Some(meta) = r.obj.get_mut("metadata").and_then(Node::as_map_mut) else {
        return;
    };
    if value.is_empty() {
        meta.shift_remove(field);
    } else {
        meta.insert(field.into(), Node::string(value));
    }
}

/// A JSON 6902 entry: every selected resource.
fn apply_json(res: &mut ResMap, p: &PatchSpec, ops: &Node) -> Result<(), PatchError> {
    let Some(sel) = &p.target else {
        return Err(PatchError::JsonWithoutTarget {
            patch: p.shown.clone(),
        });
    };
    for r in res.iter_mut().filter(|r| sel.matches(r)) {
        let before = r.id();
        // During kustomize's build every object carries internal annotations, so an
        // `annotations` mapping always exists for the patch to address.
        let had_annotations = r.obj.get_path(&["metadata", "annotations"]).is_some();
        if !had_annotations {
            if let Some(meta) = r.obj.get_mut("metadata").and_then(Node::as_map_mut) {
                meta.insert("annotations".into(), Node::map());
            }
        }
        json_patch::apply(&mut r.obj, ops, Mode::Kustomize).map_err(|source| PatchError::Json {
            patch: p.label(),
            resource: before.dotted(),
            source,
        })?;
        normalize_json_round_trip(&mut r.obj);
        fix_annotations(&mut r.obj, had_annotations);
        let after = r.id();
        if after != before {
            // Record the old identity, as kustomize stores the previous id before JSON patches.
            r.prev_ids.push(before);
        }
    }
    Ok(())
}

/// kustomize re-reads the object from JSON after a JSON patch: integers in any YAML spelling
/// become decimal, timestamps and binary scalars become strings.
fn normalize_json_round_trip(n: &mut Node) {
    match n {
        Node::Map(m) => m.values_mut().for_each(normalize_json_round_trip),
        Node::Seq(s) => s.iter_mut().for_each(normalize_json_round_trip),
        Node::Scalar(s) => match s.tag {
            Tag::Int => {
                if let Some(v) = parse_yaml_int(&s.value) {
                    s.value = v.to_string();
                }
            }
            Tag::Timestamp | Tag::Binary => s.tag = Tag::Str,
            _ => {}
        },
    }
}

/// Reads a YAML 1.2 / go-yaml v3 integer (`0x1F`, `0o17`, `017`, `0b101`, `1_000`, signs).
fn parse_yaml_int(text: &str) -> Option<i128> {
    let t = text.replace('_', "");
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(&t)),
    };
    let v = if let Some(h) = body.strip_prefix("0x") {
        i128::from_str_radix(h, 16).ok()?
    } else if let Some(o) = body.strip_prefix("0o") {
        i128::from_str_radix(o, 8).ok()?
    } else if let Some(b) = body.strip_prefix("0b") {
        i128::from_str_radix(b, 2).ok()?
    } else if body.len() > 1 && body.starts_with('0') {
        i128::from_str_radix(&body[1..], 8).ok()?
    } else {
        body.parse().ok()?
    };
    Some(if neg { -v } else { v })
}

/// After a JSON patch kustomize writes annotations back as strings; an annotations mapping
/// that only existed for the patch is removed again.
fn fix_annotations(obj: &mut Node, had: bool) {
    let Some(meta) = obj.get_mut("metadata").and_then(Node::as_map_mut) else {
        return;
    };
    match meta.get_mut("annotations") {
        Some(Node::Map(a)) if a.is_empty() && !had => {
            meta.shift_remove("annotations");
        }
        Some(Node::Map(a)) => {
            for v in a.values_mut() {
                let text = match v {
                    Node::Scalar(s) if s.tag == Tag::Null => String::new(),
                    Node::Scalar(s) => s.value.clone(),
                    _ => String::new(),
                };
                *v = Node::string(text);
            }
        }
        _ => {}
    }
}
