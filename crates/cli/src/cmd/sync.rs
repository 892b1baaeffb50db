//! `fjord sync DIR --app NAME`: apply a rendered directory to a cluster, Argo CD-style.

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use fjord_health::HealthOverrides;
use fjord_sync::{Engine, Progress, SyncOptions, SyncRequest, SyncResult};
use serde_json::Value;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use super::kube_args::{parse_duration, runtime, KubeArgs};

/// Output formats of `sync` and `diff`.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Output {
    /// A human-readable table (sync) or unified diffs (diff).
    Text,
    /// JSON.
    Json,
}

/// Arguments of `fjord sync`.
#[derive(Args, Debug)]
pub struct SyncArgs {
    /// The directory to render (kustomization or plain manifests).
    #[arg(value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// Application name (written into each object's tracking id).
    #[arg(long, value_name = "NAME")]
    pub app: String,
    /// Cluster connection.
    #[command(flatten)]
    pub kube: KubeArgs,
    /// A sync option as Key=Value (CreateNamespace, PruneLast, Prune, Replace, Validate,
    /// ApplyOutOfSyncOnly, PrunePropagationPolicy, FailOnSharedResource, …); repeatable.
    #[arg(long = "sync-option", value_name = "KEY=VALUE")]
    pub sync_options: Vec<String>,
    /// Delete tracked objects that are no longer rendered.
    #[arg(long)]
    pub prune: bool,
    /// Allow pruning every object when the render is empty.
    #[arg(long)]
    pub allow_empty: bool,
    /// Show what would be done; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Give up after this long (e.g. 90s, 5m).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Do not wait until the last wave's objects are healthy (as `kubectl apply`, and Argo
    /// CD's sync operation); earlier waves and hooks are still waited for.
    #[arg(long)]
    pub no_wait: bool,
    /// Custom Lua health checks from an argocd-cm ConfigMap YAML.
    #[arg(long, value_name = "FILE")]
    pub health_overrides: Option<PathBuf>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// Renders `dir` into JSON objects.
pub fn render_objects(dir: &Path) -> anyhow::Result<Vec<Value>> {
    let nodes = fjord_render::render(dir, &fjord_render::RenderOptions::default())
        .with_context(|| format!("rendering {}", dir.display()))?;
    nodes
        .iter()
        .map(|n| fjord_yaml::to_json_value(n).context("converting a rendered object to JSON"))
        .collect()
}

/// Reads a YAML file into JSON.
pub fn read_yaml(path: &Path) -> anyhow::Result<Value> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let node = fjord_yaml::parse_document(&bytes)
        .with_context(|| format!("parsing {}", path.display()))?;
    fjord_yaml::to_json_value(&node)
        .with_context(|| format!("converting {} to JSON", path.display()))
}

/// Loads `--health-overrides`.
pub fn load_overrides(path: Option<&Path>) -> anyhow::Result<HealthOverrides> {
    match path {
        None => Ok(HealthOverrides::new()),
        Some(p) => {
            let cm = read_yaml(p)?;
            HealthOverrides::from_argocd_cm(&cm)
                .with_context(|| format!("loading health checks from {}", p.display()))
        }
    }
}

/// Runs `fjord sync`: 0 when everything synced and is healthy, 1 when the sync failed, 2 on
/// errors before anything was applied.
pub fn run(args: SyncArgs) -> anyhow::Result<ExitCode> {
    match sync(&args) {
        Ok(result) => Ok(if result.succeeded() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }),
        Err(err) => {
            eprintln!("Error: {}", super::chain(&err));
            Ok(ExitCode::from(2))
        }
    }
}

fn sync(args: &SyncArgs) -> anyhow::Result<SyncResult> {
    let options = SyncOptions::parse(args.sync_options.iter().map(String::as_str))
        .context("--sync-option")?;
    if args.app.is_empty() {
        bail!("--app must not be empty");
    }
    let overrides = load_overrides(args.health_overrides.as_deref())?;
    let objects = render_objects(&args.dir)?;
    let rt = runtime()?;
    let result = rt.block_on(async {
        let client = fjord_client::Client::connect(&args.kube.client_options()).await?;
        let engine = Engine::new(client, overrides);
        let mut req = SyncRequest::new(args.app.clone(), objects);
        req.destination_namespace = args.kube.namespace.clone();
        req.options = options;
        req.prune = args.prune;
        req.allow_empty = args.allow_empty;
        req.dry_run = args.dry_run;
        req.timeout = args.timeout;
        req.wait = !args.no_wait;
        let plan = engine.plan(&req).await?;
        let bar = progress_bar();
        let mut on_progress = |p: Progress| {
            if let Some(bar) = &bar {
                show_progress(bar, &p);
            }
        };
        let result = engine.execute(&plan, &mut on_progress).await;
        if let Some(bar) = &bar {
            bar.finish_and_clear();
        }
        anyhow::Ok(result)
    })?;
    let text = match args.output {
        Output::Json => {
            serde_json::to_string_pretty(&result).context("encoding the result")? + "\n"
        }
        Output::Text => table(&result),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .context("writing the output")?;
    Ok(result)
}

fn progress_bar() -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    let style = indicatif::ProgressStyle::with_template("{spinner} [{pos}/{len}] {msg}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(120));
    Some(bar)
}

fn show_progress(bar: &indicatif::ProgressBar, p: &Progress) {
    match p {
        Progress::Started { total } => bar.set_length(*total as u64),
        Progress::Step { phase, wave } => {
            bar.set_message(format!("phase {} wave {wave}", phase.as_str()))
        }
        Progress::TaskDone { done, .. } => bar.set_position(*done as u64),
        Progress::Waiting { message } => bar.set_message(message.clone()),
    }
}

/// The result table: KIND NAMESPACE NAME ACTION RESULT HEALTH MESSAGE, then a summary line.
pub fn table(result: &SyncResult) -> String {
    let mut rows = vec![[
        "KIND",
        "NAMESPACE",
        "NAME",
        "ACTION",
        "RESULT",
        "HEALTH",
        "MESSAGE",
    ]
    .map(String::from)];
    for r in &result.resources {
        let status = match (r.hook_phase, r.status) {
            (Some(h), _) => format!("{h:?}"),
            (None, s) => format!("{s:?}"),
        };
        rows.push([
            r.kind.clone(),
            r.namespace.clone(),
            r.name.clone(),
            r.action.as_str().to_string(),
            status,
            r.health
                .as_ref()
                .map(|h| h.status.as_str().to_string())
                .unwrap_or_default(),
            r.message.clone(),
        ]);
    }
    let mut widths = [0usize; 7];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i == 6 {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}   ", w = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push_str(&format!("\n{:?}: {}\n", result.phase, result.message));
    out
}
