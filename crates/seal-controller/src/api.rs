//! The controller's view of the API server: fjord-client for discovery, get, list, create and
//! replace; a raw kube client for what fjord-client does not offer (merge patches of the
//! `status` subresource, `generateName` creates). Also installs the SealedSecret CRD.

use std::time::{Duration, Instant};

use fjord_client::{api_resource, Client, ClientError, ResourceType};
use kube::api::{DynamicObject, Patch, PatchParams, PostParams};
use serde_json::Value;

use crate::{SealControllerError, SealControllerOptions, COMPONENT};
use fjord_seal::docs;
use fjord_seal::object::{API_VERSION, KIND};

/// The SealedSecret CRD, as installed when the cluster does not serve the kind.
pub const CRD_YAML: &str = include_str!("../crds/sealedsecret-crd.yaml");
/// Name of the SealedSecret CRD.
pub const CRD_NAME: &str = "sealedsecrets.bitnami.com";
const CRD_API_VERSION: &str = "apiextensions.k8s.io/v1";
const CRD_KIND: &str = "CustomResourceDefinition";
const ESTABLISH_TIMEOUT: Duration = Duration::from_secs(60);

/// Connected clients and the resolved types the controller uses.
pub(crate) struct Api {
    pub(crate) client: Client,
    raw: kube::Client,
    pub(crate) secrets: ResourceType,
    pub(crate) events: ResourceType,
    pub(crate) sealed: ResourceType,
}

/// A failed write: the API server's message and whether retrying may succeed.
#[derive(Debug)]
pub(crate) struct WriteError {
    /// The message (never an object's data).
    pub(crate) message: String,
    /// 429, 5xx, timeout or connection failure.
    pub(crate) transient: bool,
}

impl WriteError {
    fn permanent(message: String) -> WriteError {
        WriteError {
            message,
            transient: false,
        }
    }
}

/// The API server's own message of a failed request (Go's `err.Error()`), else the client's.
pub(crate) fn api_message(err: &ClientError) -> String {
    match err {
        ClientError::Request { source, .. } | ClientError::Discover { source, .. } => {
            match &**source {
                kube::Error::Api(resp) => resp.message.clone(),
                other => other.to_string(),
            }
        }
        other => fjord_model::chain(other),
    }
}

fn kube_message(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(resp) => resp.message.clone(),
        other => other.to_string(),
    }
}

async fn resolve(
    client: &Client,
    api_version: &str,
    kind: &str,
) -> Result<ResourceType, SealControllerError> {
    client
        .resolve(api_version, kind)
        .await
        .map_err(|source| SealControllerError::Resolve {
            kind: format!("{api_version} {kind}"),
            source,
        })
}

impl Api {
    /// Connects both clients, resolves Secret and Event, and makes sure SealedSecrets are
    /// served (installing the CRD when allowed).
    pub(crate) async fn connect(opts: &SealControllerOptions) -> Result<Api, SealControllerError> {
        let client = Client::connect(&opts.client)
            .await
            .map_err(SealControllerError::Connect)?;
        let raw = client.kube_client();
        let secrets = resolve(&client, "v1", "Secret").await?;
        let events = resolve(&client, "v1", "Event").await?;
        let sealed = ensure_crd(&client, opts.install_crd).await?;
        Ok(Api {
            client,
            raw,
            secrets,
            events,
            sealed,
        })
    }

    fn dynamic(&self, t: &ResourceType, ns: &str) -> kube::Api<DynamicObject> {
        kube::Api::namespaced_with(self.raw.clone(), ns, &api_resource(t))
    }

    /// Creates an object named through `metadata.generateName`; returns the stored object.
    /// Not retried here: the caller decides (a timed-out create may have stored the object).
    pub(crate) async fn create_generated(
        &self,
        t: &ResourceType,
        ns: &str,
        obj: &Value,
    ) -> Result<Value, WriteError> {
        let dynobj: DynamicObject = serde_json::from_value(obj.clone())
            .map_err(|e| WriteError::permanent(format!("encoding the object: {e}")))?;
        let pp = PostParams {
            dry_run: false,
            field_manager: Some(COMPONENT.into()),
        };
        let created = self
            .dynamic(t, ns)
            .create(&pp, &dynobj)
            .await
            .map_err(|e| WriteError {
                message: kube_message(&e),
                transient: fjord_client::is_transient(&e),
            })?;
        serde_json::to_value(created)
            .map_err(|e| WriteError::permanent(format!("decoding the answer: {e}")))
    }

    /// Applies a JSON merge patch to the `status` subresource of a SealedSecret.
    pub(crate) async fn patch_sealed_status(
        &self,
        ns: &str,
        name: &str,
        patch: &Value,
    ) -> Result<(), String> {
        let pp = PatchParams {
            field_manager: Some(COMPONENT.into()),
            ..PatchParams::default()
        };
        self.dynamic(&self.sealed, ns)
            .patch_status(name, &pp, &Patch::Merge(patch))
            .await
            .map(drop)
            .map_err(|e| kube_message(&e))
    }
}

/// Resolves SealedSecret; when not served and `install` is set, creates the CRD, waits for
/// `Established` and resolves again.
async fn ensure_crd(client: &Client, install: bool) -> Result<ResourceType, SealControllerError> {
    match client.resolve(API_VERSION, KIND).await {
        Ok(t) => return Ok(t),
        Err(ClientError::UnknownKind { .. }) if install => {}
        Err(source) => {
            return Err(SealControllerError::Resolve {
                kind: format!("{API_VERSION} {KIND}"),
                source,
            })
        }
    }
    let fail = |reason: String| SealControllerError::InstallCrd {
        crd: CRD_NAME.into(),
        reason,
        transient: false,
    };
    let failed = |e: &ClientError| SealControllerError::InstallCrd {
        crd: CRD_NAME.into(),
        reason: api_message(e),
        transient: fjord_client::is_transient_error(e),
    };
    let crd_type = resolve(client, CRD_API_VERSION, CRD_KIND).await?;
    let crd = docs::parse_documents(CRD_YAML)
        .map_err(|e| fail(format!("embedded manifest: {e}")))?
        .into_iter()
        .next()
        .ok_or_else(|| fail("embedded manifest is empty".into()))?;
    match client.create(&crd_type, &crd, false, COMPONENT).await {
        Ok(_) => tracing::info!(crd = CRD_NAME, "installed CustomResourceDefinition"),
        Err(e) if e.is_conflict() => {}
        Err(e) => return Err(failed(&e)),
    }
    let start = Instant::now();
    loop {
        let live = client
            .get(&crd_type, None, CRD_NAME)
            .await
            .map_err(|e| failed(&e))?;
        let established = live
            .as_ref()
            .and_then(|c| c.pointer("/status/conditions"))
            .and_then(Value::as_array)
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "Established" && c["status"] == "True")
            });
        if established {
            client.invalidate();
            match client.resolve(API_VERSION, KIND).await {
                Ok(t) => return Ok(t),
                Err(ClientError::UnknownKind { .. }) => {}
                Err(source) => {
                    return Err(SealControllerError::Resolve {
                        kind: format!("{API_VERSION} {KIND}"),
                        source,
                    })
                }
            }
        }
        if start.elapsed() > ESTABLISH_TIMEOUT {
            return Err(SealControllerError::InstallCrd {
                crd: CRD_NAME.into(),
                reason: format!("not served after {}s", ESTABLISH_TIMEOUT.as_secs()),
                transient: true,
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_crd_matches_the_kind() {
        let crd = docs::parse_documents(CRD_YAML).unwrap().remove(0);
        assert_eq!(crd["metadata"]["name"], CRD_NAME);
        assert_eq!(crd["spec"]["group"], "bitnami.com");
        assert_eq!(crd["spec"]["names"]["kind"], KIND);
        assert_eq!(crd["spec"]["scope"], "Namespaced");
        let v = &crd["spec"]["versions"][0];
        assert_eq!(v["name"], "v1alpha1");
        assert!(v["subresources"]["status"].is_object());
        assert_eq!(
            v["additionalPrinterColumns"][0]["jsonPath"],
            ".status.conditions[0].message"
        );
    }
}
