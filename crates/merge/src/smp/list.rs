//! Merging lists whose field has the `merge` patch strategy.

use super::{dotted, Directive, Flavor, MapResult, SmpError, Walker, PATCH};
use crate::schema::{FieldInfo, ListType};
use fjord_yaml::{Map, Node};

/// The identity of a list element: the values of the merge keys (`None` where absent).
type Key = Vec<Option<String>>;

impl Walker<'_> {
    /// Merges patch list `patch` into target list `dest` (field facts `info`); `order` is an
    /// apimachinery `$setElementOrder` list.
    pub(crate) fn merge_list(
        &self,
        dest: Vec<Node>,
        patch: &[Node],
        info: &FieldInfo,
        order: Option<&Node>,
        path: &mut Vec<String>,
    ) -> Result<Vec<Node>, SmpError> {
        // `- $patch: replace` replaces the whole list with the other elements. kyaml only
        // reads the first element that has `$patch`, and only when that is its one key
        // (`- {name: x, $patch: replace}` is an element directive); the API server takes any.
        let is_replace = |m: &Map| m.get(PATCH).and_then(Node::as_str) == Some("replace");
        let replace = match self.flavor {
            Flavor::Kustomize => patch
                .iter()
                .filter_map(Node::as_map)
                .find(|m| m.contains_key(PATCH))
                .is_some_and(|m| m.len() == 1 && is_replace(m)),
            Flavor::ApiMachinery => patch.iter().filter_map(Node::as_map).any(is_replace),
        };
        if replace {
            let directive_only = |e: &&Node| {
                e.as_map().is_some_and(|m| {
                    m.contains_key(PATCH) && (self.flavor == Flavor::ApiMachinery || m.len() == 1)
                })
            };
            let rest: Vec<Node> = patch
                .iter()
                .filter(|e| !directive_only(e))
                .cloned()
                .collect();
            return self.merge_list(Vec::new(), &rest, info, None, path);
        }
        let keys = self.keys(info);
        let is_primitive = keys.is_empty()
            || (info.ty.is_none()
                && patch
                    .iter()
                    .chain(&dest)
                    .all(|e| !matches!(e, Node::Map(_))));
        if is_primitive {
            return Ok(self.merge_primitive(dest, patch, order));
        }
        if self.flavor == Flavor::ApiMachinery {
            for e in patch {
                let has = e
                    .as_map()
                    .is_some_and(|m| m.get(&keys[0]).is_some_and(|v| !v.is_null()));
                if !has {
                    return Err(SmpError::MissingMergeKey {
                        path: dotted(path),
                        key: keys[0].clone(),
                    });
                }
            }
        }
        match (self.flavor, keys.len()) {
            (Flavor::Kustomize, 1) => self.merge_patch_first(dest, patch, &keys, info, path),
            (Flavor::Kustomize, _) => self.merge_multi_key(dest, patch, &keys, info, path),
            (Flavor::ApiMachinery, _) => self.merge_server(dest, patch, &keys, info, order, path),
        }
    }

    /// The keys elements are matched by: kustomize uses `x-kubernetes-list-map-keys` when the
    /// field has them, else the patch merge key; the API server uses the merge key.
    fn keys(&self, info: &FieldInfo) -> Vec<String> {
        if self.flavor == Flavor::Kustomize {
            if let ListType::Map { keys, .. } = &info.list {
                if keys.len() > 1 {
                    return keys.clone();
                }
            }
        }
        info.smp.merge_key.iter().cloned().collect()
    }

    /// Merges one element: the target's (if any) with the patch's. `None`: the element is
    /// deleted (`$patch: delete`, or nothing left).
    fn merge_element(
        &self,
        dest: Option<&Node>,
        patch: &Node,
        keys: &[String],
        key: &Key,
        info: &FieldInfo,
        path: &mut Vec<String>,
    ) -> Result<Option<Node>, SmpError> {
        let Some(pm) = patch.as_map() else {
            return Ok(Some(patch.clone()));
        };
        let mut current = match dest {
            Some(Node::Map(m)) => m.clone(),
            _ => Map::new(),
        };
        match self.directive(pm, path)? {
            Some(Directive::Delete) => return Ok(None),
            // kubectl kustomize v5.5 leaves an existing element that a `$patch: replace`
            // element names as it was (probe: volumes [data: pvc] + [{name: data,
            // $patch: replace, emptyDir: {}}] keeps the pvc); a new one is added.
            Some(Directive::Replace) if self.flavor == Flavor::Kustomize => {
                if let Some(d @ Node::Map(_)) = dest {
                    return Ok(Some(d.clone()));
                }
            }
            _ => {}
        }
        if self.merge_map(&mut current, pm, info.ty, path)? == MapResult::Delete {
            return Ok(None);
        }
        if current.is_empty() {
            return Ok(None);
        }
        for (k, v) in keys.iter().zip(key) {
            if let (Some(v), false) = (v, current.contains_key(k)) {
                current.insert(k.clone(), Node::string(v.clone()));
            }
        }
        Ok(Some(Node::Map(current)))
    }

    /// kustomize, one key: the patch's elements in patch order, then the target's others.
    fn merge_patch_first(
        &self,
        dest: Vec<Node>,
        patch: &[Node],
        keys: &[String],
        info: &FieldInfo,
        path: &mut Vec<String>,
    ) -> Result<Vec<Node>, SmpError> {
        let mut out = Vec::new();
        let mut seen: Vec<Key> = Vec::new();
        for p in patch {
            let key = key_of(p, keys);
            if key.iter().all(Option::is_none) {
                if let Some(m) = self.merge_element(None, p, keys, &key, info, path)? {
                    out.push(m);
                }
                continue;
            }
            if seen.contains(&key) {
                continue;
            }
            seen.push(key.clone());
            let d = dest.iter().find(|d| key_of(d, keys) == key);
            if let Some(m) = self.merge_element(d, p, keys, &key, info, path)? {
                out.push(m);
            }
        }
        for d in dest {
            let key = key_of(&d, keys);
            if key.iter().all(Option::is_none) || !seen.contains(&key) {
                if !key.iter().all(Option::is_none) {
                    seen.push(key);
                }
                out.push(d);
            }
        }
        Ok(out)
    }

    /// The API server: merged elements stay in place, new ones are appended, then the order
    /// is normalized against the patch (or `$setElementOrder`) and the target.
    fn merge_server(
        &self,
        dest: Vec<Node>,
        patch: &[Node],
        keys: &[String],
        info: &FieldInfo,
        order: Option<&Node>,
        path: &mut Vec<String>,
    ) -> Result<Vec<Node>, SmpError> {
        let server_order: Vec<Key> = dest.iter().map(|d| key_of(d, keys)).collect();
        let mut merged = dest;
        for p in patch {
            let key = key_of(p, keys);
            match merged.iter().position(|d| key_of(d, keys) == key) {
                Some(i) => match self.merge_element(Some(&merged[i]), p, keys, &key, info, path)? {
                    Some(m) => merged[i] = m,
                    None => {
                        merged.remove(i);
                    }
                },
                None => {
                    if let Some(m) = self.merge_element(None, p, keys, &key, info, path)? {
                        merged.push(m);
                    }
                }
            }
        }
        let patch_order: Vec<Key> = match order.and_then(Node::as_seq) {
            Some(o) => o.iter().map(|e| key_of(e, keys)).collect(),
            None => patch.iter().map(|e| key_of(e, keys)).collect(),
        };
        Ok(normalize_order(
            merged,
            |n| key_of(n, keys),
            &patch_order,
            &server_order,
        ))
    }

    /// Primitive lists: a union. kustomize puts the patch's values first; the API server keeps
    /// the target's order and appends.
    fn merge_primitive(&self, dest: Vec<Node>, patch: &[Node], order: Option<&Node>) -> Vec<Node> {
        let text = |n: &Node| -> Key { vec![n.as_scalar().map(|s| s.value.clone())] };
        let mut out: Vec<Node> = Vec::new();
        let push = |out: &mut Vec<Node>, n: &Node| {
            if !out.iter().any(|o| text(o) == text(n)) {
                out.push(n.clone());
            }
        };
        match self.flavor {
            Flavor::Kustomize => {
                for n in patch.iter().chain(&dest) {
                    push(&mut out, n);
                }
                out
            }
            Flavor::ApiMachinery => {
                let server_order: Vec<Key> = dest.iter().map(text).collect();
                for n in dest.iter().chain(patch) {
                    push(&mut out, n);
                }
                let patch_order: Vec<Key> = match order.and_then(Node::as_seq) {
                    Some(o) => o.iter().map(text).collect(),
                    None => patch.iter().map(text).collect(),
                };
                normalize_order(out, text, &patch_order, &server_order)
            }
        }
    }
}

/// The key values of an element (scalars' text).
fn key_of(n: &Node, keys: &[String]) -> Key {
    keys.iter()
        .map(|k| {
            n.get(k)
                .and_then(Node::as_scalar)
                .filter(|s| s.tag != fjord_yaml::Tag::Null)
                .map(|s| s.value.clone())
        })
        .collect()
}

/// apimachinery's order normalization: elements named by the patch are sorted by the patch
/// order, the others by the server order, and the two runs are interleaved by server position
/// (an element the server did not have goes before the server-only elements still pending).
fn normalize_order(
    merged: Vec<Node>,
    key: impl Fn(&Node) -> Key,
    patch_order: &[Key],
    server_order: &[Key],
) -> Vec<Node> {
    let index = |list: &[Key], k: &Key| list.iter().position(|x| x == k);
    let (mut in_patch, mut server_only): (Vec<Node>, Vec<Node>) = merged
        .into_iter()
        .partition(|n| index(patch_order, &key(n)).is_some());
    in_patch.sort_by_key(|n| index(patch_order, &key(n)));
    server_only.sort_by_key(|n| index(server_order, &key(n)));
    let mut out = Vec::with_capacity(in_patch.len() + server_only.len());
    let (mut left, mut right) = (
        server_only.into_iter().peekable(),
        in_patch.into_iter().peekable(),
    );
    loop {
        match (left.peek(), right.peek()) {
            (Some(l), Some(r)) => {
                let (li, ri) = (index(server_order, &key(l)), index(server_order, &key(r)));
                // apimachinery's mergeSortedSlice: a server-only element goes first only when
                // both are on the server and it was in front; a new element goes first.
                let take_left = matches!((li, ri), (Some(a), Some(b)) if a < b);
                let next = if take_left { left.next() } else { right.next() };
                out.extend(next);
            }
            (Some(_), None) => out.extend(left.next()),
            (None, Some(_)) => out.extend(right.next()),
            (None, None) => break,
        }
    }
    out
}

/// `$deleteFromPrimitiveList/<field>`: removes the listed values from the target's list.
pub(crate) fn delete_from_primitive(
    tmap: &mut Map,
    field: &str,
    values: &Node,
    path: &[String],
) -> Result<(), SmpError> {
    let bad = || SmpError::BadDirective {
        path: dotted(path),
        directive: format!("{}{field}", super::DELETE_PRIMITIVE),
    };
    let drop: Vec<&str> = values
        .as_seq()
        .ok_or_else(bad)?
        .iter()
        .filter_map(Node::as_str)
        .collect();
    if let Some(Node::Seq(items)) = tmap.get_mut(field) {
        items.retain(|n| n.as_str().is_none_or(|s| !drop.contains(&s)));
    }
    Ok(())
}
