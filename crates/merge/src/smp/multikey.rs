//! kustomize's merge of lists keyed by several fields (container ports and Service ports are
//! keyed by `[port, protocol]`).
//!
//! kyaml matches such elements by key *tuples* in which a missing key reads as `""`, and its
//! bookkeeping has consequences that `kubectl kustomize` v5.5 shows and we reproduce (every
//! rule below was checked against kubectl with Service-port and container-port probes):
//!
//! 1. The tuples of the patch's elements, then the target's, deduplicated, are the work list.
//!    Two tuples that share a value and differ only where one is empty are unified into their
//!    union (`[80, ""]` and `[80, TCP]` both become `[80, TCP]`).
//! 2. The keys that are set anywhere in the work list are the *valid keys*; each tuple is cut
//!    down to them.
//! 3. For each tuple, the target's and the patch's first elements matching it on its non-empty
//!    keys are merged (the patch wins); a missing key is filled in. The result is "set" into an
//!    output list: elements matching the tuple are replaced, else it is appended. A deleted or
//!    empty result deletes the matching target elements instead.
//! 4. Then every target element (as merged) is set into the output again: elements matching it
//!    are removed and it is appended. So elements with a full tuple end in the target's order,
//!    after the new ones; elements lacking a key land in patch order.
//!
//! Effects: `[80/TCP]` + patch `[80]` leaves the target alone (the patch element matches
//! nothing after unification and is overwritten); a new port goes first; `[80]` + `[80, 9090]`
//! gives `80 (merged), 9090`.

use super::{Directive, MapResult, SmpError, Walker};
use crate::schema::FieldInfo;
use fjord_yaml::{Map, Node, Tag};

/// A key tuple: each key's scalar text, `""` where absent, null or empty.
type Tuple = Vec<String>;

impl Walker<'_> {
    /// kustomize, several keys: see the module documentation.
    pub(crate) fn merge_multi_key(
        &self,
        mut dest: Vec<Node>,
        patch: &[Node],
        keys: &[String],
        info: &FieldInfo,
        path: &mut Vec<String>,
    ) -> Result<Vec<Node>, SmpError> {
        let mut values: Vec<Tuple> = Vec::new();
        for n in patch.iter().chain(&dest) {
            let t = tuple_of(n, keys);
            if !values.contains(&t) {
                values.push(t);
            }
        }
        if values.is_empty() {
            return Ok(dest);
        }
        unify(&mut values);
        let valid: Vec<usize> = (0..keys.len())
            .filter(|&i| values.iter().any(|v| !v[i].is_empty()))
            .collect();
        let valid: Vec<usize> = if valid.is_empty() {
            (0..keys.len()).collect()
        } else {
            valid
        };
        let vkeys: Vec<&str> = valid.iter().map(|&i| keys[i].as_str()).collect();
        let mut items: Vec<Node> = Vec::new();
        for value in &values {
            let vvals: Vec<&str> = valid.iter().map(|&i| value[i].as_str()).collect();
            // Elements are looked up by the tuple's non-empty keys only.
            let (fk, fv): (Vec<&str>, Vec<&str>) = vkeys
                .iter()
                .zip(&vvals)
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (*k, *v))
                .unzip();
            let (fk, fv) = if fk.is_empty() {
                (vkeys.clone(), vvals.clone())
            } else {
                (fk, fv)
            };
            let d = dest.iter().position(|e| matches_exact(e, &fk, &fv));
            let p = patch.iter().find(|e| matches_exact(e, &fk, &fv));
            let merged = match p {
                None => d.map(|i| dest[i].clone()),
                Some(p) => self.merge_one(d.map(|i| &dest[i]), p, info, path)?,
            };
            let Some(mut val) = merged else {
                set_element(&mut dest, None, &vkeys, &vvals);
                continue;
            };
            if let Node::Map(m) = &mut val {
                for (k, v) in vkeys.iter().zip(&vvals) {
                    if !v.is_empty() && !m.contains_key(*k) {
                        m.insert((*k).to_string(), Node::string(*v));
                    }
                }
            }
            // kyaml merges into the target's element itself.
            if let Some(i) = d {
                dest[i] = val.clone();
            }
            set_element(&mut items, Some(&val), &vkeys, &vvals);
        }
        for elem in &dest {
            let mut v: Vec<&str> = Vec::new();
            for k in &vkeys {
                match elem.get(k).and_then(scalar_text) {
                    Some(s) => v.push(s),
                    None => items.push(elem.clone()),
                }
            }
            if vkeys.len() > 1 {
                set_element(&mut items, None, &vkeys, &v);
            }
            set_element(&mut items, Some(elem), &vkeys, &v);
        }
        Ok(items)
    }

    /// Merges patch element `p` into target element `d` (or nothing). `None`: deleted or empty.
    fn merge_one(
        &self,
        d: Option<&Node>,
        p: &Node,
        info: &FieldInfo,
        path: &mut Vec<String>,
    ) -> Result<Option<Node>, SmpError> {
        let Some(pm) = p.as_map() else {
            return Ok(Some(p.clone()));
        };
        // An existing element named by a `$patch: replace` element stays as it was.
        if let (Some(d @ Node::Map(_)), Some(Directive::Replace)) = (d, self.directive(pm, path)?) {
            return Ok(Some(d.clone()));
        }
        let mut current = match d {
            Some(Node::Map(m)) => m.clone(),
            _ => Map::new(),
        };
        if self.merge_map(&mut current, pm, info.ty, path)? == MapResult::Delete
            || current.is_empty()
        {
            return Ok(None);
        }
        Ok(Some(Node::Map(current)))
    }
}

/// The key tuple of an element.
fn tuple_of(n: &Node, keys: &[String]) -> Tuple {
    keys.iter()
        .map(|k| {
            n.get(k)
                .and_then(Node::as_scalar)
                .filter(|s| s.tag != Tag::Null)
                .map(|s| s.value.clone())
                .unwrap_or_default()
        })
        .collect()
}

/// A field's text for matching: a scalar's value (`""` for collections, as kyaml reads them).
fn scalar_text(n: &Node) -> Option<&str> {
    match n {
        Node::Scalar(s) => Some(s.value.as_str()),
        _ => Some(""),
    }
}

/// Unifies tuples that share a value and differ only where one of them is empty.
fn unify(values: &mut [Tuple]) {
    for i in 0..values.len() {
        for j in 0..values.len() {
            if let Some(u) = union(&values[i], &values[j]) {
                values[i] = u.clone();
                values[j] = u;
            }
        }
    }
}

/// The union of two compatible tuples that have a position in common (an empty value counts).
fn union(a: &Tuple, b: &Tuple) -> Option<Tuple> {
    let mut common = false;
    let mut out = Vec::with_capacity(a.len());
    for (x, y) in a.iter().zip(b) {
        if x == y {
            common = true;
            out.push(x.clone());
        } else if !x.is_empty() && !y.is_empty() {
            return None;
        } else if x.is_empty() {
            out.push(y.clone());
        } else {
            out.push(x.clone());
        }
    }
    common.then_some(out)
}

/// Whether mapping `e` has every field `keys[i]` with scalar text `values[i]`.
fn matches_exact(e: &Node, keys: &[&str], values: &[&str]) -> bool {
    let Some(m) = e.as_map() else {
        return false;
    };
    keys.iter()
        .zip(values)
        .all(|(k, v)| m.get(*k).and_then(scalar_text) == Some(*v))
}

/// kyaml's element setter on `list`: drops empty elements; elements matching `values` (an
/// empty value matches any present field; keys beyond `values` are not checked, and with no
/// values nothing matches and unmatched elements are dropped) are replaced by `element`, or
/// removed when it is `None`; with no match, `element` is appended.
fn set_element(list: &mut Vec<Node>, element: Option<&Node>, keys: &[&str], values: &[&str]) {
    let mut found_any = false;
    let old = std::mem::take(list);
    for elem in old {
        let empty = elem.is_null() || elem.as_map().is_some_and(Map::is_empty);
        if empty {
            continue;
        }
        // kyaml keeps other nodes when matching mappings (and fails otherwise; we keep them).
        let Some(m) = elem.as_map() else {
            list.push(elem);
            continue;
        };
        let mut found = !keys.is_empty();
        let mut last: Option<bool> = None;
        for (j, k) in keys.iter().enumerate() {
            if let Some(v) = values.get(j) {
                let hit = match m.get(*k) {
                    Some(_) if v.is_empty() => true,
                    Some(f) => scalar_text(f) == Some(*v),
                    None => false,
                };
                last = Some(hit);
            }
            if last != Some(true) {
                found = false;
                break;
            }
        }
        if !found {
            if !values.is_empty() {
                list.push(elem);
            }
            continue;
        }
        found_any = true;
        if let Some(e) = element {
            list.push(e.clone());
        }
    }
    if let (Some(e), false) = (element, found_any) {
        list.push(e.clone());
    }
}
