//! What wakes the workers: the Application watch (spec, operation, annotation and deletion
//! changes — not the controller's own status writes); live objects are followed by
//! [`super::cache`]. Also the clients of registered clusters.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use base64::Engine as _;
use fjord_client::{Client, WatchItem};
use serde_json::Value;

use super::{ControllerError, Shared};

/// A hash of everything in an Application but `status` and bookkeeping metadata.
pub fn fingerprint(app: &Value) -> u64 {
    let mut v = app.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("status");
    }
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in ["resourceVersion", "managedFields", "generation"] {
            meta.remove(k);
        }
    }
    let mut h = DefaultHasher::new();
    v.to_string().hash(&mut h);
    h.finish()
}

/// What a push webhook is matched against.
pub fn webhook_key(app: &Value) -> super::WebhookKey {
    let s = |p: &str| app.pointer(p).and_then(Value::as_str).unwrap_or("");
    super::WebhookKey {
        repo_url: match s("/spec/source/repoURL") {
            // An app with its one source in `spec.sources`.
            "" => s("/spec/sources/0/repoURL").to_string(),
            u => u.to_string(),
        },
        target_revision: match s("/spec/source/targetRevision") {
            "" => "HEAD".to_string(),
            r => r.to_string(),
        },
        path: match s("/spec/source/path") {
            "" => ".".to_string(),
            p => p.to_string(),
        },
        generate_paths: app
            .pointer("/metadata/annotations/argocd.argoproj.io~1manifest-generate-paths")
            .and_then(Value::as_str)
            .map(str::to_string),
    }
}

fn name_of(obj: &Value) -> Option<String> {
    obj.pointer("/metadata/name")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Whether `name` is this replica's to queue (always without sharding); notes the app for
/// the sharding metrics and hand-offs.
fn owned(shared: &Shared, name: &str) -> bool {
    match &shared.opts.ownership {
        Some(owner) => {
            owner.note_app(name);
            owner.owns(name)
        }
        None => true,
    }
}

/// Follows the Applications of the controller's namespace and queues the ones that changed.
pub async fn follow_apps(shared: Arc<Shared>) {
    let mut rx = shared
        .client
        .watch(&shared.app_type, Some(&shared.opts.namespace));
    while let Some(item) = rx.recv().await {
        match item {
            WatchItem::Listed(items) => {
                for app in &items {
                    if let Some(name) = name_of(app) {
                        let fp = fingerprint(app);
                        let key = webhook_key(app);
                        shared.memo(&name, |m| {
                            m.fingerprint = fp;
                            m.webhook = Some(key);
                        });
                        if owned(&shared, &name) {
                            shared.queue.add(name);
                        }
                    }
                }
                shared.ready.store(true, Ordering::SeqCst);
            }
            WatchItem::Applied(app) => {
                let Some(name) = name_of(&app) else { continue };
                let fp = fingerprint(&app);
                let key = webhook_key(&app);
                let changed = shared.memo(&name, |m| {
                    m.webhook = Some(key);
                    let changed = m.fingerprint != fp;
                    if changed {
                        m.fingerprint = fp;
                        m.refresh = Some(std::time::Instant::now());
                    }
                    changed
                });
                if changed && owned(&shared, &name) {
                    shared.queue.add(name);
                }
            }
            WatchItem::Deleted(app) => {
                if let Some(name) = name_of(&app) {
                    if let Some(owner) = &shared.opts.ownership {
                        owner.forget_app(&name);
                    }
                    shared
                        .apps
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&name);
                    shared.metrics.remove_app(&shared.opts.namespace, &name);
                }
            }
            WatchItem::Refused(msg) => {
                // Not ready: the controller may not list its own Applications (RBAC).
                super::events::log("error", "", &format!("listing Applications: {msg}"));
            }
        }
    }
}

/// A string field of a Secret's `data` (base64) or `stringData`.
pub fn secret_string(secret: &Value, field: &str) -> Option<String> {
    if let Some(s) = secret
        .pointer(&format!("/stringData/{field}"))
        .and_then(Value::as_str)
    {
        return Some(s.to_string());
    }
    let b64 = secret
        .pointer(&format!("/data/{field}"))
        .and_then(Value::as_str)?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    String::from_utf8(bytes).ok()
}

/// A (cached) client for a cluster Secret.
pub async fn cluster_client(shared: &Shared, secret: &Value) -> Result<Client, ControllerError> {
    let name = name_of(secret).unwrap_or_default();
    let server = secret_string(secret, "server").ok_or_else(|| ControllerError::ClusterServer {
        secret: name.clone(),
    })?;
    if let Some(c) = shared
        .clusters
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&server)
    {
        return Ok(c.clone());
    }
    let config = match secret_string(secret, "config") {
        Some(text) => {
            serde_json::from_str(&text).map_err(|source| ControllerError::ClusterConfig {
                secret: name.clone(),
                source,
            })?
        }
        None => Value::Object(Default::default()),
    };
    let client = Client::connect_cluster(&server, &config)
        .await
        .map_err(|source| ControllerError::Client {
            step: "connecting to a registered cluster",
            source,
        })?;
    shared
        .clusters
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(server, client.clone());
    Ok(client)
}
