//! JSON log lines on stderr and Kubernetes Events on Applications. Neither ever carries an
//! object's data: only names, reasons and the controller's own messages.

use chrono::Utc;
use fjord_client::Client;
use serde_json::{json, Value};

use super::CONTROLLER_MANAGER;
use crate::api::Application;
use crate::status::k8s_time;

/// Writes one JSON log line (`time`, `level`, `app`, `msg`) to stderr.
pub fn log(level: &str, app: &str, msg: &str) {
    let line = json!({"time": k8s_time(Utc::now()), "level": level, "app": app, "msg": msg});
    eprintln!("{line}");
}

/// Records a Kubernetes Event on `app` (Normal or Warning) in the background; failures are
/// only logged.
pub async fn record(client: &Client, app: &Application, warning: bool, reason: &str, msg: &str) {
    log(if warning { "warn" } else { "info" }, app.name(), msg);
    let Ok(t) = client.resolve("v1", "Event").await else {
        return;
    };
    let now = Utc::now();
    let ns = app.namespace();
    let uid = app
        .metadata
        .as_ref()
        .and_then(|m| m.uid.clone())
        .map_or(Value::Null, Value::String);
    let name = format!(
        "{}.{:x}",
        app.name(),
        now.timestamp_nanos_opt().unwrap_or_default()
    );
    let event = json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": ns},
        "involvedObject": {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "name": app.name(),
            "namespace": ns,
            "uid": uid,
        },
        "reason": reason,
        "message": msg,
        "type": if warning { "Warning" } else { "Normal" },
        "source": {"component": "fjord-application-controller"},
        "firstTimestamp": k8s_time(now),
        "lastTimestamp": k8s_time(now),
        "count": 1,
    });
    // Written beside the reconcile, not before its next step: an Event is a record, and the
    // app's status (the next step) must not wait for it.
    let (client, app, reason) = (client.clone(), app.name().to_string(), reason.to_string());
    tokio::spawn(async move {
        if let Err(e) = client.create(&t, &event, false, CONTROLLER_MANAGER).await {
            log(
                "warn",
                &app,
                &format!("recording event {reason}: {}", fjord_model::chain(&e)),
            );
        }
    });
}
