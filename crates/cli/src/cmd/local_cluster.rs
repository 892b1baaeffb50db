//! `fjord local-cluster`: the embedded, durable, kubectl-compatible Kubernetes API.

use anyhow::Context;
use clap::Args;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `fjord local-cluster`.
#[derive(Args, Debug)]
pub struct LocalClusterArgs {
    /// Where objects (`store.redb`) and the kubeconfig (`kubeconfig`, context `fjord-local`) live.
    #[arg(long, value_name = "DIR", default_value = "fjord-data")]
    pub data_dir: PathBuf,
    /// Address to serve the Kubernetes API on.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:6443")]
    pub addr: SocketAddr,
    /// Keep objects in memory only (for tests); the kubeconfig is still written.
    #[arg(long)]
    pub in_memory: bool,
    /// Milliseconds before a simulated workload reports ready (0 = at once).
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub sim_delay_ms: u64,
    /// Turn workload status simulation off.
    #[arg(long)]
    pub no_sim: bool,
    /// Fault injection: fraction (0.0–1.0) of resource requests answered with an error.
    #[arg(long, value_name = "RATE", default_value_t = 0.0)]
    pub fault_error_rate: f64,
    /// Fault injection: the status codes to inject (any of 500, 429, 504; default all three).
    #[arg(long, value_name = "CODE", value_delimiter = ',')]
    pub fault_codes: Vec<u16>,
    /// Fault injection: added latency, as VERB=MS (`*=MS` for every verb); repeatable.
    #[arg(long, value_name = "VERB=MS")]
    pub fault_latency: Vec<String>,
    /// Fault injection: close every watch stream after this many milliseconds.
    #[arg(long, value_name = "MS")]
    pub fault_drop_watch_after_ms: Option<u64>,
    /// Fault injection: seed of the error choice, for repeatable runs.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub fault_seed: u64,
    /// Fault injection: fail the first COUNT requests of VERB on RESOURCE (plural, `*` for
    /// any) with CODES in turn, as `VERB:RESOURCE:CODE[,CODE]:COUNT`
    /// (`create:secrets:429,504:2`); repeatable.
    #[arg(long, value_name = "RULE")]
    pub fault_rule: Vec<String>,
}

/// Runs the server until SIGINT or SIGTERM.
pub fn run(args: LocalClusterArgs) -> anyhow::Result<ExitCode> {
    if !(0.0..=1.0).contains(&args.fault_error_rate) {
        anyhow::bail!(
            "--fault-error-rate must be between 0.0 and 1.0, not {}",
            args.fault_error_rate
        );
    }
    if let Some(bad) = args
        .fault_codes
        .iter()
        .find(|c| ![500, 429, 504].contains(*c))
    {
        anyhow::bail!("--fault-codes: {bad} is not one of 500, 429, 504");
    }
    let mut latency = HashMap::new();
    for spec in &args.fault_latency {
        let (verb, ms) = spec
            .split_once('=')
            .with_context(|| format!("--fault-latency '{spec}': expected VERB=MS"))?;
        let ms: u64 = ms.parse().with_context(|| {
            format!("--fault-latency '{spec}': '{ms}' is not a number of milliseconds")
        })?;
        latency.insert(verb.to_string(), Duration::from_millis(ms));
    }
    let mut opts = fjord_cluster::ClusterOptions::new(&args.data_dir);
    opts.addr = args.addr;
    opts.in_memory = args.in_memory;
    opts.sim.enabled = !args.no_sim;
    opts.sim.delay = Duration::from_millis(args.sim_delay_ms);
    opts.faults.error_rate = args.fault_error_rate;
    opts.faults.error_codes = args.fault_codes;
    opts.faults.latency = latency;
    opts.faults.drop_watch_after = args.fault_drop_watch_after_ms.map(Duration::from_millis);
    opts.faults.seed = args.fault_seed;
    opts.faults.rules = args
        .fault_rule
        .iter()
        .map(|r| fjord_cluster::FaultRule::parse(r))
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("--fault-rule {e}"))?;
    fjord_cluster::run_until_signal(opts).context("local cluster")?;
    Ok(ExitCode::SUCCESS)
}
