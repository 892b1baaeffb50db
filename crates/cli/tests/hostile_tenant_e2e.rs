//! Hostile tenants against `fjord controller` through the real binary: the embedded API, the
//! controller and `git daemon` as child processes, `kubectl` to make projects, namespaces and
//! Applications. A restricted AppProject (namespaced objects only, destination `team-a`)
//! holds an app whose repository tries a ClusterRoleBinding to cluster-admin, a Namespace,
//! objects in `kube-system`, an object in another app's namespace and a copy of another app's
//! object: each is refused with a condition naming it and the rule, nothing of them is created
//! or changed, and the permitted objects sync. A project tightened after a sync prunes
//! nothing it no longer permits; an app from a repository the project denies (`!`) is
//! refused; another app's objects are never pruned, neither by a sync nor by a cascade delete.

mod common;

use common::{application, configmap, deployment, resource, s, Env, GitRepo, NS};
use fjord_testkit::require_tools;
use fjord_testkit::tools::{GIT, KUBECTL};
use serde_json::{json, Value};

const RESYNC: &str = "2s";
const IN_CLUSTER: &str = "https://kubernetes.default.svc";

/// Creates namespaces the tenants may not create themselves (kube-system when missing).
fn namespaces(env: &Env, names: &[&str]) {
    for ns in names {
        if !env.exists("namespace", "", ns) {
            env.kubectl_ok(&["create", "namespace", ns]);
        }
    }
}

/// Serves `repo` (its `main`) as `root/<name>` too, beside the repositories already there.
fn serve_beside(root: &std::path::Path, name: &str, repo: &GitRepo) {
    let bare = root.join(name);
    std::fs::create_dir_all(&bare).unwrap();
    fjord_testkit::git::git(&bare, &["init", "-q", "--bare", "-b", "main"]);
    fjord_testkit::git::git(
        &repo.work,
        &["push", "-q", "--force", bare.to_str().unwrap(), "main"],
    );
}

/// An AppProject `name` with `spec`.
fn project(name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    })
}

/// An Application of `project` deploying `path` of `repo` to `dest`, auto-synced with prune
/// and without CreateNamespace.
fn tenant_app(name: &str, project: &str, repo: &str, dest: &str) -> Value {
    let mut app = application(name, repo, "app", dest, Some(json!({"prune": true})));
    app["spec"]["project"] = json!(project);
    app["spec"]["syncPolicy"]
        .as_object_mut()
        .unwrap()
        .remove("syncOptions");
    app
}

/// The messages of the app's conditions of type `kind`.
fn conditions(app: &Value, kind: &str) -> Vec<String> {
    app.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| c["type"] == kind)
        .map(|c| s(c, "/message").to_string())
        .collect()
}

/// The row of the last operation's result for `kind` `name`.
fn result_row<'a>(app: &'a Value, kind: &str, name: &str) -> Option<&'a Value> {
    app.pointer("/status/operationState/syncResult/resources")
        .and_then(Value::as_array)?
        .iter()
        .find(|r| r["kind"] == kind && r["name"] == name)
}

/// The tracking annotation of a live object.
fn tracking(obj: &Value) -> &str {
    s(obj, "/metadata/annotations/argocd.argoproj.io~1tracking-id")
}

fn cluster_role_binding(name: &str) -> String {
    format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: {name}\n\
         roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: cluster-admin\n\
         subjects:\n- kind: ServiceAccount\n  name: default\n  namespace: team-a\n"
    )
}

fn role_binding(name: &str, ns: &str) -> String {
    format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: {name}\n  namespace: {ns}\n\
         roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: cluster-admin\n\
         subjects:\n- kind: ServiceAccount\n  name: default\n  namespace: team-a\n"
    )
}

/// A ConfigMap with an explicit namespace.
fn configmap_in(name: &str, ns: &str, key: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {ns}\ndata:\n  {key}: {value}\n"
    )
}

#[test]
fn restricted_project_refuses_every_escape_and_syncs_the_rest() {
    require_tools!(GIT, KUBECTL);
    let victim = GitRepo::new(
        "victim.git",
        &[
            ("app/b.yaml", configmap("b-config", "owner", "victim")),
            (
                "app/shared.yaml",
                configmap_in("shared-cm", "team-a", "owner", "victim"),
            ),
        ],
    );
    let tenant = GitRepo::new(
        "tenant.git",
        &[
            ("app/settings.yaml", configmap("settings", "color", "blue")),
            ("app/web.yaml", deployment("web", 1)),
            ("app/crb.yaml", cluster_role_binding("tenant-admin")),
            (
                "app/ns.yaml",
                "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: tenant-extra\n".into(),
            ),
            (
                "app/kube-system.yaml",
                format!(
                    "{}---\n{}",
                    configmap_in("pwn", "kube-system", "owner", "tenant"),
                    role_binding("pwn-admin", "kube-system")
                ),
            ),
            (
                "app/team-b.yaml",
                configmap_in("b-config", "team-b", "owner", "tenant"),
            ),
            (
                "app/copy.yaml",
                configmap_in("shared-cm", "team-a", "owner", "tenant"),
            ),
        ],
    );
    // All three repositories are served from one root (the victim's).
    let forbidden = GitRepo::new(
        "forbidden.git",
        &[("app/cm.yaml", configmap("forbidden", "owner", "tenant"))],
    );
    let root = victim.root.clone();
    serve_beside(&root, "tenant.git", &tenant);
    serve_beside(&root, "forbidden.git", &forbidden);
    let daemon = common::git_daemon(&root);
    let base = format!("git://127.0.0.1:{}", daemon.port);
    let env = Env::start(RESYNC);
    namespaces(&env, &["team-a", "team-b", "kube-system"]);

    // The victim (default project) owns team-b/b-config and team-a/shared-cm.
    env.apply_json(&application(
        "victim",
        &format!("{base}/victim.git"),
        "app",
        "team-b",
        Some(json!({"prune": true})),
    ));
    env.wait_synced("victim", Some(&victim.head()));

    env.apply_json(&project(
        "restricted",
        json!({
            "sourceRepos": [format!("{base}/*"), format!("!{base}/forbidden.git")],
            "destinations": [{"server": IN_CLUSTER, "namespace": "team-a"}],
        }),
    ));
    env.apply_json(&tenant_app(
        "tenant",
        "restricted",
        &format!("{base}/tenant.git"),
        "team-a",
    ));
    let app = env.wait_app("tenant", "its sync refused the violators", |a| {
        s(a, "/status/operationState/phase") == "Failed"
            && s(a, "/status/operationState/syncResult/revision") == tenant.head()
            && result_row(a, "ConfigMap", "settings").is_some()
            // The comparison after the sync has been written too (the operation
            // result and the refreshed comparison are two status writes).
            && resource(a, "ConfigMap", "settings").is_some_and(|r| r["status"] == "Synced")
    });

    // The permitted objects synced.
    assert_eq!(
        env.get("configmap", "team-a", "settings").unwrap()["data"]["color"],
        "blue"
    );
    assert!(env.exists("deployment", "team-a", "web"));
    for name in ["settings", "web"] {
        let row = result_row(
            &app,
            if name == "web" {
                "Deployment"
            } else {
                "ConfigMap"
            },
            name,
        )
        .unwrap();
        assert_eq!(row["status"], "Synced", "{row}");
    }

    // Nothing of the violators exists or changed.
    assert!(!env.exists("clusterrolebinding", "", "tenant-admin"));
    assert!(!env.exists("namespace", "", "tenant-extra"));
    assert!(!env.exists("configmap", "kube-system", "pwn"));
    assert!(!env.exists("rolebinding", "kube-system", "pwn-admin"));
    for (ns, name) in [("team-b", "b-config"), ("team-a", "shared-cm")] {
        let live = env.get("configmap", ns, name).unwrap();
        assert_eq!(live["data"]["owner"], "victim", "{ns}/{name} unchanged");
        assert!(tracking(&live).starts_with("victim:"), "{live}");
    }

    // Each violator is named with the rule it breaks, in Argo CD's words.
    let excluded = conditions(&app, "ExcludedResourceWarning");
    let expect = [
        "rbac.authorization.k8s.io/ClusterRoleBinding tenant-admin: resource rbac.authorization.k8s.io:ClusterRoleBinding is not permitted in project restricted",
        "/Namespace tenant-extra: resource :Namespace is not permitted in project restricted",
        "/ConfigMap kube-system/pwn: namespace kube-system is not permitted in project 'restricted'",
        "rbac.authorization.k8s.io/RoleBinding kube-system/pwn-admin: namespace kube-system is not permitted in project 'restricted'",
        "/ConfigMap team-b/b-config: namespace team-b is not permitted in project 'restricted'",
    ];
    for e in expect {
        assert!(
            excluded.iter().any(|m| m == e),
            "missing {e:?} in {excluded:#?}"
        );
    }
    assert_eq!(excluded.len(), expect.len(), "{excluded:#?}");
    assert_eq!(
        conditions(&app, "SharedResourceWarning"),
        vec!["ConfigMap/shared-cm is part of applications tenant and victim".to_string()]
    );
    // The comparison marks them Unknown; the app is not in sync; the operation says why.
    assert_eq!(s(&app, "/status/sync/status"), "OutOfSync");
    assert_eq!(
        resource(&app, "ClusterRoleBinding", "tenant-admin").unwrap()["status"],
        "Unknown"
    );
    assert_eq!(
        resource(&app, "ConfigMap", "settings").unwrap()["status"],
        "Synced"
    );
    let message = s(&app, "/status/operationState/message");
    assert!(
        message.starts_with("one or more synchronization tasks are not valid")
            && message.contains("namespace kube-system is not permitted in project 'restricted'")
            && message.contains(
                "resource rbac.authorization.k8s.io:ClusterRoleBinding is not permitted in project restricted"
            ),
        "{message}"
    );
    let row = result_row(&app, "ClusterRoleBinding", "tenant-admin").unwrap();
    assert_eq!(row["status"], "SyncFailed", "{row}");
    let row = result_row(&app, "ConfigMap", "shared-cm").unwrap();
    assert_eq!(row["status"], "Skipped", "{row}");

    // The victim is untouched and still in sync.
    env.wait_synced("victim", Some(&victim.head()));

    // An app from the repository the project denies with `!` is refused before any fetch.
    env.apply_json(&tenant_app(
        "sneaky",
        "restricted",
        &format!("{base}/forbidden.git"),
        "team-a",
    ));
    let sneaky = env.wait_app("sneaky", "refused by sourceRepos", |a| {
        !conditions(a, "InvalidSpecError").is_empty()
    });
    assert_eq!(
        conditions(&sneaky, "InvalidSpecError"),
        vec![format!(
            "application repo {base}/forbidden.git is not permitted in project 'restricted'"
        )]
    );
    assert!(!env.exists("configmap", "team-a", "forbidden"));
    env.controller.assert_no_errors();
}

#[test]
fn tightened_project_prunes_nothing_it_no_longer_permits_nor_other_apps_objects() {
    require_tools!(GIT, KUBECTL);
    let victim = GitRepo::new(
        "victim.git",
        &[("app/v.yaml", configmap("v-cm", "owner", "victim"))],
    );
    let tenant = GitRepo::new(
        "tenant.git",
        &[
            ("app/a.yaml", configmap("a-cm", "owner", "tenant")),
            (
                "app/c.yaml",
                configmap_in("c-cm", "team-c", "owner", "tenant"),
            ),
            ("app/copy.yaml", configmap("v-cm", "owner", "tenant")),
        ],
    );
    // Served from the tenant's root, where its later pushes land.
    serve_beside(&tenant.root, "victim.git", &victim);
    let daemon = common::git_daemon(&tenant.root);
    let base = format!("git://127.0.0.1:{}", daemon.port);
    let env = Env::start(RESYNC);
    namespaces(&env, &["team-a", "team-c"]);
    env.apply_json(&application(
        "victim",
        &format!("{base}/victim.git"),
        "app",
        "team-a",
        Some(json!({"prune": true})),
    ));
    env.wait_synced("victim", Some(&victim.head()));

    let loose = json!({
        "sourceRepos": ["*"],
        "destinations": [{"server": IN_CLUSTER, "namespace": "team-a"},
                          {"server": IN_CLUSTER, "namespace": "team-c"}],
    });
    env.apply_json(&project("loose", loose));
    let mut app = tenant_app("tenant", "loose", &format!("{base}/tenant.git"), "team-a");
    app["metadata"]["finalizers"] = json!(["resources-finalizer.argocd.argoproj.io"]);
    env.apply_json(&app);
    let first = tenant.head();
    // v-cm is the victim's: the sync leaves it alone and fails for it (fjord never adopts).
    env.wait_app("tenant", "first sync done", |a| {
        s(a, "/status/operationState/syncResult/revision") == first
            && matches!(s(a, "/status/operationState/phase"), "Succeeded" | "Failed")
    });
    env.wait_config("team-c", "c-cm", "owner", "tenant");
    env.wait_config("team-a", "a-cm", "owner", "tenant");
    assert_eq!(
        env.get("configmap", "team-a", "v-cm").unwrap()["data"]["owner"],
        "victim"
    );

    // The project stops permitting team-c; the repository then drops c-cm and the copy.
    env.apply_json(&project(
        "loose",
        json!({
            "sourceRepos": ["*"],
            "destinations": [{"server": IN_CLUSTER, "namespace": "team-a"}],
        }),
    ));
    env.wait_app("tenant", "c-cm refused after the tightening", |a| {
        conditions(a, "ExcludedResourceWarning").contains(
            &"/ConfigMap team-c/c-cm: namespace team-c is not permitted in project 'loose'"
                .to_string(),
        )
    });
    tenant.remove("app/c.yaml");
    tenant.remove("app/copy.yaml");
    tenant.write("app/a.yaml", &configmap("a-cm", "owner", "tenant-2"));
    let second = tenant.commit_push("drop c-cm and the copy");
    let app = env.wait_app("tenant", "synced the second revision", |a| {
        s(a, "/status/operationState/syncResult/revision") == second
            && s(a, "/status/operationState/phase") == "Succeeded"
    });
    env.wait_config("team-a", "a-cm", "owner", "tenant-2");
    // Not pruned: c-cm is outside the project now, v-cm was never the tenant's.
    let c = env
        .get("configmap", "team-c", "c-cm")
        .expect("c-cm left in place");
    assert_eq!(c["data"]["owner"], "tenant");
    let v = env.get("configmap", "team-a", "v-cm").expect("v-cm kept");
    assert_eq!(v["data"]["owner"], "victim");
    assert!(tracking(&v).starts_with("victim:"), "{v}");
    let row = result_row(&app, "ConfigMap", "c-cm").unwrap();
    assert_eq!(row["status"], "PruneSkipped", "{row}");
    assert!(
        s(row, "/message").contains("namespace team-c is not permitted in project 'loose'"),
        "{row}"
    );
    assert!(result_row(&app, "ConfigMap", "v-cm").is_none(), "{app}");
    let app = env.wait_app("tenant", "the left object reported", |a| {
        conditions(a, "ExcludedResourceWarning")
            == vec![
                "/ConfigMap team-c/c-cm: namespace team-c is not permitted in project 'loose'; it is left in place, not pruned"
                    .to_string(),
            ]
    });
    assert_eq!(s(&app, "/status/sync/status"), "Synced");

    // A cascade delete removes what the project permits only, and nothing of the victim's.
    env.kubectl_ok(&["delete", "application", "tenant", "-n", NS, "--wait=false"]);
    env.wait_object("configmap", "team-a", "a-cm", "deleted", |o| o.is_none());
    env.wait("the tenant app gone", common::CONVERGE, || {
        (!env.exists("application", NS, "tenant")).then_some(())
    });
    assert!(env.exists("configmap", "team-c", "c-cm"));
    assert!(env.exists("configmap", "team-a", "v-cm"));
    env.wait_synced("victim", Some(&victim.head()));
    env.controller.assert_no_errors();
}
