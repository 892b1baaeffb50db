//! Error cases for `fjord render`: bad input must fail cleanly.
//!
//! Each directory under `testdata/render/errors/<name>/` holds an input tree, `case.args` (one
//! line: the directory to render relative to the case directory, then optional flags) and
//! `expect.txt` (substrings, one a line, that stderr must contain: at least the file name and
//! the field or object at fault). An optional `setup.txt` lists steps run on the temporary copy
//! before rendering, one a line:
//!
//! - `symlink <link> <target>`: create a symbolic link `<link>` pointing at `<target>`;
//! - `bigfile <path> <bytes>`: create a (sparse) file of that many bytes;
//! - `executable <path>`: mark a file executable.
//!
//! Every case is copied into a temporary directory first. The assertions: exit code 1, empty
//! stdout, every expected substring in stderr, no panic text, no `EXECUTED` marker file left by
//! a script that must never run, and completion within [`TIMEOUT`].
//!
//! `FJORD_RENDER_ERRORS_FILTER=substr` runs only the cases whose name contains `substr`.

use fjord_testkit::require_tools;
use fjord_testkit::tools::KUBECTL;
use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long one render may take before it is killed (an alias bomb must not hang the suite).
const TIMEOUT: Duration = Duration::from_secs(60);

/// Name of the marker file a must-never-run script would create.
const EXECUTED_MARKER: &str = "EXECUTED";

fn errors_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/render/errors")
}

/// Copies the regular files and directories of `from` into `to` (which must not exist).
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let dest = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &dest)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &dest)?;
        }
    }
    Ok(())
}

/// Applies one `setup.txt` line inside `dir`.
fn apply_setup(dir: &Path, line: &str) -> Result<(), String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        [] => Ok(()),
        [w, ..] if w.starts_with('#') => Ok(()),
        ["symlink", link, target] => make_symlink(target, &dir.join(link)),
        ["bigfile", path, bytes] => {
            let size: u64 = bytes
                .parse()
                .map_err(|e| format!("bigfile size {bytes:?}: {e}"))?;
            let path = dir.join(path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| format!("{}: {e}", parent.display()))?;
            }
            let file = File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            file.set_len(size)
                .map_err(|e| format!("{}: {e}", path.display()))
        }
        ["executable", path] => make_executable(&dir.join(path)),
        _ => Err(format!("unknown setup step {line:?}")),
    }
}

#[cfg(unix)]
fn make_symlink(target: &str, link: &Path) -> Result<(), String> {
    std::os::unix::fs::symlink(target, link).map_err(|e| format!("symlink {}: {e}", link.display()))
}

#[cfg(not(unix))]
fn make_symlink(_target: &str, link: &Path) -> Result<(), String> {
    Err(format!("symlink {}: needs a unix host", link.display()))
}

#[cfg(unix)]
fn make_executable(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("chmod {}: {e}", path.display()))
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) -> Result<(), String> {
    Ok(())
}

/// What one render produced.
struct Outcome {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: String,
    timed_out: bool,
}

/// Runs `fjord render <args>` in `cwd`, output captured to files under `scratch`, killed
/// after [`TIMEOUT`]. Proxies point at a closed port so an attempted download fails at once.
fn render(cwd: &Path, args: &[String], scratch: &Path) -> Result<Outcome, String> {
    let out_path = scratch.join("stdout");
    let err_path = scratch.join("stderr");
    let out = File::create(&out_path).map_err(|e| format!("{}: {e}", out_path.display()))?;
    let err = File::create(&err_path).map_err(|e| format!("{}: {e}", err_path.display()))?;
    let mut child = Command::new(env!("CARGO_BIN_EXE_fjord"))
        .arg("render")
        .args(args)
        .current_dir(cwd)
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("ALL_PROXY", "http://127.0.0.1:9")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot run fjord: {e}"))?;
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > TIMEOUT => {
                timed_out = true;
                let _ = child.kill();
                break child
                    .wait()
                    .map_err(|e| format!("waiting for fjord: {e}"))?;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for fjord: {e}")),
        }
    };
    let stdout = std::fs::read(&out_path).map_err(|e| format!("{}: {e}", out_path.display()))?;
    let stderr = std::fs::read(&err_path).map_err(|e| format!("{}: {e}", err_path.display()))?;
    Ok(Outcome {
        status,
        stdout,
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        timed_out,
    })
}

/// Runs one case; returns the list of problems (empty when the case passes).
fn check_case(case_dir: &Path, scratch_root: &Path) -> Result<Vec<String>, String> {
    let name = case_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let read = |file: &str| {
        let path = case_dir.join(file);
        std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
    };
    let args: Vec<String> = read("case.args")?
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if args.is_empty() {
        return Err(format!("{name}/case.args: empty, expected `<dir> [flags]`"));
    }
    let expected: Vec<String> = read("expect.txt")?
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    if expected.is_empty() {
        return Err(format!("{name}/expect.txt: no substrings"));
    }

    let scratch = scratch_root.join(&name);
    let work = scratch.join("case");
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    }
    copy_tree(case_dir, &work).map_err(|e| format!("copying {name}: {e}"))?;
    // The harness files are not part of the input tree.
    for file in ["case.args", "expect.txt", "setup.txt"] {
        let _ = std::fs::remove_file(work.join(file));
    }
    if let Ok(setup) = std::fs::read_to_string(case_dir.join("setup.txt")) {
        for line in setup.lines() {
            apply_setup(&work, line).map_err(|e| format!("{name}/setup.txt: {e}"))?;
        }
    }

    let outcome = render(&work, &args, &scratch)?;
    let mut problems = Vec::new();
    if outcome.timed_out {
        problems.push(format!("did not finish within {TIMEOUT:?} (killed)"));
    }
    if outcome.status.code() != Some(1) {
        problems.push(format!("exit status {} (want exit code 1)", outcome.status));
    }
    if !outcome.stdout.is_empty() {
        let head: String = String::from_utf8_lossy(&outcome.stdout)
            .lines()
            .take(5)
            .collect::<Vec<_>>()
            .join("\n");
        problems.push(format!(
            "stdout not empty ({} bytes):\n{head}",
            outcome.stdout.len()
        ));
    }
    for needle in &expected {
        if !outcome.stderr.contains(needle.as_str()) {
            problems.push(format!("stderr lacks {needle:?}"));
        }
    }
    if outcome.stderr.contains("panicked") || outcome.stderr.contains("RUST_BACKTRACE") {
        problems.push("stderr shows a panic".to_owned());
    }
    if work.join(EXECUTED_MARKER).exists() {
        problems.push("a script in the input tree was executed".to_owned());
    }
    if !problems.is_empty() {
        let excerpt: String = outcome
            .stderr
            .lines()
            .take(8)
            .map(|l| format!("\n    | {l}"))
            .collect();
        problems.push(format!("stderr was:{excerpt}"));
    } else {
        let _ = std::fs::remove_dir_all(&scratch);
    }
    Ok(problems)
}

#[test]
fn render_errors_fail_cleanly() {
    let filter = std::env::var("FJORD_RENDER_ERRORS_FILTER")
        .ok()
        .filter(|f| !f.is_empty());
    let root = errors_root();
    let mut dirs: Vec<PathBuf> = match std::fs::read_dir(&root) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect(),
        Err(e) => panic!("cannot list {}: {e}", root.display()),
    };
    dirs.sort();
    let scratch_root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("render-errors");

    let mut report = String::new();
    let mut failing = Vec::new();
    let mut total = 0usize;
    for dir in &dirs {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        total += 1;
        let problems = match check_case(dir, &scratch_root) {
            Ok(p) => p,
            Err(e) => vec![format!("harness error: {e}")],
        };
        if !problems.is_empty() {
            let _ = writeln!(report, "=== {name}");
            for p in &problems {
                let _ = writeln!(report, "  {p}");
            }
            failing.push(name);
        }
    }
    assert!(total > 0, "no error cases matched filter {filter:?}");
    let summary = format!(
        "render errors: {}/{total} cases fail cleanly",
        total - failing.len()
    );
    if failing.is_empty() {
        eprintln!("{summary}");
        return;
    }
    panic!(
        "{report}\nfailing cases:\n  {}\n{summary}",
        failing.join("\n  ")
    );
}

/// UTF-8 and UTF-16 (little and big endian) manifests with a byte-order mark render, in a
/// kustomization (compared byte for byte with `kubectl kustomize`) and in
/// a plain directory; this is the one success case of this file, kept beside the refusals.
#[test]
fn byte_order_marks_render_as_kubectl_reads_them() {
    require_tools!(KUBECTL);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("render-errors-bom");
    let _ = std::fs::remove_dir_all(&dir);
    let cm = |name: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: v\n")
    };
    let utf16 = |le: bool, s: &str| -> Vec<u8> {
        let mut v = if le {
            vec![0xFF, 0xFE]
        } else {
            vec![0xFE, 0xFF]
        };
        for u in s.encode_utf16() {
            v.extend(if le { u.to_le_bytes() } else { u.to_be_bytes() });
        }
        v
    };
    for sub in ["k", "d"] {
        let d = dir.join(sub);
        std::fs::create_dir_all(&d).expect("mkdir");
        let u8bom = [b"\xEF\xBB\xBF".as_slice(), cm("u8").as_bytes()].concat();
        std::fs::write(d.join("a.yaml"), u8bom).expect("write");
        std::fs::write(d.join("b.yaml"), utf16(true, &cm("le"))).expect("write");
        std::fs::write(d.join("c.yaml"), utf16(false, &cm("be"))).expect("write");
    }
    std::fs::write(
        dir.join("k/kustomization.yaml"),
        utf16(true, "resources: [a.yaml, b.yaml, c.yaml]\n"),
    )
    .expect("write");
    let fjord = |sub: &str| {
        let o = Command::new(env!("CARGO_BIN_EXE_fjord"))
            .args(["render", sub])
            .current_dir(&dir)
            .output()
            .expect("run fjord");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).expect("utf-8 output")
    };
    let k = fjord("k");
    for name in ["u8", "le", "be"] {
        assert!(k.contains(&format!("name: {name}\n")), "{k}");
    }
    assert_eq!(fjord("d").matches("kind: ConfigMap").count(), 3);
    let o = Command::new("kubectl")
        .args(["kustomize", "k"])
        .current_dir(&dir)
        .output()
        .expect("kubectl is not installed: this test compares with `kubectl kustomize`");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        k,
        "kubectl kustomize differs"
    );
}

#[cfg(test)]
mod setup_tests {
    use super::apply_setup;
    use std::path::PathBuf;

    fn scratch(name: &str) -> PathBuf {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("render-errors-setup")
            .join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        dir
    }

    #[test]
    fn bigfile_creates_file_of_requested_size() {
        let dir = scratch("bigfile");
        apply_setup(&dir, "bigfile sub/big.yaml 1048577").expect("setup");
        let len = std::fs::metadata(dir.join("sub/big.yaml"))
            .expect("metadata")
            .len();
        assert_eq!(len, 1_048_577);
    }

    #[cfg(unix)]
    #[test]
    fn symlink_points_at_target() {
        let dir = scratch("symlink");
        std::fs::write(dir.join("target.yaml"), "a: b\n").expect("write");
        apply_setup(&dir, "symlink link.yaml target.yaml").expect("setup");
        let text = std::fs::read_to_string(dir.join("link.yaml")).expect("read through link");
        assert_eq!(text, "a: b\n");
    }

    #[test]
    fn unknown_step_is_an_error() {
        let dir = scratch("unknown");
        assert!(apply_setup(&dir, "explode now").is_err());
        assert!(apply_setup(&dir, "# a comment").is_ok());
    }
}
