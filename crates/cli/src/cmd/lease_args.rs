//! Leader election and sharding of `fjord controller`: the `--leader-elect*`, `--identity` and
//! `--shards` flags, and the start-up they drive (see docs/scaling.md).
//!
//! A lost Lease *fences* the process: the elector reports it and this module ends the process
//! with exit code 1 before another replica may take over (as kube-controller-manager does).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use tokio::sync::mpsc;

use fjord_controller::metrics::ExtraMetrics;
use fjord_controller::runtime::lease::{
    spawn_elector, Elector, Fence, LeaseClient, LeaseLock, LeaseTimings,
};
use fjord_controller::runtime::{lease_standby, ControllerOptions};
use fjord_controller::shard::membership::{self, Membership, Shards};
use fjord_controller::shard::{render_leader, Leading, Ownership};

use super::kube_args::parse_duration;

/// Leader election and sharding flags.
#[derive(Args, Debug, Clone)]
pub struct LeaseArgs {
    /// Hold a `coordination.k8s.io/v1` Lease before writing; standbys wait for it.
    #[arg(long = "leader-elect", value_name = "BOOL", default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub leader_elect: bool,
    /// How long a Lease stays the holder's after its last renew, as the others measure it.
    #[arg(long = "leader-elect-lease-duration", value_name = "DURATION", default_value = "15s", value_parser = parse_duration)]
    pub lease_duration: Duration,
    /// A holder that could not renew for this long stops every write (exits).
    #[arg(long = "leader-elect-renew-deadline", value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub renew_deadline: Duration,
    /// Time between attempts to acquire or renew a Lease.
    #[arg(long = "leader-elect-retry-period", value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub retry_period: Duration,
    /// Name of the leader Lease (slot Leases are `<name>-shard-<i>`).
    #[arg(
        long = "leader-elect-resource-name",
        value_name = "NAME",
        default_value = "fjord-controller"
    )]
    pub resource_name: String,
    /// Namespace of the Leases (default: --namespace).
    #[arg(long = "leader-elect-resource-namespace", value_name = "NAMESPACE")]
    pub resource_namespace: Option<String>,
    /// This replica's name in the Leases (default: $POD_NAME, else the host name, plus `_`
    /// and 8 random hex digits).
    #[arg(long, value_name = "ID")]
    pub identity: Option<String>,
    /// Spread the Applications over replicas: N fixed shards, each held by one replica
    /// through a Lease, or `auto` (the live replicas). 1: no sharding.
    #[arg(
        long,
        value_name = "N|auto",
        default_value = "1",
        allow_hyphen_values = true
    )]
    pub shards: Shards,
}

impl LeaseArgs {
    /// Refuses inconsistent timings, naming the flag.
    pub fn validate(&self) -> anyhow::Result<()> {
        for (flag, d) in [
            ("--leader-elect-lease-duration", self.lease_duration),
            ("--leader-elect-renew-deadline", self.renew_deadline),
            ("--leader-elect-retry-period", self.retry_period),
        ] {
            if d.is_zero() {
                bail!("{flag} must be longer than zero");
            }
        }
        if self.renew_deadline >= self.lease_duration {
            bail!(
                "--leader-elect-renew-deadline ({:?}) must be shorter than --leader-elect-lease-duration ({:?}): a leader must stop writing before its Lease can be taken over",
                self.renew_deadline,
                self.lease_duration
            );
        }
        if self.retry_period >= self.renew_deadline {
            bail!(
                "--leader-elect-retry-period ({:?}) must be shorter than --leader-elect-renew-deadline ({:?})",
                self.retry_period,
                self.renew_deadline
            );
        }
        if self.lease_duration < Duration::from_secs(1) {
            bail!("--leader-elect-lease-duration must be at least 1s (Leases count whole seconds)");
        }
        if self.resource_name.trim().is_empty() {
            bail!("--leader-elect-resource-name must not be empty");
        }
        if self
            .identity
            .as_deref()
            .is_some_and(|i| i.trim().is_empty())
        {
            bail!("--identity must not be empty");
        }
        Ok(())
    }

    /// Whether a leader Lease is used (`--leader-elect`, or sharding).
    pub fn elects(&self) -> bool {
        self.leader_elect || self.shards != Shards::Fixed(1)
    }

    /// The identity: `--identity`, else `$POD_NAME` or the host name plus a random suffix.
    pub fn identity(&self) -> String {
        if let Some(i) = &self.identity {
            return i.trim().to_string();
        }
        let base = std::env::var("POD_NAME")
            .ok()
            .filter(|s| !s.trim().is_empty())
            .or_else(|| {
                std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .ok()
                    .map(|s| s.trim().to_string())
            })
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "fjord-controller".into());
        let seed = format!(
            "{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)
        );
        let suffix = fjord_controller::shard::ring::stable_hash(seed.as_bytes()) as u32;
        format!("{base}_{suffix:08x}")
    }

    fn timings(&self) -> LeaseTimings {
        LeaseTimings {
            lease_duration: self.lease_duration,
            renew_deadline: self.renew_deadline,
            retry_period: self.retry_period,
        }
    }
}

/// Starts the controller (replicas that start together may race to create the CRDs and the
/// default AppProject; the bootstrap takes AlreadyExists as success).
pub async fn start_runtime(
    opts: ControllerOptions,
) -> anyhow::Result<fjord_controller::runtime::ControllerHandle> {
    fjord_controller::runtime::start(opts)
        .await
        .context("starting the controller")
}

/// Leader election and sharding of one running controller.
pub struct Scaling {
    identity: String,
    leader_name: String,
    timings: LeaseTimings,
    shards: Shards,
    client: Option<LeaseClient>,
    leader: Option<Elector>,
    leading: Leading,
    ownership: Option<Arc<Ownership>>,
    membership: Option<Membership>,
    fence: mpsc::UnboundedSender<Fence>,
    announced: bool,
    deferred: bool,
}

impl Scaling {
    /// Sets up what `args` ask for: the Lease client, the fence (a lost Lease ends the
    /// process with exit code 1), the leader elector, the ownership filter and the metrics.
    pub async fn prepare(
        args: &LeaseArgs,
        namespace: &str,
        opts: &mut ControllerOptions,
    ) -> anyhow::Result<Scaling> {
        let identity = args.identity();
        let leading = Leading::default();
        let (fence, mut fenced) = mpsc::unbounded_channel::<Fence>();
        let mut scaling = Scaling {
            identity: identity.clone(),
            leader_name: args.resource_name.clone(),
            timings: args.timings(),
            shards: args.shards,
            client: None,
            leader: None,
            leading: leading.clone(),
            ownership: None,
            membership: None,
            fence,
            announced: false,
            deferred: false,
        };
        if !args.elects() {
            return Ok(scaling);
        }
        tokio::spawn(async move {
            match fenced.recv().await {
                Some(f @ Fence::Lost { .. }) => {
                    eprintln!("fjord controller: {f}; stopping every write (exit 1)");
                    std::process::exit(1);
                }
                Some(f @ Fence::Fatal(_)) => {
                    eprintln!("fjord controller: {f}");
                    std::process::exit(1);
                }
                None => {}
            }
        });
        let lease_ns = args
            .resource_namespace
            .clone()
            .unwrap_or_else(|| namespace.to_string());
        let client = fjord_client::Client::connect(&opts.client)
            .await
            .context("leader election: connecting")?;
        let client = LeaseClient::new(&client, &lease_ns, args.renew_deadline)
            .await
            .map_err(|e| anyhow::anyhow!(fjord_model::chain(&e)))?;
        eprintln!(
            "leader election: identity {identity}, Lease {lease_ns}/{}",
            args.resource_name
        );
        let lock = LeaseLock::new(
            client.clone(),
            &args.resource_name,
            &identity,
            args.lease_duration,
            Default::default(),
        );
        let elector = spawn_elector(vec![lock], args.timings(), scaling.fence.clone());
        let mut held = elector.held.clone();
        let flag = leading.clone();
        tokio::spawn(async move {
            while held.borrow_and_update().is_none() {
                if held.changed().await.is_err() {
                    return;
                }
            }
            flag.set(true);
        });
        scaling.leader = Some(elector);
        scaling.client = Some(client);
        if args.shards != Shards::Fixed(1) {
            let owner = Ownership::new(namespace, &identity);
            opts.ownership = Some(Arc::clone(&owner));
            scaling.ownership = Some(owner);
        }
        let (id, flag, owner) = (identity, leading, scaling.ownership.clone());
        opts.extra_metrics.push(ExtraMetrics::new(move || {
            let mut text = render_leader(&id, flag.get());
            if let Some(o) = &owner {
                text.push_str(&o.render_metrics());
            }
            text
        }));
        Ok(scaling)
    }

    /// Prints the `fjord controller running (…)` line once (a standby or a shard member prints
    /// it before leading: its endpoints serve already).
    pub fn announce(
        &mut self,
        namespace: &str,
        metrics: Option<std::net::SocketAddr>,
        webhook: Option<std::net::SocketAddr>,
    ) {
        if self.announced {
            return;
        }
        if self.leader.is_none() && !self.deferred {
            // No election: announced once everything started (the caller's second call).
            self.deferred = true;
            return;
        }
        self.print_running(namespace, metrics, webhook, "");
    }

    fn print_running(
        &mut self,
        namespace: &str,
        metrics: Option<std::net::SocketAddr>,
        webhook: Option<std::net::SocketAddr>,
        note: &str,
    ) {
        let addr = |a: Option<std::net::SocketAddr>| a.map(|a| a.to_string()).unwrap_or_default();
        eprintln!(
            "fjord controller running (namespace {namespace}, metrics http://{}, webhook http://{}/api/webhook){note}",
            addr(metrics),
            addr(webhook)
        );
        self.announced = true;
    }

    /// Without sharding, `--leader-elect` keeps the whole controller (its CRD bootstrap and
    /// every reconcile) waiting until the leader Lease is held, serving the standby endpoints
    /// on the metrics and webhook addresses meanwhile (the controller then binds the same
    /// addresses). `Ok(false)` when a stop signal came first.
    pub async fn wait_before_runtime(
        &mut self,
        namespace: &str,
        opts: &mut ControllerOptions,
    ) -> anyhow::Result<bool> {
        if self.ownership.is_some() || self.leader.is_none() {
            return Ok(true);
        }
        let mut servers = Vec::new();
        for addr in [&mut opts.metrics_addr, &mut opts.webhook_addr] {
            if let Some(a) = addr.as_mut() {
                let (bound, task) = lease_standby::serve_standby(
                    *a,
                    opts.http_limits,
                    &self.identity,
                    &self.leader_name,
                )
                .await
                .context("serving the standby endpoints")?;
                *a = bound;
                servers.push(task);
            }
        }
        let note = format!("; standing by for Lease {}", self.leader_name);
        self.print_running(namespace, opts.metrics_addr, opts.webhook_addr, &note);
        let leads = match self.leader.as_mut() {
            Some(elector) => tokio::select! {
                held = elector.wait_held() => held.is_some(),
                _ = super::signal::stop_signal() => false,
            },
            None => true,
        };
        for task in servers {
            task.abort();
            let _ = task.await;
        }
        if leads {
            self.leading.set(true);
            eprintln!("leader election: leading as {}", self.identity);
        }
        Ok(leads)
    }

    /// Starts the shard membership (sharding only), after the controller started.
    pub fn start_shards(&mut self) {
        let (Some(owner), Some(client)) = (self.ownership.clone(), self.client.clone()) else {
            return;
        };
        let m = match self.shards {
            Shards::Fixed(n) => membership::start_fixed(
                owner,
                client,
                &self.leader_name,
                n,
                self.timings.clone(),
                self.fence.clone(),
            ),
            Shards::Auto => {
                membership::start_auto(owner, client, self.timings.clone(), self.fence.clone())
            }
        };
        self.membership = Some(m);
    }

    /// Waits until this replica leads (at once without election), for the singleton
    /// components; `false` when a stop signal came first.
    pub async fn wait_leader(&mut self) -> bool {
        let Some(elector) = self.leader.as_mut() else {
            return true;
        };
        if self.leading.get() {
            return true;
        }
        let leads = tokio::select! {
            held = elector.wait_held() => held.is_some(),
            _ = super::signal::stop_signal() => false,
        };
        if leads {
            self.leading.set(true);
            eprintln!("leader election: leading as {}", self.identity);
        }
        leads
    }

    /// Releases the Leases held (after every writer stopped) so standbys take over at once.
    pub async fn release(self) {
        if let Some(m) = self.membership {
            m.release().await;
        }
        if let Some(e) = self.leader {
            e.release().await;
        }
    }
}
