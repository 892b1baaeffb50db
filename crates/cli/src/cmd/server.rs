//! `fjord server`: the API server and web UI (Argo CD's `argocd-server` role), running until
//! SIGINT or SIGTERM.

use anyhow::Context;
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use fjord_server::{ServerOptions, TlsMode};

use super::kube_args::{runtime as tokio_runtime, ConnectArgs};

/// Arguments of `fjord server`.
#[derive(Args, Debug)]
pub struct ServerArgs {
    /// The control-plane cluster.
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Namespace of the Applications, AppProjects and settings.
    #[arg(short = 'n', long, value_name = "NAMESPACE", default_value = "argocd")]
    pub namespace: String,
    /// Read live objects and Events in --namespace only (the namespace install, whose Roles
    /// grant nothing elsewhere), instead of in every namespace.
    #[arg(long)]
    pub namespaced: bool,
    /// Where to listen (port 0 picks a free port; the line printed at start names it).
    #[arg(long, value_name = "HOST:PORT", default_value = fjord_server::options::DEFAULT_ADDR)]
    pub addr: SocketAddr,
    /// Serve TLS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "FILE", conflicts_with = "self_signed_tls")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "FILE", conflicts_with = "self_signed_tls")]
    pub tls_key: Option<PathBuf>,
    /// Serve TLS with a self-signed certificate generated at start (for localhost and the
    /// host of --addr).
    #[arg(long)]
    pub self_signed_tls: bool,
    /// Where repository mirrors are cached (default: `$XDG_CACHE_HOME/fjord/repos`, else
    /// `$HOME/.cache/fjord/repos`, else `<temp dir>/fjord/repos`).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

impl ServerArgs {
    /// The TLS mode these flags mean; `--tls-cert` and `--tls-key` go together.
    pub fn tls(&self) -> anyhow::Result<TlsMode> {
        match (&self.tls_cert, &self.tls_key, self.self_signed_tls) {
            (Some(cert), Some(key), _) => Ok(TlsMode::Files {
                cert: cert.clone(),
                key: key.clone(),
            }),
            (Some(_), None, _) => {
                anyhow::bail!("--tls-cert needs --tls-key (give both, or neither)")
            }
            (None, Some(_), _) => {
                anyhow::bail!("--tls-key needs --tls-cert (give both, or neither)")
            }
            (None, None, true) => {
                let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
                let host = self.addr.ip();
                if !host.is_unspecified() && !names.contains(&host.to_string()) {
                    names.push(host.to_string());
                }
                Ok(TlsMode::SelfSigned(names))
            }
            (None, None, false) => Ok(TlsMode::Plain),
        }
    }

    /// The server options these flags mean.
    pub fn options(&self) -> anyhow::Result<ServerOptions> {
        let client = self.connect.client_options(None);
        let cache_dir = self
            .cache_dir
            .clone()
            .unwrap_or_else(super::cache_dir::default_cache_dir);
        let mut opts = ServerOptions::new(client, cache_dir);
        opts.namespace = self.namespace.clone();
        opts.namespaced = self.namespaced;
        opts.addr = self.addr;
        opts.tls = self.tls()?;
        opts.build_commit = env!("FJORD_BUILD_COMMIT").to_string();
        opts.build_date = env!("FJORD_BUILD_DATE").to_string();
        Ok(opts)
    }
}

/// Runs `fjord server` until SIGINT or SIGTERM.
pub fn run(args: ServerArgs) -> anyhow::Result<ExitCode> {
    let opts = args.options()?;
    tokio_runtime()?.block_on(async move {
        let handle = fjord_server::start(opts)
            .await
            .context("starting fjord server")?;
        println!("fjord server listening on {}", handle.url());
        super::signal::stop_signal().await;
        handle.task.abort();
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: ServerArgs,
    }

    fn parse(args: &[&str]) -> ServerArgs {
        let mut all = vec!["server"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).unwrap().args
    }

    #[test]
    fn tls_flags_go_together() {
        assert_eq!(parse(&[]).tls().unwrap(), TlsMode::Plain);
        let err = parse(&["--tls-cert", "c.pem"])
            .tls()
            .unwrap_err()
            .to_string();
        assert!(err.contains("--tls-key"), "{err}");
        let err = parse(&["--tls-key", "k.pem"])
            .tls()
            .unwrap_err()
            .to_string();
        assert!(err.contains("--tls-cert"), "{err}");
        assert!(matches!(
            parse(&["--tls-cert", "c", "--tls-key", "k"]).tls().unwrap(),
            TlsMode::Files { .. }
        ));
        assert!(matches!(
            parse(&["--self-signed-tls"]).tls().unwrap(),
            TlsMode::SelfSigned(_)
        ));
        assert!(Cli::try_parse_from(["s", "--self-signed-tls", "--tls-cert", "c"]).is_err());
    }
}
