//! End-to-end tests of `fjord controller` through the real binary (continued from
//! `controller_e2e.rs`): the seeds' Application manifests served over SSH, HTTP(S) repositories
//! with credentials from repository Secrets, the `fjord app` commands, the metrics endpoint
//! (scraped by a real Prometheus when one is installed) and `fjord doctor`.

mod common;

use common::{
    application, configmap, deployment, history, history_revisions, repo_secret, resource, s, text,
    Env, GitRepo, CONVERGE, NS,
};
use fjord_testkit::require_tools;
use fjord_testkit::tools::{GIT, KUBECTL, PROMETHEUS, SSHD, SSH_KEYGEN};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

const RESYNC: &str = "2s";

fn seed(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/seeds")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The seed's manifest with its `repoURL` replaced, checking that nothing else changed.
fn with_repo_url(manifest: &str, from: &str, to: &str) -> String {
    let out = manifest.replace(&format!("'{from}'"), &format!("'{to}'"));
    let changed = manifest
        .lines()
        .zip(out.lines())
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(changed, 1, "the seed names {from} once:\n{manifest}");
    out
}

/// A kustomize base (Deployment `payment-gateway` + Service) under `base`.
fn base_files(base: &str) -> Vec<(String, String)> {
    let deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: payment-gateway\nspec:\n  \
        replicas: 1\n  selector:\n    matchLabels:\n      app: payment-gateway\n  template:\n    metadata:\n      \
        labels:\n        app: payment-gateway\n    spec:\n      containers:\n      - name: app\n        \
        image: my-app:latest\n        ports:\n        - containerPort: 8080\n";
    let service = "apiVersion: v1\nkind: Service\nmetadata:\n  name: payment-gateway\nspec:\n  selector:\n    \
        app: payment-gateway\n  ports:\n  - port: 80\n    targetPort: 8080\n";
    vec![
        (format!("{base}/deployment.yaml"), deploy.into()),
        (format!("{base}/service.yaml"), service.into()),
        (
            format!("{base}/kustomization.yaml"),
            "resources:\n- deployment.yaml\n- service.yaml\n".into(),
        ),
    ]
}

/// An overlay of `../../base` setting replicas, the image, and a resources patch.
fn overlay(dir: &str, replicas: u32, tag: &str) -> Vec<(String, String)> {
    let patch = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: payment-gateway\nspec:\n  template:\n    \
        spec:\n      containers:\n      - name: app\n        resources:\n          limits:\n            \
        memory: 512Mi\n            cpu: 500m\n";
    let kustomization = format!(
        "resources:\n- ../../base\npatches:\n- path: patch-resources.yaml\nreplicas:\n- name: payment-gateway\n  \
         count: {replicas}\nimages:\n- name: my-app\n  newName: registry.coolvds.com/app\n  newTag: {tag}\n"
    );
    vec![
        (format!("{dir}/kustomization.yaml"), kustomization),
        (format!("{dir}/patch-resources.yaml"), patch.into()),
    ]
}

fn files(parts: Vec<Vec<(String, String)>>) -> Vec<(String, String)> {
    parts.into_iter().flatten().collect()
}

fn as_refs(v: &[(String, String)]) -> Vec<(&str, String)> {
    v.iter().map(|(a, b)| (a.as_str(), b.clone())).collect()
}

#[test]
fn seed_applications_verbatim_over_ssh() {
    require_tools!(GIT, KUBECTL, SSHD, SSH_KEYGEN);
    // Both seed repositories under one sshd root, laid out as the posts describe.
    let payments = GitRepo::new(
        "fintech/payments-config.git",
        &as_refs(&files(vec![
            base_files("base"),
            overlay("overlays/prod", 2, "v1.4.0"),
            overlay("overlays/dev", 1, "latest"),
        ])),
    );
    let gateway = GitRepo::new(
        "coolvds-ops/payment-gateway.git",
        &as_refs(&files(vec![
            base_files("k8s/base"),
            overlay("k8s/overlays/production-oslo", 3, "v2.0.1"),
        ])),
    );
    let keys = payments.scratch("keys");
    let client_key = keys.join("client");
    fjord_testkit::sshd::keygen(&client_key);
    let client_pub = std::fs::read_to_string(keys.join("client.pub")).unwrap();
    let private = std::fs::read_to_string(&client_key).unwrap();
    let sshd = fjord_testkit::sshd::sshd(&keys, &client_pub);
    let host_pub = std::fs::read_to_string(keys.join("ssh_host_ed25519_key.pub")).unwrap();
    let host: Vec<&str> = host_pub.split_whitespace().collect();
    let user = fjord_testkit::sshd::whoami();
    let prefix = format!("ssh://{user}@127.0.0.1:{}", sshd.port);
    let payments_url = format!("{prefix}{}", payments.bare.display());
    let gateway_url = format!("{prefix}{}", gateway.bare.display());

    let env = Env::start(RESYNC);
    // Settings created while the controller runs: the known host, a repository Secret for the
    // first repository and a credential template (repo-creds) for the second.
    env.apply_json(&json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "argocd-ssh-known-hosts-cm", "namespace": NS},
        "data": {"ssh_known_hosts": format!("[127.0.0.1]:{} {} {}\n", sshd.port, host[0], host[1])},
    }));
    env.apply_json(&repo_secret(
        "payments-config",
        "repository",
        &[("url", &payments_url), ("sshPrivateKey", &private)],
    ));
    env.apply_json(&repo_secret(
        "coolvds-ops",
        "repo-creds",
        &[("url", &format!("{prefix}/")), ("sshPrivateKey", &private)],
    ));

    // Seed 002, verbatim but for its repoURL.
    let manifest = with_repo_url(
        &seed("002_16a90b2162c85ccc.application.yaml"),
        "git@gitlab.coolvds-internal.no:fintech/payments-config.git",
        &payments_url,
    );
    env.apply(&manifest);
    let app = env.wait_synced("nordic-payment-gateway", Some(&payments.head()));
    assert_eq!(s(&app, "/status/sourceType"), "Kustomize");
    let d = env
        .get("deployment", "payments-prod", "payment-gateway")
        .unwrap();
    assert_eq!(d["spec"]["replicas"], 2);
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["image"], "registry.coolvds.com/app:v1.4.0");
    assert_eq!(c["resources"]["limits"]["memory"], "512Mi");
    assert!(env.exists("service", "payments-prod", "payment-gateway"));
    assert_eq!(
        app["status"]["summary"]["images"],
        json!(["registry.coolvds.com/app:v1.4.0"])
    );
    // selfHeal: true — "if someone manually changes a replica count ... reverts it".
    env.kubectl_ok(&[
        "scale",
        "deployment",
        "payment-gateway",
        "-n",
        "payments-prod",
        "--replicas=9",
    ]);
    env.wait_object(
        "deployment",
        "payments-prod",
        "payment-gateway",
        "reverted",
        |o| o.is_some_and(|o| o["spec"]["replicas"] == 2),
    );

    // Seed 003 is the same Application (same name) with another source and namespace: applying
    // it moves the app; what it deployed in the old namespace is pruned.
    let manifest = with_repo_url(
        &seed("003_c0cb74c66802eecc.application.yaml"),
        "git@github.com:coolvds-ops/payment-gateway.git",
        &gateway_url,
    );
    env.apply(&manifest);
    let app = env.wait_synced("nordic-payment-gateway", Some(&gateway.head()));
    let d = env
        .get("deployment", "payments", "payment-gateway")
        .unwrap();
    assert_eq!(d["spec"]["replicas"], 3);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.coolvds.com/app:v2.0.1"
    );
    env.wait_object(
        "deployment",
        "payments-prod",
        "payment-gateway",
        "pruned",
        |o| o.is_none(),
    );
    env.wait_object(
        "service",
        "payments-prod",
        "payment-gateway",
        "pruned",
        |o| o.is_none(),
    );
    assert_eq!(
        history_revisions(&app),
        vec![payments.head(), gateway.head()],
        "{:#}",
        app["status"]["history"]
    );
    let log = env.controller.log_text();
    assert!(!log.contains("PRIVATE KEY"), "{log}");
    env.controller.assert_no_errors();
}

#[test]
fn http_and_https_repositories_with_credentials_from_secrets() {
    require_tools!(GIT, KUBECTL);
    const WRONG: &str = "wrong-pass-e2e-0815";
    const RIGHT: &str = "right-pass-e2e-4711";
    const TOKEN: &str = "https-token-e2e-1234";
    let private = GitRepo::new(
        "private.git",
        &[("app/settings.yaml", configmap("settings", "color", "blue"))],
    );
    let http = fjord_testkit::http_backend::serve(&private.root, Some(("alice", RIGHT)));
    let tls = GitRepo::new(
        "tls.git",
        &[("app/settings.yaml", configmap("settings", "color", "tls"))],
    );
    let https = fjord_testkit::http_backend::serve_tls(&tls.root, Some(("bob", TOKEN)));
    let env = Env::start(RESYNC);
    let http_url = format!("http://127.0.0.1:{}/private.git", http.port);
    let https_url = format!("https://127.0.0.1:{}/tls.git", https.port);

    // Wrong password: a ComparisonError that does not show the password.
    let creds = |pass: &str| {
        repo_secret(
            "private-repo",
            "repository",
            &[
                ("url", &http_url),
                ("username", "alice"),
                ("password", pass),
            ],
        )
    };
    env.apply_json(&creds(WRONG));
    env.apply_json(&application(
        "private",
        &http_url,
        "app",
        "private",
        Some(json!({"prune": true})),
    ));
    let app = env.wait_app("private", "ComparisonError", |a| {
        s(a, "/status/sync/status") == "Unknown"
            && a["status"]["conditions"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["type"] == "ComparisonError"))
    });
    assert!(http.unauthorized.load(std::sync::atomic::Ordering::SeqCst) > 0);
    assert!(!app.to_string().contains(WRONG), "{}", app["status"]);
    assert!(!env.exists("configmap", "private", "settings"));

    // The right password, while the controller runs: synced.
    env.apply_json(&creds(RIGHT));
    env.wait_synced("private", Some(&private.head()));
    assert_eq!(
        env.get("configmap", "private", "settings").unwrap()["data"]["color"],
        "blue"
    );

    // HTTPS with a self-signed certificate: `insecure: "true"` in the repository Secret.
    env.apply_json(&repo_secret(
        "tls-repo",
        "repository",
        &[
            ("url", &https_url),
            ("username", "bob"),
            ("password", TOKEN),
            ("insecure", "true"),
        ],
    ));
    env.apply_json(&application(
        "tls",
        &https_url,
        "app",
        "tls",
        Some(json!({"prune": true})),
    ));
    env.wait_synced("tls", Some(&tls.head()));
    assert_eq!(
        env.get("configmap", "tls", "settings").unwrap()["data"]["color"],
        "tls"
    );

    let log = env.controller.log_text();
    for secret in [WRONG, RIGHT, TOKEN] {
        assert!(!log.contains(secret), "the log shows {secret}:\n{log}");
    }
    env.controller.assert_no_errors();
}

#[test]
fn app_commands_sync_history_rollback_list_get_delete() {
    require_tools!(GIT, KUBECTL);
    let repo = GitRepo::new(
        "cli.git",
        &[
            ("app/settings.yaml", configmap("settings", "color", "blue")),
            ("app/web.yaml", deployment("web", 1)),
        ],
    );
    let daemon = common::git_daemon(&repo.root);
    let env = Env::start(RESYNC);
    let url = format!("git://127.0.0.1:{}/cli.git", daemon.port);
    let rev1 = repo.head();
    env.apply_json(&application("manual", &url, "app", "manual", None));
    let app = env.wait_app("manual", "compared", |a| {
        s(a, "/status/sync/status") == "OutOfSync"
    });
    assert!(history(&app).is_empty());
    assert!(
        !env.exists("configmap", "manual", "settings"),
        "a manual app was synced"
    );

    let list = env.fjord_ok(&["app", "list", "-o", "wide"]);
    let header = list.lines().next().unwrap();
    for col in [
        "NAME",
        "CLUSTER",
        "STATUS",
        "HEALTH",
        "SYNCPOLICY",
        "REPO",
        "PATH",
        "TARGET",
        "REVISION",
    ] {
        assert!(header.contains(col), "{list}");
    }
    let row = list
        .lines()
        .find(|l| l.starts_with("argocd/manual"))
        .expect(&list);
    for cell in [
        "OutOfSync",
        "Manual",
        url.as_str(),
        " app ",
        "HEAD",
        &rev1[..7],
    ] {
        assert!(row.contains(cell), "{cell:?} not in {row:?}");
    }

    // Manual sync.
    let out = env.fjord_ok(&["app", "sync", "manual", "--timeout", "60s"]);
    assert!(out.contains("Operation Succeeded"), "{out}");
    assert_eq!(
        env.get("configmap", "manual", "settings").unwrap()["data"]["color"],
        "blue"
    );
    let app = env.wait_synced("manual", Some(&rev1));
    assert_eq!(
        app["status"]["operationState"]["operation"]["initiatedBy"]["username"],
        "fjord-cli"
    );

    // A new commit: `get --refresh` sees it, a second sync deploys it.
    repo.write(
        "app/settings.yaml",
        &configmap("settings", "color", "green"),
    );
    let rev2 = repo.commit_push("green");
    let out = env.fjord_ok(&["app", "get", "manual", "--refresh"]);
    assert!(out.contains(&format!("OutOfSync to {rev2}")), "{out}");
    let o = env.fjord(&["app", "diff", "manual"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("/ConfigMap manual/settings differs from Git"),
        "{}",
        text(&o)
    );
    env.fjord_ok(&["app", "sync", "manual", "--timeout", "60s"]);
    assert_eq!(
        env.get("configmap", "manual", "settings").unwrap()["data"]["color"],
        "green"
    );

    let hist = env.fjord_ok(&["app", "history", "manual"]);
    let rows: Vec<Vec<&str>> = hist
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 2, "{hist}");
    assert_eq!((rows[0][0], rows[0][2]), ("0", rev1.as_str()), "{hist}");
    assert_eq!((rows[1][0], rows[1][2]), ("1", rev2.as_str()), "{hist}");
    let h: Value =
        serde_json::from_str(&env.fjord_ok(&["app", "history", "manual", "-o", "json"])).unwrap();
    assert_eq!(h.as_array().unwrap().len(), 2);

    // Rollback to history entry 0: the objects revert; the app is OutOfSync with HEAD.
    let out = env.fjord_ok(&["app", "rollback", "manual", "0", "--timeout", "60s"]);
    assert!(out.contains("Operation Succeeded"), "{out}");
    assert_eq!(
        env.get("configmap", "manual", "settings").unwrap()["data"]["color"],
        "blue"
    );
    let app = env.wait_app("manual", "OutOfSync after the rollback", |a| {
        s(a, "/status/sync/status") == "OutOfSync"
    });
    assert_eq!(
        history_revisions(&app),
        vec![rev1.clone(), rev2.clone(), rev1.clone()]
    );
    let got: Value =
        serde_json::from_str(&env.fjord_ok(&["app", "get", "manual", "-o", "json"])).unwrap();
    assert_eq!(s(&got, "/status/operationState/syncResult/revision"), rev1);
    assert_eq!(s(&got, "/status/sync/revision"), rev2);
    assert_eq!(s(&got, "/status/operationState/phase"), "Succeeded");
    assert_eq!(
        resource(&got, "ConfigMap", "settings").unwrap()["status"],
        "OutOfSync"
    );

    // An automated app refuses a rollback; `delete --cascade=false` leaves its objects.
    env.apply_json(&application(
        "auto",
        &url,
        "app",
        "auto",
        Some(json!({"prune": true})),
    ));
    env.wait_synced("auto", Some(&rev2));
    let o = env.fjord(&["app", "rollback", "auto", "0"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("automated"), "{}", text(&o));
    let out = env.fjord_ok(&[
        "app",
        "delete",
        "auto",
        "--cascade=false",
        "--timeout",
        "60s",
    ]);
    assert!(out.contains("application auto deleted"), "{out}");
    assert!(env.get("application", NS, "auto").is_none());
    assert!(env.exists("configmap", "auto", "settings"));
    assert!(env.exists("deployment", "auto", "web"));

    // A file removed from Git: a sync without --prune leaves the object, --prune deletes it.
    repo.remove("app/web.yaml");
    let rev3 = repo.commit_push("drop web");
    env.fjord_ok(&["app", "get", "manual", "--refresh"]);
    env.fjord_ok(&["app", "sync", "manual", "--timeout", "60s"]);
    let app = env.wait_app("manual", "web requires pruning", |a| {
        s(a, "/status/sync/revision") == rev3
            && resource(a, "Deployment", "web").is_some_and(|r| r["requiresPruning"] == true)
    });
    let results = app["status"]["operationState"]["syncResult"]["resources"].to_string();
    assert!(results.contains("PruneSkipped"), "{results}");
    assert!(env.exists("deployment", "manual", "web"));
    env.fjord_ok(&["app", "sync", "manual", "--prune", "--timeout", "60s"]);
    assert!(!env.exists("deployment", "manual", "web"));
    env.wait_synced("manual", Some(&rev3));
    let o = env.fjord(&["app", "get", "no-such-app"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("application no-such-app not found"),
        "{}",
        text(&o)
    );

    // Cascading delete (the resources finalizer): the deployed objects go too.
    let out = env.fjord_ok(&["app", "delete", "manual", "--timeout", "60s"]);
    assert!(out.contains("deleted with its resources"), "{out}");
    assert!(env.get("application", NS, "manual").is_none());
    env.wait_object("configmap", "manual", "settings", "deleted", |o| {
        o.is_none()
    });
    assert!(env.exists("configmap", "auto", "settings"));
    // Neither deleted app keeps an argocd_app_info series.
    std::thread::sleep(Duration::from_millis(500));
    let (_, metrics) = common::http(env.controller.metrics, "GET", "/metrics", &[], b"");
    for app in ["auto", "manual"] {
        let label = format!("name=\"{app}\"");
        assert!(
            sample(&metrics, "argocd_app_info{", &[&label]).is_none(),
            "{metrics}"
        );
    }
    env.controller.assert_no_errors();
}

/// The value of the first sample of `metric` whose line contains every one of `labels`.
fn sample(metrics: &str, metric: &str, labels: &[&str]) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| l.starts_with(metric) && labels.iter().all(|x| l.contains(x)))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
}

#[test]
fn metrics_endpoint_and_prometheus_scrape() {
    require_tools!(GIT, KUBECTL);
    let repo = GitRepo::new("metrics.git", &[("app/web.yaml", deployment("web", 1))]);
    let daemon = common::git_daemon(&repo.root);
    let env = Env::start(RESYNC);
    let url = format!("git://127.0.0.1:{}/metrics.git", daemon.port);
    env.apply_json(&application(
        "observed",
        &url,
        "app",
        "observed",
        Some(json!({"prune": true})),
    ));
    env.wait_synced("observed", None);
    let addr = env.controller.metrics;
    assert_eq!(common::http(addr, "GET", "/healthz", &[], b"").0, 200);
    assert_eq!(common::http(addr, "GET", "/readyz", &[], b"").0, 200);
    let info = [
        "name=\"observed\"",
        "namespace=\"argocd\"",
        "sync_status=\"Synced\"",
        "health_status=\"Healthy\"",
        "autosync_enabled=\"true\"",
        "dest_namespace=\"observed\"",
    ];
    let metrics = env.wait("argocd_app_info Synced and Healthy", CONVERGE, || {
        let (code, body) = common::http(addr, "GET", "/metrics", &[], b"");
        assert_eq!(code, 200, "{body}");
        (sample(&body, "argocd_app_info{", &info) == Some(1.0)).then_some(body)
    });
    assert!(metrics.contains(&format!("repo=\"{url}\"")), "{metrics}");
    let synced = [
        "name=\"observed\"",
        "phase=\"Succeeded\"",
        "dry_run=\"false\"",
    ];
    assert!(
        sample(&metrics, "argocd_app_sync_total{", &synced).unwrap_or(0.0) >= 1.0,
        "{metrics}"
    );
    let bucket = ["le=\"+Inf\"", "namespace=\"argocd\""];
    assert!(
        sample(&metrics, "argocd_app_reconcile_bucket{", &bucket).unwrap_or(0.0) >= 1.0,
        "{metrics}"
    );
    assert!(
        sample(
            &metrics,
            "workqueue_depth{",
            &["name=\"app_reconciliation_queue\""]
        )
        .is_some(),
        "{metrics}"
    );

    // A real Prometheus scrapes it (the rule for a missing tool decides whether this part runs).
    if PROMETHEUS.require() {
        let dir = fjord_testkit::tempdir::tempdir("prometheus");
        let prometheus = fjord_testkit::prometheus::Prometheus::start(dir.path(), "fjord", addr);
        let prom = prometheus.addr;
        let result = common::poll(
            "Prometheus to return argocd_app_info",
            Duration::from_secs(60),
            || prometheus.log_text(),
            || {
                std::net::TcpStream::connect(prom).ok()?;
                let (code, body) =
                    common::http(prom, "GET", "/api/v1/query?query=argocd_app_info", &[], b"");
                let v: Value = serde_json::from_str(&body).ok()?;
                let found = v["data"]["result"]
                    .as_array()?
                    .iter()
                    .find(|r| r["metric"]["name"] == "observed")
                    .cloned();
                (code == 200).then_some(found).flatten()
            },
        );
        assert_eq!(result["metric"]["sync_status"], "Synced", "{result}");
        assert_eq!(result["metric"]["health_status"], "Healthy", "{result}");
        assert_eq!(result["metric"]["job"], "fjord", "{result}");
        assert_eq!(result["value"][1], "1", "{result}");
    }

    // A deleted app's series goes away.
    env.kubectl_ok(&["delete", "application", "observed", "-n", NS]);
    env.wait("argocd_app_info of the deleted app to go", CONVERGE, || {
        let (_, body) = common::http(addr, "GET", "/metrics", &[], b"");
        (sample(&body, "argocd_app_info{", &["name=\"observed\""]).is_none()).then_some(())
    });
    env.controller.assert_no_errors();
}

#[test]
fn up_once_brings_the_demo_app_to_synced_and_healthy() {
    let dir = tempfile::tempdir().unwrap();
    // Twice: the second run restarts on the durable store and the existing demo repository.
    for run in 0..2 {
        let o = std::process::Command::new(common::FJORD)
            .args(["up", "--once", "--data-dir"])
            .arg(dir.path())
            .args(["--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0"])
            .args([
                "--webhook-addr",
                "127.0.0.1:0",
                "--server-addr",
                "127.0.0.1:0",
            ])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "run {run}: {}", text(&o));
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            out.contains("guestbook is Synced and Healthy"),
            "run {run}: {}",
            text(&o)
        );
        // The API server and UI started (and, with --once, answered before stopping).
        assert!(
            out.lines()
                .any(|l| l.starts_with("UI: http://127.0.0.1:") && l.contains("user admin")),
            "run {run}: {}",
            text(&o)
        );
    }
    assert!(dir.path().join("kubeconfig").exists());
}

#[test]
fn doctor_checks_api_and_repositories() {
    require_tools!(GIT, KUBECTL);
    const PASS: &str = "doctor-pass-e2e-777";
    let public = GitRepo::new("public.git", &[("app/cm.yaml", configmap("a", "k", "v"))]);
    let daemon = common::git_daemon(&public.root);
    let private = GitRepo::new("private.git", &[("app/cm.yaml", configmap("b", "k", "v"))]);
    let http = fjord_testkit::http_backend::serve(&private.root, Some(("carol", PASS)));
    let env = Env::start(RESYNC);
    let git_url = format!("git://127.0.0.1:{}/public.git", daemon.port);
    let http_url = format!("http://127.0.0.1:{}/private.git", http.port);
    env.apply_json(&repo_secret(
        "private-repo",
        "repository",
        &[
            ("url", &http_url),
            ("username", "carol"),
            ("password", PASS),
        ],
    ));
    env.apply_json(&application(
        "public",
        &git_url,
        "app",
        "public",
        Some(json!({})),
    ));
    env.apply_json(&application(
        "private",
        &http_url,
        "app",
        "private",
        Some(json!({})),
    ));
    env.wait_synced("public", None);
    env.wait_synced("private", None);

    let data = tempfile::tempdir().unwrap();
    let o = env.fjord(&[
        "doctor",
        "--data-dir",
        data.path().to_str().unwrap(),
        "--disk-bytes",
        "1000000",
    ]);
    let out = text(&o);
    let disk = out
        .lines()
        .find(|l| l.contains("disk fdatasync"))
        .unwrap_or_else(|| panic!("no disk line:\n{out}"));
    assert!(
        disk.starts_with("PASS") || disk.starts_with("FAIL"),
        "{out}"
    );
    assert!(
        disk.contains("p99") && disk.contains("limit 10 ms"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("PASS  API reachable, Kubernetes")),
        "{out}"
    );
    assert!(
        out.contains(&format!("PASS  repository {git_url}")),
        "{out}"
    );
    assert!(
        out.contains(&format!("PASS  repository {http_url}")),
        "{out}"
    );
    assert!(!out.contains("FAIL  repository"), "{out}");
    assert!(!out.contains(PASS), "{out}");
    if disk.starts_with("PASS") {
        assert_eq!(o.status.code(), Some(0), "{out}");
    }

    // An unreachable repository fails its check (and the exit code).
    drop(daemon);
    let o = env.fjord(&["doctor", "--skip-disk"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("FAIL  repository"), "{out}");
    assert!(
        out.contains(&format!("PASS  repository {http_url}")),
        "{out}"
    );
    env.controller.assert_no_errors();
}
