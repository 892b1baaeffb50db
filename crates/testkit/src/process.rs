//! Servers as child processes that end with the test: each is started in its own process group
//! and the whole group is killed when its [`Proc`] is dropped, so children the server forked
//! (`git daemon`'s per-connection `git-daemon`s, `git-upload-pack`, sshd's sessions) go with it.

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A child process leading its own process group; the group is killed (SIGKILL) and the child
/// reaped on drop.
#[derive(Debug)]
pub struct Proc {
    child: Child,
    /// Killed and reaped already (its ids may belong to someone else now).
    done: bool,
}

impl Proc {
    /// Spawns `cmd` as the leader of a new process group.
    pub fn spawn(cmd: &mut Command) -> std::io::Result<Proc> {
        let child = cmd.process_group(0).spawn()?;
        Ok(Proc { child, done: false })
    }

    /// Like [`Proc::spawn`], panicking with `what` when the program cannot be run.
    pub fn spawn_or_panic(cmd: &mut Command, what: &str) -> Proc {
        Proc::spawn(cmd).unwrap_or_else(|e| panic!("spawn {what}: {e}"))
    }

    /// The process id (also the process group id).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The exit status, if the leader has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The child itself (its pipes).
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Kills the whole process group (SIGKILL) and reaps the leader; what drop does. Only the
    /// first call acts.
    pub fn kill(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        kill_group(self.child.id());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Panics with `what` when the leader has exited.
    pub fn assert_running(&mut self, what: &str) {
        if let Some(status) = self.try_wait() {
            panic!("{what} exited early: {status}");
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A server process on a loopback port; its whole process group is killed on drop.
#[derive(Debug)]
pub struct Server {
    /// The process (group leader).
    pub proc: Proc,
    /// The port it listens on.
    pub port: u16,
}

/// SIGKILL to every process of group `pgid` (no unsafe code: the `kill` program).
fn kill_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a loopback port")
        .port()
}

/// Waits (up to 60 s) until something listens on loopback `port`; panics when `proc` exits
/// first or nothing listens in time. (A CI run with three control planes starting at once once
/// kept OpenBao from listening within 15 s; a server that works listens in well under a second
/// on a quiet machine, so the bound only decides how long a broken start takes to report.)
pub fn wait_for_port(port: u16, proc: &mut Proc, what: &str) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        proc.assert_running(what);
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not listen on port {port}");
}

/// The ids of the running processes whose command line contains `pattern` (`pgrep -f`).
pub fn pgrep(pattern: &str) -> Vec<u32> {
    let out = Command::new("pgrep")
        .args(["-f", "--", pattern])
        .output()
        .expect("run pgrep");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}
