//! `fjord render DIR`: the rendered YAML stream on stdout.

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use fjord_render::{DirectoryOptions, LoadRestrictor, RenderLimits, RenderOptions, Reorder};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Output formats.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Output {
    /// A `---`-separated YAML stream, as `kubectl kustomize` prints it.
    Yaml,
    /// A JSON `List` of the objects.
    Json,
}

/// `--reorder` values, as `kubectl kustomize` takes them.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ReorderArg {
    /// Namespaces, CRDs, RBAC, config… first, webhooks last; then by GVK, namespace and name.
    Legacy,
    /// The order the resources were read and generated in.
    None,
}

/// `--load-restrictor` values.
#[derive(Clone, Copy, Debug, ValueEnum)]
#[allow(clippy::enum_variant_names)]
pub enum LoadRestrictorArg {
    /// Files must be under the kustomization's directory.
    #[value(name = "LoadRestrictionsRootOnly")]
    LoadRestrictionsRootOnly,
    /// Any file may be read.
    #[value(name = "LoadRestrictionsNone")]
    LoadRestrictionsNone,
}

/// Arguments of `fjord render`.
#[derive(Args, Debug)]
pub struct RenderArgs {
    /// The directory to render: a kustomization (kustomization.yaml, .yml or Kustomization) or
    /// a plain directory of *.yaml/*.yml/*.json manifests.
    #[arg(value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Output::Yaml)]
    pub output: Output,
    /// Order of the output (a kustomization's `sortOptions` takes precedence).
    #[arg(long, value_enum)]
    pub reorder: Option<ReorderArg>,
    /// Which files a kustomization may read.
    #[arg(long, value_enum, default_value_t = LoadRestrictorArg::LoadRestrictionsRootOnly)]
    pub load_restrictor: LoadRestrictorArg,
    /// Plain directories: read sub-directories too.
    #[arg(long)]
    pub recurse: bool,
    /// Plain directories: only files whose relative path matches this glob.
    #[arg(long, value_name = "GLOB")]
    pub include: Option<String>,
    /// Plain directories: skip files whose relative path matches this glob.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Option<String>,
    /// Refuse every file, base and component outside DIR, and absolute paths: the confinement
    /// the controller applies at each application's repository root.
    #[arg(long, value_name = "DIR")]
    pub fence: Option<PathBuf>,
    /// The most objects the render may produce.
    #[arg(long, value_name = "N", value_parser = quantity, default_value_t = RenderLimits::default().max_objects)]
    pub max_objects: u64,
    /// The most bytes the rendered output may take (256Mi, 100M or plain bytes).
    #[arg(long, value_name = "SIZE", value_parser = quantity, default_value_t = RenderLimits::default().max_rendered_bytes)]
    pub max_rendered_bytes: u64,
    /// The most bytes the render may read from files in total.
    #[arg(long, value_name = "SIZE", value_parser = quantity, default_value_t = RenderLimits::default().max_input_bytes)]
    pub max_input_bytes: u64,
    /// The most files the render may read.
    #[arg(long, value_name = "N", value_parser = quantity, default_value_t = RenderLimits::default().max_files)]
    pub max_files: u64,
    /// Not supported: fjord does not run helm (refused with an error).
    #[arg(long, hide = true)]
    pub enable_helm: bool,
    /// Not supported: fjord runs no plugins (refused with an error).
    #[arg(long, hide = true)]
    pub enable_alpha_plugins: bool,
    /// Not supported: fjord runs no exec functions (refused with an error).
    #[arg(long, hide = true)]
    pub enable_exec: bool,
    /// Not supported: fjord runs no container functions (refused with an error).
    #[arg(long, hide = true)]
    pub network: bool,
}

/// Runs `fjord render`.
pub fn run(args: RenderArgs) -> anyhow::Result<ExitCode> {
    if args.enable_helm {
        bail!("--enable-helm is not supported: fjord does not run helm; render the chart first");
    }
    if args.enable_alpha_plugins || args.enable_exec || args.network {
        bail!("kustomize plugins, exec and container functions are not supported by fjord");
    }
    let opts = RenderOptions {
        reorder: args.reorder.map(|r| match r {
            ReorderArg::Legacy => Reorder::Legacy,
            ReorderArg::None => Reorder::None,
        }),
        load_restrictor: match args.load_restrictor {
            LoadRestrictorArg::LoadRestrictionsRootOnly => LoadRestrictor::RootOnly,
            LoadRestrictorArg::LoadRestrictionsNone => LoadRestrictor::None,
        },
        directory: DirectoryOptions {
            recurse: args.recurse,
            include: args.include,
            exclude: args.exclude,
        },
        fence: args.fence,
        limits: RenderLimits {
            max_input_bytes: args.max_input_bytes,
            max_files: args.max_files,
            max_objects: args.max_objects,
            max_rendered_bytes: args.max_rendered_bytes,
        },
        overrides: None,
        root_kustomization: None,
    };
    let objects = fjord_render::render(&args.dir, &opts).map_err(|e| {
        let hint = e
            .exceeded_limit()
            .map(|l| format!(" (raise it with --{})", l.limit.name()))
            .unwrap_or_default();
        anyhow::anyhow!("{}{hint}", fjord_model::chain(&e))
    })?;
    let text = match args.output {
        Output::Yaml => fjord_yaml::emit_documents(&objects)?,
        Output::Json => fjord_yaml::emit_json_list(&objects)?,
    };
    if text.len() as u64 > args.max_rendered_bytes {
        bail!(
            "render limit max-rendered-bytes ({}) exceeded: the output is {} bytes (raise it with --max-rendered-bytes)",
            args.max_rendered_bytes,
            text.len()
        );
    }
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e).context("writing the output"),
    }
}

/// A `--max-*` value: an integer or a Kubernetes quantity (`64Mi`).
fn quantity(s: &str) -> Result<u64, String> {
    fjord_render::parse_quantity(s)
}
