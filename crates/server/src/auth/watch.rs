//! Reading `argocd-cm`, `argocd-secret` and `argocd-rbac-cm` at start and following them with
//! watches: every change rebuilds the settings or the policy (a new policy is a new decision
//! cache).

use std::sync::{Arc, Weak};

use serde_json::Value;
use tokio::sync::mpsc;

use fjord_client::WatchItem;

use super::bootstrap::{secret_type, ARGOCD_SECRET};
use super::error::AuthError;
use super::policy::Policy;
use super::settings::Settings;
use super::Auth;

const ARGOCD_CM: &str = "argocd-cm";
const RBAC_CM: &str = "argocd-rbac-cm";

/// The objects the settings come from (the last seen of each).
#[derive(Default)]
struct Seen {
    cm: Option<Value>,
    secret: Option<Value>,
    rbac: Option<Value>,
}

fn name(o: &Value) -> &str {
    o.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Reads the three objects once (before the server answers anything).
pub(super) async fn load(auth: &Auth) -> Result<(), AuthError> {
    let step = |step| move |source| AuthError::Client { step, source };
    let cm_t = auth
        .client
        .resolve("v1", "ConfigMap")
        .await
        .map_err(step("resolving the ConfigMap type"))?;
    let secret_t = secret_type(&auth.client).await?;
    let ns = Some(auth.namespace.as_str());
    let cm = auth
        .client
        .get(&cm_t, ns, ARGOCD_CM)
        .await
        .map_err(step("reading ConfigMap argocd-cm"))?;
    let rbac = auth
        .client
        .get(&cm_t, ns, RBAC_CM)
        .await
        .map_err(step("reading ConfigMap argocd-rbac-cm"))?;
    let secret = auth
        .client
        .get(&secret_t, ns, ARGOCD_SECRET)
        .await
        .map_err(step("reading Secret argocd-secret"))?;
    auth.set_settings(Settings::from_objects(cm.as_ref(), secret.as_ref()));
    auth.set_policy(Policy::from_config_map(rbac.as_ref()));
    Ok(())
}

/// Starts the watches of ConfigMaps and Secrets in the control-plane namespace. The tasks end
/// when the [`Auth`] is dropped.
pub(super) async fn follow(auth: &Arc<Auth>) -> Result<(), AuthError> {
    let cm_t = auth
        .client
        .resolve("v1", "ConfigMap")
        .await
        .map_err(|source| AuthError::Client {
            step: "resolving the ConfigMap type",
            source,
        })?;
    let secret_t = secret_type(&auth.client).await?;
    let ns = Some(auth.namespace.as_str());
    let cms = auth.client.watch(&cm_t, ns);
    let secrets = auth.client.watch(&secret_t, ns);
    tokio::spawn(run(Arc::downgrade(auth), cms, secrets));
    Ok(())
}

/// Applies watch items until either watch or the [`Auth`] goes away.
async fn run(
    auth: Weak<Auth>,
    mut cms: mpsc::Receiver<WatchItem>,
    mut secrets: mpsc::Receiver<WatchItem>,
) {
    let mut seen = Seen::default();
    loop {
        let (item, is_secret) = tokio::select! {
            i = cms.recv() => (i, false),
            i = secrets.recv() => (i, true),
        };
        let Some(item) = item else {
            return;
        };
        let Some(auth) = auth.upgrade() else {
            return;
        };
        let (settings_changed, policy_changed) = apply(&mut seen, item, is_secret);
        if settings_changed {
            auth.set_settings(Settings::from_objects(
                seen.cm.as_ref(),
                seen.secret.as_ref(),
            ));
        }
        if policy_changed {
            auth.set_policy(Policy::from_config_map(seen.rbac.as_ref()));
        }
    }
}

/// Records one watch item; returns whether the settings and whether the policy changed.
fn apply(seen: &mut Seen, item: WatchItem, is_secret: bool) -> (bool, bool) {
    let mut settings = false;
    let mut policy = false;
    let mut set = |obj: Option<Value>, key: &str| match (key, is_secret) {
        (ARGOCD_SECRET, true) => {
            settings |= seen.secret != obj;
            seen.secret = obj;
        }
        (ARGOCD_CM, false) => {
            settings |= seen.cm != obj;
            seen.cm = obj;
        }
        (RBAC_CM, false) => {
            policy |= seen.rbac != obj;
            seen.rbac = obj;
        }
        _ => {}
    };
    match item {
        WatchItem::Listed(items) => {
            let names: &[&str] = if is_secret {
                &[ARGOCD_SECRET]
            } else {
                &[ARGOCD_CM, RBAC_CM]
            };
            for n in names {
                let obj = items.iter().find(|o| name(o) == *n).cloned();
                set(obj, n);
            }
        }
        WatchItem::Applied(o) => {
            let n = name(&o).to_string();
            set(Some(o), &n);
        }
        WatchItem::Deleted(o) => {
            let n = name(&o).to_string();
            set(None, &n);
        }
        WatchItem::Refused(msg) => {
            let what = if is_secret { "Secrets" } else { "ConfigMaps" };
            eprintln!(
                "fjord server: warning: watching {what} refused ({msg}); settings changes are not followed"
            );
        }
    }
    (settings, policy)
}
