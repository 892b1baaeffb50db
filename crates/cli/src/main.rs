//! The `fjord` command: a fast GitOps engine for Kubernetes.
//!
//! Each sub-command lives in `cmd/`; this file only parses the command line and maps errors to
//! exit codes. `anyhow` is used here and nowhere else.

mod cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// fjord: GitOps continuous delivery — render, diff and sync Kubernetes manifests from Git.
#[derive(Parser, Debug)]
#[command(name = "fjord", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Render a kustomization or a plain manifest directory to a YAML stream on stdout
    /// (byte-identical to `kubectl kustomize`).
    Render(cmd::render::RenderArgs),
    /// Run the embedded, durable, kubectl-compatible Kubernetes API (writes DIR/kubeconfig).
    LocalCluster(cmd::local_cluster::LocalClusterArgs),
    /// Seal a Secret read on stdin into a SealedSecret (kubeseal-compatible).
    Seal(fjord_seal::SealArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Render(args) => cmd::render::run(args),
        Command::LocalCluster(args) => cmd::local_cluster::run(args),
        Command::Seal(args) => cmd::seal::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("Error: {}", cmd::chain(&err));
            ExitCode::from(1)
        }
    }
}
