//! A counting HTTP/1.1 proxy in front of the registry: it records the method and target of every
//! request it forwards (keep-alive connections carry several), and it can be closed and reopened
//! on the same port (the "registry is down" checks: a closed port refuses connections).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// One request as the proxy saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// `GET`, `HEAD`, `PUT`, …
    pub method: String,
    /// The request target: path and query.
    pub target: String,
}

/// The proxy: listening on `port` while open, forwarding to `backend`.
pub(super) struct Proxy {
    pub(super) port: u16,
    /// Forward bytes without reading requests (TLS passes through; nothing is recorded).
    raw: bool,
    pub(super) seen: Arc<Mutex<Vec<Seen>>>,
    running: Option<Running>,
}

struct Running {
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    thread: JoinHandle<()>,
}

impl Proxy {
    /// A proxy on a free loopback port, forwarding to loopback port `backend`; `raw` forwards
    /// bytes without recording requests (for TLS).
    pub(super) fn open(backend: u16, raw: bool) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the registry proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let mut proxy = Proxy {
            port,
            raw,
            seen: Arc::new(Mutex::new(Vec::new())),
            running: None,
        };
        proxy.run(listener, backend);
        proxy
    }

    /// Listens again on the same port, forwarding to `backend`.
    pub(super) fn reopen(&mut self, backend: u16) {
        self.close();
        let listener =
            TcpListener::bind(("127.0.0.1", self.port)).expect("bind the registry proxy again");
        self.run(listener, backend);
    }

    fn run(&mut self, listener: TcpListener, backend: u16) {
        let stop = Arc::new(AtomicBool::new(false));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let (s, c, seen) = (
            Arc::clone(&stop),
            Arc::clone(&conns),
            Arc::clone(&self.seen),
        );
        let raw = self.raw;
        let thread = std::thread::spawn(move || {
            for client in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", backend)) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                if let (Ok(a), Ok(b)) = (client.try_clone(), server.try_clone()) {
                    let mut list = c.lock().unwrap_or_else(|p| p.into_inner());
                    list.push(a);
                    list.push(b);
                }
                let seen = Arc::clone(&seen);
                std::thread::spawn(move || forward(client, server, &seen, raw));
            }
        });
        self.running = Some(Running {
            stop,
            conns,
            thread,
        });
    }

    /// Stops listening and cuts every open connection; the port refuses connections afterwards.
    pub(super) fn close(&mut self) {
        let Some(running) = self.running.take() else {
            return;
        };
        running.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        let _ = running.thread.join();
        for conn in running
            .conns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            let _ = conn.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.close();
    }
}

/// Copies responses back raw; parses requests one by one to record them.
fn forward(client: TcpStream, server: TcpStream, seen: &Mutex<Vec<Seen>>, raw: bool) {
    let (Ok(mut back_from), Ok(mut back_to)) = (server.try_clone(), client.try_clone()) else {
        return;
    };
    let back = std::thread::spawn(move || {
        let _ = std::io::copy(&mut back_from, &mut back_to);
        let _ = back_to.shutdown(Shutdown::Write);
    });
    let mut reader = BufReader::new(client);
    let mut server = server;
    if raw {
        let _ = std::io::copy(&mut reader, &mut server);
    } else {
        while let Ok(Some(())) = forward_one(&mut reader, &mut server, seen) {}
    }
    let _ = server.shutdown(Shutdown::Write);
    let _ = back.join();
}

/// Forwards one request; `None` at the end of the connection.
fn forward_one(
    reader: &mut BufReader<TcpStream>,
    server: &mut TcpStream,
    seen: &Mutex<Vec<Seen>>,
) -> std::io::Result<Option<()>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut head = line.clone();
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let (mut length, mut chunked) = (0usize, false);
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 {
            return Ok(None);
        }
        head.push_str(&h);
        let t = h.trim_end();
        if t.is_empty() {
            break;
        }
        if let Some((k, v)) = t.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if k == "content-length" {
                length = v.parse().unwrap_or(0);
            } else if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                chunked = true;
            }
        }
    }
    seen.lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(Seen { method, target });
    server.write_all(head.as_bytes())?;
    if chunked {
        copy_chunked(reader, server)?;
    } else if length > 0 {
        let mut body = reader.by_ref().take(length as u64);
        std::io::copy(&mut body, server)?;
    }
    server.flush()?;
    Ok(Some(()))
}

fn copy_chunked(reader: &mut BufReader<TcpStream>, server: &mut TcpStream) -> std::io::Result<()> {
    loop {
        let mut size = String::new();
        reader.read_line(&mut size)?;
        server.write_all(size.as_bytes())?;
        let n =
            usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
        if n == 0 {
            // Trailers end with an empty line.
            loop {
                let mut t = String::new();
                reader.read_line(&mut t)?;
                server.write_all(t.as_bytes())?;
                if t.trim_end().is_empty() {
                    return Ok(());
                }
            }
        }
        let mut chunk = reader.by_ref().take(n as u64 + 2);
        std::io::copy(&mut chunk, server)?;
    }
}
