//! kube-rs against the backend `FJORD_TEST_BACKEND` picks (fjord's local API in process, or the
//! real kube-apiserver), configured only from the server's kubeconfig: discovery, dynamic and
//! typed CRUD, metadata-only reads, server-side apply, and a `watcher` that survives ended watch
//! streams. `local_api_*` tests use local-only features (fault injection) and always run against
//! a local server; the real pass of `scripts/test.sh` skips them by name.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{
    Api, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::Discovery;
use kube::runtime::{watcher, WatchStreamExt};
use kube::Client;
use serde_json::json;

use fjord_cluster::{ClusterHandle, ClusterOptions};
use fjord_testkit::{Backend, ControlPlane};

/// The label every object these tests make carries: a real cluster has objects of its own
/// (the controller-manager's `kube-root-ca.crt` ConfigMap in every namespace).
const MINE: &str = "suite=kube-rs";

/// A running server: the local API (with its data dir) or the real control plane.
enum Server {
    Local(ClusterHandle, tempfile::TempDir),
    Real(ControlPlane),
}

impl Server {
    async fn shutdown(self) {
        match self {
            Server::Local(handle, _dir) => handle.shutdown().await,
            Server::Real(cp) => {
                tokio::task::spawn_blocking(move || drop(cp))
                    .await
                    .expect("stop the control plane");
            }
        }
    }
}

/// Starts the backend `FJORD_TEST_BACKEND` names; a client from its kubeconfig.
async fn start() -> (Server, Client) {
    match Backend::current() {
        Backend::Local => start_local(|_| {}).await,
        Backend::Real => {
            let cp = tokio::task::spawn_blocking(ControlPlane::start_or_panic)
                .await
                .expect("start the control plane");
            let client = client(&cp.kubeconfig()).await;
            (Server::Real(cp), client)
        }
    }
}

/// Starts fjord's local API whatever the backend (for `local_api_*` tests).
async fn start_local(f: impl FnOnce(&mut ClusterOptions)) -> (Server, Client) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut opts = ClusterOptions::new(dir.path());
    opts.addr = "127.0.0.1:0".parse().expect("addr");
    opts.sim.enabled = false;
    f(&mut opts);
    let handle = fjord_cluster::serve(opts).await.expect("serve");
    let client = client(handle.kubeconfig()).await;
    (Server::Local(handle, dir), client)
}

async fn client(kubeconfig: &std::path::Path) -> Client {
    let kubeconfig = Kubeconfig::read_from(kubeconfig).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("config");
    Client::try_from(config).expect("client")
}

fn labelled_cm(name: &str) -> ConfigMap {
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some(name.into());
    cm.metadata.labels = Some(BTreeMap::from([(
        "suite".to_string(),
        "kube-rs".to_string(),
    )]));
    cm
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_finds_builtin_groups_and_kinds() {
    let (handle, client) = start().await;
    let discovery = Discovery::new(client).run().await.expect("discovery");
    for (g, v, k) in [
        ("apps", "v1", "Deployment"),
        ("", "v1", "ConfigMap"),
        ("batch", "v1", "CronJob"),
        ("rbac.authorization.k8s.io", "v1", "ClusterRole"),
    ] {
        let (ar, caps) = discovery
            .resolve_gvk(&GroupVersionKind::gvk(g, v, k))
            .unwrap_or_else(|| panic!("{g}/{v} {k} not discovered"));
        assert_eq!(ar.kind, k);
        assert!(
            caps.supports_operation(kube::discovery::verbs::PATCH),
            "{k}"
        );
    }
    let (_, caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk("", "v1", "Namespace"))
        .expect("namespace");
    assert_eq!(caps.scope, kube::discovery::Scope::Cluster);
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_api_apply_get_list_delete() {
    let (handle, client) = start().await;
    let discovery = Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery");
    let (ar, _) = discovery
        .resolve_gvk(&GroupVersionKind::gvk("apps", "v1", "Deployment"))
        .expect("deployment");
    let api: Api<DynamicObject> = Api::namespaced_with(client, "default", &ar);
    let obj = |name: &str, replicas: i64| {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": {"app": name, "tier": "fe"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}
        })
    };
    let pp = PatchParams::apply("fjord").force();
    for name in ["web", "api"] {
        let applied = api
            .patch(name, &pp, &Patch::Apply(obj(name, 2)))
            .await
            .expect("apply");
        assert_eq!(applied.data["spec"]["replicas"], 2);
    }
    let created = api
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "db", "labels": {"tier": "be"}},
                "spec": {"selector": {"matchLabels": {"app": "db"}},
                    "template": {"metadata": {"labels": {"app": "db"}},
                        "spec": {"containers": [{"name": "c", "image": "postgres"}]}}}}))
            .expect("dynamic object"),
        )
        .await
        .expect("create");
    assert!(created.metadata.uid.is_some());
    let reapplied = api
        .patch("web", &pp, &Patch::Apply(obj("web", 5)))
        .await
        .expect("re-apply");
    assert_eq!(reapplied.data["spec"]["replicas"], 5);
    // The object's own managers (a real controller also writes the status subresource).
    let managers: Vec<String> = reapplied
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m.subresource.is_none())
        .filter_map(|m| m.manager)
        .collect();
    assert_eq!(managers, vec!["fjord".to_string()]);
    let got = api.get("web").await.expect("get");
    assert_eq!(got.data["spec"]["replicas"], 5);
    let fe = api
        .list(&ListParams::default().labels("tier=fe"))
        .await
        .expect("list");
    let mut names: Vec<String> = fe
        .items
        .iter()
        .filter_map(|o| o.metadata.name.clone())
        .collect();
    names.sort();
    assert_eq!(names, vec!["api", "web"]);
    api.delete("web", &DeleteParams::default())
        .await
        .expect("delete");
    let err = api.get("web").await.expect_err("deleted");
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 404),
        "{err}"
    );
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_only_get_and_list() {
    let (handle, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for (name, note) in [("one", "first"), ("two", "second")] {
        let mut cm = labelled_cm(name);
        cm.metadata.annotations = Some(BTreeMap::from([("note".to_string(), note.to_string())]));
        cm.data = Some(BTreeMap::from([("big".to_string(), "x".repeat(4096))]));
        api.create(&PostParams::default(), &cm)
            .await
            .expect("create");
    }
    let list = api
        .list_metadata(&ListParams::default().labels(MINE))
        .await
        .expect("list_metadata");
    let notes: Vec<(String, String)> = list
        .items
        .iter()
        .map(|p| {
            let note = p
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("note"))
                .cloned();
            (
                p.metadata.name.clone().unwrap_or_default(),
                note.unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        notes,
        [
            ("one".into(), "first".into()),
            ("two".into(), "second".into())
        ]
    );
    assert!(list
        .items
        .iter()
        .all(|p| p.metadata.resource_version.is_some()));
    // On the wire: a PartialObjectMetadataList whose items carry no data.
    let req =
        hyper::Request::get("/api/v1/namespaces/default/configmaps?labelSelector=suite%3Dkube-rs")
            .header(
                "Accept",
                "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
            )
            .body(Vec::new())
            .expect("request");
    let text = client.request_text(req).await.expect("raw metadata list");
    let raw: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(raw["kind"], "PartialObjectMetadataList");
    assert_eq!(raw["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(raw["items"][0]["kind"], "PartialObjectMetadata");
    assert!(!text.contains("xxxx"), "object data in a metadata list");
    // The metadata is served again after a write: never a stale copy.
    api.patch(
        "one",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": {"note": "changed"}}})),
    )
    .await
    .expect("patch");
    let list = api
        .list_metadata(&ListParams::default().labels(MINE))
        .await
        .expect("list_metadata again");
    let one = list
        .items
        .iter()
        .find(|p| p.metadata.name.as_deref() == Some("one"));
    assert_eq!(
        one.and_then(|p| p.metadata.annotations.as_ref())
            .and_then(|a| a.get("note"))
            .map(String::as_str),
        Some("changed")
    );
    let got = api.get_metadata("two").await.expect("get_metadata");
    assert_eq!(got.metadata.name.as_deref(), Some("two"));
    // Deleted objects leave the metadata list.
    api.delete("two", &DeleteParams::default())
        .await
        .expect("delete");
    let names: Vec<String> = api
        .list_metadata(&ListParams::default().labels(MINE))
        .await
        .expect("list after delete")
        .items
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    assert_eq!(names, ["one"]);
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_configmap_round_trip() {
    let (handle, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("settings".into());
    cm.data = Some(BTreeMap::from([("a".to_string(), "1".to_string())]));
    let created = api
        .create(&PostParams::default(), &cm)
        .await
        .expect("create");
    assert!(created.metadata.resource_version.is_some());
    let mut got = api.get("settings").await.expect("get");
    assert_eq!(got.data, cm.data);
    got.data
        .get_or_insert_with(BTreeMap::new)
        .insert("b".into(), "2".into());
    let replaced = api
        .replace("settings", &PostParams::default(), &got)
        .await
        .expect("replace");
    assert_eq!(replaced.data.as_ref().map(BTreeMap::len), Some(2));
    // A stale resourceVersion conflicts.
    let err = api
        .replace("settings", &PostParams::default(), &got)
        .await
        .expect_err("stale");
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 409),
        "{err}"
    );
    let patched = api
        .patch(
            "settings",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"a": null}})),
        )
        .await
        .expect("merge patch");
    assert_eq!(
        patched.data,
        Some(BTreeMap::from([("b".to_string(), "2".to_string())]))
    );
    handle.shutdown().await;
}

/// Creates eight labelled ConfigMaps over ~2 s and checks that a `watcher` with `config` sees
/// every one.
async fn watcher_sees_every_create(client: Client, config: watcher::Config) {
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let stream = watcher(api.clone(), config.labels(MINE))
        .default_backoff()
        .applied_objects();
    let task = tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(ev) = stream.next().await {
            if let Ok(cm) = ev {
                let _ = tx.send(cm.metadata.name.unwrap_or_default());
            }
        }
    });
    let mut expected = Vec::new();
    for i in 0..8 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let name = format!("cm-{i}");
        api.create(&PostParams::default(), &labelled_cm(&name))
            .await
            .expect("create");
        expected.push(name);
    }
    let mut seen = std::collections::BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while expected.iter().any(|n| !seen.contains(n)) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(name)) => {
                seen.insert(name);
            }
            _ => break,
        }
    }
    let missing: Vec<&String> = expected.iter().filter(|n| !seen.contains(*n)).collect();
    assert!(
        missing.is_empty(),
        "watcher missed {missing:?} (saw {seen:?})"
    );
    task.abort();
}

/// The server ends each watch after `timeoutSeconds=1` (the way a real API server ends every
/// watch after its request timeout): the watcher resumes and misses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_survives_server_ended_watch_streams() {
    let (handle, client) = start().await;
    watcher_sees_every_create(client, watcher::Config::default().timeout(1)).await;
    handle.shutdown().await;
}

/// Local only: dropping watch connections mid-stream is the local API's fault injection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_api_watcher_survives_dropped_watch_streams() {
    let (handle, client) = start_local(|o| {
        // ~2 s of writes: the stream is dropped about six times meanwhile.
        o.faults.drop_watch_after = Some(Duration::from_millis(300));
    })
    .await;
    watcher_sees_every_create(client, watcher::Config::default()).await;
    handle.shutdown().await;
}
