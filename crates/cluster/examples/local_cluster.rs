//! `local_cluster --data-dir DIR [--addr 127.0.0.1:6443] [--in-memory] [--sim-delay-ms N]`: runs the
//! embedded API server until SIGINT/SIGTERM.

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut opts = fjord_cluster::ClusterOptions::new("fjord-data");
    while let Some(a) = args.next() {
        match a.as_str() {
            "--data-dir" => opts.data_dir = args.next().unwrap_or_default().into(),
            "--addr" => match args.next().and_then(|s| s.parse().ok()) {
                Some(addr) => opts.addr = addr,
                None => {
                    eprintln!("--addr needs host:port");
                    return ExitCode::from(2);
                }
            },
            "--in-memory" => opts.in_memory = true,
            "--sim-delay-ms" => {
                opts.sim.delay = std::time::Duration::from_millis(
                    args.next().and_then(|s| s.parse().ok()).unwrap_or(500),
                )
            }
            other => {
                eprintln!("unknown argument {other}");
                return ExitCode::from(2);
            }
        }
    }
    match fjord_cluster::run_until_signal(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
