//! Reading many live objects at once (a plan's targets, the objects a wave waits for): one LIST
//! for a (type, namespace) holding many of them, GETs for the rest, several requests at a time.

use std::collections::HashMap;

use fjord_client::{Client, ClientError, ResourceType};
use fjord_model::ObjectRef;
use futures::StreamExt;
use serde_json::Value;

use crate::concurrency::CONCURRENCY;
use crate::SyncError;

/// From this many targets of one type in one namespace, one LIST replaces their GETs.
const LIST_FROM: usize = 16;

enum Read {
    Get(usize, ResourceType),
    List(Vec<usize>, ResourceType),
}

/// The live object of each `(index, type)` in `to_read`, `ids[index]` naming it (`None`: it
/// does not exist); sorted by index.
pub(crate) async fn read_live(
    client: &Client,
    ids: &[&ObjectRef],
    to_read: Vec<(usize, ResourceType)>,
    step: &'static str,
) -> Result<Vec<(usize, Option<Value>)>, SyncError> {
    let mut groups: HashMap<(String, String, String), (ResourceType, Vec<usize>)> = HashMap::new();
    for (i, t) in to_read {
        let key = (t.group.clone(), t.plural.clone(), ids[i].namespace.clone());
        groups
            .entry(key)
            .or_insert_with(|| (t, Vec::new()))
            .1
            .push(i);
    }
    let mut reads = Vec::new();
    for (_, (t, idx)) in groups {
        if idx.len() >= LIST_FROM {
            reads.push(Read::List(idx, t));
        } else {
            reads.extend(idx.into_iter().map(|i| Read::Get(i, t.clone())));
        }
    }
    let futures: Vec<_> = reads
        .into_iter()
        .map(|r| async move {
            match r {
                Read::Get(i, t) => {
                    let id = ids[i];
                    let ns = Some(id.namespace.as_str()).filter(|n| !n.is_empty());
                    client
                        .get(&t, ns, &id.name)
                        .await
                        .map(|live| vec![(i, live)])
                }
                Read::List(idx, t) => {
                    let ns = &ids[idx[0]].namespace;
                    let ns = Some(ns.as_str()).filter(|n| !n.is_empty());
                    let mut by_name: HashMap<String, Value> = client
                        .list(&t, ns)
                        .await?
                        .into_iter()
                        .filter_map(|o| {
                            let name = o.pointer("/metadata/name")?.as_str()?.to_string();
                            Some((name, o))
                        })
                        .collect();
                    Ok::<_, ClientError>(
                        idx.into_iter()
                            .map(|i| (i, by_name.remove(&ids[i].name)))
                            .collect(),
                    )
                }
            }
        })
        .collect();
    let results: Vec<_> = futures::stream::iter(futures)
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut out = Vec::new();
    for r in results {
        out.extend(r.map_err(|source| SyncError::Client { step, source })?);
    }
    out.sort_by_key(|(i, _)| *i);
    Ok(out)
}
