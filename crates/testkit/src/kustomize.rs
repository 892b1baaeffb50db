//! The real `kustomize` binary (v5.5.0), the oracle of the `set image` parity tests.
//!
//! Located, in order: `$FJORD_KUSTOMIZE`; `${XDG_CACHE_HOME:-~/.cache}/fjord/tools/kustomize/bin/kustomize`
//! (where `scripts/test.sh` installs it); `kustomize` in `PATH`. A test gates on it with
//! [`require`], which follows the one rule of [`crate::tools`] (a failure under
//! `FJORD_REQUIRE_TOOLS=1`, else `SKIPPED`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The environment variable naming the binary explicitly.
pub const ENV_VAR: &str = "FJORD_KUSTOMIZE";

/// How to install it.
pub const HINT: &str = "GOBIN=$HOME/.cache/fjord/tools/kustomize/bin go install \
                        sigs.k8s.io/kustomize/kustomize/v5@v5.5.0";

/// Where the binary is expected: the explicit variable, the tool cache, or the bare name.
pub fn program() -> String {
    if let Some(p) = std::env::var_os(ENV_VAR).filter(|p| !p.is_empty()) {
        return PathBuf::from(p).to_string_lossy().into_owned();
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
    if let Some(cache) = cache {
        let path = cache.join("fjord/tools/kustomize/bin/kustomize");
        if crate::tools::found(&path.to_string_lossy()) {
            return path.to_string_lossy().into_owned();
        }
    }
    "kustomize".to_string()
}

/// The binary, when present; `None` after the missing-tool rule said to skip (it panics
/// instead under `FJORD_REQUIRE_TOOLS=1`).
pub fn require() -> Option<Kustomize> {
    let program = program();
    crate::tools::require(&program, HINT).then_some(Kustomize { program })
}

/// A located `kustomize` binary.
#[derive(Debug, Clone)]
pub struct Kustomize {
    /// The program run.
    pub program: String,
}

impl Kustomize {
    /// Runs `kustomize ARGS` in `dir`.
    pub fn run(&self, dir: &Path, args: &[&str]) -> Output {
        Command::new(&self.program)
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap_or_else(|e| panic!("running {} {args:?}: {e}", self.program))
    }

    /// `kustomize edit set image ARGS` in `dir`.
    pub fn edit_set_image(&self, dir: &Path, images: &[&str]) -> Output {
        let mut args = vec!["edit", "set", "image"];
        args.extend_from_slice(images);
        self.run(dir, &args)
    }
}
