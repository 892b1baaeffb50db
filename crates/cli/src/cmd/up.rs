//! `fjord up`: the whole loop on one machine — the embedded Kubernetes API, the controller, and a
//! demo Application whose Git repository is created locally from the bundled guestbook example.

use anyhow::{bail, Context};
use clap::Args;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use fjord_client::{ApplyOptions, Client, ClientOptions};
use fjord_controller::runtime::{self, ControllerOptions};

use super::kube_args::runtime as tokio_runtime;
use super::signal::stop_signal;

/// The bundled example, committed into the demo repository.
const EXAMPLE: &[(&str, &str)] = &[
    (
        "guestbook/base/kustomization.yaml",
        include_str!("../../../../examples/guestbook/base/kustomization.yaml"),
    ),
    (
        "guestbook/base/deployment.yaml",
        include_str!("../../../../examples/guestbook/base/deployment.yaml"),
    ),
    (
        "guestbook/base/service.yaml",
        include_str!("../../../../examples/guestbook/base/service.yaml"),
    ),
    (
        "guestbook/overlays/prod/kustomization.yaml",
        include_str!("../../../../examples/guestbook/overlays/prod/kustomization.yaml"),
    ),
    (
        "guestbook/overlays/prod/resource_limits_patch.yaml",
        include_str!("../../../../examples/guestbook/overlays/prod/resource_limits_patch.yaml"),
    ),
    (
        "guestbook/overlays/staging/kustomization.yaml",
        include_str!("../../../../examples/guestbook/overlays/staging/kustomization.yaml"),
    ),
    (
        "guestbook/overlays/staging/replica_patch.yaml",
        include_str!("../../../../examples/guestbook/overlays/staging/replica_patch.yaml"),
    ),
];

/// How often `fjord up` polls repositories (the demo repository is a local directory).
const DEMO_POLL: Duration = Duration::from_secs(10);

/// Arguments of `fjord up`.
#[derive(Args, Debug)]
pub struct UpArgs {
    /// Where the cluster's data, the demo repository and the repository cache live.
    #[arg(long, value_name = "DIR", default_value = "fjord-data")]
    pub data_dir: PathBuf,
    /// Address of the embedded Kubernetes API.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:6443")]
    pub addr: SocketAddr,
    /// Address of the controller's /metrics.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8082")]
    pub metrics_addr: SocketAddr,
    /// Address of the controller's webhook.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8083")]
    pub webhook_addr: SocketAddr,
    /// Start, wait until the demo app is synced and healthy, print its status and exit.
    #[arg(long)]
    pub once: bool,
    /// The Sealed Secrets controller.
    #[command(flatten)]
    pub sealed: super::controller::SealedArgs,
    /// The External Secrets controller.
    #[command(flatten)]
    pub external: super::controller::ExternalSecretsArgs,
    /// Run the image updater (Argo CD Image Updater's annotations on Applications).
    #[arg(long = "image-updater", value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub image_updater: bool,
    /// Time between the end of one image update cycle and the start of the next.
    #[arg(long = "image-updater-interval", value_name = "DURATION", default_value = "2m", value_parser = super::kube_args::parse_duration)]
    pub image_updater_interval: Duration,
}

/// Creates (once) a Git repository holding the example and returns its `file://` URL.
fn demo_repo(dir: &Path) -> anyhow::Result<String> {
    let repo_dir = dir.join("demo-repo");
    if !repo_dir.join(".git").exists() {
        std::fs::create_dir_all(&repo_dir)
            .with_context(|| format!("creating {}", repo_dir.display()))?;
        for (rel, text) in EXAMPLE {
            let p = repo_dir.join(rel);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
            std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))?;
        }
        let repo = git2::Repository::init(&repo_dir).context("creating the demo repository")?;
        let mut index = repo.index().context("opening the demo repository index")?;
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .context("staging the example")?;
        index.write().context("writing the index")?;
        let tree_id = index.write_tree().context("writing the tree")?;
        let tree = repo.find_tree(tree_id).context("reading the tree")?;
        let sig = git2::Signature::now("fjord", "fjord@localhost").context("signature")?;
        repo.commit(Some("HEAD"), &sig, &sig, "guestbook example", &tree, &[])
            .context("committing the example")?;
    }
    let abs = std::fs::canonicalize(&repo_dir)
        .with_context(|| format!("resolving {}", repo_dir.display()))?;
    Ok(format!("file://{}", abs.display()))
}

fn demo_app(repo_url: &str) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": "guestbook",
            "namespace": "argocd",
            "finalizers": ["resources-finalizer.argocd.argoproj.io"],
        },
        "spec": {
            "project": "default",
            "source": {"repoURL": repo_url, "targetRevision": "HEAD", "path": "guestbook/overlays/prod"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "guestbook"},
            "syncPolicy": {
                "automated": {"prune": true, "selfHeal": true},
                "syncOptions": ["CreateNamespace=true"],
            },
        },
    })
}

fn status_line(app: &Value) -> String {
    let s = |p: &str| {
        app.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("Unknown")
            .to_string()
    };
    format!(
        "sync {} at {}, health {}",
        s("/status/sync/status"),
        &s("/status/sync/revision")[..7.min(s("/status/sync/revision").len())],
        s("/status/health/status")
    )
}

/// Waits (120 s from `start` at most) until the demo app is Synced and Healthy, printing each
/// new status line; returns whether it got there.
async fn wait_demo(
    client: &Client,
    app_type: &fjord_model::ResourceType,
    start: Instant,
) -> anyhow::Result<bool> {
    let mut last = String::new();
    loop {
        let app = client.get(app_type, Some("argocd"), "guestbook").await?;
        let app = app.unwrap_or(Value::Null);
        let line = status_line(&app);
        if line != last {
            eprintln!("  guestbook: {line}");
            last = line;
        }
        let synced = app.pointer("/status/sync/status").and_then(Value::as_str) == Some("Synced");
        let ok = app.pointer("/status/health/status").and_then(Value::as_str) == Some("Healthy");
        if synced && ok {
            return Ok(true);
        }
        if start.elapsed() > Duration::from_secs(120) {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The Service `sealed-secrets-controller` of `kube-system` (no selector, port `http` 8080) and
/// its Endpoints pointing at the Sealed Secrets controller's `addr`, so that `fjord seal` and
/// `kubeseal` reach `/v1/cert.pem` through the API server's service proxy with only the
/// kubeconfig.
async fn expose_sealed_secrets(client: &Client, addr: std::net::SocketAddr) -> anyhow::Result<()> {
    let ip = match addr.ip() {
        ip if ip.is_unspecified() => std::net::IpAddr::from([127, 0, 0, 1]),
        ip => ip,
    };
    let service = serde_json::json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": SEALED_SERVICE, "namespace": "kube-system",
            "labels": {"app.kubernetes.io/part-of": "fjord"}},
        "spec": {"ports": [{"name": "http", "port": 8080, "targetPort": addr.port(), "protocol": "TCP"}]},
    });
    let endpoints = serde_json::json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": SEALED_SERVICE, "namespace": "kube-system",
            "labels": {"app.kubernetes.io/part-of": "fjord"}},
        "subsets": [{"addresses": [{"ip": ip.to_string()}],
            "ports": [{"name": "http", "port": addr.port(), "protocol": "TCP"}]}],
    });
    for (kind, obj) in [("Service", service), ("Endpoints", endpoints)] {
        let t = client.resolve("v1", kind).await?;
        client
            .apply(&t, &obj, &ApplyOptions::default())
            .await
            .with_context(|| format!("creating {kind} kube-system/{SEALED_SERVICE}"))?;
    }
    Ok(())
}

/// The Service `fjord seal` and `kubeseal` reach the Sealed Secrets controller through.
const SEALED_SERVICE: &str = "sealed-secrets-controller";

/// Runs `fjord up`.
pub fn run(args: UpArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let repo_url = demo_repo(&args.data_dir)?;
    let rt = tokio_runtime()?;
    rt.block_on(async move {
        let mut copts = fjord_cluster::ClusterOptions::new(&args.data_dir);
        copts.addr = args.addr;
        let cluster = fjord_cluster::serve(copts)
            .await
            .with_context(|| format!("starting the local cluster on {}", args.addr))?;
        let kubeconfig = cluster.kubeconfig().to_path_buf();
        let client_opts = ClientOptions {
            kubeconfig: Some(kubeconfig.clone()),
            ..Default::default()
        };
        let mut opts = ControllerOptions::new(client_opts.clone(), args.data_dir.join("repos"));
        opts.metrics_addr = Some(args.metrics_addr);
        opts.webhook_addr = Some(args.webhook_addr);
        // The demo repository is local: poll it often, so a commit shows up quickly.
        opts.resync = Some(DEMO_POLL);
        let updater_opts = super::controller::image_updater_options(
            args.image_updater,
            args.image_updater_interval,
            client_opts.clone(),
            "argocd",
            &args.data_dir.join("repos"),
        );
        super::controller::serve_updater_metrics(&mut opts, updater_opts.as_ref());
        let controller = runtime::start(opts).await.context("starting the controller")?;
        let sealer = match args.sealed.options(client_opts.clone()) {
            Some(o) => Some(
                fjord_seal_controller::start(o)
                    .await
                    .context("starting the Sealed Secrets controller")?,
            ),
            None => None,
        };
        let eso = match args.external.options(client_opts.clone()) {
            Some(o) => Some(
                fjord_eso_controller::start(o)
                    .await
                    .context("starting the External Secrets controller")?,
            ),
            None => None,
        };
        let updater = super::controller::start_image_updater(updater_opts).await?;
        let client = Client::connect(&client_opts).await?;
        if let Some(addr) = sealer.as_ref().and_then(|s| s.http_addr()) {
            expose_sealed_secrets(&client, addr).await?;
        }
        let app_type = client.resolve("argoproj.io/v1alpha1", "Application").await?;
        client
            .apply(&app_type, &demo_app(&repo_url), &ApplyOptions::default())
            .await
            .context("creating the demo Application")?;
        eprintln!("fjord is up: local Kubernetes API at {}", cluster.url());
        eprintln!("demo Application guestbook <- {repo_url} (guestbook/overlays/prod)");
        let start = Instant::now();
        let healthy = wait_demo(&client, &app_type, start).await?;
        let kc = kubeconfig.display();
        println!(
            "\nguestbook is {} after {:.1}s.\n\nTry:\n  kubectl --kubeconfig {kc} get applications -n argocd\n  kubectl --kubeconfig {kc} get all -n guestbook\n  fjord app list --kubeconfig {kc}\n  fjord app get guestbook --kubeconfig {kc}\n  edit {}/guestbook and commit: the change is synced within {}s\n\nmetrics: http://{}/metrics   webhook: http://{}/api/webhook\nCtrl-C stops everything.",
            if healthy { "Synced and Healthy" } else { "NOT yet Synced and Healthy" },
            start.elapsed().as_secs_f64(),
            repo_url.trim_start_matches("file://"),
            DEMO_POLL.as_secs(),
            controller.metrics_addr.map(|a| a.to_string()).unwrap_or_default(),
            controller.webhook_addr.map(|a| a.to_string()).unwrap_or_default(),
        );
        if let Some(addr) = sealer.as_ref().and_then(|s| s.http_addr()) {
            println!("seal a Secret for this cluster (certificate {addr} through the API's service proxy): fjord seal --kubeconfig {kc} < secret.yaml");
        }
        if !args.once {
            stop_signal().await;
        }
        if let Some(u) = updater {
            u.shutdown().await.context("stopping the image updater")?;
        }
        if let Some(e) = eso {
            e.shutdown().await.context("stopping the External Secrets controller")?;
        }
        if let Some(s) = sealer {
            s.shutdown().await.context("stopping the Sealed Secrets controller")?;
        }
        controller.shutdown().await;
        cluster.shutdown().await;
        if !healthy {
            bail!("the demo application did not become Synced and Healthy within 120s");
        }
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
