//! `fjord seal`: kubeseal-compatible sealing of Secrets (see the fjord-seal crate).

use anyhow::Context;
use std::process::ExitCode;

/// Runs `fjord seal` on stdin/stdout.
pub fn run(args: fjord_seal::SealArgs) -> anyhow::Result<ExitCode> {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    fjord_seal::run(args, &mut stdin.lock(), &mut stdout.lock()).context("seal")?;
    Ok(ExitCode::SUCCESS)
}
