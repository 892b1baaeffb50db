//! `fjord app`: list, inspect and operate Applications through the Kubernetes API, the way
//! `argocd app` does (operations go through the Application's `operation` field, which the
//! controller carries out).

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use fjord_client::{Client, ClientOptions, Propagation, ResourceType};

use super::kube_args::{parse_duration, runtime};

/// Output formats of `fjord app`.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum AppOutput {
    /// A table.
    Text,
    /// A table with more columns.
    Wide,
    /// YAML.
    Yaml,
    /// JSON.
    Json,
}

/// Arguments of `fjord app`.
#[derive(Args, Debug)]
pub struct AppArgs {
    /// The kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, value_name = "FILE", global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context.
    #[arg(long, value_name = "NAME", global = true)]
    pub context: Option<String>,
    /// Namespace of the Applications.
    #[arg(
        short = 'n',
        long,
        value_name = "NAMESPACE",
        default_value = "argocd",
        global = true
    )]
    pub namespace: String,
    /// What to do.
    #[command(subcommand)]
    pub command: AppCommand,
}

/// `fjord app` sub-commands.
#[derive(Subcommand, Debug)]
pub enum AppCommand {
    /// List Applications.
    List {
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = AppOutput::Text)]
        output: AppOutput,
    },
    /// Show one Application and its resources.
    Get {
        /// The Application.
        name: String,
        /// Ask the controller to compare again (fetching the repository) and wait for it.
        #[arg(long)]
        refresh: bool,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = AppOutput::Text)]
        output: AppOutput,
    },
    /// Show the resources that differ from Git, under each its drifted fields and the field
    /// manager that last set them (exit 1 when any differs, 2 when the application cannot be
    /// compared: its fetch, render or spec error is printed).
    Diff {
        /// The Application.
        name: String,
    },
    /// Sync an Application now (through its `operation` field) and wait for the result.
    Sync {
        /// The Application.
        name: String,
        /// Revision to sync to (default: the target revision).
        #[arg(long, value_name = "REV")]
        revision: Option<String>,
        /// Delete tracked objects no longer in Git.
        #[arg(long)]
        prune: bool,
        /// Dry run.
        #[arg(long)]
        dry_run: bool,
        /// How long to wait.
        #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// Show the deployment history.
    History {
        /// The Application.
        name: String,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = AppOutput::Text)]
        output: AppOutput,
    },
    /// Sync to the revision of a history entry (default: the one before the latest).
    Rollback {
        /// The Application.
        name: String,
        /// History id.
        id: Option<i64>,
        /// How long to wait.
        #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// Delete an Application; with --cascade (default) what it deployed goes too.
    Delete {
        /// The Application.
        name: String,
        /// Delete the deployed resources too.
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        cascade: bool,
        /// How long to wait for the deletion.
        #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_duration)]
        timeout: Duration,
    },
}

const FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";

struct Ctx {
    client: Client,
    t: ResourceType,
    ns: String,
}

impl Ctx {
    async fn get(&self, name: &str) -> anyhow::Result<Value> {
        self.client
            .get(&self.t, Some(&self.ns), name)
            .await?
            .with_context(|| format!("application {name} not found in namespace {}", self.ns))
    }

    async fn patch(&self, name: &str, patch: &Value) -> anyhow::Result<Value> {
        Ok(self
            .client
            .merge_patch(&self.t, Some(&self.ns), name, patch, false, "fjord-cli")
            .await?)
    }
}

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .context("writing the output")
}

/// `v` with credentials removed from every URL in its strings (`spec.source.repoURL`, the
/// history's sources, a last-applied annotation...), as Argo CD's CLI never shows them.
fn redacted(v: &Value) -> Value {
    match v {
        Value::String(t) => Value::String(fjord_source::redact_text(t)),
        Value::Array(a) => Value::Array(a.iter().map(redacted).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| match (k.as_str(), x) {
                    ("repoURL", Value::String(u)) => {
                        (k.clone(), fjord_source::redact_url(u).into())
                    }
                    _ => (k.clone(), redacted(x)),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

fn encode(v: &Value, output: AppOutput) -> anyhow::Result<Option<String>> {
    let v = &redacted(v);
    Ok(match output {
        AppOutput::Json => Some(serde_json::to_string_pretty(v)? + "\n"),
        AppOutput::Yaml => {
            let node = fjord_yaml::from_json_value(v);
            Some(fjord_yaml::emit(&node).context("encoding YAML")?)
        }
        _ => None,
    })
}

fn table(rows: Vec<Vec<String>>) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map_or(0, |x| x.len()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, x)| format!("{x:<w$}", w = widths[i]))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn list_row(a: &Value, wide: bool) -> Vec<String> {
    let policy = if a.pointer("/spec/syncPolicy/automated").is_some() {
        "Auto"
    } else {
        "Manual"
    };
    let dest = match s(a, "/spec/destination/server") {
        "" => s(a, "/spec/destination/name"),
        x => x,
    };
    let mut row = vec![
        format!("{}/{}", s(a, "/metadata/namespace"), s(a, "/metadata/name")),
        dest.into(),
        s(a, "/spec/destination/namespace").into(),
        match s(a, "/spec/project") {
            "" => "default".into(),
            p => p.into(),
        },
        s(a, "/status/sync/status").into(),
        s(a, "/status/health/status").into(),
        policy.into(),
    ];
    if wide {
        row.push(fjord_source::redact_url(s(a, "/spec/source/repoURL")));
        row.push(s(a, "/spec/source/path").into());
        row.push(match s(a, "/spec/source/targetRevision") {
            "" => "HEAD".into(),
            r => r.into(),
        });
        row.push(s(a, "/status/sync/revision").chars().take(7).collect());
    }
    row
}

fn header(wide: bool) -> Vec<String> {
    let mut h: Vec<&str> = vec![
        "NAME",
        "CLUSTER",
        "NAMESPACE",
        "PROJECT",
        "STATUS",
        "HEALTH",
        "SYNCPOLICY",
    ];
    if wide {
        h.extend(["REPO", "PATH", "TARGET", "REVISION"]);
    }
    h.into_iter().map(str::to_string).collect()
}

fn describe(a: &Value) -> String {
    let a = &redacted(a);
    let mut out = String::new();
    let line = |k: &str, v: &str| format!("{:<16}{}\n", format!("{k}:"), v);
    out += &line(
        "Name",
        &format!("{}/{}", s(a, "/metadata/namespace"), s(a, "/metadata/name")),
    );
    out += &line(
        "Project",
        match s(a, "/spec/project") {
            "" => "default",
            p => p,
        },
    );
    out += &line("Server", s(a, "/spec/destination/server"));
    out += &line("Namespace", s(a, "/spec/destination/namespace"));
    out += &line(
        "Repo",
        &fjord_source::redact_url(s(a, "/spec/source/repoURL")),
    );
    out += &line(
        "Target",
        match s(a, "/spec/source/targetRevision") {
            "" => "HEAD",
            r => r,
        },
    );
    out += &line("Path", s(a, "/spec/source/path"));
    out += &line(
        "Sync Policy",
        if a.pointer("/spec/syncPolicy/automated").is_some() {
            "Automated"
        } else {
            "Manual"
        },
    );
    out += &line(
        "Sync Status",
        &format!(
            "{} to {}",
            s(a, "/status/sync/status"),
            s(a, "/status/sync/revision")
        ),
    );
    out += &line("Health Status", s(a, "/status/health/status"));
    if let Some(op) = a.pointer("/status/operationState") {
        out += &line(
            "Last Sync",
            &format!("{} {}", s(op, "/phase"), s(op, "/message")),
        );
    }
    for c in a
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out += &line(
            "Condition",
            &format!("{}: {}", s(c, "/type"), s(c, "/message")),
        );
    }
    out.push('\n');
    let mut rows = vec!["GROUP KIND NAMESPACE NAME STATUS HEALTH MESSAGE"
        .split(' ')
        .map(str::to_string)
        .collect::<Vec<_>>()];
    for r in a
        .pointer("/status/resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        rows.push(vec![
            s(r, "/group").into(),
            s(r, "/kind").into(),
            s(r, "/namespace").into(),
            s(r, "/name").into(),
            s(r, "/status").into(),
            s(r, "/health/status").into(),
            s(r, "/health/message").into(),
        ]);
    }
    out + &table(rows)
}

/// Runs `fjord app`.
pub fn run(args: AppArgs) -> anyhow::Result<ExitCode> {
    let opts = ClientOptions {
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
        namespace: None,
    };
    let rt = runtime()?;
    rt.block_on(async move {
        let client = Client::connect(&opts).await?;
        let t = client
            .resolve("argoproj.io/v1alpha1", "Application")
            .await
            .context("the Application kind is not served: is `fjord controller` installed?")?;
        let ctx = Ctx {
            client,
            t,
            ns: args.namespace.clone(),
        };
        match args.command {
            AppCommand::List { output } => list(&ctx, output).await,
            AppCommand::Get {
                name,
                refresh,
                output,
            } => get(&ctx, &name, refresh, output).await,
            AppCommand::Diff { name } => diff(&ctx, &name).await,
            AppCommand::Sync {
                name,
                revision,
                prune,
                dry_run,
                timeout,
            } => {
                ctx.get(&name).await?;
                let mut sync = json!({"prune": prune, "dryRun": dry_run});
                if let Some(r) = revision {
                    sync["revision"] = json!(r);
                }
                operate(&ctx, &name, sync, timeout).await
            }
            AppCommand::History { name, output } => history(&ctx, &name, output).await,
            AppCommand::Rollback { name, id, timeout } => rollback(&ctx, &name, id, timeout).await,
            AppCommand::Delete {
                name,
                cascade,
                timeout,
            } => delete(&ctx, &name, cascade, timeout).await,
        }
    })
}

/// `fjord app list`.
async fn list(ctx: &Ctx, output: AppOutput) -> anyhow::Result<ExitCode> {
    let apps = ctx.client.list(&ctx.t, Some(&ctx.ns)).await?;
    if let Some(text) = encode(
        &json!({"apiVersion": "v1", "kind": "List", "items": apps}),
        output,
    )? {
        print(&text)?;
    } else {
        let wide = output == AppOutput::Wide;
        let mut rows = vec![header(wide)];
        rows.extend(apps.iter().map(|a| list_row(a, wide)));
        print(&table(rows))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `fjord app get`.
async fn get(ctx: &Ctx, name: &str, refresh: bool, output: AppOutput) -> anyhow::Result<ExitCode> {
    let mut app = ctx.get(name).await?;
    if refresh {
        app = refresh_app(ctx, name, &app).await?;
    }
    match encode(&app, output)? {
        Some(text) => print(&text)?,
        None => print(&describe(&app))?,
    }
    // After a refresh, the app's own error is the answer (as `argocd app get
    // --refresh` shows it), and the exit code says so.
    match app_error(&app).filter(|_| refresh) {
        Some(err) => {
            eprintln!("Error: application {name}: {err}");
            Ok(ExitCode::from(1))
        }
        None => Ok(ExitCode::SUCCESS),
    }
}

/// `fjord app diff`.
async fn diff(ctx: &Ctx, name: &str) -> anyhow::Result<ExitCode> {
    let app = ctx.get(name).await?;
    let app = refresh_app(ctx, name, &app).await?;
    if let Some(err) = app_error(&app) {
        eprintln!("Error: application {name} cannot be compared: {err}");
        return Ok(ExitCode::from(2));
    }
    let out: Vec<&Value> = app
        .pointer("/status/resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|r| s(r, "/status") != "Synced")
        .collect();
    let drift = if out.is_empty() {
        Vec::new()
    } else {
        drift(ctx, &app).await
    };
    let mut text = String::new();
    for r in &out {
        let what = if r.pointer("/requiresPruning") == Some(&json!(true)) {
            "extra (requires pruning)"
        } else {
            "differs from Git"
        };
        text += &format!(
            "===== {}/{} {}/{} {what}\n",
            s(r, "/group"),
            s(r, "/kind"),
            s(r, "/namespace"),
            s(r, "/name")
        );
        let same = |id: &fjord_model::ObjectRef| {
            id.group == s(r, "/group")
                && id.kind == s(r, "/kind")
                && id.namespace == s(r, "/namespace")
                && id.name == s(r, "/name")
        };
        for (_, field) in drift.iter().filter(|(id, _)| same(id)) {
            text += &format!("    {field}\n");
        }
    }
    print(&text)?;
    Ok(if out.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `fjord app history`.
async fn history(ctx: &Ctx, name: &str, output: AppOutput) -> anyhow::Result<ExitCode> {
    let app = ctx.get(name).await?;
    let history = app.pointer("/status/history").cloned().unwrap_or(json!([]));
    if let Some(text) = encode(&history, output)? {
        print(&text)?;
    } else {
        let mut rows = vec![vec!["ID".to_string(), "DATE".into(), "REVISION".into()]];
        for h in history.as_array().into_iter().flatten() {
            rows.push(vec![
                h.get("id").map(|v| v.to_string()).unwrap_or_default(),
                s(h, "/deployedAt").into(),
                s(h, "/revision").into(),
            ]);
        }
        print(&table(rows))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `fjord app rollback`.
async fn rollback(
    ctx: &Ctx,
    name: &str,
    id: Option<i64>,
    timeout: Duration,
) -> anyhow::Result<ExitCode> {
    let app = ctx.get(name).await?;
    if app.pointer("/spec/syncPolicy/automated").is_some() {
        bail!("rollback cannot be started while automated sync is enabled: remove spec.syncPolicy.automated from {name} first");
    }
    let history = app
        .pointer("/status/history")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let entry = match id {
        Some(id) => history
            .iter()
            .find(|h| h.get("id").and_then(Value::as_i64) == Some(id))
            .cloned()
            .with_context(|| format!("application {name} has no history entry {id}"))?,
        None => history.iter().rev().nth(1).cloned().with_context(|| {
            format!("application {name} has no earlier deployment to roll back to")
        })?,
    };
    let mut sync = json!({"revision": s(&entry, "/revision"), "prune": false});
    if let Some(src) = entry.get("source") {
        sync["source"] = src.clone();
    }
    operate(ctx, name, sync, timeout).await
}

/// `fjord app delete`.
async fn delete(
    ctx: &Ctx,
    name: &str,
    cascade: bool,
    timeout: Duration,
) -> anyhow::Result<ExitCode> {
    let app = ctx.get(name).await?;
    let mut finalizers: Vec<String> = app
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|f| f.as_str().map(str::to_string))
        .filter(|f| !f.starts_with(FINALIZER))
        .collect();
    if cascade {
        finalizers.push(FINALIZER.into());
    }
    ctx.patch(name, &json!({"metadata": {"finalizers": finalizers}}))
        .await?;
    ctx.client
        .delete(&ctx.t, Some(&ctx.ns), name, Propagation::Foreground, false)
        .await?;
    let start = Instant::now();
    while ctx.client.get(&ctx.t, Some(&ctx.ns), name).await?.is_some() {
        if start.elapsed() > timeout {
            bail!("application {name} is still being deleted after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let with = if cascade { " with its resources" } else { "" };
    print(&format!("application {name} deleted{with}\n"))?;
    Ok(ExitCode::SUCCESS)
}

/// The drifted fields of `app`'s objects and who last set each (drift forensics), compared as
/// the controller compares (the source is cloned into a temporary directory, removed after);
/// best effort: a failure is a warning on stderr and no fields.
async fn drift(
    ctx: &Ctx,
    app: &Value,
) -> Vec<(fjord_model::ObjectRef, fjord_diff::forensics::Drift)> {
    use fjord_controller::runtime::drift::drift_of;
    use fjord_controller::runtime::inspect::Inspector;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!("fjord-app-diff-{}-{nanos}", std::process::id()));
    let result = async {
        let decoded = serde_json::from_value(app.clone())?;
        let inspector = Inspector::new(ctx.client.clone(), &ctx.ns, dir.clone()).await?;
        anyhow::Ok(inspector.inspect(&decoded).await?)
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    match result {
        Ok(i) => i
            .compared
            .iter()
            .flat_map(|c| drift_of(c).into_iter().map(|d| (c.task.id.clone(), d)))
            .collect(),
        Err(e) => {
            eprintln!("warning: the drifted fields cannot be shown: {e:#}");
            Vec::new()
        }
    }
}

/// Sets the refresh annotation and waits until the controller has compared again.
async fn refresh_app(ctx: &Ctx, name: &str, app: &Value) -> anyhow::Result<Value> {
    let before = s(app, "/status/reconciledAt").to_string();
    ctx.patch(
        name,
        &json!({"metadata": {"annotations": {"argocd.argoproj.io/refresh": "normal"}}}),
    )
    .await?;
    let start = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = ctx.get(name).await?;
        let refreshed = now
            .pointer("/metadata/annotations/argocd.argoproj.io~1refresh")
            .is_none();
        if refreshed
            && (s(&now, "/status/reconciledAt") != before
                || start.elapsed() > Duration::from_secs(2))
        {
            return Ok(now);
        }
        if start.elapsed() > Duration::from_secs(60) {
            bail!("the controller did not refresh application {name} within 60s: is `fjord controller` running?");
        }
    }
}

/// The error conditions that stop the controller from comparing an app (its fetch, render or
/// spec error), as `Type: message` joined by `; `; `None` when there is none.
fn app_error(app: &Value) -> Option<String> {
    let errors: Vec<String> = app
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| matches!(s(c, "/type"), "ComparisonError" | "InvalidSpecError"))
        .map(|c| format!("{}: {}", s(c, "/type"), s(c, "/message")))
        .collect();
    (!errors.is_empty()).then(|| errors.join("; "))
}

/// Requests a sync operation and waits for its result.
async fn operate(
    ctx: &Ctx,
    name: &str,
    sync: Value,
    timeout: Duration,
) -> anyhow::Result<ExitCode> {
    let requested = chrono::Utc::now() - chrono::Duration::seconds(1);
    let op = json!({"operation": {"sync": sync, "initiatedBy": {"username": "fjord-cli"}}});
    ctx.patch(name, &op).await?;
    let start = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let app = ctx.get(name).await?;
        let state = app
            .pointer("/status/operationState")
            .cloned()
            .unwrap_or(Value::Null);
        let started = chrono::DateTime::parse_from_rfc3339(s(&state, "/startedAt")).ok();
        let ours = app.get("operation").is_none() && started.is_some_and(|t| t >= requested);
        let phase = s(&state, "/phase");
        if ours && matches!(phase, "Succeeded" | "Failed" | "Error") {
            print(&describe(&app))?;
            print(&format!("\nOperation {phase}: {}\n", s(&state, "/message")))?;
            return Ok(if phase == "Succeeded" {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
        if start.elapsed() > timeout {
            bail!("the sync of {name} did not finish within {timeout:?} (phase {phase:?})");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::app_error;
    use serde_json::json;

    #[test]
    fn app_error_names_comparison_and_spec_errors_only() {
        let app = json!({"status": {"conditions": [
            {"type": "SharedResourceWarning", "message": "shared"},
            {"type": "ComparisonError", "message": "rendering app: bad.yaml: line 3"},
            {"type": "InvalidSpecError", "message": "destination missing"},
        ]}});
        assert_eq!(
            app_error(&app).as_deref(),
            Some(
                "ComparisonError: rendering app: bad.yaml: line 3; \
                 InvalidSpecError: destination missing"
            )
        );
        let fine = json!({"status": {"conditions": [{"type": "SyncError", "message": "x"}]}});
        assert_eq!(app_error(&fine), None);
        assert_eq!(app_error(&json!({})), None);
    }
}
