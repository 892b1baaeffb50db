//! `local_cluster --data-dir DIR [--addr 127.0.0.1:6443] [--in-memory] [--sim-delay-ms N] [--no-sim]
//! [--fault-error-rate R] [--fault-codes 500,429,504] [--fault-latency VERB=MS]...
//! [--fault-drop-watch-after-ms MS] [--fault-seed N]`: runs the embedded API server until
//! SIGINT/SIGTERM, with the same flags as `fjord local-cluster`. The crate's end-to-end tests and
//! the benchmark drive it as a separate process.

use std::process::ExitCode;
use std::time::Duration;

fn value<T: std::str::FromStr>(flag: &str, v: Option<String>) -> Result<T, String> {
    let v = v.ok_or_else(|| format!("{flag} needs a value"))?;
    v.parse().map_err(|_| format!("{flag}: cannot parse {v:?}"))
}

fn parse(args: Vec<String>) -> Result<fjord_cluster::ClusterOptions, String> {
    let mut opts = fjord_cluster::ClusterOptions::new("fjord-data");
    let mut args = args.into_iter();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--data-dir" => opts.data_dir = value::<String>(&a, args.next())?.into(),
            "--addr" => opts.addr = value(&a, args.next())?,
            "--in-memory" => opts.in_memory = true,
            "--no-sim" => opts.sim.enabled = false,
            "--sim-delay-ms" => opts.sim.delay = Duration::from_millis(value(&a, args.next())?),
            "--fault-error-rate" => opts.faults.error_rate = value(&a, args.next())?,
            "--fault-codes" => {
                let list: String = value(&a, args.next())?;
                for c in list.split(',').filter(|c| !c.is_empty()) {
                    opts.faults
                        .error_codes
                        .push(value(&a, Some(c.to_string()))?);
                }
            }
            "--fault-latency" => {
                let spec: String = value(&a, args.next())?;
                let (verb, ms) = spec
                    .split_once('=')
                    .ok_or_else(|| format!("--fault-latency {spec:?}: expected VERB=MS"))?;
                let ms: u64 = value(&a, Some(ms.to_string()))?;
                opts.faults
                    .latency
                    .insert(verb.to_string(), Duration::from_millis(ms));
            }
            "--fault-drop-watch-after-ms" => {
                opts.faults.drop_watch_after = Some(Duration::from_millis(value(&a, args.next())?))
            }
            "--fault-seed" => opts.faults.seed = value(&a, args.next())?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(opts)
}

fn main() -> ExitCode {
    let opts = match parse(std::env::args().skip(1).collect()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match fjord_cluster::run_until_signal(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", fjord_model::chain(&e));
            ExitCode::FAILURE
        }
    }
}
