//! Table test over `testdata/*.yaml`: each file is one object whose expected health is given by
//! the header comments `# status: <code or None>` and `# message: <exact text>`.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::{assess, Health, HealthOverrides, HealthStatus};

struct Fixture {
    path: PathBuf,
    expected: Option<Health>,
    object: Value,
}

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

fn load(path: &Path) -> Result<Fixture, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut status = None;
    let mut message = None;
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        if let Some(rest) = line.strip_prefix("# status:") {
            status = Some(rest.trim().to_string());
        } else if let Some(rest) = line.strip_prefix("# message:") {
            message = Some(rest.strip_prefix(' ').unwrap_or(rest).to_string());
        }
    }
    let status = status.ok_or_else(|| format!("{}: no `# status:` header", path.display()))?;
    let expected = if status == "None" {
        None
    } else {
        let code = HealthStatus::parse(&status)
            .ok_or_else(|| format!("{}: bad status {status:?}", path.display()))?;
        Some(Health::new(code, message.unwrap_or_default()))
    };
    let object: Value =
        crate::overrides::yaml_value(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Fixture {
        path: path.to_path_buf(),
        expected,
        object,
    })
}

fn fixtures() -> Vec<Fixture> {
    let mut paths: Vec<PathBuf> = fs::read_dir(testdata())
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    paths.retain(|p| p.extension().is_some_and(|e| e == "yaml"));
    paths.sort();
    paths
        .iter()
        .map(|p| load(p).unwrap_or_else(|e| panic!("bad fixture: {e}")))
        .collect()
}

#[test]
fn every_fixture_matches_argo_cd() {
    let overrides = HealthOverrides::new();
    let all = fixtures();
    let mut failures = Vec::new();
    for f in &all {
        let got = assess(&f.object, &overrides);
        if got != f.expected {
            failures.push(format!(
                "{}:\n  expected {:?}\n  got      {:?}",
                f.path.display(),
                f.expected,
                got
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

#[test]
fn fixtures_cover_every_kind_and_status() {
    let all = fixtures();
    assert!(all.len() >= 40, "only {} fixtures", all.len());
    let kinds: Vec<&str> = all.iter().map(|f| crate::kind(&f.object)).collect();
    for kind in [
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ReplicaSet",
        "Pod",
        "Service",
        "Ingress",
        "PersistentVolumeClaim",
        "Job",
        "HorizontalPodAutoscaler",
        "APIService",
        "Workflow",
        "ConfigMap",
    ] {
        assert!(kinds.contains(&kind), "no fixture for {kind}");
    }
    for status in HealthStatus::ALL {
        if status == HealthStatus::Missing {
            continue; // only ever given to absent objects, never assessed
        }
        assert!(
            all.iter()
                .any(|f| f.expected.as_ref().is_some_and(|h| h.status == status)),
            "no fixture expecting {status}"
        );
    }
    assert!(all.iter().any(|f| f.expected.is_none()));
}
