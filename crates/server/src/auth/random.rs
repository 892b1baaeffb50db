//! Random bytes from the operating system.

use sha2::{Digest, Sha256};

/// Fills `buf` from the operating system's generator.
pub fn try_fill(buf: &mut [u8]) -> Result<(), getrandom::Error> {
    getrandom::fill(buf)
}

/// Fills `buf` from the operating system's generator; should it fail (it does not on Linux),
/// from a hash of the time, the process id and a counter (used only for token ids and the
/// login padding delay, never for keys or passwords: those use [`try_fill`]).
pub fn fill(buf: &mut [u8]) {
    if try_fill(buf).is_ok() {
        return;
    }
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut seed = Sha256::new();
    seed.update(now.to_le_bytes());
    seed.update(std::process::id().to_le_bytes());
    seed.update(n.to_le_bytes());
    let mut block = seed.finalize();
    for chunk in buf.chunks_mut(32) {
        chunk.copy_from_slice(&block[..chunk.len()]);
        block = Sha256::digest(block);
    }
}

/// A random number in `lo..hi` (`lo` when the range is empty).
pub fn range(lo: u64, hi: u64) -> u64 {
    if hi <= lo {
        return lo;
    }
    let mut b = [0u8; 8];
    fill(&mut b);
    lo + u64::from_le_bytes(b) % (hi - lo)
}

/// A password of `len` characters from letters and digits (no look-alikes excluded: it is
/// copied, not read aloud), drawn without modulo bias.
pub fn password(len: usize) -> Result<String, getrandom::Error> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let mut b = [0u8; 32];
        try_fill(&mut b)?;
        for x in b {
            // 62 * 4 = 248: reject 248..=255 so every character is equally likely.
            if x < 248 && out.len() < len {
                out.push(ALPHABET[(x % 62) as usize] as char);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_ranges() {
        let p = password(16).unwrap();
        assert_eq!(p.len(), 16);
        assert!(p.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(p, password(16).unwrap());
        for _ in 0..100 {
            let r = range(500, 1000);
            assert!((500..1000).contains(&r));
        }
        assert_eq!(range(7, 7), 7);
    }
}
