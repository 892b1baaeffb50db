//! `fjord doctor`: the control-plane checks the seeds recommend — disk fdatasync latency as
//! etcd's fio check measures it, API reachability and version, and every repository that an
//! Application uses.

use anyhow::Context;
use clap::Args;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use fjord_client::{Client, ClientOptions};
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
        all_ok &= check_disk(&args.data_dir, args.disk_bytes)?;
    }
    if !have_config(&args.connect) {
        println!("SKIP  API and repositories: no kubeconfig and not in a cluster");
        return Ok(exit_code(all_ok));
    }
    let opts = args.connect.client_options(None);
    let rt = runtime()?;
    all_ok &= rt.block_on(check_cluster(&opts, &args.namespace));
    Ok(exit_code(all_ok))
}

fn exit_code(all_ok: bool) -> ExitCode {
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The disk check: fdatasync latency of `data_dir`'s disk, printed; whether it passed.
fn check_disk(data_dir: &Path, disk_bytes: u64) -> anyhow::Result<bool> {
    let mut check = DiskCheck::new(data_dir);
    check.total_size = disk_bytes;
    let r = doctor::run(&check).context("disk check")?;
    println!(
        "{}  disk fdatasync ({} writes of {} B in {}): p50 {:.2} ms, p99 {:.2} ms (limit {} ms)",
        verdict(r.pass),
        r.writes,
        check.block_size,
        data_dir.display(),
        r.p50.as_secs_f64() * 1e3,
        r.p99.as_secs_f64() * 1e3,
        P99_THRESHOLD.as_millis()
    );
    Ok(r.pass)
}

/// A kubeconfig, or the in-cluster settings of a Pod (as `Client::connect` reads them).
fn have_config(connect: &ConnectArgs) -> bool {
    connect.kubeconfig.is_some()
        || std::env::var_os("KUBECONFIG").is_some()
        || fjord_client::kubeconfig_path(None).is_ok()
        || std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
}

/// The API and repository checks; whether all passed.
async fn check_cluster(opts: &ClientOptions, namespace: &str) -> bool {
    let Some(client) = check_api(opts).await else {
        return false;
    };
    let urls = repo_urls(&client, namespace).await;
    if urls.is_empty() {
        println!("SKIP  repositories: no Application in namespace {namespace}");
    }
    // The repository Secrets and known hosts the controller fetches with.
    let mut ok = true;
    let settings = match fjord_controller::runtime::settings::load(&client, namespace).await {
        Ok(s) => s,
        Err(e) => {
            ok = false;
            println!("FAIL  repository settings: {}", e.message());
            Default::default()
        }
    };
    for url in urls {
        ok &= check_repo(url, &settings).await;
    }
    ok
}

/// Connects and asks for the server version, printed; the client when both work.
async fn check_api(opts: &ClientOptions) -> Option<Client> {
    let client = match Client::connect(opts).await {
        Ok(c) => c,
        Err(e) => {
            println!("FAIL  API: {}", fjord_model::chain(&e));
            return None;
        }
    };
    match client.server_version().await {
        Ok(v) => println!("PASS  API reachable, Kubernetes {v}"),
        Err(e) => {
            println!("FAIL  API: {}", fjord_model::chain(&e));
            return None;
        }
    }
    Some(client)
}

/// The repositories the Applications in `namespace` use, sorted, each once.
async fn repo_urls(client: &Client, namespace: &str) -> Vec<String> {
    let apps = match client.resolve("argoproj.io/v1alpha1", "Application").await {
        Ok(t) => client.list(&t, Some(namespace)).await.unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    let mut urls: Vec<String> = apps
        .iter()
        .filter_map(|a| a.pointer("/spec/source/repoURL").and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    urls.sort();
    urls.dedup();
    urls
}

/// Probes one repository (off the async runtime), printed; whether it could be fetched.
async fn check_repo(url: String, settings: &fjord_controller::runtime::Settings) -> bool {
    let probe = tokio::task::spawn_blocking({
        let url = url.clone();
        let settings = settings.clone();
        move || probe_repo(&url, &settings)
    })
    .await;
    match probe {
        Ok(Ok(())) => {
            println!("PASS  repository {}", fjord_source::repo::redact_url(&url));
            true
        }
        Ok(Err(e)) => {
            println!("FAIL  repository {e}");
            false
        }
        Err(e) => {
            println!(
                "FAIL  repository {}: {e}",
                fjord_source::repo::redact_url(&url)
            );
            false
        }
    }
}

/// Fetches `url` into a throw-away mirror, with the controller's credentials and known hosts.
fn probe_repo(url: &str, settings: &fjord_controller::runtime::Settings) -> Result<(), String> {
    let dir = tempfile_dir().map_err(|e| fjord_model::chain(&e))?;
    let cache = fjord_source::RepoCache::new(&dir).map_err(|e| fjord_model::chain(&e))?;
    cache.set_credentials(settings.credentials.clone());
    cache.set_known_hosts(settings.known_hosts.clone());
    let result = cache
        .repo(url)
        .and_then(|r| r.fetch().map(|_| ()))
        .map_err(|e| fjord_model::chain(&e));
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
