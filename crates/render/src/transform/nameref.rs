//! Name-reference fixing: once, at the end of the top-level build, every field that names
//! another object (the `nameReference` table: volumes and env sources naming ConfigMaps and
//! Secrets, `serviceAccountName`, `roleRef`, RBAC `subjects`, HPA `scaleTargetRef`, Ingress
//! backends, webhook services, ...) is updated to the current name of the object it meant.
//!
//! For a referrer object, as kustomize v5.5 does it:
//! - a field spec applies when it selects the referrer's *original* group/version/kind;
//! - the objects it can refer to are those in its (effective) namespace, cluster-scoped ones,
//!   and — for a RoleBinding — those in the namespaces of its ServiceAccount subjects; a
//!   cluster-scoped referrer can refer to anything;
//! - a scalar name (or each scalar of a list, e.g. `rules/resourceNames`) is looked up among
//!   those candidates: one with a *recorded previous* id (see below) of that name, with a
//!   recorded id whose GVK the table's target selects, (for `roleRef/name`) whose GVK matches the
//!   roleRef's `apiGroup`/`kind`, and which is in the referrer's namespace, cluster-scoped, or
//!   a ServiceAccount. Several left: keep those whose recorded name prefixes and suffixes end
//!   the same way as the referrer's; still several with different names is an error;
//! - a mapping (`subjects[]`, webhook `clientConfig/service`) must have `name`; its
//!   `namespace`, when present, first narrows the candidates to that original (or else
//!   current) namespace, `default` matching objects without one. The match's name is written,
//!   and its namespace too unless it has none.
//!
//! Only recorded previous ids count (`Resource::prev_ids`, not the current id): an object that
//! no transformer renamed or moved is never a match, so with a base's renamed `cm` and an
//! overlay's untouched `cm`, an overlay reference to `cm` is rewritten to the base's new name
//! (as `kubectl kustomize` does) — unless a namespace transformer ran over the overlay, since it
//! records every object's id.
//!
//! Scalars keep their YAML type; only their text changes.

use crate::fieldspec::{split_path, walk};
use crate::resource::{ResMap, Resource};
use crate::transform::config::{selected_by, spec_gvk, TransformerConfig};
use crate::transform::error::TransformError;
use fjord_model::{scope, Gvk, ResId};
use fjord_yaml::{Map, Node};
use std::collections::{HashMap, HashSet};

/// What nameref needs to know about a possible referral target (a snapshot: fixing references
/// never renames objects).
#[derive(Debug)]
struct Target {
    /// Current id.
    id: ResId,
    /// Original id (first of the history).
    orig: ResId,
    /// Its recorded previous ids (not the current one: kustomize matches references only
    /// against the ids an object had before a transformer recorded a change).
    ids: Vec<ResId>,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
    /// Whether the current kind is cluster-scoped (looked up once: it is a table scan).
    cluster: bool,
    /// The effective namespace of the current id.
    eff_ns: Option<String>,
}

impl Target {
    fn of(r: &Resource) -> Target {
        let id = r.id();
        Target {
            orig: r.orig_id(),
            cluster: scope::is_cluster_scoped(&id.gvk),
            eff_ns: effective_ns(&id).map(str::to_string),
            id,
            ids: r.prev_ids.clone(),
            prefixes: r.name_prefixes.clone(),
            suffixes: r.name_suffixes.clone(),
        }
    }
}

/// The snapshot of every object, with an index from each recorded previous name to the
/// objects (in order) that had it, so looking a reference up does not scan every object.
struct Targets {
    list: Vec<Target>,
    by_name: HashMap<String, Vec<usize>>,
}

impl Targets {
    fn of(res: &ResMap) -> Targets {
        let list: Vec<Target> = res.iter().map(Target::of).collect();
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        for (j, t) in list.iter().enumerate() {
            for id in &t.ids {
                let v = by_name.entry(id.name.clone()).or_default();
                if v.last() != Some(&j) {
                    v.push(j);
                }
            }
        }
        Targets { list, by_name }
    }

    /// Objects (ascending) with a recorded previous id named `name`.
    fn named(&self, name: &str) -> &[usize] {
        self.by_name.get(name).map_or(&[], Vec::as_slice)
    }
}

/// The objects a referrer could refer to (`SubsetThatCouldBeReferencedByResource`), as a
/// membership test.
struct Reach<'a> {
    /// A cluster-scoped referrer reaches everything.
    all: bool,
    /// The referrer's effective namespace.
    ns: Option<&'a str>,
    /// For a RoleBinding: the namespaces of its ServiceAccount subjects.
    sa_namespaces: HashSet<String>,
}

impl Reach<'_> {
    fn contains(&self, t: &Target) -> bool {
        self.all
            || t.cluster
            || t.eff_ns.as_deref() == self.ns
            || self.sa_namespaces.contains(t.id.namespace.as_str())
    }
}

/// One thing to check in a referrer: the field at `path` may name an object of kind `target`.
struct Check<'a> {
    path: &'a str,
    target: &'a Gvk,
}

/// Fixes every name reference in `res` (see the module docs), using `cfg.name_reference`.
pub fn fix_name_references(
    res: &mut ResMap,
    cfg: &TransformerConfig,
) -> Result<(), TransformError> {
    let targets = Targets::of(res);
    for (i, r) in res.iter_mut().enumerate() {
        let orig_gvk = targets.list[i].orig.gvk.clone();
        let checks: Vec<Check> = cfg
            .name_reference
            .iter()
            .flat_map(|nbr| {
                nbr.referrers
                    .iter()
                    .filter(|s| selected_by(&orig_gvk, &spec_gvk(s)))
                    .map(move |s| Check {
                        path: &s.path,
                        target: &nbr.gvk,
                    })
            })
            .collect();
        if checks.is_empty() {
            continue;
        }
        let reach = reachable(&targets.list, i, &r.obj);
        for check in checks {
            fix_one(r, &targets, i, &reach, &check)?;
        }
    }
    Ok(())
}

/// kustomize's `EffectiveNamespace`: none for cluster-scoped kinds, `default` for empty.
fn effective_ns(id: &ResId) -> Option<&str> {
    if scope::is_cluster_scoped(&id.gvk) {
        None
    } else if id.namespace.is_empty() {
        Some("default")
    } else {
        Some(&id.namespace)
    }
}

/// What the referrer `i` could refer to (`SubsetThatCouldBeReferencedByResource`).
fn reachable<'a>(targets: &'a [Target], i: usize, referrer: &Node) -> Reach<'a> {
    let me = &targets[i];
    let mut sa_namespaces: HashSet<String> = HashSet::new();
    if !me.cluster && me.id.gvk.kind == "RoleBinding" {
        if let Some(Node::Seq(subjects)) = referrer.get("subjects") {
            for s in subjects {
                if let (Some(ns), Some("ServiceAccount")) =
                    (s.str_at(&["namespace"]), s.str_at(&["kind"]))
                {
                    sa_namespaces.insert(ns.to_string());
                }
            }
        }
    }
    Reach {
        all: me.cluster,
        ns: me.eff_ns.as_deref(),
        sa_namespaces,
    }
}

/// Applies one field check to the referrer.
fn fix_one(
    r: &mut Resource,
    targets: &Targets,
    me: usize,
    candidates: &Reach,
    check: &Check,
) -> Result<(), TransformError> {
    let referrer = Referrer::new(r, targets, me, check);
    let mut visit = |n: &mut Node| -> Result<(), TransformError> {
        match n {
            Node::Scalar(_) if n.is_null() => Ok(()),
            Node::Scalar(_) => referrer.set_scalar(n, candidates),
            Node::Map(m) => referrer.set_mapping(m, candidates),
            Node::Seq(items) => {
                for item in items {
                    match item {
                        Node::Scalar(_) if item.is_null() => {}
                        Node::Scalar(_) => referrer.set_scalar(item, candidates)?,
                        Node::Map(m) => referrer.set_mapping(m, candidates)?,
                        Node::Seq(_) => {}
                    }
                }
                Ok(())
            }
        }
    };
    walk(&mut r.obj, &split_path(check.path), None, &mut visit)
}

/// The facts about the referrer that selecting a referral needs.
struct Referrer<'a> {
    targets: &'a Targets,
    /// The referrer's own snapshot.
    me: &'a Target,
    check: &'a Check<'a>,
    /// `roleRef` group and kind, when fixing a `roleRef/name` and both are given.
    role_ref: Option<Gvk>,
}

impl<'a> Referrer<'a> {
    fn new(r: &Resource, targets: &'a Targets, me: usize, check: &'a Check<'a>) -> Referrer<'a> {
        let role_ref = if check.path.ends_with("roleRef/name") {
            match (
                r.obj.str_at(&["roleRef", "apiGroup"]),
                r.obj.str_at(&["roleRef", "kind"]),
            ) {
                (Some(group), Some(kind)) => Some(Gvk::new(group, "", kind)),
                _ => None,
            }
        } else {
            None
        };
        Referrer {
            targets,
            me: &targets.list[me],
            check,
            role_ref,
        }
    }

    fn set_scalar(&self, n: &mut Node, candidates: &Reach) -> Result<(), TransformError> {
        let Node::Scalar(s) = n else { return Ok(()) };
        let Some(j) = self.select(&s.value, &|t| candidates.contains(t), false)? else {
            return Ok(());
        };
        let new = &self.targets.list[j].id.name;
        if *new != s.value {
            s.value = new.clone();
        }
        Ok(())
    }

    fn set_mapping(&self, m: &mut Map, candidates: &Reach) -> Result<(), TransformError> {
        let Some(old) = m
            .get("name")
            .map(|n| n.as_str().unwrap_or_default().to_string())
        else {
            return Err(TransformError::BadReferenceField {
                path: self.check.path.to_string(),
                referrer: self.me.id.dotted(),
                problem: "path config error; no 'name' field in node".into(),
            });
        };
        // A `namespace` narrows the candidates to that original namespace, or (when no
        // candidate was originally there) to that current namespace.
        let ns = m.get("namespace").map(|n| n.as_str().unwrap_or_default());
        let by_orig = ns.is_some_and(|ns| {
            self.targets
                .list
                .iter()
                .any(|t| candidates.contains(t) && effective_ns(&t.orig) == Some(ns))
        });
        let narrowed = |t: &Target| {
            candidates.contains(t)
                && match ns {
                    None => true,
                    Some(ns) if by_orig => effective_ns(&t.orig) == Some(ns),
                    Some(ns) => t.eff_ns.as_deref() == Some(ns),
                }
        };
        let Some(j) = self.select(&old, &narrowed, true)? else {
            return Ok(());
        };
        let found = &self.targets.list[j].id;
        if found.name == old && found.namespace.is_empty() {
            return Ok(());
        }
        match m.get_mut("name") {
            Some(Node::Scalar(s)) => s.value = found.name.clone(),
            Some(other) => *other = Node::string(found.name.clone()),
            None => {}
        }
        if !found.namespace.is_empty() {
            m.insert("namespace".into(), Node::string(found.namespace.clone()));
        }
        Ok(())
    }

    /// kustomize's `selectReferral`: the one candidate `old` means, if any.
    fn select(
        &self,
        old: &str,
        candidates: &dyn Fn(&Target) -> bool,
        with_namespace: bool,
    ) -> Result<Option<usize>, TransformError> {
        let me = &self.me.id;
        let me_cluster = self.me.cluster;
        let mut picked: Vec<usize> = self
            .targets
            .named(old)
            .iter()
            .copied()
            .filter(|&j| {
                let t = &self.targets.list[j];
                candidates(t)
                    && t.ids
                        .iter()
                        .any(|id| selected_by(&id.gvk, self.check.target))
                    && self
                        .role_ref
                        .as_ref()
                        .is_none_or(|rr| t.ids.iter().any(|id| selected_by(&id.gvk, rr)))
                    && (me_cluster
                        || t.cluster
                        || t.id.gvk.kind == "ServiceAccount"
                        || t.eff_ns == self.me.eff_ns)
            })
            .collect();
        if picked.len() == 1 {
            return Ok(Some(picked[0]));
        }
        picked.retain(|&j| {
            let t = &self.targets.list[j];
            same_ending(&t.prefixes, &self.me.prefixes)
                && same_ending(&t.suffixes, &self.me.suffixes)
        });
        match picked.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            [first, rest @ ..] => {
                let f = &self.targets.list[*first].id;
                let identical = rest.iter().all(|&j| {
                    let t = &self.targets.list[j].id;
                    t.name == f.name && (!with_namespace || t.namespace == f.namespace)
                });
                if identical {
                    return Ok(Some(*first));
                }
                Err(TransformError::AmbiguousReferral {
                    path: self.check.path.to_string(),
                    referrer: me.dotted(),
                    candidates: picked
                        .iter()
                        .map(|&j| self.targets.list[j].id.dotted())
                        .collect::<Vec<_>>()
                        .join(", "),
                })
            }
        }
    }
}

/// kustomize's `SameEndingSubSlice`: the shorter list equals the end of the longer one (two
/// empty lists are equal; an empty list only matches an empty one).
fn same_ending(a: &[String], b: &[String]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if short.is_empty() {
        return long.is_empty();
    }
    long[long.len() - short.len()..] == *short
}

#[cfg(test)]
#[path = "nameref_tests.rs"]
mod tests;
