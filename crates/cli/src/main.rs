//! The `fjord` command: a fast GitOps engine for Kubernetes.
//!
//! Each sub-command lives in `cmd/`; this file only parses the command line and maps errors to
//! exit codes. `anyhow` is used here and nowhere else.

mod cmd;

/// mimalloc: the engine and the local API allocate many small JSON values; glibc's allocator
/// spent a fifth of their CPU time in malloc/free under load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// fjord: GitOps continuous delivery — render, diff and sync Kubernetes manifests from Git.
#[derive(Parser, Debug)]
#[command(
    name = "fjord",
    // `fjord --version`: version, git commit and build date, stamped by build.rs.
    version = env!("FJORD_VERSION_LINE"),
    about,
    long_about = None,
    propagate_version = true
)]
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
    Seal(cmd::seal::SealArgs),
    /// Compare a rendered directory with a cluster (exit 0 in sync, 1 differences, 2 error).
    Diff(cmd::diff::DiffArgs),
    /// Apply a rendered directory to a cluster the way Argo CD syncs an application.
    Sync(cmd::sync::SyncArgs),
    /// Run the Application controller: keep every Application in sync with its Git source.
    Controller(cmd::controller::ControllerArgs),
    /// Start the local API, the controller and a demo Application: the whole loop at once.
    Up(cmd::up::UpArgs),
    /// Inspect and operate Applications (list, get, diff, sync, history, rollback, delete).
    App(cmd::app::AppArgs),
    /// Check the control plane: disk fdatasync latency, API reachability, repositories.
    Doctor(cmd::doctor::DoctorArgs),
    /// Install fjord in a cluster (CRDs, RBAC, Deployment, Services), or print the objects
    /// with --dry-run (what manifests/install.yaml holds).
    Install(cmd::install::InstallArgs),
    /// Run only the Sealed Secrets controller (unsealing, keys, /v1/cert.pem), as the install
    /// manifests' `sealed-secrets-controller` Deployment does.
    SealedSecretsController(cmd::sealed_secrets_controller::SealedSecretsControllerArgs),
    /// Set container images in a kustomization (as `kustomize edit set image`) or in plain
    /// manifests; optionally commit and push (exit 2 with --exit-code when nothing changed).
    SetImage(cmd::set_image::SetImageArgs),
    /// Run the API server and web UI (Argo CD's REST paths under /api/v1, sessions, RBAC).
    Server(cmd::server::ServerArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Render(args) => cmd::render::run(args),
        Command::LocalCluster(args) => cmd::local_cluster::run(args),
        Command::Seal(args) => cmd::seal::run(args),
        Command::Diff(args) => cmd::diff::run(args),
        Command::Sync(args) => cmd::sync::run(args),
        Command::Controller(args) => cmd::controller::run(args),
        Command::Up(args) => cmd::up::run(args),
        Command::App(args) => cmd::app::run(args),
        Command::Doctor(args) => cmd::doctor::run(args),
        Command::Install(args) => cmd::install::run(args),
        Command::SealedSecretsController(args) => cmd::sealed_secrets_controller::run(args),
        Command::SetImage(args) => cmd::set_image::run(args),
        Command::Server(args) => cmd::server::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("Error: {}", cmd::chain(&err));
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
