//! Seal and unseal throughput for 1 KiB values with an RSA-4096 key (the upstream compat
//! key-a), in items per second:
//!
//! - seal: one item sealed for the certificate (fresh AES key, RSA-OAEP wrap, AES-GCM);
//! - unseal: one item opened with the right key;
//! - unseal (3 keys): the controller tries every registered key, here the right one last.
//!
//! When `kubeseal` is on the PATH, the same sealing (and a recovery unseal of one object) is
//! timed through it for comparison; otherwise only fjord's numbers are printed.
//!
//! `cargo bench -p fjord-seal --bench throughput` (about 10 s).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fjord_seal::keys::{Certificate, Key};
use fjord_seal::{generate_key, read_private_keys, seal_item, unseal_item, KeygenOptions, Scope};

const VALUE_LEN: usize = 1024;
const BUDGET: Duration = Duration::from_secs(2);

fn compat(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/compat")
        .join(rel)
}

/// Runs `op` until the time budget is spent (at least `min` times); returns items/s.
fn measure(min: usize, mut op: impl FnMut(usize)) -> (usize, f64) {
    let start = Instant::now();
    let mut n = 0;
    while n < min || start.elapsed() < BUDGET {
        op(n);
        n += 1;
    }
    (n, n as f64 / start.elapsed().as_secs_f64())
}

fn report(what: &str, (n, rate): (usize, f64)) {
    println!("{what:<34} {rate:>10.1} items/s  ({n} items)");
}

fn kubeseal_available() -> bool {
    Command::new("kubeseal")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// kubeseal sealing `count` Secrets of one 1 KiB item each in one run; items/s.
fn kubeseal_seal(count: usize, value_b64: &str) -> Option<f64> {
    let mut input = String::new();
    for i in 0..count {
        input.push_str(&format!(
            "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s{i}\n  namespace: bench\ndata:\n  k: {value_b64}\n"
        ));
    }
    let start = Instant::now();
    let mut child = Command::new("kubeseal")
        .args(["--cert", &compat("key-a/tls.crt").display().to_string()])
        .args(["--format", "yaml"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(input.as_bytes()).ok()?;
    let ok = child.wait().ok()?.success();
    ok.then(|| count as f64 / start.elapsed().as_secs_f64())
}

fn main() {
    let keys = read_private_keys(
        &std::fs::read(compat("key-a/key-secret.yaml")).expect("key-a"),
        "key-a",
    )
    .expect("key-a");
    let key_a: Key = keys[0].clone();
    let cert: Certificate = key_a.certificate().expect("certificate").clone();
    let value: Vec<u8> = (0..VALUE_LEN).map(|i| (i * 31 % 251) as u8).collect();
    println!(
        "fjord-seal throughput, {VALUE_LEN}-byte values, RSA-4096 key {}",
        key_a.fingerprint()
    );

    let mut blobs = Vec::new();
    report(
        "fjord seal",
        measure(50, |_| {
            let blob = seal_item(&cert, Scope::Strict, "bench", "s", "k", &value).expect("seal");
            if blobs.len() < 64 {
                blobs.push(blob);
            }
        }),
    );
    let unseal = |keys: &[Key], i: usize| {
        unseal_item(
            keys,
            Scope::Strict,
            "bench",
            "s",
            "k",
            &blobs[i % blobs.len()],
        )
        .expect("unseal")
    };
    let one = [key_a.clone()];
    report(
        "fjord unseal (1 key)",
        measure(50, |i| {
            assert_eq!(unseal(&one, i).len(), VALUE_LEN);
        }),
    );
    let opts = KeygenOptions::default();
    let others: Vec<Key> = (0..2)
        .map(|_| generate_key(std::time::SystemTime::now(), &opts).expect("keygen"))
        .collect();
    let three: Vec<Key> = others.into_iter().chain([key_a.clone()]).collect();
    report(
        "fjord unseal (3 keys, right last)",
        measure(20, |i| {
            unseal(&three, i);
        }),
    );

    if kubeseal_available() {
        let b64 = fjord_seal::docs::encode_base64(&value);
        match kubeseal_seal(500, &b64) {
            Some(rate) => println!(
                "{:<34} {rate:>10.1} items/s  (500 items, one process)",
                "kubeseal seal"
            ),
            None => println!("kubeseal seal: failed to run"),
        }
    } else {
        println!("kubeseal not installed: no comparison");
    }
}
