//! `fjord controller`: the Application controller (Argo CD's `argocd-application-controller`
//! role), running until SIGINT or SIGTERM.

use anyhow::Context;
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use fjord_controller::runtime::{self, ControllerOptions};

use super::kube_args::{parse_duration, runtime as tokio_runtime, ConnectArgs};

/// Arguments of `fjord controller`.
#[derive(Args, Debug)]
pub struct ControllerArgs {
    /// The control-plane cluster.
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Namespace of the Applications, AppProjects and settings.
    #[arg(short = 'n', long, value_name = "NAMESPACE", default_value = "argocd")]
    pub namespace: String,
    /// Manage only --namespace (the namespace install, Roles only): no CRD or Namespace
    /// creation, live objects watched in that namespace only, and an app's objects elsewhere
    /// or cluster-scoped refused before any write, naming them.
    #[arg(long, value_name = "BOOL", default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub namespaced: bool,
    /// Address of /metrics, /healthz and /readyz.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8082")]
    pub metrics_addr: SocketAddr,
    /// Address of POST /api/webhook.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8083")]
    pub webhook_addr: SocketAddr,
    /// Reconcile workers.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub workers: usize,
    /// Where repository mirrors are cached (default: `$XDG_CACHE_HOME/fjord/repos`, else
    /// `$HOME/.cache/fjord/repos`, else `<temp dir>/fjord/repos`).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Bound of the repository cache on disk (bytes, or with Ki, Mi, Gi, Ti): the least
    /// recently used mirrors are evicted beyond it; mirrors no app uses are always evicted.
    #[arg(long, value_name = "SIZE", default_value = super::cache_dir::DEFAULT_MAX_SIZE, value_parser = super::cache_dir::parse_max_size)]
    pub cache_max_size: u64,
    /// Polling interval (default: argocd-cm `timeout.reconciliation`, else 3m).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub resync: Option<Duration>,
    /// Time limit of one sync operation.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub sync_timeout: Duration,
    /// Sealed Secrets: unseal `bitnami.com/v1alpha1` SealedSecrets (set false to leave that to
    /// another controller).
    #[command(flatten)]
    pub sealed: SealedArgs,
    /// External Secrets: reconcile `external-secrets.io` ExternalSecrets from Vault/OpenBao.
    #[command(flatten)]
    pub external: ExternalSecretsArgs,
    /// Timeouts and limits of the webhook and metrics servers.
    #[command(flatten)]
    pub http: HttpLimitArgs,
    /// Image updater: Argo CD Image Updater's annotations on Applications.
    #[command(flatten)]
    pub image_updater: ImageUpdaterArgs,
    /// Leader election and sharding (`--leader-elect*`, `--identity`, `--shards`).
    #[command(flatten)]
    pub lease: super::lease_args::LeaseArgs,
}

/// The image updater's flags (`--image-updater*`).
#[derive(Args, Debug, Clone)]
pub struct ImageUpdaterArgs {
    /// Run the image updater (Argo CD Image Updater's `argocd-image-updater.argoproj.io/*`
    /// annotations on Applications: registry polling and write-back).
    #[arg(long = "image-updater", value_name = "BOOL", default_value_t = false, action = clap::ArgAction::Set)]
    pub image_updater: bool,
    /// Time between the end of one update cycle and the start of the next.
    #[arg(long = "image-updater-interval", value_name = "DURATION", default_value = "2m", value_parser = parse_duration)]
    pub interval: Duration,
}

/// The image updater's options for a controller of `namespace` whose mirrors live in
/// `cache_dir` (the updater's own mirrors go in its `image-updater` folder), or `None`.
pub fn image_updater_options(
    enabled: bool,
    interval: Duration,
    client: fjord_client::ClientOptions,
    namespace: &str,
    cache_dir: &std::path::Path,
) -> Option<fjord_image_updater::ImageUpdaterOptions> {
    enabled.then(|| {
        let mut o =
            fjord_image_updater::ImageUpdaterOptions::new(client, cache_dir.join("image-updater"));
        o.namespace = namespace.to_string();
        o.interval = interval;
        o
    })
}

/// Serves the image updater's counters (when it runs) on the controller's `/metrics`.
pub fn serve_updater_metrics(
    opts: &mut ControllerOptions,
    updater: Option<&fjord_image_updater::ImageUpdaterOptions>,
) {
    if let Some(u) = updater {
        let m = std::sync::Arc::clone(&u.metrics);
        opts.extra_metrics
            .push(fjord_controller::metrics::ExtraMetrics::new(move || {
                m.render()
            }));
    }
}

/// Starts the image updater when `opts` is set.
pub async fn start_image_updater(
    opts: Option<fjord_image_updater::ImageUpdaterOptions>,
) -> anyhow::Result<Option<fjord_image_updater::ImageUpdaterHandle>> {
    match opts {
        Some(o) => {
            let interval = o.interval;
            let h = fjord_image_updater::start(o)
                .await
                .context("starting the image updater")?;
            eprintln!("image updater running (interval {interval:?})");
            Ok(Some(h))
        }
        None => Ok(None),
    }
}

/// Timeouts and limits of the webhook and metrics servers (`--webhook-*`).
#[derive(Args, Debug, Clone)]
pub struct HttpLimitArgs {
    /// A request head must arrive within this; also closes connections that send nothing
    /// and kept-alive connections idle between requests.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub webhook_read_header_timeout: Duration,
    /// A webhook body must arrive within this (else 408).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub webhook_read_timeout: Duration,
    /// A connection on which no byte moves for this long (and no request is in flight) is
    /// closed.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub webhook_idle_timeout: Duration,
    /// Open connections per server; at the cap the quietest idle one is closed for a new one.
    #[arg(long, value_name = "N", default_value_t = 512)]
    pub webhook_max_connections: usize,
    /// Largest webhook payload in MB (Argo CD's webhook.maxPayloadSizeMB; else 413).
    #[arg(long, value_name = "MB", default_value_t = 50)]
    pub webhook_max_payload_size_mb: usize,
    /// Refused webhook requests are logged once, then at most once per interval with a count.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub webhook_log_interval: Duration,
}

impl HttpLimitArgs {
    /// The server limits these flags mean.
    pub fn limits(&self) -> runtime::http::ServerLimits {
        runtime::http::ServerLimits {
            header_read_timeout: self.webhook_read_header_timeout,
            body_read_timeout: self.webhook_read_timeout,
            idle_timeout: self.webhook_idle_timeout,
            max_connections: self.webhook_max_connections.max(1),
            max_payload_bytes: self.webhook_max_payload_size_mb.saturating_mul(1024 * 1024),
            log_interval: self.webhook_log_interval,
        }
    }
}

/// The Sealed Secrets controller's flags (`--sealed-secrets*`).
#[derive(Args, Debug, Clone)]
pub struct SealedArgs {
    /// Run the Sealed Secrets unsealing controller.
    #[arg(long = "sealed-secrets", value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub sealed_secrets: bool,
    /// Namespace of the sealing keys (kubernetes.io/tls Secrets labelled
    /// sealedsecrets.bitnami.com/sealed-secrets-key).
    #[arg(
        long = "sealed-secrets-key-namespace",
        value_name = "NAMESPACE",
        default_value = "kube-system"
    )]
    pub sealed_key_namespace: String,
    /// Generate a new sealing key this often (0 disables renewal).
    #[arg(long = "sealed-secrets-key-renew-period", value_name = "DURATION", default_value = "720h", value_parser = parse_duration)]
    pub sealed_key_renew_period: Duration,
    /// Address of /v1/cert.pem, /v1/verify, /v1/rotate and /healthz.
    #[arg(
        long = "sealed-secrets-addr",
        value_name = "HOST:PORT",
        default_value = "127.0.0.1:8080"
    )]
    pub sealed_addr: SocketAddr,
}

impl SealedArgs {
    /// The Sealed Secrets controller options, or `None` when switched off.
    pub fn options(
        &self,
        client: fjord_client::ClientOptions,
    ) -> Option<fjord_seal_controller::SealControllerOptions> {
        self.sealed_secrets
            .then(|| fjord_seal_controller::SealControllerOptions {
                client,
                key_namespace: self.sealed_key_namespace.clone(),
                key_renew_period: self.sealed_key_renew_period,
                http_addr: Some(self.sealed_addr),
                ..Default::default()
            })
    }
}

/// The External Secrets controller's flags (`--external-secrets*`).
#[derive(Args, Debug, Clone)]
pub struct ExternalSecretsArgs {
    /// Run the External Secrets controller (ExternalSecret, ClusterExternalSecret, SecretStore,
    /// ClusterSecretStore of external-secrets.io; set false to leave them to ESO).
    #[arg(long = "external-secrets", value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub external_secrets: bool,
    /// How often every ExternalSecret is checked for a due refresh, and how long one Vault
    /// read is shared by every ExternalSecret reading the same path.
    #[arg(id = "external_secrets_resync", long = "external-secrets-resync", value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub resync: Duration,
}

impl ExternalSecretsArgs {
    /// The External Secrets controller options, or `None` when switched off.
    pub fn options(
        &self,
        client: fjord_client::ClientOptions,
    ) -> Option<fjord_eso_controller::EsoControllerOptions> {
        self.external_secrets
            .then(|| fjord_eso_controller::EsoControllerOptions {
                client,
                resync: self.resync,
                ..Default::default()
            })
    }
}

impl ControllerArgs {
    /// The controller options these flags mean.
    pub fn options(&self) -> ControllerOptions {
        let client = self.connect.client_options(None);
        let cache_dir = self
            .cache_dir
            .clone()
            .unwrap_or_else(super::cache_dir::default_cache_dir);
        let mut opts = ControllerOptions::new(client, cache_dir);
        opts.cache_max_size = self.cache_max_size;
        opts.namespace = self.namespace.clone();
        opts.namespaced = self.namespaced;
        opts.metrics_addr = Some(self.metrics_addr);
        opts.webhook_addr = Some(self.webhook_addr);
        opts.workers = self.workers.max(1);
        opts.resync = self.resync;
        opts.sync_timeout = self.sync_timeout;
        opts.http_limits = self.http.limits();
        opts
    }
}

/// The stop signal, shared by every long-running command.
pub use super::signal::stop_signal;

/// Runs the controller until a signal.
pub fn run(args: ControllerArgs) -> anyhow::Result<ExitCode> {
    args.lease.validate()?;
    let opts = args.options();
    let sealed = args.sealed.options(opts.client.clone());
    let external = args.external.options(opts.client.clone());
    let updater = image_updater_options(
        args.image_updater.image_updater,
        args.image_updater.interval,
        opts.client.clone(),
        &opts.namespace,
        &opts.cache_dir,
    );
    let mut opts = opts;
    serve_updater_metrics(&mut opts, updater.as_ref());
    let rt = tokio_runtime()?;
    rt.block_on(async move {
        // Leader election / sharding: nothing writes before its Lease is held.
        let mut scaling =
            super::lease_args::Scaling::prepare(&args.lease, &args.namespace, &mut opts).await?;
        if !scaling
            .wait_before_runtime(&args.namespace, &mut opts)
            .await?
        {
            return anyhow::Ok(());
        }
        let handle = super::lease_args::start_runtime(opts).await?;
        scaling.start_shards();
        // A shard member serves its apps before (or without) leading.
        scaling.announce(&args.namespace, handle.metrics_addr, handle.webhook_addr);
        if !scaling.wait_leader().await {
            handle.shutdown().await;
            scaling.release().await;
            return anyhow::Ok(());
        }
        let sealer = match sealed {
            Some(o) => {
                let h = fjord_seal_controller::start(o)
                    .await
                    .context("starting the Sealed Secrets controller")?;
                eprintln!(
                    "sealed secrets controller running (certificate: http://{}/v1/cert.pem)",
                    h.http_addr().map(|a| a.to_string()).unwrap_or_default()
                );
                Some(h)
            }
            None => None,
        };
        let eso = match external {
            Some(o) => {
                let h = fjord_eso_controller::start(o)
                    .await
                    .context("starting the External Secrets controller")?;
                eprintln!("external secrets controller running");
                Some(h)
            }
            None => None,
        };
        let updater = start_image_updater(updater).await?;
        scaling.announce(&args.namespace, handle.metrics_addr, handle.webhook_addr);
        stop_signal().await;
        if let Some(u) = updater {
            u.shutdown().await.context("stopping the image updater")?;
        }
        if let Some(e) = eso {
            e.shutdown()
                .await
                .context("stopping the External Secrets controller")?;
        }
        if let Some(s) = sealer {
            s.shutdown()
                .await
                .context("stopping the Sealed Secrets controller")?;
        }
        handle.shutdown().await;
        scaling.release().await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
