//! A real Prometheus scraping one target.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::process::{free_port, Proc};

/// Prometheus (Debian's `/usr/bin/prometheus`) scraping one target every second, its data and
/// log in a folder of the test; stopped (its process group killed) on drop.
#[derive(Debug)]
pub struct Prometheus {
    _proc: Proc,
    /// Its HTTP API (`/api/v1/query`).
    pub addr: SocketAddr,
    /// Its log file.
    pub log: PathBuf,
}

impl Prometheus {
    /// Starts Prometheus with job `job` scraping `target` (`/metrics`), writing into `dir`.
    /// Does not wait: poll its API.
    pub fn start(dir: &Path, job: &str, target: SocketAddr) -> Prometheus {
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n- job_name: {job}\n  \
                 static_configs:\n  - targets: ['{target}']\n"
            ),
        )
        .expect("write prometheus.yml");
        let port = free_port();
        let log = dir.join("prometheus.log");
        let file = std::fs::File::create(&log).expect("create prometheus.log");
        let mut cmd = Command::new(crate::tools::PROMETHEUS.program);
        cmd.arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(file);
        let proc = Proc::spawn_or_panic(&mut cmd, "prometheus");
        Prometheus {
            _proc: proc,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log,
        }
    }

    /// What it logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}
