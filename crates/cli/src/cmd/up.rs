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
    /// Address of the API server and web UI (`fjord server`, started in-process after the
    /// controller; with --once it is checked to answer, then stopped with the rest).
    #[arg(long, value_name = "HOST:PORT", default_value = fjord_server::options::DEFAULT_ADDR)]
    pub server_addr: SocketAddr,
}

/// The line that tells where the UI is and how to read the admin password (never the
/// password itself).
fn ui_line(url: &str, kubeconfig: &Path) -> String {
    format!(
        "UI: {url}  (user admin; password: kubectl --kubeconfig {} -n argocd get secret \
         argocd-initial-admin-secret -o jsonpath='{{.data.password}}' | base64 -d)",
        kubeconfig.display()
    )
}

/// `GET /api/version` on the server just started (plain HTTP on this machine), with 10 s
/// timeouts: an error unless it answers 200.
fn server_answers(addr: SocketAddr) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    let url = format!("http://{addr}/api/version");
    let limit = Duration::from_secs(10);
    let mut conn = std::net::TcpStream::connect_timeout(&addr, limit)
        .with_context(|| format!("GET {url}: connecting"))?;
    conn.set_read_timeout(Some(limit))
        .and_then(|()| conn.set_write_timeout(Some(limit)))
        .and_then(|()| conn.write_all(b"GET /api/version HTTP/1.0\r\nHost: localhost\r\n\r\n"))
        .with_context(|| format!("GET {url}: sending"))?;
    let mut head = [0u8; 64];
    let n = conn
        .read(&mut head)
        .with_context(|| format!("GET {url}: reading the answer"))?;
    let head = String::from_utf8_lossy(&head[..n]);
    let status = head.lines().next().unwrap_or_default();
    if !status.contains(" 200") {
        bail!("GET {url} answered {status:?}, not 200");
    }
    Ok(())
}

/// Starts the API server and web UI on `addr` against the local cluster.
async fn start_server(
    client: ClientOptions,
    data_dir: &Path,
    addr: SocketAddr,
) -> anyhow::Result<fjord_server::ServerHandle> {
    let mut opts = fjord_server::ServerOptions::new(client, data_dir.join("server-cache"));
    opts.namespace = "argocd".to_string();
    opts.addr = addr;
    fjord_server::start(opts)
        .await
        .with_context(|| format!("starting the API server and UI on {addr} (--server-addr)"))
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

/// What `fjord up` tells once the demo app is up (or not).
struct Summary<'a> {
    healthy: bool,
    elapsed: Duration,
    kubeconfig: &'a Path,
    repo_url: &'a str,
    ui: &'a str,
    metrics: String,
    webhook: String,
}

/// The summary text: the demo app's state, what to try, where the UI and the endpoints are.
fn summary(s: &Summary<'_>) -> String {
    let kc = s.kubeconfig.display();
    format!(
        "\nguestbook is {} after {:.1}s.\n\nTry:\n  kubectl --kubeconfig {kc} get applications -n argocd\n  kubectl --kubeconfig {kc} get all -n guestbook\n  fjord app list --kubeconfig {kc}\n  fjord app get guestbook --kubeconfig {kc}\n  edit {}/guestbook and commit: the change is synced within {}s\n\n{}\nmetrics: http://{}/metrics   webhook: http://{}/api/webhook",
        if s.healthy { "Synced and Healthy" } else { "NOT yet Synced and Healthy" },
        s.elapsed.as_secs_f64(),
        s.repo_url.trim_start_matches("file://"),
        DEMO_POLL.as_secs(),
        s.ui,
        s.metrics,
        s.webhook,
    )
}

/// The Service `fjord seal` and `kubeseal` reach the Sealed Secrets controller through.
const SEALED_SERVICE: &str = "sealed-secrets-controller";

/// The controller's options (the demo repository polled often) and the image updater's.
fn controller_options(
    args: &UpArgs,
    client_opts: &ClientOptions,
) -> (
    ControllerOptions,
    Option<fjord_image_updater::ImageUpdaterOptions>,
) {
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
    (opts, updater_opts)
}

/// With --once, checks that the UI answers and returns; else runs until Ctrl-C.
async fn hold(once: bool, ui: SocketAddr) -> anyhow::Result<()> {
    if once {
        tokio::task::spawn_blocking(move || server_answers(ui))
            .await
            .context("checking the UI")??;
        println!("--once: everything stops now.");
    } else {
        println!("Ctrl-C stops everything.");
        stop_signal().await;
    }
    Ok(())
}

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
        let (opts, updater_opts) = controller_options(&args, &client_opts);
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
        let server = start_server(client_opts.clone(), &args.data_dir, args.server_addr).await?;
        let ui = ui_line(&server.url(), &kubeconfig);
        println!("{ui}");
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
        let addr_of = |a: Option<SocketAddr>| a.map(|a| a.to_string()).unwrap_or_default();
        println!(
            "{}",
            summary(&Summary {
                healthy,
                elapsed: start.elapsed(),
                kubeconfig: &kubeconfig,
                repo_url: &repo_url,
                ui: &ui,
                metrics: addr_of(controller.metrics_addr),
                webhook: addr_of(controller.webhook_addr),
            })
        );
        if let Some(addr) = sealer.as_ref().and_then(|s| s.http_addr()) {
            println!("seal a Secret for this cluster (certificate {addr} through the API's service proxy): fjord seal --kubeconfig {kc} < secret.yaml");
        }
        hold(args.once, server.addr).await?;
        server.task.abort();
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
