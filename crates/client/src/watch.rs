//! Watches that survive dropped streams, and the patches a controller writes: JSON merge
//! patches of an object or of its `status` subresource.

use std::time::Duration;

use futures::StreamExt;
use kube::api::{Patch, PatchParams, WatchEvent, WatchParams};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::{target, Client, ClientError, ResourceType};

/// What a watch reports.
#[derive(Debug, Clone)]
pub enum WatchItem {
    /// The full list, at the start and after every re-list (a too-old resourceVersion or an
    /// error): consumers re-derive their state from it.
    Listed(Vec<Value>),
    /// An object was added or modified.
    Applied(Value),
    /// An object was deleted (its last state).
    Deleted(Value),
}

/// How long one watch request stays open before it is renewed.
const WATCH_TIMEOUT_SECS: u32 = 290;
/// Pause after a failed list or watch before trying again.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

impl Client {
    /// Follows a type (in one namespace or all of them): a list, then watches from its
    /// resourceVersion, re-listing when the server answers `410 Expired` or the stream fails.
    /// The background task ends when the receiver is dropped.
    pub fn watch(&self, t: &ResourceType, ns: Option<&str>) -> mpsc::Receiver<WatchItem> {
        let (tx, rx) = mpsc::channel(256);
        let client = self.clone();
        let t = t.clone();
        let ns = ns.map(str::to_string);
        tokio::spawn(async move {
            let api = client.api(&t, ns.as_deref());
            'relist: loop {
                if tx.is_closed() {
                    return;
                }
                let list = match api.list(&Default::default()).await {
                    Ok(l) => l,
                    Err(_) => {
                        tokio::time::sleep(RETRY_PAUSE).await;
                        continue;
                    }
                };
                let mut rv = list.metadata.resource_version.clone().unwrap_or_default();
                let items = list
                    .items
                    .into_iter()
                    .filter_map(|o| {
                        let name = o.metadata.name.clone().unwrap_or_default();
                        Client::to_value(&t, ns.as_deref(), &name, o).ok()
                    })
                    .collect();
                if tx.send(WatchItem::Listed(items)).await.is_err() {
                    return;
                }
                loop {
                    let wp = WatchParams::default().timeout(WATCH_TIMEOUT_SECS);
                    let stream = match api.watch(&wp, &rv).await {
                        Ok(s) => s,
                        Err(_) => {
                            tokio::time::sleep(RETRY_PAUSE).await;
                            continue 'relist;
                        }
                    };
                    let mut stream = Box::pin(stream);
                    while let Some(ev) = stream.next().await {
                        let item = match ev {
                            Ok(WatchEvent::Added(o)) | Ok(WatchEvent::Modified(o)) => {
                                rv = o.metadata.resource_version.clone().unwrap_or(rv);
                                let name = o.metadata.name.clone().unwrap_or_default();
                                Client::to_value(&t, ns.as_deref(), &name, o)
                                    .ok()
                                    .map(WatchItem::Applied)
                            }
                            Ok(WatchEvent::Deleted(o)) => {
                                rv = o.metadata.resource_version.clone().unwrap_or(rv);
                                let name = o.metadata.name.clone().unwrap_or_default();
                                Client::to_value(&t, ns.as_deref(), &name, o)
                                    .ok()
                                    .map(WatchItem::Deleted)
                            }
                            Ok(WatchEvent::Bookmark(b)) => {
                                rv = b.metadata.resource_version;
                                None
                            }
                            Ok(WatchEvent::Error(_)) | Err(_) => {
                                tokio::time::sleep(RETRY_PAUSE).await;
                                continue 'relist;
                            }
                        };
                        if let Some(item) = item {
                            if tx.send(item).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            }
        });
        rx
    }

    /// Applies a JSON merge patch (RFC 7386) to an object, or to its `status` subresource.
    pub async fn merge_patch(
        &self,
        t: &ResourceType,
        ns: Option<&str>,
        name: &str,
        patch: &Value,
        status: bool,
        field_manager: &str,
    ) -> Result<Value, ClientError> {
        let api = self.api(t, ns);
        let pp = PatchParams {
            field_manager: Some(field_manager.to_string()),
            ..PatchParams::default()
        };
        let p = Patch::Merge(patch);
        let out = if status {
            self.retry.run(|| api.patch_status(name, &pp, &p)).await
        } else {
            self.retry.run(|| api.patch(name, &pp, &p)).await
        };
        self.observe("patch", &t.kind, ns, false, &out, 200);
        let out = out.map_err(|source| ClientError::Request {
            verb: if status { "patch status" } else { "patch" },
            kind: t.kind.clone(),
            target: target(ns, name),
            source: Box::new(source),
        })?;
        Self::to_value(t, ns, name, out)
    }
}
