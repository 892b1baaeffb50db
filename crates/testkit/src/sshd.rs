//! OpenSSH's `sshd` on a loopback port, and the key and user helpers of the SSH tests.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::process::{free_port, wait_for_port, Proc, Server};

/// Generates an ed25519 key pair without passphrase at `path` / `path.pub`.
pub fn keygen(path: &Path) {
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f"])
        .arg(path)
        .stdout(Stdio::null())
        .status()
        .expect("run ssh-keygen");
    assert!(st.success(), "ssh-keygen failed");
}

/// An sshd on a free port with a fresh host key in `dir`, accepting the public key
/// `authorized_pub` for the current user.
pub fn sshd(dir: &Path, authorized_pub: &str) -> Server {
    let host_key = dir.join("ssh_host_ed25519_key");
    keygen(&host_key);
    let authorized = dir.join("authorized_keys");
    std::fs::write(&authorized, authorized_pub).expect("write authorized_keys");
    // sshd insists on its privilege-separation folder.
    let _ = std::fs::create_dir_all("/run/sshd");
    let port = free_port();
    let config = dir.join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\nAuthorizedKeysFile {}\n\
             StrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nUsePAM no\n\
             LogLevel ERROR\n",
            host_key.display(),
            dir.join("sshd.pid").display(),
            authorized.display()
        ),
    )
    .expect("write sshd_config");
    let mut cmd = Command::new(crate::tools::SSHD.program);
    cmd.args(["-D", "-e", "-f"])
        .arg(&config)
        .stdout(Stdio::null());
    let mut proc = Proc::spawn_or_panic(&mut cmd, "sshd");
    wait_for_port(port, &mut proc, "sshd");
    Server { proc, port }
}

/// The current user's name (the SSH login for the test server).
pub fn whoami() -> String {
    let out = Command::new("id").arg("-un").output().expect("run id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
