//! Output order: kustomize's `legacy` order (kinds first/last, then by GVK, then by namespace
//! and name) or `fifo` (as accumulated), chosen by `sortOptions` or `--reorder`.

use crate::resource::Resource;
use fjord_model::order::{KUSTOMIZE_ORDER_FIRST, KUSTOMIZE_ORDER_LAST};
use fjord_model::ResId;
use fjord_yaml::Node;

/// How to order the output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SortOrder {
    /// The legacy order with these first and last kinds.
    Legacy {
        /// Kinds placed first, in order.
        first: Vec<String>,
        /// Kinds placed last, in order.
        last: Vec<String>,
    },
    /// The order the resources were accumulated in.
    Fifo,
}

impl SortOrder {
    /// The default legacy order (kustomize's fixed first and last kinds).
    pub fn legacy() -> SortOrder {
        SortOrder::Legacy {
            first: KUSTOMIZE_ORDER_FIRST
                .iter()
                .map(|s| s.to_string())
                .collect(),
            last: KUSTOMIZE_ORDER_LAST.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// Reads a `sortOptions` mapping; `Err` names the problem.
    pub fn parse(n: &Node) -> Result<SortOrder, String> {
        match n.str_at(&["order"]) {
            Some("fifo") => {
                if n.get("legacySortOptions").is_some_and(|o| !o.is_null()) {
                    return Err("legacySortOptions is set but order is fifo".into());
                }
                Ok(SortOrder::Fifo)
            }
            Some("legacy") => {
                let Some(opts) = n.get("legacySortOptions").filter(|o| !o.is_null()) else {
                    return Ok(SortOrder::legacy());
                };
                let kinds = |field: &str| -> Result<Vec<String>, String> {
                    match opts.get(field) {
                        None => Ok(Vec::new()),
                        Some(Node::Seq(items)) => items
                            .iter()
                            .map(|i| {
                                i.as_str().map(str::to_string).ok_or_else(|| {
                                    format!("legacySortOptions.{field} must list kinds")
                                })
                            })
                            .collect(),
                        Some(n) if n.is_null() => Ok(Vec::new()),
                        Some(_) => Err(format!("legacySortOptions.{field} must be a list")),
                    }
                };
                Ok(SortOrder::Legacy {
                    first: kinds("orderFirst")?,
                    last: kinds("orderLast")?,
                })
            }
            Some(other) => Err(format!("order must be 'legacy' or 'fifo', not '{other}'")),
            None => Err("order is required".into()),
        }
    }

    /// Sorts `res` in place.
    pub fn sort(&self, res: &mut [Resource]) {
        let SortOrder::Legacy { first, last } = self else {
            return;
        };
        let rank = |kind: &str| -> i64 {
            if let Some(i) = first.iter().position(|k| k == kind) {
                i as i64 - first.len() as i64
            } else if let Some(i) = last.iter().position(|k| k == kind) {
                1 + i as i64
            } else {
                0
            }
        };
        let mut keyed: Vec<(i64, String, String, usize)> = res
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let id = ResId::of(&r.obj);
                (rank(&id.gvk.kind), id.gvk.to_string(), id_tail(&id), i)
            })
            .collect();
        keyed.sort();
        let order: Vec<usize> = keyed.into_iter().map(|k| k.3).collect();
        permute(res, &order);
    }
}

/// The `namespace|name` part of kustomize's id string, used to order objects of one GVK.
fn id_tail(id: &ResId) -> String {
    let s = id.to_string();
    let gvk_len = id.gvk.to_string().len();
    s[gvk_len..].to_string()
}

/// Reorders `v` so that position `i` holds the element that was at `order[i]`.
fn permute(v: &mut [Resource], order: &[usize]) {
    let mut taken: Vec<Option<Resource>> = Vec::with_capacity(v.len());
    for r in v.iter_mut() {
        taken.push(Some(std::mem::replace(r, Resource::new(Node::null(), ""))));
    }
    for (slot, &from) in v.iter_mut().zip(order) {
        *slot = taken[from].take().expect("each index once");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fjord_yaml::Node;

    fn obj(api: &str, kind: &str, ns: &str, name: &str) -> Resource {
        let mut n = Node::map();
        let m = n.as_map_mut().unwrap();
        m.insert("apiVersion".into(), Node::string(api));
        m.insert("kind".into(), Node::string(kind));
        let meta = n.ensure_map_path(&["metadata"]).unwrap();
        meta.insert("name".into(), Node::string(name));
        if !ns.is_empty() {
            meta.insert("namespace".into(), Node::string(ns));
        }
        Resource::new(n, "test")
    }

    #[test]
    fn legacy_order_matches_kustomize() {
        // Expected order captured from `kubectl kustomize` (v5.5.0) for the same objects.
        let mut res = vec![
            obj("apps/v1", "Deployment", "", "b"),
            obj("apps/v1", "Deployment", "z", "a"),
            obj("apps/v1", "Deployment", "a", "a"),
            obj("apps/v1", "Deployment", "default", "c"),
            obj("apps/v1", "Deployment", "", "B"),
            obj("example.com/v1", "Zeta", "", "z"),
            obj("example.com/v1", "Alpha", "", "a"),
            obj("zz.com/v1", "Alpha", "", "a"),
            obj("aa.com/v2", "Alpha", "", "a"),
            obj("aa.com/v1", "Alpha", "", "a"),
            obj("v1", "Pod", "", "p"),
            obj("v1", "Namespace", "", "n"),
            obj(
                "admissionregistration.k8s.io/v1",
                "ValidatingWebhookConfiguration",
                "",
                "v",
            ),
            obj("v1", "ConfigMap", "", "cm"),
        ];
        SortOrder::legacy().sort(&mut res);
        let got: Vec<String> = res
            .iter()
            .map(|r| {
                format!(
                    "{}/{}/{}",
                    r.obj.str_at(&["apiVersion"]).unwrap(),
                    r.namespace(),
                    r.name()
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                "v1//n",
                "v1//cm",
                "apps/v1/a/a",
                "apps/v1/default/c",
                "apps/v1/z/a",
                "apps/v1//B",
                "apps/v1//b",
                "aa.com/v1//a",
                "aa.com/v2//a",
                "example.com/v1//a",
                "example.com/v1//z",
                "zz.com/v1//a",
                "v1//p",
                "admissionregistration.k8s.io/v1//v",
            ]
        );
    }

    #[test]
    fn fifo_keeps_order_and_parse_checks() {
        let mut n = Node::map();
        n.as_map_mut()
            .unwrap()
            .insert("order".into(), Node::string("fifo"));
        assert_eq!(SortOrder::parse(&n), Ok(SortOrder::Fifo));
        n.as_map_mut()
            .unwrap()
            .insert("order".into(), Node::string("random"));
        assert!(SortOrder::parse(&n).unwrap_err().contains("random"));
    }
}
