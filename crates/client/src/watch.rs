//! Watches that survive dropped streams.

use std::time::Duration;

use futures::StreamExt;
use kube::api::{WatchEvent, WatchParams};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::{Client, ResourceType};

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
    /// The server refused to list the type (403 Forbidden: RBAC grants no `list`/`watch`),
    /// with its message. Sent once; the list is retried every [`REFUSED_PAUSE`], and a later
    /// success sends [`WatchItem::Listed`].
    Refused(String),
}

/// Pause before asking again for a type the server refused to list (RBAC may be granted later).
pub const REFUSED_PAUSE: Duration = Duration::from_secs(30);

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
            let mut refused = false;
            'relist: loop {
                if tx.is_closed() {
                    return;
                }
                let list = match api.list(&Default::default()).await {
                    Ok(l) => l,
                    Err(kube::Error::Api(e)) if e.code == 403 => {
                        if !refused {
                            refused = true;
                            let msg = format!("{} ({}, HTTP {})", e.message, e.reason, e.code);
                            if tx.send(WatchItem::Refused(msg)).await.is_err() {
                                return;
                            }
                        }
                        tokio::time::sleep(REFUSED_PAUSE).await;
                        continue;
                    }
                    Err(_) => {
                        tokio::time::sleep(RETRY_PAUSE).await;
                        continue;
                    }
                };
                refused = false;
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
                        Err(e) => {
                            // RBAC may grant `list` but not `watch`: ask again as slowly as
                            // after a refused list, not every RETRY_PAUSE.
                            let forbidden = matches!(&e, kube::Error::Api(a) if a.code == 403);
                            let pause = if forbidden {
                                REFUSED_PAUSE
                            } else {
                                RETRY_PAUSE
                            };
                            tokio::time::sleep(pause).await;
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
}
