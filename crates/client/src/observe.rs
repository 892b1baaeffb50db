//! Observing the requests a client makes (for metrics such as Argo CD's
//! `argocd_app_k8s_request_total`). Only the request's shape is reported, never a body.

use std::sync::Arc;

use crate::Client;

/// One finished request (after retries).
#[derive(Debug, Clone, Copy)]
pub struct RequestRecord<'a> {
    /// `get`, `list`, `apply`, `create`, `replace`, `delete`, `patch`.
    pub verb: &'a str,
    /// The kind concerned.
    pub kind: &'a str,
    /// The namespace concerned (`""` for cluster-scoped objects and all-namespace lists).
    pub namespace: &'a str,
    /// The HTTP status code; 0 when no response came (connection error, timeout).
    pub code: u16,
    /// Whether it was a dry run.
    pub dry_run: bool,
}

/// A callback told about every request.
pub type Observer = Arc<dyn Fn(&RequestRecord<'_>) + Send + Sync>;

impl Client {
    /// This client, telling `observer` about every request it makes.
    pub fn with_observer(mut self, observer: Observer) -> Client {
        self.observer = Some(observer);
        self
    }

    /// Reports a finished request to the observer, if any.
    pub(crate) fn observe<T>(
        &self,
        verb: &str,
        kind: &str,
        namespace: Option<&str>,
        dry_run: bool,
        result: &Result<T, kube::Error>,
        ok_code: u16,
    ) {
        let Some(o) = &self.observer else { return };
        let code = match result {
            Ok(_) => ok_code,
            Err(kube::Error::Api(resp)) => resp.code,
            Err(_) => 0,
        };
        o(&RequestRecord {
            verb,
            kind,
            namespace: namespace.unwrap_or(""),
            code,
            dry_run,
        });
    }
}
