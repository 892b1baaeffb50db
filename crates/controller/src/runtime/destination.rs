//! Where an app deploys: the destination cluster (the controller's own or a registered cluster
//! Secret), a client for it counted in the app's request metrics, and the app's project, whose
//! permissions bound every object a sync to it compares, applies or prunes.

use std::sync::Arc;

use fjord_client::Client;

use super::{watches, ControllerError, Shared, IN_CLUSTER};
use crate::api::{AppProject, Application};

/// Where an app deploys.
#[derive(Clone, Debug)]
pub struct Destination {
    /// A client for the destination cluster.
    pub client: Client,
    /// The server URL (`https://kubernetes.default.svc` for the controller's own cluster).
    pub server: String,
    /// The destination namespace, if any.
    pub namespace: Option<String>,
    /// The cluster's name (`in-cluster` for the controller's own), matched by the project's
    /// destinations like `server`.
    pub name: String,
    /// The app's project, once the spec is validated: every object compared, synced or pruned
    /// goes through its permissions ([`Destination::permissions`]).
    pub project: Option<Arc<AppProject>>,
    /// A namespace install's namespace: every object of the app must be in it (checked before
    /// the project's rules, before anything is read or written).
    pub confine: Option<String>,
}

impl Destination {
    /// What a sync to this destination may touch: the project's resource lists and
    /// destinations; nothing when no project is known.
    pub fn permissions(&self) -> fjord_sync::Permissions {
        let cluster = crate::api::project::Cluster {
            server: &self.server,
            name: &self.name,
        };
        let project = match &self.project {
            Some(p) => p.sync_permissions(&cluster),
            None => fjord_sync::Permissions::new(|_, _| {
                Err("the application's project is not known".to_string())
            }),
        };
        match self.confine.clone() {
            None => project,
            Some(ns) => fjord_sync::Permissions::new(move |id, namespaced| {
                confined(&ns, id, namespaced)?;
                project.check(id, namespaced)
            }),
        }
    }
}

impl Destination {
    /// Bounds a sync request to this destination: the permissions, and in a namespace install
    /// no `CreateNamespace=true` for another namespace (the Namespace is neither read nor
    /// created; the app's objects there are refused by the permissions, naming them).
    pub fn bound(&self, req: &mut fjord_sync::SyncRequest) {
        req.permissions = self.permissions();
        if let Some(ns) = &self.confine {
            if req.destination_namespace.as_deref() != Some(ns.as_str()) {
                req.options.create_namespace = Some(false);
            }
        }
    }
}

/// A namespace install's rule: only namespaced objects of namespace `ns`.
fn confined(ns: &str, id: &fjord_model::ObjectRef, namespaced: bool) -> Result<(), String> {
    if !namespaced {
        return Err(format!(
            "{} {} is cluster-scoped: this namespace install of fjord manages only namespace {ns}",
            id.kind, id.name
        ));
    }
    if id.namespace != ns {
        return Err(format!(
            "{} {}/{} is outside namespace {ns}, the only one this namespace install of fjord manages",
            id.kind, id.namespace, id.name
        ));
    }
    Ok(())
}

/// The app's project (`None` when it does not exist).
pub(super) async fn load_project(
    shared: &Shared,
    name: &str,
) -> Result<Option<AppProject>, ControllerError> {
    let t = shared
        .client
        .resolve("argoproj.io/v1alpha1", "AppProject")
        .await
        .map_err(|source| ControllerError::Client {
            step: "discovering AppProject",
            source,
        })?;
    let raw = shared
        .client
        .get(&t, Some(&shared.opts.namespace), name)
        .await
        .map_err(|source| ControllerError::Client {
            step: "reading the AppProject",
            source,
        })?;
    raw.map(|v| {
        serde_json::from_value(v).map_err(|source| ControllerError::DecodeProject {
            name: name.into(),
            source,
        })
    })
    .transpose()
}

/// The destination of `app`: the controller's own cluster, or a registered cluster Secret.
pub async fn destination(
    shared: &Shared,
    app: &Application,
) -> Result<Destination, ControllerError> {
    let spec = app.spec();
    let d = spec.destination.clone().unwrap_or_default();
    let namespace = d.namespace.clone().filter(|n| !n.is_empty());
    let server = d.server.clone().filter(|s| !s.is_empty());
    let name = d.name.clone().filter(|s| !s.is_empty());
    let in_cluster = match (&server, &name) {
        (Some(s), _) => s == IN_CLUSTER,
        (None, Some(n)) => n == "in-cluster",
        (None, None) => false,
    };
    if in_cluster {
        return Ok(Destination {
            client: observed(shared, app, shared.client.clone(), IN_CLUSTER),
            server: IN_CLUSTER.into(),
            namespace,
            name: "in-cluster".into(),
            project: None,
            confine: shared
                .opts
                .namespaced
                .then(|| shared.opts.namespace.clone()),
        });
    }
    let wanted = server.clone().or(name.clone()).unwrap_or_default();
    let settings = shared.settings();
    let clusters = &settings.clusters;
    let secret = clusters.iter().find(|s| {
        let field = |f: &str| super::watches::secret_string(s, f);
        match (&server, &name) {
            (Some(srv), _) => field("server").as_deref() == Some(srv.as_str()),
            (None, Some(n)) => field("name").as_deref() == Some(n.as_str()),
            (None, None) => false,
        }
    });
    let Some(secret) = secret else {
        return Err(ControllerError::UnknownCluster(wanted));
    };
    let client = watches::cluster_client(shared, secret).await?;
    let server = super::watches::secret_string(secret, "server").unwrap_or(wanted);
    let cluster_name = super::watches::secret_string(secret, "name").unwrap_or_default();
    Ok(Destination {
        client: observed(shared, app, client, &server),
        server,
        namespace,
        name: cluster_name,
        project: None,
        confine: None,
    })
}

/// `client`, counting its requests in `argocd_app_k8s_request_total` for `app`.
fn observed(shared: &Shared, app: &Application, client: Client, server: &str) -> Client {
    let family = shared.metrics.app_k8s_request.clone();
    let base = crate::metrics::K8sRequestLabels {
        namespace: app.namespace().to_string(),
        name: app.name().to_string(),
        project: app.spec().project_name().to_string(),
        server: server.to_string(),
        ..Default::default()
    };
    client.with_observer(std::sync::Arc::new(
        move |r: &fjord_client::RequestRecord<'_>| {
            let labels = crate::metrics::K8sRequestLabels {
                response_code: if r.code == 0 {
                    "Unknown".to_string()
                } else {
                    r.code.to_string()
                },
                verb: r.verb.to_string(),
                resource_kind: r.kind.to_string(),
                resource_namespace: r.namespace.to_string(),
                dry_run: r.dry_run.to_string(),
                ..base.clone()
            };
            family.get_or_create(&labels).inc();
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::confined;
    use fjord_model::ObjectRef;

    #[test]
    fn a_namespace_install_refuses_other_namespaces_and_cluster_scoped_objects() {
        let cm = |ns: &str| ObjectRef::new("", "v1", "ConfigMap", ns, "settings");
        assert!(confined("team", &cm("team"), true).is_ok());
        let e = confined("team", &cm("other"), true).unwrap_err();
        assert!(
            e.contains("ConfigMap other/settings") && e.contains("team"),
            "{e}"
        );
        let ns = ObjectRef::new("", "v1", "Namespace", "", "x");
        assert!(confined("team", &ns, false)
            .unwrap_err()
            .contains("Namespace x"));
    }
}
