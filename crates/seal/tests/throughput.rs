//! Sealing and unsealing throughput of 1 KiB values with an RSA-4096 key (ignored: a
//! benchmark; `cargo bench -p fjord-seal --bench throughput` is the fuller one).

use std::path::PathBuf;

use fjord_seal::{read_private_keys, unseal_item, Scope};

fn compat(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/compat")
        .join(rel)
}

#[test]
#[ignore = "benchmark: cargo test -p fjord-seal --release --test throughput -- --ignored --nocapture"]
fn throughput_1kib() {
    let keys = read_private_keys(
        &std::fs::read(compat("key-a/key-secret.yaml")).unwrap(),
        "a",
    )
    .unwrap();
    let cert = keys[0].certificate().unwrap().clone();
    let value = vec![0x5au8; 1024];
    let n = 200;
    let start = std::time::Instant::now();
    let blobs: Vec<_> = (0..n)
        .map(|_| fjord_seal::seal_item(&cert, Scope::Strict, "ns", "name", "k", &value).unwrap())
        .collect();
    let seal = start.elapsed();
    let start = std::time::Instant::now();
    for b in &blobs {
        assert_eq!(
            unseal_item(&keys, Scope::Strict, "ns", "name", "k", b).unwrap(),
            value
        );
    }
    let unseal = start.elapsed();
    println!(
        "RSA-4096 + AES-256-GCM, 1 KiB values: seal {:.0} items/s, unseal {:.0} items/s",
        f64::from(n) / seal.as_secs_f64(),
        f64::from(n) / unseal.as_secs_f64()
    );
}
