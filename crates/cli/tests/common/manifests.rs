//! Fixtures several end-to-end tests share: seed 002 and the repository it names, the CRD file
//! the code generates, and commands fed on stdin.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Seed 002's Application, verbatim but for its repoURL.
pub fn seed_002(url: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/seeds/002_16a90b2162c85ccc.application.yaml");
    let seed = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let from = "'git@gitlab.coolvds-internal.no:fintech/payments-config.git'";
    assert_eq!(seed.matches(from).count(), 1, "{seed}");
    seed.replace(from, &format!("'{url}'"))
}

/// The kustomize base seed 002's repository holds: a Deployment and a Service
/// `payment-gateway` (image `my-app:latest`) and the base's kustomization; the overlays are the
/// caller's.
pub fn payments_base() -> Vec<(&'static str, String)> {
    let deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: payment-gateway\nspec:\n  \
        replicas: 1\n  selector:\n    matchLabels:\n      app: payment-gateway\n  template:\n    metadata:\n      \
        labels:\n        app: payment-gateway\n    spec:\n      containers:\n      - name: app\n        \
        image: my-app:latest\n";
    let service = "apiVersion: v1\nkind: Service\nmetadata:\n  name: payment-gateway\nspec:\n  selector:\n    \
        app: payment-gateway\n  ports:\n  - port: 80\n    targetPort: 8080\n";
    vec![
        ("base/deployment.yaml", deploy.to_string()),
        ("base/service.yaml", service.to_string()),
        (
            "base/kustomization.yaml",
            "resources:\n- deployment.yaml\n- service.yaml\n".to_string(),
        ),
    ]
}

/// Every CustomResourceDefinition fjord serves, as the controllers embed them, one document
/// each after `header`.
pub fn generated_crds(header: &str) -> String {
    let docs = [
        fjord_controller::crds::APPLICATION_CRD_YAML,
        fjord_controller::crds::APPPROJECT_CRD_YAML,
        fjord_seal_controller::CRD_YAML,
        fjord_eso_controller::CRDS_YAML,
    ];
    let mut out = String::from(header);
    for (i, doc) in docs.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(doc);
        if !doc.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// Asserts that `log` (a process of an install) holds none of the `markers` of a request the
/// API refused (matched case-insensitively); `what` opens the message.
pub fn assert_not_refused(log: &str, markers: &[&str], what: &str) {
    let lower = log.to_lowercase();
    for refused in markers {
        assert!(!lower.contains(refused), "{what} ({refused}):\n{log}");
    }
}

/// Runs `cmd` with `stdin` written to its standard input; its output captured.
pub fn run_with_stdin(mut cmd: Command, stdin: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the command");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}
