//! Tests of the HTTP server's limits: header, body and idle timeouts, the connection cap, the
//! body size limit and the rate-limited log.

use super::*;
use std::io::{Read, Write};
use std::net::TcpStream;

fn limits() -> ServerLimits {
    ServerLimits {
        header_read_timeout: Duration::from_millis(400),
        body_read_timeout: Duration::from_millis(400),
        idle_timeout: Duration::from_millis(800),
        max_connections: 8,
        max_payload_bytes: 16,
        log_interval: Duration::from_secs(1),
    }
}

/// A response far larger than the socket buffers.
const BIG: usize = 64 * 1024 * 1024;

async fn echo(headers: HeaderMap, body: Body) -> Response {
    let l = limits();
    match read_body(&headers, body, l.max_payload_bytes, l.body_read_timeout).await {
        Ok(b) => (StatusCode::OK, b).into_response(),
        Err((code, msg)) => (code, msg).into_response(),
    }
}

async fn start(l: ServerLimits) -> SocketAddr {
    let router = Router::new()
        .route("/", get(|| async { "ok" }))
        .route("/echo", post(echo))
        .route("/big", get(|| async { vec![b'x'; BIG] }));
    let (addr, _task) = serve(SocketAddr::from(([127, 0, 0, 1], 0)), router, l)
        .await
        .unwrap();
    addr
}

/// Whether the server closes `s` within `within` (EOF or reset), without sending a response.
fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 256];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

/// Sends one request and returns the status line.
fn request(addr: SocketAddr, raw: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(raw.as_bytes()).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        if out.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    String::from_utf8_lossy(&out)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(f).join().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_trickling_connections_are_closed_by_the_header_timeout() {
    let addr = start(limits()).await;
    blocking(move || {
        // Half-open: connects and sends nothing.
        let mut silent = TcpStream::connect(addr).unwrap();
        assert!(!closed_within(&mut silent, Duration::from_millis(150)));
        assert!(closed_within(&mut silent, Duration::from_secs(3)));
        // Slowloris: one header byte every 100 ms never completes the head in time.
        let mut slow = TcpStream::connect(addr).unwrap();
        let started = Instant::now();
        let head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        let mut cut = false;
        for b in head {
            if slow.write_all(&[*b]).is_err() {
                cut = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(cut || closed_within(&mut slow, Duration::from_secs(2)));
        assert!(started.elapsed() < Duration::from_secs(4));
        // A kept-alive connection idle after its request is closed too.
        let mut kept = TcpStream::connect(addr).unwrap();
        kept.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut buf = [0u8; 512];
        kept.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let n = kept.read(&mut buf).unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        assert!(closed_within(&mut kept, Duration::from_secs(3)));
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_the_quietest_connection_makes_room_for_a_request() {
    // Timeouts far away: only the cap can close a connection here.
    let addr = start(ServerLimits {
        header_read_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(20),
        ..limits()
    })
    .await;
    blocking(move || {
        let mut idle: Vec<TcpStream> = (0..8)
            .map(|_| {
                std::thread::sleep(Duration::from_millis(5));
                TcpStream::connect(addr).unwrap()
            })
            .collect();
        std::thread::sleep(Duration::from_millis(50));
        assert!(!closed_within(&mut idle[0], Duration::from_millis(50)));
        // The ninth connection is served at once: the oldest idle one was closed for it.
        let status = request(
            addr,
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert!(closed_within(&mut idle[0], Duration::from_millis(500)));
        assert!(!closed_within(&mut idle[7], Duration::from_millis(50)));
        // 3× the cap: every request still gets through.
        let more: Vec<TcpStream> = (0..24).map(|_| TcpStream::connect(addr).unwrap()).collect();
        let status = request(
            addr,
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        assert_eq!(status, "HTTP/1.1 200 OK");
        drop(more);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_limit_or_too_slow_are_refused() {
    let addr = start(limits()).await;
    blocking(move || {
        let ok = request(
            addr,
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
        );
        assert_eq!(ok, "HTTP/1.1 200 OK");
        let declared = request(
            addr,
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n12345678901234567",
        );
        assert_eq!(declared, "HTTP/1.1 413 Payload Too Large");
        let chunked = request(
            addr,
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n11\r\n12345678901234567\r\n0\r\n\r\n",
        );
        assert_eq!(chunked, "HTTP/1.1 413 Payload Too Large");
        // Head in time, body never completed.
        let slow = request(
            addr,
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
        );
        assert_eq!(slow, "HTTP/1.1 408 Request Timeout");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_its_response_is_cut_by_the_idle_timeout() {
    let addr = start(ServerLimits {
        header_read_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_millis(500),
        ..limits()
    })
    .await;
    blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        // Read nothing while the server's writes stall, then drain what was sent.
        std::thread::sleep(Duration::from_secs(2));
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut got = 0usize;
        let mut buf = vec![0u8; 1 << 16];
        let ended = loop {
            match s.read(&mut buf) {
                Ok(0) => break true,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
                Err(_) => break false,
            }
        };
        assert!(ended, "the stalled connection was kept open");
        assert!(got < BIG, "the whole response arrived ({got} bytes)");
    });
}

#[test]
fn log_limiter_writes_the_first_then_one_line_per_interval_with_a_count() {
    let l = LogLimiter::new(Duration::from_secs(60));
    let t0 = Instant::now();
    assert_eq!(l.note(t0, "refused").as_deref(), Some("refused"));
    for i in 1..=500u64 {
        assert_eq!(l.note(t0 + Duration::from_millis(i), "refused"), None);
    }
    assert_eq!(l.flush(t0 + Duration::from_secs(30)), None);
    let summary = l.flush(t0 + Duration::from_secs(61)).unwrap();
    assert!(summary.starts_with("500 more in the last 60s"), "{summary}");
    assert_eq!(l.flush(t0 + Duration::from_secs(200)), None);
    // An occurrence after a quiet interval is written at once again, with any held-back count.
    let t1 = t0 + Duration::from_secs(300);
    assert_eq!(l.note(t1, "x").as_deref(), Some("x"));
    assert_eq!(l.note(t1 + Duration::from_secs(1), "x"), None);
    let line = l.note(t1 + Duration::from_secs(61), "x").unwrap();
    assert_eq!(line, "x (1 more like it in the last 60s)");
}

#[test]
fn default_limits_match_the_documented_values() {
    let d = ServerLimits::default();
    assert_eq!(d.max_payload_bytes, 50 * 1024 * 1024);
    assert_eq!(d.header_read_timeout, Duration::from_secs(10));
    assert!(d.idle_timeout > d.header_read_timeout);
    assert!(d.max_connections >= 64);
}
