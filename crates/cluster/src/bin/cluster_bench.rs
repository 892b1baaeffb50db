//! Load generator for the embedded API server (run by `bench/local-cluster.sh`; built only with
//! the `bench` feature).
//!
//! `cluster_bench --server PATH [--clients 8] [--seconds 5] [--sizes 10000,100000]
//! [--watchers 100] [--out FILE]` starts `PATH` (the `local_cluster` binary) on a fresh durable
//! data dir and measures, over keep-alive HTTP/1.1 connections: server-side applies per second
//! of small ConfigMaps, list latency at each size, peak RSS, restart time to `/readyz`, and watch
//! fan-out latency. Prints a table (numbers, not assertions).

use std::io::{BufRead, BufReader as StdBufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    io: BufReader<TcpStream>,
    addr: SocketAddr,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Result<Conn, Error> {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        Ok(Conn {
            io: BufReader::new(s),
            addr,
        })
    }

    async fn send(
        &mut self,
        method: &str,
        path: &str,
        ctype: &str,
        body: &[u8],
    ) -> Result<(), Error> {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: {ctype}\r\nAccept: application/json\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        );
        let s = self.io.get_mut();
        s.write_all(head.as_bytes()).await?;
        s.write_all(body).await?;
        Ok(())
    }

    /// Reads a status line and headers; returns (status, content-length or None for chunked).
    async fn head(&mut self) -> Result<(u16, Option<usize>), Error> {
        let mut line = String::new();
        self.io.read_line(&mut line).await?;
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or("bad status line")?;
        let mut len = None;
        loop {
            line.clear();
            self.io.read_line(&mut line).await?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().ok();
                }
            }
        }
        Ok((status, len))
    }

    async fn request(
        &mut self,
        method: &str,
        path: &str,
        ctype: &str,
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), Error> {
        self.send(method, path, ctype, body).await?;
        let (status, len) = self.head().await?;
        let mut buf = vec![0; len.ok_or("chunked reply to a plain request")?];
        self.io.read_exact(&mut buf).await?;
        Ok((status, buf))
    }

    /// Reads watch chunks until one contains `marker`.
    async fn wait_for(&mut self, marker: &[u8]) -> Result<(), Error> {
        let mut line = String::new();
        loop {
            line.clear();
            if self.io.read_line(&mut line).await? == 0 {
                return Err("watch stream closed".into());
            }
            if line.as_bytes().windows(marker.len()).any(|w| w == marker) {
                return Ok(());
            }
        }
    }
}

struct Server {
    child: Child,
    addr: SocketAddr,
}

fn start_server(bin: &PathBuf, dir: &std::path::Path) -> Result<(Server, Duration), Error> {
    let t = Instant::now();
    let mut child = Command::new(bin)
        .arg("--data-dir")
        .arg(dir)
        .args(["--addr", "127.0.0.1:0", "--no-sim"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let mut lines = StdBufReader::new(stderr).lines();
    let addr: SocketAddr = loop {
        let line = lines.next().ok_or("server exited")??;
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().unwrap_or("").parse()?;
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    // Ready when /readyz answers 200.
    loop {
        if let Ok(mut s) = std::net::TcpStream::connect(addr) {
            use std::io::{Read, Write};
            let _ = s.write_all(
                format!("GET /readyz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            );
            let mut buf = String::new();
            let _ = s.read_to_string(&mut buf);
            if buf.starts_with("HTTP/1.1 200") {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok((Server { child, addr }, t.elapsed()))
}

fn vm_hwm_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|k| k.parse::<f64>().ok())
            })
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn cm_body(ns: &str, name: &str) -> Vec<u8> {
    format!(r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}","namespace":"{ns}","labels":{{"bench":"yes"}}}},"data":{{"key":"value-{name}"}}}}"#).into_bytes()
}

/// `clients` connections applying ConfigMaps in `ns` for `secs`; returns (count, latencies).
async fn apply_load(
    addr: SocketAddr,
    ns: &str,
    clients: usize,
    secs: f64,
) -> Result<(u64, Vec<Duration>), Error> {
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let ns = ns.to_string();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(addr).await?;
            let mut lat = Vec::new();
            let mut i = 0u64;
            while Instant::now() < end {
                let name = format!("a-{c}-{i}");
                let path = format!(
                    "/api/v1/namespaces/{ns}/configmaps/{name}?fieldManager=bench&force=true"
                );
                let t = Instant::now();
                let (code, body) = conn
                    .request(
                        "PATCH",
                        &path,
                        "application/apply-patch+yaml",
                        &cm_body(&ns, &name),
                    )
                    .await?;
                if code >= 300 {
                    return Err(format!("apply {code}: {}", String::from_utf8_lossy(&body)).into());
                }
                lat.push(t.elapsed());
                i += 1;
            }
            Ok::<_, Error>(lat)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    Ok((all.len() as u64, all))
}

/// Creates ConfigMaps `f-<i>` for i in `from..to` in `ns` with `clients` connections.
async fn fill(addr: SocketAddr, ns: &str, from: u64, to: u64, clients: usize) -> Result<(), Error> {
    let next = Arc::new(AtomicU64::new(from));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (next, ns) = (next.clone(), ns.to_string());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(addr).await?;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= to {
                    return Ok::<_, Error>(());
                }
                let name = format!("f-{i}");
                let (code, body) = conn
                    .request(
                        "POST",
                        &format!("/api/v1/namespaces/{ns}/configmaps"),
                        "application/json",
                        &cm_body(&ns, &name),
                    )
                    .await?;
                if code != 201 {
                    return Err(format!("create {code}: {}", String::from_utf8_lossy(&body)).into());
                }
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

async fn list_latency(
    addr: SocketAddr,
    ns: &str,
    reps: usize,
) -> Result<(Vec<Duration>, usize), Error> {
    let mut conn = Conn::open(addr).await?;
    let mut lat = Vec::new();
    let mut bytes = 0;
    for _ in 0..reps {
        let t = Instant::now();
        let (code, body) = conn
            .request(
                "GET",
                &format!("/api/v1/namespaces/{ns}/configmaps"),
                "",
                b"",
            )
            .await?;
        lat.push(t.elapsed());
        if code != 200 {
            return Err(format!("list {code}").into());
        }
        bytes = body.len();
    }
    lat.sort();
    Ok((lat, bytes))
}

async fn ensure_ns(addr: SocketAddr, ns: &str) -> Result<(), Error> {
    let mut conn = Conn::open(addr).await?;
    let body = format!(r#"{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{ns}"}}}}"#);
    conn.request(
        "POST",
        "/api/v1/namespaces",
        "application/json",
        body.as_bytes(),
    )
    .await?;
    Ok(())
}

/// `watchers` watches on `ns`; time from one write until every watcher saw it, `rounds` times.
async fn fan_out(
    addr: SocketAddr,
    ns: &str,
    watchers: usize,
    rounds: usize,
) -> Result<Vec<Duration>, Error> {
    let mut out = Vec::new();
    let mut writer = Conn::open(addr).await?;
    for r in 0..rounds {
        let (_, list) = writer
            .request(
                "GET",
                &format!("/api/v1/namespaces/{ns}/configmaps?limit=1"),
                "",
                b"",
            )
            .await?;
        let list: serde_json::Value = serde_json::from_slice(&list)?;
        let rv = list["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or("0")
            .to_string();
        let mut conns = Vec::new();
        for _ in 0..watchers {
            let mut c = Conn::open(addr).await?;
            c.send(
                "GET",
                &format!("/api/v1/namespaces/{ns}/configmaps?watch=true&resourceVersion={rv}"),
                "",
                b"",
            )
            .await?;
            let (code, _) = c.head().await?;
            if code != 200 {
                return Err(format!("watch {code}").into());
            }
            conns.push(c);
        }
        let name = format!("probe-{r}");
        let marker = format!("\"name\":\"{name}\"").into_bytes();
        let t = Instant::now();
        let waits: Vec<_> = conns
            .into_iter()
            .map(|mut c| {
                let m = marker.clone();
                tokio::spawn(async move { c.wait_for(&m).await.map(|_| t.elapsed()) })
            })
            .collect();
        let (code, _) = writer
            .request(
                "POST",
                &format!("/api/v1/namespaces/{ns}/configmaps"),
                "application/json",
                &cm_body(ns, &name),
            )
            .await?;
        if code != 201 {
            return Err(format!("probe create {code}").into());
        }
        let mut worst = Duration::ZERO;
        for w in waits {
            worst = worst.max(w.await??);
        }
        out.push(worst);
    }
    out.sort();
    Ok(out)
}

/// A scratch data directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<TempDir, Error> {
        let p = std::env::temp_dir().join(format!("fjord-cluster-bench-{}", std::process::id()));
        std::fs::create_dir_all(&p)?;
        Ok(TempDir(p))
    }

    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Args {
    server: PathBuf,
    clients: usize,
    seconds: f64,
    sizes: Vec<u64>,
    watchers: usize,
    out: Option<PathBuf>,
}

fn parse_args() -> Result<Args, Error> {
    let mut a = Args {
        server: PathBuf::new(),
        clients: 8,
        seconds: 5.0,
        sizes: vec![10_000, 100_000],
        watchers: 100,
        out: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--server" => a.server = v.into(),
            "--clients" => a.clients = v.parse()?,
            "--seconds" => a.seconds = v.parse()?,
            "--sizes" => a.sizes = v.split(',').map(str::parse).collect::<Result<_, _>>()?,
            "--watchers" => a.watchers = v.parse()?,
            "--out" => a.out = Some(v.into()),
            _ => return Err(format!("unknown flag {flag}").into()),
        }
    }
    if a.server.as_os_str().is_empty() {
        return Err("--server PATH is required".into());
    }
    Ok(a)
}

async fn run(args: Args) -> Result<String, Error> {
    let dir = TempDir::new()?;
    let mut rows: Vec<(String, String)> = Vec::new();
    let (mut server, _) = start_server(&args.server, dir.path())?;
    let addr = server.addr;
    ensure_ns(addr, "x").await?;
    ensure_ns(addr, "w").await?;
    ensure_ns(addr, "bench").await?;

    let (n, mut lat) = apply_load(addr, "bench", args.clients, args.seconds).await?;
    lat.sort();
    rows.push((
        format!(
            "server-side apply, {} clients, {}s",
            args.clients, args.seconds
        ),
        format!(
            "{:.0} applies/s (p50 {}, p99 {})",
            n as f64 / args.seconds,
            ms(pct(&lat, 0.5)),
            ms(pct(&lat, 0.99))
        ),
    ));

    let mut have = 0;
    for &size in &args.sizes {
        let t = Instant::now();
        fill(addr, "x", have, size, args.clients).await?;
        let rate = (size - have) as f64 / t.elapsed().as_secs_f64();
        have = size;
        rows.push((
            format!("fill to {size} ConfigMaps (POST, {} clients)", args.clients),
            format!("{rate:.0} creates/s"),
        ));
        let reps = if size > 50_000 { 10 } else { 30 };
        let (lat, bytes) = list_latency(addr, "x", reps).await?;
        rows.push((
            format!("list {size} ConfigMaps ({:.1} MB)", bytes as f64 / 1e6),
            format!("p50 {}, p99 {}", ms(pct(&lat, 0.5)), ms(pct(&lat, 0.99))),
        ));
    }
    rows.push((
        format!("peak RSS at {have} objects (VmHWM)"),
        format!("{:.0} MB", vm_hwm_mb(server.child.id())),
    ));

    let _ = server.child.kill();
    let _ = server.child.wait();
    let (restarted, took) = start_server(&args.server, dir.path())?;
    server = restarted;
    rows.push((
        format!("restart with {have} objects (spawn to /readyz)"),
        ms(took),
    ));
    rows.push((
        "RSS after restart (VmHWM)".into(),
        format!("{:.0} MB", vm_hwm_mb(server.child.id())),
    ));

    let fan = fan_out(server.addr, "w", args.watchers, 5).await?;
    rows.push((
        format!("watch fan-out, {} watchers, 5 writes", args.watchers),
        format!(
            "p50 {}, max {} (write to last watcher)",
            ms(pct(&fan, 0.5)),
            ms(pct(&fan, 1.0))
        ),
    ));
    let _ = server.child.kill();
    let _ = server.child.wait();

    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut table = String::new();
    for (k, v) in rows {
        table.push_str(&format!("{k:<width$}  {v}\n"));
    }
    Ok(table)
}

fn main() -> std::process::ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let out = args.out.clone();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(table) => {
            print!("{table}");
            if let Some(p) = out {
                if let Err(e) = std::fs::write(&p, &table) {
                    eprintln!("error: writing {}: {e}", p.display());
                    return std::process::ExitCode::FAILURE;
                }
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", fjord_model::chain(&*e));
            std::process::ExitCode::FAILURE
        }
    }
}
