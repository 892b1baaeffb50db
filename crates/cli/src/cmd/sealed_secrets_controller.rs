//! `fjord sealed-secrets-controller`: only the Sealed Secrets controller (unsealing, key
//! renewal, the `/v1/cert.pem` HTTP API), as its own Deployment in the key namespace, where
//! `kubeseal` and `fjord seal` find its Service (`sealed-secrets-controller`, port `http`)
//! through the API server's service proxy. `fjord controller --sealed-secrets=false` then
//! leaves SealedSecrets to it.

use anyhow::{bail, Context};
use clap::Args;
use std::process::ExitCode;

use fjord_controller::runtime::http::ServerLimits;
use fjord_controller::runtime::lease::{spawn_elector, Fence, LeaseClient, LeaseLock};
use fjord_controller::runtime::lease_standby;
use fjord_controller::shard::membership::Shards;

use super::controller::{stop_signal, SealedArgs};
use super::kube_args::{runtime as tokio_runtime, ConnectArgs};
use super::lease_args::LeaseArgs;

/// The Lease name (`--leader-elect-resource-name`'s default here) and the Service name.
pub const LEASE_NAME: &str = "sealed-secrets-controller";

/// Arguments of `fjord sealed-secrets-controller`.
#[derive(Args, Debug)]
#[command(mut_arg("resource_name", |a| a.default_value(LEASE_NAME)))]
#[command(mut_arg("resource_namespace", |a| a.help("Namespace of the Lease (default: --sealed-secrets-key-namespace)")))]
pub struct SealedSecretsControllerArgs {
    /// The cluster.
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// The Sealed Secrets flags (`--sealed-secrets=false` is refused: nothing would run).
    #[command(flatten)]
    pub sealed: SealedArgs,
    /// Leader election (`--shards` must stay 1: the controller is a singleton).
    #[command(flatten)]
    pub lease: LeaseArgs,
}

impl SealedSecretsControllerArgs {
    /// Refuses flags that make no sense here, naming them.
    fn validate(&self) -> anyhow::Result<()> {
        if !self.sealed.sealed_secrets {
            bail!("--sealed-secrets=false: this command runs only the Sealed Secrets controller");
        }
        if self.lease.shards != Shards::Fixed(1) {
            bail!("--shards: the Sealed Secrets controller is not sharded (use --leader-elect)");
        }
        self.lease.validate()
    }
}

/// Holds the Lease before unsealing: serves `/healthz` (and a not-ready `/readyz`) on the
/// Sealed Secrets address meanwhile. A lost Lease ends the process (exit 1) before another
/// replica may write. `Ok(None)` when a stop signal came first.
async fn elect(
    args: &SealedSecretsControllerArgs,
    client: &fjord_client::ClientOptions,
) -> anyhow::Result<Option<fjord_controller::runtime::lease::Elector>> {
    let lease = &args.lease;
    let identity = lease.identity();
    let namespace = lease
        .resource_namespace
        .clone()
        .unwrap_or_else(|| args.sealed.sealed_key_namespace.clone());
    let (fence, mut fenced) = tokio::sync::mpsc::unbounded_channel::<Fence>();
    tokio::spawn(async move {
        if let Some(f) = fenced.recv().await {
            eprintln!("fjord sealed-secrets-controller: {f}; stopping every write (exit 1)");
            std::process::exit(1);
        }
    });
    let connected = fjord_client::Client::connect(client)
        .await
        .context("leader election: connecting")?;
    let leases = LeaseClient::new(&connected, &namespace, lease.renew_deadline)
        .await
        .map_err(|e| anyhow::anyhow!(fjord_model::chain(&e)))?;
    let lock = LeaseLock::new(
        leases,
        &lease.resource_name,
        &identity,
        lease.lease_duration,
        Default::default(),
    );
    let timings = fjord_controller::runtime::lease::LeaseTimings {
        lease_duration: lease.lease_duration,
        renew_deadline: lease.renew_deadline,
        retry_period: lease.retry_period,
    };
    let mut elector = spawn_elector(vec![lock], timings, fence);
    let (_, standby) = lease_standby::serve_standby(
        args.sealed.sealed_addr,
        ServerLimits::default(),
        &identity,
        &lease.resource_name,
    )
    .await
    .context("serving the standby endpoints")?;
    eprintln!(
        "leader election: identity {identity}, standing by for Lease {namespace}/{}",
        lease.resource_name
    );
    let leads = tokio::select! {
        held = elector.wait_held() => held.is_some(),
        _ = stop_signal() => false,
    };
    standby.abort();
    let _ = standby.await;
    if !leads {
        elector.release().await;
        return Ok(None);
    }
    eprintln!("leader election: leading as {identity}");
    Ok(Some(elector))
}

/// Runs the Sealed Secrets controller until a signal.
pub fn run(args: SealedSecretsControllerArgs) -> anyhow::Result<ExitCode> {
    args.validate()?;
    let client = args.connect.client_options(None);
    let Some(mut opts) = args.sealed.options(client.clone()) else {
        bail!("--sealed-secrets=false: this command runs only the Sealed Secrets controller");
    };
    // The install manifests ship the CRD; without it the start fails naming the kind instead
    // of needing a permission to create CRDs.
    opts.install_crd = false;
    let rt = tokio_runtime()?;
    rt.block_on(async move {
        let elector = if args.lease.leader_elect {
            match elect(&args, &client).await? {
                Some(e) => Some(e),
                None => return anyhow::Ok(()),
            }
        } else {
            None
        };
        let handle = fjord_seal_controller::start(opts)
            .await
            .context("starting the Sealed Secrets controller")?;
        eprintln!(
            "sealed secrets controller running (key namespace {}, certificate: http://{}/v1/cert.pem)",
            args.sealed.sealed_key_namespace,
            handle.http_addr().map(|a| a.to_string()).unwrap_or_default()
        );
        stop_signal().await;
        handle
            .shutdown()
            .await
            .context("stopping the Sealed Secrets controller")?;
        if let Some(e) = elector {
            e.release().await;
        }
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
