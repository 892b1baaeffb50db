//! `fjord diff DIR --app NAME`: what a sync would change, as `kubectl diff` reports it
//! (exit 0 in sync, 1 differences, 2 error).

use anyhow::Context;
use clap::{Args, ValueEnum};
use fjord_client::Client;
use fjord_diff::{CompareOptions, DiffStatus, IgnoreRule, ObjectDiff};
use fjord_sync::{Engine, SyncRequest};
use serde_json::{json, Value};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use super::kube_args::{runtime, KubeArgs};
use super::sync::{read_yaml, render_objects, Output};

/// `--color` values.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Color {
    /// Colour when stdout is a terminal.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// Arguments of `fjord diff`.
#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The directory to render (kustomization or plain manifests).
    #[arg(value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// Application name (tracking ids: which live objects are this application's).
    #[arg(long, value_name = "NAME")]
    pub app: String,
    /// Cluster connection.
    #[command(flatten)]
    pub kube: KubeArgs,
    /// A YAML list of Argo CD `ignoreDifferences` entries (group, kind, name, namespace,
    /// jsonPointers, jqPathExpressions, managedFieldsManagers).
    #[arg(long, value_name = "FILE")]
    pub ignore_differences: Option<PathBuf>,
    /// Colour the diff.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// Runs `fjord diff`.
pub fn run(args: DiffArgs) -> anyhow::Result<ExitCode> {
    match diff(&args) {
        Ok(true) => Ok(ExitCode::from(1)),
        Ok(false) => Ok(ExitCode::SUCCESS),
        Err(err) => {
            eprintln!("Error: {}", super::chain(&err));
            Ok(ExitCode::from(2))
        }
    }
}

/// Computes and prints the diffs; `Ok(true)` when something differs.
fn diff(args: &DiffArgs) -> anyhow::Result<bool> {
    let mut opts = CompareOptions::default();
    if let Some(path) = &args.ignore_differences {
        let list = read_yaml(path)?;
        let items = list
            .as_array()
            .with_context(|| format!("{}: expected a YAML list", path.display()))?;
        for item in items {
            opts.ignore
                .push(IgnoreRule::from_value(item).with_context(|| format!("{}", path.display()))?);
        }
    }
    let objects = render_objects(&args.dir)?;
    let rt = runtime()?;
    let diffs: Vec<ObjectDiff> = rt.block_on(async {
        let client = Client::connect(&args.kube.client_options()).await?;
        let engine = Engine::new(client, Default::default());
        let mut req = SyncRequest::new(args.app.clone(), objects);
        req.destination_namespace = args.kube.namespace.clone();
        req.dry_run_hooks = false;
        let plan = engine.plan(&req).await?;
        let out: Vec<ObjectDiff> = fjord_sync::compare_plan(&plan, &opts)?
            .into_iter()
            .map(|c| c.diff)
            .collect();
        anyhow::Ok(out)
    })?;
    let differs = diffs.iter().any(|d| d.status.differs());
    let color = match args.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stdout().is_terminal(),
    };
    let text = match args.output {
        Output::Text => diffs
            .iter()
            .filter(|d| d.status.differs())
            .map(|d| fjord_diff::unified(d, &d.id.kubectl_name(), color))
            .collect::<String>(),
        Output::Json => {
            let items: Vec<Value> = diffs
                .iter()
                .map(|d| {
                    json!({
                        "group": d.id.group, "version": d.id.version, "kind": d.id.kind,
                        "namespace": d.id.namespace, "name": d.id.name,
                        "status": d.status,
                        "desired": d.desired, "live": d.live,
                        "diff": if d.status == DiffStatus::InSync { String::new() } else { fjord_diff::unified(d, &d.id.kubectl_name(), false) },
                    })
                })
                .collect();
            let doc = json!({"app": args.app, "inSync": !differs, "resources": items});
            serde_json::to_string_pretty(&doc).context("encoding the result")? + "\n"
        }
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .context("writing the output")?;
    Ok(differs)
}
