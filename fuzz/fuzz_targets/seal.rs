//! The SealedSecret decoder and unsealer with a fixed key (a 2048-bit key generated once per
//! process). Input: one selector byte, then a SealedSecret document (YAML or JSON).
//! Selector bit 0 set: every `encryptedData` value and the v1 `data` are first replaced by a
//! real sealing of their text under the object's own scope, so decryption succeeds and the
//! Secret building, v1 `data` decoding and Go templates run on fuzzed plaintext. Bit 1 set:
//! the rest is also tried as a raw hybrid blob.
#![no_main]

use std::sync::LazyLock;
use std::time::SystemTime;

use fjord_seal::crypto::{hybrid_decrypt, hybrid_encrypt};
use fjord_seal::docs::encode_base64;
use fjord_seal::reseal::{decode_sealed_secret, rotate};
use fjord_seal::unseal::{unseal_object, UnsealOptions};
use fjord_seal::{generate_key, seal_item, Key, KeygenOptions, SealedSecret};
use libfuzzer_sys::fuzz_target;

static KEY: LazyLock<Key> = LazyLock::new(|| {
    let options = KeygenOptions {
        bits: 2048,
        ..KeygenOptions::default()
    };
    generate_key(SystemTime::now(), &options).expect("generating the fuzz key")
});

fuzz_target!(|data: &[u8]| {
    let Some((sel, rest)) = fjord_fuzz::selector(data) else {
        return;
    };
    let keys = std::slice::from_ref(&*KEY);
    if sel & 2 == 2 {
        let _ = hybrid_decrypt(keys, b"", rest);
    }
    let Ok(mut ss) = decode_sealed_secret(rest) else {
        return;
    };
    if sel & 1 == 1 {
        reseal(&mut ss);
    }
    for accept_v1_data in [true, false] {
        let _ = unseal_object(&ss, keys, UnsealOptions { accept_v1_data });
    }
    let _ = ss.to_value();
    if sel & 4 == 4 {
        let _ = rotate(&ss, keys);
    }
});

/// Replaces every blob by a real sealing of its own text.
fn reseal(ss: &mut SealedSecret) {
    let cert = KEY.certificate().expect("generated key has a certificate");
    let (scope, namespace, name, label) = (
        ss.scope(),
        ss.namespace().to_string(),
        ss.name().to_string(),
        ss.label(),
    );
    for (item, value) in ss.encrypted_data.iter_mut() {
        let blob = seal_item(cert, scope, &namespace, &name, item, value.as_bytes())
            .expect("sealing with the fuzz key");
        *value = encode_base64(&blob);
    }
    if let Some(v1) = ss.data.as_mut() {
        let blob = hybrid_encrypt(cert, &label, v1.as_bytes()).expect("sealing v1 data");
        *v1 = encode_base64(&blob);
    }
}
