//! `fjord doctor`: the control-plane checks the seeds recommend — disk fdatasync latency as
//! etcd's fio check measures it, API reachability and version, and every repository that an
//! Application uses.

use anyhow::Context;
use clap::Args;
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;

use fjord_client::Client;
use fjord_controller::doctor::{self, DiskCheck, P99_THRESHOLD};

use super::kube_args::{runtime, ConnectArgs};

/// Arguments of `fjord doctor`.
#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// Directory whose disk is checked (where the data store lives).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub data_dir: PathBuf,
    /// Bytes written in total by the disk check (default 22 MiB, as etcd's fio check).
    #[arg(long, value_name = "BYTES", default_value_t = doctor::DEFAULT_TOTAL_SIZE)]
    pub disk_bytes: u64,
    /// Skip the disk check.
    #[arg(long)]
    pub skip_disk: bool,
    /// The cluster; without a kubeconfig the API and repository checks are skipped.
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Namespace of the Applications.
    #[arg(short = 'n', long, value_name = "NAMESPACE", default_value = "argocd")]
    pub namespace: String,
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "FAIL"
    }
}

/// Runs the checks; exit 0 when all pass, 1 otherwise.
pub fn run(args: DoctorArgs) -> anyhow::Result<ExitCode> {
    let mut all_ok = true;
    if !args.skip_disk {
        let mut check = DiskCheck::new(&args.data_dir);
        check.total_size = args.disk_bytes;
        let r = doctor::run(&check).context("disk check")?;
        all_ok &= r.pass;
        println!(
            "{}  disk fdatasync ({} writes of {} B in {}): p50 {:.2} ms, p99 {:.2} ms (limit {} ms)",
            verdict(r.pass),
            r.writes,
            check.block_size,
            args.data_dir.display(),
            r.p50.as_secs_f64() * 1e3,
            r.p99.as_secs_f64() * 1e3,
            P99_THRESHOLD.as_millis()
        );
    }
    // A kubeconfig, or the in-cluster settings of a Pod (as `Client::connect` reads them).
    let have_config = args.connect.kubeconfig.is_some()
        || std::env::var_os("KUBECONFIG").is_some()
        || fjord_client::kubeconfig_path(None).is_ok()
        || std::env::var_os("KUBERNETES_SERVICE_HOST").is_some();
    if !have_config {
        println!("SKIP  API and repositories: no kubeconfig and not in a cluster");
        return Ok(if all_ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    let opts = args.connect.client_options(None);
    let rt = runtime()?;
    all_ok &= rt.block_on(async {
        let mut ok = true;
        let client = match Client::connect(&opts).await {
            Ok(c) => c,
            Err(e) => {
                println!("FAIL  API: {e}");
                return false;
            }
        };
        match client.server_version().await {
            Ok(v) => println!("PASS  API reachable, Kubernetes {v}"),
            Err(e) => {
                println!("FAIL  API: {e}");
                return false;
            }
        }
        let apps = match client.resolve("argoproj.io/v1alpha1", "Application").await {
            Ok(t) => client
                .list(&t, Some(&args.namespace))
                .await
                .unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        let mut urls: Vec<String> = apps
            .iter()
            .filter_map(|a| a.pointer("/spec/source/repoURL").and_then(Value::as_str))
            .map(str::to_string)
            .collect();
        urls.sort();
        urls.dedup();
        if urls.is_empty() {
            println!(
                "SKIP  repositories: no Application in namespace {}",
                args.namespace
            );
        }
        // The repository Secrets and known hosts the controller fetches with.
        let settings =
            match fjord_controller::runtime::settings::load(&client, &args.namespace).await {
                Ok(s) => s,
                Err(e) => {
                    ok = false;
                    println!("FAIL  repository settings: {e}");
                    Default::default()
                }
            };
        for url in urls {
            let probe = tokio::task::spawn_blocking({
                let url = url.clone();
                let settings = settings.clone();
                move || probe_repo(&url, &settings)
            })
            .await;
            match probe {
                Ok(Ok(())) => println!("PASS  repository {}", fjord_source::repo::redact_url(&url)),
                Ok(Err(e)) => {
                    ok = false;
                    println!("FAIL  repository {e}");
                }
                Err(e) => {
                    ok = false;
                    println!(
                        "FAIL  repository {}: {e}",
                        fjord_source::repo::redact_url(&url)
                    );
                }
            }
        }
        ok
    });
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Fetches `url` into a throw-away mirror, with the controller's credentials and known hosts.
fn probe_repo(url: &str, settings: &fjord_controller::runtime::Settings) -> Result<(), String> {
    let dir = tempfile_dir().map_err(|e| e.to_string())?;
    let cache = fjord_source::RepoCache::new(&dir).map_err(|e| e.to_string())?;
    cache.set_credentials(settings.credentials.clone());
    cache.set_known_hosts(settings.known_hosts.clone());
    let result = cache
        .repo(url)
        .and_then(|r| r.fetch().map(|_| ()))
        .map_err(|e| e.to_string());
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn tempfile_dir() -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "fjord-doctor-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
