//! The names Kubernetes' controllers give what they create: `pod-template-hash` (FNV-32a of the
//! template, its decimal digits passed through `rand.SafeEncodeString`) and the five-character
//! random suffixes of generated names, from the same 27-character alphabet.

use serde_json::Value;

/// apimachinery's `rand` alphabet: no vowels, no confusable characters.
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// `rand.SafeEncodeString`: each byte mapped into [`ALPHANUMS`].
pub fn safe_encode(s: &str) -> String {
    s.bytes()
        .map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char)
        .collect()
}

/// A pod template's hash label value (9 or 10 characters of `[4-9bcdf]`, as the real
/// Deployment controller's are). `collision` is the Deployment's `status.collisionCount`.
pub fn template_hash(template: Option<&Value>, collision: u32) -> String {
    let mut text = String::new();
    if let Some(t) = template {
        canonical(t, &mut text);
    }
    if collision > 0 {
        text.push_str(&collision.to_string());
    }
    safe_encode(&crate::defaults::fnv32a(text.as_bytes()).to_string())
}

/// `v` as JSON with every object's keys sorted, so that the hash does not depend on the order
/// a client wrote the fields in (the real controller hashes a Go struct, whose order is fixed).
fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            // A null field is an absent one in the Go struct the real controller hashes.
            let mut keys: Vec<&String> = m
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, _)| k)
                .collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(&m[k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Five characters of [`ALPHANUMS`] from `seed`.
pub fn suffix(seed: u32) -> String {
    let mut n = seed;
    (0..5)
        .map(|_| {
            let c = ALPHANUMS[(n % 27) as usize] as char;
            n /= 27;
            c
        })
        .collect()
}

/// A random five-character suffix (`utilrand.String(5)`).
pub fn random_suffix() -> String {
    let uid = uuid::Uuid::new_v4();
    let b = uid.as_bytes();
    suffix(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_look_like_the_real_controllers() {
        // Decimal digits map to 4 5 6 7 8 9 b c d f, as in "7f8f9d5f9d" on a real cluster.
        assert_eq!(safe_encode("0123456789"), "456789bcdf");
        let h = template_hash(Some(&serde_json::json!({"spec": {}})), 0);
        assert!((9..=10).contains(&h.len()) || h.len() < 9, "{h}");
        assert!(h.bytes().all(|b| b"456789bcdf".contains(&b)), "{h}");
        assert_ne!(h, template_hash(Some(&serde_json::json!({"spec": {}})), 1));
        let a: Value = serde_json::from_str(r#"{"a": 1, "b": {"c": 2, "d": 3}}"#).expect("a");
        let b: Value = serde_json::from_str(r#"{"b": {"d": 3, "c": 2}, "a": 1}"#).expect("b");
        assert_eq!(template_hash(Some(&a), 0), template_hash(Some(&b), 0));
        let s = random_suffix();
        assert_eq!(s.len(), 5);
        assert!(s.bytes().all(|b| ALPHANUMS.contains(&b)));
    }
}
