//! Reaching the Sealed Secrets controller the way `kubeseal` does when no `--cert`,
//! `--controller-url` or `--server` is given: through the API server's service proxy
//! (`/api/v1/namespaces/<ns>/services/http:<name>:http/proxy/…`), with the kubeconfig's
//! address, credentials and TLS settings.

use std::path::PathBuf;

use super::fetch::Response;
use super::CliError;

/// The controller's Service and the kubeconfig to reach the API server with.
#[derive(Debug, Clone)]
pub struct ServiceRoute {
    /// `--kubeconfig` (else `$KUBECONFIG`, `~/.kube/config`, in-cluster).
    pub kubeconfig: Option<PathBuf>,
    /// `--context` (else the current context).
    pub context: Option<String>,
    /// The Service's namespace (`--controller-namespace`).
    pub namespace: String,
    /// The Service's name (`--controller-name`).
    pub name: String,
}

impl ServiceRoute {
    /// The API path of `sub` (`/v1/cert.pem`) on the controller's Service.
    pub fn path(&self, sub: &str) -> String {
        format!(
            "/api/v1/namespaces/{}/services/http:{}:http/proxy{sub}",
            self.namespace, self.name
        )
    }

    /// Sends `method` (`GET` or `POST` with `body`) to `sub` through the API server.
    pub fn request(
        &self,
        method: &str,
        sub: &str,
        body: Option<&[u8]>,
    ) -> Result<Response, CliError> {
        let path = self.path(sub);
        let opts = fjord_client::ClientOptions {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            namespace: None,
        };
        let rt = super::super::kube_args::runtime()
            .map_err(|e| CliError::Controller(format!("{e:#}")))?;
        let answer = rt.block_on(async {
            let client = fjord_client::Client::connect(&opts)
                .await
                .map_err(|e| CliError::Controller(fjord_model::chain(&e)))?;
            let sent = match (method, body) {
                ("POST", Some(b)) => client.raw_post(&path, b.to_vec()).await,
                _ => client.raw_get(&path).await,
            };
            sent.map_err(|e| CliError::Controller(fjord_model::chain(&e)))
        })?;
        if answer.status == 404 && !self.controller_answered(&answer.body) {
            return Err(CliError::Controller(self.missing_message(&path)));
        }
        if matches!(answer.status, 401 | 403) {
            return Err(CliError::Controller(format!(
                "{method} {path}: {} ({}): the kubeconfig's user may not reach service {} in \
                 namespace {} through the API server (it needs \"get\" on services/proxy); or \
                 pass --cert FILE|URL",
                answer.status,
                status_message(&answer.body),
                self.name,
                self.namespace
            )));
        }
        if answer.status == 503 {
            return Err(CliError::Controller(format!(
                "{method} {path}: 503 Service Unavailable ({}): service {} in namespace {} has \
                 no reachable endpoint (is the Sealed Secrets controller running?); or pass \
                 --cert FILE|URL",
                status_message(&answer.body),
                self.name,
                self.namespace
            )));
        }
        Ok(Response {
            status: answer.status,
            body: answer.body,
        })
    }

    /// A 404 from the API server (a `Status` object naming the service) rather than from the
    /// controller behind it.
    fn controller_answered(&self, body: &[u8]) -> bool {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
            return true;
        };
        v.get("kind").and_then(serde_json::Value::as_str) != Some("Status")
    }

    fn missing_message(&self, path: &str) -> String {
        format!(
            "GET {path}: 404 Not Found: service {} not found in namespace {} (set \
             --controller-name/--controller-namespace, or pass the certificate with \
             --cert FILE|URL, e.g. from `fjord seal --fetch-cert` run where the controller is \
             reachable)",
            self.name, self.namespace
        )
    }
}

/// The `message` of a `Status` body, else the body's first line (at most 200 characters).
fn status_message(body: &[u8]) -> String {
    let parsed = serde_json::from_slice::<serde_json::Value>(body).ok();
    let text = match parsed
        .as_ref()
        .and_then(|v| v.get("message"))
        .and_then(|m| m.as_str())
    {
        Some(m) => m.to_string(),
        None => String::from_utf8_lossy(body)
            .lines()
            .next()
            .unwrap_or("")
            .to_string(),
    };
    text.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route() -> ServiceRoute {
        ServiceRoute {
            kubeconfig: None,
            context: None,
            namespace: "kube-system".into(),
            name: "sealed-secrets-controller".into(),
        }
    }

    #[test]
    fn the_path_is_kubeseals() {
        assert_eq!(
            route().path("/v1/cert.pem"),
            "/api/v1/namespaces/kube-system/services/http:sealed-secrets-controller:http/proxy/v1/cert.pem"
        );
    }

    #[test]
    fn a_missing_service_is_named_with_the_way_out() {
        let m = route().missing_message("/p");
        assert!(m.contains("service sealed-secrets-controller not found in namespace kube-system"));
        assert!(m.contains("--cert"));
        let status = br#"{"kind":"Status","code":404}"#;
        assert!(!route().controller_answered(status));
        assert!(route().controller_answered(b"404 page not found"));
    }
}
