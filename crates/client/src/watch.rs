//! Watches that survive dropped streams.

use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, DynamicObject, ListParams, WatchEvent, WatchParams};
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
/// Objects per page of the initial list: a paginated list bounds the memory one list of many
/// objects takes while it is decoded (the whole answer is never held at once).
const LIST_PAGE: u32 = 500;
/// Pause after a failed list or watch before trying again.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

impl Client {
    /// Follows a type (in one namespace or all of them): a list, then watches from its
    /// resourceVersion, re-listing when the server answers `410 Expired` or the stream fails.
    /// The background task ends when the receiver is dropped.
    pub fn watch(&self, t: &ResourceType, ns: Option<&str>) -> mpsc::Receiver<WatchItem> {
        self.watch_mapped(t, ns, |v| v)
    }

    /// [`Client::watch`], with `map` applied to every object as it is decoded (before the
    /// next page of the list is read): a consumer that keeps only part of each object (no
    /// `managedFields`, say) never holds the whole list at full size.
    pub fn watch_mapped(
        &self,
        t: &ResourceType,
        ns: Option<&str>,
        map: fn(Value) -> Value,
    ) -> mpsc::Receiver<WatchItem> {
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
                let (items, mut rv) = match list_all(&api, &t, ns.as_deref(), map).await {
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
                                    .map(|v| WatchItem::Applied(map(v)))
                            }
                            Ok(WatchEvent::Deleted(o)) => {
                                rv = o.metadata.resource_version.clone().unwrap_or(rv);
                                let name = o.metadata.name.clone().unwrap_or_default();
                                Client::to_value(&t, ns.as_deref(), &name, o)
                                    .ok()
                                    .map(|v| WatchItem::Deleted(map(v)))
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

/// Lists every object page by page ([`LIST_PAGE`] objects per request, following the
/// `continue` token), converting each page before the next is asked for. Returns the objects
/// and the resourceVersion to watch from: the first page's, so that a change made while the
/// later pages were read is replayed by the watch rather than missed (a server that does not
/// serve pages from one snapshot answers later pages with a newer resourceVersion).
async fn list_all(
    api: &Api<DynamicObject>,
    t: &ResourceType,
    ns: Option<&str>,
    map: fn(Value) -> Value,
) -> Result<(Vec<Value>, String), kube::Error> {
    let mut items = Vec::new();
    let mut rv: Option<String> = None;
    let mut token: Option<String> = None;
    loop {
        let mut lp = ListParams::default().limit(LIST_PAGE);
        if let Some(c) = token.take() {
            lp = lp.continue_token(&c);
        }
        let page = api.list(&lp).await?;
        if rv.is_none() {
            rv = Some(page.metadata.resource_version.clone().unwrap_or_default());
        }
        let next = page.metadata.continue_.clone().filter(|c| !c.is_empty());
        items.extend(page.items.into_iter().filter_map(|o| {
            let name = o.metadata.name.clone().unwrap_or_default();
            Client::to_value(t, ns, &name, o).ok().map(map)
        }));
        match next {
            Some(c) => token = Some(c),
            None => return Ok((items, rv.unwrap_or_default())),
        }
    }
}
