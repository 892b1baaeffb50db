//! The AppProject's permissions through the sync engine, as the controller runs a sync: the
//! embedded API (fjord-cluster) in process, `AppProject::sync_permissions` for the in-cluster
//! destination, `Engine::plan` then `Engine::execute`. Refused objects are neither applied nor
//! pruned, the permitted ones are, and CreateNamespace is a cluster-scoped object like any.

use fjord_client::{ApplyOptions, Client, ClientOptions};
use fjord_cluster::{ClusterHandle, ClusterOptions};
use fjord_controller::api::project::Cluster;
use fjord_controller::api::AppProject;
use fjord_sync::{Engine, OperationPhase, ResultCode, SyncOptions, SyncRequest, SyncResult};
use serde_json::{json, Value};

const IN_CLUSTER: Cluster<'static> = Cluster {
    server: "https://kubernetes.default.svc",
    name: "in-cluster",
};

async fn cluster(dir: &std::path::Path) -> (ClusterHandle, Client) {
    let handle = fjord_cluster::serve(ClusterOptions {
        in_memory: true,
        addr: "127.0.0.1:0".parse().expect("addr"),
        ..ClusterOptions::new(dir)
    })
    .await
    .expect("cluster");
    let client = Client::connect(&ClientOptions {
        kubeconfig: Some(handle.kubeconfig().to_path_buf()),
        ..Default::default()
    })
    .await
    .expect("client");
    (handle, client)
}

async fn create(client: &Client, obj: Value) {
    let av = obj["apiVersion"].as_str().unwrap().to_string();
    let kind = obj["kind"].as_str().unwrap().to_string();
    let t = client.resolve(&av, &kind).await.expect("kind");
    client
        .apply(&t, &obj, &ApplyOptions::default())
        .await
        .expect("apply");
}

async fn exists(client: &Client, av: &str, kind: &str, ns: Option<&str>, name: &str) -> bool {
    let t = client.resolve(av, kind).await.expect("kind");
    client.get(&t, ns, name).await.expect("get").is_some()
}

fn project(destinations: Value) -> AppProject {
    serde_json::from_value(json!({
        "metadata": {"name": "restricted", "namespace": "argocd"},
        "spec": {"sourceRepos": ["*"], "destinations": destinations}
    }))
    .expect("project")
}

fn cm(name: &str, ns: Option<&str>) -> Value {
    let mut v = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name}, "data": {"k": "v"}});
    if let Some(ns) = ns {
        v["metadata"]["namespace"] = json!(ns);
    }
    v
}

async fn sync(
    client: &Client,
    project: &AppProject,
    objects: Vec<Value>,
    options: SyncOptions,
) -> (fjord_sync::Plan, SyncResult) {
    let engine = Engine::new(client.clone(), Default::default());
    let mut req = SyncRequest::new("tenant", objects);
    req.destination_namespace = Some("team-a".into());
    req.prune = true;
    req.allow_empty = true;
    req.options = options;
    req.permissions = project.sync_permissions(&IN_CLUSTER);
    let plan = engine.plan(&req).await.expect("plan");
    let result = engine.execute(&plan, &mut |_| {}).await;
    (plan, result)
}

fn row<'a>(r: &'a SyncResult, kind: &str, name: &str) -> &'a fjord_sync::ResourceResult {
    r.resources
        .iter()
        .find(|x| x.kind == kind && x.name == name)
        .unwrap_or_else(|| panic!("no row for {kind} {name}: {:#?}", r.resources))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_objects_are_neither_applied_nor_pruned() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (handle, client) = cluster(dir.path()).await;
    for ns in ["team-a", "team-c"] {
        create(
            &client,
            json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": ns}}),
        )
        .await;
    }
    let loose = project(json!([
        {"server": IN_CLUSTER.server, "namespace": "team-a"},
        {"name": "in-cluster", "namespace": "team-c"}
    ]));
    let crb = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "escalate"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "team-a"}]});
    let objects = vec![
        cm("a", None),
        cm("c", Some("team-c")),
        cm("k", Some("kube-system")),
        crb,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "extra"}}),
    ];
    let (plan, result) = sync(&client, &loose, objects, SyncOptions::default()).await;
    let mut denied: Vec<(&str, bool)> = plan
        .denied
        .iter()
        .map(|d| (d.id.name.as_str(), d.rendered))
        .collect();
    denied.sort_unstable();
    assert_eq!(
        denied,
        vec![("escalate", true), ("extra", true), ("k", true)]
    );
    assert_eq!(plan.tasks.len(), 2, "{:#?}", plan.tasks);
    assert!(exists(&client, "v1", "ConfigMap", Some("team-a"), "a").await);
    assert!(exists(&client, "v1", "ConfigMap", Some("team-c"), "c").await);
    assert!(!exists(&client, "v1", "ConfigMap", Some("kube-system"), "k").await);
    assert!(
        !exists(
            &client,
            "rbac.authorization.k8s.io/v1",
            "ClusterRoleBinding",
            None,
            "escalate"
        )
        .await
    );
    assert!(!exists(&client, "v1", "Namespace", None, "extra").await);
    assert_eq!(result.phase, OperationPhase::Failed, "{}", result.message);
    assert_eq!(
        result.message,
        "one or more synchronization tasks are not valid: \
         namespace kube-system is not permitted in project 'restricted'; \
         resource :Namespace is not permitted in project restricted; \
         resource rbac.authorization.k8s.io:ClusterRoleBinding is not permitted in project restricted"
    );
    let r = row(&result, "ClusterRoleBinding", "escalate");
    assert_eq!(r.status, ResultCode::SyncFailed);
    assert_eq!(row(&result, "ConfigMap", "a").status, ResultCode::Synced);

    // The project stops permitting team-c and the render drops `c`: it is left in place.
    let tight = project(json!([{"server": IN_CLUSTER.server, "namespace": "team-a"}]));
    let (plan, result) = sync(&client, &tight, vec![cm("a", None)], SyncOptions::default()).await;
    assert!(
        plan.tasks.iter().all(|t| t.id.name != "c"),
        "{:#?}",
        plan.tasks
    );
    assert_eq!(plan.denied.len(), 1);
    assert!(!plan.denied[0].rendered);
    assert_eq!(
        result.phase,
        OperationPhase::Succeeded,
        "{}",
        result.message
    );
    let r = row(&result, "ConfigMap", "c");
    assert_eq!(r.status, ResultCode::PruneSkipped);
    assert_eq!(
        r.message,
        "not pruned: namespace team-c is not permitted in project 'restricted'"
    );
    assert!(exists(&client, "v1", "ConfigMap", Some("team-c"), "c").await);

    // With the project loose again, the same render prunes it.
    let (_, result) = sync(&client, &loose, vec![cm("a", None)], SyncOptions::default()).await;
    assert_eq!(row(&result, "ConfigMap", "c").status, ResultCode::Pruned);
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_namespace_needs_the_cluster_whitelist() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (handle, client) = cluster(dir.path()).await;
    let p = project(json!([{"server": "*", "namespace": "*"}]));
    let options = SyncOptions::parse(["CreateNamespace=true"]).expect("options");
    let (plan, result) = sync(&client, &p, vec![], options.clone()).await;
    assert_eq!(plan.create_namespace, None);
    assert_eq!(plan.denied.len(), 1, "{:#?}", plan.denied);
    assert_eq!(plan.denied[0].id.kind, "Namespace");
    assert_eq!(result.phase, OperationPhase::Failed);
    assert!(!exists(&client, "v1", "Namespace", None, "team-a").await);

    let mut allowed = p.clone();
    let spec = allowed.spec.as_mut().expect("spec");
    spec.cluster_resource_whitelist =
        Some(serde_json::from_value(json!([{"group": "", "kind": "Namespace"}])).expect("list"));
    let (plan, result) = sync(&client, &allowed, vec![], options).await;
    assert_eq!(plan.create_namespace.as_deref(), Some("team-a"));
    assert_eq!(
        result.phase,
        OperationPhase::Succeeded,
        "{}",
        result.message
    );
    assert!(exists(&client, "v1", "Namespace", None, "team-a").await);
    handle.shutdown().await;
}
