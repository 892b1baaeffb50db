//! First start: `server.secretkey` and the admin password in `argocd-secret`, and the
//! plaintext password in `argocd-initial-admin-secret` (written only when this server generated
//! it). Safe when several servers start at once: every write carries the resourceVersion read
//! (or is a create), and a conflict means reading again.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Map, Value};

use fjord_client::{Client, ResourceType};

use super::error::AuthError;
use super::random;
use super::settings::secret_data;

/// The Secret with the key and the password hashes.
pub const ARGOCD_SECRET: &str = "argocd-secret";
/// The Secret with the generated admin password.
pub const INITIAL_ADMIN_SECRET: &str = "argocd-initial-admin-secret";
/// The field manager of the server's writes.
pub const FIELD_MANAGER: &str = "fjord-server";
/// bcrypt's cost for new hashes (Argo CD's default).
pub const BCRYPT_COST: u32 = 10;

/// The served Secret type.
pub async fn secret_type(client: &Client) -> Result<ResourceType, AuthError> {
    client
        .resolve("v1", "Secret")
        .await
        .map_err(|source| AuthError::Client {
            step: "resolving the Secret type",
            source,
        })
}

/// What is missing from `argocd-secret` and the values generated for it. `password` holds the
/// plaintext of a generated admin password.
struct Missing {
    data: Map<String, Value>,
    password: Option<String>,
}

fn missing(existing: &std::collections::HashMap<String, String>) -> Result<Missing, AuthError> {
    let mut data = Map::new();
    let mut password = None;
    if existing
        .get("server.secretkey")
        .is_none_or(|k| k.is_empty())
    {
        let mut key = [0u8; 32];
        random::try_fill(&mut key).map_err(|e| AuthError::Random(e.to_string()))?;
        data.insert(
            "server.secretkey".into(),
            json!(STANDARD.encode(STANDARD.encode(key))),
        );
    }
    if existing.get("admin.password").is_none_or(|p| p.is_empty()) {
        let plain = random::password(16).map_err(|e| AuthError::Random(e.to_string()))?;
        let hash = bcrypt::hash(&plain, BCRYPT_COST).map_err(|e| AuthError::Hash(e.to_string()))?;
        let mtime = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        data.insert("admin.password".into(), json!(STANDARD.encode(hash)));
        data.insert("admin.passwordMtime".into(), json!(STANDARD.encode(mtime)));
        password = Some(plain);
    }
    Ok(Missing { data, password })
}

/// Makes sure `argocd-secret` in `namespace` has a signing key and an admin password.
pub async fn ensure(client: &Client, namespace: &str) -> Result<(), AuthError> {
    let t = secret_type(client).await?;
    let step = |step| move |source| AuthError::Client { step, source };
    for _ in 0..10 {
        let live = client
            .get(&t, Some(namespace), ARGOCD_SECRET)
            .await
            .map_err(step("reading Secret argocd-secret"))?;
        let existing = secret_data(live.as_ref());
        let m = missing(&existing)?;
        if m.data.is_empty() {
            return Ok(());
        }
        let written = match live {
            None => {
                let obj = json!({
                    "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                    "metadata": {"name": ARGOCD_SECRET, "namespace": namespace,
                        "labels": {"app.kubernetes.io/name": ARGOCD_SECRET,
                                   "app.kubernetes.io/part-of": "argocd"}},
                    "data": Value::Object(m.data),
                });
                client.create(&t, &obj, false, FIELD_MANAGER).await
            }
            Some(mut obj) => {
                if !obj.get("data").is_some_and(Value::is_object) {
                    obj["data"] = json!({});
                }
                if let Some(d) = obj.get_mut("data").and_then(Value::as_object_mut) {
                    d.extend(m.data);
                }
                // The live object carries its resourceVersion: a concurrent write is a 409.
                client.replace(&t, &obj, false, FIELD_MANAGER).await
            }
        };
        match written {
            Ok(_) => {
                if let Some(p) = m.password {
                    write_initial(client, &t, namespace, &p).await?;
                }
                return Ok(());
            }
            Err(e) if e.is_conflict() => continue,
            Err(source) => {
                return Err(AuthError::Client {
                    step: "writing Secret argocd-secret",
                    source,
                })
            }
        }
    }
    Err(AuthError::Contended)
}

/// Writes the generated password to `argocd-initial-admin-secret` (replacing an old one).
async fn write_initial(
    client: &Client,
    t: &ResourceType,
    namespace: &str,
    password: &str,
) -> Result<(), AuthError> {
    let obj = json!({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": INITIAL_ADMIN_SECRET, "namespace": namespace},
        "data": {"password": STANDARD.encode(password)},
    });
    let step = |step| move |source| AuthError::Client { step, source };
    match client.create(t, &obj, false, FIELD_MANAGER).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_conflict() => client
            .replace(t, &obj, false, FIELD_MANAGER)
            .await
            .map(|_| ())
            .map_err(step("replacing Secret argocd-initial-admin-secret")),
        Err(source) => Err(AuthError::Client {
            step: "creating Secret argocd-initial-admin-secret",
            source,
        }),
    }
}
