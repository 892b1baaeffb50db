//! Builds the web UI (ui/, npm + Vite) and embeds it: writes `OUT_DIR/ui_assets.rs`, an array
//! literal of `("path under the site root", include_bytes!("absolute file"))` that `assets.rs`
//! includes.
//!
//! - `FJORD_UI_DIST=dir`: embed that prebuilt directory (no npm at all).
//! - Otherwise: `npm ci --no-audit --no-fund` in ui/ when ui/node_modules is missing, then
//!   `npm run build -- --outDir OUT_DIR/ui-dist --emptyOutDir`. Nothing is written into ui/
//!   except node_modules.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Why the UI could not be built or embedded.
#[derive(Debug)]
enum BuildError {
    /// A required environment variable cargo sets is missing.
    Env(&'static str),
    /// npm could not be started.
    NpmMissing(std::io::Error),
    /// An npm step exited with an error.
    NpmFailed { step: String, status: String },
    /// The dist directory has no index.html.
    NoIndex(PathBuf),
    /// Reading the dist directory or writing the generated file failed.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Env(name) => write!(f, "environment variable {name} is not set (cargo sets it)"),
            BuildError::NpmMissing(e) => write!(
                f,
                "building the web UI needs npm (Node.js 20 or later), and `npm` could not be run: {e}. \
                 Install Node.js and npm (e.g. `apt-get install nodejs npm`), or set FJORD_UI_DIST to a \
                 directory holding a prebuilt UI (`npm ci && npm run build` in ui/ makes ui/dist)"
            ),
            BuildError::NpmFailed { step, status } => write!(
                f,
                "`{step}` in ui/ failed ({status}); see the npm output above. \
                 Set FJORD_UI_DIST to a prebuilt UI directory to skip the npm build"
            ),
            BuildError::NoIndex(dir) => write!(f, "the UI directory {} has no index.html", dir.display()),
            BuildError::Io { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: fjord-server build script: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), BuildError> {
    let manifest = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").ok_or(BuildError::Env("CARGO_MANIFEST_DIR"))?,
    );
    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or(BuildError::Env("OUT_DIR"))?);
    let ui = manifest.join("..").join("..").join("ui");
    let ui = std::fs::canonicalize(&ui).unwrap_or(ui);
    println!("cargo:rerun-if-env-changed=FJORD_UI_DIST");
    for f in [
        "src",
        "index.html",
        "package.json",
        "package-lock.json",
        "vite.config.ts",
        "tsconfig.json",
    ] {
        println!("cargo:rerun-if-changed={}", ui.join(f).display());
    }
    let dist = match std::env::var_os("FJORD_UI_DIST").filter(|v| !v.is_empty()) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            println!("cargo:rerun-if-changed={}", dir.display());
            dir
        }
        None => {
            let dist = out.join("ui-dist");
            npm_build(&ui, &dist)?;
            dist
        }
    };
    if !dist.join("index.html").is_file() {
        return Err(BuildError::NoIndex(dist));
    }
    let mut files = Vec::new();
    collect(&dist, &dist, &mut files)?;
    files.sort();
    let mut code = String::from("&[\n");
    for (rel, abs) in &files {
        code.push_str(&format!(
            "    ({rel:?}, include_bytes!({:?}) as &[u8]),\n",
            abs.display().to_string()
        ));
    }
    code.push_str("]\n");
    let target = out.join("ui_assets.rs");
    std::fs::write(&target, code).map_err(|source| BuildError::Io {
        path: target,
        source,
    })
}

/// `npm ci` (only when node_modules is missing) and `npm run build` into `dist`.
fn npm_build(ui: &Path, dist: &Path) -> Result<(), BuildError> {
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    if !ui.join("node_modules").is_dir() {
        run_npm(npm, ui, &["ci", "--no-audit", "--no-fund"])?;
    }
    let out_dir = dist.display().to_string();
    run_npm(
        npm,
        ui,
        &["run", "build", "--", "--outDir", &out_dir, "--emptyOutDir"],
    )
}

fn run_npm(npm: &str, dir: &Path, args: &[&str]) -> Result<(), BuildError> {
    let step = format!("npm {}", args.join(" "));
    // npm's own output goes to cargo's build log; stdout lines must not look like cargo directives.
    let output = Command::new(npm)
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .map_err(BuildError::NpmMissing)?;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        eprintln!("{line}");
    }
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    if output.status.success() {
        Ok(())
    } else {
        Err(BuildError::NpmFailed {
            step,
            status: output.status.to_string(),
        })
    }
}

/// Every file under `dir` as (path relative to `root` with `/`, absolute path).
fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) -> Result<(), BuildError> {
    let io = |source| BuildError::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        if entry.file_type().map_err(io)?.is_dir() {
            collect(root, &path, files)?;
        } else {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            let abs = std::fs::canonicalize(&path).map_err(|source| BuildError::Io {
                path: path.clone(),
                source,
            })?;
            files.push((rel, abs));
        }
    }
    Ok(())
}
