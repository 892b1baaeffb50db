//! `replicas:` — set replica counts by object name (kustomize's ReplicaCountTransformer).
//!
//! As in kustomize v5.5: an entry selects the objects whose current or any earlier name
//! equals `name` and whose GVK a replicas field spec selects, and sets that spec's field
//! (creating it when the spec says `create`). An entry that no object matches under any spec
//! is an error listing the specs' GVKs.

use crate::fieldspec::{split_path, walk, CreateKind, FieldSpec};
use crate::generate::decode::{DecodeError, Field};
use crate::resource::ResMap;
use crate::transform::config::spec_gvk;
use fjord_model::ResId;
use fjord_yaml::Node;
use std::collections::HashMap;

/// Why the replicas transformer failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    /// A `replicas:` entry has a field of the wrong type.
    #[error(transparent)]
    Decode(DecodeError),
    /// No object matched the entry.
    #[error("resource with name {name} does not match a config with the following GVK [{gvks}]")]
    NoMatch {
        /// The entry's name.
        name: String,
        /// The field specs' GVKs in kustomize's `Kind.version.group` spelling.
        gvks: String,
    },
}

/// One `replicas:` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplicaSpec {
    /// The object name to match.
    pub name: String,
    /// The replica count to set.
    pub count: i64,
}

impl ReplicaSpec {
    /// Parses one `replicas:` entry.
    pub fn parse(node: &Node) -> Result<ReplicaSpec, ReplicaError> {
        let f = Field::new("Replica", "replicas");
        Ok(ReplicaSpec {
            name: f.string(node, "name").map_err(ReplicaError::Decode)?,
            count: f
                .int(node, "count", "int64")
                .map_err(ReplicaError::Decode)?,
        })
    }
}

/// Applies every `replicas:` entry to `res` through the replicas field specs `specs`.
pub fn apply_replicas(
    res: &mut ResMap,
    replicas: &[ReplicaSpec],
    specs: &[FieldSpec],
) -> Result<(), ReplicaError> {
    if replicas.is_empty() {
        return Ok(());
    }
    // Every object's current and previous ids, computed once (setting replicas renames
    // nothing).
    let ids: Vec<Vec<ResId>> = res
        .iter()
        .map(|r| {
            std::iter::once(r.id())
                .chain(r.prev_ids.iter().cloned())
                .collect()
        })
        .collect();
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, r_ids) in ids.iter().enumerate() {
        for id in r_ids {
            let v = by_name.entry(id.name.as_str()).or_default();
            if v.last() != Some(&i) {
                v.push(i);
            }
        }
    }
    for rep in replicas {
        let mut found = false;
        let named = by_name
            .get(rep.name.as_str())
            .map_or(&[][..], Vec::as_slice);
        for fs in specs {
            let path = split_path(&fs.path);
            let create = fs.create.then_some(CreateKind::Scalar);
            for &i in named {
                let hit = ids[i]
                    .iter()
                    .any(|id| id.name == rep.name && fs.selects(&id.gvk));
                if !hit {
                    continue;
                }
                let r = &mut res[i];
                found = true;
                walk::<()>(&mut r.obj, &path, create, &mut |n| {
                    if matches!(n, Node::Scalar(_)) {
                        *n = Node::int(rep.count);
                    }
                    Ok(())
                })
                .unwrap_or(());
            }
        }
        if !found {
            let gvks: Vec<String> = specs.iter().map(|s| spec_gvk(s).dotted()).collect();
            return Err(ReplicaError::NoMatch {
                name: rep.name.clone(),
                gvks: gvks.join(" "),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::Resource;

    fn obj(api: &str, kind: &str, name: &str, replicas: Option<i64>) -> Resource {
        let mut o = Node::map();
        let m = o.as_map_mut().unwrap();
        m.insert("apiVersion".into(), Node::string(api));
        m.insert("kind".into(), Node::string(kind));
        let mut md = Node::map();
        md.as_map_mut()
            .unwrap()
            .insert("name".into(), Node::string(name));
        m.insert("metadata".into(), md);
        let mut spec = Node::map();
        if let Some(n) = replicas {
            spec.as_map_mut()
                .unwrap()
                .insert("replicas".into(), Node::int(n));
        }
        m.insert("spec".into(), spec);
        Resource::new(o, "t")
    }

    fn specs() -> Vec<FieldSpec> {
        [
            "Deployment",
            "StatefulSet",
            "ReplicaSet",
            "ReplicationController",
        ]
        .iter()
        .map(|k| FieldSpec::new(k, "spec/replicas", true))
        .collect()
    }

    #[test]
    fn sets_and_creates_by_current_or_earlier_name() {
        let mut d = obj("apps/v1", "Deployment", "d", None);
        d.set_name("pre-d");
        let mut res = vec![
            d,
            obj("apps/v1", "StatefulSet", "d", Some(1)),
            obj("example.com/v1", "Custom", "d", Some(1)),
            obj("v1", "ReplicationController", "r", None),
        ];
        let reps = [
            ReplicaSpec {
                name: "d".into(),
                count: 3,
            },
            ReplicaSpec {
                name: "r".into(),
                count: 0,
            },
        ];
        apply_replicas(&mut res, &reps, &specs()).unwrap();
        assert_eq!(
            res[0].obj.get_path(&["spec", "replicas"]),
            Some(&Node::int(3))
        );
        assert_eq!(
            res[1].obj.get_path(&["spec", "replicas"]),
            Some(&Node::int(3))
        );
        assert_eq!(
            res[2].obj.get_path(&["spec", "replicas"]),
            Some(&Node::int(1))
        );
        assert_eq!(
            res[3].obj.get_path(&["spec", "replicas"]),
            Some(&Node::int(0))
        );
    }

    #[test]
    fn unmatched_entry_errors_like_kubectl() {
        let mut res = vec![obj("apps/v1", "Deployment", "d", None)];
        let e = apply_replicas(
            &mut res,
            &[ReplicaSpec {
                name: "missing".into(),
                count: 2,
            }],
            &specs(),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "resource with name missing does not match a config with the following GVK \
             [Deployment.[noVer].[noGrp] StatefulSet.[noVer].[noGrp] ReplicaSet.[noVer].[noGrp] \
             ReplicationController.[noVer].[noGrp]]"
        );
    }

    #[test]
    fn string_count_is_refused_like_go() {
        let mut n = Node::map();
        n.as_map_mut()
            .unwrap()
            .insert("count".into(), Node::string("4"));
        assert_eq!(
            ReplicaSpec::parse(&n).unwrap_err().to_string(),
            "json: cannot unmarshal string into Go struct field Replica.replicas.count of type int64"
        );
    }
}
