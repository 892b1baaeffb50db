//! Stamps the binary with the git commit and the build date that `fjord --version` prints.
//!
//! - Commit: `FJORD_BUILD_COMMIT` when set, else `git rev-parse --short=12 HEAD`, else `unknown`
//!   (no git, or a source tree outside a repository).
//! - Date (`YYYY-MM-DD`, UTC): `SOURCE_DATE_EPOCH` when set (reproducible builds), else the
//!   commit's date (`git log -1 --format=%cs`), else `unknown`. Never the wall clock: rebuilding
//!   the same commit gives the same binary.
//!
//! Cargo reruns this script only when those variables change or when HEAD moves (`.git/HEAD`,
//! the branch's ref file, `packed-refs`), so an ordinary `cargo build` does not rebuild the crate.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=FJORD_BUILD_COMMIT");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    for path in git_watch_paths(&manifest_dir) {
        println!("cargo:rerun-if-changed={}", path.display());
    }

    let commit = env_nonempty("FJORD_BUILD_COMMIT")
        .or_else(|| git(&manifest_dir, &["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_string());
    let date = match env_nonempty("SOURCE_DATE_EPOCH") {
        Some(epoch) => match epoch.parse::<i64>() {
            Ok(secs) => utc_date(secs),
            Err(_) => {
                println!("cargo:warning=SOURCE_DATE_EPOCH={epoch:?} is not a number of seconds");
                "unknown".to_string()
            }
        },
        None => git(&manifest_dir, &["log", "-1", "--format=%cs"])
            .unwrap_or_else(|| "unknown".to_string()),
    };
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    println!("cargo:rustc-env=FJORD_BUILD_COMMIT={commit}");
    println!("cargo:rustc-env=FJORD_BUILD_DATE={date}");
    println!("cargo:rustc-env=FJORD_VERSION_LINE={version} (commit {commit}, built {date})");
}

/// A variable's value when it is set and not blank.
fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The trimmed stdout of a successful `git ARGS` run in `dir`.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

/// The files whose change means HEAD moved: `HEAD`, the ref it names and `packed-refs` (only
/// those that exist: cargo treats a missing watched file as always changed).
fn git_watch_paths(dir: &Path) -> Vec<PathBuf> {
    let abs = |p: String| {
        let p = PathBuf::from(p);
        if p.is_absolute() {
            p
        } else {
            dir.join(p)
        }
    };
    let mut paths = Vec::new();
    let Some(head) = git(dir, &["rev-parse", "--git-path", "HEAD"]).map(abs) else {
        return paths;
    };
    if let Ok(text) = std::fs::read_to_string(&head) {
        if let Some(reference) = text.trim().strip_prefix("ref: ") {
            if let Some(p) = git(dir, &["rev-parse", "--git-path", reference]) {
                paths.push(abs(p));
            }
        }
    }
    paths.push(head);
    if let Some(p) = git(dir, &["rev-parse", "--git-path", "packed-refs"]) {
        paths.push(abs(p));
    }
    paths.retain(|p| p.exists());
    paths
}

/// `YYYY-MM-DD` of a Unix time in seconds (proleptic Gregorian calendar, UTC).
fn utc_date(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    // Shift the epoch to 0000-03-01 so that leap days fall at the end of each 400-year era.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153; // 0 = March
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
