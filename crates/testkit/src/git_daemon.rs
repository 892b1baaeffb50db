//! `git daemon` (`git://`) on a loopback port.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::process::{free_port, wait_for_port, Proc, Server};

/// `git daemon` on a free port, exporting every repository under `base`.
pub fn git_daemon(base: &Path) -> Server {
    git_daemon_on(base, free_port())
}

/// `git daemon` on a given port (to restart a server where it was). The `git-daemon` program
/// runs directly, leading its own process group: the per-connection `git-daemon` children and
/// their `git-upload-pack`s are killed with it.
pub fn git_daemon_on(base: &Path, port: u16) -> Server {
    let mut cmd = Command::new(crate::git::exec_path().join("git-daemon"));
    cmd.args(["--export-all", "--reuseaddr", "--listen=127.0.0.1"])
        .arg(format!("--port={port}"))
        .arg(format!("--base-path={}", base.display()))
        .arg(base)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut proc = Proc::spawn_or_panic(&mut cmd, "git daemon");
    wait_for_port(port, &mut proc, "git daemon");
    Server { proc, port }
}
