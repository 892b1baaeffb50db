//! `fjord` run as a Pod of the real control plane runs it, as a local process: no kubeconfig,
//! only `KUBERNETES_SERVICE_HOST`/`PORT` and the service-account folder (`token` from the API
//! server's TokenRequest, the cluster's `ca.crt`, `namespace`) bind-mounted at
//! `/var/run/secrets/kubernetes.io/serviceaccount` inside a private mount namespace
//! (`unshare -m`, as root), so the machine's own `/var/run` is never touched. kwok runs no
//! containers, so this is how the install manifests' controller is run in the tests.
//!
//! ```ignore
//! let pod = InCluster::new(&cluster, "argocd", "fjord-controller");
//! let controller = pod.spawn_controller(&["controller", "--metrics-addr", "127.0.0.1:0"], &[], &log);
//! let out = pod.command(&["doctor", "--skip-disk"]).output().unwrap();
//! ```

use super::{Cluster, Controller, FJORD};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where a Pod sees its service-account files.
pub const SA_MOUNT: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// One ServiceAccount's in-cluster identity: the folder a Pod would have mounted, and the
/// service variables. Its temporary folders go on drop.
pub struct InCluster {
    /// The service-account folder (`token`, `ca.crt`, `namespace`).
    sa_dir: tempfile::TempDir,
    /// `$HOME` of the processes (empty: no `~/.kube/config` to fall back on).
    home: tempfile::TempDir,
    /// The API server's port (`KUBERNETES_SERVICE_PORT`).
    port: String,
    /// The admin kubeconfig that mints tokens.
    admin: PathBuf,
    /// The ServiceAccount's namespace.
    namespace: String,
    /// The ServiceAccount's name.
    account: String,
}

/// Panics unless the test runs as root (a private mount namespace needs it).
pub fn require_root() {
    let uid = Command::new("id").arg("-u").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&uid.stdout).trim(),
        "0",
        "running fjord in-cluster needs root for its private mount namespace"
    );
}

impl InCluster {
    /// The identity of ServiceAccount `account` in `namespace` of `cluster` (the real control
    /// plane): a fresh TokenRequest token (2 h), the cluster CA and the namespace written into a
    /// temporary folder. The ServiceAccount must exist.
    pub fn new(cluster: &Cluster, namespace: &str, account: &str) -> InCluster {
        let cp = cluster
            .control_plane()
            .expect("in-cluster runs need the real control plane");
        let port = cp.api_url().rsplit(':').next().unwrap().to_string();
        let sa_dir = tempfile::tempdir().unwrap();
        std::fs::copy(cp.ca_file(), sa_dir.path().join("ca.crt")).unwrap();
        std::fs::write(sa_dir.path().join("namespace"), namespace).unwrap();
        let pod = InCluster {
            sa_dir,
            home: tempfile::tempdir().unwrap(),
            port,
            admin: cluster.kubeconfig.clone(),
            namespace: namespace.to_string(),
            account: account.to_string(),
        };
        pod.write_token(None);
        pod
    }

    /// The service-account folder.
    pub fn sa_dir(&self) -> &Path {
        self.sa_dir.path()
    }

    /// `$HOME` of the processes.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// The token in use now.
    pub fn token(&self) -> String {
        std::fs::read_to_string(self.sa_dir.path().join("token")).unwrap()
    }

    /// Mints a new token and swaps it in atomically (as the kubelet updates a projected token).
    /// With `bound`, the token is bound to that Secret of the ServiceAccount's namespace (it
    /// must exist): deleting the Secret revokes the token.
    pub fn write_token(&self, bound: Option<&str>) {
        let mut cmd = Command::new("kubectl");
        cmd.arg("--kubeconfig").arg(&self.admin).args([
            "create",
            "token",
            &self.account,
            "-n",
            &self.namespace,
            "--duration=2h",
        ]);
        if let Some(secret) = bound {
            cmd.arg("--bound-object-kind=Secret")
                .arg(format!("--bound-object-name={secret}"));
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "TokenRequest for {}/{}: {}",
            self.namespace,
            self.account,
            String::from_utf8_lossy(&out.stderr)
        );
        let tmp = self.sa_dir.path().join(".token.new");
        std::fs::write(&tmp, String::from_utf8_lossy(&out.stdout).trim()).unwrap();
        std::fs::rename(&tmp, self.sa_dir.path().join("token")).unwrap();
    }

    /// `fjord ARGS` as a Pod runs it: a private mount namespace where [`SA_MOUNT`] is the
    /// service-account folder, no `KUBECONFIG`, an empty `$HOME`, and
    /// `KUBERNETES_SERVICE_HOST=127.0.0.1`/`KUBERNETES_SERVICE_PORT`. Add environment variables
    /// with `.env()`; they reach fjord.
    pub fn command(&self, args: &[&str]) -> Command {
        let run = std::fs::canonicalize("/var/run").unwrap();
        // `/var/run` gets a tmpfs of its own, so the mount point can be made without touching
        // the machine's; the arguments pass through "$@" unquoted by no shell.
        let script = format!(
            "set -e; mount -t tmpfs fjord-test {run}; \
             mkdir -p {run}/secrets/kubernetes.io/serviceaccount; \
             mount --bind \"$SA_DIR\" {run}/secrets/kubernetes.io/serviceaccount; \
             exec \"$FJORD_BIN\" \"$@\"",
            run = run.display()
        );
        let mut cmd = Command::new("unshare");
        cmd.args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            &script,
            "fjord",
        ])
        .args(args)
        .env_remove("KUBECONFIG")
        .env("HOME", self.home.path())
        .env("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        .env("KUBERNETES_SERVICE_PORT", &self.port)
        .env("SA_DIR", self.sa_dir.path())
        .env("FJORD_BIN", FJORD);
        cmd
    }

    /// `fjord ARGS` (a `controller …` command line) as a Pod runs it, with `env` added, its
    /// stderr in `log`; returns once it serves (its "fjord controller running" line). The
    /// process group is killed when the [`Controller`] is dropped.
    pub fn spawn_controller(&self, args: &[&str], env: &[(&str, &str)], log: &Path) -> Controller {
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Controller::spawn(cmd, log)
    }
}
