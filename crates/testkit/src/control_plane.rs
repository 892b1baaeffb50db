//! The real control plane of `scripts/control-plane.sh`, one per test.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The Argo CD release whose published CRDs the migration-path tests install.
pub const ARGOCD_VERSION: &str = "v3.2.1";

/// Starting the control plane or fetching Argo CD's CRDs failed. Each variant carries what the
/// failing step printed (the script prints the failing component's log tail).
#[derive(Debug, thiserror::Error)]
pub enum ControlPlaneError {
    /// A scratch folder could not be made.
    #[error("making a folder for the control plane")]
    TempDir(#[source] std::io::Error),
    /// A command could not be run at all.
    #[error("running {command}")]
    Spawn {
        /// The program.
        command: String,
        /// Why it did not run.
        #[source]
        source: std::io::Error,
    },
    /// `scripts/control-plane.sh start` failed.
    #[error("scripts/control-plane.sh start {dir} failed:\n{output}")]
    Start {
        /// The control plane's folder (logs in `logs/`).
        dir: PathBuf,
        /// The script's stderr and stdout.
        output: String,
    },
    /// `kubectl create token` failed.
    #[error("kubectl create token {namespace}/{account} failed: {output}")]
    Token {
        /// The ServiceAccount's namespace.
        namespace: String,
        /// The ServiceAccount.
        account: String,
        /// kubectl's output.
        output: String,
    },
    /// `go mod download` of Argo CD's module failed.
    #[error("go mod download github.com/argoproj/argo-cd/v3@{ARGOCD_VERSION} failed: {output}")]
    ArgoCdModule {
        /// go's output.
        output: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}")]
    File {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// A running real control plane in its own temp folder; stopped and removed when dropped.
pub struct ControlPlane {
    dir: tempfile::TempDir,
    api: String,
}

fn script() -> PathBuf {
    crate::repo_root().join("scripts/control-plane.sh")
}

fn output_text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    )
}

impl ControlPlane {
    /// Builds (cached) and starts a control plane, waiting until its nodes are Ready.
    pub fn start() -> Result<ControlPlane, ControlPlaneError> {
        ControlPlane::start_with_apiserver_args(&[])
    }

    /// Like [`ControlPlane::start`], with extra kube-apiserver flags
    /// (`FJORD_CP_APISERVER_ARGS`).
    pub fn start_with_apiserver_args(args: &[&str]) -> Result<ControlPlane, ControlPlaneError> {
        let dir = tempfile::Builder::new()
            .prefix("fjord-cp-")
            .tempdir()
            .map_err(ControlPlaneError::TempDir)?;
        let out = Command::new("bash")
            .arg(script())
            .arg("start")
            .arg(dir.path())
            .env("FJORD_CP_APISERVER_ARGS", args.join(" "))
            .stdin(Stdio::null())
            .output()
            .map_err(|source| ControlPlaneError::Spawn {
                command: "bash scripts/control-plane.sh".into(),
                source,
            })?;
        if !out.status.success() {
            return Err(ControlPlaneError::Start {
                dir: dir.keep(),
                output: output_text(&out),
            });
        }
        let env_path = dir.path().join("env");
        let env = std::fs::read_to_string(&env_path).map_err(|source| ControlPlaneError::File {
            path: env_path,
            source,
        })?;
        let api = env
            .lines()
            .find_map(|l| l.strip_prefix("export FJORD_CP_API="))
            .unwrap_or_default()
            .to_string();
        Ok(ControlPlane { dir, api })
    }

    /// Like [`ControlPlane::start`], panicking with the failing component's log tail.
    pub fn start_or_panic() -> ControlPlane {
        ControlPlane::start().unwrap_or_else(|e| panic!("the real control plane: {e}"))
    }

    /// The control plane's folder (`logs/`, `pki/`, kubeconfigs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The admin kubeconfig (client certificate in `system:masters`).
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// The API server's URL (`https://127.0.0.1:PORT`).
    pub fn api_url(&self) -> &str {
        &self.api
    }

    /// The cluster CA certificate file.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("pki/ca.crt")
    }

    /// The last `lines` lines of a component's log (`kube-apiserver`, `etcd`, `kwok`, …).
    pub fn log_tail(&self, component: &str, lines: usize) -> String {
        let path = self
            .dir
            .path()
            .join("logs")
            .join(format!("{component}.log"));
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// A ServiceAccount token from the API server's TokenRequest (`kubectl create token`).
    pub fn service_account_token(
        &self,
        namespace: &str,
        account: &str,
    ) -> Result<String, ControlPlaneError> {
        let out = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .args(["create", "token", account, "-n", namespace, "--duration=2h"])
            .output()
            .map_err(|source| ControlPlaneError::Spawn {
                command: "kubectl".into(),
                source,
            })?;
        if !out.status.success() {
            return Err(ControlPlaneError::Token {
                namespace: namespace.into(),
                account: account.into(),
                output: output_text(&out),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Writes a kubeconfig at `path` that authenticates with `token` only (no client
    /// certificate, which would win over the token).
    pub fn write_token_kubeconfig(
        &self,
        path: &Path,
        token: &str,
    ) -> Result<(), ControlPlaneError> {
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: real\n  cluster:\n    server: {}\n    certificate-authority: {}\nusers:\n- name: sa\n  user:\n    token: {token}\ncontexts:\n- name: real\n  context: {{cluster: real, user: sa}}\ncurrent-context: real\n",
            self.api,
            self.ca_file().display()
        );
        std::fs::write(path, text).map_err(|source| ControlPlaneError::File {
            path: path.to_path_buf(),
            source,
        })
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The folder holding Argo CD's published `application-crd.yaml` and `appproject-crd.yaml`
/// (release [`ARGOCD_VERSION`]), downloaded once into Go's module cache.
pub fn argocd_crds() -> Result<PathBuf, ControlPlaneError> {
    let scratch = tempfile::tempdir().map_err(ControlPlaneError::TempDir)?;
    let out = Command::new("go")
        .current_dir(scratch.path())
        .args(["mod", "download", "-json"])
        .arg(format!("github.com/argoproj/argo-cd/v3@{ARGOCD_VERSION}"))
        .env("GOFLAGS", "-mod=mod")
        .output()
        .map_err(|source| ControlPlaneError::Spawn {
            command: "go".into(),
            source,
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let dir = text.lines().find_map(|l| {
        let l = l.trim();
        l.strip_prefix("\"Dir\": \"")
            .and_then(|r| r.strip_suffix("\","))
    });
    match dir {
        Some(d) if out.status.success() => {
            let crds = Path::new(d).join("manifests/crds");
            if crds.join("application-crd.yaml").is_file() {
                Ok(crds)
            } else {
                Err(ControlPlaneError::ArgoCdModule {
                    output: format!("{} has no application-crd.yaml", crds.display()),
                })
            }
        }
        _ => Err(ControlPlaneError::ArgoCdModule {
            output: output_text(&out),
        }),
    }
}
