//! Parity suite: `fjord render` must print exactly what `kubectl kustomize` (kustomize v5.5.0)
//! prints for every case under `testdata/render/parity/`.
//!
//! Each case directory holds an input tree, a `case.args` file (one line: the directory to
//! render, relative to the case directory, then optional flags) and `expected.yaml`, the stdout
//! of `kubectl kustomize <dir> <flags>` run in the case directory. The goldens are produced by
//! `testdata/render/regen.sh`, never by hand.
//!
//! Environment switches:
//! - `FJORD_PARITY_FILTER=substr` runs only the cases whose directory name contains `substr`.
//! - `FJORD_PARITY_ORACLE=1` also re-runs `kubectl kustomize` (when it is on `PATH`) for each
//!   case and fails if the stored golden is stale.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// How many differing lines of one case the report shows.
const MAX_DIFF_LINES: usize = 40;

/// Above this many line pairs the diff falls back to a positional comparison.
const MAX_LCS_CELLS: usize = 4_000_000;

/// One parity case as read from disk.
struct Case {
    /// The directory name, e.g. `001-single-deployment`.
    name: String,
    /// The case directory (the working directory for both renderers).
    dir: PathBuf,
    /// The arguments after `render` (or after `kustomize` for kubectl).
    args: Vec<String>,
    /// The golden stdout.
    expected: Vec<u8>,
}

fn parity_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/render/parity")
}

/// Reads every case directory under `root`, sorted by name, keeping those matching `filter`.
fn load_cases(root: &Path, filter: Option<&str>) -> Result<Vec<Case>, String> {
    let entries =
        std::fs::read_dir(root).map_err(|e| format!("cannot list {}: {e}", root.display()))?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut cases = Vec::new();
    for dir in dirs {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if filter.is_some_and(|f| !name.contains(f)) {
            continue;
        }
        let args_path = dir.join("case.args");
        let line = std::fs::read_to_string(&args_path)
            .map_err(|e| format!("{}: cannot read: {e}", args_path.display()))?;
        let args: Vec<String> = line
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        if args.is_empty() {
            return Err(format!(
                "{}: empty, expected `<dir> [flags]`",
                args_path.display()
            ));
        }
        let expected_path = dir.join("expected.yaml");
        let expected = std::fs::read(&expected_path)
            .map_err(|e| format!("{}: cannot read: {e}", expected_path.display()))?;
        cases.push(Case {
            name,
            dir,
            args,
            expected,
        });
    }
    Ok(cases)
}

/// Runs `program args...` in `dir` and returns its output, or a description of the failure.
fn run(program: &str, pre_args: &[&str], case: &Case) -> Result<Output, String> {
    Command::new(program)
        .args(pre_args)
        .args(&case.args)
        .current_dir(&case.dir)
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))
}

/// A unified-diff-like listing of how `actual` differs from `expected`, at most
/// [`MAX_DIFF_LINES`] changed lines, each prefixed with `-`/`+` and its line number.
fn line_diff(expected: &[u8], actual: &[u8]) -> String {
    let exp_text = String::from_utf8_lossy(expected);
    let act_text = String::from_utf8_lossy(actual);
    let exp: Vec<&str> = exp_text.split_inclusive('\n').collect();
    let act: Vec<&str> = act_text.split_inclusive('\n').collect();
    let mut ops: Vec<(char, usize, &str)> = Vec::new();
    if exp.len().saturating_mul(act.len()) <= MAX_LCS_CELLS {
        lcs_ops(&exp, &act, &mut ops);
    } else {
        positional_ops(&exp, &act, &mut ops);
    }
    let mut out = String::new();
    let total = ops.iter().filter(|(kind, _, _)| *kind != ' ').count();
    let mut shown = 0;
    let mut last_shown: Option<usize> = None;
    for (i, (kind, line_no, text)) in ops.iter().enumerate() {
        if *kind == ' ' {
            continue;
        }
        if shown == MAX_DIFF_LINES {
            let _ = writeln!(out, "    ... {} more differing lines", total - shown);
            break;
        }
        // One line of context before each hunk.
        if last_shown.is_none_or(|l| l + 1 < i) && i > 0 {
            if let Some((' ', ctx_no, ctx)) = ops.get(i - 1) {
                let _ = writeln!(out, "    {:>5}  {}", ctx_no, show(ctx));
            }
        }
        let _ = writeln!(out, "    {:>5} {kind}{}", line_no, show(text));
        shown += 1;
        last_shown = Some(i);
    }
    out
}

/// Makes a line printable: strips the newline and marks a missing one and trailing blanks.
fn show(line: &str) -> String {
    match line.strip_suffix('\n') {
        Some(l) if l.ends_with(' ') || l.ends_with('\t') => format!("{l:?}"),
        Some(l) => l.to_owned(),
        None => format!("{line}\\ (no newline at end)"),
    }
}

/// Fills `ops` with an edit script from a longest-common-subsequence table.
fn lcs_ops<'a>(exp: &[&'a str], act: &[&'a str], ops: &mut Vec<(char, usize, &'a str)>) {
    let (n, m) = (exp.len(), act.len());
    let mut table = vec![0u32; (n + 1) * (m + 1)];
    let idx = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            table[idx(i, j)] = if exp[i] == act[j] {
                table[idx(i + 1, j + 1)] + 1
            } else {
                table[idx(i + 1, j)].max(table[idx(i, j + 1)])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && exp[i] == act[j] {
            ops.push((' ', i + 1, exp[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || table[idx(i + 1, j)] >= table[idx(i, j + 1)]) {
            ops.push(('-', i + 1, exp[i]));
            i += 1;
        } else {
            ops.push(('+', j + 1, act[j]));
            j += 1;
        }
    }
}

/// Fills `ops` by comparing line `k` with line `k` (for outputs too large for the LCS table).
fn positional_ops<'a>(exp: &[&'a str], act: &[&'a str], ops: &mut Vec<(char, usize, &'a str)>) {
    for k in 0..exp.len().max(act.len()) {
        match (exp.get(k), act.get(k)) {
            (Some(e), Some(a)) if e == a => ops.push((' ', k + 1, e)),
            (e, a) => {
                if let Some(e) = e {
                    ops.push(('-', k + 1, e));
                }
                if let Some(a) = a {
                    ops.push(('+', k + 1, a));
                }
            }
        }
    }
}

/// The first few lines of stderr, indented, for a report.
fn stderr_excerpt(stderr: &[u8]) -> String {
    String::from_utf8_lossy(stderr)
        .lines()
        .take(10)
        .map(|l| format!("    | {l}\n"))
        .collect()
}

/// Checks one case against fjord; returns a failure report or `None` when identical.
fn check_fjord(case: &Case) -> Option<String> {
    let output = match run(env!("CARGO_BIN_EXE_fjord"), &["render"], case) {
        Ok(o) => o,
        Err(e) => return Some(e),
    };
    if !output.status.success() {
        return Some(format!(
            "fjord render {} exited with {}\n{}",
            case.args.join(" "),
            output.status,
            stderr_excerpt(&output.stderr)
        ));
    }
    if output.stdout != case.expected {
        return Some(format!(
            "stdout differs from expected.yaml (- expected, + fjord):\n{}",
            line_diff(&case.expected, &output.stdout)
        ));
    }
    None
}

/// Re-runs kubectl for one case; returns a report when the golden is stale.
fn check_oracle(case: &Case) -> Option<String> {
    let output = match run("kubectl", &["kustomize"], case) {
        Ok(o) => o,
        Err(e) => return Some(e),
    };
    if !output.status.success() {
        return Some(format!(
            "kubectl kustomize {} failed ({}): not a parity case\n{}",
            case.args.join(" "),
            output.status,
            stderr_excerpt(&output.stderr)
        ));
    }
    if output.stdout != case.expected {
        return Some(format!(
            "stale golden: kubectl kustomize now prints (- expected.yaml, + kubectl):\n{}\n    \
             run testdata/render/regen.sh {}",
            line_diff(&case.expected, &output.stdout),
            case.name
        ));
    }
    None
}

#[test]
fn parity_with_kubectl_kustomize() {
    let filter = std::env::var("FJORD_PARITY_FILTER")
        .ok()
        .filter(|f| !f.is_empty());
    let cases = match load_cases(&parity_root(), filter.as_deref()) {
        Ok(c) => c,
        Err(e) => panic!("loading parity cases: {e}"),
    };
    assert!(
        !cases.is_empty(),
        "no parity cases matched filter {filter:?}"
    );

    let oracle = std::env::var("FJORD_PARITY_ORACLE").is_ok_and(|v| v == "1");
    // The oracle needs kubectl: the kit's rule for a missing tool (fails under the test
    // command, else the golden re-check is skipped with a SKIPPED line).
    let oracle = oracle && fjord_testkit::tools::KUBECTL.require();

    let mut failures: Vec<(String, String)> = Vec::new();
    let mut stale: Vec<(String, String)> = Vec::new();
    let mut identical = 0usize;
    for case in &cases {
        if oracle {
            if let Some(report) = check_oracle(case) {
                stale.push((case.name.clone(), report));
            }
        }
        match check_fjord(case) {
            None => identical += 1,
            Some(report) => failures.push((case.name.clone(), report)),
        }
    }

    let mut report = String::new();
    for (name, text) in &stale {
        let _ = writeln!(report, "=== {name} [oracle]\n{text}");
    }
    for (name, text) in &failures {
        let _ = writeln!(report, "=== {name}\n{text}");
    }
    let summary = format!("parity: {identical}/{} cases identical", cases.len());
    if failures.is_empty() && stale.is_empty() {
        eprintln!("{summary}");
        return;
    }
    let mut listing = String::new();
    for (name, _) in &failures {
        let _ = writeln!(listing, "  {name}");
    }
    for (name, _) in &stale {
        let _ = writeln!(listing, "  {name} (stale golden)");
    }
    panic!("{report}\nfailing cases:\n{listing}{summary}");
}

#[cfg(test)]
mod diff_tests {
    use super::line_diff;

    #[test]
    fn diff_marks_changed_lines_with_numbers() {
        let report = line_diff(b"a\nb\nc\n", b"a\nB\nc\n");
        assert!(report.contains("2 -b"), "{report}");
        assert!(report.contains("2 +B"), "{report}");
        assert!(!report.contains("-a"), "{report}");
    }

    #[test]
    fn diff_reports_missing_final_newline() {
        let report = line_diff(b"a\nb\n", b"a\nb");
        assert!(report.contains("no newline at end"), "{report}");
    }

    #[test]
    fn diff_is_capped() {
        let expected: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let actual: String = (0..100).map(|i| format!("other {i}\n")).collect();
        let report = line_diff(expected.as_bytes(), actual.as_bytes());
        assert!(report.contains("more differing lines"), "{report}");
        assert!(
            report.lines().count() <= super::MAX_DIFF_LINES + 2,
            "{report}"
        );
    }
}
